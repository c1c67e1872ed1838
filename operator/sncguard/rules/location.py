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
from typing import TYPE_CHECKING

from .. import REGION_LABEL
from ..findings import Finding, Message, ResourceRef, Result, finding
from ..selectors import node_admits
from ..view import ClusterView, Node, PersistentVolume, PersistentVolumeClaim, Pod
from .catalogue import rule

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


def _node_region_en(node: Node) -> str:
    return f"{node.name} (region {node.region})" if node.region else f"{node.name} (no {REGION_LABEL} label)"


def _node_region_fr(node: Node) -> str:
    return f"{node.name} (région {node.region})" if node.region else f"{node.name} (sans label {REGION_LABEL})"


# --------------------------------------------------------------------------------------------
# LOC-001


def _pending(pod: Pod) -> bool:
    return not pod.node_name and pod.phase == "Pending" and not pod.terminating


def _constraint_field(pod: Pod) -> str:
    return F_NODE_AFFINITY if pod.affinity.get("nodeAffinity") else F_NODE_SELECTOR


def _constraints_en(pod: Pod) -> str:
    parts = []
    if pod.node_selector:
        parts.append("nodeSelector " + ", ".join(f"{k}={v}" for k, v in sorted(pod.node_selector.items())))
    if pod.affinity.get("nodeAffinity"):
        parts.append("node affinity")
    return " and ".join(parts) if parts else "no nodeSelector and no required node affinity"


def _constraints_fr(pod: Pod) -> str:
    parts = []
    if pod.node_selector:
        parts.append("le nodeSelector " + ", ".join(f"{k}={v}" for k, v in sorted(pod.node_selector.items())))
    if pod.affinity.get("nodeAffinity"):
        parts.append("l'affinité de nœud")
    return " et ".join(parts) if parts else "l'absence de nodeSelector et d'affinité de nœud requise"


def _judge_bound_pod(pod: Pod, allowed: frozenset[str], view: ClusterView) -> Finding | None:
    node = view.nodes.get(pod.node_name)
    where_en, where_fr = f"Pod {pod.namespace}/{pod.name}", f"le Pod {pod.namespace}/{pod.name}"
    if node is None:
        return finding(rule("LOC-001"), Result.WARN, _pod_ref(pod), Message(
            f"{where_en} is bound to node {pod.node_name} (spec.nodeName), which is not observed: its region "
            f"cannot be checked against the allowed regions ({_regions(allowed)})",
            f"{where_fr[0].upper()}{where_fr[1:]} est placé sur le nœud {pod.node_name} (spec.nodeName), qui "
            f"n'est pas observé : sa région ne peut pas être comparée aux régions autorisées ({_regions(allowed)})",
        ), F_NODE_NAME)
    if node.region is None:
        return finding(rule("LOC-001"), Result.FAIL, _pod_ref(pod), Message(
            f"{where_en} runs on node {node.name} (spec.nodeName), which has no {REGION_LABEL} label: an unknown "
            f"region cannot be proven to be one of the allowed regions ({_regions(allowed)})",
            f"{where_fr[0].upper()}{where_fr[1:]} s'exécute sur le nœud {node.name} (spec.nodeName), qui n'a pas "
            f"de label {REGION_LABEL} : une région inconnue ne peut pas être prouvée comme faisant partie des "
            f"régions autorisées ({_regions(allowed)})",
        ), F_NODE_NAME)
    if node.region not in allowed:
        return finding(rule("LOC-001"), Result.FAIL, _pod_ref(pod), Message(
            f"{where_en} runs on node {node.name} (spec.nodeName) in region {node.region}, which is not one of "
            f"the allowed regions ({_regions(allowed)})",
            f"{where_fr[0].upper()}{where_fr[1:]} s'exécute sur le nœud {node.name} (spec.nodeName) dans la "
            f"région {node.region}, qui ne fait pas partie des régions autorisées ({_regions(allowed)})",
        ), F_NODE_NAME)
    return None


def _judge_pending_pod(pod: Pod, allowed: frozenset[str], view: ClusterView) -> Finding | None:
    outside = [n for _, n in sorted(view.nodes.items())
               if n.region not in allowed and node_admits(n.name, n.labels, pod.node_selector, pod.affinity)]
    if not outside:
        return None
    shown = outside[:NODES_SHOWN]
    more = len(outside) - len(shown)
    more_en = f" and {more} more" if more else ""
    more_fr = f" et {more} autre(s)" if more else ""
    if any(n.region is None for n in outside):
        more_en += "; a node without region label cannot be proven to lie in an allowed region"
        more_fr += " ; un nœud sans label de région ne peut pas être prouvé dans une région autorisée"
    return finding(rule("LOC-001"), Result.WARN, _pod_ref(pod), Message(
        f"Pending Pod {pod.namespace}/{pod.name} may be scheduled outside the allowed regions "
        f"({_regions(allowed)}): its placement constraints ({_constraints_en(pod)}) admit "
        f"{len(outside)} node(s) outside them, "
        f"{', '.join(_node_region_en(n) for n in shown)}{more_en}",
        f"Le Pod en attente {pod.namespace}/{pod.name} peut être placé hors des régions autorisées "
        f"({_regions(allowed)}) : ses contraintes de placement ({_constraints_fr(pod)}) admettent "
        f"{len(outside)} nœud(s) hors de ces régions, "
        f"{', '.join(_node_region_fr(n) for n in shown)}{more_fr}",
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
            out.append(finding(rule("LOC-001"), Result.SKIP, _namespace_ref(namespace), Message(
                f"Pod placement in tenant namespace {namespace} not judged: no live Pods and Nodes in the input",
                f"Placement des pods de l'espace de noms du locataire {namespace} non évalué : aucun Pod ni "
                f"Node réel dans l'entrée",
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
        out.append(finding(rule("LOC-001"), Result.PASS, _namespace_ref(namespace), Message(
            f"Tenant namespace {namespace}: {bound} pod(s) on nodes of the allowed regions ({_regions(allowed)}) "
            f"and {pending} pending pod(s) that only nodes of those regions would accept",
            f"Espace de noms du locataire {namespace} : {bound} pod(s) sur des nœuds des régions autorisées "
            f"({_regions(allowed)}) et {pending} pod(s) en attente que seuls des nœuds de ces régions "
            f"accepteraient",
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
        what_en = f"PersistentVolume {pv.name}, bound to claim {claim},"
        what_fr = f"Le PersistentVolume {pv.name}, lié à la demande {claim},"
        source_en = (f"label {REGION_LABEL}" if field == F_PV_REGION_LABEL
                     else f"required node affinity on {REGION_LABEL}")
        source_fr = (f"label {REGION_LABEL}" if field == F_PV_REGION_LABEL
                     else f"affinité de nœud requise sur {REGION_LABEL}")
        if regions is None:
            out.append(finding(rule("LOC-002"), Result.FAIL, _pv_ref(pv), Message(
                f"{what_en} has no {REGION_LABEL} label and no required node affinity that pins the region: "
                f"its region is unknown, so it cannot be proven to lie in an allowed region ({_regions(allowed)})",
                f"{what_fr} n'a ni label {REGION_LABEL} ni affinité de nœud requise fixant la région : sa région "
                f"est inconnue et ne peut donc pas être prouvée comme faisant partie des régions autorisées "
                f"({_regions(allowed)})",
            ), field))
            continue
        outside = regions - allowed
        if outside:
            out.append(finding(rule("LOC-002"), Result.FAIL, _pv_ref(pv), Message(
                f"{what_en} lies in region {_regions(regions)} ({source_en}); {_regions(outside)} is not one of "
                f"the allowed regions ({_regions(allowed)})",
                f"{what_fr} se trouve dans la région {_regions(regions)} ({source_fr}) ; {_regions(outside)} ne "
                f"fait pas partie des régions autorisées ({_regions(allowed)})",
            ), field))
            continue
        out.append(finding(rule("LOC-002"), Result.PASS, _pv_ref(pv), Message(
            f"{what_en} lies in region {_regions(regions)} ({source_en}), which is allowed",
            f"{what_fr} se trouve dans la région {_regions(regions)} ({source_fr}), qui est autorisée",
        ), field))
    for pvc in missing:
        out.append(finding(rule("LOC-002"), Result.SKIP, _pvc_ref(pvc), Message(
            f"PersistentVolumeClaim {pvc.namespace}/{pvc.name} is bound to PersistentVolume {pvc.volume_name}, "
            f"which is not observed: its region is not judged",
            f"La PersistentVolumeClaim {pvc.namespace}/{pvc.name} est liée au PersistentVolume {pvc.volume_name}, "
            f"qui n'est pas observé : sa région n'est pas évaluée",
        ), F_PVC_VOLUME))
    return out


# --------------------------------------------------------------------------------------------
# The policy


def evaluate_location(spec: TenantPolicySpec, policy_name: str, tenant_namespaces: list[str],
                      view: ClusterView) -> list[Finding]:
    """Every LOC rule for the tenant's namespaces; one skip per rule when the policy names no region."""
    allowed = spec.allowed_regions or []
    if not allowed:
        ref = ResourceRef(kind="TenantPolicy", namespace="", name=policy_name, api_version=POLICY_API_VERSION)
        return [finding(rule(rule_id), Result.SKIP, ref, Message(
            f"{what_en} not judged: TenantPolicy {policy_name} sets no spec.allowedRegions",
            f"{what_fr} non évaluée : la TenantPolicy {policy_name} ne fixe aucune région dans spec.allowedRegions",
        ), F_ALLOWED_REGIONS) for rule_id, what_en, what_fr in (
            ("LOC-001", "Region of the tenant's pods", "Région des pods du locataire"),
            ("LOC-002", "Region of the tenant's persistent volumes", "Région des volumes persistants du locataire"),
        )]
    return [
        *check_pod_regions(allowed, tenant_namespaces, view),
        *check_volume_regions(allowed, tenant_namespaces, view),
    ]
