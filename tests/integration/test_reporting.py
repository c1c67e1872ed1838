"""Where people look: Prometheus metrics, Events on compliance changes, PolicyReports."""

from __future__ import annotations

import re
import urllib.request

from .helpers import reference, wait_for
from .test_zonespread import deployment, pdb, zonespread

REPORT_CRDS = reference.policy_report_crds()


def scrape(operator) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as response:
        return response.read().decode()


def sample(text: str, metric: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(metric + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def events(cluster, ns: str, reason: str) -> list[dict]:
    return [e for e in cluster.kubectl_json("get", "events", "-n", ns)["items"]
            if e["reason"] == reason and e["involvedObject"]["kind"] == "ZoneSpread"]


def test_metrics_and_events_follow_compliance(cluster, live_operator, namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=deployment("api", ns, 1))
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns))
    labels = {"kind": "ZoneSpread", "namespace": ns, "name": "sla"}
    wait_for(lambda: sample(scrape(live_operator), "sncguard_policy_compliant", **labels) == 0.0, timeout=30,
             message="sncguard_policy_compliant 0")
    text = scrape(live_operator)
    assert sample(text, "sncguard_findings", **labels, severity="high") >= 3
    assert sample(text, "sncguard_rule_results", **labels, rule="ZS-001", result="fail") == 1.0
    assert sample(text, "sncguard_zonespread_sla_eligible", namespace=ns, name="sla") == 0.0
    assert sample(text, "sncguard_api_requests_total", verb="patch", outcome="ok") >= 1
    # The informers say what they hold: the three zoned nodes, this test's namespace among others.
    assert sample(text, "sncguard_watched_objects", resource="nodes") == 3.0
    assert sample(text, "sncguard_watched_objects", resource="namespaces") >= 2
    assert sample(text, "sncguard_watched_objects", resource="deployments.apps") >= 1
    assert sample(text, "sncguard_informer_lists_total", resource="pods") == 1.0
    # The evaluation is timed once it is over, a moment after the gauges it set were scraped.
    wait_for(lambda: "sncguard_evaluation_duration_seconds_bucket" in scrape(live_operator), timeout=10,
             message="the evaluation's duration")
    (noncompliant,) = wait_for(lambda: events(cluster, ns, "NonCompliant"), timeout=15, message="a NonCompliant event")
    assert noncompliant["type"] == "Warning" and "ZS-001" in noncompliant["message"]

    # A change that moves no verdict posts no event.
    cluster.kubectl("label", "deployment", "api", "-n", ns, "example.com/touched=yes")
    cluster.kubectl("apply", "-f", "-", input=deployment("api", ns, 3, spread="DoNotSchedule") + "---" + pdb("api", ns))
    wait_for(lambda: sample(scrape(live_operator), "sncguard_policy_compliant", **labels) == 1.0, timeout=60,
             message="sncguard_policy_compliant 1")
    assert sample(scrape(live_operator), "sncguard_zonespread_sla_eligible", namespace=ns, name="sla") == 1.0
    wait_for(lambda: events(cluster, ns, "Compliant"), timeout=15, message="a Compliant event")
    assert len(events(cluster, ns, "NonCompliant")) == 1, "one event per change of compliance, not per evaluation"

    cluster.kubectl("delete", "zonespread", "sla", "-n", ns)
    wait_for(lambda: sample(scrape(live_operator), "sncguard_policy_compliant", **labels) is None, timeout=15,
             message="the deleted policy's series to go")


def test_policy_reports_are_written_owned_and_follow_the_verdict(cluster, live_operator, namespace):
    cluster.kubectl("apply", "--server-side", "-f", str(REPORT_CRDS))
    cluster.kubectl("wait", "--for", "condition=established", "--timeout=60s", "-f", str(REPORT_CRDS))
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=deployment("api", ns, 1))
    cluster.kubectl("apply", "-f", "-", input=zonespread(ns))

    def report():
        items = cluster.kubectl_json("get", "policyreports", "-n", ns)["items"]
        return items[0] if items and items[0].get("results") else None

    rep = wait_for(report, timeout=60, message="a PolicyReport")
    assert rep["metadata"]["name"] == "sncguard-zonespread-sla"
    owner = rep["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("ZoneSpread", "sla")
    by_rule = {r["rule"]: r for r in rep["results"]}
    assert by_rule["ZS-001"]["result"] == "fail" and by_rule["ZS-001"]["severity"] == "high"
    assert by_rule["ZS-001"]["category"] == "R1, R4"
    assert by_rule["ZS-001"]["resources"][0]["name"] == "api"
    assert rep["summary"]["fail"] == sum(1 for r in rep["results"] if r["result"] == "fail")
    version = rep["metadata"]["resourceVersion"]

    cluster.kubectl("label", "deployment", "api", "-n", ns, "example.com/touched=yes")
    cluster.kubectl("scale", "deployment", "api", "-n", ns, "--replicas=2")
    rep = wait_for(lambda: (r := report()) and {x["rule"]: x for x in r["results"]}["ZS-001"]["result"] == "pass"
                   and r, timeout=30, message="the report to follow the scale-up")
    assert rep["metadata"]["resourceVersion"] != version

    cluster.kubectl("delete", "zonespread", "sla", "-n", ns)
    wait_for(lambda: not cluster.kubectl_json("get", "policyreports", "-n", ns)["items"], timeout=30,
             message="the report to go with its policy (garbage collection)")
