"""NetworkPolicy semantics (networking.k8s.io/v1), exactly as Kubernetes defines them.

Pure: no I/O, no clock. Given the namespaces (with their labels), the pods (labels, named
container ports, address, hostNetwork) and the NetworkPolicies of a ClusterView,
`NetworkPolicyEngine` answers

- point questions: may this source (a pod or an IP address) reach this pod on (protocol, port)?
  (`admits`, `egress_allows`, `allows`, with the rules that decide in `ingress_verdict` and
  `egress_verdict`);
- class questions: which source classes does each rule admit into a pod (`ingress_admissions`:
  any source, every pod of some namespaces, selected pods, ipBlocks, each with the policy and rule
  index), and which concrete sources or destinations that makes on one port (`sources`,
  `destinations`).

The semantics, from the Kubernetes NetworkPolicy documentation:

- A pod is isolated for ingress (egress) iff a policy of its own namespace selects it
  (`podSelector`, `{}` = every pod of the namespace) with "Ingress" ("Egress") in `policyTypes`
  (the API default for an absent `policyTypes`: Ingress, plus Egress when egress rules exist, is
  applied by `view.NetworkPolicy.from_obj`). A direction that no policy isolates allows everything.
- What is allowed is the union of the rules of every policy that isolates the pod in that
  direction; such a policy without rules allows nothing.
- A rule without `from`/`to` (absent or empty) admits every pod of every namespace and every
  address; a rule without `ports` admits every port and protocol.
- A peer with `podSelector` only: pods of the policy's namespace; `namespaceSelector` only: every
  pod of the matching namespaces; both in one peer: pods matching the pod selector in namespaces
  matching the namespace selector (AND); separate peers are ORed. `ipBlock`: addresses in `cidr`
  but in none of `except` (IPv4 and IPv6), and the pods whose address (`status.podIP`) lies there.
- A port: numeric, a numeric range up to `endPort`, or a name resolved against the destination
  pod's container ports (for ingress the selected pod, for egress the peer pod); a name the pod
  does not declare matches nothing. The protocol defaults to TCP.

- A pod always reaches itself: no policy blocks the traffic from a pod to itself.
- A hostNetwork pod has its node's address and is node traffic, as in most implementations (the
  documentation leaves it open): selectors never match it as a source or a destination, an
  ipBlock does when it holds the node's address.

Evidence limits, by design: a pod (source or destination) matches an ipBlock through the
`status.podIP` the view holds, as Kubernetes' own network-policy e2e tests and Calico do; a pod
without an address yet (pending, or a manifest read offline) matches only selector peers. An
address given as such is not taken for the pod that may hold it: it matches only ipBlock peers.
Namespaces carry the `kubernetes.io/metadata.name` label the API server sets on every namespace,
even when a manifest omits it. A peer that the API server would reject (empty, or ipBlock combined
with a selector, an unparsable cidr) matches nothing.
"""

from __future__ import annotations

import enum
import ipaddress
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .selectors import is_empty_selector, label_selector_matches
from .view import ClusterView, NetworkPolicy, Pod

__all__ = [
    "CLUSTER_ADDRESS_SPACE",
    "DEFAULT_PROTOCOL",
    "NAMESPACE_NAME_LABEL",
    "Admission",
    "Direction",
    "ForeignPodReach",
    "IPAddress",
    "IPBlock",
    "IPNetwork",
    "NetworkPolicyEngine",
    "Peer",
    "PeerClass",
    "PeerKind",
    "PolicyRule",
    "Reach",
    "RulePort",
    "Verdict",
    "admits",
    "allows",
    "foreign_pod_reach",
    "internet_covered",
    "is_default_deny",
    "pod_address",
    "policy_rules",
    "selector_implies",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Endpoint = Pod | IPAddress | str  # a pod, or an address (an IPAddress or its text)

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_PROTOCOL = "TCP"
MAX_PORT = 65535

# Address space that is not the public Internet: an ipBlock 0.0.0.0/0 that only carves these out
# still admits the whole Internet.
_NON_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8",
))


# Where clusters put their pods, services and nodes (OpenShift: 10.128.0.0/14 and 172.30.0.0/16 by
# default). A flow from or to "the Internet" carves these out, or it would open the tenant to every
# other tenant's pods: an ipBlock admits the pods whose address it holds.
CLUSTER_ADDRESS_SPACE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))


def internet_covered(networks: Iterable[IPNetwork]) -> tuple[int, ...]:
    """The IP versions (4, 6) whose whole public Internet the union of `networks` covers.

    Ranges open to the Internet together as much as 0.0.0.0/0 alone: 0.0.0.0/1 and 128.0.0.0/1,
    or every public range with the private ones left out, since what is not the public Internet
    (_NON_PUBLIC) is added before the union is compared with 0.0.0.0/0 (::/0)."""
    networks = tuple(networks)
    covered = []
    for version in (4, 6):
        union = list(ipaddress.collapse_addresses(
            n for n in (*networks, *_NON_PUBLIC) if n.version == version))
        if len(union) == 1 and union[0].prefixlen == 0:
            covered.append(version)
    return tuple(covered)


class Direction(enum.StrEnum):
    INGRESS = "Ingress"
    EGRESS = "Egress"

    @property
    def key(self) -> str:
        """The spec field of the rules: "ingress" or "egress"."""
        return "ingress" if self is Direction.INGRESS else "egress"

    @property
    def peers_key(self) -> str:
        """The rule field of the peers: "from" or "to"."""
        return "from" if self is Direction.INGRESS else "to"


def _selects(selector: Mapping | None, labels: Mapping[str, str]) -> bool:
    """label_selector_matches, with an invalid selector (unknown operator) matching nothing."""
    try:
        return label_selector_matches(selector, labels)
    except ValueError:
        return False


def _as_address(address: IPAddress | str) -> IPAddress:
    return address if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address) \
        else ipaddress.ip_address(address)


def pod_address(pod: Pod) -> IPAddress | None:
    """The pod's status.podIP (its node's address for a hostNetwork pod); None until assigned, or
    unreadable: such a pod matches no ipBlock."""
    if not pod.pod_ip:
        return None
    try:
        return ipaddress.ip_address(pod.pod_ip)
    except ValueError:
        return None


def _same_pod(a: Pod, b: Pod) -> bool:
    return (a.namespace, a.name) == (b.namespace, b.name)


# --------------------------------------------------------------------------------------------
# ipBlock


@dataclass(frozen=True, slots=True)
class IPBlock:
    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, block: Mapping[str, Any]) -> IPBlock:
        """From a NetworkPolicy ipBlock; ValueError when the cidr or an except is not a network."""
        cidr = ipaddress.ip_network(str(block.get("cidr", "")), strict=False)
        excepts = tuple(ipaddress.ip_network(str(e), strict=False) for e in block.get("except") or ())
        return cls(cidr, excepts)

    def contains(self, address: IPAddress | str) -> bool:
        ip = _as_address(address)
        if ip.version != self.cidr.version or ip not in self.cidr:
            return False
        return not any(ip.version == e.version and ip in e for e in self.excepts)

    def within(self, network: IPNetwork) -> bool:
        """Every address of the block lies in `network`."""
        return self.cidr.version == network.version and self.cidr.subnet_of(network)  # type: ignore[arg-type]

    @property
    def everything(self) -> bool:
        """0.0.0.0/0 or ::/0 without excepts."""
        return self.cidr.prefixlen == 0 and not self.excepts

    @property
    def whole_internet(self) -> bool:
        """0.0.0.0/0 or ::/0 whose excepts (if any) only carve out private or reserved space."""
        return self.cidr.prefixlen == 0 and all(
            any(e.version == n.version and e.subnet_of(n) for n in _NON_PUBLIC)  # type: ignore[arg-type]
            for e in self.excepts)

    def __str__(self) -> str:
        if not self.excepts:
            return str(self.cidr)
        return f"{self.cidr} except {', '.join(str(e) for e in self.excepts)}"


# --------------------------------------------------------------------------------------------
# Peers, ports, rules


class PeerKind(enum.StrEnum):
    ANY = "any"                # no from/to: every pod of every namespace, and every address
    NAMESPACES = "namespaces"  # every pod of some namespaces
    PODS = "pods"              # the pods a selector matches in some namespaces
    IP_BLOCK = "ipBlock"
    NONE = "none"              # a peer the API server would reject: matches nothing


@dataclass(frozen=True, slots=True)
class Peer:
    """One entry of a rule's `from` or `to`."""

    index: int
    policy_namespace: str
    pod_selector: dict | None = None
    namespace_selector: dict | None = None  # None: the policy's own namespace
    ip_block: IPBlock | None = None
    error: str = ""

    @classmethod
    def parse(cls, index: int, peer: Mapping[str, Any], policy_namespace: str) -> Peer:
        pods, namespaces, block = peer.get("podSelector"), peer.get("namespaceSelector"), peer.get("ipBlock")
        if block is not None:
            if pods is not None or namespaces is not None:
                return cls(index, policy_namespace, error="ipBlock cannot be combined with a selector")
            try:
                return cls(index, policy_namespace, ip_block=IPBlock.parse(block))
            except ValueError as exc:
                return cls(index, policy_namespace, error=f"invalid ipBlock: {exc}")
        if pods is None and namespaces is None:
            return cls(index, policy_namespace, error="a peer needs podSelector, namespaceSelector or ipBlock")
        return cls(index, policy_namespace,
                   pod_selector=dict(pods) if pods is not None else None,
                   namespace_selector=dict(namespaces) if namespaces is not None else None)

    @property
    def kind(self) -> PeerKind:
        if self.error:
            return PeerKind.NONE
        if self.ip_block is not None:
            return PeerKind.IP_BLOCK
        if self.pod_selector is None or is_empty_selector(self.pod_selector):
            return PeerKind.NAMESPACES
        return PeerKind.PODS

    def matches_namespace(self, namespace: str, labels: Mapping[str, str]) -> bool:
        """Whether the peer's pods may come from this namespace."""
        if self.kind in (PeerKind.NONE, PeerKind.IP_BLOCK):
            return False
        if self.namespace_selector is None:
            return namespace == self.policy_namespace
        return _selects(self.namespace_selector, labels)

    def matches_pod_labels(self, labels: Mapping[str, str]) -> bool:
        return self.pod_selector is None or _selects(self.pod_selector, labels)

    def matches_pod(self, pod: Pod, namespace_labels: Mapping[str, str]) -> bool:
        """Whether the peer matches `pod` as a source (ingress) or a destination (egress)."""
        if self.ip_block is not None:
            address = pod_address(pod)
            return not self.error and address is not None and self.ip_block.contains(address)
        if pod.host_network:
            # Its traffic carries the node's address: plugins cannot tell it from the node's own.
            return False
        return self.matches_namespace(pod.namespace, namespace_labels) and self.matches_pod_labels(pod.labels)

    def matches_address(self, address: IPAddress | str) -> bool:
        return self.ip_block is not None and not self.error and self.ip_block.contains(address)


@dataclass(frozen=True, slots=True)
class RulePort:
    """One entry of a rule's `ports`: port None = every port of the protocol."""

    protocol: str = DEFAULT_PROTOCOL
    port: int | str | None = None
    end_port: int | None = None

    @classmethod
    def parse(cls, entry: Mapping[str, Any]) -> RulePort:
        port = entry.get("port")
        if isinstance(port, str) and port.isdigit():
            port = int(port)  # the API server would refuse it; a manifest may still say "80"
        end = entry.get("endPort")
        return cls(protocol=str(entry.get("protocol") or DEFAULT_PROTOCOL).upper(), port=port,
                   end_port=int(end) if end is not None and isinstance(port, int) else None)

    @property
    def named(self) -> bool:
        return isinstance(self.port, str)

    def numeric_range(self) -> tuple[int, int] | None:
        """(low, high) for a numeric port or range, (1, 65535) for every port, None for a name."""
        if self.port is None:
            return (1, MAX_PORT)
        if isinstance(self.port, int):
            return (self.port, self.end_port if self.end_port is not None else self.port)
        return None

    def resolve(self, pod: Pod | None) -> tuple[int, int] | None:
        """The range this entry opens on `pod` (the destination): a name becomes the number the pod
        declares under it for the protocol; None when the pod does not declare it."""
        numbers = self.numeric_range()
        if numbers is not None:
            return numbers
        if pod is None:
            return None
        for cp in pod.ports:
            if cp.name == self.port and (cp.protocol or DEFAULT_PROTOCOL).upper() == self.protocol:
                return (cp.port, cp.port)
        return None

    def matches(self, protocol: str, port: int, pod: Pod | None) -> bool:
        """Whether this entry admits (protocol, port) to destination `pod` (None: an address)."""
        if protocol.upper() != self.protocol:
            return False
        numbers = self.resolve(pod)
        return numbers is not None and numbers[0] <= port <= numbers[1]

    def __str__(self) -> str:
        if self.port is None:
            return f"{self.protocol}/*"
        if self.end_port is not None:
            return f"{self.protocol}/{self.port}-{self.end_port}"
        return f"{self.protocol}/{self.port}"


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One ingress or egress rule of a policy, parsed."""

    policy: NetworkPolicy
    direction: Direction
    index: int
    peers: tuple[Peer, ...]  # empty: any source or destination
    ports: tuple[RulePort, ...]  # empty: every port

    @property
    def any_peer(self) -> bool:
        return not self.peers

    @property
    def all_ports(self) -> bool:
        return not self.ports

    @property
    def field(self) -> str:
        return f"spec.{self.direction.key}[{self.index}]"

    @property
    def cite(self) -> str:
        return f"NetworkPolicy {self.policy.namespace}/{self.policy.name} {self.field}"

    def port_matches(self, protocol: str, port: int, destination: Pod | None) -> bool:
        return self.all_ports or any(p.matches(protocol, port, destination) for p in self.ports)


def policy_rules(policy: NetworkPolicy, direction: Direction) -> tuple[PolicyRule, ...]:
    """The rules of `policy` that take effect in `direction`: none when the direction is not in
    its policyTypes (the API server then ignores them)."""
    if direction.value not in policy.policy_types:
        return ()
    raw = policy.ingress if direction is Direction.INGRESS else policy.egress
    out = []
    for i, rule in enumerate(raw):
        body = rule or {}
        peers = tuple(Peer.parse(j, p or {}, policy.namespace)
                      for j, p in enumerate(body.get(direction.peers_key) or ()))
        ports = tuple(RulePort.parse(p or {}) for p in body.get("ports") or ())
        out.append(PolicyRule(policy, direction, i, peers, ports))
    return tuple(out)


def is_default_deny(policy: NetworkPolicy, direction: Direction) -> bool:
    """Selects every pod of its namespace (`podSelector: {}`), isolates `direction` and has no
    rule in it: a default deny."""
    rules = policy.ingress if direction is Direction.INGRESS else policy.egress
    return (is_empty_selector(policy.pod_selector) and direction.value in policy.policy_types
            and not rules)


# --------------------------------------------------------------------------------------------
# Selector implication (used to compare a policy's selectors with declared ones)


def _requirements(selector: Mapping | None) -> list[tuple[str, str, frozenset[str]]]:
    selector = selector or {}
    reqs = [(k, "In", frozenset({v})) for k, v in (selector.get("matchLabels") or {}).items()]
    reqs += [(e.get("key", ""), e.get("operator", ""), frozenset(e.get("values") or ()))
             for e in selector.get("matchExpressions") or ()]
    return reqs


def _requirement_implies(a: tuple[str, str, frozenset[str]], b: tuple[str, str, frozenset[str]]) -> bool:
    (_, op_a, va), (_, op_b, vb) = a, b
    if op_b == "In":
        return op_a == "In" and va <= vb
    if op_b == "NotIn":
        return (op_a == "In" and va.isdisjoint(vb)) or (op_a == "NotIn" and vb <= va) or op_a == "DoesNotExist"
    if op_b == "Exists":
        return op_a in ("In", "Exists")
    if op_b == "DoesNotExist":
        return op_a == "DoesNotExist"
    return False


def selector_implies(a: Mapping | None, b: Mapping | None) -> bool:
    """Whether every label set that selector `a` matches is matched by selector `b` too.

    Sound, not complete: True is a proof (each requirement of `b` follows from one of `a`), False
    may also mean "cannot tell". None stands for "no selector", i.e. everything (as a flow's
    absent podSelector)."""
    if b is None or is_empty_selector(b):
        return True
    if a is None:
        return False
    reqs_a = _requirements(a)
    return all(any(ra[0] == rb[0] and _requirement_implies(ra, rb) for ra in reqs_a) for rb in _requirements(b))


# --------------------------------------------------------------------------------------------
# Answers


@dataclass(frozen=True, slots=True)
class PeerClass:
    """A class of sources (ingress) or destinations (egress) that one peer of one rule admits,
    with the namespaces of the view it reaches."""

    kind: PeerKind
    peer: Peer | None = None  # None for ANY
    namespaces: frozenset[str] = frozenset()  # NAMESPACES and PODS: the matching namespaces of the view

    @property
    def pod_selector(self) -> dict | None:
        return self.peer.pod_selector if self.peer else None

    @property
    def namespace_selector(self) -> dict | None:
        return self.peer.namespace_selector if self.peer else None

    @property
    def ip_block(self) -> IPBlock | None:
        return self.peer.ip_block if self.peer else None


ANY_PEER = PeerClass(PeerKind.ANY)


@dataclass(frozen=True, slots=True)
class Admission:
    """What one rule admits into (ingress) or out of (egress) a pod; rule None when no policy
    isolates the pod in that direction, so everything is allowed."""

    rule: PolicyRule | None
    peers: tuple[PeerClass, ...]

    @property
    def ports(self) -> tuple[RulePort, ...]:
        return self.rule.ports if self.rule else ()

    @property
    def cite(self) -> str:
        return self.rule.cite if self.rule else "no NetworkPolicy isolates the pod"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    isolated: bool
    rules: tuple[PolicyRule, ...] = ()  # the rules that admit the traffic
    policies: tuple[NetworkPolicy, ...] = ()  # the policies that isolate the pod in this direction


@dataclass(frozen=True, slots=True)
class Reach:
    """Concrete sources (or destinations) on one (protocol, port): everything, or pods and blocks."""

    everything: bool
    pods: frozenset[tuple[str, str]] = frozenset()  # (namespace, name), those of the ip_blocks included
    ip_blocks: tuple[IPBlock, ...] = ()
    rules: tuple[PolicyRule, ...] = ()  # the rules that contribute; empty when not isolated
    itself: tuple[str, str] | None = None  # the pod asked about, which always reaches itself

    def includes_pod(self, pod: Pod) -> bool:
        key = (pod.namespace, pod.name)
        return self.everything or key == self.itself or key in self.pods

    def includes_address(self, address: IPAddress | str) -> bool:
        return self.everything or any(b.contains(address) for b in self.ip_blocks)


class NetworkPolicyEngine:
    """NetworkPolicy semantics over one ClusterView; build once, ask many questions.

    Policies and pods are indexed per namespace, parsed rules and namespace selector results are
    cached, so per-pod questions cost O(policies of its namespace) and class questions work on
    the rules' selectors instead of pairs of pods."""

    def __init__(self, view: ClusterView) -> None:
        self.view = view
        self._policies: dict[str, list[NetworkPolicy]] = defaultdict(list)
        for p in view.network_policies:
            self._policies[p.namespace].append(p)
        for policies in self._policies.values():
            policies.sort(key=lambda p: p.name)
        self._pods: dict[str, list[Pod]] = defaultdict(list)
        for pod in view.pods:
            self._pods[pod.namespace].append(pod)
        names = set(view.namespaces) | set(self._pods) | set(self._policies)
        self._ns_labels: dict[str, dict[str, str]] = {}
        for name in names:
            ns = view.namespaces.get(name)
            self._ns_labels[name] = {**(ns.labels if ns else {}), NAMESPACE_NAME_LABEL: name}
        self._namespaces = tuple(sorted(names))
        self._rules: dict[tuple[int, Direction], tuple[PolicyRule, ...]] = {}
        self._selector_cache: dict[str, frozenset[str]] = {}

    # ---- the view, indexed

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace known: the view's, and those its pods and policies sit in."""
        return self._namespaces

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        labels = self._ns_labels.get(namespace)
        return labels if labels is not None else {NAMESPACE_NAME_LABEL: namespace}

    def policies_in(self, namespace: str) -> list[NetworkPolicy]:
        return self._policies.get(namespace, [])

    def pods_in(self, namespace: str) -> list[Pod]:
        return self._pods.get(namespace, [])

    def rules(self, policy: NetworkPolicy, direction: Direction) -> tuple[PolicyRule, ...]:
        key = (id(policy), direction)
        cached = self._rules.get(key)
        if cached is None:
            cached = self._rules[key] = policy_rules(policy, direction)
        return cached

    def namespaces_matching(self, selector: Mapping | None) -> frozenset[str]:
        """The known namespaces whose labels `selector` matches (None matches none)."""
        if selector is None:
            return frozenset()
        key = json.dumps(selector, sort_keys=True, default=str)
        cached = self._selector_cache.get(key)
        if cached is None:
            cached = self._selector_cache[key] = frozenset(self._namespaces) if key == "{}" else frozenset(
                n for n in self._namespaces if _selects(selector, self._ns_labels[n]))
        return cached

    # ---- selection and isolation

    @staticmethod
    def selects(policy: NetworkPolicy, pod: Pod) -> bool:
        return pod.namespace == policy.namespace and _selects(policy.pod_selector, pod.labels)

    def selected_pods(self, policy: NetworkPolicy) -> list[Pod]:
        return [p for p in self.pods_in(policy.namespace) if _selects(policy.pod_selector, p.labels)]

    def policies_selecting(self, pod: Pod, direction: Direction) -> list[NetworkPolicy]:
        """The policies that isolate `pod` in `direction`."""
        return [p for p in self.policies_in(pod.namespace)
                if direction.value in p.policy_types and _selects(p.pod_selector, pod.labels)]

    def isolated(self, pod: Pod, direction: Direction) -> bool:
        return bool(self.policies_selecting(pod, direction))

    def rules_for(self, pod: Pod, direction: Direction) -> list[PolicyRule]:
        """The rules whose union is what `pod` may receive (send); meaningless when not isolated."""
        return [r for p in self.policies_selecting(pod, direction) for r in self.rules(p, direction)]

    # ---- peers

    def peer_namespaces(self, peer: Peer) -> frozenset[str]:
        if peer.kind in (PeerKind.NONE, PeerKind.IP_BLOCK):
            return frozenset()
        if peer.namespace_selector is None:
            return frozenset({peer.policy_namespace})
        return self.namespaces_matching(peer.namespace_selector)

    def peer_pods(self, peer: Peer) -> list[Pod]:
        """The pods of the view that `peer` matches: by selectors, or by address for an ipBlock."""
        if peer.kind is PeerKind.IP_BLOCK:
            return [p for p in self.view.pods if peer.matches_pod(p, {})]
        return [p for ns in sorted(self.peer_namespaces(peer)) for p in self.pods_in(ns)
                if not p.host_network and peer.matches_pod_labels(p.labels)]

    def peer_classes(self, rule: PolicyRule) -> tuple[PeerClass, ...]:
        if rule.any_peer:
            return (ANY_PEER,)
        return tuple(PeerClass(p.kind, p, self.peer_namespaces(p)) for p in rule.peers)

    def _peer_matches(self, peer: Peer, endpoint: Endpoint) -> bool:
        if isinstance(endpoint, Pod):
            return peer.matches_pod(endpoint, self.namespace_labels(endpoint.namespace))
        return peer.matches_address(endpoint)

    def rule_matches_peer(self, rule: PolicyRule, endpoint: Endpoint) -> bool:
        return rule.any_peer or any(self._peer_matches(p, endpoint) for p in rule.peers)

    # ---- point questions

    def ingress_verdict(self, source: Endpoint, pod: Pod, protocol: str, port: int) -> Verdict:
        """Whether `pod`'s ingress side admits `source` on (protocol, port), and which rules do."""
        if isinstance(source, str):
            source = _as_address(source)
        policies = self.policies_selecting(pod, Direction.INGRESS)
        if not policies:
            return Verdict(True, False)
        if isinstance(source, Pod) and _same_pod(source, pod):
            return Verdict(True, True, (), tuple(policies))  # no rule needed: a pod reaches itself
        rules = tuple(r for p in policies for r in self.rules(p, Direction.INGRESS)
                      if r.port_matches(protocol, port, pod) and self.rule_matches_peer(r, source))
        return Verdict(bool(rules), True, rules, tuple(policies))

    def egress_verdict(self, pod: Pod, destination: Endpoint, protocol: str, port: int) -> Verdict:
        """Whether `pod`'s egress side lets it reach `destination` on (protocol, port). A named port
        resolves against the destination pod; an address declares no names."""
        if isinstance(destination, str):
            destination = _as_address(destination)
        policies = self.policies_selecting(pod, Direction.EGRESS)
        if not policies:
            return Verdict(True, False)
        if isinstance(destination, Pod) and _same_pod(pod, destination):
            return Verdict(True, True, (), tuple(policies))  # no rule needed: a pod reaches itself
        target = destination if isinstance(destination, Pod) else None
        rules = tuple(r for p in policies for r in self.rules(p, Direction.EGRESS)
                      if r.port_matches(protocol, port, target) and self.rule_matches_peer(r, destination))
        return Verdict(bool(rules), True, rules, tuple(policies))

    def admits(self, source: Endpoint, pod: Pod, protocol: str, port: int) -> bool:
        """The ingress side only: what `pod`'s policies admit."""
        return self.ingress_verdict(source, pod, protocol, port).allowed

    def egress_allows(self, pod: Pod, destination: Endpoint, protocol: str, port: int) -> bool:
        return self.egress_verdict(pod, destination, protocol, port).allowed

    def allows(self, source: Endpoint, destination: Endpoint, protocol: str, port: int) -> bool:
        """A connection: the source pod's egress and the destination pod's ingress must both allow
        it (an address end has no policies of its own)."""
        if isinstance(source, Pod) and not self.egress_allows(source, destination, protocol, port):
            return False
        return not isinstance(destination, Pod) or self.admits(source, destination, protocol, port)

    # ---- class questions

    def _admissions(self, pod: Pod, direction: Direction) -> tuple[Admission, ...]:
        policies = self.policies_selecting(pod, direction)
        if not policies:
            return (Admission(None, (ANY_PEER,)),)
        return tuple(Admission(r, self.peer_classes(r)) for p in policies for r in self.rules(p, direction))

    def ingress_admissions(self, pod: Pod) -> tuple[Admission, ...]:
        """Per rule, the source classes admitted into `pod`; one Admission without rule when the pod
        is not isolated for ingress, none at all when it is isolated and no rule admits anything."""
        return self._admissions(pod, Direction.INGRESS)

    def egress_admissions(self, pod: Pod) -> tuple[Admission, ...]:
        return self._admissions(pod, Direction.EGRESS)

    def sources(self, pod: Pod, protocol: str, port: int) -> Reach:
        """Who `pod`'s ingress side admits on (protocol, port); the pod itself always."""
        pods: set[tuple[str, str]] = set()
        blocks: list[IPBlock] = []
        rules: list[PolicyRule] = []
        for admission in self.ingress_admissions(pod):
            rule = admission.rule
            if rule is None:
                return Reach(True)
            if not rule.port_matches(protocol, port, pod):
                continue
            rules.append(rule)
            everything = self._collect(admission.peers, pods, blocks)
            if everything:
                return Reach(True, rules=(rule,))
        return Reach(False, frozenset(pods), tuple(blocks), tuple(rules), (pod.namespace, pod.name))

    def destinations(self, pod: Pod, protocol: str, port: int) -> Reach:
        """What `pod`'s egress side lets it reach on (protocol, port), itself always. A named port
        resolves against each destination pod, so a rule with names admits pods one by one and no
        address."""
        pods: set[tuple[str, str]] = set()
        blocks: list[IPBlock] = []
        rules: list[PolicyRule] = []
        for admission in self.egress_admissions(pod):
            rule = admission.rule
            if rule is None:
                return Reach(True)
            if rule.port_matches(protocol, port, None):  # the port does not depend on the destination
                rules.append(rule)
                if self._collect(admission.peers, pods, blocks):
                    return Reach(True, rules=(rule,))
                continue
            candidates = self.view.pods if rule.any_peer else [
                p for pc in admission.peers if pc.peer is not None for p in self.peer_pods(pc.peer)]
            hits = {(p.namespace, p.name) for p in candidates if rule.port_matches(protocol, port, p)}
            if hits:
                rules.append(rule)
                pods |= hits
        return Reach(False, frozenset(pods), tuple(blocks), tuple(rules), (pod.namespace, pod.name))

    def _collect(self, classes: Iterable[PeerClass], pods: set[tuple[str, str]], blocks: list[IPBlock]) -> bool:
        """Adds the classes' pods and blocks (with the pods whose address a block holds); True when one
        class is everything."""
        for pc in classes:
            if pc.kind is PeerKind.ANY:
                return True
            if pc.kind is PeerKind.IP_BLOCK and pc.ip_block is not None:
                blocks.append(pc.ip_block)
            if pc.peer is not None and pc.kind in (PeerKind.NAMESPACES, PeerKind.PODS, PeerKind.IP_BLOCK):
                pods.update((p.namespace, p.name) for p in self.peer_pods(pc.peer))
        return False


# --------------------------------------------------------------------------------------------
# Other namespaces' pods that some policies can name


@dataclass(frozen=True, slots=True)
class ForeignPodReach:
    """Which pods outside their own namespaces some NetworkPolicies can name: in a namespace a
    namespaceSelector of theirs matches, the pods its podSelector (if any) selects, and, whatever
    its namespace, a pod whose address (status.podIP, its node's for a hostNetwork pod) one of their
    ipBlocks holds. Whatever they say of other namespaces' pods, they say of these only: a view may
    leave the others out (a DNS egress rule to `namespaceSelector: {}` with the kube-dns podSelector
    names the DNS pods, not every pod of the cluster)."""

    ip_blocks: tuple[IPBlock, ...] = ()
    # namespace -> the podSelectors naming its pods; None in the tuple names them all.
    pod_selectors: Mapping[str, tuple[dict | None, ...]] = field(default_factory=dict)

    @property
    def namespaces(self) -> frozenset[str]:
        return frozenset(self.pod_selectors)

    def block_holds(self, pod: Pod) -> bool:
        if not self.ip_blocks:
            return False
        address = pod_address(pod)
        return address is not None and any(b.contains(address) for b in self.ip_blocks)

    def selects(self, pod: Pod) -> bool:
        selectors = self.pod_selectors.get(pod.namespace)
        return selectors is not None and any(s is None or _selects(s, pod.labels) for s in selectors)

    def names(self, pod: Pod) -> bool:
        return self.selects(pod) or self.block_holds(pod)


def peer_pod_test(selector: Mapping | None) -> Callable[[Pod], bool]:
    """Whether a peer's podSelector (None: every pod) selects a pod, as ForeignPodReach.selects does
    within a namespace the peer names."""
    return lambda pod: selector is None or _selects(selector, pod.labels)


def foreign_pod_reach(policies: Iterable[NetworkPolicy],
                      other_namespaces: Mapping[str, Mapping[str, str]]) -> ForeignPodReach:
    """The ForeignPodReach of `policies` (those of one tenant's namespaces), among `other_namespaces`
    (name -> labels). Only the rules that take effect count, and a peer the API server would reject
    names nothing, as in NetworkPolicyEngine."""
    blocks: dict[IPBlock, None] = {}  # in order, once each
    named: dict[str, dict[str, dict | None]] = {}  # namespace -> {selector as text: selector}, once each
    matched: dict[str, list[str]] = {}  # namespaceSelector as text -> the namespaces it matches
    for policy in policies:
        for direction in Direction:
            for rule in policy_rules(policy, direction):
                for peer in rule.peers:
                    if peer.kind is PeerKind.IP_BLOCK and peer.ip_block is not None:
                        blocks[peer.ip_block] = None
                    elif peer.kind in (PeerKind.NAMESPACES, PeerKind.PODS) and peer.namespace_selector is not None:
                        pods = peer.pod_selector if peer.kind is PeerKind.PODS else None
                        # A tenant's namespaces mostly repeat the same peers (its DNS rule, its flows).
                        key = repr(peer.namespace_selector)
                        matching = matched.get(key)
                        if matching is None:
                            # The API server labels each namespace with its name; a manifest may not.
                            matching = matched[key] = [
                                n for n, labels in other_namespaces.items()
                                if _selects(peer.namespace_selector, labels if labels.get(NAMESPACE_NAME_LABEL) == n
                                            else {**labels, NAMESPACE_NAME_LABEL: n})]
                        for n in matching:
                            named.setdefault(n, {})[repr(pods)] = pods
    return ForeignPodReach(tuple(blocks), {n: tuple(selectors.values()) for n, selectors in named.items()})


# --------------------------------------------------------------------------------------------
# One-off questions (build a NetworkPolicyEngine to ask many)


def admits(view: ClusterView, source: Endpoint, pod: Pod, protocol: str, port: int) -> bool:
    """Whether `pod`'s ingress policies admit `source` (a pod or an address) on (protocol, port)."""
    return NetworkPolicyEngine(view).admits(source, pod, protocol, port)


def allows(view: ClusterView, source: Endpoint, destination: Endpoint, protocol: str, port: int) -> bool:
    """Whether both ends' policies allow the connection."""
    return NetworkPolicyEngine(view).allows(source, destination, protocol, port)
