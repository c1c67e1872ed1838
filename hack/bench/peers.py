#!/usr/bin/env python3
"""`sncguard check` beside the tools people would use instead, on the same folder of manifests.

    hack/bench/peers.py FOLDER [--sncguard-objects-per-s N]   prints the figures as JSON

Each peer is installed by hack/bench/peers.sh (pinned versions, in ~/.cache/sncguard/peers) and run
once on the whole folder; what is measured is the wall time of the whole process, start-up
included, as for `sncguard check`. The peers check other things than sncguard does (checkov its
own catalogue of Kubernetes checks; Kyverno the policies of hack/bench/peers/kyverno/, which
express the few sncguard rules that a per-object policy can): the comparison is of speed on the
same input, not of coverage. A peer that cannot be installed or run is recorded as unavailable,
with the reason; it never fails the benchmark.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INSTALLER = HERE / "peers.sh"
KYVERNO_POLICIES = HERE / "peers" / "kyverno"
PEERS = ("checkov", "kyverno")
INSTALL_TIMEOUT_S = 1800  # building the Kyverno CLI takes ~15 minutes on two cores
# checkov takes more than 15 minutes on the 10,000 objects: a peer is stopped at this, and its
# figures become bounds (objects_per_s_at_most, ratio_sncguard_to_peer_at_least). Two minutes
# bound checkov well enough (at most 83 objects/s) without adding a quarter of an hour to the run.
RUN_TIMEOUT_S = 120

Runner = Callable[..., subprocess.CompletedProcess]


def unavailable(reason: str) -> dict[str, Any]:
    return {"status": "unavailable", "reason": reason}


def install(tool: str, run: Runner = subprocess.run) -> tuple[str | None, str | None]:
    """(the peer's executable, None), or (None, why it cannot be had)."""
    try:
        res = run(["bash", str(INSTALLER), tool], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"installation failed: {exc}"
    exe = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    if res.returncode != 0 or not exe:
        tail = " ".join(res.stderr.strip().splitlines()[-3:])[-500:]
        return None, f"installation failed (exit {res.returncode}): {tail or 'no message'}"
    return exe, None


def argv_for(tool: str, exe: str, folder: Path) -> list[str]:
    if tool == "checkov":
        # --skip-download: no call to the vendor's API for guideline links (no network here anyway).
        return [exe, "-d", str(folder), "--framework", "kubernetes", "--quiet", "--compact", "--skip-download",
                "-o", "json"]
    return [exe, "apply", str(KYVERNO_POLICIES), "--resource", str(folder), "--remove-color"]


def checkov_failed(stdout: str) -> int:
    """Failed checks in checkov's JSON report: one report per framework, or a list of them; an
    empty run prints a summary alone."""
    data = json.loads(stdout) if stdout.strip() else {}
    reports = data if isinstance(data, list) else [data]
    return sum(int((r.get("summary") or {}).get("failed", 0)) for r in reports if isinstance(r, dict))


_KYVERNO_SUMMARY = re.compile(r"pass: (\d+), fail: (\d+), warn: (\d+), error: (\d+), skip: (\d+)")


def kyverno_failed(stdout: str) -> int:
    """Failed rule results from the summary line that `kyverno apply` ends with."""
    found = _KYVERNO_SUMMARY.findall(stdout)
    if not found:
        raise ValueError("no 'pass: N, fail: N, ...' summary in the output")
    return int(found[-1][1])


PARSERS: dict[str, Callable[[str], int]] = {"checkov": checkov_failed, "kyverno": kyverno_failed}


def ratio(sncguard_objects_per_s: float | None, peer_objects_per_s: float | None) -> float | None:
    """How many times faster sncguard is than the peer on the same input (objects/s over objects/s)."""
    if not sncguard_objects_per_s or not peer_objects_per_s:
        return None
    return round(sncguard_objects_per_s / peer_objects_per_s, 1)


def measure(tool: str, exe: str, folder: Path, objects: int, run: Runner = subprocess.run,
            clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    argv = argv_for(tool, exe, folder)
    t0 = clock()
    try:
        res = run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "reason": f"did not finish within {RUN_TIMEOUT_S} s",
                "seconds_at_least": RUN_TIMEOUT_S, "objects_per_s_at_most": round(objects / RUN_TIMEOUT_S, 1)}
    except OSError as exc:
        return unavailable(f"cannot run: {exc}")
    seconds = clock() - t0
    try:
        failed = PARSERS[tool](res.stdout)
    except (ValueError, TypeError, AttributeError) as exc:
        tail = " ".join(res.stderr.strip().splitlines()[-3:])[-500:]
        return unavailable(f"unreadable output (exit {res.returncode}): {exc}; {tail}")
    return {"status": "ok", "seconds": round(seconds, 2),
            "objects_per_s": round(objects / seconds, 1) if seconds > 0 else None,
            "failed_checks": failed, "exit_code": res.returncode,
            "command": " ".join([Path(argv[0]).name, *argv[1:]])}


def compare(folder: Path, objects: int, sncguard_objects_per_s: float | None,
            install_peer: Callable[[str], tuple[str | None, str | None]] = install,
            measure_peer: Callable[..., dict[str, Any]] = measure) -> dict[str, dict[str, Any]]:
    """{peer: figures}: each peer installed (when needed) then run once on `folder`."""
    out: dict[str, dict[str, Any]] = {}
    for tool in PEERS:
        exe, reason = install_peer(tool)
        if exe is None:
            out[tool] = unavailable(reason or "installation failed")
            continue
        figures = measure_peer(tool, exe, folder, objects)
        if figures.get("status") == "ok":
            figures["ratio_sncguard_to_peer"] = ratio(sncguard_objects_per_s, figures["objects_per_s"])
        elif figures.get("status") == "timeout":
            figures["ratio_sncguard_to_peer_at_least"] = ratio(sncguard_objects_per_s,
                                                               figures["objects_per_s_at_most"])
        out[tool] = figures
    return out


def count_objects(folder: Path) -> int:
    import yaml

    return sum(1 for path in sorted(folder.rglob("*.y*ml"))
               for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader",
                                                                                           yaml.SafeLoader))
               if doc)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hack/bench/peers.py", description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--sncguard-objects-per-s", type=float, help="for the ratios")
    args = p.parse_args(argv)
    objects = count_objects(args.folder)
    print(json.dumps({"objects": objects,
                      "peers": compare(args.folder, objects, args.sncguard_objects_per_s)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
