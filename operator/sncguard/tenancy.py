"""Which TenantPolicies select which namespaces, kept up to date as either side changes.

Every TenantPolicy's verdict needs the namespaces the *other* tenants hold (NET-004: another tenant
reaching in). Matching every other policy's selector against every namespace on each evaluation
costs tenants x namespaces label matches (400,000 at 200 tenants and 2,000 namespaces, most of a
second); a namespace or a policy that changed needs only its own row or column matched again.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from .selectors import label_selector_matches


class TenantSelection:
    """namespace -> the policies whose namespaceSelector selects it, for the namespaces and policy
    selectors of the last `sync`. Policies are named by any hashable id (the operator and `check` use
    the policy's name); a policy whose spec is unusable is simply not passed: it claims nothing."""

    def __init__(self) -> None:
        self._labels: dict[str, Mapping[str, str]] = {}
        self._selectors: dict[Hashable, Any] = {}  # policy -> its selector as the Kubernetes dict
        self._selected: dict[Hashable, set[str]] = {}  # policy -> namespaces
        self._claimants: dict[str, set[Hashable]] = {}  # namespace -> policies

    def sync(self, namespaces: Mapping[str, Any], selectors: Mapping[Hashable, Any]) -> None:
        """Bring the selection up to date with `namespaces` (name -> an object with `labels`) and
        `selectors` (policy -> its namespaceSelector as a Kubernetes dict)."""
        for policy in [p for p in self._selectors if p not in selectors]:
            self._drop_policy(policy)
        for name in [n for n in self._labels if n not in namespaces]:
            self._drop_namespace(name)
        changed_policies = [p for p, s in selectors.items() if p not in self._selectors or self._selectors[p] != s]
        for policy in changed_policies:
            self._drop_policy(policy)
            self._selectors[policy] = selectors[policy]
            self._selected[policy] = set()
        for name, namespace in namespaces.items():
            labels = namespace.labels
            if self._labels.get(name) == labels:
                continue
            self._drop_namespace(name)
            self._labels[name] = dict(labels)  # a copy: labels changed in place are still a change
            for policy, selector in self._selectors.items():
                if label_selector_matches(selector, labels):
                    self._claim(policy, name)
        for policy in changed_policies:
            selector = self._selectors[policy]
            for name, labels in self._labels.items():
                if label_selector_matches(selector, labels):
                    self._claim(policy, name)

    def namespaces_of(self, policy: Hashable) -> list[str]:
        return sorted(self._selected.get(policy, ()))

    def claimants(self, namespace: str) -> set[Hashable]:
        return set(self._claimants.get(namespace, ()))

    def others(self, policy: Hashable) -> set[str]:
        """The namespaces some other policy selects, less those `policy` selects."""
        return set(self._claimants) - self._selected.get(policy, set())

    def _claim(self, policy: Hashable, namespace: str) -> None:
        self._selected[policy].add(namespace)
        self._claimants.setdefault(namespace, set()).add(policy)

    def _drop_policy(self, policy: Hashable) -> None:
        self._selectors.pop(policy, None)
        for namespace in self._selected.pop(policy, ()):
            self._unclaim(policy, namespace)

    def _drop_namespace(self, name: str) -> None:
        self._labels.pop(name, None)
        for policy in self._claimants.pop(name, ()):
            self._selected[policy].discard(name)

    def _unclaim(self, policy: Hashable, namespace: str) -> None:
        claimants = self._claimants.get(namespace)
        if claimants is not None:
            claimants.discard(policy)
            if not claimants:
                del self._claimants[namespace]
