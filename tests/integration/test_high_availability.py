"""Resilience on a cluster of the test's own: two replicas and one leader (the standby writes
nothing, takes over within 15 s of the leader's death, judges what changed afterwards and writes no
status twice for one change), and an operator that may not list one kind."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import yaml

from .conftest import LocalCluster
from .helpers import REPO, wait_for
from .operator_process import OperatorProcess, running
from .test_enforcement import get, shop_with_three_web_replicas

LEASE = ("lease", "sncguard-leader", "-n", "default")


def holder(cluster: LocalCluster) -> str:
    lease = get(cluster, *LEASE) or {}
    return (lease.get("spec") or {}).get("holderIdentity") or ""


def identity(process: OperatorProcess) -> str:
    return f"{socket.gethostname()}_{process.proc.pid}"


def test_the_standby_takes_over_within_15_s_and_writes_each_change_once(own_cluster: LocalCluster,
                                                                        tmp_path: Path) -> None:
    cluster = own_cluster
    world = [
        *shop_with_three_web_replicas(),
        {"apiVersion": "sncguard.io/v1alpha1", "kind": "ZoneSpread", "metadata": {"name": "other",
                                                                                  "namespace": "shop"},
         "spec": {"mode": "Audit", "minZones": 2, "selector": {"matchLabels": {"app": "nothing"}}}},
    ]
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(world))
    first = OperatorProcess(cluster.env, tmp_path / "operator-1.log")
    second = OperatorProcess(cluster.env, tmp_path / "operator-2.log")
    with running(first), running(second):
        wait_for(lambda: holder(cluster) in (identity(first), identity(second)), timeout=30,
                 message="a leader")
        leader, standby = (first, second) if holder(cluster) == identity(first) else (second, first)
        wait_for(lambda: (get(cluster, "zonespread", "sla", "-n", "shop").get("status") or {}).get("summary"),
                 timeout=60, message="the leader's verdict")
        time.sleep(3)
        assert standby.metric("sncguard_status_writes_total") == 0, "the standby wrote"
        assert standby.metric("sncguard_evaluation_duration_seconds_count") == 0, "the standby evaluated"
        other_version = get(cluster, "zonespread", "other", "-n", "shop")["metadata"]["resourceVersion"]
        sla_version = get(cluster, "zonespread", "sla", "-n", "shop")["metadata"]["resourceVersion"]

        # The leader dies without a word (no release of the Lease).
        killed = time.monotonic()
        os.killpg(leader.proc.pid, signal.SIGKILL)
        leader.proc.wait()
        wait_for(lambda: holder(cluster) == identity(standby), timeout=20, interval=0.1,
                 message="the standby to take the Lease over")
        takeover = time.monotonic() - killed
        assert takeover <= 15, f"the takeover took {takeover:.1f} s"

        # A change made afterwards is judged by the new leader, written once. The change is the
        # policy's own (four zones required of three replicas): a scale-down would be two changes
        # of the cluster, the replicas and then, a moment later, the pods going away, and the
        # engine evaluates the first at once (leading edge), so each would be written.
        cluster.kubectl("patch", "zonespread", "sla", "-n", "shop", "--type", "merge", "-p",
                        '{"spec": {"minZones": 4}}')
        wait_for(lambda: any(f["rule"] == "ZS-001" for f in get(cluster, "zonespread", "sla", "-n", "shop")
                             ["status"].get("findings") or ()), timeout=30, message="ZS-001 after minZones 4")
        time.sleep(3)
        assert standby.metric("sncguard_status_writes_total") == 1, "one change, one status write"
        assert get(cluster, "zonespread", "other", "-n", "shop")["metadata"]["resourceVersion"] == other_version, \
            "the takeover rewrote an unchanged status"
        assert get(cluster, "zonespread", "sla", "-n", "shop")["metadata"]["resourceVersion"] != sla_version
    (tmp_path / "takeover-seconds").write_text(f"{takeover:.2f}\n")


def test_a_kind_the_operator_may_not_list_leaves_only_its_readers_unjudged(own_cluster: LocalCluster,
                                                                         tmp_path: Path) -> None:
    """The operator's ClusterRole without persistentvolumes: TenantPolicies (LOC-002 reads volumes)
    say MissingPermission and name them; ZoneSpreads, which never read volumes, are judged."""
    cluster = own_cluster
    built = [d for d in yaml.safe_load_all(cluster.kubectl("kustomize", str(REPO / "deploy")).stdout) if d]
    (role,) = [d for d in built if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "sncguard"]
    for rule in role["rules"]:
        if "persistentvolumes" in rule.get("resources", ()):
            rule["resources"] = [r for r in rule["resources"] if r != "persistentvolumes"]
    role["metadata"] = {"name": "sncguard-without-volumes"}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "sncguard-without-volumes"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": "sncguard-without-volumes"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "limited"}]}
    kubeconfig = cluster.add_user("limited")
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all([role, binding]))
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"tenant": "acme"}}},
        {"apiVersion": "sncguard.io/v1alpha1", "kind": "ZoneSpread", "metadata": {"name": "sla", "namespace": "shop"},
         "spec": {"mode": "Audit"}},
        {"apiVersion": "sncguard.io/v1alpha1", "kind": "TenantPolicy", "metadata": {"name": "acme"},
         "spec": {"mode": "Audit", "tenant": "acme", "namespaceSelector": {"matchLabels": {"tenant": "acme"}}}},
    ]))

    def ready(kind: str, *where: str) -> dict:
        status = (get(cluster, kind, *where) or {}).get("status") or {}
        return next((c for c in status.get("conditions") or () if c["type"] == "Ready"), {})

    limited = OperatorProcess({"KUBECONFIG": str(kubeconfig)}, tmp_path / "operator.log", "--no-leader-election")
    with running(limited):
        wait_for(lambda: ready("zonespread", "sla", "-n", "shop").get("status") == "True", timeout=60,
                 message="the ZoneSpread judged")
        condition = wait_for(lambda: (c := ready("tenantpolicy", "acme")).get("reason") == "MissingPermission" and c,
                             timeout=60, message="the TenantPolicy unjudged for want of a permission")
        assert condition["status"] == "False" and "persistentvolumes" in condition["message"]

        # Granted again: the TenantPolicy is judged without a restart.
        role["rules"].append({"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "watch"]})
        cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(role))
        wait_for(lambda: ready("tenantpolicy", "acme").get("status") == "True", timeout=60,
                 message="the TenantPolicy judged once the permission is back")
