"""Termination rules TERM-001 and TERM-002 (R11), each decided bullet both ways, the erasure certificate,
the deadlines the engine waits for, and the offline check on manifests.

Namespaces, PersistentVolumes, claims and Velero Backups are built as Kubernetes dicts and projected
through the same `from_obj` functions the operator and the offline check use.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from sncguard.api.tenantpolicy import TenantPolicySpec, TenantPolicyStatus
from sncguard.cli import main
from sncguard.evaluation import evaluate_tenantpolicy, tenant_scope
from sncguard.findings import Finding, Result, Severity
from sncguard.rules import termination
from sncguard.rules.catalogue import rule
from sncguard.rules.registry import TERMINATION
from sncguard.rules.termination import (
    INVENTORY_KINDS,
    certificate_digest,
    erasure_scope,
    evaluate_termination,
    next_deadline,
    remaining_data,
)
from sncguard.view import ClusterView, Namespace, PersistentVolume, PersistentVolumeClaim, VeleroBackup

POLICY = "acme"
TENANT = ["acme-db", "acme-web"]
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Builders


def spec(ended: datetime | None = None, notice: datetime | None = None, *, declared: bool = True,
         **fields: Any) -> TenantPolicySpec:
    body: dict[str, Any] = {"tenant": "acme",
                            "namespaceSelector": {"matchLabels": {"sncguard.io/tenant": "acme"}}, **fields}
    if declared:
        t: dict[str, str] = {}
        if ended is not None:
            t["contractEndedAt"] = ended.strftime("%Y-%m-%dT%H:%M:%SZ")
        if notice is not None:
            t["erasureNoticeAt"] = notice.strftime("%Y-%m-%dT%H:%M:%SZ")
        body["termination"] = t
    return TenantPolicySpec.model_validate(body)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def namespace(name: str, tenant: str = "acme") -> Namespace:
    return Namespace.from_obj({"kind": "Namespace", "metadata": {"name": name,
                                                                 "labels": {"sncguard.io/tenant": tenant}}})


def pv(name: str, claim: tuple[str, str] | None) -> PersistentVolume:
    spec_: dict[str, Any] = {"capacity": {"storage": "1Gi"}, "persistentVolumeReclaimPolicy": "Retain"}
    if claim:
        spec_["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": claim[0], "name": claim[1]}
    return PersistentVolume.from_obj({"kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec_})


def pvc(name: str, namespace_: str, volume: str) -> PersistentVolumeClaim:
    return PersistentVolumeClaim.from_obj({"kind": "PersistentVolumeClaim",
                                           "metadata": {"name": name, "namespace": namespace_},
                                           "spec": {"volumeName": volume}})


def backup(name: str, included: list[str] | None = None, excluded: list[str] | None = None,
           namespace_: str = "openshift-adp", phase: str = "Completed") -> VeleroBackup:
    spec_: dict[str, Any] = {"storageLocation": "default"}
    if included is not None:
        spec_["includedNamespaces"] = included
    if excluded is not None:
        spec_["excludedNamespaces"] = excluded
    return VeleroBackup.from_obj({"apiVersion": "velero.io/v1", "kind": "Backup",
                                  "metadata": {"name": name, "namespace": namespace_},
                                  "spec": spec_, "status": {"phase": phase}})


def view(*items: Namespace | PersistentVolume | PersistentVolumeClaim | VeleroBackup) -> ClusterView:
    v = ClusterView()
    for item in items:
        if isinstance(item, Namespace):
            v.namespaces[item.name] = item
        elif isinstance(item, PersistentVolume):
            v.persistent_volumes[item.name] = item
        elif isinstance(item, PersistentVolumeClaim):
            v.persistent_volume_claims.append(item)
        else:
            v.backups.append(item)
    return v


def run(s: TenantPolicySpec, v: ClusterView | None = None, now: datetime = NOW, tenant: list[str] | None = None,
        previous: dict | None = None) -> termination.TerminationEvaluation:
    return evaluate_termination(s, POLICY, TENANT if tenant is None else tenant, v or view(), now, previous)


def of(findings: list[Finding], rule_id: str) -> list[Finding]:
    return [f for f in findings if f.rule_id == rule_id]


def only(findings: list[Finding], rule_id: str) -> Finding:
    (f,) = of(findings, rule_id)
    return f


def results(findings: list[Finding]) -> list[tuple[str, str, str, str]]:
    return [(f.result.value, f.resource.kind, f.resource.namespace, f.resource.name) for f in findings]


def french(f: Finding) -> None:
    assert f.message_fr and f.message_fr != f.message_en
    assert re.search(r"[éèêàùçô]", f.message_fr) or " le " in f.message_fr


# --------------------------------------------------------------------------------------------
# The catalogue


def test_both_rules_are_in_the_catalogue():
    assert rule("TERM-001").severity is Severity.HIGH and rule("TERM-001").requirements == ("R11",)
    assert rule("TERM-002").severity is Severity.CRITICAL and rule("TERM-002").requirements == ("R11",)
    assert rule("TERM-001").category == rule("TERM-002").category == TERMINATION == "termination"


# --------------------------------------------------------------------------------------------
# No termination: skip


def test_no_termination_skips_both_rules_once_on_the_policy():
    out = run(spec(declared=False), view(namespace("acme-web")))
    assert [(f.rule_id, f.result) for f in out.findings] == [("TERM-001", Result.SKIP), ("TERM-002", Result.SKIP)]
    for f in out.findings:
        assert (f.resource.kind, f.resource.namespace, f.resource.name) == ("TenantPolicy", "", POLICY)
        assert f.field == "spec.termination"
        assert POLICY in f.message_en and "non évalué" in f.message_fr
    assert out.status_fields == {}
    assert next_deadline(spec(declared=False), NOW) is None


def test_an_empty_termination_skips_both_rules_for_want_of_contract_end():
    out = run(spec())
    assert [(f.rule_id, f.result) for f in out.findings] == [("TERM-001", Result.SKIP), ("TERM-002", Result.SKIP)]
    assert all("contractEndedAt" in f.message_en for f in out.findings)
    assert next_deadline(spec(), NOW) is None


# --------------------------------------------------------------------------------------------
# TERM-001


def test_contract_ended_20_days_ago_without_notice_passes():
    out = run(spec(ago(20)))
    f = only(out.findings, "TERM-001")
    assert f.result is Result.PASS and f.field == "spec.termination.erasureNoticeAt"
    assert "due by 2027-03-02T12:00:00Z" in f.message_en and "21 jours" in f.message_fr
    french(f)
    # TERM-002 has no deadline yet: skipped, naming TERM-001.
    f2 = only(out.findings, "TERM-002")
    assert f2.result is Result.SKIP and "TERM-001" in f2.message_en and "TERM-001" in f2.message_fr


def test_contract_ending_in_the_future_passes():
    f = only(run(spec(NOW + timedelta(days=5))).findings, "TERM-001")
    assert f.result is Result.PASS and "The contract ends at" in f.message_en and "prend fin" in f.message_fr


def test_contract_ended_22_days_ago_without_notice_fails():
    f = only(run(spec(ago(22))).findings, "TERM-001")
    assert f.result is Result.FAIL and f.severity is Severity.HIGH
    assert (f.resource.kind, f.resource.name) == ("TenantPolicy", POLICY)
    assert "22 days ago" in f.message_en and "no erasure notice" in f.message_en
    assert "aucun avis d'effacement" in f.message_fr and "il y a 22 jours" in f.message_fr
    french(f)


def test_exactly_21_days_is_not_more_than_21():
    assert only(run(spec(ago(21))).findings, "TERM-001").result is Result.PASS
    assert only(run(spec(ago(21) - timedelta(seconds=1))).findings, "TERM-001").result is Result.FAIL


def test_a_recorded_notice_passes_even_long_after():
    f = only(run(spec(ago(100), ago(95))).findings, "TERM-001")
    assert f.result is Result.PASS and "5 day(s) after the contract ended" in f.message_en
    assert "Avis d'effacement enregistré" in f.message_fr


# --------------------------------------------------------------------------------------------
# TERM-002: before the deadline


def test_29_days_after_the_notice_with_data_passes_not_yet_due():
    v = view(namespace("acme-web"), pv("pv-1", ("acme-web", "data")), backup("daily", ["acme-web"]))
    out = run(spec(ago(40), ago(29)), v)
    f = only(out.findings, "TERM-002")
    assert f.result is Result.PASS and (f.resource.kind, f.resource.name) == ("TenantPolicy", POLICY)
    assert "not yet due" in f.message_en
    assert "1 namespace(s), 1 persistent volume(s) and 1 Velero backup(s)" in f.message_en
    assert "pas encore dû" in f.message_fr
    assert "erasureCertificate" not in out.status_fields


# --------------------------------------------------------------------------------------------
# TERM-002: past the deadline


ENDED = spec(ago(45), ago(31))


def test_a_remaining_namespace_fails_naming_it():
    out = run(ENDED, view(namespace("acme-web"), namespace("other", tenant="globex")))
    f = only(out.findings, "TERM-002")
    assert f.result is Result.FAIL and f.severity is Severity.CRITICAL
    assert (f.resource.kind, f.resource.name) == ("Namespace", "acme-web")
    assert "Namespace acme-web of tenant acme still exists" in f.message_en and "1 day(s) late" in f.message_en
    assert "L'espace de noms acme-web du locataire acme existe toujours" in f.message_fr
    french(f)
    assert "erasureCertificate" not in out.status_fields


def test_a_bound_volume_fails_naming_it_even_once_its_namespace_is_gone():
    v = view(pv("pv-data", ("acme-db", "data")), pv("pv-other", ("globex", "data")), pv("pv-free", None))
    f = only(run(ENDED, v, tenant=[], previous={"tenantNamespaces": ["acme-db"]}).findings, "TERM-002")
    assert f.result is Result.FAIL and (f.resource.kind, f.resource.name) == ("PersistentVolume", "pv-data")
    assert "claim acme-db/data" in f.message_en and f.field == "spec.claimRef"
    assert "Le PersistentVolume pv-data" in f.message_fr


def test_a_volume_named_by_a_claims_volume_name_counts_too():
    v = view(namespace("acme-db"), pv("pv-x", None), pvc("data", "acme-db", "pv-x"))
    failing = [f for f in of(run(ENDED, v).findings, "TERM-002") if f.result is Result.FAIL]
    assert results(failing) == [("fail", "Namespace", "", "acme-db"), ("fail", "PersistentVolume", "", "pv-x")]


def test_a_covering_backup_fails_naming_it_and_the_namespaces_it_holds():
    v = view(backup("daily", ["acme-web", "acme-db", "globex"]), backup("globex-only", ["globex"]))
    f = only(run(ENDED, v).findings, "TERM-002")
    assert f.result is Result.FAIL
    assert (f.resource.kind, f.resource.namespace, f.resource.name) == ("Backup", "openshift-adp", "daily")
    assert f.resource.api_version == "velero.io/v1" and f.field == "spec.includedNamespaces"
    assert "Velero Backup openshift-adp/daily (phase Completed) covers namespace(s) acme-db, acme-web" in f.message_en
    assert "La sauvegarde Velero openshift-adp/daily" in f.message_fr


def test_a_backup_excluding_the_namespace_does_not_count():
    v = view(backup("all-but-acme", ["*"], excluded=["acme-web", "acme-db"]),
             backup("all-but-web", ["*"], excluded=["acme-web"]))
    out = run(ENDED, v)
    assert results(of(out.findings, "TERM-002")) == [("fail", "Backup", "openshift-adp", "all-but-web")]
    assert "covers namespace(s) acme-db of tenant" in only(out.findings, "TERM-002").message_en


@pytest.mark.parametrize("included", [["*"], None, []])
def test_a_backup_of_every_namespace_fails(included):
    v = view(backup("everything", included, namespace_="velero", phase="PartiallyFailed"))
    f = only(run(ENDED, v).findings, "TERM-002")
    assert f.result is Result.FAIL and (f.resource.namespace, f.resource.name) == ("velero", "everything")
    assert "acme-db, acme-web" in f.message_en and "PartiallyFailed" in f.message_en


def test_each_remaining_item_is_its_own_failing_finding():
    v = view(namespace("acme-web"), namespace("acme-db"), pv("pv-1", ("acme-web", "data")),
             backup("a", ["acme-web"]), backup("b", ["*"]))
    failing = of(run(ENDED, v).findings, "TERM-002")
    assert results(failing) == [
        ("fail", "Namespace", "", "acme-db"), ("fail", "Namespace", "", "acme-web"),
        ("fail", "PersistentVolume", "", "pv-1"),
        ("fail", "Backup", "openshift-adp", "a"), ("fail", "Backup", "openshift-adp", "b"),
    ]
    assert all(f.message_fr for f in failing)


def test_remaining_data_is_what_the_view_holds_of_the_scope():
    v = view(namespace("acme-web"), pv("pv-1", ("acme-db", "x")), backup("b", ["acme-db"]))
    r = remaining_data(["acme-db", "acme-web", "acme-web"], v)
    assert r.counts() == {"Namespace": 1, "PersistentVolume": 1, "Backup": 1} and not r.empty
    assert remaining_data([], v).empty


# --------------------------------------------------------------------------------------------
# The erasure certificate


def test_nothing_left_passes_with_a_certificate():
    v = view(namespace("other", tenant="globex"), pv("pv-g", ("globex", "d")), backup("g", ["globex"]))
    out = run(ENDED, v, tenant=[], previous={"tenantNamespaces": TENANT})
    f = only(out.findings, "TERM-002")
    assert f.result is Result.PASS and (f.resource.kind, f.resource.name) == ("TenantPolicy", POLICY)
    assert "Nothing of tenant acme remains" in f.message_en and "certificat d'effacement" in f.message_fr
    cert = out.status_fields["erasureCertificate"]
    deadline = (ago(31) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cert["checkedAt"] == "2027-03-01T12:00:00Z" and cert["deadline"] == deadline
    assert cert["namespaces"] == TENANT
    assert cert["inventory"] == {"Namespace": 0, "PersistentVolume": 0, "Backup": 0}
    assert set(cert["inventory"]) == set(INVENTORY_KINDS)
    assert re.fullmatch(r"[0-9a-f]{64}", cert["digest"])
    assert cert["digest"] in f.message_en
    # The status model (and so the CRD) holds it.
    TenantPolicyStatus.model_validate({"erasureCertificate": cert, "erasureNamespaces": TENANT})


def test_the_digest_is_the_sha256_of_the_canonical_evidence():
    import hashlib

    cert = run(ENDED, tenant=["acme-web"]).status_fields["erasureCertificate"]
    evidence = {k: v for k, v in cert.items() if k != "digest"} | {"tenant": "acme"}
    canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"))
    assert cert["digest"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert certificate_digest("acme", cert) == cert["digest"]


def test_the_certificate_is_stable_across_evaluations():
    first = run(ENDED, tenant=["acme-web"]).status_fields
    later = NOW + timedelta(hours=7)
    again = run(ENDED, tenant=[], now=later, previous={**first, "tenantNamespaces": []}).status_fields
    assert again["erasureCertificate"] == first["erasureCertificate"]
    assert again["erasureNamespaces"] == ["acme-web"]  # remembered once its namespace is gone


def test_the_digest_changes_when_the_evidence_does():
    base = run(ENDED, tenant=["acme-web"]).status_fields["erasureCertificate"]
    other_time = run(ENDED, tenant=["acme-web"], now=NOW + timedelta(days=1)).status_fields["erasureCertificate"]
    other_scope = run(ENDED, tenant=["acme-web", "acme-db"]).status_fields["erasureCertificate"]
    other_notice = run(spec(ago(45), ago(32)), tenant=["acme-web"]).status_fields["erasureCertificate"]
    digests = {c["digest"] for c in (base, other_time, other_scope, other_notice)}
    assert len(digests) == 4
    assert certificate_digest("globex", base) != base["digest"]


def test_a_new_deadline_or_returning_data_restarts_the_certificate():
    first = run(ENDED, tenant=["acme-web"]).status_fields
    # The notice moved: a new deadline, a new checkedAt.
    moved = run(spec(ago(45), ago(33)), tenant=["acme-web"], now=NOW + timedelta(days=1), previous=first)
    assert moved.status_fields["erasureCertificate"]["checkedAt"] == "2027-03-02T12:00:00Z"
    # Data came back: no certificate while it remains; the next empty check starts afresh.
    back = run(ENDED, view(backup("late", ["acme-web"])), previous=first)
    assert "erasureCertificate" not in back.status_fields
    after = run(ENDED, now=NOW + timedelta(days=2), previous=back.status_fields)
    assert after.status_fields["erasureCertificate"]["checkedAt"] == "2027-03-03T12:00:00Z"


def test_no_certificate_before_the_deadline_nor_with_data_left():
    assert "erasureCertificate" not in run(spec(ago(40), ago(29))).status_fields
    assert "erasureCertificate" not in run(ENDED, view(namespace("acme-web"))).status_fields


def test_the_scope_remembers_namespaces_from_the_previous_status():
    assert erasure_scope(["b"], {"erasureNamespaces": ["a"], "tenantNamespaces": ["c", "b"]}) == ["a", "b", "c"]
    assert erasure_scope(["b"], None) == ["b"]
    assert erasure_scope([], {"erasureNamespaces": [None, "", 3]}) == []


# --------------------------------------------------------------------------------------------
# Deadlines: engine timers


def test_next_deadline_is_the_notice_due_then_the_erasure_deadline():
    assert next_deadline(spec(ago(20)), NOW) == ago(20) + timedelta(days=21)
    assert next_deadline(spec(ago(22)), NOW) is None  # already past: nothing left to wait for
    assert next_deadline(spec(ago(20), ago(10)), NOW) == ago(10) + timedelta(days=30)
    assert next_deadline(spec(ago(45), ago(31)), NOW) is None


def test_evaluate_tenantpolicy_returns_the_earliest_timer_as_wake_at():
    grant = {"subject": {"kind": "User", "name": "ops"}, "clusterRole": "view",
             "expires": (NOW + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"), "reason": "ticket 1"}
    ns = {"acme-web": namespace("acme-web")}
    for s, expected in (
        (spec(ago(20)), ago(20) + timedelta(days=21)),                              # termination only
        (spec(ago(20), accessGrants=[grant]), ago(20) + timedelta(days=21)),        # termination first
        (spec(ago(10), accessGrants=[grant]), NOW + timedelta(days=3)),             # the grant first
        (spec(declared=False, accessGrants=[grant]), NOW + timedelta(days=3)),      # grant only
        (spec(declared=False), None),
    ):
        scope = tenant_scope(s, ns, [])
        assert evaluate_tenantpolicy(s, POLICY, scope, view(*ns.values()), NOW).wake_at == expected


def test_evaluate_tenantpolicy_carries_the_certificate_over():
    s = ENDED
    scope = tenant_scope(s, {}, [])
    first = evaluate_tenantpolicy(s, POLICY, scope, view(), NOW, previous_status={"tenantNamespaces": TENANT})
    cert = first.status_fields["erasureCertificate"]
    assert first.status_fields["erasureNamespaces"] == TENANT
    assert [f.result for f in of(first.findings, "TERM-002")] == [Result.PASS]
    assert all(f.policy == "TenantPolicy/acme" for f in of(first.findings, "TERM-002"))
    again = evaluate_tenantpolicy(s, POLICY, scope, view(), NOW + timedelta(hours=1),
                                  previous_status=first.status_fields)
    assert again.status_fields["erasureCertificate"] == cert


# --------------------------------------------------------------------------------------------
# The model


def test_the_model_refuses_a_notice_without_end_or_before_it():
    with pytest.raises(ValidationError, match="needs contractEndedAt"):
        spec(None, ago(1))
    with pytest.raises(ValidationError, match="cannot be before"):
        spec(ago(1), ago(2))
    with pytest.raises(ValidationError, match="time zone"):
        TenantPolicySpec.model_validate({"tenant": "a", "namespaceSelector": {},
                                         "termination": {"contractEndedAt": "2027-01-01T00:00:00"}})
    assert spec(ago(2), ago(2)).termination is not None


# --------------------------------------------------------------------------------------------
# The offline check, on manifests


MANIFESTS = """
apiVersion: sncguard.io/v1alpha1
kind: TenantPolicy
metadata: {name: acme}
spec:
  tenant: acme
  namespaceSelector: {matchLabels: {sncguard.io/tenant: acme}}
  termination:
    contractEndedAt: "2027-01-01T00:00:00Z"
    erasureNoticeAt: "2027-01-10T00:00:00Z"
---
apiVersion: v1
kind: Namespace
metadata: {name: acme-web, labels: {sncguard.io/tenant: acme}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-acme}
spec:
  capacity: {storage: 1Gi}
  claimRef: {kind: PersistentVolumeClaim, namespace: acme-web, name: data}
---
apiVersion: velero.io/v1
kind: Backup
metadata: {name: nightly-1, namespace: openshift-adp}
spec: {includedNamespaces: ["*"], excludedNamespaces: [kube-system], storageLocation: default}
status: {phase: Completed}
---
apiVersion: velero.io/v1
kind: Backup
metadata: {name: not-acme, namespace: openshift-adp}
spec: {includedNamespaces: ["*"], excludedNamespaces: [acme-web], storageLocation: default}
status: {phase: Completed}
"""


def check(capsys, tmp_path, text: str, now: str, *extra: str) -> tuple[int, list[dict]]:
    (tmp_path / "in.yaml").write_text(text)
    code = main(["check", str(tmp_path / "in.yaml"), "--output", "json", "--now", now, *extra])
    out, _ = capsys.readouterr()
    return code, [r for r in json.loads(out) if r["rule"].startswith("TERM-")]


def test_the_offline_check_names_what_remains_past_the_deadline(tmp_path, capsys):
    code, found = check(capsys, tmp_path, MANIFESTS, "2027-02-15T00:00:00Z")
    assert code == 1
    failing = sorted((r["resource"]["kind"], r["resource"]["namespace"], r["resource"]["name"])
                     for r in found if r["result"] == "fail")
    assert failing == [("Backup", "openshift-adp", "nightly-1"), ("Namespace", "", "acme-web"),
                       ("PersistentVolume", "", "pv-acme")]
    assert all(r["rule"] == "TERM-002" and r["severity"] == "critical" for r in found if r["result"] == "fail")
    assert [r["result"] for r in found if r["rule"] == "TERM-001"] == ["pass"]


def test_the_offline_check_before_the_deadline_and_in_french(tmp_path, capsys):
    _, found = check(capsys, tmp_path, MANIFESTS, "2027-02-01T00:00:00Z", "--language", "fr")
    assert sorted((r["rule"], r["result"]) for r in found) == [("TERM-001", "pass"), ("TERM-002", "pass")]
    assert "pas encore dû" in next(r["message"] for r in found if r["rule"] == "TERM-002")


def test_the_offline_check_passes_once_nothing_remains(tmp_path, capsys):
    policy_only = MANIFESTS.split("---")[0]
    code, found = check(capsys, tmp_path, policy_only, "2027-02-15T00:00:00Z")
    assert code == 0
    assert sorted((r["rule"], r["result"]) for r in found) == [("TERM-001", "pass"), ("TERM-002", "pass")]


def test_the_offline_check_fails_a_late_notice(tmp_path, capsys):
    late = MANIFESTS.replace('    erasureNoticeAt: "2027-01-10T00:00:00Z"\n', "")
    code, found = check(capsys, tmp_path, late, "2027-01-23T00:00:00Z")
    assert code == 1
    assert sorted((r["rule"], r["result"]) for r in found) == [("TERM-001", "fail"), ("TERM-002", "skip")]


# --------------------------------------------------------------------------------------------
# The operator's wiring: Velero Backups are read by TenantPolicies, and move the ended ones


def test_a_backup_change_marks_the_tenants_of_ended_contracts_deferred():
    from types import SimpleNamespace

    from sncguard.controller.kinds import BY_KIND, READS, readers_of

    assert "Backup" in READS["TenantPolicy"] and "TenantPolicy" in readers_of("Backup")
    ended, running = SimpleNamespace(key="ended"), SimpleNamespace(key="running")
    specs = {"ended": ENDED, "running": spec(declared=False)}
    marked: list[tuple[str, bool]] = []
    kinds: list[str] = []
    engine = SimpleNamespace(
        records=lambda kind: [ended, running] if kind == "TenantPolicy" else [],
        spec_of=lambda record: specs[record.key],
        mark=lambda key, deferred=False: marked.append((key, deferred)),
        mark_kind=kinds.append,
        backup_index=SimpleNamespace(velero_changed=lambda: None),
    )
    BY_KIND["Backup"].affects(engine, "openshift-adp", "nightly", None, None)
    assert kinds == ["BackupPolicy"] and marked == [("ended", True)]
