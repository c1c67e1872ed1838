"""The Argo CD health checks in argocd/health/, run by a real Lua 5.1 (Argo CD's dialect) through lupa.

Each kind's health.lua gets the objects Argo CD would hand it: no status yet, a generation not
evaluated yet, an unusable spec, a failing verdict, a compliant one; and statuses built by the
operator's own status code, so that the scripts cannot drift from what the operator writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lupa.lua51 as lupa_lua51
import pytest
from texts import Said

from sncguard.findings import ResourceRef, Result, finding
from sncguard.rules.catalogue import rule
from sncguard.status import build_status, invalid_status

HEALTH = Path(__file__).resolve().parents[2] / "argocd" / "health.lua"
KINDS = ("ZoneSpread", "TenantPolicy", "BackupPolicy")
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def to_lua(lua: Any, value: Any) -> Any:
    """Python data as Argo CD hands it to Lua: objects and arrays as tables (arrays 1-based), all the way down."""
    if isinstance(value, dict):
        table = lua.table()
        for key, item in value.items():
            table[key] = to_lua(lua, item)
        return table
    if isinstance(value, list | tuple):
        table = lua.table()
        for index, item in enumerate(value, start=1):
            table[index] = to_lua(lua, item)
        return table
    return value


def health(kind: str, obj: dict[str, Any]) -> dict[str, str]:
    lua = lupa_lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = to_lua(lua, obj)
    result = lua.execute(HEALTH.read_text(encoding="utf-8"))
    assert result is not None, f"health.lua returned nothing for a {kind}"
    out = {key: result[key] for key in ("status", "message")}
    assert set(dict(result.items())) <= {"status", "message"}, "Argo CD reads only status and message"
    return out


def policy(kind: str, status: dict[str, Any] | None = None, generation: int = 1) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "sla" if kind != "TenantPolicy" else "acme", "generation": generation}
    if kind != "TenantPolicy":
        meta["namespace"] = "shop"
    obj: dict[str, Any] = {"apiVersion": "sncguard.io/v1alpha1", "kind": kind, "metadata": meta,
                           "spec": {"mode": "Audit"}}
    if status is not None:
        obj["status"] = status
    return obj


def cond(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-11-22T10:00:00Z", "observedGeneration": 1}


def test_every_kind_has_a_health_check():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("render_cm_patch", HEALTH.parent / "render_cm_patch.py")
    render = module_from_spec(spec)
    spec.loader.exec_module(render)
    assert sorted(kind for _, kind, _ in render.health_checks()) == sorted(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_no_status_is_progressing(kind):
    assert health(kind, policy(kind)) == {"status": "Progressing",
                                          "message": "Waiting for sncguard's first evaluation"}
    assert health(kind, policy(kind, status={}))["status"] == "Progressing"


@pytest.mark.parametrize("kind", KINDS)
def test_a_generation_not_evaluated_yet_is_progressing(kind):
    status = {"observedGeneration": 1,
              "conditions": [cond("Ready", "True", "Evaluated", "Evaluated"),
                             cond("Compliant", "True", "Compliant", "No failing finding (3 passed, 0 warnings)")],
              "summary": {"pass": 3, "fail": 0, "warn": 0, "skip": 0}, "findings": []}
    got = health(kind, policy(kind, status, generation=2))
    assert got == {"status": "Progressing", "message": "Waiting for sncguard to evaluate generation 2"}


@pytest.mark.parametrize("kind", KINDS)
def test_compliant_is_healthy(kind):
    status = {"observedGeneration": 3,
              "conditions": [cond("Ready", "True", "Evaluated", "Evaluated"),
                             cond("Compliant", "True", "Compliant", "No failing finding (6 passed, 1 warnings)")],
              "summary": {"pass": 6, "fail": 0, "warn": 1, "skip": 0},
              "findings": [{"rule": "ZS-005", "result": "warn", "severity": "medium",
                            "resource": {"kind": "Deployment", "namespace": "shop", "name": "web"},
                            "message": "a warning does not make it unhealthy"}]}
    assert health(kind, policy(kind, status, generation=3)) == {
        "status": "Healthy", "message": "No failing finding (6 passed, 1 warnings)"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_finding_is_degraded_with_the_top_finding(kind):
    status = {"observedGeneration": 1,
              "conditions": [cond("Ready", "True", "Evaluated", "Evaluated"),
                             cond("Compliant", "False", "NonCompliant", "3 failing finding(s); most severe: ...")],
              "summary": {"pass": 2, "fail": 3, "warn": 1, "skip": 0},
              "findings": [
                  {"rule": "NET-003", "result": "fail", "severity": "critical",
                   "resource": {"kind": "Service", "namespace": "shop", "name": "ssh"},
                   "field": "spec.ports[0].port", "message": "port 22 is open to 0.0.0.0/0"},
                  {"rule": "ZS-002", "result": "fail", "severity": "high",
                   "resource": {"kind": "Deployment", "namespace": "shop", "name": "api"},
                   "message": "no zone spreading declared"}]}
    assert health(kind, policy(kind, status)) == {
        "status": "Degraded",
        "message": "NET-003 Service shop/ssh: port 22 is open to 0.0.0.0/0 (and 2 more failing)"}


def test_a_failing_finding_of_a_cluster_scoped_object_names_it_without_namespace():
    status = {"observedGeneration": 1,
              "conditions": [cond("Ready", "True", "Evaluated", "Evaluated"),
                             cond("Compliant", "False", "NonCompliant", "1 failing finding(s)")],
              "summary": {"pass": 0, "fail": 1, "warn": 0, "skip": 0},
              "findings": [{"rule": "LOC-002", "result": "fail", "severity": "critical",
                            "resource": {"kind": "PersistentVolume", "namespace": "", "name": "pv-1"},
                            "message": "region us-east-1 is not allowed"}]}
    assert health("TenantPolicy", policy("TenantPolicy", status)) == {
        "status": "Degraded", "message": "LOC-002 PersistentVolume pv-1: region us-east-1 is not allowed"}


@pytest.mark.parametrize("kind", KINDS)
def test_the_first_failing_finding_wins_over_a_warning_listed_before_it(kind):
    status = {"observedGeneration": 1,
              "conditions": [cond("Ready", "True", "Evaluated", "Evaluated"),
                             cond("Compliant", "False", "NonCompliant", "1 failing finding(s)")],
              "summary": {"pass": 0, "fail": 1, "warn": 1, "skip": 0},
              "findings": [{"rule": "LOC-001", "result": "warn", "severity": "critical",
                            "resource": {"kind": "Pod", "namespace": "shop", "name": "p"}, "message": "pending"},
                           {"rule": "ZS-001", "result": "fail", "severity": "high",
                            "resource": {"kind": "Deployment", "namespace": "shop", "name": "api"},
                            "message": "1 replica for 2 zones"}]}
    assert health(kind, policy(kind, status))["message"] == "ZS-001 Deployment shop/api: 1 replica for 2 zones"


@pytest.mark.parametrize("kind", KINDS)
def test_non_compliant_without_findings_falls_back_to_the_condition(kind):
    status = {"observedGeneration": 1,
              "conditions": [cond("Ready", "True", "Evaluated", "Evaluated"),
                             cond("Compliant", "False", "NonCompliant", "2 failing finding(s); most severe: X")]}
    assert health(kind, policy(kind, status)) == {"status": "Degraded",
                                                  "message": "2 failing finding(s); most severe: X"}


@pytest.mark.parametrize("kind", KINDS)
def test_an_invalid_spec_is_degraded_with_the_ready_message_not_the_stale_verdict(kind):
    # invalid_status keeps the previous verdict's findings: the reason to show is Ready's.
    status = {"observedGeneration": 2,
              "conditions": [cond("Ready", "False", "InvalidSpec", "spec.minZones: must be at least 2"),
                             cond("Compliant", "Unknown", "InvalidSpec", "spec.minZones: must be at least 2")],
              "summary": {"pass": 1, "fail": 1, "warn": 0, "skip": 0},
              "findings": [{"rule": "ZS-002", "result": "fail", "severity": "high",
                            "resource": {"kind": "Deployment", "namespace": "shop", "name": "api"},
                            "message": "stale"}]}
    assert health(kind, policy(kind, status, generation=2)) == {
        "status": "Degraded", "message": "InvalidSpec: spec.minZones: must be at least 2"}


def test_velero_not_installed_is_degraded():
    message = "Velero (velero.io) is not installed: no backup can be judged"
    status = {"observedGeneration": 1,
              "conditions": [cond("Ready", "False", "VeleroNotInstalled", message),
                             cond("Compliant", "Unknown", "VeleroNotInstalled", message)]}
    assert health("BackupPolicy", policy("BackupPolicy", status)) == {
        "status": "Degraded", "message": f"VeleroNotInstalled: {message}"}


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_verdict_is_progressing(kind):
    status = {"observedGeneration": 1, "conditions": [cond("Ready", "True", "Evaluated", "Evaluated")]}
    assert health(kind, policy(kind, status))["status"] == "Progressing"


# ---- statuses as the operator writes them -------------------------------------------------------


def _findings() -> list:
    api = ResourceRef("Deployment", "shop", "api")
    web = ResourceRef("Deployment", "shop", "web")
    return [
        finding(rule("ZS-005"), Result.FAIL, api, Said("no PodDisruptionBudget covers it", "aucun PDB")),
        finding(rule("ZS-006"), Result.FAIL, api, Said("pinned to zone zone-a by nodeSelector", "épinglé"),
                field="spec.template.spec.nodeSelector"),
        finding(rule("ZS-002"), Result.PASS, web, Said("spreads over zones", "réparti")),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_a_status_built_by_the_operator_is_judged_as_its_compliant_condition_says(kind):
    failing = build_status(generation=4, findings=_findings(), extra={}, previous=None, now=NOW)
    got = health(kind, policy(kind, failing, generation=4))
    assert got["status"] == "Degraded"
    # The most severe failing finding, as the Compliant condition names it too.
    assert got["message"] == "ZS-006 Deployment shop/api: pinned to zone zone-a by nodeSelector (and 1 more failing)"
    compliant = next(c for c in failing["conditions"] if c["type"] == "Compliant")
    assert "ZS-006" in compliant["message"]

    passing = build_status(generation=5, findings=_findings()[2:], extra={}, previous=failing, now=NOW)
    assert health(kind, policy(kind, passing, generation=5)) == {
        "status": "Healthy", "message": "No failing finding (1 passed, 0 warnings)"}

    invalid = invalid_status(generation=6, reason="InvalidSpec", message="spec.minZones: Input should be >= 2",
                             previous=failing, now=NOW)
    assert health(kind, policy(kind, invalid, generation=6)) == {
        "status": "Degraded", "message": "InvalidSpec: spec.minZones: Input should be >= 2"}
    assert health(kind, policy(kind, invalid, generation=7))["status"] == "Progressing"
