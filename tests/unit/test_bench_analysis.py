"""hack/bench/analysis.py: audit events in, benchmark figures out (synthetic audit events, no cluster)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hack_modules import load

REPO = Path(__file__).resolve().parents[2]


A = load("bench_analysis", "hack/bench/analysis.py")
T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
OP = "sncguard-operator"


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def at(seconds: float) -> float:
    return (T0 + timedelta(seconds=seconds)).timestamp()


_ids = iter(range(10**6))


def event(verb: str, uri: str, received: float, done: float | None = None, *, user: str = OP,
          stage: str = "ResponseComplete", code: int = 200, ref: dict | None = None, body=None,
          audit_id: str | None = None) -> dict:
    e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request" if body is not None else "Metadata",
         "auditID": audit_id or f"id-{next(_ids)}", "stage": stage, "requestURI": uri, "verb": verb,
         "user": {"username": user, "groups": ["system:authenticated"]},
         "objectRef": ref or {}, "responseStatus": {"metadata": {}, "code": code},
         "requestReceivedTimestamp": ts(received), "stageTimestamp": ts(received if done is None else done)}
    if body is not None:
        e["requestObject"] = body
    return e


def status_patch(kind_plural: str, ns: str, name: str, received: float, done: float, status: dict, **kw) -> dict:
    base = f"/apis/sncguard.io/v1alpha1/namespaces/{ns}/{kind_plural}/{name}" if ns else \
        f"/apis/sncguard.io/v1alpha1/{kind_plural}/{name}"
    ref = {"resource": kind_plural, "namespace": ns, "name": name, "subresource": "status",
           "apiGroup": "sncguard.io", "apiVersion": "v1alpha1"}
    return event("patch", base + "/status", received, done, ref=ref, body={"status": status}, **kw)


def lines(*events: dict) -> list[str]:
    return [json.dumps(e) for e in events]


def finding(rule: str, name: str, result: str = "fail") -> dict:
    return {"rule": rule, "result": result, "severity": "high", "resource": {"kind": "Deployment", "name": name}}


# --------------------------------------------------------------------------- parsing


def test_load_requests_prefers_response_complete_and_skips_torn_lines():
    started = event("watch", "/api/v1/pods?watch=true", 1.0, 1.001, stage="ResponseStarted", audit_id="w1")
    complete = event("watch", "/api/v1/pods?watch=true", 1.0, 301.0, audit_id="w1")
    open_watch = event("watch", "/api/v1/nodes?watch=true", 2.0, 2.001, stage="ResponseStarted", audit_id="w2")
    get = event("get", "/api/v1/namespaces/default", 0.5)
    raw = [*lines(started, complete, open_watch, get), '{"kind": "Event", "audit', ""]
    requests = A.load_requests(raw)
    assert [r.audit_id for r in requests] == [get["auditID"], "w1", "w2"]
    w1 = requests[1]
    assert w1.stage == "ResponseComplete" and w1.done == pytest.approx(at(301.0))
    assert requests[2].stage == "ResponseStarted"
    assert all(r.is_watch for r in requests[1:]) and not requests[0].is_watch


def test_bodies_are_kept_only_for_the_named_user():
    mine = event("create", "/api/v1/namespaces/a/events", 1.0, body={"reason": "x"})
    theirs = event("create", "/api/v1/namespaces/a/events", 1.0, user="admin", body={"reason": "x"})
    requests = A.load_requests(lines(mine, theirs), keep_bodies_of=OP)
    assert {r.user: r.body for r in requests} == {OP: {"reason": "x"}, "admin": None}


def test_parse_time_keeps_microseconds():
    assert A.parse_time("2026-11-22T10:00:00.123456Z") - A.parse_time("2026-11-22T10:00:00Z") == pytest.approx(
        0.123456)


# --------------------------------------------------------------------------- identical requests


def test_identical_requests_need_same_verb_uri_and_body_within_one_second():
    uri = "/apis/sncguard.io/v1alpha1/namespaces/a/zonespreads/sla/status"
    events = [
        event("patch", uri, 10.0, body={"status": {"x": 1}}),
        event("patch", uri, 10.4, body={"status": {"x": 1}}),   # identical, 0.4 s later: counts
        event("patch", uri, 10.6, body={"status": {"x": 2}}),   # other body
        event("get", uri, 10.7),                                 # other verb
        event("patch", uri + "?x=1", 10.8, body={"status": {"x": 1}}),  # other URI
        event("patch", uri, 11.5, body={"status": {"x": 1}}),   # identical, 1.1 s after the last one
        event("get", "/api/v1/nodes", 20.0),
        event("get", "/api/v1/nodes", 20.999),                   # identical read, 0.999 s: counts
    ]
    result = A.identical_requests(A.load_requests(lines(*events)))
    assert result.count == 2
    assert {e["verb"] for e in result.examples} == {"patch", "get"}
    assert result.examples[0]["gap_s"] == pytest.approx(0.4, abs=1e-3)


def test_identical_bodies_compare_as_json_not_as_text():
    uri = "/api/v1/namespaces/a/events"
    events = [event("create", uri, 1.0, body={"a": 1, "b": 2}), event("create", uri, 1.5, body={"b": 2, "a": 1})]
    assert A.identical_requests(A.load_requests(lines(*events))).count == 1


# --------------------------------------------------------------------------- status timelines


def test_merge_patch_follows_rfc_7386():
    patched = A.merge_patch({"a": 1, "b": {"c": 2, "d": 3}, "l": [1]}, {"b": {"c": None, "e": 4}, "l": [2], "a": None})
    assert patched == {"b": {"d": 3, "e": 4}, "l": [2]}
    assert A.merge_patch({"a": 1}, [1]) == [1]
    original = {"a": {"b": 1}}
    A.merge_patch(original, {"a": {"b": 2}})
    assert original == {"a": {"b": 1}}


def test_status_timelines_replay_successful_operator_patches_in_completion_order():
    events = [
        status_patch("zonespreads", "a", "sla", 1.0, 1.01, {"summary": {"fail": 0}, "findings": []}),
        # received earlier but completed later than the next one: ordered by completion
        status_patch("zonespreads", "a", "sla", 2.0, 2.30, {"findings": [finding("ZS-001", "web")]}),
        status_patch("zonespreads", "a", "sla", 2.1, 2.20, {"summary": {"fail": 1}}),
        status_patch("zonespreads", "a", "sla", 3.0, 3.01, {"summary": {"fail": 9}}, code=409),  # refused
        status_patch("zonespreads", "a", "sla", 4.0, 4.01, {"summary": None}, user="admin"),     # not ours
        status_patch("tenantpolicies", "", "t00", 1.5, 1.6, {"namespaces": 10}),
    ]
    timelines = A.status_timelines(A.load_requests(lines(*events)), OP)
    zs = timelines[("ZoneSpread", "a", "sla")]
    assert [round(m - at(0), 2) for m, _ in zs] == [1.01, 2.2, 2.3]
    assert zs[-1][1] == {"summary": {"fail": 1}, "findings": [finding("ZS-001", "web")]}
    assert timelines[("TenantPolicy", "", "t00")][0][1] == {"namespaces": 10}
    assert A.first_status_times(timelines)[("TenantPolicy", "", "t00")] == pytest.approx(at(1.6))


def test_a_status_patch_that_changes_nothing_is_redundant():
    events = [
        status_patch("zonespreads", "a", "sla", 1.0, 1.01, {"summary": {"fail": 0}, "findings": []}),
        status_patch("zonespreads", "a", "sla", 2.0, 2.01, {"summary": {"fail": 1}}),
        status_patch("zonespreads", "a", "sla", 3.0, 3.01, {"summary": {"fail": 1}}),  # the same again
        status_patch("zonespreads", "b", "sla", 3.0, 3.01, {"summary": {"fail": 1}}),  # another policy
        status_patch("zonespreads", "a", "sla", 4.0, 4.01, {"findings": []}),  # merges to no change
    ]
    timelines = A.status_timelines(A.load_requests(lines(*events)), OP)
    assert A.redundant_status_writes(timelines) == 2
    assert A.redundant_status_writes(A.status_timelines(A.load_requests(lines(*events[:2])), OP)) == 0


def test_satisfied_expectations():
    status = {"findings": [finding("ZS-001", "web"), finding("ZS-004", "api", "warn")], "namespaces": 11}
    assert A.satisfied(status, {"type": "finding", "rule": "ZS-001", "name": "web"})
    assert not A.satisfied(status, {"type": "finding", "rule": "ZS-001", "name": "web", "present": False})
    assert not A.satisfied(status, {"type": "finding", "rule": "ZS-004", "name": "api"})
    assert A.satisfied(status, {"type": "finding", "rule": "ZS-004", "name": "api", "result": "warn"})
    assert A.satisfied(status, {"type": "at_least", "field": "namespaces", "value": 11})
    assert not A.satisfied(status, {"type": "at_least", "field": "namespaces", "value": 12})
    assert not A.satisfied({}, {"type": "at_least", "field": "namespaces", "value": 1})
    with pytest.raises(ValueError):
        A.satisfied(status, {"type": "nope"})


# --------------------------------------------------------------------------- changes


def change_request(tag: str, received: float, uri: str = "/apis/apps/v1/namespaces/a/deployments/web") -> dict:
    return event("patch", f"{uri}?fieldManager={tag}", received, received + 0.005, user="admin",
                 ref={"resource": "deployments", "namespace": "a", "name": "web"})


def test_latency_pairs_a_change_with_the_first_write_that_reflects_it():
    target = ("ZoneSpread", "a", "sla")
    expect = {"type": "finding", "rule": "ZS-001", "name": "web"}
    events = [
        status_patch("zonespreads", "a", "sla", 0.0, 0.01, {"findings": []}),
        change_request("bench-1", 10.0),
        # a write before the change does not count, nor one after it that does not show the finding
        status_patch("zonespreads", "a", "sla", 10.2, 10.25, {"summary": {"pass": 3}}),
        status_patch("zonespreads", "a", "sla", 10.5, 10.55, {"findings": [finding("ZS-001", "web")]}),
        status_patch("zonespreads", "a", "sla", 10.7, 10.75, {"findings": [finding("ZS-001", "web"),
                                                                            finding("ZS-004", "web")]}),
        event("create", "/api/v1/namespaces/a/events", 10.6, body={"reason": "NonCompliant"},
              ref={"resource": "events", "namespace": "a", "apiVersion": "v1"}),
        change_request("bench-2", 11.0),
        status_patch("zonespreads", "a", "sla", 11.3, 11.31, {"findings": []}),
        change_request("bench-3", 12.0),  # never reflected
    ]
    changes = [
        A.Change("bench-1", "scale-down", target, expect),
        A.Change("bench-2", "scale-up", target, {**expect, "present": False}),
        A.Change("bench-3", "scale-down", target, expect),
        A.Change("bench-4", "scale-down", target, expect),  # never made
    ]
    results = A.pair_changes(changes, A.load_requests(lines(*events), keep_bodies_of=OP), OP, horizon=5)
    one, two, three, four = results
    assert one.latency == pytest.approx(0.55, abs=1e-6)
    assert one.writes == 4 and one.status_writes_to_target == 3  # 3 status patches and an event
    assert two.latency == pytest.approx(0.31, abs=1e-6)
    assert two.writes == 1
    assert three.received is not None and three.latency is None
    assert four.received is None and four.latency is None

    requests = A.load_requests(lines(*events), keep_bodies_of=OP)
    phase_writes = A.writes(A.within(A.of_user(requests, OP), at(10.0), at(12.0)))
    assert len(phase_writes) == 5
    summary = A.summarize_changes(results, phase_writes)
    assert summary["changes"] == 4 and summary["effective_changes"] == 2
    assert summary["not_reflected"] == ["bench-3", "bench-4"]
    assert summary["p50_change_to_status_s"] == pytest.approx(0.43, abs=1e-3)
    assert summary["p99_change_to_status_s"] == pytest.approx(0.5476, abs=1e-3)
    assert summary["writes_per_change"] == 2.5
    assert summary["status_writes_per_change"] == 2.0 and summary["event_writes_per_change"] == 0.5
    assert summary["per_type"]["scale-down"]["reflected"] == 1
    assert summary["per_type"]["scale-up"]["writes_per_change"] == 1.0


def test_change_requests_are_found_by_their_field_manager_tag_only_when_successful():
    events = [
        change_request("bench-10", 1.0),
        event("create", "/api/v1/namespaces?fieldManager=bench-11", 2.0, user="admin", code=409),
        event("create", "/api/v1/namespaces?dryRun=All&fieldManager=bench-1", 3.0, user="admin"),
    ]
    found = A.find_change_requests(A.load_requests(lines(*events)), ["bench-1", "bench-10", "bench-11"])
    assert set(found) == {"bench-1", "bench-10"}
    assert found["bench-10"].received == pytest.approx(at(1.0))


def test_percentile_interpolates_between_ranks():
    assert A.percentile([], 50) is None
    assert A.percentile([3.0], 99) == 3.0
    assert A.percentile([1, 2, 3, 4], 50) == 2.5
    values = list(range(1, 101))
    assert A.percentile(values, 99) == pytest.approx(99.01)
    assert A.percentile(values, 100) == 100


def test_windows_writes_and_breakdown():
    events = [
        event("list", "/api/v1/pods", 1.0, ref={"resource": "pods"}),
        event("watch", "/api/v1/pods?watch=1", 1.1, stage="ResponseStarted", ref={"resource": "pods"}),
        event("patch", "/x/status", 2.0, ref={"resource": "zonespreads", "subresource": "status"}, body={}),
        event("create", "/api/v1/namespaces/a/events", 3.0, ref={"resource": "events"}, body={}),
        event("get", "/api/v1/nodes", 3.0, user="admin"),
    ]
    requests = A.of_user(A.load_requests(lines(*events)), OP)
    quiet = A.within(requests, at(1.05), at(3.0))
    assert [r.verb for r in quiet] == ["watch", "patch"]
    assert len(A.writes(requests)) == 2 and len(A.non_watch(requests)) == 3
    assert A.breakdown(requests) == {"list pods": 1, "watch pods": 1, "patch zonespreads/status": 1,
                                     "create events": 1}
    assert A.describe(requests[2]) == "patch zonespreads/status"


def test_a_policy_at_rest_with_another_verdict_than_the_world_states_is_a_wrong_verdict():
    compliant = {"conditions": [{"type": "Compliant", "status": "True"}]}
    failing = {"conditions": [{"type": "Compliant", "status": "False"}],
               "findings": [{"rule": "NET-004", "result": "fail"}, {"rule": "NET-005", "result": "warn"}]}
    timelines = {("ZoneSpread", "ns1", "sla"): [(1.0, compliant)],
                 ("TenantPolicy", "", "t01"): [(1.0, compliant), (2.0, failing)],
                 ("TenantPolicy", "", "t02"): [(1.0, failing), (9.0, compliant)]}
    wrong = A.wrong_at_rest(timelines, until=5.0, expected=lambda ref: "True")
    # t02 became compliant only after the cold start settled: at rest it was wrong too.
    assert wrong == {"TenantPolicy/t01": ["NET-004"], "TenantPolicy/t02": ["NET-004"]}


# ---- scaling: 1x -> 10x ----------------------------------------------------------------------------


def test_growth_exponent_reads_the_slope_on_log_log_axes():
    assert A.growth_exponent(4000, 10.0, 40000, 100.0) == 1.0  # linear
    assert A.growth_exponent(4000, 10.0, 40000, 1000.0) == 2.0  # quadratic
    assert A.growth_exponent(4000, 10.0, 40000, 10.0) == 0.0  # flat
    assert A.growth_exponent(4000, 10.0, 40000, 31.623) == pytest.approx(0.5, abs=1e-3)
    assert A.growth_exponent(4000, None, 40000, 10.0) is None
    assert A.growth_exponent(4000, 0.0, 40000, 10.0) is None, "no ratio to take from nothing"
    assert A.growth_exponent(4000, 10.0, 4000, 12.0) is None, "equal sizes: no slope"


def test_deep_size_counts_what_an_object_reaches_once():
    from dataclasses import dataclass

    @dataclass(slots=True)
    class Slotted:
        name: str
        labels: dict

    shared = "x" * 1000
    one = A.deep_size(Slotted("a", {"k": shared}))
    assert one > 1000
    two = A.deep_size([Slotted("a", {"k": shared}), Slotted("b", {"k": shared})])
    assert two < 2 * one, "the shared string counts once"
    assert A.deep_size(None) == 0 and A.deep_size(7) == 0, "singletons and small ints belong to nobody"
    assert A.deep_size({"a": [1, 2, "abc"]}) > A.deep_size({})


def test_memory_per_object_shares_the_marginal_cost_by_projection_size():
    per_ns = {"Namespace": 1, "Deployment": 10, "Pod": 20}
    unit = {"Namespace": 1000, "Deployment": 2000, "Pod": 1000}
    # weights 1000 + 20000 + 20000 = 41000 bytes of projections per namespace; 82000 bytes of RSS each.
    out = A.memory_per_object(82000, per_ns, unit)
    assert out == {"Namespace": 2000, "Deployment": 4000, "Pod": 2000}
    assert sum(out[k] * per_ns[k] for k in per_ns) == 82000
    assert A.memory_per_object(None, per_ns, unit) == {"Namespace": None, "Deployment": None, "Pod": None}
    assert A.memory_per_object(100, {"Pod": 1, "Other": 1}, {"Pod": 10})["Other"] is None


def _results(namespaces, cold, peak, cpu, after_cold, baseline=None, git="abc"):
    return {"cold_start_s": cold, "operator_peak_rss_mb": peak, "operator_cpu_s": cpu,
            "size": {"namespaces": namespaces, "pods": namespaces * 20, "deployments": namespaces * 10},
            "machine": {"git": git},
            "details": {"operator_rss_mb_after_cold_start": after_cold, "operator_rss_mb_baseline": baseline,
                        "operator_cpu_s_by_phase": {"cold_start": cpu / 2, "changes": cpu / 2},
                        "objects_per_namespace": {"Namespace": 1, "Deployment": 10, "Pod": 20},
                        "projection_bytes": {"Namespace": 1000, "Deployment": 2000, "Pod": 1000}}}


def test_scaling_from_1x_to_10x():
    base = _results(200, cold=10.0, peak=120.0, cpu=20.0, after_cold=110.0)
    scaled = _results(2000, cold=100.0, peak=570.0, cpu=2000.0, after_cold=560.0, baseline=70.0)
    out = A.scaling(base, scaled)
    assert out["size_ratio"] == 10.0 and out["size_measure"] == "pods"
    ex = out["exponents"]
    assert ex["cold_start_s"] == 1.0
    assert ex["operator_cpu_s"] == 2.0 and ex["operator_cpu_s_cold_start"] == 2.0
    # Above the empty operator's 70 MB: 50 MB -> 500 MB, linear; raw 120 -> 570 looks sublinear.
    assert out["rss"] == "above_baseline" and out["rss_baseline_mb"] == 70.0
    assert ex["operator_peak_rss_mb"] == 1.0
    assert ex["operator_peak_rss_mb_raw"] == pytest.approx(0.677, abs=1e-3)
    # (560 - 110) MiB over 1,800 more namespaces: 262,144 bytes each, shared out by projection size.
    assert out["marginal_rss_bytes_per_namespace"] == 262144
    per = out["memory_per_object_bytes"]
    assert per == {"Namespace": round(262144 * 1000 / 41000), "Deployment": round(262144 * 2000 / 41000),
                   "Pod": round(262144 * 1000 / 41000)}
    assert out["from"]["pods"] == 4000 and out["to"]["pods"] == 40000
    assert out["rss_method"] and out["memory_method"]


def test_scaling_without_a_baseline_uses_raw_rss():
    base = _results(200, cold=10.0, peak=100.0, cpu=20.0, after_cold=None)
    scaled = _results(2000, cold=100.0, peak=1000.0, cpu=200.0, after_cold=None)
    out = A.scaling(base, scaled)
    assert out["rss"] == "raw" and out["rss_baseline_mb"] is None
    assert out["exponents"]["operator_peak_rss_mb"] == 1.0
    # No RSS after the cold start: the peaks stand in.
    assert out["marginal_rss_bytes_per_namespace"] == round(900 * 1024 * 1024 / 1800)
    with pytest.raises(ValueError):
        A.scaling({"size": {}}, scaled)
