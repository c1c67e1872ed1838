"""ZoneSpread end to end: apply YAML to the real cluster, wait for the operator's status, assert on it."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta

from .helpers import create_namespace, wait_for
from .operator_process import OperatorProcess, running

ZONE = "topology.kubernetes.io/zone"


def deployment(name: str, ns: str, replicas: int, *, spread: str = "", node_selector: str = "") -> str:
    spread_yaml = ""
    if spread:
        spread_yaml = (f"      topologySpreadConstraints:\n"
                       f"        - {{maxSkew: 1, topologyKey: {ZONE}, whenUnsatisfiable: {spread},"
                       f" labelSelector: {{matchLabels: {{app: {name}}}}}}}\n")
    selector_yaml = f"      nodeSelector: {{{ZONE}: {node_selector}}}\n" if node_selector else ""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}, labels: {{app: {name}}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
{spread_yaml}{selector_yaml}      containers: [{{name: app, image: app:1}}]
"""


def pdb(name: str, ns: str, min_available: int | str = 1) -> str:
    return f"""
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: {name}, namespace: {ns}}}
spec: {{minAvailable: {json.dumps(min_available)}, selector: {{matchLabels: {{app: {name}}}}}}}
"""


def zonespread(ns: str, mode: str = "Audit", min_zones: int = 2, extra: str = "") -> str:
    return f"""
apiVersion: sncguard.io/v1alpha1
kind: ZoneSpread
metadata: {{name: sla, namespace: {ns}}}
spec: {{mode: {mode}, minZones: {min_zones}{extra}}}
"""


def status(cluster, ns: str) -> dict:
    return cluster.kubectl_json("get", "zonespread", "sla", "-n", ns).get("status") or {}


def condition(st: dict, type_: str) -> dict:
    return next((c for c in st.get("conditions") or () if c["type"] == type_), {})


def evaluated(cluster, ns: str, generation: int | None = None):
    def check():
        obj = cluster.kubectl_json("get", "zonespread", "sla", "-n", ns)
        st = obj.get("status") or {}
        want = generation or obj["metadata"]["generation"]
        return st if st.get("observedGeneration") == want else None
    return check


def running_zones(cluster, ns: str, app: str) -> list[str]:
    nodes = {n["metadata"]["name"]: n["metadata"]["labels"].get(ZONE)
             for n in cluster.kubectl_json("get", "nodes")["items"]}
    pods = cluster.kubectl_json("get", "pods", "-n", ns, "-l", f"app={app}")["items"]
    return sorted(nodes[p["spec"]["nodeName"]] for p in pods
                  if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"))


def test_enforce_spreads_a_deployment_over_three_zones(cluster, live_operator, namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=deployment("ledger", ns, 3) + "---" + pdb("ledger", ns, 2))
    wait_for(lambda: len(running_zones(cluster, ns, "ledger")) == 3, timeout=60, message="3 running pods")
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns, "Enforce", 3))

    def compliant():
        st = status(cluster, ns)
        return (condition(st, "Compliant").get("status") == "True" and st.get("slaEligible") is True
                and len(set(running_zones(cluster, ns, "ledger"))) == 3 and st)

    st = wait_for(compliant, timeout=90, message=lambda: f"compliant status; have {status(cluster, ns)}")
    assert st["zones"] == "zone-a,zone-b,zone-c" and st["observedZones"] == ["zone-a", "zone-b", "zone-c"]
    assert st["summary"]["fail"] == 0 and st["workloads"] == 1
    assert sorted(running_zones(cluster, ns, "ledger")) == ["zone-a", "zone-b", "zone-c"]

    deploy = cluster.kubectl_json("get", "deployment", "ledger", "-n", ns, "--show-managed-fields")
    (constraint,) = deploy["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert constraint == {"topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule", "maxSkew": 1, "minDomains": 3,
                          "labelSelector": {"matchLabels": {"app": "ledger"}}, "matchLabelKeys": ["pod-template-hash"]}
    managers = {(m["manager"], m["operation"]) for m in deploy["metadata"]["managedFields"]}
    manager = f"sncguard/zonespread/{ns}/sla"  # the policy's own field manager
    assert (manager, "Apply") in managers
    owned = next(m for m in deploy["metadata"]["managedFields"] if m["manager"] == manager)
    assert list(owned["fieldsV1"]["f:spec"]) == ["f:template"], "sncguard owns nothing outside the template"
    assert "kopf" not in json.dumps(deploy["metadata"].get("annotations") or {})
    assert not deploy["metadata"].get("finalizers")


def test_audit_reports_every_zone_rule_and_writes_nothing_but_status(cluster, live_operator, namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=deployment("api", ns, 1, node_selector="zone-a"))
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns))
    st = wait_for(evaluated(cluster, ns), timeout=30, message="a first status")
    assert condition(st, "Ready")["status"] == "True"
    assert condition(st, "Compliant")["status"] == "False"
    failing = {(f["rule"], f["resource"]["name"]) for f in st["findings"] if f["result"] == "fail"}
    assert failing == {("ZS-001", "api"), ("ZS-002", "api"), ("ZS-004", "api"), ("ZS-005", "api"),
                       ("ZS-006", "api")}
    assert st["slaEligible"] is False and st["summary"]["fail"] == 5
    by_rule = {f["rule"]: f for f in st["findings"]}
    assert by_rule["ZS-006"]["field"] == "spec.template.spec.nodeSelector"
    assert "zone-a" in by_rule["ZS-006"]["message"]

    deploy = cluster.kubectl_json("get", "deployment", "api", "-n", ns, "--show-managed-fields")
    assert deploy["metadata"]["generation"] == 1
    assert all(m["manager"] != "sncguard" for m in deploy["metadata"]["managedFields"])
    for pod in cluster.kubectl_json("get", "pods", "-n", ns)["items"]:
        assert not any("kopf" in key for key in pod["metadata"].get("annotations") or {})
        assert not pod["metadata"].get("finalizers")
    zs = cluster.kubectl_json("get", "zonespread", "sla", "-n", ns)
    assert not zs["metadata"].get("finalizers")
    assert not any("kopf" in key for key in zs["metadata"].get("annotations") or {})

    # The user fixes the workload: the operator sees the change and the verdict follows.
    fixed_api = deployment("api", ns, 3, spread="DoNotSchedule") + "---" + pdb("api", ns)
    cluster.kubectl("apply", "-f", "-", input=fixed_api)

    def fixed():
        st = status(cluster, ns)
        return condition(st, "Compliant").get("status") == "True" and st.get("slaEligible") and st
    st = wait_for(fixed, timeout=60, message=lambda: f"compliance after the fix; have {status(cluster, ns)}")
    assert st["findings"] == [] and st["summary"]["fail"] == 0


def test_soft_spreading_fails_only_where_hard_is_required(cluster, live_operator, namespace):
    ns = namespace
    soft = deployment("web", ns, 3, spread="ScheduleAnyway") + "---" + pdb("web", ns)
    cluster.kubectl("apply", "-f", "-", input=soft)
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns))
    st = wait_for(lambda: (s := status(cluster, ns)).get("summary") and s, timeout=30)
    st = wait_for(lambda: (s := status(cluster, ns)).get("observedZones") == ["zone-a", "zone-b", "zone-c"] and s,
                  timeout=60, message=lambda: f"three zones; have {status(cluster, ns)}")
    assert [f["rule"] for f in st["findings"] if f["result"] == "fail"] == ["ZS-003"]
    assert st["slaEligible"] is False

    cluster.kubectl("apply", "-f", "-", input=zonespread(ns, extra=", requireHardSpread: false"))
    st = wait_for(evaluated(cluster, ns, generation=2), timeout=30, message="re-evaluation of generation 2")
    assert condition(st, "Compliant")["status"] == "True"
    assert st["slaEligible"] is False, "soft spreading never makes the SLA eligible"


def test_status_is_not_rewritten_when_nothing_it_reads_changed(cluster, live_operator, namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=deployment("web", ns, 2, spread="DoNotSchedule") + "---" + pdb("web", ns))
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns))
    wait_for(lambda: len(status(cluster, ns).get("observedZones") or ()) == 2, timeout=60,
             message=lambda: f"two zones observed; have {status(cluster, ns)}")
    time.sleep(1.5)
    before = cluster.kubectl_json("get", "zonespread", "sla", "-n", ns)["metadata"]["resourceVersion"]
    # Changes the operator does not read: an annotation on the Deployment, a label on a pod.
    cluster.kubectl("annotate", "deployment", "web", "-n", ns, "example.com/touched=yes")
    pod = cluster.kubectl_json("get", "pods", "-n", ns)["items"][0]["metadata"]["name"]
    cluster.kubectl("label", "pod", pod, "-n", ns, "example.com/touched=yes")
    time.sleep(2)
    after = cluster.kubectl_json("get", "zonespread", "sla", "-n", ns)["metadata"]["resourceVersion"]
    assert before == after, "the status was written although nothing the rules read had changed"


def test_a_spec_the_operator_cannot_use_gets_invalid_spec_and_keeps_the_operator_alive(
        cluster, live_operator, namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=deployment("web", ns, 2, spread="DoNotSchedule") + "---" + pdb("web", ns))
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns))
    wait_for(evaluated(cluster, ns, generation=1), timeout=30)
    # The schema cannot check label keys inside a map; the operator's own validation does.
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns, extra=", selector: {matchLabels: {'bad key!': x}}"))
    st = wait_for(evaluated(cluster, ns, generation=2), timeout=30, message="evaluation of the bad generation")
    ready = condition(st, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "spec.selector.matchLabels" in ready["message"] and "bad key!" in ready["message"]
    assert condition(st, "Compliant")["status"] == "Unknown"
    assert "summary" in st, "the last verdict is kept"
    # And the operator goes on: a fix is picked up.
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns))
    st = wait_for(evaluated(cluster, ns, generation=3), timeout=30)
    assert condition(st, "Ready")["status"] == "True"


def test_a_waiver_accepts_a_finding_until_it_lapses_whichever_way_it_is_declared(cluster, live_operator, namespace):
    """Annotation and spec waivers arrive by WATCH; each flips the verdict once, and a lapsed or
    malformed one never waives."""
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=deployment("ledger", ns, 3, spread="DoNotSchedule"))
    wait_for(lambda: len(running_zones(cluster, ns, "ledger")) == 3, timeout=60, message="3 running pods")
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns))

    def verdict(compliant: str, predicate=lambda st: True):
        def check():
            st = status(cluster, ns)
            return st if condition(st, "Compliant").get("status") == compliant and predicate(st) else None
        return wait_for(check, timeout=30, message=lambda: f"Compliant={compliant}; have {status(cluster, ns)}")

    st = verdict("False")
    assert {(f["rule"], f["result"]) for f in st["findings"]} == {("ZS-005", "fail")}

    future = (time.gmtime(time.time() + 30 * 86400))
    until = time.strftime("%Y-%m-%d", future)
    cluster.kubectl("annotate", "deployment", "ledger", "-n", ns,
                    f"sncguard.io/waive=ZS-005 until {until}: batch ledger, no PDB (ticket OPS-12)")
    st = verdict("True")
    assert st["waived"] == [{"rule": "ZS-005", "resource": {"kind": "Deployment", "namespace": ns, "name": "ledger"},
                             "until": until, "reason": "batch ledger, no PDB (ticket OPS-12)", "origin": "annotation"}]
    assert st["findings"] == [] and st["summary"]["fail"] == 0 and st["summary"]["skip"] >= 1
    version = cluster.kubectl_json("get", "zonespread", "sla", "-n", ns)["metadata"]["resourceVersion"]
    time.sleep(3)
    assert cluster.kubectl_json("get", "zonespread", "sla", "-n", ns)["metadata"]["resourceVersion"] == version, \
        "a waived verdict is written once"

    cluster.kubectl("annotate", "--overwrite", "deployment", "ledger", "-n", ns,
                    "sncguard.io/waive=ZS-005 until 2020-01-31: the old exception")
    st = verdict("False")
    (lapsed,) = st["findings"]
    assert lapsed["rule"] == "ZS-005" and "has lapsed: the old exception" in lapsed["message"]
    assert "waived" not in st

    cluster.kubectl("annotate", "--overwrite", "deployment", "ledger", "-n", ns,
                    f"sncguard.io/waive=ZS-05 until {until}: a typo waives nothing")
    st = verdict("False", lambda st: "waiverErrors" in st)
    assert "ZS-05 is no rule of the catalogue" in st["waiverErrors"][0]

    cluster.kubectl("annotate", "deployment", "ledger", "-n", ns, "sncguard.io/waive-")
    cluster.kubectl("apply", "-f", "-", input=zonespread(
        ns, extra=f", waivers: [{{rule: ZS-005, kind: Deployment, name: ledger, until: '{until}',"
                  f" reason: accepted by the CISO}}]"))
    st = verdict("True", lambda st: "waiverErrors" not in st)
    assert [w["origin"] for w in st["waived"]] == ["policy"]


# ---- the SLA ledger (R1, R6) ---------------------------------------------------------------------


def ledger(cluster, ns: str) -> dict:
    return status(cluster, ns).get("slaLedger") or {}


def resource_version(cluster, ns: str) -> str:
    return cluster.kubectl_json("get", "zonespread", "sla", "-n", ns)["metadata"]["resourceVersion"]


def assert_still(cluster, ns: str, seconds: float = 3.0) -> None:
    """No status write over `seconds`: the ledger is written on changes only, never because time passes."""
    before = resource_version(cluster, ns)
    time.sleep(seconds)
    assert resource_version(cluster, ns) == before, "the status was written although nothing changed"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ledger_where(cluster, ns: str, predicate, message: str, timeout: float = 60) -> dict:
    return wait_for(lambda: (led := ledger(cluster, ns)) and predicate(led) and led, timeout=timeout,
                    message=lambda: f"{message}; have {ledger(cluster, ns)}")


def closed_intervals(led: dict) -> list[dict]:
    return [i for m in led["months"] for i in m["intervals"] if "end" in i]


def settled(cluster, ns: str, app: str, pods: int) -> None:
    """`pods` pods of `app` run, in as many zones as they can, and no other pod of it is left."""
    def done():
        items = cluster.kubectl_json("get", "pods", "-n", ns, "-l", f"app={app}")["items"]
        zones = running_zones(cluster, ns, app)
        return len(items) == len(zones) == pods and len(set(zones)) == min(pods, 3) and len(
            status(cluster, ns).get("observedZones") or ()) == min(pods, 3)
    wait_for(done, timeout=60, message=lambda: f"{pods} pods of {app} running; have {status(cluster, ns)}")


def test_the_sla_ledger_records_non_eligibility_with_its_cause_and_no_write_at_rest(cluster, live_operator,
                                                                                   namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=deployment("web", ns, 3, spread="DoNotSchedule") + "---" + pdb("web", ns))
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns))
    settled(cluster, ns, "web", 3)
    led = ledger_where(cluster, ns, lambda led: led["current"]["eligible"], "an eligible ledger")
    started = led["startedAt"]
    assert_still(cluster, ns)

    # One replica: pods in one zone (ZS-004), and why (ZS-001). Not eligible: an interval opens.
    cluster.kubectl("scale", "deployment", "web", "-n", ns, "--replicas=1")
    causes = [{"kind": "Deployment", "namespace": ns, "name": "web", "rule": rule} for rule in ("ZS-001", "ZS-004")]
    led = ledger_where(cluster, ns, lambda led: led["current"].get("causes") == causes, "not eligible, for web")
    since = led["current"]["since"]
    assert led["current"]["eligible"] is False
    assert led["months"][-1]["intervals"][-1] == {"start": since, "causes": causes}
    settled(cluster, ns, "web", 1)
    assert_still(cluster, ns)

    # Back to three: eligible again; the interval closes with its cause, the seconds add up.
    cluster.kubectl("scale", "deployment", "web", "-n", ns, "--replicas=3")
    led = ledger_where(cluster, ns, lambda led: led["current"]["eligible"], "eligible again")
    # (While the new pods start, the causes may narrow to ZS-004 alone: a new interval then.)
    intervals = [i for i in closed_intervals(led) if parse(i["start"]) >= parse(since)]
    assert intervals[0]["start"] == since and intervals[0]["causes"] == causes
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(intervals))
    assert intervals[-1]["end"] == led["current"]["since"] == led["accountedUntil"]
    assert led["startedAt"] == started, "the ledger continues"
    totals = led["totals"]
    assert totals["notEligibleSeconds"] >= 1 and totals["unobservedSeconds"] == 0
    assert sum(totals.values()) == (parse(led["accountedUntil"]) - parse(started)).total_seconds()
    assert sum(m["notEligibleSeconds"] for m in led["months"]) == totals["notEligibleSeconds"] == sum(
        (parse(i["end"]) - parse(i["start"])).total_seconds() for i in closed_intervals(led))
    settled(cluster, ns, "web", 3)
    assert_still(cluster, ns)

    # The counter adds the time since the last change at scrape time.
    labels = f'{{name="sla",namespace="{ns}"}}'
    counted = live_operator.metrics()[f"sncguard_sla_eligible_seconds_total{labels}"]
    eligible = (datetime.now(UTC) - parse(started)).total_seconds() - totals["notEligibleSeconds"]
    assert eligible - 3 <= counted <= eligible + 1


def set_ready(cluster, node: str, ready: bool, since: datetime) -> None:
    """The node's Ready condition, as a kubelet (or the node lifecycle controller) would post it."""
    now = rfc3339(datetime.now(UTC))
    condition = {"type": "Ready", "status": "True" if ready else "False",
                 "reason": "KubeletReady" if ready else "KubeletNotReady", "message": "set by the test",
                 "lastHeartbeatTime": now, "lastTransitionTime": rfc3339(since)}
    cluster.api().must("PATCH", f"/api/v1/nodes/{node}/status", {"status": {"conditions": [condition]}},
                       content_type="application/strategic-merge-patch+json")


def heartbeat(cluster, node: str) -> None:
    """A kubelet's heartbeat: lastHeartbeatTime moves, nothing else."""
    current = next(c for c in cluster.kubectl_json("get", "node", node)["status"]["conditions"] if c["type"] == "Ready")
    cluster.api().must("PATCH", f"/api/v1/nodes/{node}/status", {"status": {"conditions": [
        {**current, "lastHeartbeatTime": rfc3339(datetime.now(UTC))}]}},
        content_type="application/strategic-merge-patch+json")


def test_a_zone_outage_is_recorded_from_its_report_and_ended_when_a_node_is_back(cluster, live_operator, namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=deployment("web", ns, 3, spread="DoNotSchedule") + "---" + pdb("web", ns))
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns))
    settled(cluster, ns, "web", 3)
    ledger_where(cluster, ns, lambda led: led["current"]["eligible"], "an eligible ledger")
    zone_a = [n["metadata"]["name"] for n in cluster.kubectl_json("get", "nodes", "-l", f"{ZONE}=zone-a")["items"]]
    others = [n["metadata"]["name"] for n in cluster.kubectl_json("get", "nodes", "-l", f"{ZONE}!=zone-a")["items"]]
    assert zone_a and others
    # Heartbeats change nothing sncguard reads: no evaluation writes, and no outage.
    for node in zone_a + others:
        heartbeat(cluster, node)
    assert_still(cluster, ns)
    try:
        # The nodes of zone-a reported NotReady 30 s before sncguard could see it (the last of them
        # counts): the outage starts at the report, the earliest of report and detection (R6).
        reported = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
        for i, node in enumerate(zone_a):
            set_ready(cluster, node, False, reported - timedelta(seconds=len(zone_a) - 1 - i))
            if i < len(zone_a) - 1:
                time.sleep(0.5)
        led = ledger_where(cluster, ns, lambda led: led.get("zoneOutages"), "an outage of zone-a")
        assert led["zoneOutages"] == [{"zone": "zone-a", "start": rfc3339(reported)}]
        assert led["current"]["eligible"] is True, "the provider's outage is no cause of the tenant's"
        assert live_operator.metrics()['sncguard_zone_outage{zone="zone-a"}'] == 1
        assert live_operator.metrics()['sncguard_zone_outage{zone="zone-b"}'] == 0
        assert_still(cluster, ns)

        # One node of zone-a is Ready again: the outage ends when it said so.
        back = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
        set_ready(cluster, zone_a[0], True, back)
        led = ledger_where(cluster, ns, lambda led: "end" in led["zoneOutages"][0], "the outage's end")
        assert led["zoneOutages"] == [{"zone": "zone-a", "start": rfc3339(reported), "end": rfc3339(back)}]
        assert live_operator.metrics()['sncguard_zone_outage{zone="zone-a"}'] == 0
        assert_still(cluster, ns)
    finally:
        for node in zone_a:
            set_ready(cluster, node, True, datetime.now(UTC))


def test_the_sla_ledger_survives_an_operator_restart_and_counts_the_gap_unobserved(own_cluster, tmp_path):
    cluster = own_cluster
    ns = create_namespace(cluster, "ledger")
    cluster.kubectl("apply", "-f", "-", input=deployment("web", ns, 1, spread="DoNotSchedule") + "---" + pdb("web", ns)
                    + "---" + zonespread(ns))
    with running(OperatorProcess(cluster.env, tmp_path / "operator-1.log")):
        ledger_where(cluster, ns, lambda led: not led["current"]["eligible"], "a ledger, not eligible")
        time.sleep(2)
        cluster.kubectl("scale", "deployment", "web", "-n", ns, "--replicas=3")
        settled(cluster, ns, "web", 3)
        before = ledger_where(cluster, ns, lambda led: led["current"]["eligible"], "eligible")
        assert before["totals"]["notEligibleSeconds"] >= 2
        assert_still(cluster, ns, 2)
        version = resource_version(cluster, ns)
    stopped = datetime.now(UTC)
    time.sleep(5)  # nobody observes

    with running(OperatorProcess(cluster.env, tmp_path / "operator-2.log")) as second:
        wait_for(lambda: second.metric("sncguard_evaluation_duration_seconds_count") >= 1, timeout=60,
                 message="the restarted operator's first evaluation")
        time.sleep(2)
        # A restart on an unchanged world writes nothing: the ledger goes on as it was, `since` kept.
        assert resource_version(cluster, ns) == version and second.metric("sncguard_status_writes_total") == 0
        assert ledger(cluster, ns) == before
        # The gap is on the Lease, written with the takeover itself.
        lease = cluster.kubectl_json("get", "lease", "sncguard-leader", "-n", "default")
        ((gap_start, gap_end),) = json.loads(lease["metadata"]["annotations"]["sncguard.io/unobserved"])
        # (to whole seconds: the 5 s asleep, less the fraction cut off its end)
        assert parse(gap_start) <= stopped and parse(gap_end) >= stopped + timedelta(seconds=4)
        gap = int((parse(gap_end) - parse(gap_start)).total_seconds())
        # The counter leaves the gap out.
        counted = second.metrics()[f'sncguard_sla_eligible_seconds_total{{name="sla",namespace="{ns}"}}']
        eligible_for = (datetime.now(UTC) - parse(before["accountedUntil"])).total_seconds() - gap
        assert eligible_for - 2 <= counted - before["totals"]["eligibleSeconds"] <= eligible_for + 1

        # The next change folds the gap in: nothing reset, the gap unobserved, never counted eligible.
        cluster.kubectl("scale", "deployment", "web", "-n", ns, "--replicas=1")
        after = ledger_where(cluster, ns, lambda led: not led["current"]["eligible"], "not eligible again")
        assert after["startedAt"] == before["startedAt"]
        assert after["totals"]["notEligibleSeconds"] == before["totals"]["notEligibleSeconds"]
        assert after["totals"]["unobservedSeconds"] == gap
        assert sum(m["unobservedSeconds"] for m in after["months"]) == gap
        elapsed = (parse(after["accountedUntil"]) - parse(before["accountedUntil"])).total_seconds()
        assert after["totals"]["eligibleSeconds"] == before["totals"]["eligibleSeconds"] + elapsed - gap
        settled(cluster, ns, "web", 1)
        assert_still(cluster, ns)
