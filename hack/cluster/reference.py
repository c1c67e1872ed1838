"""Where the real CRDs of the APIs sncguard integrates with come from, for the demo, the tests and
the benchmark. No stand-in: Velero's own CRDs and the wg-policy PolicyReport CRDs, unchanged.

- Velero v1.16.2 (the release OADP ships): `shared/reference/velero-v1.16` beside the checkout
  when there is one, else the `github.com/vmware-tanzu/velero` Go module (its config/crd/v1/bases,
  the files `velero install` embeds), fetched through the Go module proxy like the Kubernetes
  binaries and cached in ~/.cache/sncguard.
- PolicyReport (wgpolicyk8s.io/v1alpha2): `shared/reference/wgpolicyk8s-v1alpha2` beside the
  checkout (no Go module serves it); without it, PolicyReports are simply not exercised.

`python hack/cluster/reference.py velero` prints the folder to `kubectl apply -f`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("SNCGUARD_REFERENCE") or REPO.parent / "shared" / "reference")
VELERO_MODULE = "github.com/vmware-tanzu/velero"
VELERO_VERSION = "v1.16.2"
VELERO_KINDS = ("backups", "backupstoragelocations", "restores", "schedules")
CACHE = Path(os.environ.get("SNCGUARD_CACHE") or Path.home() / ".cache" / "sncguard")


class ReferenceMissing(RuntimeError):
    pass


def velero_crds() -> Path:
    """A folder with Velero's Backup, BackupStorageLocation, Restore and Schedule CRDs."""
    shared = REFERENCE / "velero-v1.16"
    if shared.is_dir():
        return shared
    target = CACHE / f"velero-{VELERO_VERSION}-crds"
    if all((target / f"velero.io_{kind}.yaml").is_file() for kind in VELERO_KINDS):
        return target
    with tempfile.TemporaryDirectory() as scratch:
        # A throwaway module: `go mod download` of a module needs one to run in.
        subprocess.run(["go", "mod", "init", "sncguard.local/reference"], cwd=scratch, check=True,
                       capture_output=True)
        done = subprocess.run(["go", "mod", "download", "-json", f"{VELERO_MODULE}@{VELERO_VERSION}"], cwd=scratch,
                              check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise ReferenceMissing(f"cannot fetch {VELERO_MODULE}@{VELERO_VERSION}: {done.stderr.strip() or done.stdout}")
    bases = Path(json.loads(done.stdout)["Dir"]) / "config" / "crd" / "v1" / "bases"
    target.mkdir(parents=True, exist_ok=True)
    for kind in VELERO_KINDS:
        shutil.copyfile(bases / f"velero.io_{kind}.yaml", target / f"velero.io_{kind}.yaml")
    return target


def policy_report_crds() -> Path:
    shared = REFERENCE / "wgpolicyk8s-v1alpha2"
    if not shared.is_dir():
        raise ReferenceMissing(f"{shared} is missing (set SNCGUARD_REFERENCE to the reference folder)")
    return shared


def main(argv: list[str]) -> int:
    which = {"velero": velero_crds, "policyreports": policy_report_crds}
    if len(argv) != 1 or argv[0] not in which:
        print(f"usage: reference.py {'|'.join(which)}", file=sys.stderr)
        return 2
    try:
        print(which[argv[0]]())
    except (ReferenceMissing, OSError, subprocess.SubprocessError) as exc:
        print(f"reference.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
