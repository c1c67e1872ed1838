"""What the operator keeps of each policy between events: its key, and a record of its indexed body
(spec, status, generation, uid) as plain values that outlive kopf's event.

The informers hold the projections of the watched kinds (informer.py); the engine decides whether to
evaluate and whether to write from these records (engine.py), and which TenantPolicies cover each
namespace (TenantCoverage)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
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


class TenantCoverage(Mapping[str, Set[PolicyKey]]):
    """Which TenantPolicies cover each namespace, as of their last evaluation: read by namespace, changed
    by policy (an evaluation's scope, a policy gone)."""

    def __init__(self) -> None:
        self._by_namespace: dict[str, set[PolicyKey]] = {}
        self._by_policy: dict[PolicyKey, set[str]] = {}

    def __getitem__(self, namespace: str) -> Set[PolicyKey]:
        return self._by_namespace[namespace]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_namespace)

    def __len__(self) -> int:
        return len(self._by_namespace)

    def cover(self, key: PolicyKey, namespaces: Iterable[str]) -> None:
        """TenantPolicy `key` covers exactly `namespaces` now."""
        self.forget(key)
        covered = self._by_policy[key] = set(namespaces)
        for namespace in covered:
            self._by_namespace.setdefault(namespace, set()).add(key)

    def forget(self, key: PolicyKey) -> None:
        for namespace in self._by_policy.pop(key, ()):
            keys = self._by_namespace[namespace]
            keys.discard(key)
            if not keys:
                del self._by_namespace[namespace]


def plain(value: Any) -> Any:
    """A deep plain copy of a kopf body view, safe to keep after the event is gone."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
