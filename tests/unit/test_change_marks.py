"""Which policies an object's change marks dirty, derived from what each policy kind reads (issue #16).

controller/kinds.py used to say, kind by kind and by hand, which policies a change marks and which kinds
each policy kind reads. Both are derived now: READS from the rule registry, the marking from READS and
from where a policy reads a kind, narrowed where judging every policy again would be too much. The
hand-written versions are kept here, as they were, as the contract the derivation must keep.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sncguard.controller import kinds
from sncguard.controller.engine import Engine, policy_index_name
from sncguard.controller.kinds import BY_KIND, CLUSTER, READS, WATCHED, change_handler, index_values
from sncguard.controller.kube import KubeClient
from sncguard.controller.state import PolicyKey, PolicyRecord
from sncguard.netpol import NAMESPACE_NAME_LABEL, ForeignPodReach, IPBlock, pod_address
from sncguard.selectors import label_selector_matches
from sncguard.view import Namespace, Node, Pod

# The hand-written table READS replaced (kinds.py before #16).
TODAYS_READS: dict[str, frozenset[str]] = {
    "ZoneSpread": frozenset({"Namespace", "Node", "Pod", "Deployment", "StatefulSet", "PodDisruptionBudget"}),
    "TenantPolicy": frozenset({"Namespace", "Node", "Pod", "Service", "NetworkPolicy", "Ingress", "Route",
                               "RoleBinding", "ClusterRoleBinding", "PersistentVolume", "PersistentVolumeClaim",
                               "Backup"}),
    "BackupPolicy": frozenset({"Namespace", "Node", "Pod", "BackupStorageLocation", "Schedule", "Backup", "Restore"}),
}


def test_the_reads_derived_from_the_registry_are_the_hand_written_table_they_replace():
    """Until every family is declared in the registry the derived table lacks their kinds: this says which."""
    differences = {kind: {"undeclared": sorted(TODAYS_READS[kind] - READS[kind]),
                          "new": sorted(READS[kind] - TODAYS_READS[kind])}
                   for kind in TODAYS_READS if READS[kind] != TODAYS_READS[kind]}
    assert differences == {}
    assert list(READS) == list(TODAYS_READS), "the order policy kinds are marked in"


# ---- the marks the hand-written table made, given the labels it remembered as `before` ---------------------

def _todays_tenants_naming_pod(engine: Engine, namespace: str, name: str, projection: Any) -> set[PolicyKey]:
    where = (namespace, name)
    readers: set[PolicyKey] = set()
    for key in engine.tenant_policies_reading_pods_in.get(namespace, ()):
        reach, selected = engine.tenant_reach.get(key), engine.foreign_pods_selected.setdefault(key, set())
        selects_it = reach is None or (projection is not None and reach.selects(projection))
        if selects_it or where in selected:
            readers.add(key)
        if selects_it and projection is not None:
            selected.add(where)
        else:
            selected.discard(where)
    before = engine.pod_addresses_in_blocks.pop(where, None)
    after = pod_address(projection) if projection is not None else None
    for key, blocks in engine.tenant_ip_blocks.items():
        holds_it = after is not None and any(block.contains(after) for block in blocks)
        if holds_it:
            engine.pod_addresses_in_blocks[where] = after
        if holds_it or (before is not None and any(block.contains(before) for block in blocks)):
            readers.add(key)
    return readers


def _todays_namespace_marks(engine: Engine, name: str, before: Mapping[str, str] | None, projection: Any) -> None:
    engine.mark_namespaced("ZoneSpread", name)
    engine.mark_namespaced("BackupPolicy", name)
    covering = engine.tenant_policies_of_namespace.get(name, set())
    after = projection.labels if projection is not None else None
    named = [{**labels, NAMESPACE_NAME_LABEL: name} for labels in (before, after) if labels is not None]
    has_pods = bool(index_values(engine, BY_KIND["Pod"], [name]))
    for record in engine.records("TenantPolicy"):
        spec = engine.spec_of(record)
        selects = spec is not None and after is not None and label_selector_matches(
            spec.namespace_selector.as_k8s(), after)
        if selects or record.key in covering:
            engine.mark(record.key)
            continue
        selectors = engine.tenant_namespace_selectors.get(record.key)
        if selectors is None or (has_pods and record.key in engine.tenant_ip_blocks) or any(
                label_selector_matches(selector, labels) for selector in selectors for labels in named):
            engine.mark(record.key, deferred=True)


def _todays_marks(engine: Engine, kind: str, namespace: str, name: str, before: Any, after: Any) -> None:
    everything = ("ZoneSpread", "TenantPolicy", "BackupPolicy")
    if kind == "Pod":
        for policy_kind in ("ZoneSpread", "BackupPolicy"):
            engine.mark_namespaced(policy_kind, namespace)
        engine.mark_tenants_of(namespace)
        for key in _todays_tenants_naming_pod(engine, namespace, name, after):
            engine.mark(key, deferred=True)
    elif kind in ("Deployment", "StatefulSet", "PodDisruptionBudget"):
        engine.mark_namespaced("ZoneSpread", namespace)
        engine.mark_tenants_of(namespace)
    elif kind == "Node":
        labels_before = before.labels if before is not None else None
        marked = ("ZoneSpread",) if after is not None and labels_before == after.labels else everything
        for policy_kind in marked:
            engine.mark_kind(policy_kind)
    elif kind == "Namespace":
        _todays_namespace_marks(engine, name, before.labels if before is not None else None, after)
    elif kind in ("Service", "NetworkPolicy", "Ingress", "Route", "RoleBinding", "PersistentVolumeClaim"):
        engine.mark_tenants_of(namespace)
    elif kind in ("ClusterRoleBinding", "PersistentVolume"):
        engine.mark_kind("TenantPolicy")
    elif kind in ("BackupStorageLocation", "Schedule", "Backup", "Restore"):
        engine.mark_kind("BackupPolicy")
        for record in engine.records("TenantPolicy"):
            spec = engine.spec_of(record)
            if spec is not None and spec.termination is not None:
                engine.mark(record.key, deferred=True)
    else:
        raise AssertionError(f"no hand-written marking for {kind}")


# ---- one cluster, with policies of every kind --------------------------------------------------------------
#
# shop is acme's and web globex's, each with a ZoneSpread; shop and velero have a BackupPolicy. acme's
# NetworkPolicies name web's pods (a peer's namespaceSelector) and hold 10.0.0.0/16 in an ipBlock; a peer of
# globex's matches namespaces labelled tenant=acme; `ended` declares a termination; `fresh` was never
# evaluated. `spare` is nobody's.

ACME, GLOBEX = PolicyKey("TenantPolicy", "", "acme"), PolicyKey("TenantPolicy", "", "globex")
ENDED, FRESH = PolicyKey("TenantPolicy", "", "ended"), PolicyKey("TenantPolicy", "", "fresh")


def _tenant(name: str, **fields: Any) -> PolicyRecord:
    spec = {"tenant": name, "namespaceSelector": {"matchLabels": {"tenant": name}}, **fields}
    return PolicyRecord(PolicyKey("TenantPolicy", "", name), f"uid-{name}", 1, spec, {})


def _namespaced(kind: str, namespace: str, name: str) -> PolicyRecord:
    return PolicyRecord(PolicyKey(kind, namespace, name), f"uid-{namespace}-{name}", 1, {}, {})


def namespace(name: str, **labels: str) -> Namespace:
    return Namespace.from_obj({"metadata": {"name": name, "labels": labels}})


def pod(namespace_: str, name: str, ip: str, **labels: str) -> Pod:
    return Pod.from_obj({"metadata": {"namespace": namespace_, "name": name, "labels": labels},
                         "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
                         "status": {"phase": "Running", "podIP": ip}})


def node(name: str, zone: str, ready: bool) -> Node:
    return Node.from_obj({"metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
                          "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})


class Marking(Engine):
    """The engine with its marks kept here, each policy's as the work queue keeps it: a prompt mark
    outweighs a deferred one."""

    def __init__(self) -> None:
        super().__init__(KubeClient())
        self.deferred_only: dict[PolicyKey, bool] = {}

    def mark(self, key: PolicyKey, *, deferred: bool = False) -> None:
        self.deferred_only[key] = self.deferred_only.get(key, True) and deferred


def cluster() -> Marking:
    engine = Marking()
    engine.attach({
        policy_index_name("ZoneSpread"): {"shop": [_namespaced("ZoneSpread", "shop", "spread")],
                                          "web": [_namespaced("ZoneSpread", "web", "spread")]},
        policy_index_name("BackupPolicy"): {"shop": [_namespaced("BackupPolicy", "shop", "nightly")],
                                            "velero": [_namespaced("BackupPolicy", "velero", "self")]},
        policy_index_name("TenantPolicy"): {"": [
            _tenant("acme"), _tenant("globex"),
            _tenant("ended", termination={"contractEndedAt": "2026-01-01T00:00:00Z"}), _tenant("fresh")]},
        BY_KIND["Namespace"].index_id: {CLUSTER: [namespace("shop", tenant="acme"), namespace("web", tenant="globex"),
                                                  namespace("velero"), namespace("spare")]},
        BY_KIND["Pod"].index_id: {"web": [pod("web", "front", "10.0.3.4")]},
    }, [])
    engine.tenant_policies_of_namespace.cover(ACME, ["shop"])
    engine.tenant_policies_of_namespace.cover(GLOBEX, ["web"])
    engine.tenant_namespace_selectors.update({ACME: [], GLOBEX: [{"matchLabels": {"tenant": "acme"}}], ENDED: []})
    engine.remember_foreign_pods(
        ACME, ForeignPodReach((IPBlock.parse({"cidr": "10.0.0.0/16"}),), {"web": (None,)}),
        [pod("web", "front", "10.0.3.4")])
    return engine


def _projection(kind: str, namespace_: str, name: str, **labels: str) -> Any:
    return BY_KIND[kind].project({"metadata": {"name": name, "namespace": namespace_ or None, "labels": labels},
                                  "spec": {}})


def changes_of(kind: str) -> list[tuple[str, str, str, Any, Any]]:
    """(what, namespace, name, before, after): the object created, changed and deleted, wherever it matters."""
    if kind == "Pod":
        return [
            ("created in an ipBlock", "spare", "p", None, pod("spare", "p", "10.0.1.1")),
            ("moved out of it", "spare", "p", pod("spare", "p", "10.0.1.1"), pod("spare", "p", "192.168.0.1")),
            ("deleted outside", "spare", "p", pod("spare", "p", "192.168.0.1"), None),
            ("created in a tenant", "shop", "q", None, pod("shop", "q", "192.168.0.2")),
            ("relabelled where a peer names it", "web", "front", pod("web", "front", "10.0.3.4"),
             pod("web", "front", "10.0.3.4", app="x")),
            ("deleted where a peer names it", "web", "front", pod("web", "front", "10.0.3.4"), None),
        ]
    if kind == "Node":
        return [
            ("created", "", "n", None, node("n", "a", True)),
            ("not ready", "", "n", node("n", "a", True), node("n", "a", False)),
            ("moved to another zone", "", "n", node("n", "a", False), node("n", "b", False)),
            ("deleted", "", "n", node("n", "b", False), None),
        ]
    if kind == "Namespace":
        return [
            ("created for acme", "", "shop-2", None, namespace("shop-2", tenant="acme")),
            ("created for nobody", "", "spare-2", None, namespace("spare-2")),
            ("relabelled out of globex", "", "web", namespace("web", tenant="globex"), namespace("web")),
            ("relabelled into a tenant", "", "spare", namespace("spare"), namespace("spare", tenant="initech")),
            ("deleted", "", "shop", namespace("shop", tenant="acme"), None),
        ]
    places = ["shop", "web", "velero"] if BY_KIND[kind].namespaced else [""]
    out = []
    for place in places:
        one, other = _projection(kind, place, "x", v="1"), _projection(kind, place, "x", v="2")
        out += [(f"created in {place!r}", place, "x", None, one), (f"changed in {place!r}", place, "x", one, other),
                (f"deleted in {place!r}", place, "x", other, None)]
    return out


def marks(engine: Marking) -> set[tuple[PolicyKey, bool]]:
    """Each marked policy, and whether it waits behind prompt work."""
    return set(engine.deferred_only.items())


@pytest.fixture()
def todays_reads(monkeypatch):
    """The derivation runs on the hand-written table, whichever families the registry holds yet."""
    monkeypatch.setattr(kinds, "READS", TODAYS_READS)


# The hand-written table also marked policies of kinds that read nothing of the changed kind: a
# TenantPolicy reads no workload, PodDisruptionBudget, BackupStorageLocation, Schedule or Restore (no
# rule, scope or plan of it does), so those marks cost evaluations and moved no verdict.
UNREAD_MARKS_DROPPED = {"Deployment", "StatefulSet", "PodDisruptionBudget", "BackupStorageLocation", "Schedule",
                        "Restore"}


@pytest.mark.parametrize("kind", [w.kind for w in WATCHED])
def test_every_mark_the_hand_written_table_made_is_still_made(kind, todays_reads):
    for what, namespace_, name, before, after in changes_of(kind):
        today, derived = cluster(), cluster()
        _todays_marks(today, kind, namespace_, name, before, after)
        change_handler(derived, BY_KIND[kind])(namespace_, name, before, after)
        expected = {(key, later) for key, later in marks(today) if kind in TODAYS_READS[key.kind]}
        assert marks(derived) == expected, f"{kind} {what}"
        dropped = marks(today) - expected
        assert bool(dropped) <= (kind in UNREAD_MARKS_DROPPED), f"{kind} {what}: {dropped}"


def test_the_marks_dropped_are_those_of_kinds_the_policy_does_not_read(todays_reads):
    """The list above is exact: each kind in it lost a mark somewhere."""
    dropping = set()
    for kind in UNREAD_MARKS_DROPPED:
        for _, namespace_, name, before, after in changes_of(kind):
            today = cluster()
            _todays_marks(today, kind, namespace_, name, before, after)
            if any(kind not in TODAYS_READS[key.kind] for key, _ in marks(today)):
                dropping.add(kind)
    assert dropping == UNREAD_MARKS_DROPPED


def test_the_scenarios_reach_every_narrowing(todays_reads):
    """A narrowing no scenario above reaches would be compared with nothing."""
    reached = set()
    for (kind, policy_kind), narrowing in kinds.NARROWINGS.items():
        for _, namespace_, name, before, after in changes_of(kind):
            engine = cluster()
            narrowing(engine, kinds.Change(kind, namespace_, name, before, after))
            if any(key.kind == policy_kind for key, _ in marks(engine)):
                reached.add((kind, policy_kind))
    assert reached == set(kinds.NARROWINGS)


def test_a_kind_newly_read_marks_its_readers_with_no_table_to_edit(monkeypatch):
    """A rule that declares a read of workloads makes a workload's change mark the tenants of its namespace."""
    monkeypatch.setattr(kinds, "READS", {**TODAYS_READS, "TenantPolicy": TODAYS_READS["TenantPolicy"] | {"Deployment"}})
    engine = cluster()
    change_handler(engine, BY_KIND["Deployment"])("shop", "x", None, _projection("Deployment", "shop", "x"))
    assert marks(engine) == {(PolicyKey("ZoneSpread", "shop", "spread"), False), (ACME, False)}


def test_a_readiness_change_alone_marks_only_the_zonespreads(todays_reads):
    engine = cluster()
    change_handler(engine, BY_KIND["Node"])("", "n", node("n", "a", True), node("n", "a", False))
    assert {key.kind for key, _ in marks(engine)} == {"ZoneSpread"}


def test_a_namespace_relabelled_is_judged_by_its_labels_before_the_change(todays_reads):
    """A peer of globex's matched shop by its labels before: globex is judged again, later; the engine
    holds no memory of labels, the informer's store gives them."""
    engine = cluster()
    change_handler(engine, BY_KIND["Namespace"])("", "shop", namespace("shop", tenant="acme"), namespace("shop"))
    assert (GLOBEX, True) in marks(engine) and (ACME, False) in marks(engine)
    engine = cluster()
    change_handler(engine, BY_KIND["Namespace"])("", "shop", namespace("shop"), namespace("shop", tier="x"))
    assert (GLOBEX, True) not in marks(engine)
