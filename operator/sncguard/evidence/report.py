"""`sncguard report`: read the sources, gather, seal and write the packs.

Sources: files and folders of manifests (as `sncguard check` reads them), or, with none, the cluster
of the kubeconfig (`--kubeconfig`, `--context`; KUBECONFIG, ~/.kube/config, or the in-cluster
account), read once through sncguard's own client (controller/snapshot.py).
Output: DIR/<tenant>.html and DIR/<tenant>.json per TenantPolicy, and DIR/platform.html and .json.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ..i18n import Text, msg, render
from .gather import PLATFORM, Packs, Snapshot, UnknownTenant, gather
from .html import render_platform, render_tenant
from .schema import dumps, seal

EXIT_OK, EXIT_UNUSABLE = 0, 2


class ReportError(Exception):
    """Nothing can be reported: the message says why."""


def from_files(paths: Sequence[str], namespace: str) -> Snapshot:
    from ..loader import InputError, load

    try:
        inputs = load(list(paths), namespace=namespace)
    except InputError as exc:
        raise ReportError(str(exc)) from None
    if inputs.errors and len(inputs.errors) == inputs.documents:
        raise ReportError(msg("no usable document"))
    return Snapshot(inputs, {"type": "files", "paths": list(paths)})


def from_cluster(kubeconfig: str | None, context: str | None) -> Snapshot:
    from ..controller.snapshot import ClusterUnreadable, read_cluster

    try:
        read = read_cluster(kubeconfig, context)
    except ClusterUnreadable as exc:
        raise ReportError(str(exc)) from None
    source = {"type": "cluster", "server": read.server}
    if read.context:
        source["context"] = read.context
    return Snapshot(read.inputs, source, statuses=read.statuses, unreadable=read.unreadable)


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a reader never sees half a pack."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_packs(packs: Packs, directory: Path) -> list[Path]:
    """Seal each pack, render its page from the sealed JSON, write both; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    items = [(stem, pack, render_tenant) for stem, pack in sorted(packs.tenants.items())]
    if packs.platform is not None:
        items.append((PLATFORM, packs.platform, render_platform))
    for stem, pack, render_page in items:
        sealed = seal(pack)
        json_path, html_path = directory / f"{stem}.json", directory / f"{stem}.html"
        _write(json_path, dumps(sealed))
        _write(html_path, render_page(sealed, json_path.name))
        written += [html_path, json_path]
    return written


def report(paths: Sequence[str], *, output_dir: str, language: str, now: datetime, tenants: Sequence[str] = (),
           namespace: str = "default", kubeconfig: str | None = None, context: str | None = None,
           out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr

    def say(text: Text) -> None:
        err.write(f"sncguard report: {text.render(language)}\n")

    try:
        snapshot = from_files(paths, namespace) if paths else from_cluster(kubeconfig, context)
        for error in snapshot.inputs.errors:
            say(msg("{error} (policy not evaluated)", error=error))
        packs = gather(snapshot, now, language, tenants=set(tenants) or None)
    except (ReportError, UnknownTenant) as exc:
        # A Text, or the words of the module that raised it (loader, client), English until it has a catalogue.
        err.write(f"sncguard report: {render(exc.args[0], language)}\n")
        return EXIT_UNUSABLE
    if not packs.tenants:
        say(msg("no TenantPolicy in the input: the platform pack only"))
    try:
        written = write_packs(packs, Path(output_dir))
    except OSError as exc:
        say(msg("cannot write to {directory}: {error}", directory=output_dir, error=exc))
        return EXIT_UNUSABLE
    for path in written:
        out.write(f"{path}\n")
    return EXIT_OK
