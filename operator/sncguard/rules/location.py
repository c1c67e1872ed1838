"""Location rules LOC-001 and LOC-002: the tenant's workloads and volumes stay in the allowed regions (R10).

Pure: no I/O, no clock, no kopf, no client.

Regions come from the label topology.kubernetes.io/region of Nodes and PersistentVolumes; a
PersistentVolume without it falls back to its required node affinity on that key. A missing
region is never read as compliant: what cannot be located cannot be proven to stay in the EU.

When the policy names no allowed region, both rules skip (one finding each, on the policy). When
live Pods or Nodes are not observed (an offline check of bare manifests), LOC-001 skips per
tenant namespace rather than failing on an absence of evidence.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from .. import REGION_LABEL
from ..findings import Finding, ResourceRef, Result, Severity, finding
from ..i18n import N_, Text, msg, seq
from ..selectors import node_admits
from ..view import ClusterView, Node, PersistentVolume, PersistentVolumeClaim, Pod
from .registry import LOCATION, Family, rule
from .subjects import Tenant

if TYPE_CHECKING:
    from ..api.tenantpolicy import TenantPolicySpec

__all__ = [
    "check_pod_regions",
    "check_volume_regions",
    "evaluate_location",
    "tenant_volumes",
    "volume_regions",
]

POLICY_API_VERSION = "sncguard.io/v1alpha1"

F_ALLOWED_REGIONS = "spec.allowedRegions"
F_NODE_NAME = "spec.nodeName"
F_NODE_SELECTOR = "spec.nodeSelector"
F_NODE_AFFINITY = "spec.affinity.nodeAffinity"
F_PV_REGION_LABEL = f"metadata.labels[{REGION_LABEL}]"
F_PV_NODE_AFFINITY = "spec.nodeAffinity.required"
F_PVC_VOLUME = "spec.volumeName"

# How many offending nodes a LOC-001 warning names before it counts the rest.
NODES_SHOWN = 5


family: Family[Tenant] = Family(LOCATION, "TenantPolicy")


def _regions(allowed: Iterable[str]) -> str:
    return ", ".join(sorted(allowed))


def _pod_ref(pod: Pod) -> ResourceRef:
    return ResourceRef(kind="Pod", namespace=pod.namespace, name=pod.name, api_version="v1")


def _pv_ref(pv: PersistentVolume) -> ResourceRef:
    return ResourceRef(kind="PersistentVolume", namespace="", name=pv.name, api_version="v1")


def _pvc_ref(pvc: PersistentVolumeClaim) -> ResourceRef:
    return ResourceRef(kind="PersistentVolumeClaim", namespace=pvc.namespace, name=pvc.name, api_version="v1")


def _namespace_ref(namespace: str) -> ResourceRef:
    return ResourceRef(kind="Namespace", namespace="", name=namespace, api_version="v1")


def _node_region(node: Node) -> Text:
    if node.region:
        return msg("{node} (region {region})", node=node.name, region=node.region)
    return msg("{node} (no {label} label)", node=node.name, label=REGION_LABEL)


# --------------------------------------------------------------------------------------------
# LOC-001


def _pending(pod: Pod) -> bool:
    return not pod.node_name and pod.phase == "Pending" and not pod.terminating


def _constraint_field(pod: Pod) -> str:
    return F_NODE_AFFINITY if pod.affinity.get("nodeAffinity") else F_NODE_SELECTOR


def _constraints(pod: Pod) -> Text:
    selector = ", ".join(f"{k}={v}" for k, v in sorted(pod.node_selector.items()))
    if pod.node_selector and pod.affinity.get("nodeAffinity"):
        return msg("nodeSelector {selector} and node affinity", selector=selector)
    if pod.node_selector:
        return msg("nodeSelector {selector}", selector=selector)
    if pod.affinity.get("nodeAffinity"):
        return msg("node affinity")
    return msg("no nodeSelector and no required node affinity")


def _judge_bound_pod(pod: Pod, allowed: frozenset[str], view: ClusterView) -> Finding | None:
    node = view.nodes.get(pod.node_name)
    where = {"namespace": pod.namespace, "pod": pod.name, "allowed": _regions(allowed)}
    if node is None:
        return finding(rule("LOC-001"), Result.WARN, _pod_ref(pod), msg(
            "Pod {namespace}/{pod} is bound to node {node} (spec.nodeName), which is not observed: its region "
            "cannot be checked against the allowed regions ({allowed})", node=pod.node_name, **where,
        ), F_NODE_NAME)
    if node.region is None:
        return finding(rule("LOC-001"), Result.FAIL, _pod_ref(pod), msg(
            "Pod {namespace}/{pod} runs on node {node} (spec.nodeName), which has no {label} label: an unknown "
            "region cannot be proven to be one of the allowed regions ({allowed})",
            node=node.name, label=REGION_LABEL, **where,
        ), F_NODE_NAME)
    if node.region not in allowed:
        return finding(rule("LOC-001"), Result.FAIL, _pod_ref(pod), msg(
            "Pod {namespace}/{pod} runs on node {node} (spec.nodeName) in region {region}, which is not one of "
            "the allowed regions ({allowed})", node=node.name, region=node.region, **where,
        ), F_NODE_NAME)
    return None


def _judge_pending_pod(pod: Pod, allowed: frozenset[str], view: ClusterView) -> Finding | None:
    outside = [n for _, n in sorted(view.nodes.items())
               if n.region not in allowed and node_admits(n.name, n.labels, pod.node_selector, pod.affinity)]
    if not outside:
        return None
    shown = outside[:NODES_SHOWN]
    more = len(outside) - len(shown)
    nodes: Text | object = seq(_node_region(n) for n in shown)
    if more:
        nodes = msg("{nodes} and {more} more", nodes=nodes, more=more)
    if any(n.region is None for n in outside):
        nodes = msg("{nodes}; a node without region label cannot be proven to lie in an allowed region",
                    nodes=nodes)
    return finding(rule("LOC-001"), Result.WARN, _pod_ref(pod), msg(
        "Pending Pod {namespace}/{pod} may be scheduled outside the allowed regions ({allowed}): its placement "
        "constraints ({constraints}) admit {count} node(s) outside them, {nodes}",
        namespace=pod.namespace, pod=pod.name, allowed=_regions(allowed), constraints=_constraints(pod),
        count=len(outside), nodes=nodes,
    ), _constraint_field(pod))


def check_pod_regions(allowed_regions: Collection[str], tenant_namespaces: Iterable[str],
                      view: ClusterView) -> list[Finding]:
    """LOC-001: fail per tenant pod bound to a node outside the allowed regions or without a region; warn per
    pod on an unobserved node and per pending pod whose constraints admit such a node; pass per tenant
    namespace where all is fine; skip per namespace without live Pods and Nodes."""
    allowed = frozenset(allowed_regions)
    namespaces = sorted(set(tenant_namespaces))
    out: list[Finding] = []
    if not view.pods_observed or not view.nodes_observed:
        for namespace in namespaces:
            out.append(finding(rule("LOC-001"), Result.SKIP, _namespace_ref(namespace), msg(
                "Pod placement in tenant namespace {namespace} not judged: no live Pods and Nodes in the input",
                namespace=namespace,
            )))
        return out
    for namespace in namespaces:
        pods = sorted(view.pods_in(namespace), key=lambda p: p.name)
        problems = 0
        bound = pending = 0
        for pod in pods:
            if pod.node_name:
                bound += 1
                verdict = _judge_bound_pod(pod, allowed, view)
            elif _pending(pod):
                pending += 1
                verdict = _judge_pending_pod(pod, allowed, view)
            else:
                verdict = None
            if verdict is not None:
                problems += 1
                out.append(verdict)
        if problems:
            continue
        out.append(finding(rule("LOC-001"), Result.PASS, _namespace_ref(namespace), msg(
            "Tenant namespace {namespace}: {bound} pod(s) on nodes of the allowed regions ({allowed}) and "
            "{pending} pending pod(s) that only nodes of those regions would accept",
            namespace=namespace, bound=bound, pending=pending, allowed=_regions(allowed),
        ), F_NODE_NAME))
    return out


# --------------------------------------------------------------------------------------------
# LOC-002


def volume_regions(pv: PersistentVolume) -> tuple[frozenset[str] | None, str]:
    """The regions `pv` may lie in and the field that says so; None when unknown.

    The region label wins. Otherwise every term of the required node affinity must pin
    topology.kubernetes.io/region with In; the regions are the union over terms (terms are ORed).
    """
    if pv.region:
        return frozenset({pv.region}), F_PV_REGION_LABEL
    required: Mapping = (pv.node_affinity or {}).get("required") or {}
    terms = required.get("nodeSelectorTerms") or ()
    if not terms:
        return None, F_PV_REGION_LABEL
    union: set[str] = set()
    for term in terms:
        pinned: frozenset[str] | None = None
        for e in term.get("matchExpressions") or ():
            if e.get("key") == REGION_LABEL and e.get("operator") == "In":
                values = frozenset(e.get("values") or ())
                pinned = values if pinned is None else pinned & values
        if pinned is None:
            return None, F_PV_REGION_LABEL
        union |= pinned
    if not union:
        return None, F_PV_REGION_LABEL
    return frozenset(union), F_PV_NODE_AFFINITY


def tenant_volumes(tenant_namespaces: Iterable[str], view: ClusterView
                   ) -> tuple[list[tuple[PersistentVolume, str]], list[PersistentVolumeClaim]]:
    """The PersistentVolumes bound to tenant claims, each with its claim "namespace/name", sorted by name;
    and the tenant claims whose volume the view does not hold."""
    tenant = frozenset(tenant_namespaces)
    claims: dict[str, str] = {}
    for pv in view.persistent_volumes.values():
        if pv.claim_namespace in tenant:
            claims[pv.name] = f"{pv.claim_namespace}/{pv.claim_name}"
    missing: list[PersistentVolumeClaim] = []
    for pvc in view.persistent_volume_claims:
        if pvc.namespace not in tenant or not pvc.volume_name:
            continue
        if pvc.volume_name in view.persistent_volumes:
            claims.setdefault(pvc.volume_name, f"{pvc.namespace}/{pvc.name}")
        else:
            missing.append(pvc)
    volumes = [(view.persistent_volumes[name], claim) for name, claim in sorted(claims.items())]
    return volumes, sorted(missing, key=lambda c: (c.namespace, c.name))


def check_volume_regions(allowed_regions: Collection[str], tenant_namespaces: Iterable[str],
                         view: ClusterView) -> list[Finding]:
    """LOC-002: fail per PersistentVolume bound to a tenant claim whose region is not allowed or unknown;
    pass per compliant one; skip per tenant claim whose volume is not observed."""
    allowed = frozenset(allowed_regions)
    out: list[Finding] = []
    volumes, missing = tenant_volumes(tenant_namespaces, view)
    for pv, claim in volumes:
        regions, field = volume_regions(pv)
        what = {"pv": pv.name, "claim": claim, "label": REGION_LABEL, "allowed": _regions(allowed)}
        source = (msg("label {label}", label=REGION_LABEL) if field == F_PV_REGION_LABEL
                  else msg("required node affinity on {label}", label=REGION_LABEL))
        if regions is None:
            out.append(finding(rule("LOC-002"), Result.FAIL, _pv_ref(pv), msg(
                "PersistentVolume {pv}, bound to claim {claim}, has no {label} label and no required node affinity "
                "that pins the region: its region is unknown, so it cannot be proven to lie in an allowed region "
                "({allowed})", **what,
            ), field))
            continue
        outside = regions - allowed
        if outside:
            out.append(finding(rule("LOC-002"), Result.FAIL, _pv_ref(pv), msg(
                "PersistentVolume {pv}, bound to claim {claim}, lies in region {regions} ({source}); {outside} is "
                "not one of the allowed regions ({allowed})",
                regions=_regions(regions), source=source, outside=_regions(outside), **what,
            ), field))
            continue
        out.append(finding(rule("LOC-002"), Result.PASS, _pv_ref(pv), msg(
            "PersistentVolume {pv}, bound to claim {claim}, lies in region {regions} ({source}), which is allowed",
            regions=_regions(regions), source=source, **what,
        ), field))
    for pvc in missing:
        out.append(finding(rule("LOC-002"), Result.SKIP, _pvc_ref(pvc), msg(
            "PersistentVolumeClaim {namespace}/{claim} is bound to PersistentVolume {pv}, which is not observed: "
            "its region is not judged", namespace=pvc.namespace, claim=pvc.name, pv=pvc.volume_name,
        ), F_PVC_VOLUME))
    return out


# --------------------------------------------------------------------------------------------
# The rules


def _no_regions(tenant: Tenant, rule_id: str, what: Text) -> list[Finding]:
    ref = ResourceRef(kind="TenantPolicy", namespace="", name=tenant.name, api_version=POLICY_API_VERSION)
    return [finding(rule(rule_id), Result.SKIP, ref, msg(
        "{what} not judged: TenantPolicy {policy} sets no spec.allowedRegions", what=what, policy=tenant.name,
    ), F_ALLOWED_REGIONS)]


@family.rule("LOC-001", Severity.CRITICAL, ("R10",),
             N_("A tenant pod runs, or may be scheduled, on a node in a region that is not allowed"),
             reads={"Pod", "Node"})
def pod_regions(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    if not tenant.spec.allowed_regions:
        return _no_regions(tenant, "LOC-001", msg("Region of the tenant's pods"))
    return check_pod_regions(tenant.spec.allowed_regions, tenant.namespaces, view)


@family.rule("LOC-002", Severity.CRITICAL, ("R10",),
             N_("A PersistentVolume bound to a tenant claim lies in a region that is not allowed"),
             reads={"PersistentVolume", "PersistentVolumeClaim"})
def persistent_volume_regions(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    if not tenant.spec.allowed_regions:
        return _no_regions(tenant, "LOC-002", msg("Region of the tenant's persistent volumes"))
    return check_volume_regions(tenant.spec.allowed_regions, tenant.namespaces, view)


def evaluate_location(spec: TenantPolicySpec, policy_name: str, tenant_namespaces: list[str],
                      view: ClusterView, now: datetime | None = None) -> list[Finding]:
    """Every LOC rule for the tenant's namespaces (no LOC rule reads the clock)."""
    return family.evaluate(Tenant(spec, policy_name, tenant_namespaces), view, now or datetime.min)
