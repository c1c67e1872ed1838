"""Enforce mode for TenantPolicy networks: the NetworkPolicies sncguard owns (plans.tenantpolicy_network)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from sncguard.api.tenantpolicy import TenantPolicySpec
from sncguard.findings import Result
from sncguard.netpol import NetworkPolicyEngine
from sncguard.plans.tenantpolicy_network import (
    ALLOW_DNS,
    DEFAULT_DENY,
    TENANT_POLICY_LABEL,
    _ip_block,
    flow_policy_names,
    network_plan,
    stale_owned,
    tenant_policy_label_value,
)
from sncguard.rules.network import evaluate_network
from sncguard.view import ClusterView, Namespace, NetworkPolicy, Pod

NAME, UID = "acme", "0b7e6c1e-1111-2222-3333-444455556666"
TENANT = ["acme-web", "acme-api", "acme-db"]
ZONES = {"acme-web": "dmz", "acme-api": "lan", "acme-db": "lan"}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

WEB_TO_API = {"name": "web-to-api", "from": {"zone": "dmz"},
              "to": {"zone": "lan", "podSelector": {"matchLabels": {"app": "api"}}},
              "ports": [{"protocol": "TCP", "port": 8443}]}
PARTNER = {"name": "partner", "from": {"cidr": "203.0.113.7/24"}, "to": {"zone": "dmz"},
           "ports": [{"port": 30000, "endPort": 30010}]}
ROUTER = {"name": "router", "from": {"namespaceSelector": {"matchLabels": {
    "network.openshift.io/policy-group": "ingress"}}}, "to": {"zone": "dmz"}}
TO_INTERNET = {"name": "updates", "from": {"zone": "lan", "podSelector": {"matchLabels": {"app": "api"}}},
               "to": {"cidr": "198.51.100.0/24"}, "ports": [{"port": 443}]}


def spec(flows: list[dict] | None = None, zones: dict | None = None) -> TenantPolicySpec:
    return TenantPolicySpec.model_validate({
        "tenant": "acme",
        "namespaceSelector": {"matchLabels": {"sncguard.io/tenant": "acme"}},
        "zones": zones if zones is not None else {"dmz": {"matchLabels": {"sncguard.io/zone": "dmz"}},
                                                  "lan": {"matchLabels": {"sncguard.io/zone": "lan"}},
                                                  "admin": {"matchLabels": {"sncguard.io/zone": "admin"}}},
        "flows": flows or [],
    })


def ns(name: str, **labels: str) -> Namespace:
    return Namespace.from_obj({"metadata": {"name": name, "labels": labels}})


VIEW = ClusterView(namespaces={n.name: n for n in [
    ns("acme-web", **{"sncguard.io/tenant": "acme", "sncguard.io/zone": "dmz"}),
    ns("acme-api", **{"sncguard.io/tenant": "acme", "sncguard.io/zone": "lan"}),
    ns("acme-db", **{"sncguard.io/tenant": "acme", "sncguard.io/zone": "lan"}),
    ns("openshift-ingress", **{"network.openshift.io/policy-group": "ingress"}),
    ns("openshift-dns"),
]})


def plan(flows: list[dict] | None = None, namespaces: list[str] | None = None) -> list[dict[str, Any]]:
    return network_plan(NAME, UID, spec(flows), namespaces or TENANT, ZONES, VIEW)


def keyed(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects}


def pod(namespace: str, name: str, labels: dict, ports: list[dict] | None = None) -> Pod:
    return Pod.from_obj({"metadata": {"namespace": namespace, "name": name, "labels": labels},
                         "spec": {"nodeName": "n", "containers": [{"name": "c", "ports": ports or []}]},
                         "status": {"phase": "Running"}})


def owned(namespace: str, name: str, policy: str = NAME, uid: str = UID, managed: bool = True) -> NetworkPolicy:
    labels = {TENANT_POLICY_LABEL: policy}
    if managed:
        labels["app.kubernetes.io/managed-by"] = "sncguard"
    return NetworkPolicy.from_obj({"metadata": {"namespace": namespace, "name": name, "labels": labels,
                                                "ownerReferences": [{"uid": uid}]},
                                   "spec": {"podSelector": {}}})


class TestShape:
    def test_every_namespace_gets_default_deny_and_dns(self):
        objects = plan()
        assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects] == [
            (n, name) for n in sorted(TENANT) for name in (DEFAULT_DENY, ALLOW_DNS)]
        deny = keyed(objects)[("acme-web", DEFAULT_DENY)]
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}

    def test_labels_and_owner_reference(self):
        for o in plan([WEB_TO_API, PARTNER, ROUTER, TO_INTERNET]):
            assert o["apiVersion"] == "networking.k8s.io/v1" and o["kind"] == "NetworkPolicy"
            meta = o["metadata"]
            assert meta["labels"] == {"app.kubernetes.io/managed-by": "sncguard", TENANT_POLICY_LABEL: NAME}
            assert meta["ownerReferences"] == [{"apiVersion": "sncguard.io/v1alpha1", "kind": "TenantPolicy",
                                                "name": NAME, "uid": UID, "controller": True,
                                                "blockOwnerDeletion": False}]
            assert len(meta["name"]) <= 253 and DNS_SUBDOMAIN.match(meta["name"])

    def test_allow_dns(self):
        dns = keyed(plan())[("acme-api", ALLOW_DNS)]["spec"]
        assert dns["podSelector"] == {} and dns["policyTypes"] == ["Egress"]
        (rule,) = dns["egress"]
        assert rule["to"] == [
            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}},
            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"dns.operator.openshift.io/daemonset-dns":
                                                                      "default"}}}]
        assert sorted((p["protocol"], p["port"]) for p in rule["ports"]) == [
            ("TCP", 53), ("TCP", 5353), ("UDP", 53), ("UDP", 5353)]

    def test_only_tenant_namespaces(self):
        assert {o["metadata"]["namespace"] for o in plan([WEB_TO_API, ROUTER], ["acme-web"])} == {"acme-web"}


class TestFlows:
    def test_flow_between_zones(self):
        objects = keyed(plan([WEB_TO_API]))
        for dst in ("acme-api", "acme-db"):
            ingress = objects[(dst, "sncguard-flow-web-to-api")]["spec"]
            assert ingress == {
                "podSelector": {"matchLabels": {"app": "api"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["acme-web"]}]}}],
                    "ports": [{"protocol": "TCP", "port": 8443}]}],
            }
        egress = objects[("acme-web", "sncguard-flow-web-to-api-egress")]["spec"]
        assert egress == {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["acme-api", "acme-db"]}]},
                "podSelector": {"matchLabels": {"app": "api"}}}],
                "ports": [{"protocol": "TCP", "port": 8443}]}],
        }
        assert ("acme-web", "sncguard-flow-web-to-api") not in objects
        assert ("acme-api", "sncguard-flow-web-to-api-egress") not in objects

    def test_flow_from_a_cidr(self):
        objects = keyed(plan([PARTNER]))
        ingress = objects[("acme-web", "sncguard-flow-partner")]["spec"]
        assert ingress["podSelector"] == {}
        assert ingress["ingress"] == [{"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
                                       "ports": [{"protocol": "TCP", "port": 30000, "endPort": 30010}]}]
        assert not [k for k in objects if k[1].startswith("sncguard-flow-partner-egress")]

    def test_flow_from_a_platform_namespace_selector(self):
        objects = keyed(plan([ROUTER]))
        ingress = objects[("acme-web", "sncguard-flow-router")]["spec"]
        assert ingress["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {
            "network.openshift.io/policy-group": "ingress"}}}]}]  # no ports: all ports
        # openshift-ingress is not a tenant namespace: sncguard writes nothing there.
        assert not [k for k in objects if k[1] == "sncguard-flow-router-egress"]

    def test_flow_to_a_cidr(self):
        objects = keyed(plan([TO_INTERNET]))
        assert not [k for k in objects if k[1] == "sncguard-flow-updates"]
        for src in ("acme-api", "acme-db"):
            egress = objects[(src, "sncguard-flow-updates-egress")]["spec"]
            assert egress["podSelector"] == {"matchLabels": {"app": "api"}}
            assert egress["egress"] == [{"to": [{"ipBlock": {"cidr": "198.51.100.0/24"}}],
                                         "ports": [{"protocol": "TCP", "port": 443}]}]

    def test_an_empty_zone_yields_no_policy(self):
        # Zone admin holds no namespace: an empty from would admit everything, so no policy at all.
        flow = {"name": "admin-to-api", "from": {"zone": "admin"}, "to": {"zone": "lan"}}
        names = {o["metadata"]["name"] for o in plan([flow])}
        assert names == {DEFAULT_DENY, ALLOW_DNS}

    def test_flow_names_do_not_collide(self):
        s = spec([{**WEB_TO_API, "name": "x"}, {**WEB_TO_API, "name": "x-egress"}])
        names = flow_policy_names(s.flows or [])
        assert names["x"][0] == "sncguard-flow-x" and names["x-egress"][0] == "sncguard-flow-x-egress"
        assert names["x"][1] != "sncguard-flow-x-egress" and names["x"][1].startswith("sncguard-flow-x-egress-")
        assert len({n for pair in names.values() for n in pair}) == 4
        objects = network_plan(NAME, UID, s, TENANT, ZONES, VIEW)
        assert len(keyed(objects)) == len(objects)

    def test_long_names_stay_valid(self):
        long_flow = {**WEB_TO_API, "name": "f" * 63}
        for o in plan([long_flow]):
            assert len(o["metadata"]["name"]) <= 253 and DNS_SUBDOMAIN.match(o["metadata"]["name"])
        long_policy = "p." + "a" * 240
        value = tenant_policy_label_value(long_policy)
        assert len(value) <= 63 and value != tenant_policy_label_value("p." + "b" * 240)
        objects = network_plan(long_policy, UID, spec(), ["acme-web"], ZONES, VIEW)
        assert objects[0]["metadata"]["labels"][TENANT_POLICY_LABEL] == value
        assert objects[0]["metadata"]["ownerReferences"][0]["name"] == long_policy


class TestEnforcedSemantics:
    """The plan, read back through the projections, does what the matrix says."""

    def test_traffic(self):
        objects = plan([WEB_TO_API, PARTNER])
        web = pod("acme-web", "web", {"app": "web"})
        api = pod("acme-api", "api", {"app": "api"}, [{"containerPort": 8443}])
        db = pod("acme-db", "db", {"app": "db"})
        dns = pod("openshift-dns", "dns", {"dns.operator.openshift.io/daemonset-dns": "default"})
        v = ClusterView(namespaces=VIEW.namespaces, pods=[web, api, db, dns], pods_observed=True,
                        network_policies=[NetworkPolicy.from_obj(o) for o in objects])
        e = NetworkPolicyEngine(v)
        assert e.allows(web, api, "TCP", 8443)
        assert not e.allows(web, api, "TCP", 8444)
        assert not e.allows(web, db, "TCP", 8443)  # db is not app=api
        assert not e.allows(api, web, "TCP", 80)
        assert e.allows("203.0.113.9", web, "TCP", 30005)
        assert not e.allows("203.0.113.9", web, "TCP", 30011)
        assert not e.allows("198.51.100.1", web, "TCP", 30005)
        assert e.allows(web, dns, "UDP", 5353)
        assert not e.allows(api, "10.0.0.10", "UDP", 53)  # DNS goes to the DNS pods, not anywhere
        assert e.egress_allows(api, dns, "UDP", 53)

        findings = evaluate_network(spec([WEB_TO_API, PARTNER]), TENANT, ZONES, set(), v)
        by_rule = {(f.rule.id, f.result) for f in findings}
        for rule_id in ("NET-001", "NET-002", "NET-003", "NET-004"):
            assert (rule_id, Result.FAIL) not in by_rule, rule_id
        assert not [f for f in findings if f.rule.id == "NET-005"]  # managed policies are skipped


class TestStale:
    def test_removed_flow_is_stale(self):
        before = plan([WEB_TO_API, PARTNER])
        existing = [NetworkPolicy.from_obj(o) for o in before]
        after = plan([WEB_TO_API])
        assert stale_owned(existing, after, NAME) == [("acme-web", "sncguard-flow-partner")]
        assert stale_owned(existing, before, NAME) == []

    def test_namespace_that_left_the_tenant(self):
        existing = [NetworkPolicy.from_obj(o) for o in plan()]
        after = plan(namespaces=["acme-web", "acme-api"])
        assert stale_owned(existing, after, NAME) == [("acme-db", ALLOW_DNS), ("acme-db", DEFAULT_DENY)]

    def test_user_and_other_policies_are_never_stale(self):
        existing = [
            NetworkPolicy.from_obj({"metadata": {"namespace": "acme-web", "name": "users-own"},
                                    "spec": {"podSelector": {}}}),
            owned("acme-web", "no-managed-by", managed=False),
            owned("acme-web", "sncguard-flow-theirs", policy="globex"),
            owned("acme-web", "sncguard-flow-gone"),
        ]
        assert stale_owned(existing, plan(), NAME) == [("acme-web", "sncguard-flow-gone")]

    def test_owner_uid_filter(self):
        existing = [owned("acme-web", "sncguard-flow-a"), owned("acme-web", "sncguard-flow-b", uid="old-uid")]
        assert stale_owned(existing, [], NAME, policy_uid=UID) == [("acme-web", "sncguard-flow-a")]
        assert len(stale_owned(existing, [], NAME)) == 2


def test_a_flow_from_the_internet_leaves_the_cluster_address_space_out():
    """An ipBlock admits the pods whose address it holds: 0.0.0.0/0 as written would let every other
    tenant's pods in. A range that is itself private (a partner VPN on 10.1.0.0/16) stays as declared."""
    internet = {"name": "internet", "from": {"cidr": "0.0.0.0/0"}, "to": {"zone": "dmz"}, "ports": [{"port": 8443}]}
    objects = plan([internet])
    web = pod("acme-web", "web", {"app": "web"})
    intruder = Pod.from_obj({"metadata": {"namespace": "globex", "name": "intruder", "labels": {}},
                             "spec": {"nodeName": "n", "containers": [{"name": "c"}]},
                             "status": {"phase": "Running", "podIP": "10.244.3.7"}})
    v = ClusterView(namespaces={**VIEW.namespaces, "globex": ns("globex", tenant="globex")},
                    pods=[web, intruder], pods_observed=True,
                    network_policies=[NetworkPolicy.from_obj(o) for o in objects])
    e = NetworkPolicyEngine(v)
    assert e.allows("198.51.100.7", web, "TCP", 8443), "the Internet still gets in"
    assert not e.allows(intruder, web, "TCP", 8443), "another tenant's pod does not"
    net004 = [f for f in evaluate_network(spec([internet]), TENANT, ZONES, {"globex"}, v) if f.rule.id == "NET-004"]
    assert net004 and all(f.result is Result.PASS for f in net004)

    block = _ip_block(ipaddress.ip_network("0.0.0.0/0"))
    assert block == {"cidr": "0.0.0.0/0",
                     "except": ["10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16"]}
    assert _ip_block(ipaddress.ip_network("::/0")) == {"cidr": "::/0", "except": ["fc00::/7"]}
    assert _ip_block(ipaddress.ip_network("10.1.0.0/16")) == {"cidr": "10.1.0.0/16"}
    assert _ip_block(ipaddress.ip_network("10.0.0.0/8")) == {"cidr": "10.0.0.0/8"}
