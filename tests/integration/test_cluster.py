"""The local control plane is a real one: real scheduler, controllers, garbage collector, OpenAPI."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import time

import pytest

from .helpers import REPO, create_namespace, wait_for

pytestmark = pytest.mark.integration

ZONES = {"node-a": "zone-a", "node-b": "zone-b", "node-c": "zone-c"}


def deployment(name: str, replicas: int, image: str = "pause:1") -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    })


def pods(cluster, namespace: str, selector: str) -> list[dict]:
    return cluster.kubectl_json("get", "pods", "-n", namespace, "-l", selector)["items"]


def is_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod.get("status", {}).get("conditions", []))


def wait_deployment_ready(cluster, namespace: str, name: str, replicas: int) -> dict:
    def ready():
        d = cluster.kubectl_json("get", "deployment", name, "-n", namespace)
        s = d.get("status", {})
        return d if s.get("readyReplicas") == replicas and s.get("availableReplicas") == replicas else None

    return wait_for(ready, timeout=60, message=lambda: f"deployment {name} ready:\n" + cluster.kubectl(
        "get", "pods", "-n", namespace, "-o", "wide", check=False).stdout)


def test_three_ready_nodes_in_three_zones(cluster):
    nodes = {n["metadata"]["name"]: n for n in cluster.kubectl_json("get", "nodes")["items"]}
    assert set(nodes) == set(ZONES)
    for name, node in nodes.items():
        labels = node["metadata"]["labels"]
        assert labels["topology.kubernetes.io/zone"] == ZONES[name]
        assert labels["topology.kubernetes.io/region"] == "eu-fr-paris"
        assert labels["kubernetes.io/hostname"] == name
        assert labels["kubernetes.io/os"] == "linux"
        conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conditions["Ready"] == "True"
        assert not node["spec"].get("taints"), "nodes must stay schedulable"
        assert not node["spec"].get("unschedulable")
        allocatable = node["status"]["allocatable"]
        assert (allocatable["cpu"], allocatable["memory"], allocatable["pods"]) == ("32", "128Gi", "250")


def test_deployment_pods_are_scheduled_and_become_ready(cluster, namespace):
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment("web", 3))
    wait_deployment_ready(cluster, namespace, "web", 3)

    running = pods(cluster, namespace, "app=web")
    assert len(running) == 3
    pod_ips = set()
    for pod in running:
        status = pod["status"]
        assert pod["spec"]["nodeName"] in ZONES
        assert status["phase"] == "Running"
        assert is_ready(pod)
        assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network("10.244.0.0/16")
        assert status["hostIP"] and status["startTime"]
        [container] = status["containerStatuses"]
        assert container["ready"] and "running" in container["state"]
        assert container["image"] == "pause:1" and container["containerID"]
        pod_ips.add(status["podIP"])
    assert len(pod_ips) == 3, "pod IPs are unique"

    # The real scheduler placed them: it records a Scheduled event per pod.
    def scheduled_events():
        events = cluster.kubectl_json("get", "events", "-n", namespace,
                                      "--field-selector", "reason=Scheduled")["items"]
        return len(events) >= 3 and events

    events = wait_for(scheduled_events, timeout=20, message="Scheduled events")
    assert {e.get("reportingComponent") or e["source"].get("component") for e in events} == {
        "default-scheduler"}


def test_deleting_a_deployment_removes_its_pods(cluster, namespace):
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment("doomed", 3))
    wait_deployment_ready(cluster, namespace, "doomed", 3)

    cluster.kubectl("delete", "deployment", "doomed", "-n", namespace, "--wait=false")
    # The garbage collector deletes the ReplicaSet and its pods; the fake kubelet finishes them.
    wait_for(lambda: not pods(cluster, namespace, "app=doomed")
             and not cluster.kubectl_json("get", "replicasets", "-n", namespace)["items"],
             timeout=60, message="the deployment's replicasets and pods to be gone")


def test_rolling_update_replaces_pods(cluster, namespace):
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment("roll", 3))
    wait_deployment_ready(cluster, namespace, "roll", 3)
    old = {p["metadata"]["uid"] for p in pods(cluster, namespace, "app=roll")}

    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment("roll", 3, image="pause:2"))
    cluster.kubectl("rollout", "status", "deployment/roll", "-n", namespace, "--timeout=60s")

    def only_new_pods():
        current = pods(cluster, namespace, "app=roll")
        return (len(current) == 3 and not old & {p["metadata"]["uid"] for p in current}
                and all(is_ready(p) and p["spec"]["containers"][0]["image"] == "pause:2"
                        for p in current))

    wait_for(only_new_pods, timeout=60, message="only new, ready pods")


def test_pod_in_a_fresh_namespace_lands_in_its_zone(cluster, namespace):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "zonal"}, "spec": {
        "nodeSelector": {"topology.kubernetes.io/zone": "zone-b"},
        "containers": [{"name": "main", "image": "pause:1"}]}}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod))
    got = wait_for(lambda: (p := cluster.kubectl_json("get", "pod", "zonal", "-n", namespace))
                   and is_ready(p) and p, timeout=30, message="pod zonal ready")
    assert got["spec"]["nodeName"] == "node-b"


def test_namespace_deletion_completes(cluster):
    ns = create_namespace(cluster, f"ns-deletion-{int(time.time() * 1000) % 10**8}")
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=deployment("app", 2))
    wait_deployment_ready(cluster, ns, "app", 2)
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
    wait_for(lambda: cluster.kubectl("get", "namespace", ns, check=False).returncode != 0,
             timeout=90, message=f"namespace {ns} to be gone")


def test_fake_kubelet_readiness_override_and_node_outage(cluster, namespace):
    annotation = "localcluster.sncguard/kubelet"
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "flaky", "annotations": {annotation: "not-ready"}},
           "spec": {"nodeName": "node-c", "containers": [{"name": "main", "image": "pause:1"}]}}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod))

    def get():
        return cluster.kubectl_json("get", "pod", "flaky", "-n", namespace)

    wait_for(lambda: get()["status"].get("phase") == "Running", message="flaky running")
    assert not is_ready(get())
    cluster.kubectl("annotate", "pod", "flaky", "-n", namespace, f"{annotation}-")
    wait_for(lambda: is_ready(get()), message="flaky ready once the annotation is gone")

    # A NotReady node's pods are left alone, as by a dead kubelet, until it is Ready again.
    def set_ready(status: str) -> None:
        patch = {"status": {"conditions": [{"type": "Ready", "status": status, "reason": "Test"}]}}
        cluster.kubectl("patch", "node", "node-c", "--subresource=status", "--type=strategic",
                        "-p", json.dumps(patch))

    set_ready("False")
    try:
        pod2 = dict(pod, metadata={"name": "stuck"})
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod2))
        time.sleep(2)
        stuck = cluster.kubectl_json("get", "pod", "stuck", "-n", namespace)
        assert stuck["status"].get("phase") == "Pending"
    finally:
        set_ready("True")
    wait_for(lambda: is_ready(cluster.kubectl_json("get", "pod", "stuck", "-n", namespace)),
             message="stuck ready once its node is back")


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.smoke.localcluster.test
spec:
  group: smoke.localcluster.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer, minimum: 1, description: How many.}
                colour: {type: string, enum: [red, green]}
            status:
              type: object
              x-kubernetes-preserve-unknown-fields: true
"""


def widget(name: str, size: int) -> str:
    return json.dumps({"apiVersion": "smoke.localcluster.test/v1", "kind": "Widget",
                       "metadata": {"name": name}, "spec": {"size": size, "colour": "red"}})


def test_crd_and_custom_objects_apply(cluster, namespace):
    crd_name = "widgets.smoke.localcluster.test"
    cluster.kubectl("apply", "-f", "-", input=CRD)
    try:
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd_name}", "--timeout=30s")
        # Client-side apply: a three-way merge that needs the served OpenAPI to parse.
        wait_for(lambda: cluster.kubectl("apply", "-n", namespace, "-f", "-", input=widget("one", 1)),
                 timeout=30, message="widget one applied")
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=widget("one", 2))
        # Server-side apply: the apiserver builds its field sets from the same OpenAPI models.
        cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=widget("two", 3))
        # The CRD itself, server-side, as `make install-crds` does.
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=CRD)

        items = cluster.kubectl_json("get", "widgets", "-n", namespace)["items"]
        assert {w["metadata"]["name"]: w["spec"]["size"] for w in items} == {"one": 2, "two": 3}
        table = cluster.kubectl("get", "widgets", "-n", namespace).stdout
        assert "SIZE" in table

        rejected = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=widget("bad", 0), check=False)
        assert rejected.returncode != 0 and "spec.size" in rejected.stderr

        explained = wait_for(lambda: cluster.kubectl("explain", "widgets.spec.size").stdout,
                             timeout=30, message="kubectl explain (OpenAPI v3)")
        assert "integer" in explained and "How many." in explained
    finally:
        cluster.kubectl("delete", "crd", crd_name, "--wait=false", check=False)


def test_status_cli_reports_up(cluster):
    res = subprocess.run([sys.executable, str(REPO / "hack/cluster/localcluster.py"), "status",
                          "--dir", str(cluster.dir)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("up:")
