"""NetworkPolicy semantics (sncguard.netpol), on the examples of the Kubernetes NetworkPolicy page.

https://kubernetes.io/docs/concepts/services-networking/network-policies/ - every object is built
as a Kubernetes dict and projected through the view, as the operator and the offline check do.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from sncguard.netpol import (
    NAMESPACE_NAME_LABEL,
    Direction,
    IPBlock,
    NetworkPolicyEngine,
    Peer,
    PeerKind,
    RulePort,
    admits,
    allows,
    internet_covered,
    is_default_deny,
    policy_rules,
    selector_implies,
)
from sncguard.view import ClusterView, Namespace, NetworkPolicy, Pod

# --------------------------------------------------------------------------------------------
# Builders


def ns(name: str, **labels: str) -> Namespace:
    return Namespace.from_obj({"metadata": {"name": name, "labels": labels}})


def pod(namespace: str, name: str, labels: dict[str, str] | None = None,
        ports: list[dict] | None = None, ip: str = "", host_network: bool = False) -> Pod:
    return Pod.from_obj({
        "metadata": {"namespace": namespace, "name": name, "labels": labels or {}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports or []}],
                 **({"hostNetwork": True} if host_network else {})},
        "status": {"phase": "Running", **({"podIP": ip} if ip else {})},
    })


def netpol(namespace: str, name: str, spec: dict[str, Any], labels: dict | None = None) -> NetworkPolicy:
    return NetworkPolicy.from_obj({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                   "metadata": {"namespace": namespace, "name": name, "labels": labels or {}},
                                   "spec": spec})


def view(namespaces: list[Namespace], pods: list[Pod], policies: list[NetworkPolicy]) -> ClusterView:
    return ClusterView(namespaces={n.name: n for n in namespaces}, pods=pods, network_policies=policies,
                       pods_observed=True)


# The test-network-policy example of the documentation, verbatim.
TEST_NETWORK_POLICY = {
    "podSelector": {"matchLabels": {"role": "db"}},
    "policyTypes": ["Ingress", "Egress"],
    "ingress": [{
        "from": [
            {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
            {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
            {"podSelector": {"matchLabels": {"role": "frontend"}}},
        ],
        "ports": [{"protocol": "TCP", "port": 6379}],
    }],
    "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 5978}]}],
}

DEFAULT = ns("default")
MYPROJECT = ns("myproject", project="myproject")
OTHER = ns("other")
DB = pod("default", "db", {"role": "db"})
FRONTEND = pod("default", "frontend", {"role": "frontend"})
BACKEND = pod("default", "backend", {"role": "backend"})
IN_MYPROJECT = pod("myproject", "anything", {"app": "x"})
FRONTEND_ELSEWHERE = pod("other", "frontend", {"role": "frontend"})


@pytest.fixture
def docs_engine() -> NetworkPolicyEngine:
    return NetworkPolicyEngine(view(
        [DEFAULT, MYPROJECT, OTHER], [DB, FRONTEND, BACKEND, IN_MYPROJECT, FRONTEND_ELSEWHERE],
        [netpol("default", "test-network-policy", TEST_NETWORK_POLICY)]))


# --------------------------------------------------------------------------------------------
# The test-network-policy example


class TestDocumentationExample:
    def test_pod_selector_peer_admits_frontend_pods_of_the_policy_namespace(self, docs_engine):
        assert docs_engine.admits(FRONTEND, DB, "TCP", 6379)
        # podSelector alone means the policy's own namespace only.
        assert not docs_engine.admits(FRONTEND_ELSEWHERE, DB, "TCP", 6379)
        assert not docs_engine.admits(BACKEND, DB, "TCP", 6379)

    def test_namespace_selector_peer_admits_every_pod_of_matching_namespaces(self, docs_engine):
        assert docs_engine.admits(IN_MYPROJECT, DB, "TCP", 6379)

    def test_ip_block_with_except(self, docs_engine):
        assert docs_engine.admits("172.17.0.5", DB, "TCP", 6379)
        assert docs_engine.admits(ipaddress.ip_address("172.17.255.1"), DB, "TCP", 6379)
        assert not docs_engine.admits("172.17.1.7", DB, "TCP", 6379)  # the except
        assert not docs_engine.admits("172.18.0.1", DB, "TCP", 6379)
        assert not docs_engine.admits("2001:db8::1", DB, "TCP", 6379)  # another family

    def test_only_the_listed_port_and_protocol(self, docs_engine):
        assert not docs_engine.admits(FRONTEND, DB, "TCP", 6380)
        assert not docs_engine.admits(FRONTEND, DB, "UDP", 6379)

    def test_unselected_pods_are_not_isolated(self, docs_engine):
        # The policy selects role=db only: the others accept everything, from anywhere, on any port.
        assert not docs_engine.isolated(BACKEND, Direction.INGRESS)
        assert docs_engine.admits(FRONTEND_ELSEWHERE, BACKEND, "UDP", 9999)
        assert docs_engine.admits("8.8.8.8", BACKEND, "TCP", 22)

    def test_egress_to_ip_block_on_5978(self, docs_engine):
        assert docs_engine.egress_allows(DB, "10.0.0.9", "TCP", 5978)
        assert not docs_engine.egress_allows(DB, "10.0.1.9", "TCP", 5978)
        assert not docs_engine.egress_allows(DB, "10.0.0.9", "TCP", 5979)
        # The egress rule lists an ipBlock only: no pod destination.
        assert not docs_engine.egress_allows(DB, FRONTEND, "TCP", 5978)
        # Frontend is not isolated for egress.
        assert docs_engine.egress_allows(FRONTEND, "1.1.1.1", "UDP", 53)

    def test_a_connection_needs_both_ends(self, docs_engine):
        # Frontend may send anything (not isolated for egress), db admits it on 6379.
        assert docs_engine.allows(FRONTEND, DB, "TCP", 6379)
        # db may not send to frontend: db is isolated for egress and only reaches 10.0.0.0/24.
        assert not docs_engine.allows(DB, FRONTEND, "TCP", 80)
        assert docs_engine.allows("172.17.0.1", DB, "TCP", 6379)
        assert not docs_engine.allows(DB, "10.0.0.1", "TCP", 6379)

    def test_verdict_names_the_admitting_rule(self, docs_engine):
        verdict = docs_engine.ingress_verdict(FRONTEND, DB, "TCP", 6379)
        assert verdict.allowed and verdict.isolated
        assert [r.cite for r in verdict.rules] == ["NetworkPolicy default/test-network-policy spec.ingress[0]"]
        denied = docs_engine.ingress_verdict(BACKEND, DB, "TCP", 6379)
        assert not denied.allowed and denied.isolated and denied.rules == ()
        assert [p.name for p in denied.policies] == ["test-network-policy"]

    def test_admitted_source_classes(self, docs_engine):
        (admission,) = docs_engine.ingress_admissions(DB)
        assert admission.rule is not None and admission.rule.field == "spec.ingress[0]"
        kinds = [pc.kind for pc in admission.peers]
        assert kinds == [PeerKind.IP_BLOCK, PeerKind.NAMESPACES, PeerKind.PODS]
        block, namespaces, pods = admission.peers
        assert str(block.ip_block) == "172.17.0.0/16 except 172.17.1.0/24"
        assert namespaces.namespaces == {"myproject"}
        assert pods.namespaces == {"default"} and pods.pod_selector == {"matchLabels": {"role": "frontend"}}
        assert [str(p) for p in admission.ports] == ["TCP/6379"]

    def test_unisolated_pod_admits_any(self, docs_engine):
        (admission,) = docs_engine.ingress_admissions(BACKEND)
        assert admission.rule is None and admission.peers[0].kind is PeerKind.ANY

    def test_sources_and_destinations(self, docs_engine):
        reach = docs_engine.sources(DB, "TCP", 6379)
        assert not reach.everything
        assert reach.pods == {("default", "frontend"), ("myproject", "anything")}
        assert [str(b) for b in reach.ip_blocks] == ["172.17.0.0/16 except 172.17.1.0/24"]
        assert reach.includes_address("172.17.3.3") and not reach.includes_address("172.17.1.3")
        assert docs_engine.sources(DB, "TCP", 80).pods == frozenset()
        assert docs_engine.sources(BACKEND, "TCP", 80).everything
        out = docs_engine.destinations(DB, "TCP", 5978)
        assert not out.everything and out.pods == frozenset() and [str(b) for b in out.ip_blocks] == ["10.0.0.0/24"]
        assert docs_engine.destinations(FRONTEND, "TCP", 1).everything

    def test_one_off_functions(self):
        v = view([DEFAULT, MYPROJECT], [DB, FRONTEND], [netpol("default", "test-network-policy", TEST_NETWORK_POLICY)])
        assert admits(v, FRONTEND, DB, "TCP", 6379)
        assert not admits(v, "172.17.1.1", DB, "TCP", 6379)
        assert allows(v, FRONTEND, DB, "TCP", 6379)
        assert not allows(v, DB, FRONTEND, "TCP", 6379)


# --------------------------------------------------------------------------------------------
# Default policies


class TestDefaultPolicies:
    def test_default_deny_ingress(self):
        deny = netpol("default", "default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})
        e = NetworkPolicyEngine(view([DEFAULT], [DB, FRONTEND], [deny]))
        assert e.isolated(DB, Direction.INGRESS) and e.isolated(FRONTEND, Direction.INGRESS)
        assert not e.admits(FRONTEND, DB, "TCP", 6379)
        assert not e.admits("10.0.0.1", DB, "TCP", 6379)
        assert e.ingress_admissions(DB) == ()  # isolated, nothing admitted
        # Egress untouched.
        assert not e.isolated(DB, Direction.EGRESS) and e.egress_allows(DB, "1.2.3.4", "TCP", 443)
        assert is_default_deny(deny, Direction.INGRESS) and not is_default_deny(deny, Direction.EGRESS)

    def test_absent_policy_types_default_to_ingress(self):
        # No policyTypes, no egress rules: the API server sets policyTypes [Ingress].
        deny = netpol("default", "deny", {"podSelector": {}})
        assert deny.policy_types == ("Ingress",)
        e = NetworkPolicyEngine(view([DEFAULT], [DB, FRONTEND], [deny]))
        assert not e.admits(FRONTEND, DB, "TCP", 80)
        assert e.egress_allows(DB, FRONTEND, "TCP", 80)

    def test_absent_policy_types_with_egress_rules_isolate_both(self):
        p = netpol("default", "p", {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]})
        assert p.policy_types == ("Ingress", "Egress")
        e = NetworkPolicyEngine(view([DEFAULT], [DB], [p]))
        assert not e.admits("10.0.0.1", DB, "TCP", 80)
        assert e.egress_allows(DB, "10.1.2.3", "UDP", 5)
        assert not e.egress_allows(DB, "11.0.0.1", "UDP", 5)

    def test_allow_all_ingress(self):
        deny = netpol("default", "default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})
        allow = netpol("default", "allow-all-ingress",
                       {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]})
        e = NetworkPolicyEngine(view([DEFAULT, OTHER], [DB, FRONTEND_ELSEWHERE], [deny, allow]))
        assert e.admits(FRONTEND_ELSEWHERE, DB, "UDP", 1)
        assert e.admits("203.0.113.9", DB, "SCTP", 9)
        assert e.sources(DB, "TCP", 22).everything
        (admission,) = e.ingress_admissions(DB)  # the deny contributes no rule
        assert admission.rule is not None and admission.rule.policy.name == "allow-all-ingress"
        assert admission.rule.any_peer and admission.rule.all_ports
        assert not is_default_deny(allow, Direction.INGRESS)

    def test_default_deny_egress_and_allow_all_egress(self):
        deny = netpol("default", "default-deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
        e = NetworkPolicyEngine(view([DEFAULT], [DB, FRONTEND], [deny]))
        assert not e.egress_allows(DB, FRONTEND, "TCP", 80)
        assert not e.egress_allows(DB, "8.8.8.8", "UDP", 53)
        assert e.admits(FRONTEND, DB, "TCP", 80)  # ingress not isolated...
        assert not e.allows(FRONTEND, DB, "TCP", 80)  # ...but the sender may not send
        allow = netpol("default", "allow-all-egress", {"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]})
        e = NetworkPolicyEngine(view([DEFAULT], [DB, FRONTEND], [deny, allow]))
        assert e.egress_allows(DB, FRONTEND, "TCP", 80) and e.egress_allows(DB, "8.8.8.8", "UDP", 53)
        assert e.destinations(DB, "UDP", 53).everything

    def test_default_deny_all(self):
        deny = netpol("default", "default-deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
        assert is_default_deny(deny, Direction.INGRESS) and is_default_deny(deny, Direction.EGRESS)
        e = NetworkPolicyEngine(view([DEFAULT], [DB, FRONTEND], [deny]))
        assert not e.allows(FRONTEND, DB, "TCP", 80)
        assert not e.egress_allows(DB, "8.8.8.8", "UDP", 53)

    def test_direction_not_in_policy_types_ignores_its_rules(self):
        # Ingress rules in a policy whose policyTypes is [Egress] are ignored.
        p = netpol("default", "p", {"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}], "egress": []})
        assert policy_rules(p, Direction.INGRESS) == ()
        e = NetworkPolicyEngine(view([DEFAULT], [DB], [p]))
        assert not e.isolated(DB, Direction.INGRESS)
        assert not e.egress_allows(DB, "1.1.1.1", "TCP", 80)

    def test_policies_of_other_namespaces_do_not_select(self):
        deny = netpol("other", "deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
        e = NetworkPolicyEngine(view([DEFAULT, OTHER], [DB], [deny]))
        assert not e.isolated(DB, Direction.INGRESS)

    def test_union_of_policies(self):
        a = netpol("default", "a", {"podSelector": {"matchLabels": {"role": "db"}}, "policyTypes": ["Ingress"],
                                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}]}]})
        b = netpol("default", "b", {"podSelector": {}, "policyTypes": ["Ingress"],
                                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "backend"}}}],
                                                 "ports": [{"port": 5432}]}]})
        e = NetworkPolicyEngine(view([DEFAULT], [DB, FRONTEND, BACKEND], [a, b]))
        assert e.admits(FRONTEND, DB, "UDP", 1)
        assert e.admits(BACKEND, DB, "TCP", 5432)
        assert not e.admits(BACKEND, DB, "TCP", 5433)
        assert [r.policy.name for r in e.rules_for(DB, Direction.INGRESS)] == ["a", "b"]
        # Frontend is selected by b only.
        assert not e.admits(BACKEND, FRONTEND, "TCP", 80)


# --------------------------------------------------------------------------------------------
# Peers


ALICE = ns("alice", user="alice")
BOB = ns("bob", user="bob")
CLIENT_ALICE = pod("alice", "client", {"role": "client"})
OTHER_ALICE = pod("alice", "other", {"role": "server"})
CLIENT_BOB = pod("bob", "client", {"role": "client"})
CLIENT_HERE = pod("default", "client", {"role": "client"})


class TestPeers:
    def engine(self, peers: list[dict]) -> NetworkPolicyEngine:
        p = netpol("default", "p", {"podSelector": {"matchLabels": {"role": "db"}}, "policyTypes": ["Ingress"],
                                    "ingress": [{"from": peers}]})
        return NetworkPolicyEngine(view([DEFAULT, ALICE, BOB],
                                        [DB, CLIENT_ALICE, OTHER_ALICE, CLIENT_BOB, CLIENT_HERE], [p]))

    def test_namespace_and_pod_selector_in_one_peer_is_and(self):
        e = self.engine([{"namespaceSelector": {"matchLabels": {"user": "alice"}},
                          "podSelector": {"matchLabels": {"role": "client"}}}])
        assert e.admits(CLIENT_ALICE, DB, "TCP", 1)
        assert not e.admits(OTHER_ALICE, DB, "TCP", 1)
        assert not e.admits(CLIENT_BOB, DB, "TCP", 1)
        assert not e.admits(CLIENT_HERE, DB, "TCP", 1)
        assert e.sources(DB, "TCP", 1).pods == {("alice", "client")}

    def test_two_peers_are_or(self):
        e = self.engine([{"namespaceSelector": {"matchLabels": {"user": "alice"}}},
                         {"podSelector": {"matchLabels": {"role": "client"}}}])
        assert e.admits(CLIENT_ALICE, DB, "TCP", 1)
        assert e.admits(OTHER_ALICE, DB, "TCP", 1)  # any pod of alice
        assert e.admits(CLIENT_HERE, DB, "TCP", 1)  # client of the policy's namespace
        assert not e.admits(CLIENT_BOB, DB, "TCP", 1)
        assert e.sources(DB, "TCP", 1).pods == {("alice", "client"), ("alice", "other"), ("default", "client")}

    def test_empty_namespace_selector_matches_all_namespaces(self):
        e = self.engine([{"namespaceSelector": {}}])
        assert e.admits(CLIENT_BOB, DB, "TCP", 1) and e.admits(CLIENT_HERE, DB, "TCP", 1)
        assert not e.admits("10.0.0.1", DB, "TCP", 1)  # pods only, not addresses
        (admission,) = e.ingress_admissions(DB)
        assert admission.peers[0].kind is PeerKind.NAMESPACES
        assert admission.peers[0].namespaces == {"default", "alice", "bob"}

    def test_empty_pod_selector_matches_all_pods_of_the_policy_namespace(self):
        e = self.engine([{"podSelector": {}}])
        assert e.admits(CLIENT_HERE, DB, "TCP", 1)
        assert not e.admits(CLIENT_ALICE, DB, "TCP", 1)
        assert e.ingress_admissions(DB)[0].peers[0].namespaces == {"default"}

    def test_namespace_by_name_label_set_by_the_api_server(self):
        # The manifests of alice and bob carry no kubernetes.io/metadata.name; the API server sets it.
        e = self.engine([{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "bob"}}}])
        assert e.admits(CLIENT_BOB, DB, "TCP", 1) and not e.admits(CLIENT_ALICE, DB, "TCP", 1)

    def test_match_expressions(self):
        e = self.engine([{"namespaceSelector": {"matchExpressions": [
            {"key": "user", "operator": "NotIn", "values": ["alice"]}]}}])
        assert e.admits(CLIENT_BOB, DB, "TCP", 1) and e.admits(CLIENT_HERE, DB, "TCP", 1)
        assert not e.admits(CLIENT_ALICE, DB, "TCP", 1)

    @pytest.mark.parametrize("peer", [
        {},  # no selector and no ipBlock: rejected by the API server
        {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},  # ipBlock is exclusive
        {"ipBlock": {"cidr": "not-a-cidr"}},
    ])
    def test_invalid_peers_match_nothing(self, peer):
        e = self.engine([peer])
        assert not e.admits(CLIENT_HERE, DB, "TCP", 1)
        assert not e.admits("10.0.0.1", DB, "TCP", 1)
        assert Peer.parse(0, peer, "default").kind is PeerKind.NONE

    def test_empty_from_list_is_any_source(self):
        e = self.engine([])
        assert e.admits(CLIENT_BOB, DB, "TCP", 1) and e.admits("198.51.100.1", DB, "UDP", 2)

    def test_ipv6_block(self):
        e = self.engine([{"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]}}])
        assert e.admits("2001:db8:2::1", DB, "TCP", 1)
        assert not e.admits("2001:db8:1::1", DB, "TCP", 1)
        assert not e.admits("2001:db9::1", DB, "TCP", 1)
        assert not e.admits("10.0.0.1", DB, "TCP", 1)
        assert not e.admits(CLIENT_HERE, DB, "TCP", 1)  # no address yet: only a selector could match it


# --------------------------------------------------------------------------------------------
# Pod addresses: an ipBlock matches the pods whose IP it contains


IN_BLOCK = pod("bob", "in-block", {"role": "client"}, ip="10.1.2.3")
EXCEPTED = pod("bob", "excepted", {"role": "client"}, ip="10.9.0.1")
OUTSIDE = pod("bob", "outside", {"role": "client"}, ip="192.168.0.1")
NO_IP = pod("bob", "no-ip", {"role": "client"})
BAD_IP = pod("bob", "bad-ip", {"role": "client"}, ip="not-an-ip")
V6 = pod("bob", "v6", {"role": "client"}, ip="fd00::5")
AGENT = pod("alice", "agent", {"role": "client"}, ip="10.2.0.1", host_network=True)  # its node's address
TARGET = pod("default", "target", {"role": "db"}, [{"containerPort": 8443, "name": "https"}], ip="10.3.0.7")
BLOCK = {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}


class TestPodAddresses:
    def engine(self, ingress: list[dict] | None = None, egress: list[dict] | None = None) -> NetworkPolicyEngine:
        policies = []
        if ingress is not None:
            policies.append(netpol("default", "in", {"podSelector": {"matchLabels": {"role": "db"}},
                                                     "policyTypes": ["Ingress"], "ingress": ingress}))
        if egress is not None:
            policies.append(netpol("bob", "out", {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress}))
        return NetworkPolicyEngine(view([DEFAULT, ALICE, BOB],
                                        [TARGET, IN_BLOCK, EXCEPTED, OUTSIDE, NO_IP, BAD_IP, V6, AGENT], policies))

    def test_ip_block_admits_the_pods_whose_address_it_contains(self):
        e = self.engine([{"from": [BLOCK]}])
        assert e.admits(IN_BLOCK, TARGET, "TCP", 1)
        assert not e.admits(EXCEPTED, TARGET, "TCP", 1)
        assert not e.admits(OUTSIDE, TARGET, "TCP", 1)
        assert not e.admits(NO_IP, TARGET, "TCP", 1)  # no address yet
        assert not e.admits(BAD_IP, TARGET, "TCP", 1)  # an unreadable address matches no block
        assert not e.admits(V6, TARGET, "TCP", 1)
        assert e.ingress_verdict(IN_BLOCK, TARGET, "TCP", 1).rules[0].field == "spec.ingress[0]"
        reach = e.sources(TARGET, "TCP", 1)
        assert reach.pods == {("bob", "in-block"), ("alice", "agent"), ("default", "target")}
        assert reach.includes_pod(IN_BLOCK) and not reach.includes_pod(EXCEPTED)

    def test_ip_block_on_egress_reaches_the_pods_whose_address_it_contains(self):
        e = self.engine(egress=[{"to": [{"ipBlock": {"cidr": "10.3.0.0/16"}}], "ports": [{"port": 8443}]}])
        assert e.egress_allows(IN_BLOCK, TARGET, "TCP", 8443)
        assert not e.egress_allows(IN_BLOCK, OUTSIDE, "TCP", 8443)
        assert e.allows(IN_BLOCK, TARGET, "TCP", 8443)
        assert e.destinations(IN_BLOCK, "TCP", 8443).pods == {("default", "target")}
        named = self.engine(egress=[{"to": [{"ipBlock": {"cidr": "10.3.0.0/16"}}], "ports": [{"port": "https"}]}])
        assert named.egress_allows(IN_BLOCK, TARGET, "TCP", 8443)
        assert named.destinations(IN_BLOCK, "TCP", 8443).pods == {("default", "target")}

    def test_host_network_pods_are_node_traffic(self):
        # Selectors never match a hostNetwork pod, even one whose labels and namespace fit...
        for peer in ({"podSelector": {"matchLabels": {"role": "client"}}, "namespaceSelector": {}},
                     {"namespaceSelector": {"matchLabels": {"user": "alice"}}}):
            e = self.engine([{"from": [peer]}])
            assert not e.admits(AGENT, TARGET, "TCP", 1)
            assert not e.sources(TARGET, "TCP", 1).includes_pod(AGENT)
        # ...an ipBlock holding its node's address does.
        assert self.engine([{"from": [BLOCK]}]).admits(AGENT, TARGET, "TCP", 1)
        # The same on egress: a selector does not reach it, its node's address does.
        e = self.engine(egress=[{"to": [{"namespaceSelector": {}}]}])
        assert not e.egress_allows(IN_BLOCK, AGENT, "TCP", 1) and e.egress_allows(IN_BLOCK, TARGET, "TCP", 1)
        assert ("alice", "agent") not in e.destinations(IN_BLOCK, "TCP", 1).pods
        assert self.engine(egress=[{"to": [BLOCK]}]).egress_allows(IN_BLOCK, AGENT, "TCP", 1)

    def test_a_pod_always_reaches_itself(self):
        deny = netpol("default", "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
        e = NetworkPolicyEngine(view([DEFAULT], [TARGET, DB], [deny]))
        assert e.admits(TARGET, TARGET, "TCP", 8443) and e.egress_allows(TARGET, TARGET, "UDP", 9)
        assert e.allows(TARGET, TARGET, "TCP", 1)
        verdict = e.ingress_verdict(TARGET, TARGET, "TCP", 1)
        assert verdict.allowed and verdict.isolated and verdict.rules == ()
        assert not e.allows(DB, TARGET, "TCP", 1)
        assert e.sources(TARGET, "TCP", 1).includes_pod(TARGET)
        assert not e.sources(TARGET, "TCP", 1).includes_pod(DB)
        assert e.destinations(TARGET, "TCP", 1).includes_pod(TARGET)


class TestIPBlock:
    def test_whole_internet(self):
        assert IPBlock.parse({"cidr": "0.0.0.0/0"}).everything
        assert IPBlock.parse({"cidr": "::/0"}).whole_internet
        # Carving out private space still leaves the whole Internet.
        assert IPBlock.parse({"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "192.168.0.0/16"]}).whole_internet
        assert not IPBlock.parse({"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}).everything
        # Carving out public space does not.
        assert not IPBlock.parse({"cidr": "0.0.0.0/0", "except": ["0.0.0.0/1"]}).whole_internet
        assert not IPBlock.parse({"cidr": "172.17.0.0/16"}).whole_internet

    def test_ranges_that_together_cover_the_internet(self):
        def nets(*texts: str) -> list:
            return [ipaddress.ip_network(t) for t in texts]
        assert internet_covered(nets("0.0.0.0/1", "128.0.0.0/1")) == (4,)
        assert internet_covered(nets("::/1", "8000::/1", "0.0.0.0/0")) == (4, 6)
        # What is not the public Internet need not be listed.
        assert internet_covered(nets("0.0.0.0/5", "8.0.0.0/7", "11.0.0.0/8", "12.0.0.0/6", "16.0.0.0/4",
                                     "32.0.0.0/3", "64.0.0.0/2", "128.0.0.0/1")) == (4,)
        assert internet_covered(nets("0.0.0.0/1", "128.0.0.0/2", "8000::/1")) == ()
        assert internet_covered(nets("10.0.0.0/8", "192.168.0.0/16", "fc00::/7")) == ()
        assert internet_covered([]) == ()

    def test_within_and_host_bits(self):
        block = IPBlock.parse({"cidr": "10.1.2.3/16"})  # host bits set: the network counts
        assert str(block) == "10.1.0.0/16"
        assert block.within(ipaddress.ip_network("10.0.0.0/8"))
        assert not block.within(ipaddress.ip_network("10.1.0.0/24"))
        assert not block.within(ipaddress.ip_network("::/0"))

    def test_invalid(self):
        with pytest.raises(ValueError):
            IPBlock.parse({"cidr": "300.0.0.0/8"})


# --------------------------------------------------------------------------------------------
# Ports


WEB = pod("default", "web", {"app": "web"}, [{"containerPort": 8443, "name": "https"},
                                            {"containerPort": 5353, "name": "dns", "protocol": "UDP"}])
PLAIN = pod("default", "plain", {"app": "web"}, [{"containerPort": 8080, "name": "http"}])


class TestPorts:
    def engine(self, ports: list[dict], direction: str = "Ingress") -> NetworkPolicyEngine:
        rule = {"ports": ports}
        spec = {"podSelector": {"matchLabels": {"app": "web"}} if direction == "Ingress" else {},
                "policyTypes": [direction], direction.lower(): [rule]}
        return NetworkPolicyEngine(view([DEFAULT], [WEB, PLAIN, CLIENT_HERE], [netpol("default", "p", spec)]))

    def test_protocol_defaults_to_tcp(self):
        e = self.engine([{"port": 8443}])
        assert e.admits(CLIENT_HERE, WEB, "TCP", 8443)
        assert e.admits(CLIENT_HERE, WEB, "tcp", 8443)
        assert not e.admits(CLIENT_HERE, WEB, "UDP", 8443)

    def test_end_port_range_of_the_documentation(self):
        e = self.engine([{"protocol": "TCP", "port": 32000, "endPort": 32768}])
        for port, expected in ((31999, False), (32000, True), (32500, True), (32768, True), (32769, False)):
            assert e.admits(CLIENT_HERE, WEB, "TCP", port) is expected

    def test_multi_port_egress_of_the_documentation(self):
        spec = {"podSelector": {"matchLabels": {"role": "db"}}, "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                            "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}]}
        e = NetworkPolicyEngine(view([DEFAULT], [DB], [netpol("default", "multi-port-egress", spec)]))
        assert e.egress_allows(DB, "10.0.0.1", "TCP", 32000)
        assert e.egress_allows(DB, "10.0.0.1", "TCP", 32768)
        assert not e.egress_allows(DB, "10.0.0.1", "TCP", 32769)
        assert not e.egress_allows(DB, "10.0.1.1", "TCP", 32001)

    def test_named_port_resolves_against_the_selected_pod(self):
        e = self.engine([{"port": "https"}])
        assert e.admits(CLIENT_HERE, WEB, "TCP", 8443)
        assert not e.admits(CLIENT_HERE, WEB, "TCP", 8080)
        # PLAIN is selected but declares no "https": the entry matches nothing there.
        assert not e.admits(CLIENT_HERE, PLAIN, "TCP", 8443)
        assert not e.admits(CLIENT_HERE, PLAIN, "TCP", 8080)

    def test_named_port_needs_the_protocol(self):
        assert not self.engine([{"port": "dns"}]).admits(CLIENT_HERE, WEB, "UDP", 5353)  # TCP by default
        assert self.engine([{"port": "dns", "protocol": "UDP"}]).admits(CLIENT_HERE, WEB, "UDP", 5353)

    def test_protocol_without_port_is_every_port_of_it(self):
        e = self.engine([{"protocol": "UDP"}])
        assert e.admits(CLIENT_HERE, WEB, "UDP", 1) and e.admits(CLIENT_HERE, WEB, "UDP", 65535)
        assert not e.admits(CLIENT_HERE, WEB, "TCP", 1)

    def test_no_ports_is_every_port_and_protocol(self):
        e = self.engine([])
        assert e.admits(CLIENT_HERE, WEB, "SCTP", 7) and e.admits(CLIENT_HERE, WEB, "TCP", 65535)

    def test_named_port_on_egress_resolves_against_the_peer_pod(self):
        e = self.engine([{"port": "https"}], direction="Egress")
        assert e.egress_allows(CLIENT_HERE, WEB, "TCP", 8443)
        assert not e.egress_allows(CLIENT_HERE, PLAIN, "TCP", 8443)
        assert not e.egress_allows(CLIENT_HERE, "1.2.3.4", "TCP", 8443)  # an address declares no names
        reach = e.destinations(CLIENT_HERE, "TCP", 8443)
        assert not reach.everything and reach.pods == {("default", "web")} and reach.ip_blocks == ()

    def test_rule_port_text(self):
        assert str(RulePort.parse({"port": 22})) == "TCP/22"
        assert str(RulePort.parse({"protocol": "UDP", "port": 1, "endPort": 9})) == "UDP/1-9"
        assert str(RulePort.parse({"port": "https"})) == "TCP/https"
        assert str(RulePort.parse({"protocol": "SCTP"})) == "SCTP/*"
        assert RulePort.parse({"port": "80"}).port == 80


# --------------------------------------------------------------------------------------------
# Selector implication


class TestSelectorImplies:
    @pytest.mark.parametrize(("a", "b", "expected"), [
        ({"matchLabels": {"app": "api", "tier": "x"}}, {"matchLabels": {"app": "api"}}, True),
        ({"matchLabels": {"app": "api"}}, {"matchLabels": {"app": "api", "tier": "x"}}, False),
        ({"matchLabels": {"app": "web"}}, {"matchLabels": {"app": "api"}}, False),
        ({}, {"matchLabels": {"app": "api"}}, False),
        ({"matchLabels": {"app": "api"}}, {}, True),
        ({"matchLabels": {"app": "api"}}, None, True),
        (None, {"matchLabels": {"app": "api"}}, False),
        ({"matchLabels": {"app": "api"}}, {"matchExpressions": [{"key": "app", "operator": "In",
                                                                 "values": ["api", "web"]}]}, True),
        ({"matchLabels": {"app": "api"}}, {"matchExpressions": [{"key": "app", "operator": "Exists"}]}, True),
        ({"matchLabels": {"app": "api"}}, {"matchExpressions": [{"key": "app", "operator": "NotIn",
                                                                 "values": ["web"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api", "web"]}]},
         {"matchLabels": {"app": "api"}}, False),
        ({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]},
         {"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["1"]}]}, True),
    ])
    def test_cases(self, a, b, expected):
        assert selector_implies(a, b) is expected


class TestScale:
    def test_hundred_namespaces_thousand_pods_five_hundred_policies(self):
        namespaces = [ns(f"t{i}", tenant="acme", zone="lan" if i % 2 else "dmz") for i in range(100)]
        pods = [pod(f"t{i % 100}", f"p{i}", {"app": f"a{i % 7}"}, [{"containerPort": 8080, "name": "http"}])
                for i in range(1000)]
        policies = []
        for i in range(500):
            policies.append(netpol(f"t{i % 100}", f"np{i}", {
                "podSelector": {"matchLabels": {"app": f"a{i % 7}"}}, "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"zone": "dmz"}},
                                       "podSelector": {"matchLabels": {"app": "a1"}}}],
                             "ports": [{"port": "http"}]}],
                "egress": [{"to": [{"namespaceSelector": {}}]}]}))
        e = NetworkPolicyEngine(view(namespaces, pods, policies))
        total = sum(len(e.sources(p, "TCP", 8080).pods) for p in pods)
        assert total > 0
        assert all(isinstance(e.ingress_admissions(p), tuple) for p in pods)
