"""Seeded random worlds for the differential test: every kind sncguard reads, every rule family.

`generate(seed, now)` draws a cluster's worth of manifests (tenants and their namespaces, workloads
with and without zone spreading, PDBs, Services and NetworkPolicies, Ingresses, RoleBindings and a
ClusterRoleBinding, PersistentVolumes, Velero storage locations, Schedules, Backups and Restores)
and the three kinds of policies over them. `mutate(world, rng, now)` draws the next world from it:
relabelled namespaces, scaled workloads, exposed or closed ports, moved backup targets, edited
policies, objects added and removed. Nothing is hand-picked: the draws decide which rules fail.

Times sit hours or days away from every threshold (RPOs of 24 h, restore tests every 30 days,
grants that expired a day ago or expire in a month), so the operator, evaluating a few seconds
before `sncguard check`, reaches the same verdict by construction rather than by luck.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

VELERO_NS = "velero"
TENANTS = ("acme", "globex", "initech")
ZONES = ("zone-a", "zone-b", "zone-c")
REGIONS = ("eu-fr-paris", "eu-de-frankfurt", "us-east-1")
PORTS = (22, 80, 443, 445, 2049, 3389, 8080)
USERS = ("alice", "bob", "mallory")
API = "sncguard.io/v1alpha1"

Key = tuple[str, str, str]  # kind, namespace, name


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class World:
    seed: int
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)

    def put(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.objects[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [o for (k, _, _), o in sorted(self.objects.items()) if k == kind]

    def namespaces(self) -> list[str]:
        return [o["metadata"]["name"] for o in self.of("Namespace") if o["metadata"]["name"] != VELERO_NS]

    def in_order(self) -> Iterator[dict[str, Any]]:
        """Namespaces first, then what lives in them: the order `kubectl apply` needs."""
        first = ("Namespace", "ClusterRole", "PersistentVolume")
        yield from (o for k in first for o in self.of(k))
        yield from (o for (k, _, _), o in sorted(self.objects.items()) if k not in first)


def _meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return meta


# ---- workloads ---------------------------------------------------------------------------------


def workload(rng: random.Random, namespace: str, name: str) -> list[dict[str, Any]]:
    kind = rng.choice(("Deployment", "Deployment", "StatefulSet"))
    labels = {"app": name}
    pod_spec: dict[str, Any] = {"containers": [{"name": "app", "image": "registry.example/app:1",
                                                "ports": [{"containerPort": 8080, "name": "http"},
                                                          {"containerPort": 22, "name": "ssh"}]}]}
    spread = rng.choice(("none", "soft", "hard", "hard"))
    if spread != "none":
        pod_spec["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule" if spread == "hard" else "ScheduleAnyway",
            "labelSelector": {"matchLabels": labels}}]
    if rng.random() < 0.2:
        pod_spec["nodeSelector"] = {"topology.kubernetes.io/zone": rng.choice(ZONES)}
    spec: dict[str, Any] = {"selector": {"matchLabels": labels},
                            "template": {"metadata": {"labels": labels}, "spec": pod_spec}}
    if rng.random() < 0.8:  # else left to the API server's default (1)
        spec["replicas"] = rng.randint(1, 3)
    if kind == "StatefulSet":
        spec["serviceName"] = name
    out = [{"apiVersion": "apps/v1", "kind": kind, "metadata": _meta(name, namespace, app=name), "spec": spec}]
    if rng.random() < 0.5:
        budget = {"minAvailable": 1} if rng.random() < 0.5 else {"maxUnavailable": 1}
        out.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta(name, namespace),
                    "spec": {**budget, "selector": {"matchLabels": labels}}})
    return out


def service(rng: random.Random, namespace: str, name: str, app: str) -> dict[str, Any]:
    kind = rng.choice(("ClusterIP", "LoadBalancer", "LoadBalancer", "NodePort"))
    port = rng.choice(PORTS)
    entry: dict[str, Any] = {"port": port}
    target = rng.random()
    if target < 0.25:
        entry["targetPort"] = "ssh"
    elif target < 0.5:
        entry["targetPort"] = 8080
    spec: dict[str, Any] = {"selector": {"app": app}, "ports": [entry]}
    if kind != "ClusterIP" or rng.random() < 0.5:
        spec["type"] = kind
    if kind == "LoadBalancer":
        spec["loadBalancerSourceRanges"] = rng.choice(
            ([], ["10.0.0.0/8"], ["0.0.0.0/1", "128.0.0.0/1"], ["198.51.100.0/24"]))
    if rng.random() < 0.15:
        spec["externalIPs"] = ["203.0.113.10"]
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, namespace), "spec": spec}


def network_policies(rng: random.Random, namespace: str) -> list[dict[str, Any]]:
    out = []

    def policy(name: str, spec: dict[str, Any]) -> None:
        out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": _meta(name, namespace), "spec": spec})

    if rng.random() < 0.6:
        policy("deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})
    if rng.random() < 0.4:
        policy("deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
    if rng.random() < 0.5:
        peer = rng.choice((
            {"namespaceSelector": {"matchLabels": {"tenant": rng.choice(TENANTS)}}},
            {"namespaceSelector": {}},
            {"ipBlock": {"cidr": "10.0.0.0/8"}},
            {"ipBlock": {"cidr": "0.0.0.0/0"}},
            {"podSelector": {"matchLabels": {"app": "web"}}},
        ))
        rule: dict[str, Any] = {"from": [peer]}
        if rng.random() < 0.7:
            rule["ports"] = [{"port": rng.choice((8080, 22, "http"))}]
        policy("allow-in", {"podSelector": {}, "ingress": [rule]})
    return out


def role_binding(rng: random.Random, namespace: str, name: str, namespaces: list[str]) -> dict[str, Any]:
    subject = rng.choice((
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": rng.choice(USERS)},
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"},
        {"kind": "ServiceAccount", "name": "default", "namespace": rng.choice(namespaces)},
    ))
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": _meta(name, namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": rng.choice(("view", "edit"))},
            "subjects": [subject]}


# ---- backups -----------------------------------------------------------------------------------


def storage_location(rng: random.Random, name: str) -> dict[str, Any]:
    labels = {}
    if rng.random() < 0.8:
        labels["topology.kubernetes.io/zone"] = rng.choice(ZONES)
    meta = _meta(name, VELERO_NS, **labels)
    if rng.random() < 0.7:
        meta["annotations"] = {"sncguard.io/encryption": "SSE-KMS"}
    return {"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation", "metadata": meta,
            "spec": {"provider": "aws", "objectStorage": {"bucket": name},
                     "config": {"region": rng.choice(REGIONS[:2] + REGIONS[:1])}}}


def schedule(rng: random.Random, name: str, namespaces: list[str], locations: list[str]) -> dict[str, Any]:
    included = ["*"] if rng.random() < 0.2 else rng.sample(namespaces, k=rng.randint(1, len(namespaces)))
    return {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": _meta(name, VELERO_NS),
            "spec": {"schedule": "0 1 * * *",
                     "template": {"includedNamespaces": included, "storageLocation": rng.choice(locations),
                                  "ttl": "720h0m0s"}},
            "status": {"phase": "FailedValidation" if rng.random() < 0.2 else "Enabled"}}


def backup(rng: random.Random, name: str, sched: dict[str, Any], now: datetime) -> dict[str, Any]:
    completed = now - rng.choice((timedelta(hours=2), timedelta(hours=5), timedelta(days=5)))
    template = sched["spec"]["template"]
    return {"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": _meta(name, VELERO_NS, **{"velero.io/schedule-name": sched["metadata"]["name"]}),
            "spec": {"includedNamespaces": template["includedNamespaces"],
                     "storageLocation": template["storageLocation"], "ttl": "720h0m0s"},
            "status": {"phase": rng.choice(("Completed", "Completed", "PartiallyFailed", "Failed")),
                       "startTimestamp": rfc3339(completed - timedelta(minutes=5)),
                       "completionTimestamp": rfc3339(completed)}}


def restore(rng: random.Random, name: str, backup_obj: dict[str, Any], now: datetime) -> dict[str, Any]:
    completed = now - rng.choice((timedelta(days=1), timedelta(days=100)))
    included = backup_obj["spec"]["includedNamespaces"]
    return {"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": _meta(name, VELERO_NS),
            "spec": {"backupName": backup_obj["metadata"]["name"],
                     "namespaceMapping": {ns: f"{ns}-drill" for ns in included if ns != "*"}},
            "status": {"phase": "Completed", "startTimestamp": rfc3339(completed - timedelta(minutes=3)),
                       "completionTimestamp": rfc3339(completed)}}


# ---- policies ----------------------------------------------------------------------------------


def zone_spread(rng: random.Random, namespace: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"mode": "Audit", "minZones": rng.choice((2, 2, 3))}
    if rng.random() < 0.2:
        spec["selector"] = {"matchLabels": {"app": "web"}}
    return {"apiVersion": API, "kind": "ZoneSpread", "metadata": _meta("sla", namespace), "spec": spec}


def backup_policy(rng: random.Random, namespace: str, locations: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"mode": "Audit", "veleroNamespace": VELERO_NS, "storageLocation": rng.choice(locations),
                            "rpo": "24h", "requireEncryption": rng.random() < 0.8}
    if rng.random() < 0.5:
        spec["restoreTestInterval"] = "720h"
    if rng.random() < 0.5:
        spec["allowedRegions"] = rng.sample(REGIONS[:2], k=rng.randint(1, 2))
    return {"apiVersion": API, "kind": "BackupPolicy", "metadata": _meta("nightly", namespace), "spec": spec}


def tenant_policy(rng: random.Random, tenant: str, now: datetime) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "mode": rng.choice(("Audit", "Enforce")),
        "tenant": tenant,
        "namespaceSelector": {"matchLabels": {"tenant": tenant}},
        "zones": {"dmz": {"matchLabels": {"zone": "dmz"}}, "lan": {"matchLabels": {"zone": "lan"}}},
    }
    flows = []
    if rng.random() < 0.7:
        flows.append({"name": "web-to-lan", "from": {"zone": "dmz"}, "to": {"zone": "lan"},
                      "ports": [{"port": 8080}]})
    if rng.random() < 0.5:
        flows.append({"name": "internet-to-dmz", "from": {"cidr": "0.0.0.0/0"}, "to": {"zone": "dmz"},
                      "ports": [{"port": rng.choice((443, 8080))}]})
    if flows:
        spec["flows"] = flows
    if rng.random() < 0.7:
        spec["authorizedSubjects"] = [{"kind": "User", "name": u} for u in rng.sample(USERS, k=rng.randint(1, 2))]
    if rng.random() < 0.5:
        expires = now + timedelta(days=30) if rng.random() < 0.5 else now - timedelta(days=1)
        spec["accessGrants"] = [{"subject": {"kind": "User", "name": "ops@provider.example"},
                                 "clusterRole": "view", "expires": rfc3339(expires),
                                 "reason": "ticket 4711: incident analysis"}]
    if rng.random() < 0.8:
        spec["allowedRegions"] = rng.sample(REGIONS, k=rng.randint(1, 2))
    return {"apiVersion": API, "kind": "TenantPolicy", "metadata": _meta(tenant), "spec": spec}


# ---- the world ---------------------------------------------------------------------------------


def generate(seed: int, now: datetime) -> World:
    rng = random.Random(seed)
    world = World(seed)
    tenants = list(TENANTS[:rng.randint(2, 3)])
    namespaces: list[str] = []
    for tenant in tenants:
        for i in range(rng.randint(1, 2)):
            name = f"{tenant}-{i}"
            namespaces.append(name)
            world.put({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": _meta(name, tenant=tenant, zone=rng.choice(("lan", "dmz")))})
    world.put({"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(VELERO_NS)})
    locations = ["primary", "offsite"]
    for location in locations:
        world.put(storage_location(rng, location))
    schedules = [schedule(rng, f"daily-{i}", namespaces, locations) for i in range(rng.randint(1, 2))]
    for sched in schedules:
        world.put(sched)
        for j in range(rng.randint(0, 2)):
            made = backup(rng, f"{sched['metadata']['name']}-{j}", sched, now)
            world.put(made)
            if rng.random() < 0.5:
                world.put(restore(rng, f"{made['metadata']['name']}-restore", made, now))
    for namespace in namespaces:
        for i in range(rng.randint(1, 2)):
            app = "web" if i == 0 else f"app{i}"
            for obj in workload(rng, namespace, app):
                world.put(obj)
            if rng.random() < 0.6:
                world.put(service(rng, namespace, f"{app}-svc", app))
        for obj in network_policies(rng, namespace):
            world.put(obj)
        if rng.random() < 0.3:
            tls = [{"hosts": [f"{namespace}.example"]}] if rng.random() < 0.5 else None
            spec: dict[str, Any] = {"rules": [{"host": f"{namespace}.example", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web-svc",
                                                                           "port": {"number": 80}}}}]}}]}
            if tls:
                spec["tls"] = tls
            world.put({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": _meta("web", namespace),
                       "spec": spec})
        if rng.random() < 0.6:
            world.put(role_binding(rng, namespace, "access", namespaces))
        if rng.random() < 0.3:
            pv = f"pv-{namespace}"
            world.put({"apiVersion": "v1", "kind": "PersistentVolume",
                       "metadata": _meta(pv, **{"topology.kubernetes.io/region": rng.choice(REGIONS)}),
                       "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                "hostPath": {"path": f"/data/{namespace}"}, "storageClassName": "manual",
                                "claimRef": {"namespace": namespace, "name": "data"}}})
            world.put({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta("data", namespace),
                       "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": pv, "storageClassName": "manual",
                                "resources": {"requests": {"storage": "1Gi"}}}})
        if rng.random() < 0.9:
            world.put(zone_spread(rng, namespace))
        if rng.random() < 0.7:
            world.put(backup_policy(rng, namespace, locations))
    if rng.random() < 0.4:
        world.put(everyone_can_read())
    for tenant in tenants:
        world.put(tenant_policy(rng, tenant, now))
    # Every rule family in every world: a ZoneSpread and a BackupPolicy at least.
    if not world.of("ZoneSpread"):
        world.put(zone_spread(rng, namespaces[0]))
    if not world.of("BackupPolicy"):
        world.put(backup_policy(rng, namespaces[0], locations))
    add_waivers(rng, world, now)
    return world


# The rules a waiver annotation on each kind may name; dates days away from now, so that the
# operator (live clock) and the check (`--now`) agree whichever second each judges at.
WAIVABLE = {"Deployment": ("ZS-001", "ZS-002", "ZS-005", "ZS-006"), "StatefulSet": ("ZS-002", "ZS-005"),
            "Service": ("NET-003", "NET-006", "NET-007"), "RoleBinding": ("ACC-001",),
            "BackupStorageLocation": ("BK-002", "BK-003", "BK-004"), "Namespace": ("NET-001", "NET-002")}


def add_waivers(rng: random.Random, world: World, now: datetime) -> None:
    """Waivers on some objects and in some ZoneSpreads: active, lapsed, and malformed ones."""
    for kind, rules in WAIVABLE.items():
        for obj in world.of(kind):
            if rng.random() >= 0.3:
                continue
            lines = []
            for rule in rng.sample(rules, k=min(len(rules), rng.randint(1, 2))):
                until = (now + timedelta(days=rng.choice((-10, -3, 3, 30)))).date().isoformat()
                lines.append(rng.choice((f"{rule} until {until}: accepted, ticket {rng.randint(1, 99)}",
                                         f"{rule} until {until}: accepted", f"{rule} until {until}:",
                                         f"{rule[:-1]} until {until}: typo")))
            obj["metadata"].setdefault("annotations", {})["sncguard.io/waive"] = "\n".join(lines)
    for policy in world.of("ZoneSpread"):
        if rng.random() < 0.3:
            until = (now + timedelta(days=rng.choice((-3, 30)))).date().isoformat()
            policy["spec"]["waivers"] = [{"rule": rng.choice(("ZS-001", "ZS-002", "ZS-005")), "until": until,
                                          "reason": "accepted by the tenant's CISO"}]


def everyone_can_read() -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": _meta("everyone-views"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"}]}


def mutate(world: World, rng: random.Random, now: datetime, changes: int = 4) -> World:
    """The next world: `changes` random edits of the kinds people make, none of them a deletion of a
    namespace (its pods' termination would only slow the test down)."""
    nxt = World(world.seed, copy.deepcopy(world.objects))
    namespaces = nxt.namespaces()
    locations = [o["metadata"]["name"] for o in nxt.of("BackupStorageLocation")]

    def relabel_namespace() -> None:
        ns = rng.choice(nxt.of("Namespace"))
        if ns["metadata"]["name"] != VELERO_NS:
            labels = ns["metadata"].setdefault("labels", {})
            if rng.random() < 0.5:
                labels["zone"] = "lan" if labels.get("zone") == "dmz" else "dmz"
            else:
                labels["tenant"] = rng.choice(TENANTS)

    def scale() -> None:
        workloads = nxt.of("Deployment") + nxt.of("StatefulSet")
        if workloads:
            rng.choice(workloads)["spec"]["replicas"] = rng.randint(1, 3)

    def expose() -> None:
        namespace = rng.choice(namespaces)
        nxt.put(service(rng, namespace, f"exposed-{rng.randint(0, 9)}", "web"))

    def close() -> None:
        services = nxt.of("Service")
        if services:
            victim = rng.choice(services)
            del nxt.objects[("Service", victim["metadata"]["namespace"], victim["metadata"]["name"])]

    def network() -> None:
        namespace = rng.choice(namespaces)
        for key in [k for k in nxt.objects if k[0] == "NetworkPolicy" and k[1] == namespace]:
            del nxt.objects[key]
        for obj in network_policies(rng, namespace):
            nxt.put(obj)

    def rbac() -> None:
        if ("ClusterRoleBinding", "", "everyone-views") in nxt.objects:
            del nxt.objects[("ClusterRoleBinding", "", "everyone-views")]
        elif rng.random() < 0.5:
            nxt.put(everyone_can_read())
        else:
            namespace = rng.choice(namespaces)
            nxt.put(role_binding(rng, namespace, f"access-{rng.randint(0, 9)}", namespaces))

    def move_target() -> None:
        nxt.put(storage_location(rng, rng.choice(locations)))

    def schedules() -> None:
        for sched in nxt.of("Schedule"):
            sched["status"]["phase"] = "FailedValidation" if rng.random() < 0.3 else "Enabled"

    def backups() -> None:
        for sched in nxt.of("Schedule"):
            if rng.random() < 0.5:
                nxt.put(backup(rng, f"{sched['metadata']['name']}-{rng.randint(3, 9)}", sched, now))

    def edit_policy() -> None:
        choice = rng.random()
        if choice < 0.4:
            tenant = rng.choice(nxt.of("TenantPolicy"))
            nxt.put(tenant_policy(rng, tenant["metadata"]["name"], now))
        elif choice < 0.7:
            namespace = rng.choice(namespaces)
            nxt.put(backup_policy(rng, namespace, locations))
        else:
            namespace = rng.choice(namespaces)
            nxt.put(zone_spread(rng, namespace))

    edits = (relabel_namespace, scale, expose, close, network, rbac, move_target, schedules, backups, edit_policy)
    for _ in range(changes):
        rng.choice(edits)()
    return nxt


def families(world: World) -> set[str]:
    """The rule families a world's policies cover (ZoneSpread: ZS; BackupPolicy: BK; TenantPolicy:
    NET, ACC and LOC)."""
    out = set()
    if world.of("ZoneSpread"):
        out.add("ZS")
    if world.of("BackupPolicy"):
        out.add("BK")
    if world.of("TenantPolicy"):
        out |= {"NET", "ACC", "LOC"}
    return out
