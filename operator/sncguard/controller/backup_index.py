"""Velero Backups by the namespaces they hold, so that a BackupPolicy reads its own, not all of them.

Velero keeps one Backup per namespace per day for the retention period: 10,000 in a cluster of
2,000 namespaces. A BackupPolicy's rules only ever read the Backups that hold its namespace (BK-005,
drills) or that a Restore names (BK-006: a Restore of a Backup that does not hold the namespace is
no restore test of it, which only that Backup's presence says). The index of a Velero namespace is
built on first use and dropped on any change of Velero's objects (the informer reports each one once
it is synced; the engine evaluates nothing before), which is rare next to evaluations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..rules.backup import backup_holds_namespace
from ..view import VeleroBackup, VeleroRestore


@dataclass
class _Index:
    # (position in the informer's order, backup): by explicit namespace, the wildcards, by name.
    named: dict[str, list[tuple[int, VeleroBackup]]] = field(default_factory=dict)
    wildcard: list[tuple[int, VeleroBackup]] = field(default_factory=list)
    by_name: dict[str, list[tuple[int, VeleroBackup]]] = field(default_factory=dict)


class BackupIndex:
    def __init__(self) -> None:
        self._indexes: dict[str, _Index] = {}  # Velero namespace -> its index

    def velero_changed(self) -> None:
        self._indexes.clear()

    def relevant(self, velero_namespace: str, namespace: str, backups_of: Callable[[str], Sequence[VeleroBackup]],
                 restores: Iterable[VeleroRestore]) -> list[VeleroBackup]:
        """Of the Backups in `velero_namespace` (`backups_of` lists them), in their order: those that
        hold `namespace`, and those a Restore names."""
        index = self._indexes.get(velero_namespace)
        if index is None:
            index = self._indexes[velero_namespace] = _build(backups_of(velero_namespace))
        found = dict(index.named.get(namespace, ()))
        found.update((position, b) for position, b in index.wildcard if backup_holds_namespace(b, namespace))
        for restore in restores:
            found.update(index.by_name.get(restore.backup_name, ()))
        return [found[position] for position in sorted(found)]


def _build(backups: Sequence[VeleroBackup]) -> _Index:
    index = _Index()
    for position, backup in enumerate(backups):
        entry = (position, backup)
        index.by_name.setdefault(backup.name, []).append(entry)
        if not backup.included_namespaces or "*" in backup.included_namespaces:
            index.wildcard.append(entry)
            continue
        for namespace in set(backup.included_namespaces):
            if backup_holds_namespace(backup, namespace):
                index.named.setdefault(namespace, []).append(entry)
    return index
