"""Network rules NET-001..NET-007, each decided bullet both ways.

Objects are Kubernetes dicts projected through the view, as the operator and the offline check do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from sncguard.api.tenantpolicy import TenantPolicySpec
from sncguard.findings import Finding, Result, Severity
from sncguard.rules import network
from sncguard.rules.network import (
    check_cleartext_exposure,
    check_cross_tenant_ingress,
    check_default_deny_egress,
    check_default_deny_ingress,
    check_exposure_zone,
    check_flow_matrix,
    check_forbidden_ports_exposed,
    evaluate_network,
)
from sncguard.rules.subjects import Tenant
from sncguard.view import ClusterView, Ingress, Namespace, NetworkPolicy, Pod, Route, Service

TENANT = ["acme-web", "acme-api"]
ZONES = {"acme-web": "dmz", "acme-api": "lan"}
OTHERS = {"globex"}


# --------------------------------------------------------------------------------------------
# Builders


def spec(**fields: Any) -> TenantPolicySpec:
    base: dict[str, Any] = {
        "tenant": "acme",
        "namespaceSelector": {"matchLabels": {"sncguard.io/tenant": "acme"}},
        "zones": {"dmz": {"matchLabels": {"sncguard.io/zone": "dmz"}},
                  "lan": {"matchLabels": {"sncguard.io/zone": "lan"}}},
    }
    base.update(fields)
    return TenantPolicySpec.model_validate(base)


def ns(name: str, **labels: str) -> Namespace:
    return Namespace.from_obj({"metadata": {"name": name, "labels": labels}})


NAMESPACES = [
    ns("acme-web", **{"sncguard.io/tenant": "acme", "sncguard.io/zone": "dmz"}),
    ns("acme-api", **{"sncguard.io/tenant": "acme", "sncguard.io/zone": "lan"}),
    ns("globex", **{"sncguard.io/tenant": "globex", "sncguard.io/zone": "dmz"}),
    ns("openshift-ingress", **{"network.openshift.io/policy-group": "ingress"}),
    ns("openshift-dns"),
]


def pod(namespace: str, name: str, labels: dict | None = None, ports: list[dict] | None = None,
        phase: str = "Running", ip: str = "", host_network: bool = False) -> Pod:
    return Pod.from_obj({"metadata": {"namespace": namespace, "name": name, "labels": labels or {}},
                         "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports or []}],
                                  **({"hostNetwork": True} if host_network else {})},
                         "status": {"phase": phase, **({"podIP": ip} if ip else {})}})


def netpol(namespace: str, name: str, labels: dict | None = None, **spec: Any) -> NetworkPolicy:
    spec.setdefault("podSelector", {})
    return NetworkPolicy.from_obj({"metadata": {"namespace": namespace, "name": name, "labels": labels or {}},
                                   "spec": spec})


def deny_all(namespace: str) -> NetworkPolicy:
    return netpol(namespace, "deny-all", policyTypes=["Ingress", "Egress"])


def service(namespace: str, name: str, type_: str = "ClusterIP", ports: list[dict] | None = None,
            **spec: Any) -> Service:
    return Service.from_obj({"metadata": {"namespace": namespace, "name": name},
                             "spec": {"type": type_, "ports": ports or [{"port": 443}], **spec}})


def ingress(namespace: str, name: str, tls: bool) -> Ingress:
    spec: dict = {"rules": [{"host": f"{name}.example.com"}]}
    if tls:
        spec["tls"] = [{"hosts": [f"{name}.example.com"], "secretName": "cert"}]
    return Ingress.from_obj({"metadata": {"namespace": namespace, "name": name}, "spec": spec})


def route(namespace: str, name: str, tls: dict | None) -> Route:
    spec: dict = {"host": f"{name}.apps.example.com", "to": {"kind": "Service", "name": name}}
    if tls is not None:
        spec["tls"] = tls
    return Route.from_obj({"metadata": {"namespace": namespace, "name": name}, "spec": spec})


def view(*, pods: list[Pod] | None = None, policies: list[NetworkPolicy] | None = None,
         services: list[Service] | None = None, ingresses: list[Ingress] | None = None,
         routes: list[Route] | None = None) -> ClusterView:
    return ClusterView(namespaces={n.name: n for n in NAMESPACES}, pods=pods or [],
                       network_policies=policies or [], services=services or [], ingresses=ingresses or [],
                       routes=routes or [], pods_observed=pods is not None)


def by_result(findings: list[Finding], result: Result) -> list[Finding]:
    return [f for f in findings if f.result is result]


def only(findings: list[Finding], result: Result | None = None) -> Finding:
    chosen = by_result(findings, result) if result else findings
    assert len(chosen) == 1, [f.message_en for f in findings]
    return chosen[0]


def assert_bilingual(f: Finding) -> None:
    assert f.message_en and f.message_fr and f.message_en != f.message_fr
    if f.result is Result.FAIL:
        assert f.field


# --------------------------------------------------------------------------------------------
# NET-001, NET-002


class TestDefaultDeny:
    def test_default_deny_ingress_passes(self):
        v = view(policies=[netpol("acme-web", "deny-in", policyTypes=["Ingress"])])
        f = only(check_default_deny_ingress(["acme-web"], v))
        assert f.result is Result.PASS and f.rule.id == "NET-001" and f.severity is Severity.HIGH
        assert (f.resource.kind, f.resource.namespace, f.resource.name) == ("Namespace", "", "acme-web")
        assert "acme-web/deny-in" in f.message_en and "acme-web/deny-in" in f.message_fr
        assert_bilingual(f)

    def test_absent_policy_types_default_to_ingress(self):
        v = view(policies=[netpol("acme-web", "deny")])
        assert only(check_default_deny_ingress(["acme-web"], v)).result is Result.PASS
        assert only(check_default_deny_egress(["acme-web"], v)).result is Result.FAIL

    @pytest.mark.parametrize("policy", [
        None,
        netpol("acme-web", "some", podSelector={"matchLabels": {"app": "web"}}, policyTypes=["Ingress"]),
        netpol("acme-web", "allow-all", policyTypes=["Ingress"], ingress=[{}]),
        netpol("acme-web", "egress-only", policyTypes=["Egress"]),
        netpol("acme-api", "elsewhere", policyTypes=["Ingress"]),
    ])
    def test_no_default_deny_ingress_fails(self, policy):
        v = view(policies=[policy] if policy else [])
        f = only(check_default_deny_ingress(["acme-web"], v))
        assert f.result is Result.FAIL and f.resource.name == "acme-web"
        assert "default-deny ingress" in f.message_en and "refus par défaut en entrée" in f.message_fr
        assert_bilingual(f)

    def test_default_deny_egress(self):
        v = view(policies=[netpol("acme-web", "deny-out", policyTypes=["Egress"]),
                           netpol("acme-api", "allow-out", policyTypes=["Egress"], egress=[{}])])
        findings = check_default_deny_egress(TENANT, v)
        results = {f.resource.name: f.result for f in findings}
        assert results == {"acme-web": Result.PASS, "acme-api": Result.FAIL}
        assert all(f.rule.id == "NET-002" and f.severity is Severity.MEDIUM for f in findings)
        for f in findings:
            assert_bilingual(f)

    def test_deny_all_covers_both(self):
        v = view(policies=[deny_all("acme-web")])
        assert only(check_default_deny_ingress(["acme-web"], v)).result is Result.PASS
        assert only(check_default_deny_egress(["acme-web"], v)).result is Result.PASS


# --------------------------------------------------------------------------------------------
# NET-003


class TestForbiddenPorts:
    def judge(self, v: ClusterView, s: TenantPolicySpec | None = None, namespaces: list[str] | None = None):
        return check_forbidden_ports_exposed(s or spec(), namespaces or ["acme-web"], v)

    def test_load_balancer_without_source_ranges(self):
        v = view(services=[service("acme-web", "ssh", "LoadBalancer", [{"port": 443}, {"port": 22}])])
        f = only(self.judge(v))
        assert f.result is Result.FAIL and f.severity is Severity.CRITICAL
        assert (f.resource.kind, f.resource.name, f.field) == ("Service", "ssh", "spec.ports[1].port")
        assert "22" in f.message_en and "loadBalancerSourceRanges is empty" in f.message_en
        assert "port interdit 22" in f.message_fr
        assert_bilingual(f)

    @pytest.mark.parametrize("ranges", [["0.0.0.0/0"], ["10.0.0.0/8", "::/0"]])
    def test_load_balancer_open_range_and_target_port(self, ranges):
        v = view(services=[service("acme-web", "rdp", "LoadBalancer", [{"port": 443, "targetPort": 3389}],
                                   loadBalancerSourceRanges=ranges)])
        f = only(self.judge(v))
        assert f.result is Result.FAIL and f.field == "spec.ports[0].targetPort" and "3389" in f.message_en

    @pytest.mark.parametrize("ranges", [
        ["0.0.0.0/1", "128.0.0.0/1"],
        ["::/1", "8000::/1"],
        ["not-a-range", "128.0.0.0/1", "203.0.113.0/24", "0.0.0.0/1"],
        # Every public IPv4 range, with 10.0.0.0/8 (private) left out: still the whole Internet.
        ["0.0.0.0/5", "8.0.0.0/7", "11.0.0.0/8", "12.0.0.0/6", "16.0.0.0/4", "32.0.0.0/3", "64.0.0.0/2",
         "128.0.0.0/1"],
    ])
    def test_load_balancer_ranges_that_together_cover_the_internet(self, ranges):
        v = view(services=[service("acme-web", "ssh", "LoadBalancer", [{"port": 22}],
                                   loadBalancerSourceRanges=ranges)])
        f = only(self.judge(v))
        assert f.result is Result.FAIL and f.field == "spec.ports[0].port"
        assert "together cover the whole public IPv" in f.message_en
        assert "couvrent ensemble tout l'Internet public IPv" in f.message_fr
        assert_bilingual(f)

    @pytest.mark.parametrize("ranges", [
        ["0.0.0.0/1", "128.0.0.0/2"],
        ["0.0.0.0/1", "8000::/1"],  # half of each family is neither whole
        ["0.0.0.0/1", "not-a-range"],
        # Every public range but 8.0.0.0/7.
        ["0.0.0.0/5", "11.0.0.0/8", "12.0.0.0/6", "16.0.0.0/4", "32.0.0.0/3", "64.0.0.0/2", "128.0.0.0/1"],
    ])
    def test_load_balancer_ranges_that_leave_part_of_the_internet_out_pass(self, ranges):
        v = view(services=[service("acme-web", "ssh", "LoadBalancer", [{"port": 22}],
                                   loadBalancerSourceRanges=ranges)])
        assert only(self.judge(v)).result is Result.PASS

    def test_load_balancer_with_restricted_ranges_passes(self):
        v = view(services=[service("acme-web", "ssh", "LoadBalancer", [{"port": 22}],
                                   loadBalancerSourceRanges=["203.0.113.0/24"])])
        f = only(self.judge(v))
        assert f.result is Result.PASS and f.resource.kind == "Namespace"
        assert_bilingual(f)

    def test_named_target_port_is_not_numeric(self):
        v = view(services=[service("acme-web", "web", "LoadBalancer", [{"port": 443, "targetPort": "ssh"}])])
        assert only(self.judge(v)).result is Result.PASS

    @pytest.mark.parametrize("type_", ["LoadBalancer", "NodePort"])
    def test_named_target_port_resolves_to_the_selected_pods_container_port(self, type_):
        bastion = pod("acme-web", "bastion", {"app": "bastion"}, [{"containerPort": 22, "name": "ssh"}])
        svc = service("acme-web", "sftp", type_, [{"port": 2222, "targetPort": "ssh"}], selector={"app": "bastion"})
        f = only(self.judge(view(services=[svc], pods=[bastion])))
        assert f.result is Result.FAIL and f.field == "spec.ports[0].targetPort"
        assert "22 (spec.ports[0].targetPort ssh, containerPort of pod acme-web/bastion)" in f.message_en
        assert "22 (spec.ports[0].targetPort ssh, containerPort du pod acme-web/bastion)" in f.message_fr
        assert_bilingual(f)

    @pytest.mark.parametrize("bastion", [
        pod("acme-web", "bastion", {"app": "other"}, [{"containerPort": 22, "name": "ssh"}]),  # not selected
        pod("globex", "bastion", {"app": "bastion"}, [{"containerPort": 22, "name": "ssh"}]),  # another namespace
        pod("acme-web", "bastion", {"app": "bastion"}, [{"containerPort": 22, "name": "ssh"}], phase="Succeeded"),
        pod("acme-web", "bastion", {"app": "bastion"}, [{"containerPort": 22, "name": "ssh", "protocol": "UDP"}]),
        pod("acme-web", "bastion", {"app": "bastion"}, [{"containerPort": 22, "name": "sshd"}]),
    ])
    def test_named_target_port_only_through_live_selected_pods_that_declare_it(self, bastion):
        svc = service("acme-web", "sftp", "LoadBalancer", [{"port": 2222, "targetPort": "ssh"}],
                      selector={"app": "bastion"})
        assert only(self.judge(view(services=[svc], pods=[bastion]))).result is Result.PASS

    def test_named_target_port_without_selector_reaches_no_pod(self):
        bastion = pod("acme-web", "bastion", {"app": "bastion"}, [{"containerPort": 22, "name": "ssh"}])
        svc = service("acme-web", "sftp", "LoadBalancer", [{"port": 2222, "targetPort": "ssh"}])
        assert only(self.judge(view(services=[svc], pods=[bastion]))).result is Result.PASS

    @pytest.mark.parametrize(("type_", "ports", "field"), [
        ("ClusterIP", [{"port": 22}], "spec.ports[0].port"),
        ("ClusterIP", [{"port": 8080, "targetPort": 3389}], "spec.ports[0].targetPort"),
        ("ClusterIP", [{"port": 2222, "targetPort": "ssh"}], "spec.ports[0].targetPort"),
        ("LoadBalancer", [{"port": 22}], "spec.ports[0].port"),  # the source ranges do not filter externalIPs
    ])
    def test_external_ips_expose_every_service_type(self, type_, ports, field):
        bastion = pod("acme-web", "bastion", {"app": "bastion"}, [{"containerPort": 22, "name": "ssh"}])
        svc = service("acme-web", "ssh", type_, ports, selector={"app": "bastion"}, externalIPs=["198.51.100.7"],
                      loadBalancerSourceRanges=["203.0.113.0/24"])
        f = only(self.judge(view(services=[svc], pods=[bastion])))
        assert f.result is Result.FAIL and f.field == field
        assert "spec.externalIPs 198.51.100.7" in f.message_en and "spec.externalIPs 198.51.100.7" in f.message_fr
        # External addresses may be private: the finding does not claim the whole Internet.
        assert "on its external addresses, outside the cluster" in f.message_en and "hors du cluster" in f.message_fr
        assert_bilingual(f)

    @pytest.mark.parametrize(("port", "field"), [
        ({"port": 445}, "spec.ports[0].port"),
        ({"port": 8080, "targetPort": 2049}, "spec.ports[0].targetPort"),
        ({"port": 8080, "nodePort": 22}, "spec.ports[0].nodePort"),
    ])
    def test_node_port(self, port, field):
        v = view(services=[service("acme-web", "np", "NodePort", [port])])
        f = only(self.judge(v))
        assert f.result is Result.FAIL and f.field == field and "NodePort" in f.message_en

    def test_cluster_ip_is_not_exposed(self):
        v = view(services=[service("acme-web", "ssh", "ClusterIP", [{"port": 22}])])
        assert only(self.judge(v)).result is Result.PASS

    def test_policy_list_is_configurable(self):
        v = view(services=[service("acme-web", "x", "LoadBalancer", [{"port": 8022}])])
        assert only(self.judge(v)).result is Result.PASS
        assert only(self.judge(v, spec(forbiddenPorts=[8022]))).result is Result.FAIL

    def test_network_policy_any_source_on_forbidden_port(self):
        p = netpol("acme-web", "open-ssh", policyTypes=["Ingress"],
                   ingress=[{"from": [{"podSelector": {}}], "ports": [{"port": 22}]},
                            {"ports": [{"port": 443}, {"port": 22}]}])
        f = only(self.judge(view(policies=[p])))
        assert f.result is Result.FAIL and (f.resource.kind, f.resource.name) == ("NetworkPolicy", "open-ssh")
        assert f.field == "spec.ingress[1]"
        assert "spec.ingress[1]" in f.message_en and "TCP/22" in f.message_en and "no from" in f.message_en
        assert "spec.ingress[1]" in f.message_fr and "pas de from" in f.message_fr
        assert_bilingual(f)

    @pytest.mark.parametrize(("block", "fails"), [
        ({"cidr": "0.0.0.0/0"}, True),
        ({"cidr": "::/0"}, True),
        ({"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}, True),  # private carve-outs leave the Internet
        ({"cidr": "0.0.0.0/0", "except": ["0.0.0.0/1"]}, False),
        ({"cidr": "10.0.0.0/8"}, False),
    ])
    def test_network_policy_ip_block(self, block, fails):
        p = netpol("acme-web", "p", policyTypes=["Ingress"],
                   ingress=[{"from": [{"ipBlock": block}], "ports": [{"port": 3389}]}])
        assert only(self.judge(view(policies=[p]))).result is (Result.FAIL if fails else Result.PASS)

    def test_all_ports_with_a_pod_declaring_a_forbidden_port(self):
        p = netpol("acme-web", "allow-all", policyTypes=["Ingress"], ingress=[{}])
        ssh = pod("acme-web", "bastion", {"app": "bastion"}, [{"containerPort": 22}])
        f = only(self.judge(view(policies=[p], pods=[ssh])))
        assert f.result is Result.FAIL and "acme-web/bastion" in f.message_en
        assert "containerPort interdit 22" in f.message_fr
        web = pod("acme-web", "web", {"app": "web"}, [{"containerPort": 8443}])
        assert only(self.judge(view(policies=[p], pods=[web]))).result is Result.PASS

    def test_pod_outside_the_policy_selector_does_not_count(self):
        p = netpol("acme-web", "allow-web", podSelector={"matchLabels": {"app": "web"}}, policyTypes=["Ingress"],
                   ingress=[{}])
        ssh = pod("acme-web", "bastion", {"app": "bastion"}, [{"containerPort": 22}])
        assert only(self.judge(view(policies=[p], pods=[ssh]))).result is Result.PASS

    def test_range_and_named_port(self):
        ranged = netpol("acme-web", "ranged", policyTypes=["Ingress"],
                        ingress=[{"ports": [{"port": 20, "endPort": 30}]}])
        assert "22" in only(self.judge(view(policies=[ranged]))).message_en
        named = netpol("acme-web", "named", policyTypes=["Ingress"], ingress=[{"ports": [{"port": "ssh"}]}])
        ssh = pod("acme-web", "bastion", {}, [{"containerPort": 22, "name": "ssh"}])
        f = only(self.judge(view(policies=[named], pods=[ssh])))
        assert f.result is Result.FAIL and "named port ssh" in f.message_en
        assert only(self.judge(view(policies=[named], pods=[]))).result is Result.PASS

    def test_egress_only_policy_is_not_judged(self):
        p = netpol("acme-web", "p", policyTypes=["Egress"], ingress=[{"ports": [{"port": 22}]}], egress=[{}])
        assert only(self.judge(view(policies=[p]))).result is Result.PASS

    def test_only_tenant_namespaces(self):
        v = view(services=[service("globex", "ssh", "LoadBalancer", [{"port": 22}])],
                 policies=[netpol("globex", "open", policyTypes=["Ingress"], ingress=[{}])])
        findings = self.judge(v, namespaces=TENANT)
        assert {f.resource.name for f in findings} == set(TENANT)
        assert all(f.result is Result.PASS for f in findings)


# --------------------------------------------------------------------------------------------
# NET-004


class TestCrossTenant:
    def judge(self, v: ClusterView) -> list[Finding]:
        return check_cross_tenant_ingress(["acme-api"], OTHERS, v)

    def test_isolated_and_clean_passes(self):
        p = netpol("acme-api", "from-web", policyTypes=["Ingress"],
                   ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"sncguard.io/tenant": "acme"}}}]}])
        v = view(policies=[p], pods=[pod("acme-api", "api-1", {"app": "api"})])
        f = only(self.judge(v))
        assert f.result is Result.PASS and f.resource.name == "acme-api" and f.severity is Severity.CRITICAL
        assert_bilingual(f)

    def test_rule_without_from(self):
        p = netpol("acme-api", "open", policyTypes=["Ingress"], ingress=[{"ports": [{"port": 8443}]}])
        f = only(self.judge(view(policies=[p], pods=[])))
        assert f.result is Result.FAIL and f.resource.kind == "NetworkPolicy" and f.field == "spec.ingress[0]"
        assert "no from" in f.message_en and "pas de from" in f.message_fr
        assert_bilingual(f)

    def test_empty_namespace_selector(self):
        p = netpol("acme-api", "any-ns", policyTypes=["Ingress"],
                   ingress=[{"from": [{"podSelector": {}}]}, {"from": [{"namespaceSelector": {},
                                                                        "podSelector": {"matchLabels": {"a": "b"}}}]}])
        f = only(self.judge(view(policies=[p])))
        assert f.field == "spec.ingress[1]" and "from[0].namespaceSelector {} is empty" in f.message_en

    def test_namespace_selector_matching_another_tenant(self):
        p = netpol("acme-api", "from-dmz", policyTypes=["Ingress"],
                   ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"sncguard.io/zone": "dmz"}}}]}])
        f = only(self.judge(view(policies=[p])))
        assert f.result is Result.FAIL and "globex" in f.message_en and "globex" in f.message_fr

    def test_namespace_selector_matching_a_platform_namespace_passes(self):
        p = netpol("acme-api", "from-router", policyTypes=["Ingress"], ingress=[{"from": [{"namespaceSelector": {
            "matchLabels": {"network.openshift.io/policy-group": "ingress"}}}]}])
        assert only(self.judge(view(policies=[p]))).result is Result.PASS

    def test_unisolated_pods(self):
        p = netpol("acme-api", "api-only", podSelector={"matchLabels": {"app": "api"}}, policyTypes=["Ingress"])
        egress = netpol("acme-api", "egress", policyTypes=["Egress"])  # does not isolate ingress
        pods = [pod("acme-api", "api", {"app": "api"}), pod("acme-api", "cache-1", {"app": "cache"}),
                pod("acme-api", "cache-2", {"app": "cache"}), pod("acme-api", "job", {"app": "job"}, phase="Succeeded")]
        f = only(self.judge(view(policies=[p, egress], pods=pods)))
        assert f.result is Result.FAIL and f.resource.kind == "Namespace"
        assert "2 pods" in f.message_en and "cache-1, cache-2" in f.message_en and "2 pods" in f.message_fr
        assert_bilingual(f)

    def test_ip_block_holding_another_tenants_pod_address(self):
        p = netpol("acme-api", "from-lan", policyTypes=["Ingress"],
                   ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}]}])
        pods = [pod("acme-api", "api", {"app": "api"}, ip="10.0.0.4"),
                pod("acme-web", "web", {"app": "web"}, ip="10.0.0.5"),  # the same tenant: fine
                pod("globex", "shop-1", {"app": "shop"}, ip="10.1.2.3"),
                pod("globex", "shop-2", {"app": "shop"}, ip="10.9.0.3"),  # excepted
                pod("globex", "done", {"app": "job"}, phase="Succeeded", ip="10.1.2.4"),  # not live
                pod("globex", "pending", {"app": "shop"}),  # no address yet
                pod("globex", "agent", ip="10.4.0.1", host_network=True)]  # its node's address, in the block
        f = only(self.judge(view(policies=[p], pods=pods)))
        assert f.result is Result.FAIL and f.resource.name == "from-lan" and f.field == "spec.ingress[0]"
        assert "from[0].ipBlock 10.0.0.0/8 except 10.9.0.0/16" in f.message_en
        assert "globex/shop-1 (10.1.2.3)" in f.message_en and "globex/shop-1 (10.1.2.3)" in f.message_fr
        assert "globex/agent (10.4.0.1, hostNetwork)" in f.message_en
        assert "shop-2" not in f.message_en and "done" not in f.message_en
        assert_bilingual(f)

    def test_ip_block_holding_no_other_tenants_pod_passes(self):
        p = netpol("acme-api", "from-lan", policyTypes=["Ingress"],
                   ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]}])
        pods = [pod("acme-api", "api", {"app": "api"}, ip="10.0.0.4"), pod("globex", "shop", ip="10.1.2.3"),
                pod("openshift-ingress", "router", ip="10.0.0.9")]  # not a tenant's
        assert only(self.judge(view(policies=[p], pods=pods))).result is Result.PASS

    def test_one_finding_per_rule_plus_namespace(self):
        p = netpol("acme-api", "bad", policyTypes=["Ingress"], podSelector={"matchLabels": {"app": "api"}},
                   ingress=[{}, {"from": [{"namespaceSelector": {}}]}])
        findings = self.judge(view(policies=[p], pods=[pod("acme-api", "x", {"app": "x"})]))
        assert [f.field for f in findings] == ["spec.ingress[0]", "spec.ingress[1]", "NetworkPolicy.spec.podSelector"]
        assert all(f.result is Result.FAIL for f in findings)


# --------------------------------------------------------------------------------------------
# NET-005


WEB_TO_API = {"name": "web-to-api", "from": {"zone": "dmz"},
              "to": {"zone": "lan", "podSelector": {"matchLabels": {"app": "api"}}},
              "ports": [{"protocol": "TCP", "port": 8443}]}
ROUTER_TO_WEB = {"name": "router-to-web",
                 "from": {"namespaceSelector": {"matchLabels": {"network.openshift.io/policy-group": "ingress"}}},
                 "to": {"zone": "dmz"}, "ports": [{"port": "https"}]}
PARTNER = {"name": "partner", "from": {"cidr": "203.0.113.0/24"}, "to": {"zone": "dmz"}}


def api_ingress(port: Any = 8443, pod_selector: dict | None = None, source: dict | None = None,
                labels: dict | None = None, name: str = "api-from-web") -> NetworkPolicy:
    return netpol("acme-api", name, labels=labels,
                  podSelector=pod_selector if pod_selector is not None else {"matchLabels": {"app": "api"}},
                  policyTypes=["Ingress"],
                  ingress=[{"from": [source or {"namespaceSelector": {"matchLabels": {"sncguard.io/zone": "dmz",
                                                                                      "sncguard.io/tenant": "acme"}}}],
                            "ports": [{"port": port}]}])


class TestFlowMatrix:
    def judge(self, v: ClusterView, flows: list[dict] | None = None) -> list[Finding]:
        s = spec(flows=flows) if flows is not None else spec()
        return check_flow_matrix(s, TENANT, ZONES, v)

    def test_rule_within_a_flow_passes(self):
        f = only(self.judge(view(policies=[api_ingress()]), [WEB_TO_API]))
        assert f.result is Result.PASS and (f.resource.kind, f.resource.name) == ("NetworkPolicy", "api-from-web")
        assert f.severity is Severity.HIGH
        assert_bilingual(f)

    def test_no_flows_at_all_fails_every_admitting_rule(self):
        f = only(self.judge(view(policies=[api_ingress()])))
        assert f.result is Result.FAIL and f.field == "spec.ingress[0]"
        assert "declares no flow" in f.message_en and "ne déclare aucun flux" in f.message_fr
        assert "acme-api/api-from-web" in f.message_en and "TCP/8443" in f.message_en
        assert_bilingual(f)

    def test_port_outside_the_flow(self):
        f = only(self.judge(view(policies=[api_ingress(port=8444)]), [WEB_TO_API]))
        assert f.result is Result.FAIL and "TCP/8444" in f.message_en and "no flow of the matrix" in f.message_en

    def test_source_outside_the_flow(self):
        # The peer matches globex too (zone dmz, any tenant): not in the flow's source zone.
        p = api_ingress(source={"namespaceSelector": {"matchLabels": {"sncguard.io/zone": "dmz"}}})
        f = only(self.judge(view(policies=[p]), [WEB_TO_API]))
        assert f.result is Result.FAIL and "globex" in f.message_en

    def test_destination_pods_outside_the_flow(self):
        p = api_ingress(pod_selector={})
        assert only(self.judge(view(policies=[p]), [WEB_TO_API])).result is Result.FAIL
        # With live pods, every pod the policy selects is checked: all are app=api here.
        pods = [pod("acme-api", "api-1", {"app": "api"}), pod("acme-api", "api-2", {"app": "api"})]
        assert only(self.judge(view(policies=[p], pods=pods), [WEB_TO_API])).result is Result.PASS
        pods.append(pod("acme-api", "db", {"app": "db"}))
        f = only(self.judge(view(policies=[p], pods=pods), [WEB_TO_API]))
        assert f.result is Result.FAIL and "acme-api/db" in f.message_en

    def test_any_source_needs_an_internet_flow(self):
        p = netpol("acme-web", "open-web", policyTypes=["Ingress"], ingress=[{"ports": [{"port": 8443}]}])
        assert only(self.judge(view(policies=[p]), [PARTNER])).result is Result.FAIL
        internet = {"name": "internet", "from": {"cidr": "0.0.0.0/0"}, "to": {"zone": "dmz"},
                    "ports": [{"port": 8443}]}
        assert only(self.judge(view(policies=[p]), [internet])).result is Result.PASS

    def test_cidr_flow_covers_contained_blocks(self):
        def ip_policy(cidr: str) -> NetworkPolicy:
            return netpol("acme-web", "partner", policyTypes=["Ingress"],
                          ingress=[{"from": [{"ipBlock": {"cidr": cidr}}]}])
        assert only(self.judge(view(policies=[ip_policy("203.0.113.128/25")]), [PARTNER])).result is Result.PASS
        f = only(self.judge(view(policies=[ip_policy("198.51.100.0/24")]), [PARTNER]))
        assert f.result is Result.FAIL and "198.51.100.0/24" in f.message_en

    def test_all_ports_need_a_flow_without_ports(self):
        p = netpol("acme-web", "from-partner", policyTypes=["Ingress"],
                   ingress=[{"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}])
        assert only(self.judge(view(policies=[p]), [PARTNER])).result is Result.PASS
        limited = {**PARTNER, "ports": [{"port": 443}]}
        f = only(self.judge(view(policies=[p]), [limited]))
        assert f.result is Result.FAIL and "every port" in f.message_en and "tous les ports" in f.message_fr

    def test_named_ports(self):
        router = {"namespaceSelector": {"matchLabels": {"network.openshift.io/policy-group": "ingress"}}}
        named = netpol("acme-web", "from-router", policyTypes=["Ingress"],
                       ingress=[{"from": [router], "ports": [{"port": "https"}]}])
        assert only(self.judge(view(policies=[named]), [ROUTER_TO_WEB])).result is Result.PASS
        numeric_flow = {**ROUTER_TO_WEB, "ports": [{"port": 8443}]}
        assert only(self.judge(view(policies=[named]), [numeric_flow])).result is Result.FAIL
        web = pod("acme-web", "web", {"app": "web"}, [{"containerPort": 8443, "name": "https"}])
        assert only(self.judge(view(policies=[named], pods=[web]), [numeric_flow])).result is Result.PASS

    def test_egress_rules(self):
        out = netpol("acme-web", "web-out", podSelector={"matchLabels": {"app": "web"}}, policyTypes=["Egress"],
                     egress=[{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "acme-api"}},
                                      "podSelector": {"matchLabels": {"app": "api"}}}],
                              "ports": [{"port": 8443}]}])
        assert only(self.judge(view(policies=[out]), [WEB_TO_API])).result is Result.PASS
        f = only(self.judge(view(policies=[out])))
        assert f.result is Result.FAIL and f.field == "spec.egress[0]"

    def test_dns_egress_needs_no_flow(self):
        dns = netpol("acme-web", "dns", policyTypes=["Egress"], egress=[
            {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
            {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
             "ports": [{"protocol": "UDP", "port": 5353}]},
        ])
        assert only(self.judge(view(policies=[dns]))).result is Result.PASS
        other = netpol("acme-web", "5353-anywhere", policyTypes=["Egress"],
                       egress=[{"ports": [{"protocol": "UDP", "port": 5353}]}])
        assert only(self.judge(view(policies=[other]))).result is Result.FAIL

    def test_managed_policies_are_skipped_and_deny_passes(self):
        managed = api_ingress(port=1, labels={"app.kubernetes.io/managed-by": "sncguard"}, name="managed")
        findings = self.judge(view(policies=[managed, deny_all("acme-api")]))
        f = only(findings)
        assert f.result is Result.PASS and f.resource.name == "deny-all" and "admits nothing" in f.message_en

    def test_one_pass_per_policy_one_fail_per_rule(self):
        p = netpol("acme-web", "two", policyTypes=["Ingress", "Egress"],
                   ingress=[{"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}, {}], egress=[{}])
        findings = self.judge(view(policies=[p]), [PARTNER])
        assert [(f.result, f.field) for f in findings] == [(Result.FAIL, "spec.ingress[1]"),
                                                           (Result.FAIL, "spec.egress[0]")]


# --------------------------------------------------------------------------------------------
# NET-006


class TestCleartext:
    def judge(self, v: ClusterView) -> list[Finding]:
        return check_cleartext_exposure(spec(), ["acme-web"], v)

    def test_clean_namespace_passes(self):
        v = view(ingresses=[ingress("acme-web", "shop", tls=True)],
                 routes=[route("acme-web", "api", {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}),
                         route("acme-web", "pass", {"termination": "passthrough"})],
                 services=[service("acme-web", "lb", "LoadBalancer", [{"port": 443}]),
                           service("acme-web", "internal", "ClusterIP", [{"port": 80}])])
        f = only(self.judge(v))
        assert f.result is Result.PASS and f.resource.kind == "Namespace" and f.severity is Severity.HIGH
        assert_bilingual(f)

    def test_ingress_without_tls(self):
        f = only(self.judge(view(ingresses=[ingress("acme-web", "shop", tls=False)])))
        assert (f.result, f.resource.kind, f.field) == (Result.FAIL, "Ingress", "spec.tls")
        assert "shop.example.com" in f.message_en and "en clair" in f.message_fr
        assert_bilingual(f)

    def test_route_without_tls(self):
        f = only(self.judge(view(routes=[route("acme-web", "api", None)])))
        assert (f.result, f.resource.kind, f.field) == (Result.FAIL, "Route", "spec.tls")

    def test_route_allowing_insecure(self):
        f = only(self.judge(view(routes=[route("acme-web", "api", {"termination": "edge",
                                                                    "insecureEdgeTerminationPolicy": "Allow"})])))
        assert f.result is Result.FAIL and f.field == "spec.tls.insecureEdgeTerminationPolicy"
        assert "Allow" in f.message_en and "Allow" in f.message_fr

    @pytest.mark.parametrize(("svc", "field"), [
        (service("acme-web", "http", "LoadBalancer", [{"port": 443}, {"port": 80}]), "spec.ports[1].port"),
        (service("acme-web", "ftp", "NodePort", [{"port": 2121, "targetPort": 21}]), "spec.ports[0].targetPort"),
        (service("acme-web", "telnet", "ClusterIP", [{"port": 23}], externalIPs=["198.51.100.7"]),
         "spec.ports[0].port"),
    ])
    def test_exposed_cleartext_ports(self, svc, field):
        f = only(self.judge(view(services=[svc])))
        assert (f.result, f.resource.kind, f.field) == (Result.FAIL, "Service", field)


# --------------------------------------------------------------------------------------------
# NET-007


class TestExposureZone:
    def judge(self, v: ClusterView, namespaces: list[str] | None = None,
              zones: dict[str, str] | None = None) -> list[Finding]:
        return check_exposure_zone(namespaces or TENANT, ZONES if zones is None else zones, v)

    def test_exposure_in_dmz_passes(self):
        v = view(services=[service("acme-web", "lb", "LoadBalancer")], routes=[route("acme-web", "r", None)])
        f = only(self.judge(v, ["acme-web"]))
        assert f.result is Result.PASS and f.severity is Severity.MEDIUM and "2 exposed objects" in f.message_en
        assert_bilingual(f)

    def test_exposure_outside_dmz_fails_per_object(self):
        v = view(services=[service("acme-api", "lb", "LoadBalancer"), service("acme-api", "np", "NodePort"),
                           service("acme-api", "ext", "ClusterIP", externalIPs=["198.51.100.7"]),
                           service("acme-api", "internal")],
                 routes=[route("acme-api", "r", {"termination": "edge"})],
                 ingresses=[ingress("acme-api", "i", tls=True)])
        findings = self.judge(v, ["acme-api"])
        assert [(f.resource.kind, f.resource.name, f.field) for f in findings] == [
            ("Service", "ext", "spec.externalIPs"), ("Service", "lb", "spec.type"), ("Service", "np", "spec.type"),
            ("Route", "r", "spec.host"), ("Ingress", "i", "spec.rules")]
        assert all(f.result is Result.FAIL and "zone lan" in f.message_en for f in findings)
        for f in findings:
            assert_bilingual(f)

    def test_no_zone(self):
        v = view(services=[service("acme-api", "lb", "LoadBalancer")])
        f = only(self.judge(v, ["acme-api"], zones={}))
        assert f.result is Result.FAIL and "no network zone" in f.message_en and "aucune zone" in f.message_fr

    def test_counts_agree_in_each_language(self):
        # French counts zero in the singular, English and Italian in the plural.
        f = only(self.judge(view(), ["acme-web"]))
        assert "(0 exposed objects)" in f.message_en and "(0 objet exposé)" in f.message_fr
        assert "(0 oggetti esposti)" in f.message("it")
        f = only(self.judge(view(routes=[route("acme-web", "r", None)]), ["acme-web"]))
        assert "(1 exposed object)" in f.message_en and "(1 objet exposé)" in f.message_fr

    def test_nothing_exposed_passes(self):
        f = only(self.judge(view(services=[service("acme-api", "internal")]), ["acme-api"]))
        assert f.result is Result.PASS and "zone lan" in f.message_en


# --------------------------------------------------------------------------------------------
# The whole network evaluation


class TestEvaluateNetwork:
    def test_compliant_tenant(self):
        s = spec(flows=[WEB_TO_API, PARTNER])
        policies = [deny_all("acme-web"), deny_all("acme-api"), api_ingress(),
                    netpol("acme-web", "partner", policyTypes=["Ingress"],
                           ingress=[{"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}])]
        pods = [pod("acme-web", "web", {"app": "web"}), pod("acme-api", "api", {"app": "api"})]
        v = view(policies=policies, pods=pods, services=[service("acme-web", "lb", "LoadBalancer")],
                 routes=[route("acme-web", "r", {"termination": "reencrypt"})])
        findings = evaluate_network(s, TENANT, ZONES, OTHERS, v)
        assert not by_result(findings, Result.FAIL), [f.message_en for f in by_result(findings, Result.FAIL)]
        assert {f.rule.id for f in findings} == {f"NET-00{i}" for i in range(1, 8)}
        for f in findings:
            assert_bilingual(f)

    def test_open_tenant_fails_every_rule(self):
        v = view(pods=[pod("acme-api", "api", {"app": "api"}, [{"containerPort": 22}])],
                 policies=[netpol("acme-api", "allow-all", policyTypes=["Ingress"], ingress=[{}])],
                 services=[service("acme-api", "lb", "LoadBalancer", [{"port": 80}])],
                 ingresses=[ingress("acme-api", "i", tls=False)])
        findings = evaluate_network(spec(), TENANT, ZONES, OTHERS, v)
        failed = {f.rule.id for f in by_result(findings, Result.FAIL)}
        assert failed == {f"NET-00{i}" for i in range(1, 8)}
        for f in findings:
            assert_bilingual(f)

    def test_one_network_policy_engine_per_evaluation(self, monkeypatch):
        # NET-003, NET-004 and NET-005 share the engine: building it indexes every pod and policy of the view.
        built: list[object] = []

        class Counted(network.NetworkPolicyEngine):
            def __init__(self, v: ClusterView) -> None:
                built.append(v)
                super().__init__(v)

        monkeypatch.setattr(network, "NetworkPolicyEngine", Counted)
        v = view(pods=[pod("acme-api", "api", {"app": "api"})], policies=[api_ingress()])
        evaluate_network(spec(flows=[WEB_TO_API]), TENANT, ZONES, OTHERS, v)
        evaluate_network(spec(flows=[WEB_TO_API]), TENANT, ZONES, OTHERS, v)
        assert built == [v, v]

    def test_a_tenant_judged_on_another_view_is_judged_on_that_view(self):
        tenant = Tenant(spec(), "acme", ["acme-api"], ZONES, frozenset(OTHERS))
        open_view = view(pods=[pod("acme-api", "api", {"app": "api"})])
        closed_view = view(pods=[pod("acme-api", "api", {"app": "api"})], policies=[deny_all("acme-api")])

        def net004(v: ClusterView) -> Result:
            return only([f for f in network.family.evaluate(tenant, v, datetime.min) if f.rule.id == "NET-004"]).result

        assert (net004(open_view), net004(closed_view)) == (Result.FAIL, Result.PASS)
