"""Location rules LOC-001 and LOC-002, each decided bullet both ways.

Pods, Nodes, PersistentVolumes and claims are built as Kubernetes dicts and projected through
the same `from_obj` functions the operator and the offline check use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sncguard import REGION_LABEL
from sncguard.api.tenantpolicy import TenantPolicySpec
from sncguard.findings import Finding, Result, Severity
from sncguard.rules import location
from sncguard.rules.location import (
    NODES_SHOWN,
    check_pod_regions,
    check_volume_regions,
    evaluate_location,
    tenant_volumes,
    volume_regions,
)
from sncguard.view import ClusterView, Node, PersistentVolume, PersistentVolumeClaim, Pod

EU = "eu-fr-paris"
US = "us-east-1"
ALLOWED = [EU]
TENANT = ["shop", "shop-db"]
POLICY = "acme"


# --------------------------------------------------------------------------------------------
# Builders


def spec(**fields: Any) -> TenantPolicySpec:
    base: dict[str, Any] = {"tenant": "acme", "namespaceSelector": {"matchLabels": {"sncguard.io/tenant": "acme"}}}
    return TenantPolicySpec.model_validate({**base, **fields})


def node(name: str, region: str | None, **labels: str) -> Node:
    all_labels = dict(labels)
    if region is not None:
        all_labels[REGION_LABEL] = region
    return Node.from_obj({"kind": "Node", "metadata": {"name": name, "labels": all_labels}})


def pod(name: str, namespace: str = "shop", node_name: str | None = None, *, phase: str | None = None,
        node_selector: dict | None = None, affinity: dict | None = None, terminating: bool = False) -> Pod:
    spec_: dict[str, Any] = {"containers": [{"name": "c", "image": "x"}]}
    if node_name:
        spec_["nodeName"] = node_name
    if node_selector:
        spec_["nodeSelector"] = node_selector
    if affinity:
        spec_["affinity"] = affinity
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if terminating:
        meta["deletionTimestamp"] = "2026-06-01T00:00:00Z"
    return Pod.from_obj({"kind": "Pod", "metadata": meta, "spec": spec_,
                         "status": {"phase": phase or ("Running" if node_name else "Pending")}})


def required(*expressions: dict) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": list(expressions)}]}}}


def region_in(*values: str) -> dict:
    return {"key": REGION_LABEL, "operator": "In", "values": list(values)}


def nodes(*items: Node) -> dict[str, Node]:
    return {n.name: n for n in items}


NODES = (node("eu-1", EU), node("eu-2", EU), node("us-1", US))


def live(*pods: Pod, node_list: tuple[Node, ...] = NODES) -> ClusterView:
    return ClusterView(pods=list(pods), nodes=nodes(*node_list), pods_observed=True, nodes_observed=True)


def loc1(v: ClusterView, allowed: list[str] = ALLOWED, tenant: list[str] = TENANT) -> list[Finding]:
    return check_pod_regions(allowed, tenant, v)


def results(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.result.value, f.resource.kind, f.resource.name) for f in findings]


def pv(name: str, claim: tuple[str, str] | None = None, region: str | None = None,
       affinity_terms: list[list[dict]] | None = None) -> PersistentVolume:
    labels = {REGION_LABEL: region} if region else {}
    spec_: dict[str, Any] = {"capacity": {"storage": "1Gi"}}
    if claim:
        spec_["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": claim[0], "name": claim[1]}
    if affinity_terms is not None:
        spec_["nodeAffinity"] = {"required": {"nodeSelectorTerms": [
            {"matchExpressions": t} for t in affinity_terms]}}
    return PersistentVolume.from_obj({"kind": "PersistentVolume", "metadata": {"name": name, "labels": labels},
                                      "spec": spec_})


def pvc(name: str, namespace: str, volume: str = "") -> PersistentVolumeClaim:
    return PersistentVolumeClaim.from_obj({"kind": "PersistentVolumeClaim",
                                           "metadata": {"name": name, "namespace": namespace},
                                           "spec": {"volumeName": volume} if volume else {}})


def volumes(*items: PersistentVolume | PersistentVolumeClaim) -> ClusterView:
    return ClusterView(persistent_volumes={p.name: p for p in items if isinstance(p, PersistentVolume)},
                       persistent_volume_claims=[c for c in items if isinstance(c, PersistentVolumeClaim)])


def loc2(v: ClusterView, allowed: list[str] = ALLOWED) -> list[Finding]:
    return check_volume_regions(allowed, TENANT, v)


# --------------------------------------------------------------------------------------------
# No allowed region: skip


@pytest.mark.parametrize("regions", [None, []])
def test_no_allowed_regions_skips_each_rule_once_on_the_policy(regions):
    s = spec() if regions is None else spec(allowedRegions=regions)
    findings = evaluate_location(s, POLICY, TENANT, live(pod("web", "shop", "us-1")))
    assert [(f.rule_id, f.result) for f in findings] == [("LOC-001", Result.SKIP), ("LOC-002", Result.SKIP)]
    for f in findings:
        assert (f.resource.kind, f.resource.namespace, f.resource.name) == ("TenantPolicy", "", POLICY)
        assert f.field == "spec.allowedRegions"
        assert POLICY in f.message_en and "non évaluée" in f.message_fr


def test_allowed_regions_set_judges_both_rules():
    v = live(pod("web", "shop", "us-1"))
    v.persistent_volumes = {"pv-1": pv("pv-1", ("shop", "data"), US)}
    findings = evaluate_location(spec(allowedRegions=[EU]), POLICY, TENANT, v)
    assert sorted((f.rule_id, f.result.value) for f in findings) == [
        ("LOC-001", "fail"), ("LOC-001", "pass"), ("LOC-002", "fail")]
    for f in findings:
        assert f.severity is Severity.CRITICAL


# --------------------------------------------------------------------------------------------
# LOC-001: running pods


def test_pods_on_allowed_nodes_pass_per_namespace():
    findings = loc1(live(pod("a", "shop", "eu-1"), pod("b", "shop", "eu-2"), pod("c", "shop-db", "eu-1")))
    assert results(findings) == [("pass", "Namespace", "shop"), ("pass", "Namespace", "shop-db")]
    assert "2 pod(s)" in findings[0].message_en and EU in findings[0].message_en
    assert "régions autorisées" in findings[0].message_fr


def test_pod_on_a_node_outside_the_allowed_regions_fails():
    findings = loc1(live(pod("a", "shop", "eu-1"), pod("api", "shop", "us-1")))
    assert results(findings) == [("fail", "Pod", "api"), ("pass", "Namespace", "shop-db")]
    f = findings[0]
    assert f.rule_id == "LOC-001" and f.severity is Severity.CRITICAL and f.field == "spec.nodeName"
    assert (f.resource.namespace, f.resource.api_version) == ("shop", "v1")
    assert "Pod shop/api" in f.message_en and "us-1" in f.message_en and US in f.message_en
    assert "ne fait pas partie des régions autorisées" in f.message_fr and "Le Pod shop/api" in f.message_fr


def test_pod_on_a_node_without_region_label_fails_as_unknown():
    findings = loc1(live(pod("a", "shop", "bare"), node_list=(*NODES, node("bare", None))), tenant=["shop"])
    assert results(findings) == [("fail", "Pod", "a")]
    assert "no topology.kubernetes.io/region label" in findings[0].message_en
    assert "cannot be proven" in findings[0].message_en and "région inconnue" in findings[0].message_fr


def test_pod_on_an_unobserved_node_warns():
    findings = loc1(live(pod("a", "shop", "ghost")), tenant=["shop"])
    assert results(findings) == [("warn", "Pod", "a")]
    assert "not observed" in findings[0].message_en and "n'est pas observé" in findings[0].message_fr
    assert findings[0].field == "spec.nodeName"


def test_several_allowed_regions():
    v = live(pod("a", "shop", "us-1"))
    assert results(loc1(v, allowed=[EU, US], tenant=["shop"])) == [("pass", "Namespace", "shop")]


def test_pods_outside_the_tenant_are_not_judged():
    assert results(loc1(live(pod("a", "other", "us-1")))) == [
        ("pass", "Namespace", "shop"), ("pass", "Namespace", "shop-db")]


def test_terminal_and_terminating_pods_still_count_where_they_ran():
    findings = loc1(live(pod("job", "shop", "us-1", phase="Succeeded"),
                         pod("old", "shop", "us-1", terminating=True)), tenant=["shop"])
    assert results(findings) == [("fail", "Pod", "job"), ("fail", "Pod", "old")]


def test_empty_tenant_namespace_passes():
    assert results(loc1(live(), tenant=["shop"])) == [("pass", "Namespace", "shop")]


@pytest.mark.parametrize("pods_observed,nodes_observed", [(False, True), (True, False), (False, False)])
def test_without_live_pods_and_nodes_loc001_skips_per_namespace(pods_observed, nodes_observed):
    v = ClusterView(pods=[pod("a", "shop", "us-1")], nodes=nodes(*NODES), pods_observed=pods_observed,
                    nodes_observed=nodes_observed)
    findings = loc1(v)
    assert results(findings) == [("skip", "Namespace", "shop"), ("skip", "Namespace", "shop-db")]
    assert "not judged" in findings[0].message_en and "non évalué" in findings[0].message_fr


# --------------------------------------------------------------------------------------------
# LOC-001: pending pods


def test_pending_pod_without_constraints_warns_when_a_node_lies_outside():
    findings = loc1(live(pod("p", "shop")), tenant=["shop"])
    assert results(findings) == [("warn", "Pod", "p")]
    f = findings[0]
    assert f.field == "spec.nodeSelector"
    assert "us-1 (region us-east-1)" in f.message_en and "eu-1" not in f.message_en
    assert "cannot be proven" not in f.message_en  # every node admitted has a region
    assert "Le Pod en attente shop/p" in f.message_fr and "us-1 (région us-east-1)" in f.message_fr


def test_pending_pod_pinned_by_node_selector_to_the_allowed_region_passes():
    findings = loc1(live(pod("p", "shop", node_selector={REGION_LABEL: EU})), tenant=["shop"])
    assert results(findings) == [("pass", "Namespace", "shop")]
    assert "1 pending pod(s)" in findings[0].message_en


def test_pending_pod_pinned_by_node_selector_elsewhere_warns():
    findings = loc1(live(pod("p", "shop", node_selector={REGION_LABEL: US})), tenant=["shop"])
    assert results(findings) == [("warn", "Pod", "p")]
    assert f"nodeSelector {REGION_LABEL}={US}" in findings[0].message_en


def test_pending_pod_pinned_by_required_affinity_passes_and_field_names_affinity():
    ok = loc1(live(pod("p", "shop", affinity=required(region_in(EU)))), tenant=["shop"])
    assert results(ok) == [("pass", "Namespace", "shop")]
    bad = loc1(live(pod("p", "shop", affinity=required(region_in(EU, US)))), tenant=["shop"])
    assert results(bad) == [("warn", "Pod", "p")]
    assert bad[0].field == "spec.affinity.nodeAffinity" and "node affinity" in bad[0].message_en


def test_pending_pod_admitting_a_node_without_region_warns():
    v = live(pod("p", "shop", node_selector={"disk": "ssd"}),
             node_list=(node("eu-1", EU, disk="ssd"), node("bare", None, disk="ssd"), node("us-1", US)))
    findings = loc1(v, tenant=["shop"])
    assert results(findings) == [("warn", "Pod", "p")]
    assert "bare (no topology.kubernetes.io/region label)" in findings[0].message_en
    assert "cannot be proven" in findings[0].message_en and "ne peut pas être prouvé" in findings[0].message_fr
    assert "us-1" not in findings[0].message_en  # the selector excludes it


def test_pending_pod_when_only_allowed_nodes_exist_passes():
    v = live(pod("p", "shop"), node_list=(node("eu-1", EU), node("eu-2", EU)))
    assert results(loc1(v, tenant=["shop"])) == [("pass", "Namespace", "shop")]


def test_unschedulable_terminating_or_finished_pods_without_node_are_not_pending():
    v = live(pod("gone", "shop", terminating=True), pod("failed", "shop", phase="Failed"))
    assert results(loc1(v, tenant=["shop"])) == [("pass", "Namespace", "shop")]


def test_warning_names_a_few_nodes_and_counts_the_rest():
    many = tuple(node(f"us-{i:02d}", US) for i in range(NODES_SHOWN + 3))
    findings = loc1(live(pod("p", "shop"), node_list=many), tenant=["shop"])
    assert f"{NODES_SHOWN + 3} node(s)" in findings[0].message_en
    assert "and 3 more" in findings[0].message_en and "et 3 autre(s)" in findings[0].message_fr
    assert f"us-{NODES_SHOWN:02d}" not in findings[0].message_en


# --------------------------------------------------------------------------------------------
# LOC-002


def test_volume_in_an_allowed_region_passes():
    findings = loc2(volumes(pv("pv-1", ("shop", "data"), EU)))
    assert results(findings) == [("pass", "PersistentVolume", "pv-1")]
    f = findings[0]
    assert f.rule_id == "LOC-002" and f.field == f"metadata.labels[{REGION_LABEL}]"
    assert "shop/data" in f.message_en and "qui est autorisée" in f.message_fr


def test_volume_in_another_region_fails():
    findings = loc2(volumes(pv("pv-1", ("shop", "data"), US)))
    assert results(findings) == [("fail", "PersistentVolume", "pv-1")]
    f = findings[0]
    assert f.severity is Severity.CRITICAL and (f.resource.namespace, f.resource.api_version) == ("", "v1")
    assert "PersistentVolume pv-1" in f.message_en and US in f.message_en and "shop/data" in f.message_en
    assert "ne fait pas partie des régions autorisées" in f.message_fr


def test_volume_without_region_fails_as_unknown():
    findings = loc2(volumes(pv("pv-1", ("shop", "data"))))
    assert results(findings) == [("fail", "PersistentVolume", "pv-1")]
    assert "unknown" in findings[0].message_en and "inconnue" in findings[0].message_fr


def test_region_falls_back_to_required_node_affinity():
    ok = loc2(volumes(pv("pv-1", ("shop", "data"), affinity_terms=[[region_in(EU)]])))
    assert results(ok) == [("pass", "PersistentVolume", "pv-1")]
    assert ok[0].field == "spec.nodeAffinity.required" and "node affinity" in ok[0].message_en
    bad = loc2(volumes(pv("pv-1", ("shop", "data"), affinity_terms=[[region_in(US)]])))
    assert results(bad) == [("fail", "PersistentVolume", "pv-1")]
    assert bad[0].field == "spec.nodeAffinity.required"


def test_label_wins_over_affinity():
    v = volumes(pv("pv-1", ("shop", "data"), US, affinity_terms=[[region_in(EU)]]))
    assert results(loc2(v)) == [("fail", "PersistentVolume", "pv-1")]


@pytest.mark.parametrize("terms", [
    [[{"key": REGION_LABEL, "operator": "NotIn", "values": [US]}]],
    [[{"key": REGION_LABEL, "operator": "Exists"}]],
    [[{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-fr-paris-a"]}]],
    [[region_in(EU)], [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]],
    [],
], ids=["not-in", "exists", "zone-only", "one-term-unpinned", "no-terms"])
def test_affinity_that_does_not_pin_the_region_leaves_it_unknown(terms):
    p = pv("pv-1", ("shop", "data"), affinity_terms=terms)
    assert volume_regions(p)[0] is None
    assert results(loc2(volumes(p))) == [("fail", "PersistentVolume", "pv-1")]


def test_affinity_terms_are_ored_and_pass_only_when_every_region_is_allowed():
    p = pv("pv-1", ("shop", "data"), affinity_terms=[[region_in(EU)], [region_in("eu-de-frankfurt")]])
    assert volume_regions(p)[0] == frozenset({EU, "eu-de-frankfurt"})
    assert results(loc2(volumes(p), allowed=[EU, "eu-de-frankfurt"])) == [("pass", "PersistentVolume", "pv-1")]
    findings = loc2(volumes(p))
    assert results(findings) == [("fail", "PersistentVolume", "pv-1")]
    assert "eu-de-frankfurt is not one of the allowed regions" in findings[0].message_en


def test_expressions_within_a_term_intersect():
    p = pv("pv-1", ("shop", "data"), affinity_terms=[[region_in(EU, US), region_in(EU)]])
    assert volume_regions(p)[0] == frozenset({EU})
    contradictory = pv("pv-2", ("shop", "data"), affinity_terms=[[region_in(US), region_in(EU)]])
    assert volume_regions(contradictory)[0] is None


def test_volume_found_through_the_claims_volume_name():
    v = volumes(pv("pv-1", None, US), pvc("data", "shop-db", "pv-1"))
    findings = loc2(v)
    assert results(findings) == [("fail", "PersistentVolume", "pv-1")]
    assert "shop-db/data" in findings[0].message_en


def test_volumes_of_other_namespaces_are_not_judged():
    v = volumes(pv("pv-1", ("other", "data"), US), pv("pv-2", None, US), pvc("data", "other", "pv-2"))
    assert loc2(v) == []


def test_claim_without_volume_is_not_judged_and_claim_to_unobserved_volume_skips():
    v = volumes(pvc("pending", "shop"), pvc("data", "shop", "pv-gone"))
    findings = loc2(v)
    assert results(findings) == [("skip", "PersistentVolumeClaim", "data")]
    assert findings[0].field == "spec.volumeName" and "pv-gone" in findings[0].message_en


def test_tenant_volumes_dedupes_and_sorts():
    v = volumes(pv("b", ("shop", "x"), EU), pv("a", ("shop", "y"), EU), pvc("x", "shop", "b"))
    found, missing = tenant_volumes(TENANT, v)
    assert [(p.name, claim) for p, claim in found] == [("a", "shop/y"), ("b", "shop/x")]
    assert missing == []


def test_module_reads_no_clock():
    source = Path(location.__file__).read_text(encoding="utf-8")
    # `now` is a parameter of every rule (registry.Rule); none of the LOC rules reads it, nor a clock.
    assert ".now(" not in source and "today(" not in source and "time.time" not in source
