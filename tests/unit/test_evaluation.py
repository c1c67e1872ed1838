"""evaluation.py's TenantPolicy scoping: which namespaces a tenant covers, where two tenants meet, and
which evidence the operator and the offline check judge a tenant on."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from sncguard.api.tenantpolicy import TenantPolicySpec
from sncguard.controller.engine import Engine, policy_index_name
from sncguard.controller.kinds import BY_KIND
from sncguard.controller.kube import KubeClient
from sncguard.controller.state import PolicyKey, PolicyRecord
from sncguard.controller.tenantpolicy import TenantPolicyReconciler
from sncguard.evaluation import evaluate_tenantpolicy, tenant_scope, yielded_namespaces
from sncguard.view import ClusterView, Namespace, project


def spec(tenant: str, mode: str = "Enforce", **labels: str) -> TenantPolicySpec:
    return TenantPolicySpec.model_validate({
        "mode": mode, "tenant": tenant,
        "namespaceSelector": {"matchLabels": labels or {"tenant": tenant}},
        "zones": {"lan": {"matchLabels": {"zone": "lan"}}},
        "allowedRegions": ["eu-fr-paris"],
    })


NAMESPACES = {n.name: n for n in (
    Namespace.from_obj({"metadata": {"name": "a-lan", "labels": {"tenant": "a", "zone": "lan"}}}),
    Namespace.from_obj({"metadata": {"name": "shared", "labels": {"tenant": "a", "zone": "lan", "team": "b"}}}),
    Namespace.from_obj({"metadata": {"name": "b-lan", "labels": {"tenant": "b", "team": "b", "zone": "lan"}}}),
)}


def test_scope_lists_the_tenants_namespaces_their_zones_and_the_others():
    scope = tenant_scope(spec("a"), NAMESPACES, [spec("b", team="b")])
    assert scope.namespaces == ["a-lan", "shared"]
    assert scope.zone_of_namespace == {"a-lan": "lan", "shared": "lan"}
    assert scope.other_tenant_namespaces == {"b-lan"}


def test_a_namespace_two_policies_select_is_enforced_by_the_first_by_name():
    alpha, beta = spec("a"), spec("b", team="b")
    assert yielded_namespaces("alpha", ["a-lan", "shared"], NAMESPACES, {"beta": beta}) == {}
    assert yielded_namespaces("beta", ["shared", "b-lan"], NAMESPACES, {"alpha": alpha}) == {"shared": "alpha"}


def test_the_earliest_name_wins_among_several():
    others = {"zeta": spec("z", team="b"), "alpha": spec("a"), "gamma": spec("g", zone="lan")}
    assert yielded_namespaces("omega", ["shared", "b-lan"], NAMESPACES, others) == {
        "shared": "alpha", "b-lan": "gamma"}
    assert yielded_namespaces("aaa", ["shared", "b-lan"], NAMESPACES, others) == {}


# ---- The evidence of a TenantPolicy: its namespaces, plus the other tenants' ----------------------

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
REGION = "topology.kubernetes.io/region"


def _obj(kind: str, namespace: str, name: str, spec: dict | None = None, **extra: Any) -> Any:
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    meta.update(extra.pop("metadata", {}))
    return project(kind, {"metadata": meta, **({"spec": spec} if spec is not None else {}), **extra})


def _pod(namespace: str, name: str, ip: str, labels: dict | None = None) -> Any:
    return _obj("Pod", namespace, name, {"nodeName": "n1", "containers": [{"name": "c", "ports": []}]},
                metadata={"labels": labels or {}}, status={"phase": "Running", "podIP": ip})


def _tenant_objects(namespace: str, ip_prefix: str, block: str) -> list[tuple[str, Any]]:
    """One tenant namespace's objects: pods with addresses, a default deny, an ipBlock rule, an open
    LoadBalancer, a binding and a claim."""
    return [
        ("Pod", _pod(namespace, "api", f"{ip_prefix}.4", {"app": "api"})),
        ("Pod", _pod(namespace, "db", f"{ip_prefix}.5", {"app": "db"})),
        ("NetworkPolicy", _obj("NetworkPolicy", namespace, "deny-all",
                               {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})),
        ("NetworkPolicy", _obj("NetworkPolicy", namespace, "partner", {
            "podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": block}}, {"podSelector": {}}]}]})),
        ("Service", _obj("Service", namespace, "lb", {"type": "LoadBalancer", "selector": {"app": "api"},
                                                       "ports": [{"port": 443, "targetPort": "https"}]})),
        ("RoleBinding", _obj("RoleBinding", namespace, "dev", roleRef={"kind": "ClusterRole", "name": "edit"},
                             subjects=[{"kind": "User", "name": f"dev-{namespace}"}])),
        ("PersistentVolumeClaim", _obj("PersistentVolumeClaim", namespace, "data", {"volumeName": "pv-x"})),
    ]


TENANT_NAMESPACES = [
    Namespace.from_obj({"metadata": {"name": "a-lan", "labels": {"tenant": "a", "zone": "lan"}}}),
    Namespace.from_obj({"metadata": {"name": "a-web", "labels": {"tenant": "a", "zone": "lan"}}}),
    Namespace.from_obj({"metadata": {"name": "b-lan", "labels": {"tenant": "b", "zone": "lan"}}}),
    Namespace.from_obj({"metadata": {"name": "platform"}}),
]
NODE = _obj("Node", "", "n1", metadata={"labels": {REGION: "eu-fr-paris"}})


def _view(objects: list[tuple[str, Any]], namespaces: set[str] | None = None) -> ClusterView:
    """A view of every cluster-scoped object and of the namespaced ones of `namespaces` (None: all),
    as the operator builds one."""
    view = ClusterView(namespaces={n.name: n for n in TENANT_NAMESPACES}, nodes={"n1": NODE},
                       pods_observed=True, nodes_observed=True)
    for kind, projection in objects:
        if namespaces is None or not getattr(projection, "namespace", "") or projection.namespace in namespaces:
            view.add(kind, [projection])
    return view


def _comparable(findings: list) -> list[tuple]:
    return sorted((f.rule.id, f.result, f.resource.kind, f.resource.namespace, f.resource.name, f.field,
                   f.message_en, f.message_fr) for f in findings)


def test_other_tenants_namespaces_in_the_view_change_nothing_when_tenants_do_not_interact():
    # a's ipBlock holds none of b's addresses, and the other way round: the extra evidence is moot.
    # a-web's block holds a-lan's addresses too: the same tenant's, so no NET-004 either way.
    objects = [*_tenant_objects("a-lan", "10.1.0", "192.168.0.0/16"),
               *_tenant_objects("a-web", "10.1.1", "10.1.0.0/16"),
               *_tenant_objects("b-lan", "10.2.0", "10.2.0.0/24"),
               ("NetworkPolicy", _obj("NetworkPolicy", "b-lan", "allow-all",
                                      {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]})),
               ("Pod", _pod("platform", "router", "10.9.0.1"))]
    specs = {"a": spec("a"), "b": spec("b")}
    for name, s in specs.items():
        scope = tenant_scope(s, _view([]).namespaces, [o for n, o in specs.items() if n != name])
        assert scope.other_tenant_namespaces
        minimal = evaluate_tenantpolicy(s, name, scope, _view(objects, set(scope.namespaces)), NOW).findings
        wider = evaluate_tenantpolicy(s, name, scope, _view(objects, set(scope.namespaces)
                                                            | scope.other_tenant_namespaces), NOW).findings
        assert _comparable(wider) == _comparable(minimal)
        assert {f.rule.id for f in wider} >= {f"NET-00{i}" for i in range(1, 8)}
        # Only the tenant's own namespaces are reported on (cluster-scoped objects aside).
        assert {f.resource.namespace for f in wider} - {""} == set(scope.namespaces)
        assert {f.resource.name for f in wider if f.resource.kind == "Namespace"} <= set(scope.namespaces)


class _Capturing(Engine):
    """An engine whose status writes only keep the findings."""

    findings: list

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writer.write_status = self._keep_findings  # type: ignore[method-assign]

    async def _keep_findings(self, record, status, findings=None) -> bool:
        self.findings = list(findings or [])
        return True


def test_the_operator_judges_net004_on_other_tenants_pods_as_the_offline_check_does():
    # a admits 10.0.0.0/8, where b's pods live: another tenant can reach in (NET-004).
    objects = [*_tenant_objects("a-lan", "10.1.0", "192.168.0.0/16"),
               *_tenant_objects("a-web", "10.1.1", "10.0.0.0/8"),
               *_tenant_objects("b-lan", "10.2.0", "10.2.0.0/24")]
    engine = _Capturing(KubeClient(), clock=lambda: NOW)
    indexes: dict[str, dict[str, list]] = {BY_KIND["Namespace"].index_id: {"": list(TENANT_NAMESPACES)},
                                           BY_KIND["Node"].index_id: {"": [NODE]}}
    for kind, projection in objects:
        indexes.setdefault(BY_KIND[kind].index_id, {}).setdefault(projection.namespace, []).append(projection)
    records = {name: PolicyRecord(PolicyKey("TenantPolicy", "", name), f"uid-{name}", 1,
                                  spec(name, mode="Audit").dump(), {})
               for name in ("a", "b")}
    indexes[policy_index_name("TenantPolicy")] = {"": list(records.values())}
    engine.attach(indexes, [TenantPolicyReconciler()])

    asyncio.run(TenantPolicyReconciler().reconcile(engine, records["a"]))

    scope = tenant_scope(spec("a"), _view([]).namespaces, [spec("b")])
    offline = evaluate_tenantpolicy(spec("a"), "a", scope, _view(objects), NOW).findings
    assert _comparable(engine.findings) == _comparable(offline)
    net004 = [f for f in engine.findings if f.rule.id == "NET-004" and f.result.value == "fail"]
    assert [(f.resource.namespace, f.resource.name) for f in net004] == [("a-web", "partner")]
    assert "b-lan/api (10.2.0.4)" in net004[0].message_en and "b-lan/db (10.2.0.5)" in net004[0].message_en
    # The tenant's own pods in the block are no other tenant's.
    assert "a-lan/" not in net004[0].message_en
