"""evaluation.py's TenantPolicy scoping: which namespaces a tenant covers, and where two tenants meet."""

from sncguard.api.tenantpolicy import TenantPolicySpec
from sncguard.evaluation import tenant_scope, yielded_namespaces
from sncguard.view import Namespace


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
