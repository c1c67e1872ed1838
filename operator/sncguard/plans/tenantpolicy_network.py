"""Enforce mode for a TenantPolicy's network: the NetworkPolicies sncguard owns.

In every tenant namespace:
- `sncguard-default-deny`: every pod isolated for ingress and egress, no rule (NET-001, NET-002);
- `sncguard-allow-dns`: egress to the cluster DNS pods (k8s-app=kube-dns, or OpenShift's
  dns.operator.openshift.io/daemonset-dns=default) on UDP and TCP 53 and OpenShift's 5353 (the
  DNS pods listen on 5353 behind the dns-default Service's 53; policies see the pod port).

Per flow of the matrix:
- `sncguard-flow-<flow>` in each destination tenant namespace: ingress from the flow's source
  on its ports, into the pods of `to.podSelector` (all when absent);
- `sncguard-flow-<flow>-egress` in each source tenant namespace, when the source is tenant
  namespaces (a zone or a namespaceSelector): egress to the destination on the ports.

A zone becomes the explicit list of the tenant namespaces in it (`kubernetes.io/metadata.name In
[...]`), never the zone's label selector, which could match another tenant's namespaces too. A
flow end that resolves to no namespace yields no policy: an empty `from`/`to` would admit
everything. Ports are pod ports: NetworkPolicies see traffic after Service translation.

Every object is labelled `app.kubernetes.io/managed-by: sncguard` and
`sncguard.io/tenant-policy: <policy>`, and owned by the TenantPolicy (the garbage collector
removes them with it). `stale_owned` lists the owned ones the plan no longer holds.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from ..naming import digest, label_value, owner_reference
from ..netpol import CLUSTER_ADDRESS_SPACE, NAMESPACE_NAME_LABEL
from ..selectors import label_selector_matches
from ..view import ClusterView, NetworkPolicy

if TYPE_CHECKING:
    from ..api.tenantpolicy import Flow, FlowPeer, TenantPolicySpec

__all__ = [
    "ALLOW_DNS",
    "DEFAULT_DENY",
    "DNS_POD_SELECTORS",
    "DNS_PORTS",
    "FLOW_PREFIX",
    "TENANT_POLICY_LABEL",
    "flow_policy_names",
    "network_plan",
    "stale_owned",
    "tenant_policy_label_value",
]

TENANT_POLICY_LABEL = "sncguard.io/tenant-policy"
DEFAULT_DENY = "sncguard-default-deny"
ALLOW_DNS = "sncguard-allow-dns"
FLOW_PREFIX = "sncguard-flow-"
EGRESS_SUFFIX = "-egress"
DNS_POD_SELECTORS = (
    {"matchLabels": {"k8s-app": "kube-dns"}},
    {"matchLabels": {"dns.operator.openshift.io/daemonset-dns": "default"}},
)
DNS_PORTS = tuple({"protocol": proto, "port": port} for port in (53, 5353) for proto in ("UDP", "TCP"))

MAX_NAME = 253
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

NETWORK_POLICY_API = "networking.k8s.io/v1"


def tenant_policy_label_value(policy_name: str) -> str:
    """The sncguard.io/tenant-policy label value of a TenantPolicy."""
    return label_value(policy_name)


def _object_name(name: str) -> str:
    """A valid object name (DNS subdomain of at most 253 characters)."""
    if len(name) <= MAX_NAME and _DNS_SUBDOMAIN.match(name):
        return name
    suffix = digest(name)
    head = re.sub(r"[^a-z0-9.-]", "-", name.lower())[: MAX_NAME - len(suffix) - 1].strip("-.")
    return f"{head}-{suffix}" if head else suffix


def flow_policy_names(flows: Iterable[Flow]) -> dict[str, tuple[str, str]]:
    """flow name -> (ingress policy name, egress policy name). A flow called "<x>-egress" would give
    its ingress policy the name of flow <x>'s egress policy: such an egress name gets a digest."""
    flows = list(flows)
    ingress = {f.name: _object_name(FLOW_PREFIX + f.name) for f in flows}
    taken = set(ingress.values())
    out = {}
    for f in flows:
        egress = _object_name(FLOW_PREFIX + f.name + EGRESS_SUFFIX)
        if egress in taken:
            egress = _object_name(f"{FLOW_PREFIX}{f.name}{EGRESS_SUFFIX}-{digest(f.name, 8)}")
        taken.add(egress)
        out[f.name] = (ingress[f.name], egress)
    return out


def _network_policy(namespace: str, name: str, policy_name: str, policy_uid: str,
                    spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": NETWORK_POLICY_API,
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_POLICY_LABEL: tenant_policy_label_value(policy_name)},
            "ownerReferences": [owner_reference("TenantPolicy", policy_name, policy_uid)],
        },
        "spec": spec,
    }


def _namespace_labels(view: ClusterView, namespace: str) -> dict[str, str]:
    ns = view.namespaces.get(namespace)
    return {**(ns.labels if ns else {}), NAMESPACE_NAME_LABEL: namespace}


def _tenant_namespaces_of(end: FlowPeer, namespaces: list[str], zone_of_namespace: Mapping[str, str],
                          view: ClusterView) -> list[str]:
    """The tenant namespaces a flow end names (none for a cidr)."""
    if end.cidr is not None:
        return []
    if end.zone is not None:
        return [n for n in namespaces if zone_of_namespace.get(n) == end.zone]
    selector = end.namespace_selector.as_k8s() if end.namespace_selector is not None else None
    return [n for n in namespaces if label_selector_matches(selector, _namespace_labels(view, n))]


def _peers(end: FlowPeer, namespaces: list[str], zone_of_namespace: Mapping[str, str]) -> list[dict[str, Any]]:
    """The NetworkPolicy peers of a flow end; [] when it resolves to nothing (never "any")."""
    if end.cidr is not None:
        return [{"ipBlock": _ip_block(ipaddress.ip_network(end.cidr, strict=False))}]
    peer: dict[str, Any]
    if end.zone is not None:
        members = [n for n in namespaces if zone_of_namespace.get(n) == end.zone]
        if not members:
            return []
        peer = {"namespaceSelector": {"matchExpressions": [
            {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": members}]}}
    else:
        assert end.namespace_selector is not None
        peer = {"namespaceSelector": end.namespace_selector.as_k8s()}
    if end.pod_selector is not None:
        peer["podSelector"] = end.pod_selector.as_k8s()
    return [peer]


def _ip_block(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> dict[str, Any]:
    """An address range as declared, less the cluster's private address space inside it: a flow
    from 0.0.0.0/0 is the Internet, not every pod of every tenant (an ipBlock admits pods too)."""
    carved = [str(p) for p in CLUSTER_ADDRESS_SPACE
              if p.version == network.version and p != network and p.subnet_of(network)]  # type: ignore[arg-type]
    return {"cidr": str(network), **({"except": carved} if carved else {})}


def _ports(flow: Flow) -> list[dict[str, Any]] | None:
    if flow.ports is None:
        return None
    out = []
    for p in flow.ports:
        entry: dict[str, Any] = {"protocol": p.protocol.value, "port": p.port}
        if p.end_port is not None:
            entry["endPort"] = p.end_port
        out.append(entry)
    return out


def _rule(peers_key: str, peers: list[dict[str, Any]], ports: list[dict[str, Any]] | None) -> dict[str, Any]:
    rule: dict[str, Any] = {peers_key: peers}
    if ports is not None:
        rule["ports"] = ports
    return rule


def network_plan(policy_name: str, policy_uid: str, spec: TenantPolicySpec, tenant_namespaces: list[str],
                 zone_of_namespace: dict[str, str], view: ClusterView) -> list[dict[str, Any]]:
    """The NetworkPolicies Enforce mode applies (server-side) for one TenantPolicy, in a stable order."""
    namespaces = sorted(set(tenant_namespaces))
    out: list[dict[str, Any]] = []
    for ns in namespaces:
        out.append(_network_policy(ns, DEFAULT_DENY, policy_name, policy_uid, {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
        }))
        out.append(_network_policy(ns, ALLOW_DNS, policy_name, policy_uid, {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"namespaceSelector": {}, "podSelector": dict(s)} for s in DNS_POD_SELECTORS],
                "ports": [dict(p) for p in DNS_PORTS],
            }],
        }))
    flows = list(spec.flows or ())
    names = flow_policy_names(flows)
    for flow in flows:
        ingress_name, egress_name = names[flow.name]
        ports = _ports(flow)
        sources = _peers(flow.from_, namespaces, zone_of_namespace)
        if sources:
            pods = flow.to.pod_selector.as_k8s() if flow.to.pod_selector is not None else {}
            for ns in _tenant_namespaces_of(flow.to, namespaces, zone_of_namespace, view):
                out.append(_network_policy(ns, ingress_name, policy_name, policy_uid, {
                    "podSelector": pods,
                    "policyTypes": ["Ingress"],
                    "ingress": [_rule("from", sources, ports)],
                }))
        destinations = _peers(flow.to, namespaces, zone_of_namespace)
        if destinations and flow.from_.cidr is None:
            pods = flow.from_.pod_selector.as_k8s() if flow.from_.pod_selector is not None else {}
            for ns in _tenant_namespaces_of(flow.from_, namespaces, zone_of_namespace, view):
                out.append(_network_policy(ns, egress_name, policy_name, policy_uid, {
                    "podSelector": pods,
                    "policyTypes": ["Egress"],
                    "egress": [_rule("to", destinations, ports)],
                }))
    return out


def stale_owned(existing: list[NetworkPolicy], desired: list[dict[str, Any]], policy_name: str, *,
                policy_uid: str | None = None) -> list[tuple[str, str]]:
    """(namespace, name) of the NetworkPolicies this TenantPolicy owns (both sncguard labels, and its
    uid among the owners when given) that `desired` no longer holds, sorted. A policy without the
    labels (a user's) is never stale."""
    wanted = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in desired}
    value = tenant_policy_label_value(policy_name)
    return sorted(
        (p.namespace, p.name) for p in existing
        if p.labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE
        and p.labels.get(TENANT_POLICY_LABEL) == value
        and (policy_uid is None or policy_uid in p.owner_uids)
        and (p.namespace, p.name) not in wanted
    )
