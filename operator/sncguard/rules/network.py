"""Network rules NET-001 to NET-007 of a TenantPolicy: default deny, no admin port open to the
Internet, tenant isolation, the flow matrix, no cleartext, exposure only from the DMZ (R7, R8,
S1, S4, S6, S7).

Pure: no I/O, no clock, no kopf, no client. Each rule is declared once in `family`, with the kinds
it reads, and wraps one `check_*` function that judges it (fail per offending object, pass per
clean namespace or policy); `evaluate_network` runs them all for one tenant. NetworkPolicy
semantics come from `sncguard.netpol`: NET-003, NET-004 and NET-005 share one NetworkPolicyEngine
per evaluation (see `_engine`).
"""

from __future__ import annotations

import ipaddress
import json
import weakref
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .. import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from ..findings import Finding, ResourceRef, Result, Severity, finding
from ..i18n import N_, Text, msg, msg_n, semicolons, seq
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
from .registry import NETWORK, Family, rule
from .subjects import Tenant

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
    "family",
    "namespace_selectors_read",
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

_FINISHED_PHASES = ("Succeeded", "Failed")
GAPS_COUNTED = 20  # NET-005 stops counting a rule's uncovered combinations here
_SHOWN = 5


family: Family[Tenant] = Family(NETWORK, "TenantPolicy")


# --------------------------------------------------------------------------------------------
# The NetworkPolicy engine of one evaluation

# id(Tenant) -> (the view, its engine). A Tenant is one evaluation's subject (rules/subjects), so the
# engine NET-003, NET-004 and NET-005 share lives as long as the Tenant and no longer: building it
# indexes every pod, policy and namespace of the view, once per tenant instead of once per rule.
_ENGINES: dict[int, tuple[ClusterView, NetworkPolicyEngine]] = {}


def _engine(tenant: Tenant, view: ClusterView) -> NetworkPolicyEngine:
    """The NetworkPolicyEngine over `view` for this evaluation of `tenant`, built on first use."""
    key = id(tenant)
    cached = _ENGINES.get(key)
    if cached is not None and cached[0] is view:
        return cached[1]
    engine = NetworkPolicyEngine(view)
    if cached is None:
        # The entry goes with the Tenant, before its id can be reused.
        weakref.finalize(tenant, _ENGINES.pop, key, None).atexit = False
    _ENGINES[key] = (view, engine)
    return engine


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


def _source_ranges_open(ranges: tuple[str, ...]) -> Text | None:
    """Why a LoadBalancer's source ranges let the whole Internet in, or None."""
    if not ranges:
        return msg("spec.loadBalancerSourceRanges is empty")
    networks = _networks(ranges)
    whole = next((text for text, n in networks if n.prefixlen == 0), None)
    if whole is not None:
        return msg("spec.loadBalancerSourceRanges holds {range}", range=whole)
    # The load balancer admits the union of the ranges: halves of the Internet add up.
    versions = internet_covered(n for _, n in networks)
    if not versions:
        return None
    version = versions[0]
    shown = _list(text for text, n in networks if n.version == version)
    return msg("spec.loadBalancerSourceRanges together cover the whole public IPv{version} Internet ({ranges})",
               version=version, ranges=shown)


def _live(pod: Pod) -> bool:
    return not pod.terminating and pod.phase not in _FINISHED_PHASES


# --------------------------------------------------------------------------------------------
# NET-001, NET-002: default deny


def _default_deny_passes(direction: Direction, namespace: str, policy: str) -> Text:
    if direction is Direction.INGRESS:
        return msg("Namespace {namespace} denies ingress by default: NetworkPolicy {namespace}/{policy} selects every "
                   "pod (podSelector {{}}) with Ingress in policyTypes and no ingress rule",
                   namespace=namespace, policy=policy)
    return msg("Namespace {namespace} denies egress by default: NetworkPolicy {namespace}/{policy} selects every "
               "pod (podSelector {{}}) with Egress in policyTypes and no egress rule",
               namespace=namespace, policy=policy)


def _default_deny_fails(direction: Direction, namespace: str, policies: Text) -> Text:
    if direction is Direction.INGRESS:
        return msg("Namespace {namespace} has no default-deny ingress NetworkPolicy, one that selects every pod "
                   "(podSelector {{}}) with Ingress in policyTypes and no ingress rule; {policies}, so ingress "
                   "traffic is not denied by default", namespace=namespace, policies=policies)
    return msg("Namespace {namespace} has no default-deny egress NetworkPolicy, one that selects every pod "
               "(podSelector {{}}) with Egress in policyTypes and no egress rule; {policies}, so egress "
               "traffic is not denied by default", namespace=namespace, policies=policies)


def _check_default_deny(rule_id: str, direction: Direction, tenant_namespaces: list[str],
                        view: ClusterView) -> list[Finding]:
    policies = _by_namespace(view.network_policies, tenant_namespaces)
    field = F_DENY_INGRESS if direction is Direction.INGRESS else F_DENY_EGRESS
    out = []
    for ns in sorted(set(tenant_namespaces)):
        deny = next((p for p in policies.get(ns, ()) if is_default_deny(p, direction)), None)
        if deny is not None:
            out.append(finding(rule(rule_id), Result.PASS, _ns_ref(ns),
                               _default_deny_passes(direction, ns, deny.name), field))
            continue
        names = [p.name for p in policies.get(ns, ())]
        if len(names) == 1:
            have = msg("its only NetworkPolicy, {policy}, does not qualify", policy=names[0])
        elif names:
            have = msg("none of its NetworkPolicies ({policies}) qualifies", policies=_list(names))
        else:
            have = msg("it has no NetworkPolicy at all")
        out.append(finding(rule(rule_id), Result.FAIL, _ns_ref(ns), _default_deny_fails(direction, ns, have), field))
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


# A forbidden port a Service exposes: (field, port, the port as the finding names it).
_Hit = tuple[str, int, Text | str]


def _named_hit(field: str, number: int, target: str, declaring: list[Pod]) -> _Hit:
    pods = _list(f"{p.namespace}/{p.name}" for p in declaring)
    if len(declaring) == 1:
        return field, number, msg("{port} ({field} {target}, containerPort of pod {pods})",
                                  port=number, field=field, target=target, pods=pods)
    return field, number, msg("{port} ({field} {target}, containerPort of pods {pods})",
                              port=number, field=field, target=target, pods=pods)


def _service_forbidden(svc: Service, forbidden: set[int], pods: list[Pod]
                       ) -> tuple[list[_Hit], list[tuple[Text, bool]]]:
    """The forbidden ports `svc` exposes outside the cluster, and each way it is exposed (with
    whether that way is open to the whole Internet). What reaches a pod is the targetPort: a
    number, or a name each selected pod (among `pods`) resolves to one of its container ports."""
    ways: list[tuple[Text, bool]] = []
    if svc.type == "LoadBalancer":
        opened = _source_ranges_open(svc.load_balancer_source_ranges)
        if opened is not None:
            ways.append((msg("LoadBalancer, open to every address: {why}", why=opened), True))
    elif svc.type == "NodePort":
        ways.append((msg("NodePort, open on every node"), True))
    if svc.external_ips:
        # kube-proxy answers on these addresses for any type, and loadBalancerSourceRanges do not
        # filter them; they may be private addresses, so not necessarily the whole Internet.
        ways.append((msg("spec.externalIPs {ips}, reachable on those addresses whatever the type",
                         ips=_list(svc.external_ips)), False))
    if not ways:
        return [], []
    selected = _selected_live_pods(svc, pods)
    hits: list[_Hit] = []
    for i, sp in enumerate(svc.ports):
        if sp.port in forbidden:
            hits.append((f"spec.ports[{i}].port", sp.port, f"{sp.port} (spec.ports[{i}].port)"))
        target = _int_port(sp.target_port)
        if target in forbidden and target != sp.port:
            hits.append((f"spec.ports[{i}].targetPort", target, f"{target} (spec.ports[{i}].targetPort)"))
        if target is None and isinstance(sp.target_port, str) and sp.target_port:
            for number, declaring in sorted(_named_target(sp, selected).items()):
                if number in forbidden and number != sp.port:
                    hits.append(_named_hit(f"spec.ports[{i}].targetPort", number, sp.target_port, declaring))
        if svc.type == "NodePort" and sp.node_port in forbidden:
            hits.append((f"spec.ports[{i}].nodePort", sp.node_port, f"{sp.node_port} (spec.ports[{i}].nodePort)"))
    return hits, ways


def _service_exposes_forbidden(svc: Service, hits: list[_Hit], ways: list[tuple[Text, bool]]) -> Text:
    what = {"namespace": svc.namespace, "service": svc.name, "ways": semicolons([way for way, _ in ways]),
            "ports": seq(shown for _, _, shown in hits)}
    internet = any(whole for _, whole in ways)
    if len(hits) == 1:
        if internet:
            return msg("Service {namespace}/{service} ({ways}) exposes forbidden port {ports} to the whole Internet",
                       **what)
        return msg("Service {namespace}/{service} ({ways}) exposes forbidden port {ports} on its external "
                   "addresses, outside the cluster", **what)
    if internet:
        return msg("Service {namespace}/{service} ({ways}) exposes forbidden ports {ports} to the whole Internet",
                   **what)
    return msg("Service {namespace}/{service} ({ways}) exposes forbidden ports {ports} on its external "
               "addresses, outside the cluster", **what)


def _opens_to_internet(r: PolicyRule) -> Text | None:
    """Why an ingress rule admits the whole Internet, or None."""
    if r.any_peer:
        return msg("any source (no from)")
    for peer in r.peers:
        if peer.ip_block is not None and not peer.error and peer.ip_block.whole_internet:
            return msg("ipBlock {block} (from[{index}])", block=str(peer.ip_block), index=peer.index)
    return None


def _rule_forbidden_ports(r: PolicyRule, forbidden: set[int], selected: list[Pod]) -> list[tuple[int, Text]]:
    """The forbidden ports `r` admits, each with how."""
    out: dict[int, Text] = {}

    def declared(protocol: str | None) -> None:
        for p in selected:
            for cp in p.ports:
                if cp.port in forbidden and cp.port not in out and (
                        protocol is None or (cp.protocol or DEFAULT_PROTOCOL).upper() == protocol):
                    pod = f"{p.namespace}/{p.name}"
                    out[cp.port] = msg(
                        "on all ports, and pod {pod} declares forbidden containerPort {port}", pod=pod, port=cp.port,
                    ) if protocol is None else msg(
                        "on all {protocol} ports, and pod {pod} declares forbidden containerPort {port}",
                        protocol=protocol, pod=pod, port=cp.port)

    if r.all_ports:
        declared(None)
    for rp in r.ports:
        if rp.port is None:
            declared(rp.protocol)
        elif rp.named:
            for p in selected:
                numbers = rp.resolve(p)
                if numbers and numbers[0] in forbidden and numbers[0] not in out:
                    pod = f"{p.namespace}/{p.name}"
                    out[numbers[0]] = msg("on named port {name}, which pod {pod} declares as forbidden port {port}",
                                          name=rp.port, pod=pod, port=numbers[0])
        else:
            low, high = rp.numeric_range() or (0, -1)
            for port in sorted(forbidden):
                if low <= port <= high and port not in out:
                    if low == high:
                        out[port] = msg("on forbidden port {port}", port=str(rp))
                    else:
                        out[port] = msg("on {ports}, which includes forbidden port {port}", ports=str(rp), port=port)
    return sorted(out.items(), key=lambda item: item[0])


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
            out.append(finding(rule("NET-003"), Result.FAIL, _service_ref(svc),
                               _service_exposes_forbidden(svc, hits, ways), hits[0][0]))
        for policy in engine.policies_in(ns):
            selected = engine.selected_pods(policy)
            offending: list[tuple[PolicyRule, Text]] = []
            for r in engine.rules(policy, Direction.INGRESS):
                opener = _opens_to_internet(r)
                if opener is None:
                    continue
                ports = _rule_forbidden_ports(r, forbidden, selected)
                if ports:
                    offending.append((r, msg("{rule} admits {source} {ports}", rule=r.field, source=opener,
                                             ports=semicolons([how for _, how in ports]))))
            if offending:
                failed = True
                out.append(finding(rule("NET-003"), Result.FAIL, _policy_ref(policy), msg(
                    "NetworkPolicy {namespace}/{policy} opens forbidden ports to the whole Internet: {rules}",
                    namespace=ns, policy=policy.name, rules=semicolons([text for _, text in offending]),
                ), offending[0][0].field))
        if not failed:
            out.append(finding(rule("NET-003"), Result.PASS, _ns_ref(ns), msg(
                "Namespace {namespace} exposes none of the forbidden ports ({ports}) to the whole Internet: no "
                "LoadBalancer or NodePort Service, no Service with externalIPs and no NetworkPolicy ingress rule "
                "open to any source admits them", namespace=ns, ports=shown,
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


def _block_holds(peer: Peer, hit: list[Pod]) -> Text:
    where = {"index": peer.index, "block": str(peer.ip_block), "count": len(hit),
             "pods": _list(f"{p.namespace}/{p.name} ({p.pod_ip}{', hostNetwork' if p.host_network else ''})"
                           for p in hit)}
    if len(hit) == 1:
        return msg("from[{index}].ipBlock {block} holds the address of {count} pod of other tenants: {pods}", **where)
    return msg("from[{index}].ipBlock {block} holds the addresses of {count} pods of other tenants: {pods}", **where)


def _selector_matches(peer: Peer, hit: list[str]) -> Text:
    where = {"index": peer.index, "selector": _selector(peer.namespace_selector), "count": len(hit),
             "namespaces": _list(hit)}
    if len(hit) == 1:
        return msg("from[{index}].namespaceSelector {selector} matches {count} namespace of other tenants: "
                   "{namespaces}", **where)
    return msg("from[{index}].namespaceSelector {selector} matches {count} namespaces of other tenants: "
               "{namespaces}", **where)


def _unisolated(namespace: str, open_pods: list[Pod]) -> Text:
    what = {"namespace": namespace, "count": len(open_pods),
            "pods": _list(p.name for p in sorted(open_pods, key=lambda p: p.name))}
    if len(open_pods) == 1:
        return msg("Namespace {namespace} has {count} pod that no NetworkPolicy with Ingress in policyTypes selects, "
                   "so it accepts traffic from every namespace, other tenants' included: {pods}", **what)
    return msg("Namespace {namespace} has {count} pods that no NetworkPolicy with Ingress in policyTypes selects, "
               "so they accept traffic from every namespace, other tenants' included: {pods}", **what)


def _isolated(namespace: str, live: int, others: int) -> Text:
    if live == 0:
        pods = msg("it has no running pod")
    else:
        pods = msg_n("its {count} pod is isolated for ingress", "its {count} pods are isolated for ingress", live)
    checked = msg_n("{count} other-tenant namespace checked", "{count} other-tenant namespaces checked", others)
    return msg("Namespace {namespace} admits no traffic from other tenants: {pods}, and no ingress rule admits any "
               "source, a namespace of another tenant or the address of one of its pods ({checked})",
               namespace=namespace, pods=pods, checked=checked)


def check_cross_tenant_ingress(tenant_namespaces: list[str], other_tenant_namespaces: Collection[str],
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
                reasons: list[Text] = []
                if r.any_peer:
                    reasons.append(msg("it has no from, so it admits every namespace, other tenants' included"))
                for peer in r.peers:
                    if peer.ip_block is not None:
                        # A tenant's namespaces mostly repeat one block (the Internet): each is asked once.
                        hit = held.get((peer.ip_block, peer.error))
                        if hit is None:
                            hit = held[(peer.ip_block, peer.error)] = _pods_in_block(peer, others, engine)
                        if hit:
                            reasons.append(_block_holds(peer, hit))
                        continue
                    if peer.namespace_selector is None or peer.error:
                        continue
                    if is_empty_selector(peer.namespace_selector):
                        reasons.append(msg("from[{index}].namespaceSelector {selector} is empty and matches every "
                                           "namespace, other tenants' included",
                                           index=peer.index, selector=_selector(peer.namespace_selector)))
                        continue
                    matched = sorted(engine.peer_namespaces(peer) & other_set)
                    if matched:
                        reasons.append(_selector_matches(peer, matched))
                if reasons:
                    failed = True
                    out.append(finding(rule("NET-004"), Result.FAIL, _policy_ref(policy), msg(
                        "NetworkPolicy {namespace}/{policy} {rule} admits traffic from other tenants into the pods "
                        "it selects (podSelector {selector}): {reasons}",
                        namespace=ns, policy=policy.name, rule=r.field, selector=_selector(policy.pod_selector),
                        reasons=semicolons(reasons),
                    ), r.field))
        open_pods = [p for p in engine.pods_in(ns) if _live(p) and not engine.isolated(p, Direction.INGRESS)]
        if open_pods:
            failed = True
            out.append(finding(rule("NET-004"), Result.FAIL, _ns_ref(ns), _unisolated(ns, open_pods), F_ISOLATION))
        if not failed:
            live = len([p for p in engine.pods_in(ns) if _live(p)])
            out.append(finding(rule("NET-004"), Result.PASS, _ns_ref(ns), _isolated(ns, live, len(others)),
                               F_ISOLATION))
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

    def _pod_name(self) -> str:
        return f"{self.pod.namespace}/{self.pod.name}" if self.pod is not None else ""

    def source(self) -> Text:
        """The end as the source of traffic: "from ..." (French "de ...", "du ...", "des ...")."""
        if self.kind == "any":
            return msg("from any address or pod")
        if self.kind == "ip":
            return msg("from ipBlock {block}", block=str(self.block))
        if self.kind == "pod" and self.pod is not None:
            return msg("from pod {pod}", pod=self._pod_name())
        if self.pod_selector is None or is_empty_selector(self.pod_selector):
            return msg("from every pod of namespace {namespace}", namespace=self.namespace)
        return msg("from pods {selector} of namespace {namespace}", selector=_selector(self.pod_selector),
                   namespace=self.namespace)

    def destination(self) -> Text:
        """The end as the destination of traffic: "to ..."."""
        if self.kind == "any":
            return msg("to any address or pod")
        if self.kind == "ip":
            return msg("to ipBlock {block}", block=str(self.block))
        if self.kind == "pod" and self.pod is not None:
            return msg("to pod {pod}", pod=self._pod_name())
        if self.pod_selector is None or is_empty_selector(self.pod_selector):
            return msg("to every pod of namespace {namespace}", namespace=self.namespace)
        return msg("to pods {selector} of namespace {namespace}", selector=_selector(self.pod_selector),
                   namespace=self.namespace)


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

    def text(self) -> Text | str:
        if self.protocol is None:
            return msg("every port")
        if self.name:
            return f"{self.protocol}/{self.name}"
        if (self.low, self.high) == (1, 65535):
            return msg("every {protocol} port", protocol=self.protocol)
        return f"{self.protocol}/{self.low}" if self.low == self.high else f"{self.protocol}/{self.low}-{self.high}"


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


def _uncovered(rule_field: str, policy: NetworkPolicy, gaps: list[_Gap], declared: int) -> Text:
    g = gaps[0]
    if not declared:
        why = msg("the TenantPolicy declares no flow (spec.flows is empty)")
    elif declared == 1:
        why = msg("no flow of the matrix ({count} flow) covers it", count=declared)
    else:
        why = msg("no flow of the matrix ({count} flows) covers it", count=declared)
    what = {"namespace": policy.namespace, "policy": policy.name, "rule": rule_field, "source": g.source.source(),
            "destination": g.destination.destination(), "port": g.port.text(), "why": why}
    if len(gaps) == 1:
        return msg("NetworkPolicy {namespace}/{policy} {rule} admits traffic {source} {destination} on {port}, but "
                   "{why}", **what)
    count = f"{len(gaps)}+" if len(gaps) >= GAPS_COUNTED else str(len(gaps))
    return msg("NetworkPolicy {namespace}/{policy} {rule} admits traffic {source} {destination} on {port}, but "
               "{why} ({count} uncovered source, destination and port combinations)",
               count=count, **what)


def _complies(policy: NetworkPolicy, rules: int) -> Text:
    what = {"namespace": policy.namespace, "policy": policy.name, "count": rules}
    if not rules:
        return msg("NetworkPolicy {namespace}/{policy} complies with the flow matrix: it has no rule, so it admits "
                   "nothing", **what)
    if rules == 1:
        return msg("NetworkPolicy {namespace}/{policy} complies with the flow matrix: each of its {count} rule admits "
                   "only flows of the matrix", **what)
    return msg("NetworkPolicy {namespace}/{policy} complies with the flow matrix: each of its {count} rules admits "
               "only flows of the matrix", **what)


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
                out.append(finding(rule("NET-005"), Result.FAIL, _policy_ref(policy),
                                   _uncovered(r.field, policy, gaps, declared), r.field))
            if not failed:
                out.append(finding(rule("NET-005"), Result.PASS, _policy_ref(policy), _complies(policy, len(rules)),
                                   "spec"))
    return out


# --------------------------------------------------------------------------------------------
# NET-006: cleartext


def _cleartext_service(svc: Service, hits: list[tuple[str, int]]) -> Text:
    what = {"namespace": svc.namespace, "service": svc.name,
            "how": svc.type if svc.type in ("LoadBalancer", "NodePort") else "externalIPs",
            "ports": ", ".join(f"{port} ({fld})" for fld, port in hits)}
    if len(hits) == 1:
        return msg("Service {namespace}/{service} ({how}) exposes cleartext protocol port {ports} outside the cluster",
                   **what)
    return msg("Service {namespace}/{service} ({how}) exposes cleartext protocol ports {ports} outside the cluster",
               **what)


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
            failed.append(finding(rule("NET-006"), Result.FAIL, _ingress_ref(ing), msg(
                "Ingress {namespace}/{ingress} serves {hosts} in cleartext HTTP: it has no spec.tls",
                namespace=ns, ingress=ing.name, hosts=_list(h or "*" for h in ing.hosts) or "*",
            ), F_TLS))
        for route in routes.get(ns, ()):
            host: Text | str = route.host or msg("its generated host")
            if not route.termination:
                failed.append(finding(rule("NET-006"), Result.FAIL, _route_ref(route), msg(
                    "Route {namespace}/{route} serves {host} in cleartext HTTP: it has no spec.tls",
                    namespace=ns, route=route.name, host=host,
                ), F_TLS))
            elif route.insecure_edge_termination_policy == "Allow":
                failed.append(finding(rule("NET-006"), Result.FAIL, _route_ref(route), msg(
                    "Route {namespace}/{route} also serves {host} in cleartext HTTP: "
                    "spec.tls.insecureEdgeTerminationPolicy is Allow (use Redirect or None)",
                    namespace=ns, route=route.name, host=host,
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
                failed.append(finding(rule("NET-006"), Result.FAIL, _service_ref(svc), _cleartext_service(svc, hits),
                                      hits[0][0]))
        out += failed
        if not failed:
            out.append(finding(rule("NET-006"), Result.PASS, _ns_ref(ns), msg(
                "Namespace {namespace} exposes nothing in cleartext: every Ingress and Route has TLS without an Allow "
                "insecure policy, and no exposed Service uses a cleartext port ({ports})", namespace=ns, ports=shown,
            ), F_TLS))
    return out


# --------------------------------------------------------------------------------------------
# NET-007: exposure outside the DMZ


def _service_exposure(svc: Service) -> tuple[str, str] | None:
    """(field, how) of how a Service is exposed outside the cluster, or None."""
    if svc.type in ("LoadBalancer", "NodePort"):
        return F_TYPE, f"type {svc.type}"
    if svc.external_ips:
        return F_EXTERNAL_IPS, f"externalIPs {', '.join(svc.external_ips)}"
    return None


def _exposed_outside_dmz(kind: str, namespace: str, name: str, how: Text | str, field: str,
                         zone: str | None) -> Text:
    what = {"namespace": namespace, "name": name, "how": how, "field": field, "zone": zone}
    if kind == "Service":
        if zone:
            return msg("Service {namespace}/{name} is exposed outside the cluster ({how}, {field}) but namespace "
                       "{namespace} is in zone {zone}, not dmz", **what)
        return msg("Service {namespace}/{name} is exposed outside the cluster ({how}, {field}) but namespace "
                   "{namespace} is in no network zone (only dmz may expose)", **what)
    if kind == "Route":
        if zone:
            return msg("Route {namespace}/{name} is exposed outside the cluster ({how}, {field}) but namespace "
                       "{namespace} is in zone {zone}, not dmz", **what)
        return msg("Route {namespace}/{name} is exposed outside the cluster ({how}, {field}) but namespace "
                   "{namespace} is in no network zone (only dmz may expose)", **what)
    if zone:
        return msg("Ingress {namespace}/{name} is exposed outside the cluster ({how}, {field}) but namespace "
                   "{namespace} is in zone {zone}, not dmz", **what)
    return msg("Ingress {namespace}/{name} is exposed outside the cluster ({how}, {field}) but namespace "
               "{namespace} is in no network zone (only dmz may expose)", **what)


def _exposure_allowed(namespace: str, exposed: int) -> Text:
    if exposed == 0:
        return msg("Namespace {namespace} is in the dmz zone, where exposure is allowed (0 exposed objects)",
                   namespace=namespace)
    if exposed == 1:
        return msg("Namespace {namespace} is in the dmz zone, where exposure is allowed ({count} exposed object)",
                   namespace=namespace, count=exposed)
    return msg("Namespace {namespace} is in the dmz zone, where exposure is allowed ({count} exposed objects)",
               namespace=namespace, count=exposed)


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
        exposed: list[tuple[ResourceRef, Text | str, str]] = []  # the object, how it is exposed, the field
        for svc in services.get(ns, ()):
            exposure = _service_exposure(svc)
            if exposure is not None:
                exposed.append((_service_ref(svc), exposure[1], exposure[0]))
        for route in routes.get(ns, ()):
            exposed.append((_route_ref(route), msg("host {host}", host=route.host) if route.host
                            else msg("a router host"), F_HOST))
        for ing in ingresses.get(ns, ()):
            hosts = _list(h for h in ing.hosts if h)
            exposed.append((_ingress_ref(ing), msg("hosts {hosts}", hosts=hosts) if hosts
                            else msg("the ingress controller"), F_RULES))
        if zone == DMZ_ZONE:
            out.append(finding(rule("NET-007"), Result.PASS, _ns_ref(ns), _exposure_allowed(ns, len(exposed)),
                               "metadata.labels"))
            continue
        for ref, how, fld in exposed:
            out.append(finding(rule("NET-007"), Result.FAIL, ref,
                               _exposed_outside_dmz(ref.kind, ns, ref.name, how, fld, zone), fld))
        if not exposed:
            nothing = msg("Namespace {namespace} (zone {zone}) exposes no Service, Route or Ingress outside the "
                          "cluster", namespace=ns, zone=zone) if zone else \
                msg("Namespace {namespace} (no zone) exposes no Service, Route or Ingress outside the cluster",
                    namespace=ns)
            out.append(finding(rule("NET-007"), Result.PASS, _ns_ref(ns), nothing, F_TYPE))
    return out


# --------------------------------------------------------------------------------------------
# The rules, in the order the findings come


@family.rule("NET-001", Severity.HIGH, ("R8", "S7"), N_("A tenant namespace has no default-deny ingress policy"),
             reads={"NetworkPolicy"})
def default_deny_ingress(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    return check_default_deny_ingress(tenant.namespaces, view)


@family.rule("NET-002", Severity.MEDIUM, ("S7",), N_("A tenant namespace has no default-deny egress policy"),
             reads={"NetworkPolicy"})
def default_deny_egress(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    return check_default_deny_egress(tenant.namespaces, view)


# The NetworkPolicyEngine reads the view's NetworkPolicies, Pods and Namespaces (their labels).
_ENGINE_READS = frozenset({"NetworkPolicy", "Pod", "Namespace"})


@family.rule("NET-003", Severity.CRITICAL, ("R7",),
             N_("An administration or file-sharing port is open to the whole Internet"),
             reads=_ENGINE_READS | {"Service"})
def forbidden_ports_exposed(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    return check_forbidden_ports_exposed(tenant.spec, tenant.namespaces, view, _engine(tenant, view))


@family.rule("NET-004", Severity.CRITICAL, ("S6",),
             N_("The effective network policies admit traffic from another tenant's namespaces"),
             reads=_ENGINE_READS)
def cross_tenant_ingress(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    return check_cross_tenant_ingress(tenant.namespaces, tenant.other_tenant_namespaces, view, _engine(tenant, view))


@family.rule("NET-005", Severity.HIGH, ("S7",),
             N_("The effective network policies admit a flow that the flow matrix does not list"),
             reads=_ENGINE_READS)
def flow_matrix(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    return check_flow_matrix(tenant.spec, tenant.namespaces, tenant.zone_of_namespace, view, _engine(tenant, view))


@family.rule("NET-006", Severity.HIGH, ("S1", "S4"),
             N_("Cleartext exposure: a route, ingress or port without encryption"),
             reads={"Ingress", "Route", "Service"})
def cleartext_exposure(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    return check_cleartext_exposure(tenant.spec, tenant.namespaces, view)


@family.rule("NET-007", Severity.MEDIUM, ("S7",),
             N_("An externally exposed Service, Route or Ingress lies in a namespace outside the DMZ zone"),
             reads={"Ingress", "Route", "Service"})
def exposure_zone(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    return check_exposure_zone(tenant.namespaces, tenant.zone_of_namespace, view)


def evaluate_network(spec: TenantPolicySpec, tenant_namespaces: list[str], zone_of_namespace: Mapping[str, str],
                     other_tenant_namespaces: frozenset[str] | set[str], view: ClusterView) -> list[Finding]:
    """NET-001 to NET-007 for the tenant namespaces of one TenantPolicy (no NET rule reads the policy's
    name or the clock)."""
    tenant = Tenant(spec, "", tenant_namespaces, zone_of_namespace, other_tenant_namespaces)
    return family.evaluate(tenant, view, datetime.min)
