"""Network rules NET-001 to NET-007 of a TenantPolicy: default deny, no admin port open to the
Internet, tenant isolation, the flow matrix, no cleartext, exposure only from the DMZ (R7, R8,
S1, S4, S6, S7).

Pure: no I/O, no clock, no kopf, no client. `evaluate_network` judges every tenant namespace;
each `check_*` function judges one rule and returns its findings (fail per offending object,
pass per clean namespace or policy). NetworkPolicy semantics come from `sncguard.netpol`.
"""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from ..findings import Finding, Message, ResourceRef, Result, finding
from ..netpol import (
    DEFAULT_PROTOCOL,
    Direction,
    IPBlock,
    IPNetwork,
    NetworkPolicyEngine,
    Peer,
    PeerKind,
    PolicyRule,
    internet_covered,
    is_default_deny,
    policy_rules,
    selector_implies,
)
from ..selectors import is_empty_selector, label_selector_matches
from ..view import ClusterView, Ingress, NetworkPolicy, Pod, Route, Service, ServicePort
from .catalogue import rule

if TYPE_CHECKING:
    from ..api.tenantpolicy import Flow, FlowPeer, TenantPolicySpec

__all__ = [
    "DMZ_ZONE",
    "DNS_POD_LABELS",
    "check_cleartext_exposure",
    "check_cross_tenant_ingress",
    "check_default_deny_egress",
    "check_default_deny_ingress",
    "check_exposure_zone",
    "check_flow_matrix",
    "check_forbidden_ports_exposed",
    "evaluate_network",
]

DMZ_ZONE = "dmz"
# The cluster DNS pods: upstream CoreDNS (k8s-app=kube-dns) and OpenShift's DNS operator.
DNS_POD_LABELS = (("k8s-app", "kube-dns"), ("dns.operator.openshift.io/daemonset-dns", "default"))
DNS_PORT = 53
OPENSHIFT_DNS_PORT = 5353

F_DENY_INGRESS = "NetworkPolicy.spec.ingress"
F_DENY_EGRESS = "NetworkPolicy.spec.egress"
F_ISOLATION = "NetworkPolicy.spec.podSelector"
F_TLS = "spec.tls"
F_INSECURE = "spec.tls.insecureEdgeTerminationPolicy"
F_TYPE = "spec.type"
F_EXTERNAL_IPS = "spec.externalIPs"
F_RULES = "spec.rules"
F_HOST = "spec.host"
F_SOURCE_RANGES = "spec.loadBalancerSourceRanges"

_FINISHED_PHASES = ("Succeeded", "Failed")
GAPS_COUNTED = 20  # NET-005 stops counting a rule's uncovered combinations here
_SHOWN = 5


# --------------------------------------------------------------------------------------------
# References and text


def _ns_ref(namespace: str) -> ResourceRef:
    return ResourceRef(kind="Namespace", namespace="", name=namespace, api_version="v1")


def _policy_ref(p: NetworkPolicy) -> ResourceRef:
    return ResourceRef(kind="NetworkPolicy", namespace=p.namespace, name=p.name, api_version="networking.k8s.io/v1")


def _service_ref(s: Service) -> ResourceRef:
    return ResourceRef(kind="Service", namespace=s.namespace, name=s.name, api_version="v1")


def _ingress_ref(i: Ingress) -> ResourceRef:
    return ResourceRef(kind="Ingress", namespace=i.namespace, name=i.name, api_version="networking.k8s.io/v1")


def _route_ref(r: Route) -> ResourceRef:
    return ResourceRef(kind="Route", namespace=r.namespace, name=r.name, api_version="route.openshift.io/v1")


def _n_en(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _n_fr(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n <= 1 else (plural or singular + 's')}"


def _list(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(items[:_SHOWN])
    if len(items) > _SHOWN:
        shown += f" (+{len(items) - _SHOWN})"
    return shown


def _selector(selector: Mapping | None) -> str:
    """A label selector as text: {app=api, tier In (a, b)}; {} selects everything."""
    if selector is None:
        return "{}"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or ():
        values = e.get("values") or ()
        parts.append(f"{e.get('key')} {e.get('operator')}" + (f" ({', '.join(values)})" if values else ""))
    return "{" + ", ".join(parts) + "}"


def _by_namespace(items: Iterable, namespaces: Iterable[str]) -> dict[str, list]:
    wanted = set(namespaces)
    out: dict[str, list] = defaultdict(list)
    for item in items:
        if item.namespace in wanted:
            out[item.namespace].append(item)
    for values in out.values():
        values.sort(key=lambda o: o.name)
    return out


def _int_port(value: int | str | None) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _networks(texts: Iterable[str]) -> list[tuple[str, IPNetwork]]:
    """The parsable ranges among `texts`, each with its text; the others are left out."""
    out = []
    for text in texts:
        try:
            out.append((text.strip(), ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError:
            continue
    return out


def _source_ranges_open(ranges: tuple[str, ...]) -> tuple[str, str] | None:
    """Why a LoadBalancer's source ranges let the whole Internet in (English, French), or None."""
    if not ranges:
        return f"{F_SOURCE_RANGES} is empty", f"{F_SOURCE_RANGES} est vide"
    networks = _networks(ranges)
    whole = next((text for text, n in networks if n.prefixlen == 0), None)
    if whole is not None:
        return f"{F_SOURCE_RANGES} holds {whole}", f"{F_SOURCE_RANGES} contient {whole}"
    # The load balancer admits the union of the ranges: halves of the Internet add up.
    versions = internet_covered(n for _, n in networks)
    if not versions:
        return None
    version = versions[0]
    shown = _list(text for text, n in networks if n.version == version)
    return (f"{F_SOURCE_RANGES} together cover the whole public IPv{version} Internet ({shown})",
            f"{F_SOURCE_RANGES} couvrent ensemble tout l'Internet public IPv{version} ({shown})")


def _live(pod: Pod) -> bool:
    return not pod.terminating and pod.phase not in _FINISHED_PHASES


# --------------------------------------------------------------------------------------------
# NET-001, NET-002: default deny


def _check_default_deny(rule_id: str, direction: Direction, tenant_namespaces: list[str],
                        view: ClusterView) -> list[Finding]:
    policies = _by_namespace(view.network_policies, tenant_namespaces)
    word_en = "ingress" if direction is Direction.INGRESS else "egress"
    word_fr = "en entrée" if direction is Direction.INGRESS else "en sortie"
    field = F_DENY_INGRESS if direction is Direction.INGRESS else F_DENY_EGRESS
    out = []
    for ns in sorted(set(tenant_namespaces)):
        deny = next((p for p in policies.get(ns, ()) if is_default_deny(p, direction)), None)
        if deny is not None:
            out.append(finding(rule(rule_id), Result.PASS, _ns_ref(ns), Message(
                f"Namespace {ns} denies {word_en} by default: NetworkPolicy {ns}/{deny.name} selects every pod "
                f"(podSelector {{}}) with {direction.value} in policyTypes and no {word_en} rule",
                f"L'espace de noms {ns} refuse le trafic {word_fr} par défaut : la NetworkPolicy {ns}/{deny.name} "
                f"sélectionne tous les pods (podSelector {{}}) avec {direction.value} dans policyTypes et aucune "
                f"règle {direction.key}",
            ), field))
            continue
        names = [p.name for p in policies.get(ns, ())]
        if len(names) == 1:
            have_en = f"its only NetworkPolicy, {names[0]}, does not qualify"
            have_fr = f"sa seule NetworkPolicy, {names[0]}, ne convient pas"
        elif names:
            have_en = f"none of its NetworkPolicies ({_list(names)}) qualifies"
            have_fr = f"aucune de ses NetworkPolicies ({_list(names)}) ne convient"
        else:
            have_en, have_fr = "it has no NetworkPolicy at all", "il n'a aucune NetworkPolicy"
        out.append(finding(rule(rule_id), Result.FAIL, _ns_ref(ns), Message(
            f"Namespace {ns} has no default-deny {word_en} NetworkPolicy, one that selects every pod "
            f"(podSelector {{}}) with {direction.value} in policyTypes and no {word_en} rule; {have_en}, so "
            f"{word_en} traffic is not denied by default",
            f"L'espace de noms {ns} n'a pas de NetworkPolicy de refus par défaut {word_fr}, qui sélectionne tous "
            f"les pods (podSelector {{}}) avec {direction.value} dans policyTypes et sans règle {direction.key} ; "
            f"{have_fr}, donc le trafic {word_fr} n'est pas refusé par défaut",
        ), field))
    return out


def check_default_deny_ingress(tenant_namespaces: list[str], view: ClusterView) -> list[Finding]:
    """NET-001: per tenant namespace, fail unless a NetworkPolicy selects every pod, has Ingress in
    policyTypes and no ingress rule."""
    return _check_default_deny("NET-001", Direction.INGRESS, tenant_namespaces, view)


def check_default_deny_egress(tenant_namespaces: list[str], view: ClusterView) -> list[Finding]:
    """NET-002: the same for Egress."""
    return _check_default_deny("NET-002", Direction.EGRESS, tenant_namespaces, view)


# --------------------------------------------------------------------------------------------
# NET-003: forbidden ports open to the whole Internet


def _selected_live_pods(svc: Service, pods: Iterable[Pod]) -> list[Pod]:
    """The live pods of `svc`'s namespace that its selector picks, sorted by name. No selector (an
    empty one comes back from the API server as none) picks nothing: such a Service's endpoints are
    written by hand."""
    if not svc.selector:
        return []
    return sorted((p for p in pods if p.namespace == svc.namespace and _live(p)
                   and all(p.labels.get(k) == v for k, v in svc.selector.items())), key=lambda p: p.name)


def _named_target(sp: ServicePort, pods: list[Pod]) -> dict[int, list[Pod]]:
    """The container ports a named targetPort reaches, each with the pods that declare it: the
    endpoints take, per pod, the container port of that name and the Service port's protocol."""
    out: dict[int, list[Pod]] = defaultdict(list)
    for p in pods:
        cp = next((c for c in p.ports if c.name == sp.target_port
                   and (c.protocol or DEFAULT_PROTOCOL).upper() == (sp.protocol or DEFAULT_PROTOCOL).upper()), None)
        if cp is not None:
            out[cp.port].append(p)
    return out


# A forbidden port a Service exposes: (field, port, English detail, French detail).
_Hit = tuple[str, int, str, str]


def _service_forbidden(svc: Service, forbidden: set[int], pods: list[Pod]
                       ) -> tuple[list[_Hit], list[tuple[str, str, bool]]]:
    """The forbidden ports `svc` exposes outside the cluster, and each way it is exposed (English,
    French, whether that way is open to the whole Internet). What reaches a pod is the targetPort:
    a number, or a name each selected pod (among `pods`) resolves to one of its container ports."""
    ways: list[tuple[str, str, bool]] = []
    if svc.type == "LoadBalancer":
        opened = _source_ranges_open(svc.load_balancer_source_ranges)
        if opened is not None:
            ways.append((f"LoadBalancer, open to every address: {opened[0]}",
                         f"LoadBalancer, ouvert à toute adresse : {opened[1]}", True))
    elif svc.type == "NodePort":
        ways.append(("NodePort, open on every node", "NodePort, ouvert sur chaque nœud", True))
    if svc.external_ips:
        # kube-proxy answers on these addresses for any type, and loadBalancerSourceRanges do not
        # filter them; they may be private addresses, so not necessarily the whole Internet.
        ips = _list(svc.external_ips)
        ways.append((f"{F_EXTERNAL_IPS} {ips}, reachable on those addresses whatever the type",
                     f"{F_EXTERNAL_IPS} {ips}, joignable sur ces adresses quel que soit le type", False))
    if not ways:
        return [], []
    selected = _selected_live_pods(svc, pods)
    hits: list[_Hit] = []
    for i, sp in enumerate(svc.ports):
        if sp.port in forbidden:
            hits.append((f"spec.ports[{i}].port", sp.port, "", ""))
        target = _int_port(sp.target_port)
        if target in forbidden and target != sp.port:
            hits.append((f"spec.ports[{i}].targetPort", target, "", ""))
        if target is None and isinstance(sp.target_port, str) and sp.target_port:
            for number, declaring in sorted(_named_target(sp, selected).items()):
                if number in forbidden and number != sp.port:
                    names = _list(f"{p.namespace}/{p.name}" for p in declaring)
                    hits.append((f"spec.ports[{i}].targetPort", number,
                                 f" {sp.target_port}, containerPort of {'pod' if len(declaring) == 1 else 'pods'} "
                                 f"{names}",
                                 f" {sp.target_port}, containerPort {'du pod' if len(declaring) == 1 else 'des pods'} "
                                 f"{names}"))
        if svc.type == "NodePort" and sp.node_port in forbidden:
            hits.append((f"spec.ports[{i}].nodePort", sp.node_port, "", ""))
    return hits, ways


def _opens_to_internet(r: PolicyRule) -> tuple[str, str] | None:
    """Why an ingress rule admits the whole Internet (English, French), or None."""
    if r.any_peer:
        return ("any source (no from)", "toute source (pas de from)")
    for peer in r.peers:
        if peer.ip_block is not None and not peer.error and peer.ip_block.whole_internet:
            return (f"ipBlock {peer.ip_block} (from[{peer.index}])", f"l'ipBlock {peer.ip_block} (from[{peer.index}])")
    return None


def _rule_forbidden_ports(r: PolicyRule, forbidden: set[int], selected: list[Pod]) -> list[tuple[int, str, str]]:
    """(port, English, French) of the forbidden ports `r` admits."""
    out: dict[int, tuple[str, str]] = {}

    def declared(protocol: str | None) -> None:
        for p in selected:
            for cp in p.ports:
                if cp.port in forbidden and cp.port not in out and (
                        protocol is None or (cp.protocol or DEFAULT_PROTOCOL).upper() == protocol):
                    scope_en = "all ports" if protocol is None else f"all {protocol} ports"
                    scope_fr = "tous les ports" if protocol is None else f"tous les ports {protocol}"
                    out[cp.port] = (f"on {scope_en}, and pod {p.namespace}/{p.name} declares forbidden "
                                    f"containerPort {cp.port}",
                                    f"sur {scope_fr}, et le pod {p.namespace}/{p.name} déclare le containerPort "
                                    f"interdit {cp.port}")

    if r.all_ports:
        declared(None)
    for rp in r.ports:
        if rp.port is None:
            declared(rp.protocol)
        elif rp.named:
            for p in selected:
                numbers = rp.resolve(p)
                if numbers and numbers[0] in forbidden and numbers[0] not in out:
                    out[numbers[0]] = (f"on named port {rp.port}, which pod {p.namespace}/{p.name} declares as "
                                       f"forbidden port {numbers[0]}",
                                       f"sur le port nommé {rp.port}, que le pod {p.namespace}/{p.name} déclare "
                                       f"comme port interdit {numbers[0]}")
        else:
            low, high = rp.numeric_range() or (0, -1)
            for port in sorted(forbidden):
                if low <= port <= high and port not in out:
                    if low == high:
                        out[port] = (f"on forbidden port {rp}", f"sur le port interdit {rp}")
                    else:
                        out[port] = (f"on {rp}, which includes forbidden port {port}",
                                     f"sur {rp}, qui inclut le port interdit {port}")
    return [(port, *texts) for port, texts in sorted(out.items())]


def check_forbidden_ports_exposed(spec: TenantPolicySpec, tenant_namespaces: list[str], view: ClusterView,
                                  engine: NetworkPolicyEngine | None = None) -> list[Finding]:
    """NET-003: a forbidden port (22, 3389, 445, 2049 by default) open to the whole Internet through a
    LoadBalancer Service without source ranges (or with ranges whose union covers the public IPv4 or
    IPv6 Internet), a NodePort Service, a Service of any type with externalIPs, or a NetworkPolicy
    ingress rule that admits any source on it. A Service's forbidden port may be its port, a numeric
    targetPort, or the container port a named targetPort resolves to on the live pods it selects.
    Fail per offending object; pass per tenant namespace with nothing exposed."""
    engine = engine or NetworkPolicyEngine(view)
    forbidden = set(spec.forbidden_ports)
    shown = ", ".join(str(p) for p in sorted(forbidden))
    services = _by_namespace(view.services, tenant_namespaces)
    out: list[Finding] = []
    for ns in sorted(set(tenant_namespaces)):
        failed = False
        for svc in services.get(ns, ()):
            hits, ways = _service_forbidden(svc, forbidden, engine.pods_in(ns))
            if not hits:
                continue
            failed = True
            why_en = "; ".join(en for en, _, _ in ways)
            why_fr = " ; ".join(fr for _, fr, _ in ways)
            what_en = ", ".join(f"{port} ({fld}{en})" for fld, port, en, _ in hits)
            what_fr = ", ".join(f"{port} ({fld}{fr})" for fld, port, _, fr in hits)
            internet = any(whole for _, _, whole in ways)
            where_en = "to the whole Internet" if internet else "on its external addresses, outside the cluster"
            where_fr = "à tout Internet" if internet else "sur ses adresses externes, hors du cluster"
            out.append(finding(rule("NET-003"), Result.FAIL, _service_ref(svc), Message(
                f"Service {ns}/{svc.name} ({why_en}) exposes forbidden {'ports' if len(hits) > 1 else 'port'} "
                f"{what_en} {where_en}",
                f"Le Service {ns}/{svc.name} ({why_fr}) expose "
                f"{'les ports interdits' if len(hits) > 1 else 'le port interdit'} {what_fr} {where_fr}",
            ), hits[0][0]))
        for policy in engine.policies_in(ns):
            selected = engine.selected_pods(policy)
            offending: list[tuple[PolicyRule, str, str]] = []
            for r in engine.rules(policy, Direction.INGRESS):
                opener = _opens_to_internet(r)
                if opener is None:
                    continue
                ports = _rule_forbidden_ports(r, forbidden, selected)
                if ports:
                    en = "; ".join(how for _, how, _ in ports)
                    fr = " ; ".join(how for _, _, how in ports)
                    offending.append((r, f"{r.field} admits {opener[0]} {en}", f"{r.field} admet {opener[1]} {fr}"))
            if offending:
                failed = True
                out.append(finding(rule("NET-003"), Result.FAIL, _policy_ref(policy), Message(
                    f"NetworkPolicy {ns}/{policy.name} opens forbidden ports to the whole Internet: "
                    + "; ".join(o[1] for o in offending),
                    f"La NetworkPolicy {ns}/{policy.name} ouvre des ports interdits à tout Internet : "
                    + " ; ".join(o[2] for o in offending),
                ), offending[0][0].field))
        if not failed:
            out.append(finding(rule("NET-003"), Result.PASS, _ns_ref(ns), Message(
                f"Namespace {ns} exposes none of the forbidden ports ({shown}) to the whole Internet: no "
                f"LoadBalancer or NodePort Service, no Service with externalIPs and no NetworkPolicy ingress rule "
                f"open to any source admits them",
                f"L'espace de noms {ns} n'expose aucun des ports interdits ({shown}) à tout Internet : aucun "
                f"Service LoadBalancer ou NodePort, aucun Service avec externalIPs ni aucune règle d'entrée de "
                f"NetworkPolicy ouverte à toute source ne les admet",
            ), "spec.ports"))
    return out


# --------------------------------------------------------------------------------------------
# NET-004: other tenants' namespaces


def _pods_in_block(peer: Peer, namespaces: Iterable[str], engine: NetworkPolicyEngine) -> list[Pod]:
    """The live pods of `namespaces` whose address an ipBlock peer holds: the block admits them
    whatever their namespace (see netpol), and only the addresses in use now can be named."""
    return sorted((p for ns in namespaces for p in engine.pods_in(ns)
                   if _live(p) and peer.matches_pod(p, engine.namespace_labels(ns))),
                  key=lambda p: (p.namespace, p.name))


def check_cross_tenant_ingress(tenant_namespaces: list[str], other_tenant_namespaces: set[str],
                               view: ClusterView, engine: NetworkPolicyEngine | None = None) -> list[Finding]:
    """NET-004: the effective ingress to tenant pods admits another tenant's namespaces: a rule
    with no `from`, a namespaceSelector that is empty or matches another tenant's namespace, an
    ipBlock that holds the address of a live pod of another tenant's namespace, or pods that no
    ingress policy isolates. Fail per offending rule or per namespace with unisolated pods; pass
    per clean tenant namespace."""
    engine = engine or NetworkPolicyEngine(view)
    others = sorted(other_tenant_namespaces)
    other_set = set(others)
    held: dict[tuple[IPBlock, str], list[Pod]] = {}
    out: list[Finding] = []
    for ns in sorted(set(tenant_namespaces)):
        failed = False
        for policy in engine.policies_in(ns):
            for r in engine.rules(policy, Direction.INGRESS):
                reasons_en: list[str] = []
                reasons_fr: list[str] = []
                if r.any_peer:
                    reasons_en.append("it has no from, so it admits every namespace, other tenants' included")
                    reasons_fr.append("elle n'a pas de from et admet donc tous les espaces de noms, y compris ceux "
                                      "des autres locataires")
                for peer in r.peers:
                    if peer.ip_block is not None:
                        # A tenant's namespaces mostly repeat one block (the Internet): each is asked once.
                        hit = held.get((peer.ip_block, peer.error))
                        if hit is None:
                            hit = held[(peer.ip_block, peer.error)] = _pods_in_block(peer, others, engine)
                        if hit:
                            where = f"from[{peer.index}].ipBlock {peer.ip_block}"
                            shown = _list(f"{p.namespace}/{p.name} ({p.pod_ip}"
                                          f"{', hostNetwork' if p.host_network else ''})" for p in hit)
                            addr_en, addr_fr = ("the address", "l'adresse") if len(hit) == 1 \
                                else ("the addresses", "les adresses")
                            reasons_en.append(f"{where} holds {addr_en} of {_n_en(len(hit), 'pod')} of other "
                                              f"tenants: {shown}")
                            reasons_fr.append(f"{where} contient {addr_fr} de {_n_fr(len(hit), 'pod')} d'autres "
                                              f"locataires : {shown}")
                        continue
                    if peer.namespace_selector is None or peer.error:
                        continue
                    where = f"from[{peer.index}].namespaceSelector {_selector(peer.namespace_selector)}"
                    if is_empty_selector(peer.namespace_selector):
                        reasons_en.append(f"{where} is empty and matches every namespace, other tenants' included")
                        reasons_fr.append(f"{where} est vide et sélectionne tous les espaces de noms, y compris "
                                          f"ceux des autres locataires")
                        continue
                    hit = sorted(engine.peer_namespaces(peer) & other_set)
                    if hit:
                        reasons_en.append(f"{where} matches {_n_en(len(hit), 'namespace')} of other tenants: "
                                          f"{_list(hit)}")
                        reasons_fr.append(f"{where} sélectionne {_n_fr(len(hit), 'espace', 'espaces')} de noms "
                                          f"d'autres locataires : {_list(hit)}")
                if reasons_en:
                    failed = True
                    out.append(finding(rule("NET-004"), Result.FAIL, _policy_ref(policy), Message(
                        f"NetworkPolicy {ns}/{policy.name} {r.field} admits traffic from other tenants into the "
                        f"pods it selects (podSelector {_selector(policy.pod_selector)}): " + "; ".join(reasons_en),
                        f"La règle {r.field} de la NetworkPolicy {ns}/{policy.name} admet du trafic d'autres "
                        f"locataires vers les pods qu'elle sélectionne (podSelector "
                        f"{_selector(policy.pod_selector)}) : " + " ; ".join(reasons_fr),
                    ), r.field))
        open_pods = [p for p in engine.pods_in(ns) if _live(p) and not engine.isolated(p, Direction.INGRESS)]
        if open_pods:
            failed = True
            names = _list(p.name for p in sorted(open_pods, key=lambda p: p.name))
            n = len(open_pods)
            out.append(finding(rule("NET-004"), Result.FAIL, _ns_ref(ns), Message(
                f"Namespace {ns} has {_n_en(n, 'pod')} that no NetworkPolicy with Ingress in policyTypes selects, "
                f"so {'it accepts' if n == 1 else 'they accept'} traffic from every namespace, other tenants' "
                f"included: {names}",
                f"L'espace de noms {ns} a {_n_fr(n, 'pod')} qu'aucune NetworkPolicy avec Ingress dans policyTypes "
                f"ne sélectionne : {'il accepte' if n == 1 else 'ils acceptent'} le trafic de tous les espaces de "
                f"noms, y compris ceux des autres locataires : {names}",
            ), F_ISOLATION))
        if not failed:
            n = len([p for p in engine.pods_in(ns) if _live(p)])
            pods_en = f"its {_n_en(n, 'pod')} {'is' if n == 1 else 'are'} isolated for ingress" if n \
                else "it has no running pod"
            pods_fr = (f"{'son pod est isolé' if n == 1 else f'ses {n} pods sont isolés'} en entrée" if n
                       else "il n'a aucun pod en cours d'exécution")
            k = len(others)
            out.append(finding(rule("NET-004"), Result.PASS, _ns_ref(ns), Message(
                f"Namespace {ns} admits no traffic from other tenants: {pods_en}, and no ingress rule admits any "
                f"source, a namespace of another tenant or the address of one of its pods "
                f"({_n_en(k, 'other-tenant namespace')} checked)",
                f"L'espace de noms {ns} n'admet aucun trafic d'autres locataires : {pods_fr}, et aucune règle "
                f"d'entrée n'admet toute source, un espace de noms d'un autre locataire ni l'adresse d'un de ses pods "
                f"({k} {'espace' if k <= 1 else 'espaces'} de noms d'autres locataires "
                f"{'vérifié' if k <= 1 else 'vérifiés'})",
            ), F_ISOLATION))
    return out


# --------------------------------------------------------------------------------------------
# NET-005: the flow matrix


@dataclass(frozen=True, slots=True)
class _End:
    """One end of admitted traffic, as a rule names it."""

    kind: str  # "any", "ip", "pods" (a namespace and a pod selector) or "pod" (one live pod)
    namespace: str = ""
    pod_selector: dict | None = None  # "pods": None or {} = every pod of the namespace
    block: IPBlock | None = None
    pod: Pod | None = None

    def text(self) -> tuple[str, str, str]:
        """(English, French after "de", French after "vers")."""
        if self.kind == "any":
            return ("any address or pod", "de toute adresse ou tout pod", "vers toute adresse ou tout pod")
        if self.kind == "ip":
            return (f"ipBlock {self.block}", f"de l'ipBlock {self.block}", f"vers l'ipBlock {self.block}")
        if self.kind == "pod" and self.pod is not None:
            name = f"{self.pod.namespace}/{self.pod.name}"
            return (f"pod {name}", f"du pod {name}", f"vers le pod {name}")
        if self.pod_selector is None or is_empty_selector(self.pod_selector):
            where = f"l'espace de noms {self.namespace}"
            return (f"every pod of namespace {self.namespace}", f"de tous les pods de {where}",
                    f"vers tous les pods de {where}")
        sel = _selector(self.pod_selector)
        where = f"l'espace de noms {self.namespace}"
        return (f"pods {sel} of namespace {self.namespace}", f"des pods {sel} de {where}",
                f"vers les pods {sel} de {where}")


@dataclass(frozen=True, slots=True)
class _FlowEnd:
    namespaces: frozenset[str] | None  # None for a cidr end
    pod_selector: dict | None
    network: IPNetwork | None


@dataclass(frozen=True, slots=True)
class _PortUnit:
    protocol: str | None  # None: every protocol
    low: int = 1
    high: int = 65535
    name: str = ""

    def text(self) -> tuple[str, str]:
        if self.protocol is None:
            return ("every port", "tous les ports")
        if self.name:
            return (f"{self.protocol}/{self.name}", f"{self.protocol}/{self.name}")
        if (self.low, self.high) == (1, 65535):
            return (f"every {self.protocol} port", f"tous les ports {self.protocol}")
        port = str(self.low) if self.low == self.high else f"{self.low}-{self.high}"
        return (f"{self.protocol}/{port}", f"{self.protocol}/{port}")


def _flow_end(peer: FlowPeer, zone_of_namespace: Mapping[str, str], engine: NetworkPolicyEngine) -> _FlowEnd:
    if peer.cidr is not None:
        return _FlowEnd(None, None, ipaddress.ip_network(peer.cidr, strict=False))
    pods = peer.pod_selector.as_k8s() if peer.pod_selector is not None else None
    if peer.zone is not None:
        namespaces = frozenset(n for n, z in zone_of_namespace.items() if z == peer.zone)
    else:
        assert peer.namespace_selector is not None
        namespaces = engine.namespaces_matching(peer.namespace_selector.as_k8s())
    return _FlowEnd(namespaces, pods, None)


def _end_pods(end: _End, engine: NetworkPolicyEngine) -> list[Pod]:
    """The live pods a pods end stands for now."""
    if end.kind == "pod" and end.pod is not None:
        return [end.pod]
    if end.kind != "pods":
        return []
    selector = end.pod_selector or {}
    return [p for p in engine.pods_in(end.namespace) if _live(p) and label_selector_matches(selector, p.labels)]


def _covers_end(fe: _FlowEnd, end: _End) -> bool:
    if end.kind == "any":
        return fe.network is not None and fe.network.prefixlen == 0
    if end.kind == "ip":
        return fe.network is not None and end.block is not None and end.block.within(fe.network)
    if fe.namespaces is None or end.namespace not in fe.namespaces:
        return False
    if end.kind == "pod" and end.pod is not None:
        return fe.pod_selector is None or label_selector_matches(fe.pod_selector, end.pod.labels)
    return selector_implies(end.pod_selector or {}, fe.pod_selector)


def _covers_port(flow: Flow, unit: _PortUnit, destination_pods: list[Pod]) -> bool:
    if flow.ports is None:
        return True
    if unit.protocol is None:
        return False
    for fp in flow.ports:
        if fp.protocol.value != unit.protocol:
            continue
        if isinstance(fp.port, str):
            if unit.name == fp.port:
                return True
            continue
        low, high = fp.port, fp.end_port if fp.end_port is not None else fp.port
        if unit.name:
            numbers = [cp.port for p in destination_pods for cp in p.ports
                       if cp.name == unit.name and (cp.protocol or DEFAULT_PROTOCOL).upper() == unit.protocol]
            if numbers and all(low <= n <= high for n in numbers):
                return True
        elif low <= unit.low and unit.high <= high:
            return True
    return False


def _port_units(r: PolicyRule) -> list[_PortUnit]:
    if r.all_ports:
        return [_PortUnit(None)]
    units = []
    for rp in r.ports:
        numbers = rp.numeric_range()
        if numbers is None:
            units.append(_PortUnit(rp.protocol, 0, 0, str(rp.port)))
        else:
            units.append(_PortUnit(rp.protocol, *numbers))
    return units


def _is_dns_pods(end: _End) -> bool:
    if end.kind == "pod" and end.pod is not None:
        return any(end.pod.labels.get(k) == v for k, v in DNS_POD_LABELS)
    return end.kind == "pods" and _selects_only_dns_pods(repr(end.pod_selector or {}), end.pod_selector or {})


_DNS_SELECTORS: dict[str, bool] = {}


def _selects_only_dns_pods(key: str, selector: Mapping) -> bool:
    """Memoised by the selector's repr: a rule's selector is asked once per namespace and port."""
    if key not in _DNS_SELECTORS:
        if len(_DNS_SELECTORS) > 4096:
            _DNS_SELECTORS.clear()
        _DNS_SELECTORS[key] = any(selector_implies(selector, {"matchLabels": {k: v}}) for k, v in DNS_POD_LABELS)
    return _DNS_SELECTORS[key]


def _dns_exempt(unit: _PortUnit, destination: _End, dns_ends: dict[int, bool] | None = None) -> bool:
    """DNS egress needs no flow: UDP/TCP 53 anywhere, and OpenShift's 5353 to the DNS pods.
    `dns_ends` remembers the answer per "pods" end selector for one rule: its namespace ends (one per
    namespace a `namespaceSelector: {}` matches, thousands) share their peer's selector object."""
    if unit.protocol not in ("UDP", "TCP") or unit.name or unit.low != unit.high:
        return False
    if unit.low == DNS_PORT:
        return True
    if unit.low != OPENSHIFT_DNS_PORT:
        return False
    if dns_ends is None or destination.kind != "pods":
        return _is_dns_pods(destination)
    key = id(destination.pod_selector)
    known = dns_ends.get(key)
    if known is None:
        known = dns_ends[key] = _is_dns_pods(destination)
    return known


def namespace_selectors_read(policies: Iterable[NetworkPolicy]) -> list[dict]:
    """The namespaceSelectors of `policies`' peers (those of one tenant's namespaces) whose matches a
    TenantPolicy's verdict reads: which other namespaces they name (NET-004, NET-005) and which of
    those namespaces' pods. Every one but a peer of an egress rule whose ports are all DNS (see
    `_dns_exempt`): such a rule needs no flow, wherever it goes. A namespace no selector of these
    matches, before or after it changes, and whose pods no ipBlock of theirs holds, moves nothing of
    the verdict, unless the tenant selects it."""
    out: dict[str, dict] = {}
    for policy in policies:
        for direction in Direction:
            for r in policy_rules(policy, direction):
                units = _port_units(r) if direction is Direction.EGRESS else None
                for peer in r.peers:
                    if peer.namespace_selector is None or peer.kind not in (PeerKind.NAMESPACES, PeerKind.PODS):
                        continue
                    if units and all(_dns_exempt(u, _End("pods", "", peer.pod_selector)) for u in units):
                        continue
                    out.setdefault(json.dumps(peer.namespace_selector, sort_keys=True), peer.namespace_selector)
    return list(out.values())


def _rule_ends(r: PolicyRule, engine: NetworkPolicyEngine, units: list[_PortUnit] | None = None) -> list[_End]:
    """The rule's peers as ends, a "pods" end per namespace. With `units` (an egress rule's ports),
    a peer to which every one of them is DNS (see `_dns_exempt`) is left out: it can have no gap,
    and a DNS rule's `namespaceSelector: {}` would otherwise be one end per namespace of the cluster."""
    ends: list[_End] = []
    for pc in engine.peer_classes(r):
        if pc.kind is PeerKind.ANY:
            ends.append(_End("any"))
        elif pc.kind is PeerKind.IP_BLOCK:
            ends.append(_End("ip", block=pc.ip_block))
        elif pc.kind in (PeerKind.NAMESPACES, PeerKind.PODS):
            if units and all(_dns_exempt(u, _End("pods", "", pc.pod_selector)) for u in units):
                continue
            ends += [_End("pods", n, pc.pod_selector) for n in sorted(pc.namespaces)]
    return ends


@dataclass(frozen=True, slots=True)
class _Gap:
    source: _End
    destination: _End
    port: _PortUnit


class _Matrix:
    def __init__(self, spec: TenantPolicySpec, zone_of_namespace: Mapping[str, str],
                 engine: NetworkPolicyEngine) -> None:
        self.engine = engine
        self.flows = [(f, _flow_end(f.from_, zone_of_namespace, engine), _flow_end(f.to, zone_of_namespace, engine))
                      for f in spec.flows or ()]
        self._pods: dict[tuple[str, str], list[Pod]] = {}
        # The namespaces some flow names, per side (1: from, 2: to).
        self._named_ns = {side: frozenset().union(*(t[side].namespaces or () for t in self.flows))
                          for side in (1, 2)}

    def pods(self, end: _End) -> list[Pod]:
        """The live pods a "pods" or "pod" end stands for now (cached)."""
        if end.kind != "pods":
            return _end_pods(end, self.engine)
        key = (end.namespace, json.dumps(end.pod_selector, sort_keys=True))
        cached = self._pods.get(key)
        if cached is None:
            cached = self._pods[key] = _end_pods(end, self.engine)
        return cached

    def _covered(self, src: _End, dst: _End, unit: _PortUnit, flows: list | None = None) -> bool:
        pods = self.pods(dst) if unit.name else []
        return any(_covers_end(fs, src) and _covers_end(fd, dst) and _covers_port(f, unit, pods)
                   for f, fs, fd in (self.flows if flows is None else flows))

    def gaps(self, sources: list[_End], destinations: list[_End], units: list[_PortUnit],
             egress: bool) -> list[_Gap]:
        """The uncovered (source, destination, port) combinations, at most GAPS_COUNTED of them. One
        side is the policy's own pods: only the flows that cover it are tried on the other side."""
        own = sources[0] if egress else destinations[0]
        candidates = [t for t in self.flows if _covers_end(t[1] if egress else t[2], own)]
        out: list[_Gap] = []
        dns_ends: dict[int, bool] = {}  # the ends' selectors live as long as this call: ids are stable
        for src in sources:
            for dst in destinations:
                for unit in units:
                    if egress and _dns_exempt(unit, dst, dns_ends):
                        continue
                    if self._covered(src, dst, unit, candidates):
                        continue
                    out += self._split(src, dst, unit)
                    if len(out) >= GAPS_COUNTED:
                        return out[:GAPS_COUNTED]
        return out

    def _named(self, end: _End, side: int) -> bool:
        """Whether some flow names the end's namespace on that side (1: from, 2: to): else no pod of
        it can be covered and splitting it is moot."""
        return end.namespace in self._named_ns[side]

    def _split(self, src: _End, dst: _End, unit: _PortUnit) -> list[_Gap]:
        """A set of pods that no single flow covers may still be covered pod by pod, now."""
        src_pods = self.pods(src) if src.kind == "pods" and self._named(src, 1) else []
        dst_pods = self.pods(dst) if dst.kind == "pods" and self._named(dst, 2) else []
        if not src_pods and not dst_pods:
            return [_Gap(src, dst, unit)]
        srcs = [_End("pod", p.namespace, pod=p) for p in src_pods] or [src]
        dsts = [_End("pod", p.namespace, pod=p) for p in dst_pods] or [dst]
        gaps = [_Gap(s, d, unit) for s in srcs for d in dsts if not self._covered(s, d, unit)]
        # When no pod is covered, the pods are not the point: report the rule's own terms.
        return [_Gap(src, dst, unit)] if len(gaps) == len(srcs) * len(dsts) else gaps


def _rule_gaps(r: PolicyRule, matrix: _Matrix, engine: NetworkPolicyEngine) -> list[_Gap]:
    policy = r.policy
    own = _End("pods", policy.namespace, policy.pod_selector)
    units = _port_units(r)
    if r.direction is Direction.INGRESS:
        return matrix.gaps(_rule_ends(r, engine), [own], units, egress=False)
    return matrix.gaps([own], _rule_ends(r, engine, units), units, egress=True)


def check_flow_matrix(spec: TenantPolicySpec, tenant_namespaces: list[str], zone_of_namespace: Mapping[str, str],
                      view: ClusterView, engine: NetworkPolicyEngine | None = None) -> list[Finding]:
    """NET-005: every flow that a NetworkPolicy rule of a tenant namespace admits, into or out of
    tenant pods, must be listed in spec.flows (DNS egress on 53 excepted). Policies labelled
    app.kubernetes.io/managed-by=sncguard come from the matrix and are skipped. Fail per rule that
    admits something no flow covers, with an example; pass per compliant policy."""
    engine = engine or NetworkPolicyEngine(view)
    matrix = _Matrix(spec, zone_of_namespace, engine)
    declared = len(matrix.flows)
    out: list[Finding] = []
    for ns in sorted(set(tenant_namespaces)):
        for policy in engine.policies_in(ns):
            if policy.labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE:
                continue
            rules = [*engine.rules(policy, Direction.INGRESS), *engine.rules(policy, Direction.EGRESS)]
            failed = False
            for r in rules:
                gaps = _rule_gaps(r, matrix, engine)
                if not gaps:
                    continue
                failed = True
                g = gaps[0]
                src_en, src_fr, _ = g.source.text()
                dst_en, _, dst_fr = g.destination.text()
                port_en, port_fr = g.port.text()
                n = f"{len(gaps)}+" if len(gaps) >= GAPS_COUNTED else str(len(gaps))
                more_en = f" ({n} uncovered source, destination and port combinations)" if len(gaps) > 1 else ""
                more_fr = f" ({n} combinaisons source, destination et port non couvertes)" if len(gaps) > 1 else ""
                why_en = "the TenantPolicy declares no flow (spec.flows is empty)" if not declared \
                    else f"no flow of the matrix ({_n_en(declared, 'flow')}) covers it"
                why_fr = "la TenantPolicy ne déclare aucun flux (spec.flows est vide)" if not declared \
                    else f"aucun flux de la matrice ({_n_fr(declared, 'flux', 'flux')}) ne le couvre"
                out.append(finding(rule("NET-005"), Result.FAIL, _policy_ref(policy), Message(
                    f"NetworkPolicy {ns}/{policy.name} {r.field} admits traffic from {src_en} to {dst_en} on "
                    f"{port_en}, but {why_en}{more_en}",
                    f"La règle {r.field} de la NetworkPolicy {ns}/{policy.name} admet du trafic {src_fr} {dst_fr} "
                    f"sur {port_fr}, mais {why_fr}{more_fr}",
                ), r.field))
            if not failed:
                if rules:
                    en = f"each of its {_n_en(len(rules), 'rule')} admits only flows of the matrix"
                    fr = f"chacune de ses {_n_fr(len(rules), 'règle')} n'admet que des flux de la matrice"
                else:
                    en, fr = "it has no rule, so it admits nothing", "elle n'a aucune règle et n'admet donc rien"
                out.append(finding(rule("NET-005"), Result.PASS, _policy_ref(policy), Message(
                    f"NetworkPolicy {ns}/{policy.name} complies with the flow matrix: {en}",
                    f"La NetworkPolicy {ns}/{policy.name} respecte la matrice des flux : {fr}",
                ), "spec"))
    return out


# --------------------------------------------------------------------------------------------
# NET-006: cleartext


def check_cleartext_exposure(spec: TenantPolicySpec, tenant_namespaces: list[str],
                             view: ClusterView) -> list[Finding]:
    """NET-006: an Ingress without TLS, a Route without tls or whose insecureEdgeTerminationPolicy is
    Allow, an exposed Service on a cleartext port. Fail per object; pass per clean namespace."""
    cleartext = set(spec.cleartext_ports)
    shown = ", ".join(str(p) for p in sorted(cleartext))
    ingresses = _by_namespace(view.ingresses, tenant_namespaces)
    routes = _by_namespace(view.routes, tenant_namespaces)
    services = _by_namespace(view.services, tenant_namespaces)
    out: list[Finding] = []
    for ns in sorted(set(tenant_namespaces)):
        failed: list[Finding] = []
        for ing in ingresses.get(ns, ()):
            if ing.has_tls:
                continue
            hosts = _list(h or "*" for h in ing.hosts) or "*"
            failed.append(finding(rule("NET-006"), Result.FAIL, _ingress_ref(ing), Message(
                f"Ingress {ns}/{ing.name} serves {hosts} in cleartext HTTP: it has no {F_TLS}",
                f"L'Ingress {ns}/{ing.name} sert {hosts} en HTTP en clair : il n'a pas de {F_TLS}",
            ), F_TLS))
        for route in routes.get(ns, ()):
            host = route.host or "its generated host"
            host_fr = route.host or "son hôte généré"
            if not route.termination:
                failed.append(finding(rule("NET-006"), Result.FAIL, _route_ref(route), Message(
                    f"Route {ns}/{route.name} serves {host} in cleartext HTTP: it has no {F_TLS}",
                    f"La Route {ns}/{route.name} sert {host_fr} en HTTP en clair : elle n'a pas de {F_TLS}",
                ), F_TLS))
            elif route.insecure_edge_termination_policy == "Allow":
                failed.append(finding(rule("NET-006"), Result.FAIL, _route_ref(route), Message(
                    f"Route {ns}/{route.name} also serves {host} in cleartext HTTP: {F_INSECURE} is Allow "
                    f"(use Redirect or None)",
                    f"La Route {ns}/{route.name} sert aussi {host_fr} en HTTP en clair : {F_INSECURE} vaut Allow "
                    f"(utiliser Redirect ou None)",
                ), F_INSECURE))
        for svc in services.get(ns, ()):
            if not svc.exposed:
                continue
            hits: list[tuple[str, int]] = []
            for i, sp in enumerate(svc.ports):
                if sp.port in cleartext:
                    hits.append((f"spec.ports[{i}].port", sp.port))
                target = _int_port(sp.target_port)
                if target in cleartext and target != sp.port:
                    hits.append((f"spec.ports[{i}].targetPort", target))
            if hits:
                how = svc.type if svc.type in ("LoadBalancer", "NodePort") else "externalIPs"
                what = ", ".join(f"{port} ({fld})" for fld, port in hits)
                failed.append(finding(rule("NET-006"), Result.FAIL, _service_ref(svc), Message(
                    f"Service {ns}/{svc.name} ({how}) exposes cleartext protocol "
                    f"{'ports' if len(hits) > 1 else 'port'} {what} outside the cluster",
                    f"Le Service {ns}/{svc.name} ({how}) expose hors du cluster "
                    f"{'les ports' if len(hits) > 1 else 'le port'} de protocole en clair {what}",
                ), hits[0][0]))
        out += failed
        if not failed:
            out.append(finding(rule("NET-006"), Result.PASS, _ns_ref(ns), Message(
                f"Namespace {ns} exposes nothing in cleartext: every Ingress and Route has TLS without an Allow "
                f"insecure policy, and no exposed Service uses a cleartext port ({shown})",
                f"L'espace de noms {ns} n'expose rien en clair : chaque Ingress et chaque Route a TLS sans "
                f"politique non sécurisée Allow, et aucun Service exposé n'utilise de port en clair ({shown})",
            ), F_TLS))
    return out


# --------------------------------------------------------------------------------------------
# NET-007: exposure outside the DMZ


def _service_exposure(svc: Service) -> tuple[str, str, str] | None:
    """(field, English, French) of how a Service is exposed outside the cluster, or None."""
    if svc.type in ("LoadBalancer", "NodePort"):
        return F_TYPE, f"type {svc.type}", f"type {svc.type}"
    if svc.external_ips:
        ips = ", ".join(svc.external_ips)
        return F_EXTERNAL_IPS, f"externalIPs {ips}", f"externalIPs {ips}"
    return None


def check_exposure_zone(tenant_namespaces: list[str], zone_of_namespace: Mapping[str, str],
                        view: ClusterView) -> list[Finding]:
    """NET-007: an externally exposed Service (LoadBalancer, NodePort, externalIPs), Route or Ingress
    in a tenant namespace outside the dmz zone. Fail per object; pass per clean namespace."""
    ingresses = _by_namespace(view.ingresses, tenant_namespaces)
    routes = _by_namespace(view.routes, tenant_namespaces)
    services = _by_namespace(view.services, tenant_namespaces)
    out: list[Finding] = []
    for ns in sorted(set(tenant_namespaces)):
        zone = zone_of_namespace.get(ns)
        exposed: list[tuple[ResourceRef, str, str, str, str]] = []  # ref, what en, what fr, how, field
        for svc in services.get(ns, ()):
            how = _service_exposure(svc)
            if how is not None:
                exposed.append((_service_ref(svc), f"Service {ns}/{svc.name}", f"Le Service {ns}/{svc.name}",
                                f"{how[1]}", how[0]))
        for route in routes.get(ns, ()):
            exposed.append((_route_ref(route), f"Route {ns}/{route.name}", f"La Route {ns}/{route.name}",
                            f"host {route.host}" if route.host else "a router host", F_HOST))
        for ing in ingresses.get(ns, ()):
            hosts = _list(h for h in ing.hosts if h)
            exposed.append((_ingress_ref(ing), f"Ingress {ns}/{ing.name}", f"L'Ingress {ns}/{ing.name}",
                            f"hosts {hosts}" if hosts else "the ingress controller", F_RULES))
        if zone == DMZ_ZONE:
            out.append(finding(rule("NET-007"), Result.PASS, _ns_ref(ns), Message(
                f"Namespace {ns} is in the {DMZ_ZONE} zone, where exposure is allowed "
                f"({_n_en(len(exposed), 'exposed object')})",
                f"L'espace de noms {ns} est dans la zone {DMZ_ZONE}, où l'exposition est autorisée "
                f"({_n_fr(len(exposed), 'objet exposé', 'objets exposés')})",
            ), "metadata.labels"))
            continue
        where_en = f"in zone {zone}, not {DMZ_ZONE}" if zone else f"in no network zone (only {DMZ_ZONE} may expose)"
        where_fr = (f"dans la zone {zone} et non {DMZ_ZONE}" if zone
                    else f"dans aucune zone réseau (seule {DMZ_ZONE} peut exposer)")
        for ref, what_en, what_fr, how, fld in exposed:
            out.append(finding(rule("NET-007"), Result.FAIL, ref, Message(
                f"{what_en} is exposed outside the cluster ({how}, {fld}) but namespace {ns} is {where_en}",
                f"{what_fr} est exposé hors du cluster ({how}, {fld}) alors que l'espace de noms {ns} est "
                f"{where_fr}",
            ), fld))
        if not exposed:
            zone_en = f"zone {zone}" if zone else "no zone"
            zone_fr = f"zone {zone}" if zone else "aucune zone"
            out.append(finding(rule("NET-007"), Result.PASS, _ns_ref(ns), Message(
                f"Namespace {ns} ({zone_en}) exposes no Service, Route or Ingress outside the cluster",
                f"L'espace de noms {ns} ({zone_fr}) n'expose aucun Service, Route ou Ingress hors du cluster",
            ), F_TYPE))
    return out


# --------------------------------------------------------------------------------------------
# The policy


def evaluate_network(spec: TenantPolicySpec, tenant_namespaces: list[str], zone_of_namespace: dict[str, str],
                     other_tenant_namespaces: set[str], view: ClusterView) -> list[Finding]:
    """NET-001 to NET-007 for the tenant namespaces of one TenantPolicy."""
    engine = NetworkPolicyEngine(view)
    return [
        *check_default_deny_ingress(tenant_namespaces, view),
        *check_default_deny_egress(tenant_namespaces, view),
        *check_forbidden_ports_exposed(spec, tenant_namespaces, view, engine),
        *check_cross_tenant_ingress(tenant_namespaces, other_tenant_namespaces, view, engine),
        *check_flow_matrix(spec, tenant_namespaces, zone_of_namespace, view, engine),
        *check_cleartext_exposure(spec, tenant_namespaces, view),
        *check_exposure_zone(tenant_namespaces, zone_of_namespace, view),
    ]
