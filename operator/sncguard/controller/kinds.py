"""What the operator watches: each kind's projection, index, and the policies a change can affect.

One table drives the informers and kopf registrations (handlers.py) and the view the rules
read (build_view), so adding a kind is one entry here, not edits in three places.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from ..netpol import NAMESPACE_NAME_LABEL, pod_address
from ..selectors import label_selector_matches
from ..status import invalid_status
from ..view import ClusterView, project
from .state import PolicyKey, PolicyRecord
from .state import plain as _plain

if TYPE_CHECKING:
    from .engine import Engine

CLUSTER = "*"
VELERO_GROUP = "velero.io"


# Each `affects` gets the object's namespace ("" when cluster-scoped), its name, and its new
# projection (None when it was deleted), and marks the policies whose verdict it may move.
Affects = Callable[["Engine", str, str, Any], None]


def _affects_namespace_policies(*kinds: str) -> Affects:
    def affects(engine: Engine, namespace: str, name: str, projection: Any) -> None:
        for kind in kinds:
            engine.mark_namespaced(kind, namespace)
        engine.mark_tenants_of(namespace)
    return affects


def _affects_tenants(engine: Engine, namespace: str, name: str, projection: Any) -> None:
    engine.mark_tenants_of(namespace)


def _affects_pod_policies(engine: Engine, namespace: str, name: str, projection: Any) -> None:
    """A pod moves its namespace's policies at once, and, later, the other tenants that can name it
    (another tenant's pod admitted by address is a NET-004 failure)."""
    engine.foreign_pods.pod_changed(namespace)
    for kind in ("ZoneSpread", "BackupPolicy"):
        engine.mark_namespaced(kind, namespace)
    engine.mark_tenants_of(namespace)
    for key in _tenants_naming_pod(engine, namespace, name, projection):
        engine.mark(key, deferred=True)


def _tenants_naming_pod(engine: Engine, namespace: str, name: str, projection: Any) -> set[PolicyKey]:
    """The TenantPolicies whose NetworkPolicies name this pod of another tenant, or did: a
    namespaceSelector matches its namespace, or one of their ipBlocks holds its address now or held
    the one it had (it left the block, or was deleted). Any other tenant's verdict ignores it."""
    where = (namespace, name)
    readers: set[PolicyKey] = set()
    for key in engine.tenant_policies_reading_pods_in.get(namespace, ()):
        reach, selected = engine.tenant_reach.get(key), engine.foreign_pods_selected.setdefault(key, set())
        selects_it = reach is None or (projection is not None and reach.selects(projection))
        if selects_it or where in selected:
            readers.add(key)
        if selects_it and projection is not None:
            selected.add(where)
        else:
            selected.discard(where)
    before = engine.pod_addresses_in_blocks.pop(where, None)
    after = pod_address(projection) if projection is not None else None
    for key, blocks in engine.tenant_ip_blocks.items():
        holds_it = after is not None and any(block.contains(after) for block in blocks)
        if holds_it:
            engine.pod_addresses_in_blocks[where] = after
        if holds_it or (before is not None and any(block.contains(before) for block in blocks)):
            readers.add(key)
    return readers


def _affects_all_tenants(engine: Engine, namespace: str, name: str, projection: Any) -> None:
    engine.mark_kind("TenantPolicy")


def _affects_everything(engine: Engine, namespace: str, name: str, projection: Any) -> None:
    for kind in ("ZoneSpread", "TenantPolicy", "BackupPolicy"):
        engine.mark_kind(kind)


def _affects_nodes() -> Affects:
    """A node's labels move every policy (zones, regions); its Ready condition alone only the ZoneSpreads,
    whose SLA ledgers record zone outages: a node reboot must not re-evaluate every TenantPolicy."""
    labels_of: dict[str, dict[str, str]] = {}

    def affects(engine: Engine, namespace: str, name: str, projection: Any) -> None:
        before = labels_of.pop(name, None)
        if projection is not None:
            labels_of[name] = projection.labels
        if projection is not None and before == projection.labels:
            engine.mark_kind("ZoneSpread")
        else:
            _affects_everything(engine, namespace, name, projection)
    return affects


def _affects_namespace(engine: Engine, namespace: str, name: str, projection: Any) -> None:
    """A namespace created, relabelled or deleted. The TenantPolicies that select it now or covered
    it before are evaluated promptly. Another tenant's verdict reads it only through its peers'
    namespaceSelectors (matching the labels before or after) and its ipBlocks (holding a pod of it):
    those tenants are evaluated later, as are the tenants not evaluated yet; the rest not at all."""
    engine.mark_namespaced("ZoneSpread", name)
    engine.mark_namespaced("BackupPolicy", name)
    covering = engine.tenant_policies_of_namespace.get(name, set())
    before = engine.namespace_labels_seen.pop(name, None)
    if before is None:
        before = engine.tenant_selection.labels_of(name)
    after = projection.labels if projection is not None else None
    if after is not None:
        engine.namespace_labels_seen[name] = after
    named = [{**labels, NAMESPACE_NAME_LABEL: name} for labels in (before, after) if labels is not None]
    has_pods = bool(index_values(engine, BY_KIND["Pod"], [name]))
    for record in engine.records("TenantPolicy"):
        spec = engine.spec_of(record)
        selects = spec is not None and after is not None and label_selector_matches(
            spec.namespace_selector.as_k8s(), after)
        if selects or record.key in covering:
            engine.mark(record.key)
            continue
        selectors = engine.tenant_namespace_selectors.get(record.key)
        if selectors is None or (has_pods and record.key in engine.tenant_ip_blocks) or any(
                _selector_matches(selector, labels) for selector in selectors for labels in named):
            engine.mark(record.key, deferred=True)


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    try:
        return label_selector_matches(selector, labels)
    except ValueError:  # an operator the API server would refuse: it selects nothing, as in netpol
        return False


def _affects_backups(engine: Engine, namespace: str, name: str, projection: Any) -> None:
    """Velero's objects move the BackupPolicies at once, and, later, the TenantPolicies of ended
    contracts: a Backup covering a tenant's namespace is data that remains (TERM-002)."""
    engine.backup_index.velero_changed()
    engine.mark_kind("BackupPolicy")
    for record in engine.records("TenantPolicy"):
        spec = engine.spec_of(record)
        if spec is not None and getattr(spec, "termination", None) is not None:
            engine.mark(record.key, deferred=True)


@dataclass(frozen=True)
class Watched:
    group: str
    version: str
    plural: str
    kind: str
    affects: Affects
    namespaced: bool = True
    # Owned kinds: a second index keeps the plain objects sncguard manages, to diff plans against.
    owned: bool = False
    # An API that may be absent (OpenShift Routes, Velero). Every watched kind goes through
    # sncguard's informer, which keeps projections only (kopf would hold every listed body:
    # thousands of Velero Backups per cluster); an absent optional API counts as synced and empty,
    # and is listed again whenever kopf's discovery revises the APIs (informer.py).
    optional: bool = False
    keep: tuple[str, ...] = field(default=("metadata", "spec"))

    def project(self, body: Mapping[str, Any]) -> Any:
        """The body's projection, by the path the offline loader takes too; the kind is this entry's,
        never the body's (listed items carry none)."""
        return project(self.kind, body)

    @property
    def index_id(self) -> str:
        return f"index-{self.plural}.{self.group or 'core'}"

    @property
    def owned_index_id(self) -> str:
        return f"owned-{self.plural}.{self.group or 'core'}"

    @property
    def resource(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)

    @property
    def resource_label(self) -> str:
        """How metrics name the resource: `pods`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def owned_copy(watched: Watched, body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    out: dict[str, Any] = {"metadata": {
        "name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid"),
        "labels": _plain(meta.get("labels") or {}), "annotations": _plain(meta.get("annotations") or {}),
        "ownerReferences": _plain(meta.get("ownerReferences") or []),
    }}
    for key in watched.keep:
        if key != "metadata" and key in body:
            out[key] = _plain(body[key])
    return out


def is_managed(body: Mapping[str, Any]) -> bool:
    return ((body.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


WATCHED: tuple[Watched, ...] = (
    Watched("", "v1", "pods", "Pod", _affects_pod_policies),
    Watched("apps", "v1", "deployments", "Deployment", _affects_namespace_policies("ZoneSpread")),
    Watched("apps", "v1", "statefulsets", "StatefulSet", _affects_namespace_policies("ZoneSpread")),
    Watched("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", _affects_namespace_policies("ZoneSpread")),
    Watched("", "v1", "nodes", "Node", _affects_nodes(), namespaced=False),
    Watched("", "v1", "namespaces", "Namespace", _affects_namespace, namespaced=False),
    Watched("", "v1", "services", "Service", _affects_tenants),
    Watched("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", _affects_tenants, owned=True),
    Watched("networking.k8s.io", "v1", "ingresses", "Ingress", _affects_tenants),
    Watched("route.openshift.io", "v1", "routes", "Route", _affects_tenants, optional=True),
    Watched("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", _affects_tenants, owned=True,
            keep=("metadata", "roleRef", "subjects")),
    Watched("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", _affects_all_tenants,
            namespaced=False),
    Watched("", "v1", "persistentvolumes", "PersistentVolume", _affects_all_tenants, namespaced=False),
    Watched("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", _affects_tenants),
    Watched(VELERO_GROUP, "v1", "backupstoragelocations", "BackupStorageLocation", _affects_backups, optional=True),
    Watched(VELERO_GROUP, "v1", "schedules", "Schedule", _affects_backups, owned=True, optional=True),
    Watched(VELERO_GROUP, "v1", "backups", "Backup", _affects_backups, optional=True),
    Watched(VELERO_GROUP, "v1", "restores", "Restore", _affects_backups, owned=True, optional=True,
            keep=("metadata", "spec", "status")),
)
BY_KIND = {w.kind: w for w in WATCHED}


# The kinds each policy kind's rules read. A kind sncguard may not list (a 403) leaves the policies
# that read it unjudged, Ready=False reason MissingPermission, rather than judged on a view that
# silently lacks it; every other policy runs on.
READS: dict[str, frozenset[str]] = {
    "ZoneSpread": frozenset({"Namespace", "Node", "Pod", "Deployment", "StatefulSet", "PodDisruptionBudget"}),
    "TenantPolicy": frozenset({"Namespace", "Node", "Pod", "Service", "NetworkPolicy", "Ingress", "Route",
                               "RoleBinding", "ClusterRoleBinding", "PersistentVolume", "PersistentVolumeClaim",
                               "Backup"}),
    "BackupPolicy": frozenset({"Namespace", "Node", "Pod", "BackupStorageLocation", "Schedule", "Backup", "Restore"}),
}


def change_handler(engine: Engine, watched: Watched) -> Callable[[str, str, Any], None]:
    """The informer's callback for `watched`: a real change of one object marks the policies it may move."""
    def changed(namespace: str, name: str, projection: Any) -> None:
        engine.object_changed(watched.kind, namespace, name)
        watched.affects(engine, namespace, name, projection)
    return changed


def readers_of(kind: str) -> list[str]:
    """The policy kinds whose verdicts read `kind`."""
    return [policy for policy, reads in READS.items() if kind in reads]


async def missing_permission(engine: Engine, record: PolicyRecord) -> bool:
    """Report the policy unjudged (Ready=False, MissingPermission, naming the resources) when sncguard
    may not list a kind it reads; True then. The previous verdict stays, as for an invalid spec."""
    refused = {w.resource_label: why for w in WATCHED
               if w.kind in READS[record.key.kind] and (why := engine.forbidden.get(w.kind))}
    if not refused:
        return False
    names = ", ".join(sorted(refused))
    if engine.language == "fr":
        message = (f"sncguard n'a pas le droit de lister {names} : cette politique n'est pas évaluée tant que "
                   f"ce droit manque (les autres le sont)")
    else:
        message = (f"sncguard may not list {names}: this policy is not judged until it may (the others are); "
                   f"the API server said: {'; '.join(sorted(set(refused.values())))}")
    await engine.write_status(record, invalid_status(
        generation=record.generation, reason="MissingPermission", message=message,
        previous=engine.previous_status(record), now=engine.clock()))
    return True


def index_values(engine: Engine, watched: Watched, keys: Iterable[str] | None) -> list[Any]:
    index = engine.index(watched.index_id)
    if index is None:
        return []
    if keys is None or not watched.namespaced:
        return [v for key in list(index) for v in index[key]]
    return [v for key in keys if key in index for v in index[key]]


def owned_objects(engine: Engine, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
    """Plain copies of the objects of `kind` that carry sncguard's managed-by label."""
    index = engine.index(BY_KIND[kind].owned_index_id)
    if index is None:
        return []
    keys = [namespace] if namespace is not None else list(index)
    return [v for key in keys if key in index for v in index[key]]


def velero_installed(engine: Engine) -> bool:
    """Whether the API serves Velero's kinds (any of them): the informers' answer, via api_groups."""
    return VELERO_GROUP in engine.api_groups()


def build_view(engine: Engine, namespaces: Iterable[str] | None, velero_namespaces: Iterable[str]) -> ClusterView:
    keys = None if namespaces is None else list(namespaces)
    velero_keys = list(velero_namespaces)
    view = ClusterView(pods_observed=True, nodes_observed=True, velero_installed=velero_installed(engine))
    for watched in WATCHED:
        scope = velero_keys if watched.group == VELERO_GROUP else keys
        view.add(watched.kind, index_values(engine, watched, scope))
    return view
