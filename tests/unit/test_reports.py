"""PolicyReports: where each policy reports, owned, bounded, and stable when nothing changes."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from texts import Said

from sncguard.findings import ResourceRef, Result, finding
from sncguard.reports import build_reports, policy_label_value, same_content
from sncguard.rules.catalogue import rule

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def f(rule_id, result, ns="shop", name="web", kind="Deployment"):
    out = finding(rule(rule_id), result, ResourceRef(kind, ns, name, "apps/v1", "uid-1"),
                  Said(f"{name} {rule_id}", f"{name} {rule_id} fr"), "spec.replicas")
    return replace(out, policy=f"ZoneSpread/{ns}/sla")


def test_namespaced_results_and_cluster_results_split():
    findings = [f("NET-003", Result.FAIL, ns="a", name="svc", kind="Service"),
                f("NET-001", Result.PASS, ns="", name="a", kind="Namespace")]
    reports = build_reports("TenantPolicy", "", "acme", "tp-uid", findings, NOW, {})
    kinds = {(r["kind"], r["metadata"].get("namespace")) for r in reports}
    assert kinds == {("PolicyReport", "a"), ("ClusterPolicyReport", None)}
    for r in reports:
        (owner,) = r["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("TenantPolicy", "acme", "tp-uid")
        assert r["metadata"]["labels"]["sncguard.io/policy"] == "tenantpolicy.acme"
        assert r["metadata"]["name"] == "sncguard-tenantpolicy-acme"


def test_result_fields_follow_the_policy_report_format():
    (report,) = build_reports("ZoneSpread", "shop", "sla", "u", [f("ZS-001", Result.FAIL)], NOW, {})
    (result,) = report["results"]
    assert result["policy"] == "ZoneSpread/shop/sla" and result["rule"] == "ZS-001"
    assert (result["result"], result["severity"], result["category"]) == ("fail", "high", "R1, R4")
    assert result["resources"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                    "namespace": "shop", "uid": "uid-1"}]
    assert result["timestamp"] == {"seconds": int(NOW.timestamp()), "nanos": 0}
    assert result["properties"] == {"field": "spec.replicas"}
    assert report["summary"] == {"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0}


def test_unchanged_results_keep_their_time_so_the_report_is_unchanged():
    findings = [f("ZS-001", Result.FAIL), f("ZS-002", Result.PASS)]
    (first,) = build_reports("ZoneSpread", "shop", "sla", "u", findings, NOW, {})
    previous = {("PolicyReport", "shop"): first}
    (again,) = build_reports("ZoneSpread", "shop", "sla", "u", findings, NOW + timedelta(hours=1), previous)
    assert same_content(again, first)
    changed = [f("ZS-001", Result.PASS), f("ZS-002", Result.PASS)]
    (moved,) = build_reports("ZoneSpread", "shop", "sla", "u", changed, NOW + timedelta(hours=1), previous)
    assert not same_content(moved, first)
    times = {r["rule"]: r["timestamp"]["seconds"] for r in moved["results"]}
    assert times == {"ZS-001": int((NOW + timedelta(hours=1)).timestamp()), "ZS-002": int(NOW.timestamp())}


def test_reports_are_capped_most_severe_first_and_say_so():
    findings = [f("ZS-005", Result.PASS, name=f"w{i}") for i in range(30)] + [f("ZS-001", Result.FAIL)]
    (report,) = build_reports("ZoneSpread", "shop", "sla", "u", findings, NOW, {}, cap=10)
    assert len(report["results"]) == 10 and report["results"][0]["result"] == "fail"
    assert report["summary"]["pass"] == 30 and report["summary"]["fail"] == 1
    assert report["metadata"]["annotations"] == {"sncguard.io/results-truncated": "21"}


def test_a_namespaced_policy_with_no_findings_still_reports_in_its_namespace():
    (report,) = build_reports("BackupPolicy", "shop", "nightly", "u", [], NOW, {})
    assert report["metadata"]["namespace"] == "shop" and report["results"] == []


def test_french_messages():
    (report,) = build_reports("ZoneSpread", "shop", "sla", "u", [f("ZS-001", Result.FAIL)], NOW, {}, language="fr")
    assert report["results"][0]["message"] == "web ZS-001 fr"


def test_label_values_stay_valid():
    value = policy_label_value("ZoneSpread", "n" * 40, "m" * 40)
    assert len(value) <= 63 and value[-1].isalnum()


def test_a_namespaced_policy_owns_only_the_report_in_its_own_namespace():
    """Its ownerReference holds only there: a ClusterPolicyReport owned by a namespaced policy is refused
    by the garbage collector (OwnerRefInvalidNamespace), and a report it owned in another namespace
    (Velero's, for a storage location) would be collected within seconds. The others carry its uid."""
    findings = [f("BK-002", Result.FAIL, ns="velero", name="offsite", kind="BackupStorageLocation"),
                f("BK-001", Result.FAIL, ns="", name="shop", kind="Namespace"),
                f("BK-005", Result.PASS)]
    reports = build_reports("BackupPolicy", "shop", "nightly", "bp-uid", findings, NOW, {})
    where = {(r["kind"], r["metadata"].get("namespace")): r for r in reports}
    assert set(where) == {("PolicyReport", "shop"), ("PolicyReport", "velero"), ("ClusterPolicyReport", None)}
    home = where[("PolicyReport", "shop")]
    assert [o["uid"] for o in home["metadata"]["ownerReferences"]] == ["bp-uid"]
    assert home["metadata"]["name"] == "sncguard-backuppolicy-nightly"
    for away in (where[("PolicyReport", "velero")], where[("ClusterPolicyReport", None)]):
        assert "ownerReferences" not in away["metadata"]
        assert away["metadata"]["labels"]["sncguard.io/policy-uid"] == "bp-uid"
        assert away["metadata"]["name"] == "sncguard-backuppolicy-shop.nightly"
    # Every failing finding reaches a report.
    assert sum(r["summary"]["fail"] for r in reports) == 2


def test_policies_of_one_name_in_two_namespaces_never_share_a_report():
    one = build_reports("BackupPolicy", "shop", "nightly", "u1", [f("BK-001", Result.FAIL, ns="")], NOW, {})
    two = build_reports("BackupPolicy", "web", "nightly", "u2", [f("BK-001", Result.FAIL, ns="")], NOW, {})
    where = [(r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]) for r in one + two]
    assert len(set(where)) == len(where) == 4
