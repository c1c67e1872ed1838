"""Enforce mode for access grants: the RoleBindings sncguard owns, and which of them are stale."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sncguard.api.tenantpolicy import TenantPolicySpec
from sncguard.findings import Result
from sncguard.plans.tenantpolicy_access import (
    GRANT_PREFIX,
    binding_name,
    grant_bindings,
    policy_label_value,
    stale_grant_bindings,
)
from sncguard.rules.access import check_authorised_subjects, check_expired_grants
from sncguard.view import ClusterView, RoleBinding

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
TENANT = ["shop", "shop-db"]
POLICY = "acme"
UID = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
# A DNS subdomain (what RoleBinding names must be): lowercase alphanumerics, '-' and '.', <= 253.
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def spec(*grants: dict, **fields: Any) -> TenantPolicySpec:
    base: dict[str, Any] = {"tenant": "acme", "namespaceSelector": {"matchLabels": {"sncguard.io/tenant": "acme"}}}
    if grants:
        base["accessGrants"] = list(grants)
    return TenantPolicySpec.model_validate({**base, **fields})


def grant(kind: str = "User", name: str = "ops@provider.example", role: str = "view", expires: datetime = LATER,
          reason: str = "ticket 4711", namespace: str | None = None) -> dict:
    subject: dict[str, Any] = {"kind": kind, "name": name}
    if namespace is not None:
        subject["namespace"] = namespace
    return {"subject": subject, "clusterRole": role, "expires": expires.isoformat(), "reason": reason}


def plan(s: TenantPolicySpec, namespaces: list[str] = TENANT, now: datetime = NOW) -> list[dict]:
    return grant_bindings(POLICY, UID, s, namespaces, now)


def project(objs: list[dict]) -> list[RoleBinding]:
    return [RoleBinding.from_obj(o, kind=o["kind"]) for o in objs]


def user_binding(name: str, namespace: str = "shop", labels: dict | None = None,
                 kind: str = "RoleBinding") -> RoleBinding:
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if kind == "RoleBinding":
        meta["namespace"] = namespace
    return RoleBinding.from_obj(kind=kind, obj={"metadata": meta,
                                 "roleRef": {"kind": "ClusterRole", "name": "view"},
                                 "subjects": [{"kind": "User", "name": "someone"}]})


OWNED = {"app.kubernetes.io/managed-by": "sncguard", "sncguard.io/tenant-policy": POLICY}


# --------------------------------------------------------------------------------------------
# grant_bindings: shape


def test_user_grant_binding_shape():
    objs = plan(spec(grant()), namespaces=["shop"])
    assert len(objs) == 1
    obj = objs[0]
    assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1" and obj["kind"] == "RoleBinding"
    meta = obj["metadata"]
    assert meta["namespace"] == "shop"
    assert meta["name"].startswith(GRANT_PREFIX) and DNS_SUBDOMAIN.fullmatch(meta["name"])
    assert len(meta["name"]) <= 63
    assert meta["labels"] == {"app.kubernetes.io/managed-by": "sncguard", "sncguard.io/tenant-policy": POLICY}
    assert meta["annotations"] == {"sncguard.io/expires": "2026-07-01T12:00:00Z", "sncguard.io/reason": "ticket 4711"}
    assert meta["ownerReferences"] == [{"apiVersion": "sncguard.io/v1alpha1", "kind": "TenantPolicy", "name": POLICY,
                                        "uid": UID, "controller": True, "blockOwnerDeletion": False}]
    assert obj["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    assert obj["subjects"] == [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io",
                                "name": "ops@provider.example"}]


def test_group_subject_carries_the_rbac_api_group():
    [obj] = plan(spec(grant("Group", "auditors")), namespaces=["shop"])
    assert obj["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "auditors"}]


def test_service_account_subject_carries_its_namespace_and_no_api_group():
    [obj] = plan(spec(grant("ServiceAccount", "auditor", namespace="tools")), namespaces=["shop"])
    assert obj["subjects"] == [{"kind": "ServiceAccount", "name": "auditor", "namespace": "tools"}]


def test_service_account_without_namespace_gets_the_bindings_namespace():
    objs = plan(spec(grant("ServiceAccount", "auditor")))
    assert [o["subjects"][0]["namespace"] for o in objs] == ["shop", "shop-db"]


def test_one_binding_per_active_grant_and_tenant_namespace_sorted():
    objs = plan(spec(grant(name="a"), grant(name="b", role="edit"), grant(name="c", expires=NOW)))
    assert len(objs) == 4
    keys = [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objs]
    assert keys == sorted(keys)
    assert sorted({o["subjects"][0]["name"] for o in objs}) == ["a", "b"]
    assert {o["roleRef"]["name"] for o in objs if o["subjects"][0]["name"] == "b"} == {"edit"}


def test_grant_expiring_exactly_now_gets_no_binding():
    assert plan(spec(grant(expires=NOW))) == []
    assert len(plan(spec(grant(expires=NOW)), now=NOW - timedelta(seconds=1))) == 2


def test_no_grants_or_no_namespaces_no_bindings():
    assert plan(spec()) == []
    assert plan(spec(grant()), namespaces=[]) == []


@pytest.mark.parametrize("reverse", [False, True])
def test_duplicate_grants_make_one_binding_with_the_later_expiry(reverse):
    grants = [grant(expires=LATER, reason="first"), grant(expires=LATER + timedelta(days=1), reason="second")]
    objs = plan(spec(*(reversed(grants) if reverse else grants)), namespaces=["shop"])
    assert len(objs) == 1
    assert objs[0]["metadata"]["annotations"] == {"sncguard.io/expires": "2026-07-02T12:00:00Z",
                                                  "sncguard.io/reason": "second"}


# --------------------------------------------------------------------------------------------
# Names


def test_names_are_stable_and_distinguish_subject_and_role():
    s = spec(grant())
    assert plan(s) == plan(s)
    assert plan(s, now=NOW + timedelta(days=1)) == plan(s)  # the clock does not move names
    a = plan(spec(grant()), ["shop"])[0]["metadata"]["name"]
    assert plan(spec(grant(role="edit")), ["shop"])[0]["metadata"]["name"] != a
    assert plan(spec(grant(name="other")), ["shop"])[0]["metadata"]["name"] != a
    assert plan(spec(grant(kind="Group")), ["shop"])[0]["metadata"]["name"] != a
    # expiry and reason are not part of the name: extending a grant keeps its binding
    assert plan(spec(grant(expires=LATER + timedelta(days=9), reason="x")), ["shop"])[0]["metadata"]["name"] == a


def test_service_account_namespace_is_part_of_the_name():
    s = spec(grant("ServiceAccount", "bot", namespace="a"), grant("ServiceAccount", "bot", namespace="b"))
    assert len({o["metadata"]["name"] for o in plan(s, ["shop"])}) == 2


def test_user_binding_has_the_same_name_in_every_namespace():
    assert len({o["metadata"]["name"] for o in plan(spec(grant()))}) == 1


def test_names_stay_valid_for_awkward_subjects():
    s = spec(grant(name="Ops.Team@Provider.EXAMPLE/with spaces", role="system:aggregate-to-view"))
    [obj] = plan(s, ["shop"])
    assert DNS_SUBDOMAIN.fullmatch(obj["metadata"]["name"])
    assert binding_name(s.access_grants[0], "shop") == obj["metadata"]["name"]


def test_policy_label_value():
    assert policy_label_value("acme") == "acme"
    long = "a." * 60 + "tenant"
    value = policy_label_value(long)
    assert len(value) <= 63 and LABEL_VALUE.fullmatch(value) and value == policy_label_value(long)
    assert policy_label_value(long + "x") != value
    [obj] = grant_bindings(long, UID, spec(grant()), ["shop"], NOW)
    assert obj["metadata"]["labels"]["sncguard.io/tenant-policy"] == value
    assert obj["metadata"]["ownerReferences"][0]["name"] == long


@pytest.mark.parametrize("name", ["acme", "a" * 63, "a" * 64, "tenant." * 20 + "acme", "x-" * 40 + "y"])
def test_label_value_agrees_with_the_network_plan(name):
    # NetworkPolicies and RoleBindings of one TenantPolicy must carry the same policy label.
    from sncguard.plans import tenantpolicy_network as network

    assert policy_label_value(name) == network.tenant_policy_label_value(name)


# --------------------------------------------------------------------------------------------
# stale_grant_bindings


def test_nothing_stale_when_everything_is_desired():
    desired = plan(spec(grant()))
    assert stale_grant_bindings(project(desired), desired, POLICY) == []


def test_expired_or_removed_grant_bindings_are_stale():
    before = plan(spec(grant(name="a"), grant(name="b")))
    after = plan(spec(grant(name="a")))
    gone = sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in before
                  if o["subjects"][0]["name"] == "b")
    assert stale_grant_bindings(project(before), after, POLICY) == gone
    assert stale_grant_bindings(project(before), plan(spec(grant(name="a"), grant(name="b", expires=NOW))),
                                POLICY) == gone


def test_namespace_leaving_the_tenant_makes_its_binding_stale():
    before = plan(spec(grant()))
    after = plan(spec(grant()), namespaces=["shop"])
    name = before[0]["metadata"]["name"]
    assert stale_grant_bindings(project(before), after, POLICY) == [("shop-db", name)]


def test_a_users_binding_is_never_stale():
    name = plan(spec(grant()))[0]["metadata"]["name"]
    existing = [
        user_binding(name),                                                         # same name, no labels
        user_binding(name, labels={"app.kubernetes.io/managed-by": "sncguard"}),    # no policy label
        user_binding(name, labels={"sncguard.io/tenant-policy": POLICY}),           # not managed by sncguard
        user_binding("my-binding", labels=OWNED),                                   # not a grant binding name
        user_binding(name, labels={**OWNED, "sncguard.io/tenant-policy": "other"}),  # another policy's
        user_binding(name, labels=OWNED, kind="ClusterRoleBinding"),                # never ours
    ]
    assert stale_grant_bindings(existing, [], POLICY) == []
    assert stale_grant_bindings([user_binding(name, labels=OWNED)], [], POLICY) == [("shop", name)]


# --------------------------------------------------------------------------------------------
# The plan and the rules agree


def test_planned_bindings_pass_acc001_while_active_and_fail_acc003_once_expired():
    s = spec(grant(expires=LATER))
    bindings = project(plan(s))
    view = ClusterView(role_bindings=bindings)
    assert {f.result for f in check_authorised_subjects(s, TENANT, view, NOW)} == {Result.PASS}
    acc3 = check_expired_grants(s, POLICY, TENANT, view, LATER)
    assert [(f.result, f.resource.namespace) for f in acc3] == [(Result.FAIL, "shop"), (Result.FAIL, "shop-db")]
    assert stale_grant_bindings(bindings, plan(s, now=LATER), POLICY) == sorted(
        (b.namespace, b.name) for b in bindings)


@pytest.mark.parametrize("kind,namespace", [("ServiceAccount", "tools"), ("ServiceAccount", None)])
def test_planned_service_account_bindings_match_the_grant(kind, namespace):
    s = spec(grant(kind, "auditor", namespace=namespace))
    view = ClusterView(role_bindings=project(plan(s)))
    findings = check_authorised_subjects(s, TENANT, view, NOW)
    assert {f.result for f in findings} == {Result.PASS} and len(findings) == 2
