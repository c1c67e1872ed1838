"""The benchmark's cluster, as plain manifests: tenants, namespaces, workloads, network, access, policies.

One generator feeds both the live benchmark (objects created on the local control plane) and the
offline one (`sncguard check` on a folder of manifests, where Nodes and Pods are synthesised
instead of being created by the scheduler and the fake kubelet).

The world is *compliant at rest*, like a tenant that did its homework, so that every change the
benchmark makes flips a verdict (an effective change) and nothing else fails. The benchmark holds
the operator to it: every policy's verdict at rest must be `expected_at_rest` (Compliant), and every
change must produce the finding it names; a wrong verdict fails `make bench`, however fast.

- every tenant has ``namespaces / tenants`` namespaces, the first ``dmz``, the others ``lan``;
- every namespace holds ``deployments`` Deployments (``replicas`` each, hard zone spread, a PDB, a
  headless Service), the NetworkPolicies sncguard's Enforce mode would write (default deny, DNS,
  the matrix's flows), two RoleBindings (the tenant's admin group and a service account), a
  ZoneSpread ``sla`` and a BackupPolicy ``nightly``;
- the ``dmz`` namespace exposes its ``web`` Deployment through a LoadBalancer on 443;
- the TenantPolicy's flow matrix is: the Internet to dmz ``web`` on 8443, dmz to lan ``api`` on 8443;
- the operator's own identity (``OPERATOR_USER``, bound to cluster-admin for the bench) is on every
  tenant's authorised list, as a platform's operator would be;
- one Velero BackupStorageLocation ``offsite`` in a vault zone, encrypted, one Schedule for ``*``
  and one Completed Backup of ``*`` two hours old;
- with ``backups_per_namespace`` (``make bench-scale``: 5), that many Completed Backups of each
  namespace alone, in ``offsite``, older than the Backup of ``*`` (3 h, then a day apart): the
  thousands of Backups a cluster keeps, which move no verdict and no status.

Nothing here names an image registry: images are bare names (``app:1``), the fake kubelet never
pulls.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sncguard.netpol import CLUSTER_ADDRESS_SPACE

REGION = "eu-fr-paris"
ZONES = ("zone-a", "zone-b", "zone-c")
VAULT_ZONE = "zone-vault"
VELERO_NS = "openshift-adp"
OPERATOR_USER = "sncguard-operator"
RUN_LABEL = "bench.sncguard.io/run"
ZONE_KEY = "topology.kubernetes.io/zone"
TENANT_LABEL = "sncguard.io/tenant"
NETZONE_LABEL = "sncguard.io/zone"
APP_PORT = 8443


@dataclass(frozen=True)
class Size:
    namespaces: int = 200
    tenants: int = 20
    deployments_per_namespace: int = 10
    replicas: int = 2
    nodes_per_zone: int = 8
    backups_per_namespace: int = 0

    def __post_init__(self) -> None:
        if self.tenants < 1 or self.namespaces < self.tenants:
            raise ValueError("need at least one tenant and one namespace per tenant")
        if self.deployments_per_namespace < 1 or self.replicas < 1:
            raise ValueError("need at least one deployment of at least one replica per namespace")

    @property
    def pods(self) -> int:
        return self.namespaces * self.deployments_per_namespace * self.replicas

    @property
    def deployments(self) -> int:
        return self.namespaces * self.deployments_per_namespace

    @property
    def backups(self) -> int:
        """Velero Backups beyond the one of ``*``."""
        return self.namespaces * self.backups_per_namespace


def tenant_name(t: int) -> str:
    return f"t{t:02d}"


def namespace_plan(size: Size) -> list[tuple[str, str, str]]:
    """[(namespace, tenant, network zone)], namespaces spread evenly over tenants, first of each dmz."""
    out = []
    for i in range(size.namespaces):
        t = i % size.tenants
        k = i // size.tenants
        tenant = tenant_name(t)
        out.append((f"{tenant}-ns{k:02d}", tenant, "dmz" if k == 0 else "lan"))
    return out


def app_name(j: int) -> str:
    """Deployment j of a namespace: 0 is the flow end (web in dmz, api in lan), others app-NN."""
    return f"app-{j:02d}"


def app_label(netzone: str, j: int) -> str:
    if j == 0:
        return "web" if netzone == "dmz" else "api"
    return app_name(j)


# --------------------------------------------------------------------------- objects


def namespace(name: str, tenant: str, netzone: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": name, "labels": {TENANT_LABEL: tenant, NETZONE_LABEL: netzone, RUN_LABEL: "1"}}}


def deployment(ns: str, netzone: str, j: int, replicas: int) -> dict[str, Any]:
    app = app_label(netzone, j)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": app_name(j), "namespace": ns, "labels": {"app": app}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {
                    "topologySpreadConstraints": [{
                        "maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {"matchLabels": {"app": app}}}],
                    "containers": [{
                        "name": "main", "image": "app:1",
                        "ports": [{"containerPort": APP_PORT, "name": "https"}],
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                },
            },
        },
    }


def pdb(ns: str, netzone: str, j: int) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": app_name(j), "namespace": ns},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": app_label(netzone, j)}}}}


def service(ns: str, netzone: str, j: int) -> dict[str, Any]:
    exposed = netzone == "dmz" and j == 0
    spec: dict[str, Any] = {"selector": {"app": app_label(netzone, j)},
                            "ports": [{"name": "https", "port": 443 if exposed else APP_PORT,
                                       "targetPort": APP_PORT, "protocol": "TCP"}]}
    if exposed:
        spec["type"] = "LoadBalancer"
    else:
        # Headless: the local control plane's service range is a /24 (254 addresses), far too few
        # for one ClusterIP per Deployment; sncguard's rules read type and ports, not the address.
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app_name(j), "namespace": ns},
            "spec": spec}


def _netpol(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def network_policies(ns: str, netzone: str, dmz: list[str], lan: list[str]) -> list[dict[str, Any]]:
    """What sncguard's Enforce mode would write, written by the tenant itself (the policy audits)."""
    dns_ports = [{"protocol": p, "port": n} for n in (53, 5353) for p in ("UDP", "TCP")]
    out = [
        _netpol(ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _netpol(ns, "allow-dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": dns_ports}]}),
    ]
    app_ports = [{"protocol": "TCP", "port": APP_PORT}]
    if netzone == "dmz":
        # The Internet as Enforce mode writes it: 0.0.0.0/0 less the cluster's private address space,
        # since an ipBlock also admits the pods whose address it holds (other tenants', NET-004).
        internet = {"cidr": "0.0.0.0/0", "except": [str(n) for n in CLUSTER_ADDRESS_SPACE if n.version == 4]}
        out.append(_netpol(ns, "flow-internet-to-web", {
            "podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": internet}], "ports": app_ports}]}))
        if lan:
            out.append(_netpol(ns, "flow-web-to-api-egress", {
                "podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {"matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": lan}]},
                    "podSelector": {"matchLabels": {"app": "api"}}}], "ports": app_ports}]}))
    elif dmz:
        out.append(_netpol(ns, "flow-web-to-api", {
            "podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": dmz}]},
                "podSelector": {"matchLabels": {"app": "web"}}}], "ports": app_ports}]}))
    return out


def role_bindings(ns: str, tenant: str) -> list[dict[str, Any]]:
    def rb(name: str, role: str, subject: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [subject]}

    return [
        rb("tenant-admins", "admin", {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                      "name": f"{tenant}-admins"}),
        rb("deployer", "edit", {"kind": "ServiceAccount", "name": "default", "namespace": ns}),
    ]


def zonespread(ns: str) -> dict[str, Any]:
    return {"apiVersion": "sncguard.io/v1alpha1", "kind": "ZoneSpread",
            "metadata": {"name": "sla", "namespace": ns},
            "spec": {"mode": "Audit", "minZones": 2, "requireHardSpread": True,
                     "requirePodDisruptionBudget": True}}


def backuppolicy(ns: str) -> dict[str, Any]:
    return {"apiVersion": "sncguard.io/v1alpha1", "kind": "BackupPolicy",
            "metadata": {"name": "nightly", "namespace": ns},
            "spec": {"mode": "Audit", "storageLocation": "offsite", "veleroNamespace": VELERO_NS,
                     "rpo": "26h", "allowedRegions": [REGION]}}


def tenantpolicy(tenant: str) -> dict[str, Any]:
    port = [{"protocol": "TCP", "port": APP_PORT}]
    return {"apiVersion": "sncguard.io/v1alpha1", "kind": "TenantPolicy",
            "metadata": {"name": tenant},
            "spec": {
                "mode": "Audit", "tenant": tenant,
                "namespaceSelector": {"matchLabels": {TENANT_LABEL: tenant}},
                "zones": {"dmz": {"matchLabels": {NETZONE_LABEL: "dmz"}},
                          "lan": {"matchLabels": {NETZONE_LABEL: "lan"}}},
                "flows": [
                    {"name": "internet-to-web", "from": {"cidr": "0.0.0.0/0"},
                     "to": {"zone": "dmz", "podSelector": {"matchLabels": {"app": "web"}}}, "ports": port},
                    {"name": "web-to-api", "from": {"zone": "dmz", "podSelector": {"matchLabels": {"app": "web"}}},
                     "to": {"zone": "lan", "podSelector": {"matchLabels": {"app": "api"}}}, "ports": port},
                ],
                "authorizedSubjects": [
                    {"kind": "Group", "name": f"{tenant}-admins"},
                    {"kind": "User", "name": OPERATOR_USER},
                ],
                "allowedRegions": [REGION],
            }}


def expected_at_rest(policy: tuple[str, str, str]) -> str:
    """The verdict (the Compliant condition) every policy of this world must reach before any change."""
    return "True"


def velero_objects(now: datetime) -> list[dict[str, Any]]:
    """Velero's side (Velero's own CRDs, no Velero running): location, schedule, a backup."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": VELERO_NS, "labels": {RUN_LABEL: "1"}}},
        {"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
         "metadata": {"name": "offsite", "namespace": VELERO_NS,
                      "labels": {ZONE_KEY: VAULT_ZONE, "topology.kubernetes.io/region": REGION}},
         "spec": {"provider": "aws", "objectStorage": {"bucket": "backups"},
                  "config": {"region": REGION, "serverSideEncryption": "aws:kms"}}},
        {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "all", "namespace": VELERO_NS},
         "spec": {"schedule": "0 2 * * *",
                  "template": {"includedNamespaces": ["*"], "storageLocation": "offsite", "ttl": "720h0m0s"}}},
        backup(now),
    ]


def backup(now: datetime) -> dict[str, Any]:
    return {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "all-nightly", "namespace": VELERO_NS},
            "spec": {"includedNamespaces": ["*"], "storageLocation": "offsite", "ttl": "720h0m0s"}}


def namespace_backups(size: Size, now: datetime) -> list[dict[str, Any]]:
    """``backups_per_namespace`` Completed Backups of each namespace alone, status included (Velero's
    CRDs have no status subresource: the create stores it). All older than the Backup of ``*``, so
    every BackupPolicy's last backup, status and verdict stay what they are without them."""
    out = []
    for ns, _, _ in namespace_plan(size):
        for k in range(size.backups_per_namespace):
            done = now - timedelta(hours=3 + 24 * k)
            out.append({"apiVersion": "velero.io/v1", "kind": "Backup",
                        "metadata": {"name": f"{ns}-{k}", "namespace": VELERO_NS,
                                     "labels": {"velero.io/storage-location": "offsite"}},
                        "spec": {"includedNamespaces": [ns], "storageLocation": "offsite", "ttl": "720h0m0s"},
                        "status": {"phase": "Completed", "startTimestamp": rfc3339(done - timedelta(minutes=5)),
                                   "completionTimestamp": rfc3339(done)}})
    return out


def backup_status(now: datetime) -> dict[str, Any]:
    done = now - timedelta(hours=2)
    return {"status": {"phase": "Completed", "startTimestamp": rfc3339(done - timedelta(minutes=5)),
                       "completionTimestamp": rfc3339(done)}}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def namespace_bundle(size: Size, ns: str, tenant: str, netzone: str, dmz: list[str],
                     lan: list[str]) -> list[dict[str, Any]]:
    """Everything in one tenant namespace except the namespace itself and its pods."""
    objs: list[dict[str, Any]] = []
    for j in range(size.deployments_per_namespace):
        objs += [deployment(ns, netzone, j, size.replicas), pdb(ns, netzone, j), service(ns, netzone, j)]
    objs += network_policies(ns, netzone, dmz, lan)
    objs += role_bindings(ns, tenant)
    objs += [zonespread(ns), backuppolicy(ns)]
    return objs


def tenant_namespaces(size: Size) -> dict[str, dict[str, list[str]]]:
    """tenant -> {"dmz": [...], "lan": [...]}."""
    out: dict[str, dict[str, list[str]]] = {}
    for ns, tenant, netzone in namespace_plan(size):
        out.setdefault(tenant, {"dmz": [], "lan": []})[netzone].append(ns)
    return out


def world(size: Size) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(namespace, its objects) per tenant namespace, namespace first; Velero and TenantPolicies apart."""
    zones = tenant_namespaces(size)
    for ns, tenant, netzone in namespace_plan(size):
        z = zones[tenant]
        yield ns, [namespace(ns, tenant, netzone), *namespace_bundle(size, ns, tenant, netzone, z["dmz"], z["lan"])]


# --------------------------------------------------------------------------- offline (sncguard check)


def node_objects(nodes_per_zone: int) -> list[dict[str, Any]]:
    out = []
    for zone in ZONES:
        letter = zone.rsplit("-", 1)[1]
        for i in range(1, nodes_per_zone + 1):
            name = f"node-{letter}-{i}"
            out.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, ZONE_KEY: zone, "topology.kubernetes.io/region": REGION}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    return out


def pod_objects(dep: dict[str, Any], nodes_per_zone: int, salt: int) -> list[dict[str, Any]]:
    """The pods the scheduler would make of a Deployment: spread over the zones, Running and Ready."""
    meta, spec = dep["metadata"], dep["spec"]
    out = []
    for r in range(spec["replicas"]):
        zone = ZONES[(salt + r) % len(ZONES)]
        node = f"node-{zone.rsplit('-', 1)[1]}-{(salt // 3 + r) % nodes_per_zone + 1}"
        out.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"{meta['name']}-{salt:05d}-{r}", "namespace": meta["namespace"],
                                 "labels": dict(spec["template"]["metadata"]["labels"])},
                    "spec": {**spec["template"]["spec"], "nodeName": node},
                    "status": {"phase": "Running",
                               "conditions": [{"type": "Ready", "status": "True"}]}})
    return out


def offline_manifests(total: int, size: Size, now: datetime) -> list[tuple[str, list[dict[str, Any]]]]:
    """[(file name, objects)] with exactly `total` objects: the world plus its Nodes and Pods.

    Namespaces are added until the total is reached (the last one may be cut short); more tenant
    namespaces than `size.namespaces` are made when needed.
    """
    files: list[tuple[str, list[dict[str, Any]]]] = []
    head = [*node_objects(size.nodes_per_zone), *velero_objects(now)]
    head[-1] = {**head[-1], **backup_status(now)}
    count = len(head)
    files.append(("00-cluster.yaml", head))
    per_namespace = 1 + size.deployments_per_namespace * (3 + size.replicas) + 2 + 2 + 2
    needed = -(-(total - count) // per_namespace) + 1
    grown = Size(namespaces=max(size.namespaces, needed, size.tenants), tenants=size.tenants,
                 deployments_per_namespace=size.deployments_per_namespace, replicas=size.replicas,
                 nodes_per_zone=size.nodes_per_zone)
    tenants_seen: list[str] = []
    salt = 0
    for ns, objs in world(grown):
        if count >= total:
            break
        tenant = objs[0]["metadata"]["labels"][TENANT_LABEL]
        bundle = []
        if tenant not in tenants_seen:
            tenants_seen.append(tenant)
            bundle.append(tenantpolicy(tenant))
        for obj in objs:
            bundle.append(obj)
            if obj["kind"] == "Deployment":
                bundle += pod_objects(obj, size.nodes_per_zone, salt)
                salt += 1
        bundle = bundle[: total - count]
        count += len(bundle)
        files.append((f"{ns}.yaml", bundle))
    return files
