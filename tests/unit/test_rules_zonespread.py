"""ZoneSpread rules ZS-001..ZS-006 and their evaluation, each decided bullet both ways.

Objects are built as Kubernetes dicts and projected through the same `from_obj` functions the
operator and the offline check use.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from sncguard import ZONE_LABEL
from sncguard.api.zonespread import ZoneSpreadSpec
from sncguard.findings import Finding, Result, Severity
from sncguard.rules import zonespread as zs
from sncguard.rules.zonespread import (
    LEGACY_ZONE_LABEL,
    check_disruption_budget,
    check_hard_spread,
    check_replicas,
    check_running_zones,
    check_spread_declared,
    check_zone_pinning,
    evaluate,
    pdb_allowed_disruptions,
)
from sncguard.view import ClusterView, Namespace, Node, Pod, PodDisruptionBudget, Workload

NS = "shop"
HOSTNAME = "kubernetes.io/hostname"
ZONES = ("zone-a", "zone-b", "zone-c")
_UNSET: Any = object()


# --------------------------------------------------------------------------------------------
# Builders: Kubernetes dicts through the operator's projections


def spec(**fields: Any) -> ZoneSpreadSpec:
    """ZoneSpreadSpec from wire (camelCase) fields, as the operator receives it."""
    return ZoneSpreadSpec.model_validate(fields)


def tsc(labels: dict | None = None, *, hard: bool = True, key: str = ZONE_LABEL, selector: Any = _UNSET,
        when: str | None = None) -> dict:
    out: dict = {"maxSkew": 1, "topologyKey": key,
                 "whenUnsatisfiable": when or ("DoNotSchedule" if hard else "ScheduleAnyway")}
    if selector is _UNSET:
        selector = {"matchLabels": labels or {"app": "web"}}
    if selector is not None:
        out["labelSelector"] = selector
    return out


def anti_term(labels: dict | None = None, *, key: str = ZONE_LABEL, selector: Any = _UNSET,
              namespaces: list | None = None, namespace_selector: Any = _UNSET, **extra: Any) -> dict:
    term: dict = {"topologyKey": key}
    if selector is _UNSET:
        selector = {"matchLabels": labels or {"app": "web"}}
    if selector is not None:
        term["labelSelector"] = selector
    if namespaces is not None:
        term["namespaces"] = namespaces
    if namespace_selector is not _UNSET:
        term["namespaceSelector"] = namespace_selector
    term.update(extra)
    return term


def anti(*terms: dict, hard: bool = True) -> dict:
    """An affinity with pod anti-affinity terms, required or preferred."""
    if hard:
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": t} for t in terms]}}


def node_affinity(*terms: list[dict]) -> dict:
    """Required node affinity: each argument is one term's matchExpressions."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": t} for t in terms]}}}


def expr(key: str, operator: str, *values: str) -> dict:
    out: dict = {"key": key, "operator": operator}
    if values:
        out["values"] = list(values)
    return out


def workload(name: str = "web", *, kind: str = "Deployment", namespace: str = NS, replicas: Any = 3,
             labels: dict | None = None, pod_labels: dict | None = None, spread: list | None = None,
             affinity: dict | None = None, node_selector: dict | None = None, node_name: str | None = None,
             selector: Any = _UNSET) -> Workload:
    """A Deployment or StatefulSet; by default one hard zone spread constraint on its own pods."""
    pod_labels = pod_labels if pod_labels is not None else {"app": name}
    pod_spec: dict = {"containers": [{"name": "main", "image": "registry.example/app:1"}]}
    if spread is None:
        spread = [tsc(pod_labels)]
    if spread:
        pod_spec["topologySpreadConstraints"] = spread
    if affinity is not None:
        pod_spec["affinity"] = affinity
    if node_selector is not None:
        pod_spec["nodeSelector"] = node_selector
    if node_name is not None:
        pod_spec["nodeName"] = node_name
    obj_spec: dict = {"selector": {"matchLabels": pod_labels} if selector is _UNSET else selector,
                      "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec}}
    if replicas is not None:
        obj_spec["replicas"] = replicas
    if kind == "StatefulSet":
        obj_spec["serviceName"] = name
    return Workload.from_obj(kind=kind, obj={
        "apiVersion": "apps/v1",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                     "labels": labels if labels is not None else {"app": name}},
        "spec": obj_spec,
    })


def node(name: str, zone: str | None = None, *, key: str = ZONE_LABEL, labels: dict | None = None) -> Node:
    all_labels = {HOSTNAME: name, **(labels or {})}
    if zone is not None:
        all_labels[key] = zone
    return Node.from_obj({"apiVersion": "v1", "kind": "Node",
                          "metadata": {"name": name, "labels": all_labels}})


def pod(name: str, labels: dict, node_name: str | None, *, namespace: str = NS, phase: str = "Running",
        terminating: bool = False) -> Pod:
    meta: dict = {"name": name, "namespace": namespace, "labels": labels}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    obj_spec: dict = {"containers": [{"name": "main", "image": "x"}]}
    if node_name:
        obj_spec["nodeName"] = node_name
    return Pod.from_obj({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": obj_spec,
                         "status": {"phase": phase}})


def pdb(name: str, match_labels: dict | None = None, *, min_available: Any = _UNSET,
        max_unavailable: Any = _UNSET, namespace: str = NS, selector: Any = _UNSET) -> PodDisruptionBudget:
    obj_spec: dict = {}
    if selector is _UNSET:
        selector = {"matchLabels": match_labels or {"app": "web"}}
    if selector is not None:
        obj_spec["selector"] = selector
    if min_available is not _UNSET:
        obj_spec["minAvailable"] = min_available
    if max_unavailable is not _UNSET:
        obj_spec["maxUnavailable"] = max_unavailable
    return PodDisruptionBudget.from_obj({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                         "metadata": {"name": name, "namespace": namespace},
                                         "spec": obj_spec})


def three_zone_nodes(key: str = ZONE_LABEL) -> list[Node]:
    return [node(f"node-{z[-1]}{i}", z, key=key) for z in ZONES for i in (1, 2)]


def pods_in_zones(w: Workload, zones: list[str], **kw: Any) -> list[Pod]:
    """One running pod of `w` per entry, on node-<zone letter>1."""
    return [pod(f"{w.name}-{i}", dict(w.template.labels), f"node-{z[-1]}1", namespace=w.namespace, **kw)
            for i, z in enumerate(zones)]


def cluster(workloads: list[Workload] = (), *, nodes: list[Node] | None = None, pods: list[Pod] | None = None,
            pdbs: list[PodDisruptionBudget] = (), namespaces: list[Namespace] = ()) -> ClusterView:
    """pods/nodes None = not observed (the offline check of bare manifests)."""
    return ClusterView(
        namespaces={n.name: n for n in namespaces},
        nodes={n.name: n for n in nodes or ()},
        pods=list(pods or ()),
        workloads=list(workloads),
        pdbs=list(pdbs),
        pods_observed=pods is not None,
        nodes_observed=nodes is not None,
    )


def live(w: Workload, zones: tuple[str, ...] | list[str] = ZONES, **kw: Any) -> ClusterView:
    return cluster([w], nodes=three_zone_nodes(), pods=pods_in_zones(w, list(zones)), **kw)


def assert_finding(f: Finding, rule_id: str, result: Result, w: Workload, field: str | None = None) -> None:
    assert f.rule.id == rule_id
    assert f.result is result, f.message_en
    assert (f.resource.kind, f.resource.namespace, f.resource.name) == (w.kind, w.namespace, w.name)
    assert f.resource.api_version == "apps/v1"
    assert f.resource.uid == w.uid
    for text in (f.message_en, f.message_fr):
        assert f"{w.namespace}/{w.name}" in text
        assert w.kind in text
    assert f.message_en != f.message_fr
    if field is not None:
        assert f.field == field


DEFAULT = spec()


# --------------------------------------------------------------------------------------------
# ZS-001


class TestReplicas:
    def test_fewer_replicas_than_min_zones_fails(self):
        w = workload(replicas=1)
        f = check_replicas(DEFAULT, w)
        assert_finding(f, "ZS-001", Result.FAIL, w, "spec.replicas")
        assert f.severity is Severity.HIGH
        assert f.message_en == "Deployment shop/web has 1 replica; minZones is 2, so it cannot span 2 zones"
        assert f.message_fr == ("Le Deployment shop/web a 1 réplica ; minZones vaut 2, il ne peut donc pas "
                                "couvrir 2 zones")

    def test_exactly_min_zones_passes(self):
        w = workload(replicas=2)
        assert_finding(check_replicas(DEFAULT, w), "ZS-001", Result.PASS, w, "spec.replicas")

    def test_min_zones_three(self):
        s = spec(minZones=3)
        f = check_replicas(s, workload(replicas=2))
        assert f.result is Result.FAIL and "2 replicas" in f.message_en and "minZones is 3" in f.message_en
        assert "2 réplicas" in f.message_fr
        assert check_replicas(s, workload(replicas=3)).result is Result.PASS

    def test_zero_replicas_fails(self):
        f = check_replicas(DEFAULT, workload(replicas=0))
        assert f.result is Result.FAIL and "0 replicas" in f.message_en and "0 réplica " in f.message_fr

    @pytest.mark.parametrize(("replicas", "en", "fr", "it"), [
        (0, "has 0 replicas;", "a 0 réplica ;", "ha 0 repliche;"),
        (1, "has 1 replica;", "a 1 réplica ;", "ha 1 replica;"),
        (2, "has 2 replicas;", "a 2 réplicas ;", "ha 2 repliche;"),
    ])
    def test_each_language_puts_zero_in_its_own_number(self, replicas, en, fr, it):
        f = check_replicas(spec(minZones=3), workload(replicas=replicas))
        assert en in f.message_en and fr in f.message_fr and it in f.message("it")

    def test_absent_replicas_defaults_to_one(self):
        w = workload(replicas=None)
        assert w.replicas == 1
        assert check_replicas(DEFAULT, w).result is Result.FAIL

    def test_statefulset(self):
        w = workload("db", kind="StatefulSet", replicas=3)
        assert_finding(check_replicas(DEFAULT, w), "ZS-001", Result.PASS, w)
        w1 = workload("db", kind="StatefulSet", replicas=1)
        f = check_replicas(DEFAULT, w1)
        assert_finding(f, "ZS-001", Result.FAIL, w1)
        assert f.message_en.startswith("StatefulSet shop/db has 1 replica")


# --------------------------------------------------------------------------------------------
# ZS-002 and ZS-003


class TestSpreadDeclared:
    @pytest.mark.parametrize("hard", [True, False])
    def test_zone_tsc_on_own_pods_counts_hard_or_soft(self, hard):
        w = workload(spread=[tsc(hard=hard)])
        f = check_spread_declared(DEFAULT, w)
        assert_finding(f, "ZS-002", Result.PASS, w, "spec.template.spec.topologySpreadConstraints")
        assert ("DoNotSchedule" if hard else "ScheduleAnyway") in f.message_en

    def test_no_spreading_fails(self):
        w = workload(spread=[])
        f = check_spread_declared(DEFAULT, w)
        assert_finding(f, "ZS-002", Result.FAIL, w, "spec.template.spec.topologySpreadConstraints")
        assert "declares no zone spreading" in f.message_en
        assert "app=web" in f.message_en and "topology.kubernetes.io/zone" in f.message_en
        assert "ne déclare aucune répartition entre zones" in f.message_fr

    def test_tsc_on_another_key_does_not_count(self):
        w = workload(spread=[tsc(key=HOSTNAME)])
        f = check_spread_declared(DEFAULT, w)
        assert f.result is Result.FAIL
        assert "topologySpreadConstraints[0] does not count" in f.message_en
        assert "its topologyKey is kubernetes.io/hostname" in f.message_en
        assert "topologySpreadConstraints[0] ne compte pas" in f.message_fr

    def test_tsc_without_label_selector_selects_nothing(self):
        w = workload(spread=[tsc(selector=None)])
        f = check_spread_declared(DEFAULT, w)
        assert f.result is Result.FAIL
        assert "it has no labelSelector, so it selects no pods" in f.message_en
        assert "n'a pas de labelSelector" in f.message_fr

    def test_tsc_whose_selector_does_not_match_the_pods(self):
        w = workload(spread=[tsc({"app": "other"})])
        f = check_spread_declared(DEFAULT, w)
        assert f.result is Result.FAIL
        assert "its labelSelector does not select the pod template labels (app=web)" in f.message_en

    def test_tsc_with_match_expressions(self):
        good = workload(spread=[tsc(selector={"matchExpressions": [expr("app", "In", "web", "api")]})])
        assert check_spread_declared(DEFAULT, good).result is Result.PASS
        bad = workload(spread=[tsc(selector={"matchExpressions": [expr("app", "NotIn", "web")]})])
        assert check_spread_declared(DEFAULT, bad).result is Result.FAIL

    def test_tsc_with_empty_selector_selects_all_pods_so_counts(self):
        w = workload(spread=[tsc(selector={})])
        assert check_spread_declared(DEFAULT, w).result is Result.PASS

    def test_invalid_when_unsatisfiable_does_not_count(self):
        w = workload(spread=[tsc(when="Sometimes")])
        f = check_spread_declared(DEFAULT, w)
        assert f.result is Result.FAIL and "whenUnsatisfiable is Sometimes" in f.message_en

    def test_legacy_zone_key_counts_with_the_default_key(self):
        w = workload(spread=[tsc(key=LEGACY_ZONE_LABEL)])
        assert check_spread_declared(DEFAULT, w).result is Result.PASS

    def test_legacy_zone_key_does_not_count_with_a_custom_key(self):
        w = workload(spread=[tsc(key=LEGACY_ZONE_LABEL)])
        f = check_spread_declared(spec(topologyKey="example.com/room"), w)
        assert f.result is Result.FAIL and "not example.com/room" in f.message_en

    def test_custom_topology_key(self):
        s = spec(topologyKey="example.com/room")
        assert check_spread_declared(s, workload(spread=[tsc(key="example.com/room")])).result is Result.PASS
        assert check_spread_declared(s, workload(spread=[tsc()])).result is Result.FAIL

    @pytest.mark.parametrize("hard", [True, False])
    def test_anti_affinity_on_zone_counts(self, hard):
        w = workload(spread=[], affinity=anti(anti_term(), hard=hard))
        f = check_spread_declared(DEFAULT, w)
        assert_finding(f, "ZS-002", Result.PASS, w, "spec.template.spec.affinity.podAntiAffinity")
        part = "requiredDuringScheduling" if hard else "preferredDuringScheduling"
        assert part in f.message_en

    def test_anti_affinity_on_hostname_does_not_count(self):
        w = workload(spread=[], affinity=anti(anti_term(key=HOSTNAME)))
        f = check_spread_declared(DEFAULT, w)
        assert f.result is Result.FAIL
        assert ("podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0] does not count: its "
                "topologyKey is kubernetes.io/hostname") in f.message_en

    def test_preferred_entry_without_pod_affinity_term_does_not_count(self):
        affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}]}}
        assert check_spread_declared(DEFAULT, workload(spread=[], affinity=affinity)).result is Result.FAIL

    def test_anti_affinity_without_label_selector_does_not_count(self):
        w = workload(spread=[], affinity=anti(anti_term(selector=None)))
        f = check_spread_declared(DEFAULT, w)
        assert f.result is Result.FAIL and "no labelSelector" in f.message_en

    def test_anti_affinity_selecting_other_pods_does_not_count(self):
        w = workload(spread=[], affinity=anti(anti_term({"app": "db"})))
        assert check_spread_declared(DEFAULT, w).result is Result.FAIL

    def test_anti_affinity_scoped_to_other_namespaces_does_not_count(self):
        w = workload(spread=[], affinity=anti(anti_term(namespaces=["other", "third"])))
        f = check_spread_declared(DEFAULT, w)
        assert f.result is Result.FAIL
        assert "it applies to namespaces other, third, not shop" in f.message_en
        assert "pas à shop" in f.message_fr

    def test_anti_affinity_listing_its_own_namespace_counts(self):
        w = workload(spread=[], affinity=anti(anti_term(namespaces=["other", NS])))
        assert check_spread_declared(DEFAULT, w).result is Result.PASS

    def test_anti_affinity_with_empty_namespaces_list_means_own_namespace(self):
        w = workload(spread=[], affinity=anti(anti_term(namespaces=[])))
        assert check_spread_declared(DEFAULT, w).result is Result.PASS

    def test_empty_namespace_selector_selects_all_namespaces(self):
        w = workload(spread=[], affinity=anti(anti_term(namespaces=["other"], namespace_selector={})))
        assert check_spread_declared(DEFAULT, w).result is Result.PASS

    def test_namespace_selector_against_namespace_labels(self):
        w = workload(spread=[], affinity=anti(anti_term(namespace_selector={"matchLabels": {"team": "a"}})))
        def namespace(team: str) -> Namespace:
            return Namespace.from_obj({"metadata": {"name": NS, "labels": {"team": team}}})

        team_a, team_b = cluster([w], namespaces=[namespace("a")]), cluster([w], namespaces=[namespace("b")])
        assert check_spread_declared(DEFAULT, w, team_a).result is Result.PASS
        f = check_spread_declared(DEFAULT, w, team_b)
        assert f.result is Result.FAIL and "namespaceSelector does not select namespace shop" in f.message_en
        # Without the Namespace object its labels are unknown: the selector is not proven to match.
        assert check_spread_declared(DEFAULT, w, cluster([w])).result is Result.FAIL

    def test_namespace_selector_on_the_automatic_name_label(self):
        by_name = {"matchLabels": {"kubernetes.io/metadata.name": NS}}
        w = workload(spread=[], affinity=anti(anti_term(namespace_selector=by_name)))
        assert check_spread_declared(DEFAULT, w, cluster([w])).result is Result.PASS
        other = {"matchLabels": {"kubernetes.io/metadata.name": "other"}}
        w2 = workload(spread=[], affinity=anti(anti_term(namespace_selector=other)))
        assert check_spread_declared(DEFAULT, w2, cluster([w2])).result is Result.FAIL

    def test_mismatch_label_keys_on_own_label_excludes_own_pods(self):
        w = workload(spread=[], affinity=anti(anti_term(mismatchLabelKeys=["app"])))
        f = check_spread_declared(DEFAULT, w)
        assert f.result is Result.FAIL and "mismatchLabelKeys (app)" in f.message_en
        unrelated = workload(spread=[], affinity=anti(anti_term(mismatchLabelKeys=["tenant"])))
        assert check_spread_declared(DEFAULT, unrelated).result is Result.PASS

    def test_one_useful_term_among_useless_ones_is_enough(self):
        w = workload(spread=[tsc(selector=None), tsc(key=HOSTNAME)], affinity=anti(anti_term()))
        f = check_spread_declared(DEFAULT, w)
        assert f.result is Result.PASS
        assert f.field == "spec.template.spec.affinity.podAntiAffinity"

    def test_every_useless_term_is_explained(self):
        w = workload(spread=[tsc(selector=None), tsc(key=HOSTNAME)], affinity=anti(anti_term({"app": "x"})))
        f = check_spread_declared(DEFAULT, w)
        assert f.result is Result.FAIL
        assert f.message_en.count("does not count") == 3
        assert f.message_fr.count("ne compte pas") == 3

    def test_statefulset(self):
        w = workload("db", kind="StatefulSet", spread=[])
        assert_finding(check_spread_declared(DEFAULT, w), "ZS-002", Result.FAIL, w)


class TestHardSpread:
    def test_skip_without_spreading(self):
        w = workload(spread=[tsc(key=HOSTNAME)])
        f = check_hard_spread(DEFAULT, w)
        assert_finding(f, "ZS-003", Result.SKIP, w)
        assert "ZS-002" in f.message_en and "ZS-002" in f.message_fr

    def test_hard_tsc_passes(self):
        w = workload(spread=[tsc(hard=True)])
        assert_finding(check_hard_spread(DEFAULT, w), "ZS-003", Result.PASS, w,
                       "spec.template.spec.topologySpreadConstraints")

    def test_required_anti_affinity_passes(self):
        w = workload(spread=[], affinity=anti(anti_term(), hard=True))
        assert_finding(check_hard_spread(DEFAULT, w), "ZS-003", Result.PASS, w,
                       "spec.template.spec.affinity.podAntiAffinity")

    def test_soft_tsc_fails_when_hard_is_required(self):
        w = workload(spread=[tsc(hard=False)])
        f = check_hard_spread(DEFAULT, w)
        assert_finding(f, "ZS-003", Result.FAIL, w, "spec.template.spec.topologySpreadConstraints")
        assert f.severity is Severity.MEDIUM
        assert "only softly" in f.message_en and "ScheduleAnyway" in f.message_en
        assert "requireHardSpread" in f.message_en and "souple" in f.message_fr

    def test_preferred_anti_affinity_fails_when_hard_is_required(self):
        w = workload(spread=[], affinity=anti(anti_term(), hard=False))
        f = check_hard_spread(DEFAULT, w)
        assert_finding(f, "ZS-003", Result.FAIL, w, "spec.template.spec.affinity.podAntiAffinity")

    @pytest.mark.parametrize("w", [workload(spread=[tsc(hard=False)]),
                                   workload(spread=[], affinity=anti(anti_term(), hard=False))])
    def test_soft_passes_when_policy_accepts_it(self, w):
        f = check_hard_spread(spec(requireHardSpread=False), w)
        assert_finding(f, "ZS-003", Result.PASS, w)
        assert "requireHardSpread is false" in f.message_en

    def test_soft_tsc_and_hard_anti_affinity_pass(self):
        w = workload(spread=[tsc(hard=False)], affinity=anti(anti_term(), hard=True))
        assert check_hard_spread(DEFAULT, w).result is Result.PASS

    def test_hard_constraint_that_does_not_count_does_not_make_soft_hard(self):
        w = workload(spread=[tsc(hard=True, key=HOSTNAME), tsc(hard=False)])
        assert check_hard_spread(DEFAULT, w).result is Result.FAIL
        w2 = workload(spread=[tsc({"app": "other"}, hard=True), tsc(hard=False)])
        assert check_hard_spread(DEFAULT, w2).result is Result.FAIL


# --------------------------------------------------------------------------------------------
# ZS-004


class TestRunningZones:
    @pytest.mark.parametrize(("pods", "nodes"), [(None, True), (True, None), (None, None)])
    def test_skip_without_live_pods_or_nodes(self, pods, nodes):
        w = workload()
        view = cluster([w], nodes=three_zone_nodes() if nodes else None,
                       pods=pods_in_zones(w, list(ZONES)) if pods else None)
        f = check_running_zones(DEFAULT, w, view)
        assert_finding(f, "ZS-004", Result.SKIP, w)
        assert "no live Pods/Nodes in the input" in f.message_en
        assert "aucun Pod ni Node" in f.message_fr

    def test_pods_in_three_zones_pass(self):
        w = workload()
        f = check_running_zones(DEFAULT, w, live(w))
        assert_finding(f, "ZS-004", Result.PASS, w, "spec.selector")
        assert "3 running pods in 3 zones (zone-a, zone-b, zone-c)" in f.message_en

    def test_pods_in_one_zone_fail(self):
        w = workload()
        f = check_running_zones(DEFAULT, w, live(w, ["zone-a", "zone-a", "zone-a"]))
        assert_finding(f, "ZS-004", Result.FAIL, w, "spec.selector")
        assert f.message_en == "Deployment shop/web has 3 running pods in 1 zone (zone-a); minZones is 2"
        assert f.message_fr == ("Le Deployment shop/web a 3 pods en cours d'exécution dans 1 zone (zone-a) ; "
                                "minZones vaut 2")

    def test_two_zones_against_min_three(self):
        w = workload()
        view = live(w, ["zone-a", "zone-b", "zone-b"])
        assert check_running_zones(DEFAULT, w, view).result is Result.PASS
        assert check_running_zones(spec(minZones=3), w, view).result is Result.FAIL

    def test_no_running_pods_fail(self):
        w = workload()
        f = check_running_zones(DEFAULT, w, cluster([w], nodes=three_zone_nodes(), pods=[]))
        assert f.result is Result.FAIL and "0 running pods in 0 zones (none)" in f.message_en

    def test_pending_pods_are_ignored(self):
        w = workload()
        pods = [*pods_in_zones(w, ["zone-a"]), pod("web-p", {"app": "web"}, "node-b1", phase="Pending"),
                pod("web-q", {"app": "web"}, None, phase="Pending")]
        f = check_running_zones(DEFAULT, w, cluster([w], nodes=three_zone_nodes(), pods=pods))
        assert f.result is Result.FAIL and "1 running pod in 1 zone (zone-a)" in f.message_en

    def test_running_phase_without_node_is_not_running(self):
        w = workload()
        pods = [*pods_in_zones(w, ["zone-a"]), pod("web-x", {"app": "web"}, None)]
        assert check_running_zones(DEFAULT, w, cluster([w], nodes=three_zone_nodes(), pods=pods)).result \
            is Result.FAIL

    def test_terminating_pods_are_ignored(self):
        w = workload()
        pods = [*pods_in_zones(w, ["zone-a"]), pod("web-t", {"app": "web"}, "node-b1", terminating=True)]
        view = cluster([w], nodes=three_zone_nodes(), pods=pods)
        assert check_running_zones(DEFAULT, w, view).result is Result.FAIL
        view.pods[-1] = pod("web-t", {"app": "web"}, "node-b1")
        assert check_running_zones(DEFAULT, w, view).result is Result.PASS

    def test_pods_of_other_workloads_are_ignored(self):
        w = workload()
        pods = [*pods_in_zones(w, ["zone-a"]), pod("api-0", {"app": "api"}, "node-b1")]
        assert check_running_zones(DEFAULT, w, cluster([w], nodes=three_zone_nodes(), pods=pods)).result \
            is Result.FAIL

    def test_pods_of_other_namespaces_are_ignored(self):
        w = workload()
        pods = [*pods_in_zones(w, ["zone-a"]), pod("web-9", {"app": "web"}, "node-b1", namespace="other")]
        assert check_running_zones(DEFAULT, w, cluster([w], nodes=three_zone_nodes(), pods=pods)).result \
            is Result.FAIL

    def test_pods_are_found_through_the_workload_selector(self):
        # The selector matches on app only: a pod with extra labels is still the workload's.
        w = workload(pod_labels={"app": "web", "tier": "front"}, selector={"matchLabels": {"app": "web"}})
        pods = [*pods_in_zones(w, ["zone-a"]), pod("web-x", {"app": "web"}, "node-b1")]
        assert check_running_zones(DEFAULT, w, cluster([w], nodes=three_zone_nodes(), pods=pods)).result \
            is Result.PASS

    def test_empty_workload_selector_selects_no_pods(self):
        w = workload(selector={})
        f = check_running_zones(DEFAULT, w, live(w))
        assert f.result is Result.FAIL and "spec.selector is empty" in f.message_en

    def test_nodes_without_zone_label_and_unknown_nodes_count_for_no_zone(self):
        w = workload()
        nodes = [node("node-a1", "zone-a"), node("bare-1"), node("bare-2", "zone-b", key="other/zone")]
        pods = [pod("web-0", {"app": "web"}, "node-a1"), pod("web-1", {"app": "web"}, "bare-1"),
                pod("web-2", {"app": "web"}, "bare-2"), pod("web-3", {"app": "web"}, "ghost")]
        f = check_running_zones(DEFAULT, w, cluster([w], nodes=nodes, pods=pods))
        assert f.result is Result.FAIL
        assert "4 running pods in 1 zone (zone-a)" in f.message_en
        assert ("3 running pods sit on nodes that are not observed or have no "
                "topology.kubernetes.io/zone label") in f.message_en
        assert "sans label topology.kubernetes.io/zone" in f.message_fr

    def test_custom_topology_key_reads_that_label(self):
        w = workload(spread=[tsc(key="example.com/room")])
        s = spec(topologyKey="example.com/room")
        nodes = [node("node-a1", "zone-a", labels={"example.com/room": "r1"}),
                 node("node-b1", "zone-b", labels={"example.com/room": "r1"})]
        view = cluster([w], nodes=nodes, pods=pods_in_zones(w, ["zone-a", "zone-b"]))
        f = check_running_zones(s, w, view)
        assert f.result is Result.FAIL and "1 zone (r1)" in f.message_en
        assert check_running_zones(DEFAULT, w, view).result is Result.PASS

    def test_statefulset(self):
        w = workload("db", kind="StatefulSet")
        f = check_running_zones(DEFAULT, w, live(w, ["zone-a", "zone-c"]))
        assert_finding(f, "ZS-004", Result.PASS, w)


# --------------------------------------------------------------------------------------------
# ZS-005


class TestDisruptionBudget:
    def test_skip_when_not_required(self):
        w = workload()
        f = check_disruption_budget(spec(requirePodDisruptionBudget=False), w, [])
        assert_finding(f, "ZS-005", Result.SKIP, w)
        assert "requirePodDisruptionBudget is false" in f.message_en

    def test_no_pdb_fails(self):
        w = workload()
        f = check_disruption_budget(DEFAULT, w, [])
        assert_finding(f, "ZS-005", Result.FAIL, w, "spec.template.metadata.labels")
        assert f.severity is Severity.MEDIUM
        assert "covered by no PodDisruptionBudget" in f.message_en and "(app=web)" in f.message_en
        assert "n'est couvert par aucun PodDisruptionBudget" in f.message_fr

    def test_pdb_selecting_other_pods_fails_and_is_named(self):
        w = workload()
        f = check_disruption_budget(DEFAULT, w, [pdb("api-pdb", {"app": "api"}, min_available=1)])
        assert f.result is Result.FAIL
        assert "1 PodDisruptionBudget in shop select other pods: api-pdb" in f.message_en

    def test_pdb_of_another_namespace_does_not_cover(self):
        w = workload()
        f = check_disruption_budget(DEFAULT, w, [pdb("web-pdb", min_available=1, namespace="other")])
        assert f.result is Result.FAIL and "api-pdb" not in f.message_en

    def test_pdb_without_selector_covers_nothing(self):
        w = workload()
        assert check_disruption_budget(DEFAULT, w, [pdb("p", selector=None, min_available=1)]).result \
            is Result.FAIL

    def test_pdb_with_empty_selector_covers_every_pod(self):
        w = workload()
        assert check_disruption_budget(DEFAULT, w, [pdb("p", selector={}, min_available=1)]).result \
            is Result.PASS

    @pytest.mark.parametrize(("budget", "result"), [
        ({"max_unavailable": "100%"}, Result.FAIL),
        ({"max_unavailable": "34%"}, Result.PASS),    # ceil(1.02) = 2 of 3
        ({"max_unavailable": "67%"}, Result.FAIL),    # ceil(2.01) = 3 of 3
        ({"max_unavailable": 1}, Result.PASS),
        ({"max_unavailable": 2}, Result.PASS),
        ({"max_unavailable": 3}, Result.FAIL),
        ({"max_unavailable": 5}, Result.FAIL),
        ({"max_unavailable": 0}, Result.PASS),
        ({"max_unavailable": "0%"}, Result.PASS),
        ({"min_available": 0}, Result.FAIL),
        ({"min_available": "0%"}, Result.FAIL),
        ({"min_available": "50%"}, Result.PASS),      # ceil(1.5) = 2 up, 1 down
        ({"min_available": "1%"}, Result.PASS),       # ceil(0.03) = 1 up
        ({"min_available": 1}, Result.PASS),
        ({"min_available": 3}, Result.PASS),
        ({"min_available": 4}, Result.PASS),
        ({"min_available": "2"}, Result.PASS),        # a numeric string counts as a number
        ({"max_unavailable": "3"}, Result.FAIL),
        ({}, Result.PASS),                            # neither: minAvailable 1
    ])
    def test_budgets_at_three_replicas(self, budget, result):
        w = workload(replicas=3)
        assert check_disruption_budget(DEFAULT, w, [pdb("web-pdb", **budget)]).result is result

    def test_allows_all_down_message(self):
        w = workload(replicas=3)
        f = check_disruption_budget(DEFAULT, w, [pdb("web-pdb", max_unavailable="100%")])
        assert_finding(f, "ZS-005", Result.FAIL, w, "spec.template.metadata.labels")
        assert ("PodDisruptionBudget shop/web-pdb (maxUnavailable 100%) allows 3 of 3 replicas down"
                in f.message_en)
        assert "autorise l'arrêt de 3 sur 3 réplicas" in f.message_fr

    def test_pass_message_names_the_budget(self):
        w = workload(replicas=3)
        f = check_disruption_budget(DEFAULT, w, [pdb("web-pdb", min_available="50%")])
        assert ("PodDisruptionBudget shop/web-pdb (minAvailable 50%): at most 1 of its 3 replicas"
                in f.message_en)
        assert "protégé par le PodDisruptionBudget shop/web-pdb" in f.message_fr

    def test_neither_field_means_min_available_one(self):
        f = check_disruption_budget(DEFAULT, workload(replicas=3), [pdb("web-pdb")])
        assert f.result is Result.PASS and "so minAvailable 1" in f.message_en
        # With a single replica minAvailable 1 allows no disruption: still one pod kept up.
        assert check_disruption_budget(DEFAULT, workload(replicas=1), [pdb("web-pdb")]).result is Result.PASS

    @pytest.mark.parametrize("budget", [{"min_available": "abc"}, {"max_unavailable": "50.5%"},
                                        {"max_unavailable": "150%"}, {"min_available": -1},
                                        {"min_available": True}, {"min_available": 1, "max_unavailable": 1},
                                        {"max_unavailable": 1.5}])
    def test_invalid_pdb_does_not_count(self, budget):
        w = workload(replicas=3)
        f = check_disruption_budget(DEFAULT, w, [pdb("bad-pdb", **budget)])
        assert f.result is Result.FAIL
        assert "PodDisruptionBudget shop/bad-pdb is invalid" in f.message_en
        assert "est invalide" in f.message_fr
        # A valid one next to it decides.
        ok = check_disruption_budget(DEFAULT, w, [pdb("bad-pdb", **budget), pdb("good-pdb", min_available=1)])
        assert ok.result is Result.PASS and "good-pdb" in ok.message_en

    def test_one_protecting_pdb_among_several_is_enough(self):
        w = workload(replicas=3)
        pdbs = [pdb("a-all", max_unavailable="100%"), pdb("b-keep", max_unavailable=1)]
        f = check_disruption_budget(DEFAULT, w, pdbs)
        assert f.result is Result.PASS and "b-keep" in f.message_en
        f = check_disruption_budget(DEFAULT, w, [pdbs[0], pdb("c-all", min_available=0)])
        assert f.result is Result.FAIL and "a-all" in f.message_en and "c-all" in f.message_en

    def test_zero_replicas_covered_passes(self):
        w = workload(replicas=0)
        f = check_disruption_budget(DEFAULT, w, [pdb("web-pdb", max_unavailable="100%")])
        assert_finding(f, "ZS-005", Result.PASS, w)
        assert "nothing to protect" in f.message_en and "rien à protéger" in f.message_fr

    def test_zero_replicas_covered_only_by_an_invalid_pdb_fails(self):
        f = check_disruption_budget(DEFAULT, workload(replicas=0), [pdb("bad-pdb", min_available="x")])
        assert f.result is Result.FAIL and "bad-pdb is invalid" in f.message_en

    def test_zero_replicas_uncovered_fails(self):
        assert check_disruption_budget(DEFAULT, workload(replicas=0), []).result is Result.FAIL

    def test_statefulset(self):
        w = workload("db", kind="StatefulSet")
        f = check_disruption_budget(DEFAULT, w, [pdb("db-pdb", {"app": "db"}, max_unavailable=1)])
        assert_finding(f, "ZS-005", Result.PASS, w)


@pytest.mark.parametrize(("budget", "replicas", "allowed"), [
    ({"max_unavailable": "34%"}, 3, 2),
    ({"max_unavailable": "100%"}, 3, 3),
    ({"max_unavailable": "10%"}, 10, 1),
    ({"max_unavailable": "11%"}, 10, 2),
    ({"max_unavailable": 7}, 3, 3),
    ({"min_available": "50%"}, 3, 1),
    ({"min_available": "50%"}, 4, 2),
    ({"min_available": 5}, 3, 0),
    ({"min_available": "3"}, 5, 2),
    ({}, 4, 3),
    ({}, 0, 0),
    ({"min_available": "x%"}, 3, None),
    ({"max_unavailable": "-1"}, 3, None),
    ({"max_unavailable": "101%"}, 3, None),
    ({"max_unavailable": None, "min_available": None}, 2, 1),
])
def test_pdb_allowed_disruptions(budget, replicas, allowed):
    assert pdb_allowed_disruptions(pdb("p", **budget), replicas) == allowed


# --------------------------------------------------------------------------------------------
# ZS-006


class TestZonePinning:
    def test_no_constraint_passes(self):
        w = workload()
        f = check_zone_pinning(DEFAULT, w, live(w))
        assert_finding(f, "ZS-006", Result.PASS, w)
        assert "not pinned" in f.message_en

    def test_node_selector_on_zone_fails(self):
        w = workload(node_selector={ZONE_LABEL: "zone-a"})
        f = check_zone_pinning(DEFAULT, w, cluster([w]))
        assert_finding(f, "ZS-006", Result.FAIL, w, "spec.template.spec.nodeSelector")
        assert f.severity is Severity.HIGH
        assert f.message_en == ("Deployment shop/web is pinned to 1 zone (zone-a) by nodeSelector "
                                "topology.kubernetes.io/zone=zone-a; minZones is 2")
        assert "est cantonné à 1 zone (zone-a)" in f.message_fr

    def test_node_selector_on_legacy_zone_key_fails(self):
        w = workload(node_selector={LEGACY_ZONE_LABEL: "zone-b"})
        f = check_zone_pinning(DEFAULT, w, cluster([w]))
        assert f.result is Result.FAIL and "(zone-b)" in f.message_en

    def test_node_selector_without_zone_and_without_nodes_passes(self):
        w = workload(node_selector={"disktype": "ssd"})
        f = check_zone_pinning(DEFAULT, w, cluster([w]))
        assert f.result is Result.PASS and "do not restrict topology.kubernetes.io/zone" in f.message_en

    @pytest.mark.parametrize(("values", "min_zones", "result"), [
        (["zone-a"], 2, Result.FAIL),
        (["zone-a", "zone-b"], 2, Result.PASS),
        (["zone-a", "zone-b"], 3, Result.FAIL),
    ])
    def test_node_affinity_in(self, values, min_zones, result):
        w = workload(affinity=node_affinity([expr(ZONE_LABEL, "In", *values)]))
        f = check_zone_pinning(spec(minZones=min_zones), w, cluster([w]))
        assert_finding(f, "ZS-006", result, w, "spec.template.spec.affinity.nodeAffinity")

    def test_node_affinity_not_in_uses_known_zones(self):
        w = workload(affinity=node_affinity([expr(ZONE_LABEL, "NotIn", "zone-a", "zone-b")]))
        f = check_zone_pinning(DEFAULT, w, cluster([w], nodes=three_zone_nodes()))
        assert f.result is Result.FAIL
        assert "pinned to 1 zone (zone-c) by required node affinity (zones zone-c)" in f.message_en
        one_out = workload(affinity=node_affinity([expr(ZONE_LABEL, "NotIn", "zone-a")]))
        assert check_zone_pinning(DEFAULT, one_out, cluster([one_out], nodes=three_zone_nodes())).result \
            is Result.PASS

    def test_node_affinity_not_in_without_known_zones_is_unconstrained(self):
        w = workload(affinity=node_affinity([expr(ZONE_LABEL, "NotIn", "zone-a", "zone-b")]))
        assert check_zone_pinning(DEFAULT, w, cluster([w])).result is Result.PASS

    def test_node_affinity_terms_are_ored(self):
        w = workload(affinity=node_affinity([expr(ZONE_LABEL, "In", "zone-a")],
                                            [expr(ZONE_LABEL, "In", "zone-b")]))
        assert check_zone_pinning(DEFAULT, w, cluster([w])).result is Result.PASS
        same = workload(affinity=node_affinity([expr(ZONE_LABEL, "In", "zone-a")],
                                               [expr(ZONE_LABEL, "In", "zone-a")]))
        assert check_zone_pinning(DEFAULT, same, cluster([same])).result is Result.FAIL

    def test_a_term_without_the_zone_key_is_unconstrained(self):
        w = workload(affinity=node_affinity([expr(ZONE_LABEL, "In", "zone-a")],
                                            [expr("disktype", "In", "ssd")]))
        assert check_zone_pinning(DEFAULT, w, cluster([w])).result is Result.PASS

    def test_expressions_within_a_term_are_anded(self):
        w = workload(affinity=node_affinity([expr(ZONE_LABEL, "In", "zone-a", "zone-b"),
                                             expr(ZONE_LABEL, "NotIn", "zone-b")]))
        f = check_zone_pinning(DEFAULT, w, cluster([w], nodes=three_zone_nodes()))
        assert f.result is Result.FAIL and "1 zone (zone-a)" in f.message_en

    def test_exists_is_unconstrained_and_does_not_exist_pins_to_no_zone(self):
        exists = workload(affinity=node_affinity([expr(ZONE_LABEL, "Exists")]))
        assert check_zone_pinning(DEFAULT, exists, cluster([exists])).result is Result.PASS
        absent = workload(affinity=node_affinity([expr(ZONE_LABEL, "DoesNotExist")]))
        f = check_zone_pinning(DEFAULT, absent, cluster([absent]))
        assert f.result is Result.FAIL and "0 zones (none)" in f.message_en

    def test_empty_node_selector_terms_match_no_node(self):
        # An empty term admits no node: only the other terms decide.
        w = workload(affinity=node_affinity([], [expr(ZONE_LABEL, "In", "zone-a")]))
        f = check_zone_pinning(DEFAULT, w, cluster([w]))
        assert f.result is Result.FAIL and "1 zone (zone-a)" in f.message_en
        only_empty = workload(affinity=node_affinity([]))
        f = check_zone_pinning(DEFAULT, only_empty, cluster([only_empty]))
        assert f.result is Result.FAIL and "0 zones (none)" in f.message_en

    def test_preferred_node_affinity_does_not_pin(self):
        affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "preference": {"matchExpressions": [expr(ZONE_LABEL, "In", "zone-a")]}}]}}
        w = workload(affinity=affinity)
        assert check_zone_pinning(DEFAULT, w, live(w)).result is Result.PASS

    def test_node_selector_and_node_affinity_are_anded(self):
        w = workload(node_selector={ZONE_LABEL: "zone-a"},
                     affinity=node_affinity([expr(ZONE_LABEL, "In", "zone-a", "zone-b")]))
        f = check_zone_pinning(DEFAULT, w, cluster([w]))
        assert f.result is Result.FAIL
        assert "nodeSelector topology.kubernetes.io/zone=zone-a and required node affinity" in f.message_en

    def test_node_name_on_a_known_node_pins_to_its_zone(self):
        w = workload(node_name="node-b1")
        f = check_zone_pinning(DEFAULT, w, cluster([w], nodes=three_zone_nodes()))
        assert_finding(f, "ZS-006", Result.FAIL, w, "spec.template.spec.nodeName")
        assert "nodeName node-b1 (a node in zone zone-b)" in f.message_en
        assert "le nodeName node-b1 (un nœud dans la zone zone-b)" in f.message_fr

    def test_node_name_on_an_unknown_node_without_live_nodes_passes(self):
        w = workload(node_name="node-b1")
        assert check_zone_pinning(DEFAULT, w, cluster([w])).result is Result.PASS

    def test_node_name_not_among_the_observed_nodes_fails(self):
        w = workload(node_name="ghost")
        f = check_zone_pinning(DEFAULT, w, cluster([w], nodes=three_zone_nodes()))
        assert f.result is Result.FAIL and "0 of 6 observed nodes" in f.message_en

    def test_hostname_node_selector_with_known_nodes_fails(self):
        w = workload(node_selector={HOSTNAME: "node-a1"})
        f = check_zone_pinning(DEFAULT, w, cluster([w], nodes=three_zone_nodes()))
        assert_finding(f, "ZS-006", Result.FAIL, w, "spec.template.spec.nodeSelector")
        assert "admit only nodes in 1 zone (zone-a), 1 of 6 observed nodes" in f.message_en
        assert "n'admettent que des nœuds de 1 zone (zone-a)" in f.message_fr

    def test_hostname_node_selector_without_nodes_is_not_judged_implicitly(self):
        w = workload(node_selector={HOSTNAME: "node-a1"})
        assert check_zone_pinning(DEFAULT, w, cluster([w])).result is Result.PASS

    def test_label_available_in_one_zone_only_fails(self):
        nodes = [*three_zone_nodes(), node("ssd-a", "zone-a", labels={"disktype": "ssd"})]
        w = workload(node_selector={"disktype": "ssd"})
        f = check_zone_pinning(DEFAULT, w, cluster([w], nodes=nodes))
        assert f.result is Result.FAIL and "(zone-a)" in f.message_en
        nodes.append(node("ssd-b", "zone-b", labels={"disktype": "ssd"}))
        f = check_zone_pinning(DEFAULT, w, cluster([w], nodes=nodes))
        assert f.result is Result.PASS and "2 zones (zone-a, zone-b), 2 of 8 observed nodes" in f.message_en

    def test_node_affinity_on_hostnames_spanning_zones(self):
        w = workload(affinity=node_affinity([expr(HOSTNAME, "In", "node-a1", "node-b1")]))
        assert check_zone_pinning(DEFAULT, w, cluster([w], nodes=three_zone_nodes())).result is Result.PASS
        w2 = workload(affinity=node_affinity([expr(HOSTNAME, "In", "node-a1", "node-a2")]))
        assert check_zone_pinning(DEFAULT, w2, cluster([w2], nodes=three_zone_nodes())).result is Result.FAIL

    def test_admitted_nodes_without_zone_label_count_for_no_zone(self):
        gpu = {"gpu": "yes"}
        nodes = [node("gpu-1", labels=gpu), node("gpu-2", labels=gpu), node("gpu-a", "zone-a", labels=gpu)]
        w = workload(node_selector={"gpu": "yes"})
        f = check_zone_pinning(DEFAULT, w, cluster([w], nodes=nodes))
        assert f.result is Result.FAIL and "1 zone (zone-a), 3 of 3 observed nodes" in f.message_en

    def test_statefulset(self):
        w = workload("db", kind="StatefulSet", node_selector={ZONE_LABEL: "zone-c"})
        assert_finding(check_zone_pinning(DEFAULT, w, cluster([w])), "ZS-006", Result.FAIL, w)


# --------------------------------------------------------------------------------------------
# evaluate


def good(name: str = "web", kind: str = "Deployment", **kw: Any) -> Workload:
    return workload(name, kind=kind, **kw)


def full_view(*workloads: Workload, zones: tuple[str, ...] | list[str] = ZONES,
              with_pdbs: bool = True) -> ClusterView:
    pods = [p for w in workloads for p in pods_in_zones(w, list(zones))]
    pdbs = [pdb(f"{w.name}-pdb", dict(w.template.labels), max_unavailable=1, namespace=w.namespace)
            for w in workloads] if with_pdbs else []
    return cluster(list(workloads), nodes=three_zone_nodes(), pods=pods, pdbs=pdbs)


RULE_IDS = ["ZS-001", "ZS-002", "ZS-003", "ZS-004", "ZS-005", "ZS-006"]


class TestEvaluate:
    def test_compliant_workloads(self):
        web, db = good("web"), good("db", kind="StatefulSet")
        ev = evaluate(DEFAULT, NS, full_view(web, db))
        assert [(f.resource.name, f.rule.id) for f in ev.findings] == \
            [("db", r) for r in RULE_IDS] + [("web", r) for r in RULE_IDS]
        assert {f.result for f in ev.findings} == {Result.PASS}
        assert [a.workload.name for a in ev.assessments] == ["db", "web"]
        assert [(a.spread_declared, a.spread_hard, a.needs_spread_constraint) for a in ev.assessments] == \
            [(True, True, False), (True, True, False)]
        assert ev.assessments[1].zones == frozenset(ZONES)
        assert ev.observed_zones == frozenset(ZONES)
        assert ev.sla_eligible is True

    def test_offline_input_is_never_sla_eligible(self):
        web = good("web")
        ev = evaluate(DEFAULT, NS, cluster([web], pdbs=[pdb("web-pdb", max_unavailable=1)]))
        results = {f.rule.id: f.result for f in ev.findings}
        assert results == {"ZS-001": Result.PASS, "ZS-002": Result.PASS, "ZS-003": Result.PASS,
                           "ZS-004": Result.SKIP, "ZS-005": Result.PASS, "ZS-006": Result.PASS}
        assert ev.sla_eligible is False
        assert ev.observed_zones == frozenset() and ev.assessments[0].zones == frozenset()

    def test_no_workload_is_not_sla_eligible(self):
        ev = evaluate(DEFAULT, NS, cluster([], nodes=three_zone_nodes(), pods=[]))
        assert ev.findings == [] and ev.assessments == [] and ev.sla_eligible is False

    def test_one_zone_placement_breaks_eligibility(self):
        web, api = good("web"), good("api")
        view = full_view(web)
        view.workloads.append(api)
        view.pods += pods_in_zones(api, ["zone-b", "zone-b"])
        ev = evaluate(DEFAULT, NS, view)
        assert ev.sla_eligible is False
        assert [a.zones for a in ev.assessments] == [frozenset({"zone-b"}), frozenset(ZONES)]
        assert ev.observed_zones == frozenset(ZONES)
        failed = [(f.resource.name, f.rule.id) for f in ev.findings if f.result is Result.FAIL]
        assert failed == [("api", "ZS-004"), ("api", "ZS-005")]

    def test_soft_spread_breaks_eligibility_even_when_accepted(self):
        w = good(spread=[tsc(hard=False)])
        ev = evaluate(spec(requireHardSpread=False), NS, full_view(w))
        assert all(f.result is Result.PASS for f in ev.findings)
        a = ev.assessments[0]
        assert (a.spread_declared, a.spread_hard, a.needs_spread_constraint) == (True, False, False)
        assert ev.sla_eligible is False

    def test_needs_spread_constraint(self):
        soft, none, hard = good("soft", spread=[tsc({"app": "soft"}, hard=False)]), good("none", spread=[]), \
            good()
        view = full_view(soft, none, hard)
        by_name = {a.workload.name: a for a in evaluate(DEFAULT, NS, view).assessments}
        assert {n: a.needs_spread_constraint for n, a in by_name.items()} == \
            {"soft": True, "none": True, "web": False}
        assert (by_name["none"].spread_declared, by_name["none"].spread_hard) == (False, False)
        relaxed = {a.workload.name: a.needs_spread_constraint
                   for a in evaluate(spec(requireHardSpread=False), NS, view).assessments}
        assert relaxed == {"soft": False, "none": True, "web": False}

    def test_selection_by_spec_selector(self):
        web = good("web", labels={"app": "web", "tier": "front"})
        api = good("api", labels={"app": "api", "tier": "back"})
        view = full_view(web, api)
        names = lambda s: [a.workload.name for a in evaluate(s, NS, view).assessments]  # noqa: E731
        assert names(DEFAULT) == ["api", "web"]
        assert names(spec(selector={})) == ["api", "web"]
        assert names(spec(selector={"matchLabels": {"tier": "front"}})) == ["web"]
        assert names(spec(selector={"matchExpressions": [{"key": "tier", "operator": "NotIn",
                                                          "values": ["front"]}]})) == ["api"]
        assert names(spec(selector={"matchLabels": {"tier": "none"}})) == []
        assert evaluate(spec(selector={"matchLabels": {"tier": "none"}}), NS, view).sla_eligible is False

    def test_selector_uses_workload_labels_not_pod_labels(self):
        w = good("web", labels={"team": "a"}, pod_labels={"app": "web"})
        view = full_view(w)
        assert len(evaluate(spec(selector={"matchLabels": {"team": "a"}}), NS, view).assessments) == 1
        assert evaluate(spec(selector={"matchLabels": {"app": "web"}}), NS, view).assessments == []

    def test_only_the_namespace_and_workload_kinds(self):
        here, there = good("web"), good("web", namespace="other")
        # Built as a Deployment body would be (replicas set): only the kind says it is not one.
        daemon = Workload.from_obj(kind="DaemonSet", obj={"metadata": {"name": "agent", "namespace": NS},
                                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "agent"}}}})
        ev = evaluate(DEFAULT, NS, full_view(here, there, daemon))
        assert [(a.workload.namespace, a.workload.name) for a in ev.assessments] == [(NS, "web")]
        assert {f.resource.namespace for f in ev.findings} == {NS}

    def test_pdbs_of_other_namespaces_are_not_used(self):
        w = good("web")
        view = full_view(w, with_pdbs=False)
        view.pdbs.append(pdb("web-pdb", max_unavailable=1, namespace="other"))
        results = {f.rule.id: f.result for f in evaluate(DEFAULT, NS, view).findings}
        assert results["ZS-005"] is Result.FAIL

    def test_deterministic_order(self):
        kinds = [("b", "Deployment"), ("a", "StatefulSet"), ("c", "Deployment"), ("a", "Deployment")]
        workloads = [good(n, kind=k) for n, k in kinds]
        view = full_view(*workloads)
        first = evaluate(DEFAULT, NS, view)
        rng = random.Random(7)
        for _ in range(5):
            rng.shuffle(view.workloads)
            rng.shuffle(view.pods)
            rng.shuffle(view.pdbs)
            again = evaluate(DEFAULT, NS, view)
            assert again.findings == first.findings
            assert again.assessments == first.assessments

    def test_every_message_names_the_workload_in_both_languages(self):
        bad = good("bad", replicas=1, spread=[tsc({"app": "x"})], node_selector={ZONE_LABEL: "zone-a"})
        soft = good("soft", kind="StatefulSet", spread=[tsc({"app": "soft"}, hard=False)])
        view = full_view(bad, soft, zones=["zone-a"], with_pdbs=False)
        ev = evaluate(DEFAULT, NS, view)
        assert len(ev.findings) == 12
        for f in ev.findings:
            w = f.resource
            assert f.message_en and f.message_fr and f.message_en != f.message_fr
            for text in (f.message_en, f.message_fr):
                assert f"{w.kind} {NS}/{w.name}" in text
            if f.result is Result.FAIL:
                assert f.field.startswith("spec.")
        failed = {(f.resource.name, f.rule.id) for f in ev.findings if f.result is Result.FAIL}
        assert failed == {("bad", "ZS-001"), ("bad", "ZS-002"), ("bad", "ZS-004"), ("bad", "ZS-005"),
                          ("bad", "ZS-006"), ("soft", "ZS-003"), ("soft", "ZS-004"), ("soft", "ZS-005")}
        skipped = {(f.resource.name, f.rule.id) for f in ev.findings if f.result is Result.SKIP}
        assert skipped == {("bad", "ZS-003")}

    def test_spread_keys(self):
        assert zs.spread_keys(DEFAULT) == (ZONE_LABEL, LEGACY_ZONE_LABEL)
        assert zs.spread_keys(spec(topologyKey="example.com/room")) == ("example.com/room",)
