"""Waivers: parsed the same from annotations and specs, applied the same by the operator and `check`,
never silencing anything by accident (a lapsed or malformed waiver is reported)."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import yaml

from sncguard.api import ZoneSpreadSpec
from sncguard.check import run_check, write_errors, write_text
from sncguard.controller.engine import Engine, policy_index_name
from sncguard.controller.kinds import BY_KIND
from sncguard.controller.kube import KubeClient
from sncguard.controller.state import PolicyKey, PolicyRecord
from sncguard.controller.zonespread import ZoneSpreadReconciler
from sncguard.evaluation import evaluate_zonespread
from sncguard.findings import Result, Waiver
from sncguard.junit import render as junit
from sncguard.loader import load
from sncguard.reports import build_reports
from sncguard.sarif import to_sarif
from sncguard.view import ClusterView, project
from sncguard.waivers import parse_annotation

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def deployment(name: str = "legacy", waive: str | None = None, replicas: int = 1) -> dict:
    meta: dict = {"name": name, "namespace": "shop"}
    if waive is not None:
        meta["annotations"] = {"sncguard.io/waive": waive}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}}


def view_of(*bodies: dict) -> ClusterView:
    view = ClusterView()
    for body in bodies:
        view.add(body["kind"], [project(body["kind"], body)])
    return view


def results(findings, rule_id: str) -> list[str]:
    return [f.result.value for f in findings if f.rule.id == rule_id]


# ---- parsing ------------------------------------------------------------------------------------


def test_an_annotation_holds_one_waiver_a_line():
    waivers, malformed = parse_annotation("ZS-005 until 2027-01-31: no PDB for a batch job\n\n"
                                          "  NET-003 until 2026-12-01 : migration window, CAB-77  \n")
    assert malformed == []
    assert waivers == [Waiver("ZS-005", date(2027, 1, 31), "no PDB for a batch job", "annotation"),
                       Waiver("NET-003", date(2026, 12, 1), "migration window, CAB-77", "annotation")]


@pytest.mark.parametrize(("line", "why", "rule"), [
    ("ZS-005 till 2027-01-31: typo", "not a waiver", "ZS-005"),
    ("ZS-005 until 2027-13-01: no such month", "not a date", "ZS-005"),
    ("ZS-005 until 31/01/2027: wrong format", "not a date", "ZS-005"),
    ("ZS-005 until 2027-01-31:", "needs a reason", "ZS-005"),
    ("ZS-005 until 2027-01-31:    ", "needs a reason", "ZS-005"),
    ("ZS-05 until 2027-01-31: typo in the rule", "no rule of the catalogue", None),
    ("XYZ-001 until 2027-01-31: no such family", "no rule of the catalogue", None),
    ("just a note", "not a waiver", None),
])
def test_a_line_that_is_no_waiver_says_why_and_which_rule_it_meant(line, why, rule):
    waivers, malformed = parse_annotation(line)
    assert waivers == []
    assert len(malformed) == 1 and why in malformed[0].why.render("en") and malformed[0].why.render("fr")
    assert malformed[0].rule == rule and malformed[0].line == line.strip()


def test_an_unquoted_yaml_date_annotation_is_reported_not_dropped():
    body = yaml.safe_load("kind: Deployment\nmetadata:\n  name: x\n  namespace: shop\n"
                          "  annotations:\n    sncguard.io/waive: 2027-01-31\n")
    assert project("Deployment", {**deployment(), **body, "spec": deployment()["spec"]}).waive == "2027-01-31"
    assert parse_annotation("2027-01-31")[1][0].why.render("en").startswith("not a waiver")


def test_every_kind_a_finding_can_name_carries_its_annotation():
    annotations = {"sncguard.io/waive": "NET-003 until 2027-01-01: reason"}
    kinds = ["Namespace", "Pod", "Deployment", "StatefulSet", "PodDisruptionBudget", "Service", "NetworkPolicy",
             "Ingress", "Route", "RoleBinding", "ClusterRoleBinding", "PersistentVolume", "PersistentVolumeClaim",
             "BackupStorageLocation"]
    for kind in kinds:
        body = {"metadata": {"name": "x", "namespace": "ns", "annotations": annotations}, "spec": {}}
        assert project(kind, body).waive == annotations["sncguard.io/waive"], kind


# ---- applying -----------------------------------------------------------------------------------


def evaluate(*bodies: dict, spec: dict | None = None, now: datetime = NOW):
    parsed = ZoneSpreadSpec.model_validate(spec or {})
    return evaluate_zonespread(parsed, "shop", "sla", view_of(*bodies), now)


def test_an_annotation_waives_its_rule_on_its_object_only():
    outcome = evaluate(deployment(waive="ZS-005 until 2027-01-31: batch job, ticket OPS-12"),
                       deployment("other"))
    waived = [f for f in outcome.findings if f.waived]
    assert [(f.rule.id, f.resource.name) for f in waived] == [("ZS-005", "legacy")]
    assert waived[0].result is Result.SKIP and "batch job, ticket OPS-12" in waived[0].message_en
    assert "Dérogation jusqu'au 2027-01-31" in waived[0].message_fr
    # The same rule on another object, and other rules on this one, still fail.
    assert [(f.rule.id, f.resource.name) for f in outcome.findings if f.result is Result.FAIL
            and f.rule.id == "ZS-005"] == [("ZS-005", "other")]
    assert results([f for f in outcome.findings if f.resource.name == "legacy"], "ZS-001") == ["fail"]
    assert outcome.status_fields["waived"] == [{
        "rule": "ZS-005", "until": "2027-01-31", "reason": "batch job, ticket OPS-12", "origin": "annotation",
        "resource": {"kind": "Deployment", "namespace": "shop", "name": "legacy"}}]
    assert outcome.wake_at == datetime(2027, 2, 1, tzinfo=UTC)


def test_a_waiver_holds_through_its_last_day_and_fails_again_the_next():
    body = deployment(waive="ZS-005 until 2026-11-28: last day today")
    last_second = datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC)
    assert results(evaluate(body, now=last_second).findings, "ZS-005") == ["skip"]
    lapsed = evaluate(body, now=last_second + timedelta(seconds=1))
    assert results(lapsed.findings, "ZS-005") == ["fail"]
    (finding,) = [f for f in lapsed.findings if f.rule.id == "ZS-005"]
    assert "has lapsed: last day today" in finding.message_en and "a expiré" in finding.message_fr
    assert finding.waiver is not None and not finding.waived
    assert lapsed.wake_at is None and "waived" not in lapsed.status_fields


def test_a_lapsed_waiver_that_covers_nothing_failing_is_a_warning():
    body = deployment(replicas=2, waive="ZS-001 until 2026-01-01: was a single replica")
    findings = evaluate(body).findings
    assert sorted(results(findings, "ZS-001")) == ["pass", "warn"]
    (warning,) = [f for f in findings if f.rule.id == "ZS-001" and f.result is Result.WARN]
    assert "remove or renew it" in warning.message_en and warning.policy == "ZoneSpread/shop/sla"


def test_a_malformed_line_never_waives_and_is_reported():
    outcome = evaluate(deployment(waive="ZS-005 until 2027-01-31\nZS-05 until 2027-01-31: typo"))
    assert results(outcome.findings, "ZS-005") == ["fail", "warn"]
    assert outcome.status_fields["waiverErrors"] == [
        "Deployment/shop/legacy: waiver annotation ignored: ZS-05 is no rule of the catalogue: "
        "'ZS-05 until 2027-01-31: typo'"]


def test_spec_waivers_select_by_kind_namespace_and_name():
    spec = {"waivers": [{"rule": "ZS-005", "kind": "Deployment", "name": "legacy", "until": "2027-01-31",
                         "reason": "accepted by the CISO"},
                        {"rule": "ZS-001", "until": "2027-01-31", "reason": "all single replicas, for now"},
                        {"rule": "ZS-002", "kind": "StatefulSet", "until": "2027-01-31", "reason": "not these"}]}
    outcome = evaluate(deployment(), deployment("other"), spec=spec)
    by = {(f.rule.id, f.resource.name): f.result.value for f in outcome.findings if f.rule.id in
          ("ZS-001", "ZS-002", "ZS-005")}
    assert by == {("ZS-001", "legacy"): "skip", ("ZS-001", "other"): "skip", ("ZS-002", "legacy"): "fail",
                  ("ZS-002", "other"): "fail", ("ZS-005", "legacy"): "skip", ("ZS-005", "other"): "fail"}
    assert {w["origin"] for w in outcome.status_fields["waived"]} == {"policy"}


def test_a_spec_waiver_of_no_rule_and_a_lapsed_one_are_reported():
    spec = {"waivers": [{"rule": "ZS-099", "until": "2027-01-31", "reason": "no such rule"},
                        {"rule": "ZS-006", "until": "2026-01-31", "reason": "old"}]}
    outcome = evaluate(deployment(replicas=2), spec=spec)
    assert outcome.status_fields["waiverErrors"] == ["ZoneSpread/shop/sla: spec.waivers: ZS-099 is no rule of "
                                                     "the catalogue"]
    lapsed = [f for f in outcome.findings if f.rule.id == "ZS-006" and f.result is Result.WARN]
    assert [(f.resource.kind, f.resource.name) for f in lapsed] == [("ZoneSpread", "sla")]


def test_the_latest_of_two_waivers_of_a_finding_wins():
    outcome = evaluate(deployment(waive="ZS-005 until 2026-01-01: old\nZS-005 until 2027-06-30: renewed"))
    (waived,) = [f for f in outcome.findings if f.rule.id == "ZS-005"]
    assert waived.waived and waived.waiver.until == date(2027, 6, 30)  # type: ignore[union-attr]


def test_a_waiver_never_touches_a_passing_finding():
    outcome = evaluate(deployment(replicas=3, waive="ZS-001 until 2027-01-31: not needed"))
    assert results(outcome.findings, "ZS-001") == ["pass"]
    assert "waived" not in outcome.status_fields


# ---- the operator: the same verdict, and a timer at the lapse --------------------------------------


class _Recording(Engine):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writer.write_status = self._keep_status  # type: ignore[method-assign]
        self.queue.schedule_at = self._keep_due  # type: ignore[method-assign]

    async def _keep_status(self, record, status, findings=None) -> bool:
        self.status = status
        return True

    def _keep_due(self, key, when, slack: float = 0.5) -> None:
        self.scheduled = when


def test_the_operator_applies_annotation_waivers_and_wakes_when_they_lapse():
    # Lapsing before the month ends: a ZoneSpread also wakes at each new month, for its SLA ledger.
    body = deployment(waive="ZS-005 until 2026-11-29: batch job")
    engine = _Recording(KubeClient(), clock=lambda: NOW)
    record = PolicyRecord(PolicyKey("ZoneSpread", "shop", "sla"), "uid-1", 1, {}, {})
    engine.attach({BY_KIND["Deployment"].index_id: {"shop": [project("Deployment", body)]},
                   policy_index_name("ZoneSpread"): {"shop": [record]}}, [ZoneSpreadReconciler()])
    asyncio.run(ZoneSpreadReconciler().reconcile(engine, record))
    assert engine.scheduled == datetime(2026, 11, 30, tzinfo=UTC)
    assert [w["rule"] for w in engine.status["waived"]] == ["ZS-005"]
    # Live, no pod runs (ZS-004 fails); the waived ZS-005 is a skip and in no failing entry.
    assert {f["rule"] for f in engine.status["findings"]} == {"ZS-001", "ZS-002", "ZS-004"}
    assert engine.status["summary"]["fail"] == 3


# ---- `check`: text, JSON, SARIF, JUnit and PolicyReports say the same -----------------------------


@pytest.fixture
def check(tmp_path):
    def run(*bodies: dict, spec: dict | None = None):
        docs = [*bodies]
        if spec is not None:
            docs.append({"apiVersion": "sncguard.io/v1alpha1", "kind": "ZoneSpread",
                         "metadata": {"name": "sla", "namespace": "shop"}, "spec": spec})
        path = tmp_path / "manifests.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        return run_check(load([path]), NOW)
    return run


def test_check_shows_waived_findings_in_every_format(check):
    report = check(deployment(waive="ZS-005 until 2027-01-31: batch job\nZS-0 until 2027-01-31: typo"))
    out = io.StringIO()
    write_text(report, out, "en")
    assert "WAIVED  medium    ZS-005  Deployment/shop/legacy" in out.getvalue()
    err = io.StringIO()
    write_errors(report, err)
    assert "ZS-0 is no rule of the catalogue" in err.getvalue()

    sarif = to_sarif(report)
    (suppressed,) = [r for r in sarif["runs"][0]["results"] if "suppressions" in r]
    assert suppressed["ruleId"] == "ZS-005"
    assert suppressed["suppressions"] == [{"kind": "inSource", "status": "accepted",
                                           "justification": "batch job (until 2027-01-31)",
                                           "properties": {"until": "2027-01-31", "origin": "annotation"}}]
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("ZS-0 is no rule" in n["message"]["text"] for n in notes)

    assert '<skipped message="Waived until 2027-01-31 (annotation): batch job.' in junit(report)

    reports = build_reports("ZoneSpread", "shop", "sla", "uid-1", report.findings, NOW, {})
    (result,) = [r for policy_report in reports for r in policy_report["results"] if r["rule"] == "ZS-005"]
    assert result["result"] == "skip" and result["properties"]["waiverReason"] == "batch job"
    assert result["properties"]["waiverLapsed"] == "false"
    assert json.dumps(reports)  # serialisable as the API needs it


def test_a_waiver_in_the_policy_spec_is_an_external_suppression(check):
    report = check(deployment(), spec={"waivers": [{"rule": "ZS-005", "until": "2027-01-31",
                                                    "reason": "accepted risk R-12"}]})
    (suppressed,) = [r for r in to_sarif(report)["runs"][0]["results"] if "suppressions" in r]
    assert suppressed["suppressions"][0]["kind"] == "external"
    assert not [f for f in report.findings if f.rule.id == "ZS-005" and f.result is Result.FAIL]


def test_check_and_the_spec_schema_refuse_a_waiver_without_reason_or_date(check):
    report = check(deployment(), spec={"waivers": [{"rule": "ZS-005", "until": "2027-01-31", "reason": " "}]})
    assert report.errors and "reason" in str(report.errors[0])
    report = check(deployment(), spec={"waivers": [{"rule": "ZS-005", "reason": "no date"}]})
    assert report.errors and "until" in str(report.errors[0])
