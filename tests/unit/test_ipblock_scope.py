"""What a TenantPolicy takes of the other tenants' pods, and which pod events re-evaluate it.

An ipBlock admits the pods whose address it holds (NET-004), and a namespaceSelector names the
pods of the namespaces it matches (NET-005): of the other tenants' pods, a tenant's view needs
those only, and only their events concern it. The verdict must stay the one every pod gives.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sncguard.controller.engine import Engine, policy_index_name
from sncguard.controller.kinds import BY_KIND, CLUSTER
from sncguard.controller.kube import KubeClient
from sncguard.controller.state import PolicyKey, PolicyRecord
from sncguard.controller.tenantpolicy import TenantPolicyReconciler
from sncguard.evaluation import evaluate_tenantpolicy, tenant_scope
from sncguard.findings import Result
from sncguard.loader import parse_policy_spec
from sncguard.netpol import ForeignPodReach, IPBlock
from sncguard.view import ClusterView, Namespace, NetworkPolicy, Pod

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ACME = PolicyKey("TenantPolicy", "", "acme")
GLOBEX = PolicyKey("TenantPolicy", "", "globex")
INITECH = PolicyKey("TenantPolicy", "", "initech")


def pod(namespace: str, name: str, ip: str = "", labels: dict | None = None, ports: list[dict] | None = None,
        host_network: bool = False) -> Pod:
    return Pod.from_obj({"metadata": {"namespace": namespace, "name": name, "labels": labels or {}},
                         "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports or []}],
                                  **({"hostNetwork": True} if host_network else {})},
                         "status": {"phase": "Running", **({"podIP": ip} if ip else {})}})


# The pods each engine's events moved, as an informer's store keeps them: what a pod was before its next event.
_MOVED: weakref.WeakKeyDictionary[Engine, dict[tuple[str, str], Pod]] = weakref.WeakKeyDictionary()


def move_pod(engine: Engine, namespace: str, name: str, projection: Pod | None) -> None:
    """What the informer does on a pod's event: the store is already updated; the callback gets the
    projection before (the one last moved there, None at first) and after."""
    moved = _MOVED.setdefault(engine, {})
    before = moved.pop((namespace, name), None)
    if projection is not None:
        moved[(namespace, name)] = projection
    BY_KIND["Pod"].affects(engine, namespace, name, before, projection)


def _engine_reading(blocks: dict[PolicyKey, list[dict]]) -> Engine:
    engine = Engine(KubeClient())
    for key, raw in blocks.items():
        engine.remember_foreign_pods(key, ForeignPodReach(tuple(IPBlock.parse(b) for b in raw)), ())
    engine.tenant_policies_of_namespace.cover(GLOBEX, ["globex-0"])
    return engine


# ---- which pod events mark a tenant -------------------------------------------------------------


def test_a_pod_whose_address_no_ipblock_holds_marks_no_other_tenant():
    engine = _engine_reading({ACME: [{"cidr": "10.0.0.0/16", "except": ["10.0.9.0/24"]}]})
    move_pod(engine, "globex-0", "far", pod("globex-0", "far", "192.168.1.1"))
    move_pod(engine, "globex-0", "excepted", pod("globex-0", "excepted", "10.0.9.7"))
    move_pod(engine, "globex-0", "pending", pod("globex-0", "pending"))
    move_pod(engine, "elsewhere", "gone", None)
    assert engine.queue.dirty == {GLOBEX}, "only the pod's own tenant, promptly"
    assert engine.queue.deferred == set()


def test_a_pod_inside_an_ipblock_marks_its_tenant_deferred():
    engine = _engine_reading({ACME: [{"cidr": "10.0.0.0/16"}], INITECH: [{"cidr": "172.16.0.0/12"}]})
    move_pod(engine, "globex-0", "shop", pod("globex-0", "shop", "10.0.1.2"))
    assert engine.queue.dirty == {GLOBEX, ACME} and engine.queue.deferred == {ACME}


def test_a_hostnetwork_pod_is_judged_by_its_nodes_address():
    engine = _engine_reading({ACME: [{"cidr": "10.4.0.0/16"}]})
    move_pod(engine, "globex-0", "agent", pod("globex-0", "agent", "10.4.0.1", host_network=True))
    assert ACME in engine.queue.deferred


def test_a_pod_that_leaves_the_block_marks_the_tenant_once_more_then_no_longer():
    engine = _engine_reading({ACME: [{"cidr": "10.0.0.0/16"}]})
    move_pod(engine, "globex-0", "shop", pod("globex-0", "shop", "10.0.1.2"))
    engine.queue.dirty.clear(), engine.queue.deferred.clear()
    move_pod(engine, "globex-0", "shop", pod("globex-0", "shop", "192.168.1.2"))
    assert ACME in engine.queue.deferred, "its old address was in the block: NET-004 may pass now"
    engine.queue.dirty.clear(), engine.queue.deferred.clear()
    move_pod(engine, "globex-0", "shop", pod("globex-0", "shop", "192.168.1.3"))
    assert ACME not in engine.queue.dirty


def test_a_deleted_pod_the_block_held_marks_the_tenant_even_if_only_its_evaluation_saw_it():
    """A pod listed before the operator started never had an event: the tenant's evaluation saw it."""
    engine = Engine(KubeClient())
    block = IPBlock.parse({"cidr": "10.0.0.0/16"})
    listed = pod("globex-0", "shop", "10.0.1.2")
    engine.remember_foreign_pods(ACME, ForeignPodReach((block,)), [listed, pod("globex-0", "far", "192.168.0.1")])
    move_pod(engine, "globex-0", "far", None)
    assert ACME not in engine.queue.dirty
    move_pod(engine, "globex-0", "shop", None)
    assert ACME in engine.queue.deferred
    assert ("globex-0", "shop") not in engine.pod_addresses_in_blocks


def test_a_pod_of_a_namespace_a_namespaceselector_names_marks_the_tenant():
    engine = Engine(KubeClient())
    engine.remember_foreign_pods(ACME, ForeignPodReach((), {"initech-x": (None,)}), ())
    move_pod(engine, "initech-x", "db", pod("initech-x", "db", "172.16.0.5"))
    assert engine.queue.deferred == {ACME}
    # Re-evaluated without that selector: no longer.
    engine.queue.dirty.clear(), engine.queue.deferred.clear()
    engine.remember_foreign_pods(ACME, ForeignPodReach(), ())
    move_pod(engine, "initech-x", "db", None)
    assert engine.queue.dirty == set()


def test_a_deleted_tenant_policy_is_marked_by_no_pod():
    engine = _engine_reading({ACME: [{"cidr": "10.0.0.0/16"}]})
    engine.forget(ACME)
    move_pod(engine, "globex-0", "shop", pod("globex-0", "shop", "10.0.1.2"))
    assert ACME not in engine.queue.dirty


# ---- the restricted view judges as every pod does ----------------------------------------------


def namespace(name: str, tenant: str | None, zone: str = "lan") -> Namespace:
    labels = {"sncguard.io/tenant": tenant, "sncguard.io/zone": zone} if tenant else {}
    return Namespace.from_obj({"metadata": {"name": name, "labels": labels}})


def netpol(namespace_: str, name: str, **spec: Any) -> NetworkPolicy:
    spec.setdefault("podSelector", {})
    return NetworkPolicy.from_obj({"metadata": {"namespace": namespace_, "name": name}, "spec": spec})


def tenant_spec(tenant: str, **fields: Any) -> dict[str, Any]:
    return {"tenant": tenant, "namespaceSelector": {"matchLabels": {"sncguard.io/tenant": tenant}},
            "zones": {"dmz": {"matchLabels": {"sncguard.io/zone": "dmz"}},
                      "lan": {"matchLabels": {"sncguard.io/zone": "lan"}}}, **fields}


INITECH_DB = {"namespaceSelector": {"matchLabels": {"sncguard.io/tenant": "initech"}},
              "podSelector": {"matchLabels": {"app": "db"}}}
SPECS = {
    "acme": tenant_spec("acme", flows=[{"name": "web-to-db", "from": {"zone": "dmz"}, "to": INITECH_DB,
                                        "ports": [{"protocol": "TCP", "port": 5432}]}]),
    "globex": tenant_spec("globex"),
    "initech": tenant_spec("initech"),
}
NAMESPACES = [namespace("acme-web", "acme", "dmz"), namespace("acme-api", "acme"), namespace("globex-a", "globex"),
              namespace("globex-b", "globex"), namespace("initech-x", "initech"), namespace("kube-system", None)]
POLICIES = [
    netpol("acme-web", "deny-all", policyTypes=["Ingress", "Egress"]),
    netpol("acme-api", "deny-all", policyTypes=["Ingress", "Egress"]),
    netpol("acme-api", "from-lan", policyTypes=["Ingress"],
           ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}]}]),
    # A named port: whether a flow covers it depends on the other tenant's pods that declare it.
    netpol("acme-web", "to-db", policyTypes=["Egress"], egress=[{"to": [INITECH_DB], "ports": [{"port": "postgres"}]}]),
    netpol("globex-a", "open", policyTypes=["Ingress"], ingress=[{}]),
]
PODS = [
    pod("acme-api", "api", "10.0.0.4"),
    pod("acme-web", "web", "10.0.0.5"),
    pod("globex-a", "shop-1", "10.1.2.3"),  # in the block: NET-004 fails
    pod("globex-a", "shop-2", "10.9.0.3"),  # excepted
    pod("globex-b", "agent", "10.4.0.1", host_network=True),  # its node's address, in the block
    pod("globex-b", "pending"),  # no address yet
    pod("globex-b", "far", "192.168.1.1"),
    pod("initech-x", "db", "172.16.0.5", {"app": "db"}, [{"containerPort": 5432, "name": "postgres"}]),
    pod("kube-system", "dns", "10.2.0.1"),  # no tenant's
]


class Judging(Engine):
    """Keeps the findings of each evaluation instead of writing a status."""

    def __init__(self) -> None:
        super().__init__(KubeClient(), clock=lambda: NOW)
        self.findings: dict[PolicyKey, list] = {}
        self.writer.write_status = self._keep_findings  # type: ignore[method-assign]

    async def _keep_findings(self, record, status, findings=None) -> bool:
        self.findings[record.key] = findings
        return False


def _operator() -> Judging:
    engine = Judging()
    records = [PolicyRecord(PolicyKey("TenantPolicy", "", name), f"uid-{name}", 1, spec, {})
               for name, spec in SPECS.items()]
    by_namespace: dict[str, list] = {}
    for p in PODS:
        by_namespace.setdefault(p.namespace, []).append(p)
    policies: dict[str, list] = {}
    for p in POLICIES:
        policies.setdefault(p.namespace, []).append(p)
    engine.attach({policy_index_name("TenantPolicy"): {"": records},
                   BY_KIND["Namespace"].index_id: {CLUSTER: NAMESPACES},
                   BY_KIND["Pod"].index_id: by_namespace,
                   BY_KIND["NetworkPolicy"].index_id: policies}, [TenantPolicyReconciler()])
    return engine


def _offline(name: str) -> list:
    """What `sncguard check` judges: every pod of the cluster in the view."""
    view = ClusterView(namespaces={n.name: n for n in NAMESPACES}, pods=list(PODS), network_policies=list(POLICIES),
                       pods_observed=True, nodes_observed=True)
    others = [parse_policy_spec("TenantPolicy", s) for other, s in SPECS.items() if other != name]
    spec = parse_policy_spec("TenantPolicy", SPECS[name])
    return evaluate_tenantpolicy(spec, name, tenant_scope(spec, view.namespaces, others), view, NOW).findings


def test_the_restricted_view_judges_as_every_pod_does():
    engine = _operator()

    async def evaluate_all():
        for key in (ACME, GLOBEX, INITECH):
            await engine.reconcile(key)

    asyncio.run(evaluate_all())
    for key in (ACME, GLOBEX, INITECH):
        assert engine.findings[key] == _offline(key.name), key.name
    net004 = [f for f in engine.findings[ACME] if f.rule_id == "NET-004" and f.result is Result.FAIL]
    assert [f.resource.name for f in net004] == ["from-lan"]
    assert "globex-a/shop-1 (10.1.2.3)" in net004[0].message_en
    assert "globex-b/agent (10.4.0.1, hostNetwork)" in net004[0].message_en
    net005 = [f for f in engine.findings[ACME] if f.rule_id == "NET-005" and f.resource.name == "to-db"]
    assert net005 and all(f.result is Result.PASS for f in net005), "initech's db declares postgres as 5432"


def test_the_view_takes_of_the_other_tenants_pods_only_those_its_networkpolicies_name():
    engine = _operator()
    spec = parse_policy_spec("TenantPolicy", SPECS["acme"])
    others = [parse_policy_spec("TenantPolicy", SPECS[n]) for n in ("globex", "initech")]
    scope = tenant_scope(spec, {n.name: n for n in NAMESPACES}, others)
    view = TenantPolicyReconciler._view(engine, ACME, scope, {n.name: n for n in NAMESPACES})
    assert sorted((p.namespace, p.name) for p in view.pods) == [
        ("acme-api", "api"), ("acme-web", "web"), ("globex-a", "shop-1"), ("globex-b", "agent"), ("initech-x", "db")]
    # And what it took is what pod events are matched against.
    assert engine.tenant_policies_reading_pods_in["initech-x"] == {ACME}
    assert set(engine.pod_addresses_in_blocks) == {("globex-a", "shop-1"), ("globex-b", "agent")}
    move_pod(engine, "globex-b", "far", pod("globex-b", "far", "192.168.1.9"))
    assert ACME not in engine.queue.dirty
    move_pod(engine, "globex-a", "shop-1", None)
    assert ACME in engine.queue.deferred


def test_the_other_tenants_pods_remembered_for_the_view_follow_every_pod_change():
    """The pods a tenant's peers name in another namespace are kept between evaluations (all tenants
    share the DNS rule); a pod added, changed or deleted there is seen by the next view, whichever
    tenant asked first, and judged as the whole cluster judges it."""
    engine = _operator()
    namespaces = {n.name: n for n in NAMESPACES}
    spec = parse_policy_spec("TenantPolicy", SPECS["acme"])
    others = [parse_policy_spec("TenantPolicy", SPECS[n]) for n in ("globex", "initech")]
    scope = tenant_scope(spec, namespaces, others)

    def foreign() -> list[tuple[str, str]]:
        view = TenantPolicyReconciler._view(engine, ACME, scope, namespaces)
        return sorted((p.namespace, p.name) for p in view.pods if p.namespace not in scope.namespaces)

    assert foreign() == [("globex-a", "shop-1"), ("globex-b", "agent"), ("initech-x", "db")]
    store = engine.indexes[BY_KIND["Pod"].index_id]
    # A second pod the ipBlock holds, in a namespace already asked about: the store, then the event.
    added = pod("globex-a", "shop-3", "10.1.2.4")
    store["globex-a"] = [*store["globex-a"], added]
    move_pod(engine, "globex-a", "shop-3", added)
    assert ("globex-a", "shop-3") in foreign()
    # Moved out of the block, then deleted: gone from the view each time.
    moved = pod("globex-a", "shop-1", "192.168.7.7")
    store["globex-a"] = [moved if p.name == "shop-1" else p for p in store["globex-a"]]
    move_pod(engine, "globex-a", "shop-1", moved)
    assert ("globex-a", "shop-1") not in foreign()
    store["initech-x"] = [p for p in store["initech-x"] if p.name != "db"]
    move_pod(engine, "initech-x", "db", None)
    assert foreign() == [("globex-a", "shop-3"), ("globex-b", "agent")]


def test_a_tenant_without_ipblocks_or_selectors_of_other_tenants_takes_none_of_their_pods():
    engine = _operator()
    spec = parse_policy_spec("TenantPolicy", SPECS["globex"])
    others = [parse_policy_spec("TenantPolicy", SPECS[n]) for n in ("acme", "initech")]
    scope = tenant_scope(spec, {n.name: n for n in NAMESPACES}, others)
    view = TenantPolicyReconciler._view(engine, GLOBEX, scope, {n.name: n for n in NAMESPACES})
    assert {p.namespace for p in view.pods} == {"globex-a", "globex-b"}
    assert GLOBEX not in engine.tenant_ip_blocks


def test_a_peer_s_podselector_narrows_the_foreign_pods_a_tenant_names():
    """A DNS egress rule to `namespaceSelector: {}` and the kube-dns podSelector names the DNS pods of
    every namespace, not every pod: only those enter the tenant's view and re-mark it."""
    dns = {"matchLabels": {"k8s-app": "kube-dns"}}
    reach = ForeignPodReach((), {"kube-system": (dns,), "initech-x": (dns,)})
    dns_pod = replace(pod("kube-system", "coredns", "10.96.0.10"), labels={"k8s-app": "kube-dns"})
    other = pod("initech-x", "db", "172.16.0.5")
    assert reach.names(dns_pod) and not reach.names(other)
    engine = Engine(KubeClient())
    engine.remember_foreign_pods(ACME, reach, [dns_pod, other])
    move_pod(engine, "initech-x", "db", other)
    assert engine.queue.dirty == set(), "a pod no peer selects moves no verdict"
    move_pod(engine, "kube-system", "coredns", replace(dns_pod, pod_ip="10.96.0.11"))
    assert engine.queue.deferred == {ACME}
    engine.queue.dirty.clear(), engine.queue.deferred.clear()
    # Relabelled out of the selector: marks once (it left), then no more.
    move_pod(engine, "kube-system", "coredns", replace(dns_pod, labels={}))
    assert engine.queue.deferred == {ACME}
    engine.queue.dirty.clear(), engine.queue.deferred.clear()
    move_pod(engine, "kube-system", "coredns", replace(dns_pod, labels={"tier": "x"}))
    assert engine.queue.dirty == set()


def test_another_tenant_policy_claiming_namespaces_moves_this_tenant_s_verdict():
    """Which namespaces are *other tenants'* depends on the other TenantPolicies: globex's selector
    widened to kube-system makes the DNS pod that acme's ipBlock holds another tenant's (NET-004).
    The spec change of globex must bring acme's verdict with it, as the offline check judges it."""
    engine = _operator()

    async def evaluate(*keys: PolicyKey) -> None:
        for key in keys:
            await engine.reconcile(key)

    asyncio.run(evaluate(ACME, GLOBEX, INITECH))
    assert "kube-system/dns" not in str([f.message_en for f in engine.findings[ACME]])
    index = engine.indexes[policy_index_name("TenantPolicy")]
    widened = {**SPECS["globex"], "namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["globex-a", "globex-b", "kube-system"]}]}}
    body = {"metadata": {"name": "globex", "uid": "uid-globex", "generation": 2}, "spec": widened, "status": {}}
    index[""] = [r for r in index[""] if r.key != GLOBEX] + [PolicyRecord.from_body("TenantPolicy", body)]
    engine.queue.dirty.clear(), engine.queue.deferred.clear()
    engine.policy_event("TenantPolicy", "MODIFIED", body)
    assert ACME in engine.queue.dirty and INITECH in engine.queue.dirty, "the other tenants' scopes moved"
    asyncio.run(evaluate(GLOBEX, ACME, INITECH))
    SPECS_NOW = {**SPECS, "globex": widened}
    view = ClusterView(namespaces={n.name: n for n in NAMESPACES}, pods=list(PODS), network_policies=list(POLICIES),
                       pods_observed=True, nodes_observed=True)
    spec = parse_policy_spec("TenantPolicy", SPECS_NOW["acme"])
    others = [parse_policy_spec("TenantPolicy", s) for other, s in SPECS_NOW.items() if other != "acme"]
    offline = evaluate_tenantpolicy(spec, "acme", tenant_scope(spec, view.namespaces, others), view, NOW).findings
    assert engine.findings[ACME] == offline
    assert "kube-system/dns" in str([f.message_en for f in engine.findings[ACME]])
    # An edit that leaves every selector as it was (a flow, a grant) moves no other tenant.
    engine.queue.dirty.clear(), engine.queue.deferred.clear()
    body = {**body, "metadata": {**body["metadata"], "generation": 3},
            "spec": {**widened, "allowedRegions": ["eu-fr-paris"]}}
    index[""] = [r for r in index[""] if r.key != GLOBEX] + [PolicyRecord.from_body("TenantPolicy", body)]
    engine.policy_event("TenantPolicy", "MODIFIED", body)
    assert engine.queue.dirty == {GLOBEX}


def test_a_namespace_change_marks_the_tenants_it_can_move_and_no_other():
    engine = _operator()

    async def evaluate(*keys: PolicyKey) -> None:
        for key in keys:
            await engine.reconcile(key)

    asyncio.run(evaluate(ACME, GLOBEX, INITECH))

    def namespace_event(ns: Namespace | None, name: str) -> tuple[set, set]:
        """What the informer does: the store first, then the change callback."""
        store = engine.indexes[BY_KIND["Namespace"].index_id]
        before = next((n for n in store[CLUSTER] if n.name == name), None)
        store[CLUSTER] = [n for n in store[CLUSTER] if n.name != name] + ([ns] if ns is not None else [])
        engine.queue.dirty.clear(), engine.queue.deferred.clear()
        BY_KIND["Namespace"].affects(engine, "", name, before, ns)
        return engine.queue.dirty - engine.queue.deferred, set(engine.queue.deferred)

    # initech's new namespace: initech at once; acme later (its flow's peer names initech's
    # namespaces); globex's peers name no other namespace and it has no ipBlock: not at all.
    prompt, later = namespace_event(namespace("initech-y", "initech"), "initech-y")
    assert (prompt, later) == ({INITECH}, {ACME})
    # A namespace of no tenant that no peer names: nobody.
    assert namespace_event(namespace("scratch", None), "scratch") == (set(), set())
    # Relabelled into initech: initech at once, acme later; and back out: the same, from the labels before.
    assert namespace_event(namespace("scratch", "initech"), "scratch") == ({INITECH}, {ACME})
    asyncio.run(evaluate(INITECH))  # as the engine does next: initech now covers scratch
    assert namespace_event(namespace("scratch", None), "scratch") == ({INITECH}, {ACME})
    # Deleted: those that covered it and those whose peers matched it before.
    assert namespace_event(None, "initech-y") == ({INITECH}, {ACME})
    # A namespace with pods that acme's ipBlock may hold: acme, whatever its labels.
    assert namespace_event(namespace("globex-b", None), "globex-b") == ({GLOBEX}, {ACME})
    # A tenant not evaluated yet has recorded nothing: it is evaluated later, to be safe.
    engine.tenant_namespace_selectors.pop(GLOBEX)
    assert namespace_event(namespace("scratch2", None), "scratch2") == (set(), {GLOBEX})
