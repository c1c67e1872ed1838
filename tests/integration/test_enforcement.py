"""Enforce mode and reports without fights, orphans or lost findings, on a control plane of their own
with the real Velero v1.16 and PolicyReport CRDs. Where a loop could hide, the writes are counted
(resourceVersions that move)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from .conftest import LocalCluster
from .helpers import wait_for
from .operator_process import OperatorProcess, running

POLICY = "sncguard.io/v1alpha1"


def apply(cluster: LocalCluster, *objects: dict) -> None:
    cluster.kubectl("apply", "--server-side", "--field-manager=test", "-f", "-",
                    input=yaml.safe_dump_all(list(objects)))


def get(cluster: LocalCluster, *args: str) -> dict | None:
    res = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(res.stdout) if res.returncode == 0 else None


def version(cluster: LocalCluster, *args: str) -> str | None:
    obj = get(cluster, *args)
    return obj["metadata"]["resourceVersion"] if obj else None


def namespace(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pinned_deployment(ns: str, zone: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}},
                     "template": {"metadata": {"labels": {"app": "app"}},
                                  "spec": {"nodeSelector": {"topology.kubernetes.io/zone": zone},
                                           "containers": [{"name": "c", "image": "registry.example/app:1"}]}}}}


def shop_with_three_web_replicas() -> list[dict]:
    """Namespace shop, a Deployment web of three replicas, and an Audit ZoneSpread sla over it."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "c", "image": "registry.example/web:1"}]}}}},
        {"apiVersion": POLICY, "kind": "ZoneSpread", "metadata": {"name": "sla", "namespace": "shop"},
         "spec": {"mode": "Audit", "minZones": 2}},
    ]


def backup_policy(ns: str, name: str) -> dict:
    return {"apiVersion": POLICY, "kind": "BackupPolicy", "metadata": {"name": name, "namespace": ns},
            "spec": {"mode": "Enforce", "veleroNamespace": "velero", "storageLocation": "offsite", "rpo": "24h"}}


def test_backup_policies_own_one_schedule_each_and_leave_nothing_behind(own_cluster: LocalCluster,
                                                                        tmp_path: Path) -> None:
    cluster = own_cluster
    apply(cluster, namespace("shop"), namespace("velero"))
    apply(cluster, pinned_deployment("shop", "zone-a"),
          # The backup target sits in the workload's zone: BK-002 fails, about an object in Velero's namespace.
          {"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
           "metadata": {"name": "offsite", "namespace": "velero",
                        "labels": {"topology.kubernetes.io/zone": "zone-a"},
                        "annotations": {"sncguard.io/encryption": "SSE-KMS"}},
           "spec": {"provider": "aws", "objectStorage": {"bucket": "b"}, "config": {"region": "eu-fr-paris"}}},
          # Someone else's Schedule: never touched.
          {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "users-own", "namespace": "velero"},
           "spec": {"schedule": "0 3 * * *", "template": {"includedNamespaces": ["shop"]}}},
          backup_policy("shop", "a"), backup_policy("shop", "b"))
    users_own = version(cluster, "schedules.velero.io", "users-own", "-n", "velero")

    with running(OperatorProcess(cluster.env, tmp_path / "operator-1.log")):
        for name in ("a", "b"):
            wait_for(lambda name=name: get(cluster, "schedules.velero.io", f"sncguard-shop.{name}", "-n", "velero"),
                     timeout=60, message=f"the Schedule of BackupPolicy shop/{name}")
            wait_for(lambda name=name: get(cluster, "policyreports.wgpolicyk8s.io",
                                           f"sncguard-backuppolicy-shop.{name}", "-n", "velero"),
                     timeout=30, message=f"BackupPolicy shop/{name}'s report in Velero's namespace")
        versions = {name: version(cluster, "schedules.velero.io", f"sncguard-shop.{name}", "-n", "velero")
                    for name in ("a", "b")}
        away = get(cluster, "policyreports.wgpolicyk8s.io", "sncguard-backuppolicy-shop.a", "-n", "velero")
        uid_a = get(cluster, "backuppolicy", "a", "-n", "shop")["metadata"]["uid"]
        time.sleep(8)  # long enough for a fight, or for the garbage collector to take a report it refuses
        assert {name: version(cluster, "schedules.velero.io", f"sncguard-shop.{name}", "-n", "velero")
                for name in ("a", "b")} == versions, "two policies of one namespace rewrote their Schedules"
        again = get(cluster, "policyreports.wgpolicyk8s.io", "sncguard-backuppolicy-shop.a", "-n", "velero")
        assert again is not None and again["metadata"]["resourceVersion"] == away["metadata"]["resourceVersion"]
    assert "ownerReferences" not in away["metadata"]
    assert away["metadata"]["labels"]["sncguard.io/policy-uid"] == uid_a
    assert ("BK-002", "fail") in [(r["rule"], r["result"]) for r in away["results"]]
    home = get(cluster, "policyreports.wgpolicyk8s.io", "sncguard-backuppolicy-a", "-n", "shop")
    assert [o["uid"] for o in home["metadata"]["ownerReferences"]] == [uid_a]

    # A policy deleted while sncguard is down leaves nothing behind once it is back.
    cluster.kubectl("delete", "backuppolicy", "b", "-n", "shop")
    with running(OperatorProcess(cluster.env, tmp_path / "operator-2.log")):
        wait_for(lambda: get(cluster, "schedules.velero.io", "sncguard-shop.b", "-n", "velero") is None,
                 timeout=30, message="the orphaned Schedule deleted")
        wait_for(lambda: get(cluster, "policyreports.wgpolicyk8s.io", "sncguard-backuppolicy-shop.b",
                             "-n", "velero") is None, timeout=30, message="the orphaned report deleted")
        assert version(cluster, "schedules.velero.io", "sncguard-shop.a", "-n", "velero") == versions["a"]
        assert version(cluster, "schedules.velero.io", "users-own", "-n", "velero") == users_own

        # And one deleted while it runs.
        cluster.kubectl("delete", "backuppolicy", "a", "-n", "shop")
        wait_for(lambda: get(cluster, "schedules.velero.io", "sncguard-shop.a", "-n", "velero") is None,
                 timeout=30, message="the deleted policy's Schedule")
        wait_for(lambda: get(cluster, "policyreports.wgpolicyk8s.io", "sncguard-backuppolicy-shop.a",
                             "-n", "velero") is None, timeout=30, message="the deleted policy's report")
    assert version(cluster, "schedules.velero.io", "users-own", "-n", "velero") == users_own


def tenant_policy() -> dict:
    return {"apiVersion": POLICY, "kind": "TenantPolicy", "metadata": {"name": "acme"},
            "spec": {"mode": "Enforce", "tenant": "acme", "namespaceSelector": {"matchLabels": {"tenant": "acme"}}}}


def test_owned_network_policies_are_put_back_and_refused_writes_retried(own_cluster: LocalCluster,
                                                                         tmp_path: Path) -> None:
    cluster = own_cluster
    apply(cluster, namespace("acme-web", tenant="acme"), namespace("acme-api"))
    # A quota refuses every NetworkPolicy in acme-api, which is not the tenant's yet.
    apply(cluster, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "np", "namespace": "acme-api"},
                    "spec": {"hard": {"count/networkpolicies.networking.k8s.io": "0"}}})
    apply(cluster, tenant_policy())
    deny = ("networkpolicy", "sncguard-default-deny", "-n", "acme-web")

    with running(OperatorProcess(cluster.env, tmp_path / "operator.log")):
        wait_for(lambda: get(cluster, *deny), timeout=60, message="the default deny in acme-web")

        # Someone widens the default deny: it now admits everything. It is put back, once.
        before = int(version(cluster, *deny))
        cluster.kubectl("patch", *deny, "--type=merge", "-p", '{"spec": {"ingress": [{}]}}')
        wait_for(lambda: "ingress" not in get(cluster, *deny)["spec"], timeout=30,
                 message="the widened default deny put back")
        time.sleep(5)
        repaired = get(cluster, *deny)
        assert repaired["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        moves = [int(version(cluster, *deny))]
        # An applier (Argo CD, say) applying the same fields every second causes no write either.
        manifest = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "sncguard-default-deny", "namespace": "acme-web"},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
        for _ in range(6):
            cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=argocd-controller",
                            "-f", "-", input=yaml.safe_dump(manifest))
            time.sleep(1)
            moves.append(int(version(cluster, *deny)))
        assert moves[0] > before
        # The applier's first apply records it as a co-owner (managedFields: one write of its own);
        # after that neither it nor sncguard changes anything: no fight.
        assert len(set(moves[1:])) == 1, f"the default deny kept changing: {moves}"
        managers = {m["manager"] for m in get(cluster, *deny, "--show-managed-fields")["metadata"]["managedFields"]}
        assert {"sncguard", "argocd-controller"} <= managers

        # The quota refuses the namespace that joins: reported, then retried until it goes through.
        cluster.kubectl("label", "namespace", "acme-api", "tenant=acme")
        wait_for(lambda: any("quota" in e for e in (get(cluster, "tenantpolicy", "acme")["status"]
                                                    .get("enforcementErrors") or ())),
                 timeout=30, message="the quota's refusal in enforcementErrors")
        cluster.kubectl("patch", "resourcequota", "np", "-n", "acme-api", "--type=merge",
                        "-p", '{"spec": {"hard": {"count/networkpolicies.networking.k8s.io": "10"}}}')
        wait_for(lambda: get(cluster, "networkpolicy", "sncguard-default-deny", "-n", "acme-api"), timeout=60,
                 message="the refused default deny applied once the quota allows it, with no other event")
        wait_for(lambda: not get(cluster, "tenantpolicy", "acme")["status"].get("enforcementErrors"), timeout=30,
                 message="enforcementErrors cleared")


def test_two_enforcing_zonespreads_keep_each_its_own_constraint(own_cluster: LocalCluster, tmp_path: Path) -> None:
    """One spreads over zones, the other over hosts, on the same Deployment. Under one shared field
    manager each apply would remove the other's constraint, and the pods would roll forever."""
    cluster = own_cluster
    apply(cluster, namespace("shop"))
    apply(cluster, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
                    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "c", "image": "registry.example/web:1"}]}}}},
          {"apiVersion": POLICY, "kind": "ZoneSpread", "metadata": {"name": "zones", "namespace": "shop"},
           "spec": {"mode": "Enforce", "minZones": 2}},
          {"apiVersion": POLICY, "kind": "ZoneSpread", "metadata": {"name": "hosts", "namespace": "shop"},
           "spec": {"mode": "Enforce", "minZones": 2, "topologyKey": "kubernetes.io/hostname"}})
    web = ("deployment", "web", "-n", "shop")

    def keys() -> list[str]:
        spec = get(cluster, *web)["spec"]["template"]["spec"]
        return sorted(c["topologyKey"] for c in spec.get("topologySpreadConstraints") or ())

    with running(OperatorProcess(cluster.env, tmp_path / "operator.log")):
        wait_for(lambda: keys() == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"], timeout=60,
                 message="both constraints on the Deployment")
        generation = get(cluster, *web)["metadata"]["generation"]
        time.sleep(8)
        assert keys() == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
        assert get(cluster, *web)["metadata"]["generation"] == generation, "the two policies rewrote the template"
        owners = {m["manager"] for m in get(cluster, *web, "--show-managed-fields")["metadata"]["managedFields"]}
        assert {"sncguard/zonespread/shop/zones", "sncguard/zonespread/shop/hosts"} <= owners


def test_a_drill_starts_by_a_timer_a_margin_before_the_restore_test_runs_out(own_cluster: LocalCluster,
                                                                            tmp_path: Path) -> None:
    """restoreTestInterval 1h, last restore test 53m50s ago: the drill falls due in 10 s (a tenth of the
    interval before BK-006 would fail), with nothing else happening in the cluster to wake the operator."""
    cluster = own_cluster
    now = datetime.now(UTC)
    last_test = now - timedelta(minutes=54) + timedelta(seconds=10)
    apply(cluster, namespace("shop"), namespace("velero"))
    apply(cluster,
          {"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
           "metadata": {"name": "offsite", "namespace": "velero", "labels": {"topology.kubernetes.io/zone": "zone-c"},
                        "annotations": {"sncguard.io/encryption": "SSE-KMS"}},
           "spec": {"provider": "aws", "objectStorage": {"bucket": "b"}, "config": {"region": "eu-fr-paris"}}},
          {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "nightly-1", "namespace": "velero"},
           "spec": {"includedNamespaces": ["shop"], "storageLocation": "offsite", "ttl": "720h0m0s"},
           "status": {"phase": "Completed", "startTimestamp": _rfc3339(now - timedelta(hours=2)),
                      "completionTimestamp": _rfc3339(now - timedelta(hours=2) + timedelta(minutes=1))}},
          {"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": "test-1", "namespace": "velero"},
           "spec": {"backupName": "nightly-1", "namespaceMapping": {"shop": "shop-test"}},
           "status": {"phase": "Completed", "startTimestamp": _rfc3339(last_test - timedelta(minutes=2)),
                      "completionTimestamp": _rfc3339(last_test)}},
          {**backup_policy("shop", "nightly"), "spec": {**backup_policy("shop", "nightly")["spec"],
                                                       "restoreTestInterval": "1h"}})

    def drills() -> list[dict]:
        restores = get(cluster, "restores.velero.io", "-n", "velero", "-l", "sncguard.io/drill=true") or {}
        return restores.get("items") or []

    with running(OperatorProcess(cluster.env, tmp_path / "operator.log")):
        wait_for(lambda: (get(cluster, "backuppolicy", "nightly", "-n", "shop").get("status") or {}).get(
            "lastRestoreTest"), timeout=60, message="the first evaluation")
        assert drills() == [], "no drill while the last test is recent"
        (drill,) = wait_for(drills, timeout=40, message="the drill its timer starts")
    started = datetime.fromisoformat(drill["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    due = last_test + timedelta(minutes=54)
    assert due - timedelta(seconds=2) <= started <= due + timedelta(seconds=15), (started, due)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
