"""What the operator watches: each kind's projection, index, and the policies a change can affect.

One table drives the informers and kopf registrations (handlers.py) and the view the rules
read (build_view), so adding a kind is one entry here, not edits in three places. Which policies a
change marks is derived from what each policy kind reads (the rule registry's `reads`) and from where
it reads the kind (`mark_readers`); a rule that declares a new read is followed with no edit here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from ..i18n import msg, seq
from ..netpol import NAMESPACE_NAME_LABEL, pod_address
from ..rules.catalogue import POLICY_READS
from ..selectors import label_selector_matches
from ..status import invalid_status
from ..view import ClusterView, project
from .state import PolicyKey, PolicyRecord
from .state import plain as _plain

if TYPE_CHECKING:
    from .engine import Engine

CLUSTER = "*"
VELERO_GROUP = "velero.io"


@dataclass(frozen=True)
class Change:
    """One object's change as the informer saw it: its projection before (None: it is new) and after
    (None: it was deleted); `namespace` is "" for a cluster-scoped object."""

    kind: str
    namespace: str
    name: str
    before: Any
    after: Any


# The kinds a policy kind reads beyond the namespaces it judges, besides the cluster-scoped kinds and Velero's
# (read in the Velero namespace a policy names): a TenantPolicy selects its namespaces among all of them,
# and judges the pods of other tenants that its peers name (NET-004, NET-005).
READ_BEYOND_OWN_NAMESPACES: dict[str, frozenset[str]] = {"TenantPolicy": frozenset({"Namespace", "Pod"})}

# A policy kind that reads a kind across the cluster or beyond its own namespaces would have every policy of
# it judged again on any change of that kind. A narrowing says which of them the change can move, from the
# change and from what each one's last evaluation recorded: thousands of tenants are not judged again for
# one node reboot or one pod.
Narrowing = Callable[["Engine", Change], None]


def _tenants_naming_pod(engine: Engine, change: Change) -> None:
    """Later, the TenantPolicies whose NetworkPolicies name this pod of another tenant, or did: a peer
    selects it, or one of their ipBlocks holds its address now or held the one it had (it left the
    block, or was deleted). Any other tenant's verdict ignores it."""
    where, projection = (change.namespace, change.name), change.after
    readers: set[PolicyKey] = set()
    for key in engine.tenant_policies_reading_pods_in.get(change.namespace, ()):
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
    for key in readers:
        engine.mark(key, deferred=True)


def _tenants_reading_namespace(engine: Engine, change: Change) -> None:
    """A namespace created, relabelled or deleted. The TenantPolicies that select it now or covered
    it before are evaluated promptly. Another tenant's verdict reads it only through its peers'
    namespaceSelectors (matching the labels before or after) and its ipBlocks (holding a pod of it):
    those tenants are evaluated later, as are the tenants not evaluated yet; the rest not at all."""
    name = change.name
    covering = engine.tenant_policies_of_namespace.get(name, set())
    before = change.before.labels if change.before is not None else None
    after = change.after.labels if change.after is not None else None
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


def _every_one_if_node_labels_moved(policy_kind: str) -> Narrowing:
    """A node's labels (zones, regions) are all a `policy_kind` reads of it; its Ready condition only the
    ZoneSpreads read: a node reboot must not judge every TenantPolicy again."""
    def narrowed(engine: Engine, change: Change) -> None:
        if change.before is None or change.after is None or change.before.labels != change.after.labels:
            engine.mark_kind(policy_kind)
    return narrowed


def _tenants_with_a_termination(engine: Engine, change: Change) -> None:
    """Later, the TenantPolicies that declare a termination: a Backup that holds one of their namespaces
    is data that remains (TERM-002); no other tenant reads Backups."""
    for record in engine.records("TenantPolicy"):
        spec = engine.spec_of(record)
        if spec is not None and getattr(spec, "termination", None) is not None:
            engine.mark(record.key, deferred=True)


NARROWINGS: dict[tuple[str, str], Narrowing] = {
    ("Pod", "TenantPolicy"): _tenants_naming_pod,
    ("Namespace", "TenantPolicy"): _tenants_reading_namespace,
    ("Node", "TenantPolicy"): _every_one_if_node_labels_moved("TenantPolicy"),
    ("Node", "BackupPolicy"): _every_one_if_node_labels_moved("BackupPolicy"),
    ("Backup", "TenantPolicy"): _tenants_with_a_termination,
}


@dataclass(frozen=True)
class Watched:
    group: str
    version: str
    plural: str
    kind: str
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
    def read_in_own_namespaces(self) -> bool:
        """Whether a policy reads objects of this kind in the namespaces it judges (a Namespace is the one it
        names), rather than across the cluster or, for Velero's kinds, in the Velero namespace it names."""
        return (self.namespaced and self.group != VELERO_GROUP) or self.kind == "Namespace"

    def affects(self, engine: Engine, namespace: str, name: str, before: Any, after: Any) -> None:
        """A change of one object (its projection before and after): forget what the engine derived from
        the kind there, and mark the policies whose verdict it may move (`mark_readers`)."""
        if self.kind == "Pod":
            engine.foreign_pods.pod_changed(namespace)
        if self.group == VELERO_GROUP:
            engine.backup_index.velero_changed()
        mark_readers(engine, self, Change(self.kind, namespace, name, before, after))

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
    Watched("", "v1", "pods", "Pod"),
    Watched("apps", "v1", "deployments", "Deployment"),
    Watched("apps", "v1", "statefulsets", "StatefulSet"),
    Watched("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget"),
    Watched("", "v1", "nodes", "Node", namespaced=False),
    Watched("", "v1", "namespaces", "Namespace", namespaced=False),
    Watched("", "v1", "services", "Service"),
    Watched("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", owned=True),
    Watched("networking.k8s.io", "v1", "ingresses", "Ingress"),
    Watched("route.openshift.io", "v1", "routes", "Route", optional=True),
    Watched("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", owned=True,
            keep=("metadata", "roleRef", "subjects")),
    Watched("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
            namespaced=False),
    Watched("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False),
    Watched("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    Watched(VELERO_GROUP, "v1", "backupstoragelocations", "BackupStorageLocation", optional=True),
    Watched(VELERO_GROUP, "v1", "schedules", "Schedule", owned=True, optional=True),
    Watched(VELERO_GROUP, "v1", "backups", "Backup", optional=True),
    Watched(VELERO_GROUP, "v1", "restores", "Restore", owned=True, optional=True,
            keep=("metadata", "spec", "status")),
)
BY_KIND = {w.kind: w for w in WATCHED}


# The kinds each policy kind reads: what its rules declare in the registry, and what it reads beside them.
# A change of one of them may move its verdicts (`mark_readers`). A kind sncguard may not list (a 403)
# leaves the policies that read it unjudged, Ready=False reason MissingPermission, rather than judged on
# a view that silently lacks it; every other policy runs on.
READS: dict[str, frozenset[str]] = {kind: POLICY_READS[kind] for kind in ("ZoneSpread", "TenantPolicy", "BackupPolicy")}


def readers_of(kind: str) -> list[str]:
    """The policy kinds whose verdicts read `kind`."""
    return [policy for policy, reads in READS.items() if kind in reads]


def mark_readers(engine: Engine, watched: Watched, change: Change) -> None:
    """Mark the policies whose verdict `change` may move: of each policy kind that reads its kind, those
    that judge its namespace (a ZoneSpread or BackupPolicy there, the TenantPolicies covering it), and,
    for a kind read across the cluster or beyond a policy's own namespaces, every one, or those its
    narrowing picks."""
    namespace = change.name if watched.kind == "Namespace" else change.namespace
    for policy_kind in readers_of(watched.kind):
        if watched.read_in_own_namespaces:
            if policy_kind == "TenantPolicy":
                engine.mark_tenants_of(namespace)
            else:
                engine.mark_namespaced(policy_kind, namespace)
        if not watched.read_in_own_namespaces or watched.kind in READ_BEYOND_OWN_NAMESPACES.get(policy_kind, ()):
            narrowed = NARROWINGS.get((watched.kind, policy_kind))
            if narrowed is None:
                engine.mark_kind(policy_kind)
            else:
                narrowed(engine, change)


def change_handler(engine: Engine, watched: Watched) -> Callable[[str, str, Any, Any], None]:
    """The informer's callback for `watched`: a real change of one object (its projection before and
    after) marks the policies it may move, and the next plan compares the object again."""
    def changed(namespace: str, name: str, before: Any, after: Any) -> None:
        engine.object_changed(watched.kind, namespace, name)
        watched.affects(engine, namespace, name, before, after)
    return changed


async def missing_permission(engine: Engine, record: PolicyRecord) -> bool:
    """Report the policy unjudged (Ready=False, MissingPermission, naming the resources) when sncguard
    may not list a kind it reads; True then. The previous verdict stays, as for an invalid spec."""
    refused = {w.resource_label: why for w in WATCHED
               if w.kind in READS[record.key.kind] and (why := engine.forbidden.get(w.kind))}
    if not refused:
        return False
    message = msg("sncguard may not list {resources}: this policy is not judged until it may (the others are); "
                  "the API server said: {reasons}", resources=sorted(refused),
                  reasons=seq(sorted(set(refused.values())), "; "))
    await engine.writer.write_status(record, invalid_status(
        generation=record.generation, reason="MissingPermission", message=message.render(engine.language),
        previous=engine.writer.previous_status(record), now=engine.clock()))
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
