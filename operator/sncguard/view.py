"""ClusterView: the typed snapshot the rules read, and the projections that fill it.

`project(kind, body)` is the one way from a body to a projection, for the operator (list items,
watch events, kopf bodies) and the offline check (YAML documents) alike, so the rules cannot tell
the paths apart. It reads nothing the API may leave out: the kind comes from the caller (the
watched-kinds table, or the manifest's own kind), never from the body, since the items of a LIST
response carry none; the fields the API server defaults are defaulted first (defaults.py), since a
manifest read offline was never defaulted. Each projection keeps only what some rule reads: at
benchmark scale, a projected pod costs a few hundred bytes instead of the tens of kilobytes of a
full object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from . import REGION_LABEL, ZONE_LABEL
from .defaults import apply_defaults

__all__ = [
    "PROJECTIONS",
    "REGION_LABEL",
    "UNREADABLE",
    "VELERO_KINDS",
    "WAIVE_ANNOTATION",
    "ZONE_LABEL",
    "BackupStorageLocation",
    "ClusterView",
    "ContainerPort",
    "Ingress",
    "Namespace",
    "NetworkPolicy",
    "Node",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Pod",
    "PodDisruptionBudget",
    "PodTemplate",
    "RoleBinding",
    "Route",
    "Service",
    "ServicePort",
    "Subject",
    "VeleroBackup",
    "VeleroRestore",
    "VeleroSchedule",
    "Workload",
    "project",
]

Obj = Mapping[str, Any]


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _labels(obj: Obj) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


WAIVE_ANNOTATION = "sncguard.io/waive"


def _waive(obj: Obj) -> str:
    """The waiver annotation's text. A value that is not a string (a YAML date left unquoted) is
    kept as text, so that it is reported as a malformed waiver instead of vanishing."""
    value = (_meta(obj).get("annotations") or {}).get(WAIVE_ANNOTATION)
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: dict[str, str]
    waive: str = ""

    @classmethod
    def from_obj(cls, obj: Obj) -> Namespace:
        obj = apply_defaults("Namespace", obj)
        return cls(waive=_waive(obj), name=_meta(obj).get("name", ""), labels=_labels(obj))


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    labels: dict[str, str]
    # The Ready condition: a node that reports none counts as Ready (a manifest, a node just
    # registered). `ready_since` is its lastTransitionTime, which heartbeats leave alone.
    ready: bool = True
    ready_since: str = ""

    @property
    def zone(self) -> str | None:
        return self.labels.get(ZONE_LABEL)

    @property
    def region(self) -> str | None:
        return self.labels.get(REGION_LABEL)

    @classmethod
    def from_obj(cls, obj: Obj) -> Node:
        condition = next((c for c in (obj.get("status") or {}).get("conditions") or ()
                          if isinstance(c, Mapping) and c.get("type") == "Ready"), None)
        if condition is None:
            return cls(name=_meta(obj).get("name", ""), labels=_labels(obj))
        return cls(name=_meta(obj).get("name", ""), labels=_labels(obj), ready=condition.get("status") == "True",
                   ready_since=str(condition.get("lastTransitionTime") or ""))


@dataclass(frozen=True, slots=True)
class ContainerPort:
    port: int
    protocol: str = "TCP"
    name: str = ""


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    labels: dict[str, str]
    node_name: str
    phase: str
    ready: bool
    terminating: bool
    ports: tuple[ContainerPort, ...] = ()
    node_selector: dict[str, str] = field(default_factory=dict)
    affinity: dict = field(default_factory=dict)
    # status.podIP ("" until assigned): an ipBlock admits the pods whose address it contains.
    pod_ip: str = ""
    # A hostNetwork pod has its node's address: network policies treat its traffic as the node's.
    host_network: bool = False
    waive: str = ""

    @property
    def running(self) -> bool:
        return bool(self.node_name) and self.phase == "Running" and not self.terminating

    @classmethod
    def from_obj(cls, obj: Obj) -> Pod:
        obj = apply_defaults("Pod", obj)
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        conditions = status.get("conditions") or ()
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        ports = tuple(
            ContainerPort(port=int(p["containerPort"]), protocol=p["protocol"], name=p.get("name", ""))
            for c in spec.get("containers") or ()
            for p in c.get("ports") or ()
            if "containerPort" in p
        )
        return cls(
            waive=_waive(obj),
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            labels=dict(meta.get("labels") or {}),
            node_name=spec.get("nodeName") or "",
            phase=status.get("phase") or "Pending",
            ready=ready,
            terminating=bool(meta.get("deletionTimestamp")),
            ports=ports,
            # Only node affinity can move a LOC verdict; pod (anti-)affinity is left out to stay small.
            node_selector=dict(spec.get("nodeSelector") or {}),
            affinity={"nodeAffinity": (spec.get("affinity") or {})["nodeAffinity"]}
            if (spec.get("affinity") or {}).get("nodeAffinity") else {},
            pod_ip=status.get("podIP") or "",
            host_network=bool(spec.get("hostNetwork")),
        )


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """The scheduling-relevant part of a workload's pod template."""

    labels: dict[str, str]
    topology_spread_constraints: tuple[dict, ...] = ()
    affinity: dict = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    node_name: str = ""

    @classmethod
    def from_obj(cls, template: Obj) -> PodTemplate:
        spec = template.get("spec") or {}
        return cls(
            labels=dict((template.get("metadata") or {}).get("labels") or {}),
            topology_spread_constraints=tuple(spec.get("topologySpreadConstraints") or ()),
            affinity=dict(spec.get("affinity") or {}),
            node_selector=dict(spec.get("nodeSelector") or {}),
            node_name=spec.get("nodeName") or "",
        )


@dataclass(frozen=True, slots=True)
class Workload:
    kind: str
    namespace: str
    name: str
    uid: str
    labels: dict[str, str]
    replicas: int
    selector: dict
    template: PodTemplate
    waive: str = ""

    @classmethod
    def from_obj(cls, obj: Obj, kind: str) -> Workload:
        """`kind` is the caller's to say (Deployment, StatefulSet): a listed item carries none."""
        obj = apply_defaults(kind, obj)
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        return cls(
            waive=_waive(obj),
            kind=kind,
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            uid=meta.get("uid", ""),
            labels=_labels(obj),
            replicas=int(spec["replicas"]),
            selector=dict(spec.get("selector") or {}),
            template=PodTemplate.from_obj(spec.get("template") or {}),
        )


@dataclass(frozen=True, slots=True)
class PodDisruptionBudget:
    namespace: str
    name: str
    selector: dict | None
    min_available: int | str | None
    max_unavailable: int | str | None
    waive: str = ""

    @classmethod
    def from_obj(cls, obj: Obj) -> PodDisruptionBudget:
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        return cls(
            waive=_waive(obj),
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            selector=spec.get("selector"),
            min_available=spec.get("minAvailable"),
            max_unavailable=spec.get("maxUnavailable"),
        )


def _owner_uids(obj: Obj) -> tuple[str, ...]:
    return tuple(o.get("uid", "") for o in _meta(obj).get("ownerReferences") or ())


@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    protocol: str = "TCP"
    target_port: int | str | None = None
    node_port: int | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    type: str
    ports: tuple[ServicePort, ...]
    selector: dict[str, str] | None
    load_balancer_source_ranges: tuple[str, ...] = ()
    external_ips: tuple[str, ...] = ()
    waive: str = ""

    @property
    def exposed(self) -> bool:
        return self.type in ("LoadBalancer", "NodePort") or bool(self.external_ips)

    @classmethod
    def from_obj(cls, obj: Obj) -> Service:
        obj = apply_defaults("Service", obj)
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        return cls(
            waive=_waive(obj),
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            type=spec["type"],
            ports=tuple(ServicePort(port=int(p.get("port", 0)), protocol=p["protocol"],
                                    target_port=p.get("targetPort"), node_port=p.get("nodePort"),
                                    name=p.get("name", ""))
                        for p in spec.get("ports") or ()),
            selector=dict(spec["selector"]) if spec.get("selector") is not None else None,
            # The field wins; the older annotation still restricts where the field is unset.
            load_balancer_source_ranges=tuple(spec.get("loadBalancerSourceRanges") or (
                r.strip() for r in ((meta.get("annotations") or {}).get(
                    "service.beta.kubernetes.io/load-balancer-source-ranges") or "").split(",") if r.strip())),
            external_ips=tuple(spec.get("externalIPs") or ()),
        )


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """A NetworkPolicy as written: rules stay in their Kubernetes shape for the semantics engine."""

    namespace: str
    name: str
    labels: dict[str, str]
    pod_selector: dict
    policy_types: tuple[str, ...]
    ingress: tuple[dict, ...]
    egress: tuple[dict, ...]
    owner_uids: tuple[str, ...] = ()
    waive: str = ""

    @classmethod
    def from_obj(cls, obj: Obj) -> NetworkPolicy:
        obj = apply_defaults("NetworkPolicy", obj)
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        ingress = spec.get("ingress")
        egress = spec.get("egress")
        return cls(
            waive=_waive(obj),
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            labels=_labels(obj),
            pod_selector=dict(spec.get("podSelector") or {}),
            policy_types=tuple(spec["policyTypes"]),
            ingress=tuple(ingress or ()),
            egress=tuple(egress or ()),
            owner_uids=_owner_uids(obj),
        )


@dataclass(frozen=True, slots=True)
class Ingress:
    namespace: str
    name: str
    hosts: tuple[str, ...]
    tls_hosts: tuple[str, ...]
    has_tls: bool
    waive: str = ""

    @classmethod
    def from_obj(cls, obj: Obj) -> Ingress:
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        tls = spec.get("tls") or ()
        return cls(
            waive=_waive(obj),
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            hosts=tuple(r.get("host", "") for r in spec.get("rules") or ()),
            tls_hosts=tuple(h for t in tls for h in t.get("hosts") or ()),
            has_tls=bool(tls),
        )


@dataclass(frozen=True, slots=True)
class Route:
    """An OpenShift Route (route.openshift.io/v1)."""

    namespace: str
    name: str
    host: str
    termination: str  # "" when the route has no tls: plain HTTP
    insecure_edge_termination_policy: str
    service: str
    waive: str = ""

    @classmethod
    def from_obj(cls, obj: Obj) -> Route:
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        tls = spec.get("tls") or {}
        return cls(
            waive=_waive(obj),
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            host=spec.get("host", ""),
            termination=tls.get("termination", "") if tls else "",
            insecure_edge_termination_policy=tls.get("insecureEdgeTerminationPolicy", "") if tls else "",
            service=(spec.get("to") or {}).get("name", ""),
        )


@dataclass(frozen=True, slots=True, order=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class RoleBinding:
    """A RoleBinding (namespace set) or ClusterRoleBinding (namespace "")."""

    kind: str
    namespace: str
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]
    labels: dict[str, str]
    owner_uids: tuple[str, ...] = ()
    waive: str = ""

    @classmethod
    def from_obj(cls, obj: Obj, kind: str) -> RoleBinding:
        """`kind` is the caller's to say (RoleBinding, ClusterRoleBinding): a listed item carries none."""
        meta = _meta(obj)
        ref = obj.get("roleRef") or {}
        return cls(
            waive=_waive(obj),
            kind=kind,
            namespace=meta.get("namespace", "") if kind == "RoleBinding" else "",
            name=meta.get("name", ""),
            role_kind=ref.get("kind", ""),
            role_name=ref.get("name", ""),
            subjects=tuple(Subject(s.get("kind", ""), s.get("name", ""), s.get("namespace", ""))
                           for s in obj.get("subjects") or ()),
            labels=_labels(obj),
            owner_uids=_owner_uids(obj),
        )


@dataclass(frozen=True, slots=True)
class PersistentVolume:
    name: str
    labels: dict[str, str]
    claim_namespace: str
    claim_name: str
    node_affinity: dict = field(default_factory=dict)
    waive: str = ""

    @property
    def region(self) -> str | None:
        return self.labels.get(REGION_LABEL)

    @classmethod
    def from_obj(cls, obj: Obj) -> PersistentVolume:
        spec = obj.get("spec") or {}
        claim = spec.get("claimRef") or {}
        return cls(
            waive=_waive(obj),
            name=_meta(obj).get("name", ""),
            labels=_labels(obj),
            claim_namespace=claim.get("namespace", ""),
            claim_name=claim.get("name", ""),
            node_affinity=dict(spec.get("nodeAffinity") or {}),
        )


@dataclass(frozen=True, slots=True)
class PersistentVolumeClaim:
    namespace: str
    name: str
    volume_name: str
    waive: str = ""

    @classmethod
    def from_obj(cls, obj: Obj) -> PersistentVolumeClaim:
        meta = _meta(obj)
        return cls(waive=_waive(obj), namespace=meta.get("namespace", ""), name=meta.get("name", ""),
                   volume_name=(obj.get("spec") or {}).get("volumeName") or "")


# ---- Velero (velero.io/v1), the API of OpenShift's OADP ---------------------------------------

ENCRYPTION_ANNOTATION = "sncguard.io/encryption"


@dataclass(frozen=True, slots=True)
class BackupStorageLocation:
    namespace: str
    name: str
    labels: dict[str, str]
    config: dict[str, str]
    provider: str
    bucket: str
    encryption_attested: str | None  # the sncguard.io/encryption annotation, when present
    phase: str = ""
    waive: str = ""

    @property
    def zone(self) -> str | None:
        return self.labels.get(ZONE_LABEL)

    @property
    def region(self) -> str | None:
        return self.labels.get(REGION_LABEL) or self.config.get("region")

    @classmethod
    def from_obj(cls, obj: Obj) -> BackupStorageLocation:
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        return cls(
            waive=_waive(obj),
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            labels=_labels(obj),
            config={str(k): str(v) for k, v in (spec.get("config") or {}).items()},
            provider=spec.get("provider", ""),
            bucket=((spec.get("objectStorage") or {}).get("bucket") or ""),
            encryption_attested=(meta.get("annotations") or {}).get(ENCRYPTION_ANNOTATION),
            phase=(obj.get("status") or {}).get("phase", ""),
        )


@dataclass(frozen=True, slots=True)
class VeleroSchedule:
    namespace: str
    name: str
    schedule: str
    included_namespaces: tuple[str, ...]
    excluded_namespaces: tuple[str, ...]
    storage_location: str
    ttl: str
    paused: bool
    labels: dict[str, str]
    owner_uids: tuple[str, ...] = ()
    # status.phase: Velero marks a Schedule it refuses FailedValidation, and never runs it.
    phase: str = ""

    @classmethod
    def from_obj(cls, obj: Obj) -> VeleroSchedule:
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        template = spec.get("template") or {}
        return cls(
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            schedule=spec.get("schedule", ""),
            included_namespaces=tuple(template.get("includedNamespaces") or ()),
            excluded_namespaces=tuple(template.get("excludedNamespaces") or ()),
            storage_location=template.get("storageLocation") or "",
            ttl=template.get("ttl") or "",
            paused=bool(spec.get("paused")),
            labels=_labels(obj),
            owner_uids=_owner_uids(obj),
            phase=(obj.get("status") or {}).get("phase") or "",
        )


@dataclass(frozen=True, slots=True)
class VeleroBackup:
    namespace: str
    name: str
    phase: str
    included_namespaces: tuple[str, ...]
    storage_location: str
    schedule_name: str  # the velero.io/schedule-name label
    started: str  # RFC 3339, "" if unknown
    completed: str
    excluded_namespaces: tuple[str, ...] = ()

    @classmethod
    def from_obj(cls, obj: Obj) -> VeleroBackup:
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        return cls(
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            phase=status.get("phase", ""),
            included_namespaces=tuple(spec.get("includedNamespaces") or ()),
            storage_location=spec.get("storageLocation") or "",
            schedule_name=_labels(obj).get("velero.io/schedule-name", ""),
            started=status.get("startTimestamp") or "",
            completed=status.get("completionTimestamp") or "",
            excluded_namespaces=tuple(spec.get("excludedNamespaces") or ()),
        )


@dataclass(frozen=True, slots=True)
class VeleroRestore:
    namespace: str
    name: str
    backup_name: str
    phase: str
    namespace_mapping: dict[str, str]
    completed: str
    labels: dict[str, str]
    started: str = ""

    @classmethod
    def from_obj(cls, obj: Obj) -> VeleroRestore:
        meta = _meta(obj)
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        return cls(
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            backup_name=spec.get("backupName", ""),
            phase=status.get("phase", ""),
            namespace_mapping=dict(spec.get("namespaceMapping") or {}),
            completed=status.get("completionTimestamp") or "",
            labels=_labels(obj),
            started=status.get("startTimestamp") or "",
        )


@dataclass(slots=True)
class ClusterView:
    """What the rules may know about the cluster.

    `pods_observed` and `nodes_observed` say whether live placement is known at all: the
    offline check of bare manifests has neither, and the rules that need them then skip
    instead of failing on an absence of evidence.
    """

    namespaces: dict[str, Namespace] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    pdbs: list[PodDisruptionBudget] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    network_policies: list[NetworkPolicy] = field(default_factory=list)
    ingresses: list[Ingress] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    role_bindings: list[RoleBinding] = field(default_factory=list)  # RoleBindings and ClusterRoleBindings
    persistent_volumes: dict[str, PersistentVolume] = field(default_factory=dict)
    persistent_volume_claims: list[PersistentVolumeClaim] = field(default_factory=list)
    storage_locations: list[BackupStorageLocation] = field(default_factory=list)
    schedules: list[VeleroSchedule] = field(default_factory=list)
    backups: list[VeleroBackup] = field(default_factory=list)
    restores: list[VeleroRestore] = field(default_factory=list)
    pods_observed: bool = False
    nodes_observed: bool = False
    # Whether Velero's API exists at all: without it, the backup rules cannot judge.
    velero_installed: bool = True
    # pods, workloads and pdbs by namespace (index_by_namespace): (list, its length, groups) each.
    _by_namespace: tuple | None = field(default=None, init=False, repr=False, compare=False)
    # (kind, namespace, name) -> waiver annotation, filled once by waivers.annotated: a view is
    # complete before the rules read it, and `check` judges every policy on one view.
    waive_index: dict[tuple[str, str, str], str] | None = field(default=None, init=False, repr=False,
                                                                compare=False)

    def index_by_namespace(self) -> None:
        """Index pods, workloads and PDBs by namespace, for a view that is no longer changed (the
        offline check): pods_in, workloads_in and pdbs_in then look up instead of scanning. A list
        replaced or grown since is noticed, and scanned as before."""
        indexes = []
        for items in (self.pods, self.workloads, self.pdbs):
            groups: dict[str, list[Any]] = {}
            for item in items:
                groups.setdefault(item.namespace, []).append(item)
            indexes.append((items, len(items), groups))
        self._by_namespace = tuple(indexes)

    def _in(self, which: int, items: list[Any], namespace: str) -> list[Any]:
        if self._by_namespace is not None:
            indexed, length, groups = self._by_namespace[which]
            if indexed is items and length == len(items):
                return list(groups.get(namespace, ()))
        return [x for x in items if x.namespace == namespace]

    def add(self, kind: str, projections: Iterable[Any]) -> None:
        """Add projections of one kind (see PROJECTIONS); name-keyed attributes keep the last of a name."""
        target = getattr(self, PROJECTIONS[kind][0])
        if isinstance(target, dict):
            for projection in projections:
                target[projection.name] = projection
        else:
            target.extend(projections)

    def pods_in(self, namespace: str) -> list[Pod]:
        return self._in(0, self.pods, namespace)

    def workloads_in(self, namespace: str) -> list[Workload]:
        return self._in(1, self.workloads, namespace)

    def pdbs_in(self, namespace: str) -> list[PodDisruptionBudget]:
        return self._in(2, self.pdbs, namespace)

    def zone_of_node(self, node_name: str, topology_key: str = ZONE_LABEL) -> str | None:
        node = self.nodes.get(node_name)
        return node.labels.get(topology_key) if node else None

    def known_zones(self, topology_key: str = ZONE_LABEL) -> set[str]:
        return {z for n in self.nodes.values() if (z := n.labels.get(topology_key))}


# kind -> (the ClusterView attribute it joins, its projection): one table for the operator's indexes
# and the offline loader, so both fill the same view the same way.
PROJECTIONS: dict[str, tuple[str, Callable[[Obj], Any]]] = {
    "Namespace": ("namespaces", Namespace.from_obj),
    "Node": ("nodes", Node.from_obj),
    "Pod": ("pods", Pod.from_obj),
    "Deployment": ("workloads", partial(Workload.from_obj, kind="Deployment")),
    "StatefulSet": ("workloads", partial(Workload.from_obj, kind="StatefulSet")),
    "PodDisruptionBudget": ("pdbs", PodDisruptionBudget.from_obj),
    "Service": ("services", Service.from_obj),
    "NetworkPolicy": ("network_policies", NetworkPolicy.from_obj),
    "Ingress": ("ingresses", Ingress.from_obj),
    "Route": ("routes", Route.from_obj),
    "RoleBinding": ("role_bindings", partial(RoleBinding.from_obj, kind="RoleBinding")),
    "ClusterRoleBinding": ("role_bindings", partial(RoleBinding.from_obj, kind="ClusterRoleBinding")),
    "PersistentVolume": ("persistent_volumes", PersistentVolume.from_obj),
    "PersistentVolumeClaim": ("persistent_volume_claims", PersistentVolumeClaim.from_obj),
    "BackupStorageLocation": ("storage_locations", BackupStorageLocation.from_obj),
    "Schedule": ("schedules", VeleroSchedule.from_obj),
    "Backup": ("backups", VeleroBackup.from_obj),
    "Restore": ("restores", VeleroRestore.from_obj),
}


def project(kind: str, body: Obj) -> Any:
    """The projection of `body`, an object of `kind` as the API or a manifest gives it.

    Raises one of UNREADABLE when the body cannot be read (a port that is not a number, a list
    where an object belongs, an infinite replica count): the caller leaves such an object out and says so.
    """
    return PROJECTIONS[kind][1](body)


# What a projection raises on a body it cannot read.
UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, OverflowError)


# Kinds whose names are Velero's only under its API group (a "Backup" elsewhere is someone else's).
VELERO_KINDS = frozenset({"BackupStorageLocation", "Schedule", "Backup", "Restore"})

