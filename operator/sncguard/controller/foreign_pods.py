"""Other tenants' pods that a TenantPolicy's NetworkPolicies can name, remembered per namespace.

Every tenant's DNS rule (`namespaceSelector: {}` with the kube-dns podSelector) names every
namespace of the cluster, and most tenants share it: asking each namespace's pods again for each
tenant's evaluation reads every pod of the cluster each time (40,000 at 2,000 namespaces). The
answer for one namespace and one selector only changes when a pod of that namespace does, so it is
kept until then (`pod_changed`, from the pod informer's change callback, which reports every
change once the informer is synced; the engine evaluates nothing before).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..netpol import ForeignPodReach, IPBlock, peer_pod_test
from ..view import Pod

PodsOf = Callable[[str], Iterable[Pod]]


class ForeignPodIndex:
    def __init__(self) -> None:
        # namespace -> {(selector's repr, "") or ("", ipBlocks' number) -> the pods of the namespace it names}
        self._named: dict[str, dict[tuple[str, int | str], tuple[Pod, ...]]] = {}
        # Each set of ipBlocks seen, numbered: hashing addresses for every namespace costs more than the rest.
        self._blocks: dict[tuple[IPBlock, ...], int] = {}

    def pod_changed(self, namespace: str) -> None:
        self._named.pop(namespace, None)

    def named(self, reach: ForeignPodReach, namespaces: Iterable[str], pods_of: PodsOf) -> list[Pod]:
        """The pods of `namespaces` (other tenants') that `reach` names: by a peer's selectors, or by
        an ipBlock holding their address. Each once, namespace by namespace in the given order, and
        within a namespace in `pods_of`'s order."""
        blocks_key: tuple[str, int | str] | None = None
        if reach.ip_blocks:
            if len(self._blocks) > MAX_BLOCK_SETS and reach.ip_blocks not in self._blocks:
                self._blocks.clear()
                self._named.clear()
            blocks_key = ("", self._blocks.setdefault(reach.ip_blocks, len(self._blocks)))
        held = ForeignPodReach(ip_blocks=reach.ip_blocks).block_holds
        # Per selector object of this reach: its cache key and its test, made once.
        tests: dict[int, tuple[tuple[str, int | str], Callable[[Pod], bool]]] = {}
        out: list[Pod] = []
        for namespace in namespaces:
            selectors = reach.pod_selectors.get(namespace, ())
            if not selectors and blocks_key is None:
                continue
            cache = self._named.setdefault(namespace, {})
            found: set[str] = set()
            for selector in selectors:
                known = tests.get(id(selector))
                if known is None:
                    known = tests[id(selector)] = ((repr(selector), ""), peer_pod_test(selector))
                found.update(p.name for p in self._pods(cache, known[0], namespace, pods_of, known[1]))
            if blocks_key is not None:
                found.update(p.name for p in self._pods(cache, blocks_key, namespace, pods_of, held))
            if found:
                out.extend(p for p in pods_of(namespace) if p.name in found)
        return out

    @staticmethod
    def _pods(cache: dict[tuple[str, int | str], tuple[Pod, ...]], key: tuple[str, int | str], namespace: str,
              pods_of: PodsOf, names: Callable[[Pod], bool]) -> tuple[Pod, ...]:
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = tuple(p for p in pods_of(namespace) if names(p))
        return hit


# Distinct sets of ipBlocks remembered before starting afresh (one per tenant at most, in practice).
MAX_BLOCK_SETS = 4096
