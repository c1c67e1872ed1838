"""What the operator knows between events: policy records, fingerprints of indexed objects, last writes.

The informers and kopf's indexes hold the projections the rules read; this module holds the
bookkeeping that decides *whether* to evaluate (did a projection of a kopf-indexed object really
change? the informers compare theirs directly) and *whether* to write (is the new status
different from the one last written?).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PolicyKey:
    kind: str
    namespace: str  # "" for cluster-scoped kinds
    name: str

    def label(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """A policy object as indexed: enough to evaluate it and to know what status it carries."""

    key: PolicyKey
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]

    @classmethod
    def from_body(cls, kind: str, body: Mapping[str, Any]) -> PolicyRecord:
        meta = body.get("metadata") or {}
        return cls(
            key=PolicyKey(kind, meta.get("namespace") or "", meta.get("name", "")),
            uid=meta.get("uid", ""),
            generation=int(meta.get("generation") or 0),
            spec=plain(body.get("spec") or {}),
            status=plain(body.get("status") or {}),
        )


def plain(value: Any) -> Any:
    """A deep plain copy of a kopf body view, safe to keep after the event is gone."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class Fingerprints:
    """Remembers a hash of each indexed object's projection, to ignore events that change nothing we read."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], int] = {}

    def changed(self, kind: str, namespace: str, name: str, projection: object) -> bool:
        key = (kind, namespace, name)
        fingerprint = hash(repr(projection))
        if self._seen.get(key) == fingerprint:
            return False
        self._seen[key] = fingerprint
        return True

    def forget(self, kind: str, namespace: str, name: str) -> bool:
        """Forget the object; True when it was known."""
        return self._seen.pop((kind, namespace, name), None) is not None

    def __len__(self) -> int:
        return len(self._seen)
