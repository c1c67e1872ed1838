"""Faults, bounded and on loopback only, each on a control plane of its own: the operator killed in the
middle of enforcing, etcd restarted under it, and the API server throttling it with 429s. Each ends
converged, with the writes counted where a loop could hide."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import yaml

from .conftest import LocalCluster
from .helpers import wait_for
from .operator_process import OperatorProcess, running
from .test_enforcement import get, shop_with_three_web_replicas

TENANT_NAMESPACES = [f"acme-{i}" for i in range(6)]


def tenant_world() -> list[dict]:
    namespaces = [{"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": n, "labels": {"tenant": "acme", "zone": "dmz" if i % 2 else "lan"}}}
                  for i, n in enumerate(TENANT_NAMESPACES)]
    policy = {"apiVersion": "sncguard.io/v1alpha1", "kind": "TenantPolicy", "metadata": {"name": "acme"},
              "spec": {"mode": "Enforce", "tenant": "acme", "namespaceSelector": {"matchLabels": {"tenant": "acme"}},
                       "zones": {"dmz": {"matchLabels": {"zone": "dmz"}}, "lan": {"matchLabels": {"zone": "lan"}}},
                       "flows": [{"name": "web-to-lan", "from": {"zone": "dmz"}, "to": {"zone": "lan"},
                                  "ports": [{"port": 8443}]},
                                 {"name": "internet-to-web", "from": {"cidr": "0.0.0.0/0"}, "to": {"zone": "dmz"},
                                  "ports": [{"port": 443}]}]}}
    return [*namespaces, policy]


def owned_network_policies(cluster: LocalCluster) -> list[tuple[str, str, tuple[str, ...]]]:
    items = get(cluster, "networkpolicies", "-A", "-l", "app.kubernetes.io/managed-by=sncguard")["items"]
    return sorted((o["metadata"]["namespace"], o["metadata"]["name"],
                   tuple(r["uid"] for r in o["metadata"].get("ownerReferences") or ())) for o in items)


def test_killed_in_the_middle_of_enforcing_it_converges_with_no_duplicate_or_orphan(own_cluster: LocalCluster,
                                                                                  tmp_path: Path) -> None:
    cluster = own_cluster
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(tenant_world()))
    uid = get(cluster, "tenantpolicy", "acme")["metadata"]["uid"]
    rng = random.Random(7)
    for attempt in range(4):
        process = OperatorProcess(cluster.env, tmp_path / f"operator-{attempt}.log", "--no-leader-election")
        process.start()
        time.sleep(rng.uniform(0.3, 2.0))  # somewhere in its first evaluations and writes
        os.killpg(process.proc.pid, signal.SIGKILL)
        process.proc.wait()
        process.stop()
    with running(OperatorProcess(cluster.env, tmp_path / "operator-final.log", "--no-leader-election")) as final:
        def converged():
            status = get(cluster, "tenantpolicy", "acme").get("status") or {}
            return status.get("observedGeneration") == 1 and not status.get("enforcementErrors") and status
        wait_for(converged, timeout=60, message="the TenantPolicy converged")
        time.sleep(3)
        owned = owned_network_policies(cluster)
        writes = final.metric("sncguard_api_requests_total")
    # Per namespace: default deny, DNS, and the flows that concern it; all owned by the one policy.
    assert all(owners == (uid,) for _, _, owners in owned), owned
    per_namespace = {n: sorted(name for ns, name, _ in owned if ns == n) for n in TENANT_NAMESPACES}
    for namespace, names in per_namespace.items():
        assert {"sncguard-default-deny", "sncguard-allow-dns"} <= set(names), (namespace, names)
    assert len(owned) == len(set((ns, name) for ns, name, _ in owned))
    # Everything the killed operators applied was found as desired: the final one had little to do.
    assert writes < 4 * len(owned), f"{writes:.0f} requests to converge on {len(owned)} owned objects"


def test_an_etcd_restart_is_survived(own_cluster: LocalCluster, tmp_path: Path) -> None:
    cluster = own_cluster
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(shop_with_three_web_replicas()))

    def rules() -> set[str]:
        return {f["rule"] for f in (get(cluster, "zonespread", "sla", "-n", "shop").get("status") or {})
                .get("findings") or ()}

    with running(OperatorProcess(cluster.env, tmp_path / "operator.log", "--no-leader-election")) as operator:
        wait_for(lambda: (get(cluster, "zonespread", "sla", "-n", "shop").get("status") or {}).get("summary"),
                 timeout=60, message="a first verdict")
        assert "ZS-001" not in rules()
        cluster.restart("etcd")
        wait_for(lambda: cluster.kubectl("scale", "deployment", "web", "-n", "shop", "--replicas=1",
                                         check=False).returncode == 0, timeout=60, message="the API back")
        wait_for(lambda: "ZS-001" in rules(), timeout=60, message="the change after etcd came back")
        assert operator.alive()


def test_throttled_by_api_priority_and_fairness_it_waits_and_converges(own_cluster: LocalCluster,
                                                                       tmp_path: Path) -> None:
    """A FlowSchema puts the operator's user on a priority level of one seat that rejects what does not
    fit: 429 in plain text with Retry-After. Every policy still gets its status, the 429s are counted,
    and no traceback is logged (the running() context asserts it)."""
    cluster = own_cluster
    kubeconfig = cluster.add_user("throttled")
    cluster.kubectl("create", "clusterrolebinding", "throttled-admin", "--clusterrole=cluster-admin",
                    "--user=throttled")
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
         "metadata": {"name": "one-seat"},
         "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 1, "lendablePercent": 0,
                                                 "borrowingLimitPercent": 0,
                                                 "limitResponse": {"type": "Reject"}}}},
        {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": {"name": "throttled"},
         "spec": {"priorityLevelConfiguration": {"name": "one-seat"}, "matchingPrecedence": 100,
                  "rules": [{"subjects": [{"kind": "User", "user": {"name": "throttled"}}],
                             "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                                "clusterScope": True, "namespaces": ["*"]}]}]}},
    ]))
    policies = [{"apiVersion": "sncguard.io/v1alpha1", "kind": "ZoneSpread",
                 "metadata": {"name": f"sla-{i}", "namespace": "default"},
                 "spec": {"mode": "Audit", "minZones": 2, "selector": {"matchLabels": {"app": f"a{i}"}}}}
                for i in range(40)]
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(policies))
    throttled = OperatorProcess({"KUBECONFIG": str(kubeconfig)}, tmp_path / "operator.log", "--no-leader-election")
    with running(throttled):
        def all_judged() -> bool:
            items = get(cluster, "zonespreads", "-n", "default")["items"]
            return all((o.get("status") or {}).get("observedGeneration") == 1 for o in items)
        wait_for(all_judged, timeout=120, message="every ZoneSpread judged despite the throttling")
        counted = {k: v for k, v in throttled.metrics().items() if 'outcome="throttled"' in k}
    assert sum(counted.values()) > 0, "no 429 was seen: the FlowSchema did not bite"
    assert "Traceback" not in throttled.log_text()
