"""Access rules ACC-001..ACC-003, grant states and the expiry timer, each decided bullet both ways.

Bindings are built as Kubernetes dicts and projected through `RoleBinding.from_obj`, as the
operator and the offline check do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sncguard.api.tenantpolicy import GrantState, TenantPolicySpec
from sncguard.findings import Finding, Result, Severity
from sncguard.rules import access
from sncguard.rules.access import (
    HARMLESS_CLUSTER_ROLES,
    Identity,
    check_authorised_subjects,
    check_broad_groups,
    check_expired_grants,
    evaluate_access,
    grant_states,
    identity_of,
    is_harmless_cluster_binding,
    is_platform_identity,
    next_grant_expiry,
    rfc3339,
)
from sncguard.view import ClusterView, RoleBinding, Subject

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
EARLIER = NOW - timedelta(days=1)
TENANT = ["shop", "shop-db"]
POLICY = "acme"


# --------------------------------------------------------------------------------------------
# Builders


def spec(**fields: Any) -> TenantPolicySpec:
    base: dict[str, Any] = {"tenant": "acme", "namespaceSelector": {"matchLabels": {"sncguard.io/tenant": "acme"}}}
    return TenantPolicySpec.model_validate({**base, **fields})


def user(name: str) -> dict:
    return {"kind": "User", "name": name}


def group(name: str) -> dict:
    return {"kind": "Group", "name": name}


def sa(name: str, namespace: str | None = None) -> dict:
    out = {"kind": "ServiceAccount", "name": name}
    if namespace is not None:
        out["namespace"] = namespace
    return out


def rbac(subjects: tuple[dict, ...]) -> list[dict]:
    """Subjects as RBAC writes them: User and Group carry the RBAC apiGroup (the spec's do not)."""
    return [{**s, "apiGroup": "rbac.authorization.k8s.io"} if s["kind"] != "ServiceAccount" else s
            for s in subjects]


def rb(name: str, namespace: str, role: str, *subjects: dict, role_kind: str = "ClusterRole",
       labels: dict | None = None) -> RoleBinding:
    return RoleBinding.from_obj(kind="RoleBinding", obj={
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": rbac(subjects),
    })


def crb(name: str, role: str, *subjects: dict) -> RoleBinding:
    return RoleBinding.from_obj(kind="ClusterRoleBinding", obj={
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": rbac(subjects),
    })


def view(*bindings: RoleBinding) -> ClusterView:
    return ClusterView(role_bindings=list(bindings))


def grant(subject: dict, role: str = "view", expires: datetime = LATER, reason: str = "ticket 4711") -> dict:
    return {"subject": subject, "clusterRole": role, "expires": expires.isoformat(), "reason": reason}


def of(findings: list[Finding], rule_id: str, result: Result | None = None) -> list[Finding]:
    return [f for f in findings if f.rule_id == rule_id and (result is None or f.result is result)]


def acc1(s: TenantPolicySpec, *bindings: RoleBinding, now: datetime = NOW) -> list[Finding]:
    return check_authorised_subjects(s, TENANT, view(*bindings), now)


def verdict(s: TenantPolicySpec, subject: dict, *, namespace: str = "shop", role: str = "edit",
            role_kind: str = "ClusterRole", now: datetime = NOW) -> Result:
    """The ACC-001 verdict on a single-subject RoleBinding in `namespace`."""
    findings = acc1(s, rb("b", namespace, role, subject, role_kind=role_kind), now=now)
    assert len(findings) == 1, findings
    return findings[0].result


# --------------------------------------------------------------------------------------------
# ACC-001: the authorised list


def test_unlisted_user_fails_naming_binding_subject_role_and_field():
    findings = acc1(spec(authorizedSubjects=[group("acme-admins")]),
                    rb("devs", "shop", "edit", group("acme-admins"), user("mallory")))
    assert [f.result for f in findings] == [Result.FAIL]
    f = findings[0]
    assert f.rule_id == "ACC-001" and f.severity is Severity.HIGH
    assert (f.resource.kind, f.resource.namespace, f.resource.name) == ("RoleBinding", "shop", "devs")
    assert f.resource.api_version == "rbac.authorization.k8s.io/v1"
    assert f.field == "subjects[1]"
    assert "RoleBinding shop/devs" in f.message_en and "User mallory" in f.message_en
    assert "ClusterRole edit" in f.message_en and "spec.authorizedSubjects" in f.message_en
    assert "Le RoleBinding shop/devs" in f.message_fr and "à l'utilisateur mallory" in f.message_fr
    assert "n'est pas autorisé" in f.message_fr and "ClusterRole edit" in f.message_fr


def test_listed_subjects_pass_once_per_binding():
    s = spec(authorizedSubjects=[group("acme-admins"), user("alice")])
    findings = acc1(s, rb("devs", "shop", "edit", group("acme-admins"), user("alice")))
    assert [f.result for f in findings] == [Result.PASS]
    assert "spec.authorizedSubjects[0]" in findings[0].message_en
    assert "spec.authorizedSubjects[1]" in findings[0].message_en
    assert "sur la liste autorisée" in findings[0].message_fr


def test_kind_must_match_too():
    s = spec(authorizedSubjects=[group("alice")])
    assert verdict(s, user("alice")) is Result.FAIL
    assert verdict(s, group("alice")) is Result.PASS


def test_one_failure_per_unauthorised_subject_and_no_pass_for_that_binding():
    findings = acc1(spec(), rb("devs", "shop", "edit", user("a"), sa("default", "shop"), user("b")))
    assert [(f.result, f.field) for f in findings] == [(Result.FAIL, "subjects[0]"), (Result.FAIL, "subjects[2]")]


def test_listed_service_account_must_match_namespace():
    s = spec(authorizedSubjects=[sa("ci", "tools")])
    assert verdict(s, sa("ci", "tools")) is Result.PASS
    assert verdict(s, sa("ci", "other")) is Result.FAIL


def test_listed_service_account_without_namespace_means_the_bindings_namespace():
    s = spec(authorizedSubjects=[sa("ci")])
    assert verdict(s, sa("ci", "shop"), namespace="shop") is Result.PASS
    assert verdict(s, sa("ci", "tools"), namespace="shop") is Result.FAIL


def test_service_account_written_as_user_name_is_that_service_account():
    s = spec(authorizedSubjects=[sa("ci", "tools")])
    assert verdict(s, user("system:serviceaccount:tools:ci")) is Result.PASS
    assert verdict(s, user("system:serviceaccount:tools:other")) is Result.FAIL


# --------------------------------------------------------------------------------------------
# ACC-001: access grants


def test_active_grant_authorises_its_cluster_role():
    s = spec(accessGrants=[grant(user("ops@provider.example"), "view")])
    findings = acc1(s, rb("g", "shop", "view", user("ops@provider.example")))
    assert [f.result for f in findings] == [Result.PASS]
    assert "spec.accessGrants[0]" in findings[0].message_en and "ticket 4711" in findings[0].message_en


def test_grant_does_not_authorise_another_role():
    s = spec(accessGrants=[grant(user("ops"), "view")])
    findings = acc1(s, rb("g", "shop", "edit", user("ops")))
    assert [f.result for f in findings] == [Result.FAIL]
    assert "cover ClusterRole view, not ClusterRole edit" in findings[0].message_en


def test_grant_needs_a_cluster_role_ref_not_a_role_of_the_same_name():
    s = spec(accessGrants=[grant(user("ops"), "view")])
    assert verdict(s, user("ops"), role="view", role_kind="Role") is Result.FAIL
    assert verdict(s, user("ops"), role="view", role_kind="ClusterRole") is Result.PASS


def test_grant_expiring_exactly_now_no_longer_authorises():
    s = spec(accessGrants=[grant(user("ops"), "view", expires=NOW)])
    findings = acc1(s, rb("g", "shop", "view", user("ops")))
    assert [f.result for f in findings] == [Result.FAIL]
    assert "expired at 2026-06-01T12:00:00Z" in findings[0].message_en
    assert "a expiré le 2026-06-01T12:00:00Z" in findings[0].message_fr
    assert verdict(s, user("ops"), role="view", now=NOW - timedelta(seconds=1)) is Result.PASS


def test_grant_to_service_account_without_namespace_matches_the_bindings_namespace():
    s = spec(accessGrants=[grant(sa("auditor"), "view")])
    assert verdict(s, sa("auditor", "tools"), role="view") is Result.FAIL
    s = spec(accessGrants=[grant(sa("auditor", "tools"), "view")])
    assert verdict(s, sa("auditor", "tools"), role="view") is Result.PASS


def test_sncguard_owned_grant_binding_is_judged_like_any_other():
    labels = {"app.kubernetes.io/managed-by": "sncguard", "sncguard.io/tenant-policy": POLICY}
    s = spec(accessGrants=[grant(user("ops"), "view", expires=LATER)])
    binding = rb("sncguard-grant-0123456789ab", "shop", "view", user("ops"), labels=labels)
    assert [f.result for f in acc1(s, binding)] == [Result.PASS]
    assert [f.result for f in acc1(s, binding, now=LATER)] == [Result.FAIL]


# --------------------------------------------------------------------------------------------
# ACC-001: implicit authorisation


@pytest.mark.parametrize("subject", [
    sa("default", "shop"),
    sa("builder", "shop-db"),
    sa("builder"),  # no namespace in a RoleBinding: the binding's own namespace, a tenant namespace
    group("system:serviceaccounts:shop"),
    group("system:serviceaccounts:shop-db"),
    user("system:serviceaccount:shop:deployer"),
], ids=repr)
def test_tenant_service_accounts_are_authorised_implicitly(subject):
    assert verdict(spec(), subject) is Result.PASS


@pytest.mark.parametrize("subject", [
    sa("default", "other-tenant"),
    group("system:serviceaccounts:other-tenant"),
    user("system:serviceaccount:other-tenant:bot"),
    sa("controller", "kube-public"),
    sa("controller", "openshift"),  # "openshift-*" only
], ids=repr)
def test_service_accounts_of_other_namespaces_are_not(subject):
    findings = acc1(spec(), rb("b", "shop", "edit", subject))
    assert [f.result for f in findings] == [Result.FAIL]
    assert "not a tenant namespace" in findings[0].message_en
    assert "n'est pas un espace de noms du locataire" in findings[0].message_fr


@pytest.mark.parametrize("subject", [
    group("system:masters"),
    group("system:nodes"),
    group("system:cluster-admins"),
    user("system:kube-controller-manager"),
    user("system:admin"),
    sa("namespace-controller", "kube-system"),
    sa("prometheus-k8s", "openshift-monitoring"),
    group("system:serviceaccounts:openshift-monitoring"),
    user("system:serviceaccount:kube-system:generic-garbage-collector"),
], ids=repr)
def test_platform_identities_are_authorised_implicitly(subject):
    findings = acc1(spec(), rb("b", "shop", "edit", subject))
    assert [f.result for f in findings] == [Result.PASS]
    assert "platform" in findings[0].message_en or "system identity" in findings[0].message_en


@pytest.mark.parametrize("name", ["system:authenticated", "system:unauthenticated", "system:serviceaccounts",
                                  "system:authenticated:oauth"])
def test_broad_groups_are_never_authorised_implicitly(name):
    findings = acc1(spec(), rb("b", "shop", "view", group(name)))
    assert [f.result for f in findings] == [Result.FAIL]
    assert "never authorised implicitly" in findings[0].message_en
    assert "jamais autorisé implicitement" in findings[0].message_fr


def test_anonymous_user_is_never_authorised_implicitly():
    assert verdict(spec(), user("system:anonymous")) is Result.FAIL


def test_ordinary_user_is_not_authorised_implicitly():
    assert verdict(spec(), user("alice")) is Result.FAIL
    assert verdict(spec(), group("developers")) is Result.FAIL


def test_broad_group_on_the_authorised_list_passes_acc001():
    s = spec(authorizedSubjects=[group("system:authenticated")])
    assert verdict(s, group("system:authenticated")) is Result.PASS


def test_binding_without_subjects_passes():
    findings = acc1(spec(), rb("empty", "shop", "edit"))
    assert [f.result for f in findings] == [Result.PASS]
    assert "binds no subject" in findings[0].message_en


def test_bindings_outside_the_tenant_are_not_judged():
    assert acc1(spec(), rb("b", "elsewhere", "admin", user("mallory"))) == []


# --------------------------------------------------------------------------------------------
# ACC-001: ClusterRoleBindings and the discovery-role exception


def test_cluster_role_binding_to_unlisted_user_fails():
    findings = acc1(spec(), crb("root", "cluster-admin", user("mallory")))
    assert [f.result for f in findings] == [Result.FAIL]
    f = findings[0]
    assert (f.resource.kind, f.resource.namespace, f.resource.name) == ("ClusterRoleBinding", "", "root")
    assert "ClusterRoleBinding root" in f.message_en and "every namespace" in f.message_en
    assert "tous les espaces de noms" in f.message_fr


def test_cluster_role_binding_to_platform_identity_passes():
    findings = acc1(spec(), crb("cluster-admin", "cluster-admin", group("system:masters")))
    assert [f.result for f in findings] == [Result.PASS]


def test_cluster_role_binding_service_account_needs_its_own_namespace():
    # No binding namespace to default to: a tenant SA is authorised, another is not.
    assert [f.result for f in acc1(spec(), crb("c", "view", sa("bot", "shop")))] == [Result.PASS]
    assert [f.result for f in acc1(spec(), crb("c", "view", sa("bot", "elsewhere")))] == [Result.FAIL]


@pytest.mark.parametrize("role", ["system:discovery", "system:basic-user", "system:public-info-viewer",
                                  "system:service-account-issuer-discovery", "basic-user", "system:webhook"])
def test_discovery_roles_are_not_judged(role):
    binding = crb(role, role, group("system:authenticated"), group("system:unauthenticated"), user("anyone"))
    assert is_harmless_cluster_binding(binding)
    assert acc1(spec(), binding) == []
    assert check_broad_groups(TENANT, view(binding)) == [
        f for f in check_broad_groups(TENANT, view()) if f.result is Result.PASS]


def test_system_roles_bound_only_to_platform_identities_are_not_judged():
    binding = crb("system:controller:deployment-controller", "system:controller:deployment-controller",
                  sa("deployment-controller", "kube-system"), user("system:kube-controller-manager"))
    assert is_harmless_cluster_binding(binding)
    assert acc1(spec(), binding) == []


def test_system_role_bound_to_someone_else_is_judged():
    binding = crb("sneaky", "system:controller:namespace-controller", user("mallory"))
    assert not is_harmless_cluster_binding(binding)
    assert [f.result for f in acc1(spec(), binding)] == [Result.FAIL]


def test_system_role_bound_to_a_broad_group_is_judged_unless_it_is_a_discovery_role():
    binding = crb("wide", "system:controller:namespace-controller", group("system:authenticated"))
    assert not is_harmless_cluster_binding(binding)
    assert [f.result for f in check_broad_groups(TENANT, view(binding))] == [Result.FAIL]


def test_non_system_role_bound_to_system_identities_is_judged():
    binding = crb("cluster-admin", "cluster-admin", group("system:masters"))
    assert not is_harmless_cluster_binding(binding)


def test_role_binding_to_a_discovery_role_is_still_judged():
    # The exception covers what Kubernetes creates cluster-wide, not a RoleBinding in a tenant namespace.
    assert not is_harmless_cluster_binding(rb("b", "shop", "system:discovery", group("system:authenticated")))
    assert verdict(spec(), group("system:authenticated"), role="system:discovery") is Result.FAIL


def test_harmless_list_holds_the_kubernetes_defaults():
    assert {"system:discovery", "system:basic-user", "system:public-info-viewer",
            "system:service-account-issuer-discovery"} <= HARMLESS_CLUSTER_ROLES
    assert "view" not in HARMLESS_CLUSTER_ROLES and "cluster-admin" not in HARMLESS_CLUSTER_ROLES


# --------------------------------------------------------------------------------------------
# Identities


def test_identity_of_defaults_service_account_namespace_to_the_binding():
    assert identity_of(Subject("ServiceAccount", "bot", ""), "shop") == Identity("ServiceAccount", "bot", "shop")
    assert identity_of(Subject("ServiceAccount", "bot", "x"), "shop") == Identity("ServiceAccount", "bot", "x")
    assert identity_of(Subject("User", "system:serviceaccount:a:b")) == Identity("ServiceAccount", "b", "a")
    assert identity_of(Subject("User", "system:serviceaccount:a")) == Identity("User", "system:serviceaccount:a")
    assert identity_of(Subject("Group", "g", "ignored")) == Identity("Group", "g")


def test_is_platform_identity():
    assert is_platform_identity(Identity("Group", "system:masters"))
    assert is_platform_identity(Identity("ServiceAccount", "x", "openshift-dns"))
    assert not is_platform_identity(Identity("Group", "system:authenticated"))
    assert not is_platform_identity(Identity("Group", "system:serviceaccounts:shop"))
    assert not is_platform_identity(Identity("User", "system:serviceaccount:malformed"))
    assert not is_platform_identity(Identity("User", "alice"))
    assert not is_platform_identity(Identity("Group", "system"))


# --------------------------------------------------------------------------------------------
# ACC-002


def test_broad_group_in_tenant_role_binding_fails_and_other_namespaces_pass():
    binding = rb("everyone", "shop", "view", user("alice"), group("system:authenticated"))
    findings = check_broad_groups(TENANT, view(binding))
    fails = [f for f in findings if f.result is Result.FAIL]
    assert len(fails) == 1
    f = fails[0]
    assert f.rule_id == "ACC-002" and f.severity is Severity.HIGH and f.field == "subjects[1]"
    assert (f.resource.kind, f.resource.namespace, f.resource.name) == ("RoleBinding", "shop", "everyone")
    assert "Group system:authenticated" in f.message_en and "every authenticated user" in f.message_en
    assert "ClusterRole view" in f.message_en
    assert "au groupe system:authenticated" in f.message_fr and "tous les utilisateurs authentifiés" in f.message_fr
    passes = [f for f in findings if f.result is Result.PASS]
    assert [(p.resource.kind, p.resource.name) for p in passes] == [("Namespace", "shop-db")]


def test_each_broad_group_fails():
    binding = rb("all", "shop", "view", group("system:authenticated"), group("system:unauthenticated"),
                 group("system:serviceaccounts"))
    fails = [f for f in check_broad_groups(TENANT, view(binding)) if f.result is Result.FAIL]
    assert [f.field for f in fails] == ["subjects[0]", "subjects[1]", "subjects[2]"]


def test_clean_tenant_namespaces_pass():
    findings = check_broad_groups(TENANT, view(rb("b", "shop", "edit", group("acme-admins"))))
    assert [(f.result, f.resource.name) for f in findings] == [(Result.PASS, "shop"), (Result.PASS, "shop-db")]
    assert "system:authenticated" in findings[0].message_en and "Aucun RoleBinding" in findings[0].message_fr


@pytest.mark.parametrize("subject", [user("system:authenticated"), group("system:serviceaccounts:shop"),
                                     group("system:authenticated:oauth")], ids=repr)
def test_only_the_three_broad_groups_count_for_acc002(subject):
    findings = check_broad_groups(["shop"], view(rb("b", "shop", "view", subject)))
    assert [f.result for f in findings] == [Result.PASS]


def test_broad_group_outside_the_tenant_is_not_acc002s_business():
    findings = check_broad_groups(["shop"], view(rb("b", "elsewhere", "view", group("system:authenticated"))))
    assert [f.result for f in findings] == [Result.PASS]


def test_broad_cluster_role_binding_fails_and_no_namespace_is_clean():
    binding = crb("readers", "view", group("system:serviceaccounts"))
    findings = check_broad_groups(TENANT, view(binding))
    assert [(f.result, f.resource.kind) for f in findings] == [(Result.FAIL, "ClusterRoleBinding")]
    assert "every service account of the cluster" in findings[0].message_en
    assert "tous les espaces de noms" in findings[0].message_fr


def test_discovery_cluster_role_bindings_do_not_fail_acc002():
    bindings = [crb(r, r, group("system:authenticated"), group("system:unauthenticated"))
                for r in ("system:discovery", "system:basic-user", "system:public-info-viewer")]
    bindings.append(crb("system:service-account-issuer-discovery", "system:service-account-issuer-discovery",
                        group("system:serviceaccounts")))
    findings = check_broad_groups(TENANT, view(*bindings))
    assert [f.result for f in findings] == [Result.PASS, Result.PASS]


def test_no_tenant_namespace_no_finding():
    assert check_broad_groups([], view(rb("b", "shop", "view", group("system:authenticated")))) == []


# --------------------------------------------------------------------------------------------
# ACC-003


def acc3(s: TenantPolicySpec, *bindings: RoleBinding, now: datetime = NOW) -> list[Finding]:
    return check_expired_grants(s, POLICY, TENANT, view(*bindings), now)


def test_active_grant_passes_on_the_policy():
    findings = acc3(spec(accessGrants=[grant(user("ops"), "view", LATER)]), rb("g", "shop", "view", user("ops")))
    assert [f.result for f in findings] == [Result.PASS]
    f = findings[0]
    assert f.rule_id == "ACC-003" and f.severity is Severity.HIGH
    assert (f.resource.kind, f.resource.name) == ("TenantPolicy", POLICY)
    assert f.resource.api_version == "sncguard.io/v1alpha1"
    assert f.field == "spec.accessGrants[0]"
    assert "active until 2026-07-01T12:00:00Z" in f.message_en and "active jusqu'au" in f.message_fr


def test_expired_grant_with_binding_left_fails_on_the_binding():
    s = spec(accessGrants=[grant(user("ops"), "view", EARLIER)])
    findings = acc3(s, rb("g", "shop", "view", group("acme-admins"), user("ops")))
    assert [f.result for f in findings] == [Result.FAIL]
    f = findings[0]
    assert (f.resource.kind, f.resource.namespace, f.resource.name) == ("RoleBinding", "shop", "g")
    assert f.field == "subjects[1]"
    assert "spec.accessGrants[0]" in f.message_en and "expired at 2026-05-31T12:00:00Z" in f.message_en
    assert "User ops" in f.message_en and "ticket 4711" in f.message_en
    assert "donne toujours" in f.message_fr and "à l'utilisateur ops" in f.message_fr


def test_expiry_exactly_now_is_expired():
    s = spec(accessGrants=[grant(user("ops"), "view", NOW)])
    binding = rb("g", "shop", "view", user("ops"))
    assert [f.result for f in acc3(s, binding)] == [Result.FAIL]
    assert [f.result for f in acc3(s, binding, now=NOW - timedelta(microseconds=1))] == [Result.PASS]


def test_expired_grant_without_binding_passes():
    findings = acc3(spec(accessGrants=[grant(user("ops"), "view", EARLIER)]))
    assert [f.result for f in findings] == [Result.PASS]
    assert "no binding" in findings[0].message_en and "plus aucune liaison" in findings[0].message_fr
    assert findings[0].resource.kind == "TenantPolicy"


@pytest.mark.parametrize("binding", [
    rb("g", "elsewhere", "view", user("ops")),                 # not a tenant namespace
    rb("g", "shop", "edit", user("ops")),                      # another role
    rb("g", "shop", "view", user("ops"), role_kind="Role"),    # a Role, not the ClusterRole
    rb("g", "shop", "view", user("someone-else")),             # another subject
    rb("g", "shop", "view", group("ops")),                     # same name, other kind
], ids=["other-namespace", "other-role", "role-kind", "other-subject", "other-kind"])
def test_bindings_that_do_not_implement_the_expired_grant_pass(binding):
    assert [f.result for f in acc3(spec(accessGrants=[grant(user("ops"), "view", EARLIER)]), binding)] == [
        Result.PASS]


def test_cluster_role_binding_left_over_also_fails():
    findings = acc3(spec(accessGrants=[grant(user("ops"), "view", EARLIER)]), crb("ops-view", "view", user("ops")))
    assert [(f.result, f.resource.kind) for f in findings] == [(Result.FAIL, "ClusterRoleBinding")]


def test_one_failure_per_binding_left():
    s = spec(accessGrants=[grant(user("ops"), "view", EARLIER)])
    findings = acc3(s, rb("g", "shop", "view", user("ops")), rb("g", "shop-db", "view", user("ops")))
    assert [(f.result, f.resource.namespace) for f in findings] == [(Result.FAIL, "shop"), (Result.FAIL, "shop-db")]


def test_binding_still_justified_by_another_active_grant_passes():
    s = spec(accessGrants=[grant(user("ops"), "view", EARLIER), grant(user("ops"), "view", LATER, "ticket 9")])
    findings = acc3(s, rb("g", "shop", "view", user("ops")))
    assert [f.result for f in findings] == [Result.PASS, Result.PASS]
    assert "spec.accessGrants[1] is active" in findings[0].message_en
    assert "justifiées autrement" in findings[0].message_fr


def test_two_expired_grants_do_not_justify_each_other():
    s = spec(accessGrants=[grant(user("ops"), "view", EARLIER), grant(user("ops"), "view", NOW)])
    findings = acc3(s, rb("g", "shop", "view", user("ops")))
    assert [(f.result, f.message_en.count("spec.accessGrants[")) for f in findings] == [
        (Result.FAIL, 1), (Result.FAIL, 1)]
    assert "spec.accessGrants[0]" in findings[0].message_en and "spec.accessGrants[1]" in findings[1].message_en


def test_binding_still_justified_by_the_authorised_list_passes():
    s = spec(authorizedSubjects=[user("ops")], accessGrants=[grant(user("ops"), "view", EARLIER)])
    findings = acc3(s, rb("g", "shop", "view", user("ops")))
    assert [f.result for f in findings] == [Result.PASS]
    assert "spec.authorizedSubjects[0]" in findings[0].message_en


def test_expired_grant_to_namespace_less_service_account_matches_in_each_namespace():
    s = spec(accessGrants=[grant(sa("auditor"), "view", EARLIER)])
    findings = acc3(s, rb("g", "shop", "view", sa("auditor", "shop")), rb("h", "shop-db", "view", sa("auditor")))
    assert [(f.result, f.resource.namespace) for f in findings] == [(Result.FAIL, "shop"), (Result.FAIL, "shop-db")]
    assert "ServiceAccount shop/auditor" in findings[0].message_en


def test_no_grant_no_acc003_finding():
    assert acc3(spec(), rb("g", "shop", "view", user("ops"))) == []


# --------------------------------------------------------------------------------------------
# Grant states and the timer


def test_grant_states_shape_and_boundary():
    s = spec(accessGrants=[
        grant(user("ops"), "view", LATER),
        grant(sa("bot", "tools"), "edit", NOW),
        grant(group("auditors"), "view", EARLIER),
    ])
    states = grant_states(s, NOW)
    assert states == [
        {"subject": "User/ops", "clusterRole": "view", "expires": "2026-07-01T12:00:00Z", "state": "Active"},
        {"subject": "ServiceAccount/tools/bot", "clusterRole": "edit", "expires": "2026-06-01T12:00:00Z",
         "state": "Expired"},
        {"subject": "Group/auditors", "clusterRole": "view", "expires": "2026-05-31T12:00:00Z", "state": "Expired"},
    ]
    for state in states:  # the status model accepts them as they are
        assert GrantState.model_validate(state).dump() == state


def test_grant_states_without_grants():
    assert grant_states(spec(), NOW) == []


def test_grant_expiry_in_another_time_zone_is_reported_in_utc():
    paris = datetime(2026, 7, 1, 14, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert paris.utcoffset() == timedelta(hours=2)
    s = spec(accessGrants=[grant(user("ops"), "view", paris)])
    assert grant_states(s, NOW)[0]["expires"] == "2026-07-01T14:00:00Z"


def test_next_grant_expiry_is_the_earliest_future_one():
    soon, later = NOW + timedelta(hours=1), NOW + timedelta(days=3)
    s = spec(accessGrants=[grant(user("a"), "view", later), grant(user("b"), "view", EARLIER),
                           grant(user("c"), "view", NOW), grant(user("d"), "view", soon)])
    assert next_grant_expiry(s, NOW) == soon
    assert next_grant_expiry(s, soon) == later
    assert next_grant_expiry(s, later) is None


def test_next_grant_expiry_is_in_utc():
    paris = (NOW + timedelta(hours=5)).astimezone(ZoneInfo("Europe/Paris"))
    expiry = next_grant_expiry(spec(accessGrants=[grant(user("a"), "view", paris)]), NOW)
    assert expiry == NOW + timedelta(hours=5) and expiry.utcoffset() == timedelta(0)


def test_next_grant_expiry_without_grants():
    assert next_grant_expiry(spec(), NOW) is None


def test_naive_now_is_read_as_utc():
    s = spec(accessGrants=[grant(user("a"), "view", NOW + timedelta(minutes=1))])
    assert next_grant_expiry(s, NOW.replace(tzinfo=None)) == NOW + timedelta(minutes=1)


def test_rfc3339():
    assert rfc3339(datetime(2026, 12, 1, tzinfo=UTC)) == "2026-12-01T00:00:00Z"
    assert rfc3339(datetime(2026, 12, 1, 0, 0, 0, 500000, tzinfo=UTC)) == "2026-12-01T00:00:00.5Z"


# --------------------------------------------------------------------------------------------
# The policy


def test_evaluate_access_runs_every_rule():
    s = spec(authorizedSubjects=[group("acme-admins")],
             accessGrants=[grant(user("ops"), "view", EARLIER), grant(user("sre"), "edit", LATER)])
    v = view(
        rb("admins", "shop", "admin", group("acme-admins")),
        rb("leftover", "shop", "view", user("ops")),
        rb("sre", "shop-db", "edit", user("sre")),
        rb("wide", "shop-db", "view", group("system:authenticated")),
        crb("system:discovery", "system:discovery", group("system:authenticated")),
        crb("cluster-admin", "cluster-admin", group("system:masters")),
        rb("foreign", "other", "admin", user("mallory")),
    )
    findings = evaluate_access(s, POLICY, TENANT, v, NOW)
    summary = sorted((f.rule_id, f.result.value, f.resource.name) for f in findings)
    assert summary == sorted([
        ("ACC-001", "pass", "cluster-admin"),
        ("ACC-001", "pass", "admins"),
        ("ACC-001", "fail", "leftover"),
        ("ACC-001", "pass", "sre"),
        ("ACC-001", "fail", "wide"),
        ("ACC-002", "fail", "wide"),
        ("ACC-002", "pass", "shop"),
        ("ACC-003", "fail", "leftover"),
        ("ACC-003", "pass", POLICY),
    ])
    for f in findings:
        assert f.message_en and f.message_fr and f.message_en != f.message_fr
        if f.result is Result.FAIL:
            assert f.field.startswith("subjects[") and f.resource.name in f.message_en


def test_module_reads_no_clock():
    source = Path(access.__file__).read_text(encoding="utf-8")
    assert "datetime.now" not in source and "utcnow" not in source and "time.time" not in source


# --------------------------------------------------------------------------------------------
# The access register (R9, R14)


def register(s: TenantPolicySpec, *bindings: RoleBinding, now: datetime = NOW) -> list[dict]:
    return access.access_register(s, TENANT, view(*bindings), now)


def by_name(entries: list[dict]) -> dict[str, dict]:
    return {e["name"]: e for e in entries}


def test_register_lists_a_rolebinding_subject_with_role_binding_and_namespace():
    (alice,) = register(spec(), rb("devs", "shop", "edit", user("alice")),
                        rb("elsewhere", "other", "admin", user("mallory")))
    assert alice == {
        "kind": "User", "name": "alice", "authorised": False,
        "access": [{"role": {"kind": "ClusterRole", "name": "edit"},
                    "binding": {"kind": "RoleBinding", "namespace": "shop", "name": "devs"},
                    "namespaces": ["shop"], "authorised": False}],
    }


def test_register_lists_a_clusterrolebinding_as_reaching_all_namespaces():
    (ops,) = register(spec(authorizedSubjects=[group("ops")]), crb("ops-admin", "admin", group("ops")))
    assert ops["kind"] == "Group" and ops["authorised"] is True and "grant" not in ops
    assert ops["access"] == [{"role": {"kind": "ClusterRole", "name": "admin"},
                              "binding": {"kind": "ClusterRoleBinding", "name": "ops-admin"},
                              "namespaces": "all", "authorised": True}]


def test_register_merges_one_subjects_bindings_clusterrolebindings_first():
    (alice,) = register(spec(), rb("b", "shop-db", "view", user("alice")), rb("a", "shop", "edit", user("alice")),
                        crb("c", "view", user("alice")), rb("role", "shop", "reader", user("alice"), role_kind="Role"))
    assert [(a["binding"]["name"], a["role"]["kind"], a["namespaces"]) for a in alice["access"]] == [
        ("c", "ClusterRole", "all"), ("a", "ClusterRole", ["shop"]), ("role", "Role", ["shop"]),
        ("b", "ClusterRole", ["shop-db"])]


def test_register_lists_service_accounts_of_other_namespaces_and_leaves_implicit_ones_out():
    entries = register(spec(),
                       rb("ci", "shop", "edit", sa("deployer", "ci"), sa("app"), sa("db", "shop-db"),
                          group("system:serviceaccounts:shop"), group("system:serviceaccounts:ci"),
                          user("system:serviceaccount:ci:deployer"), user("system:kube-controller-manager"),
                          sa("operator", "openshift-monitoring"), user("system:anonymous")))
    assert [(e["kind"], e.get("namespace"), e["name"]) for e in entries] == [
        ("Group", None, "system:serviceaccounts:ci"),
        ("ServiceAccount", "ci", "deployer"),  # written twice: as a ServiceAccount and as its user name
        ("User", None, "system:anonymous"),
    ]
    assert len(entries[1]["access"]) == 1 and not any(e["authorised"] for e in entries)


def test_register_leaves_harmless_cluster_bindings_out_but_lists_broad_groups():
    entries = register(spec(), crb("system:discovery", "system:discovery", group("system:authenticated")),
                       rb("everyone", "shop", "view", group("system:authenticated")))
    assert [(e["name"], [a["binding"]["name"] for a in e["access"]]) for e in entries] == [
        ("system:authenticated", ["everyone"])]


def test_register_shows_the_grant_that_authorises():
    s = spec(accessGrants=[grant(user("ops"), "view", LATER, "ticket 4711"),
                           grant(user("ops"), "edit", NOW + timedelta(days=2), "ticket 4712")])
    (ops,) = register(s, rb("ops-view", "shop", "view", user("ops")), rb("ops-edit", "shop-db", "edit", user("ops")))
    assert ops["authorised"] is True and all(a["authorised"] for a in ops["access"])
    assert ops["grant"] == {"reason": "ticket 4712", "expires": rfc3339(NOW + timedelta(days=2))}


def test_register_grant_for_another_role_does_not_authorise_that_binding():
    s = spec(accessGrants=[grant(user("ops"), "view")])
    (ops,) = register(s, rb("ops-view", "shop", "view", user("ops")), rb("ops-admin", "shop", "admin", user("ops")))
    assert ops["authorised"] is False and ops["grant"]["reason"] == "ticket 4711"
    assert {a["binding"]["name"]: a["authorised"] for a in ops["access"]} == {"ops-view": True, "ops-admin": False}


def test_register_expired_grant_is_not_authorised_and_shows_no_grant():
    s = spec(accessGrants=[grant(user("ops"), "view", EARLIER)])
    (ops,) = register(s, rb("leftover", "shop", "view", user("ops")))
    assert ops["authorised"] is False and "grant" not in ops
    # At the expiry itself the grant has expired already.
    s = spec(accessGrants=[grant(user("ops"), "view", NOW)])
    assert register(s, rb("leftover", "shop", "view", user("ops")))[0]["authorised"] is False
    assert register(s, rb("leftover", "shop", "view", user("ops")), now=NOW - timedelta(seconds=1))[0]["authorised"]


def test_register_authorised_list_and_ordering_unauthorised_first():
    s = spec(authorizedSubjects=[user("alice"), sa("bot", "ci")])
    entries = register(s, rb("x", "shop", "edit", user("zed"), user("alice"), sa("bot", "ci"), group("devs")))
    assert [(e["kind"], e["name"], e["authorised"]) for e in entries] == [
        ("Group", "devs", False), ("User", "zed", False),
        ("ServiceAccount", "bot", True), ("User", "alice", True)]


def test_register_is_computed_from_the_bindings_not_from_the_spec():
    s = spec(authorizedSubjects=[user("alice")], accessGrants=[grant(user("ops"))])
    assert register(s) == []


def test_register_status_caps_counts_and_digests():
    bindings = [rb(f"b{i:03}", "shop", "view", user(f"u{i:03}")) for i in range(105)]
    s = spec(authorizedSubjects=[user("u000"), user("u001")])
    full = register(s, *bindings)
    fields = access.register_status(full)
    assert len(fields["accessRegister"]) == 100 and fields["accessRegisterTruncated"] == 5
    assert fields["accessRegisterUnauthorised"] == 103
    assert fields["accessRegister"][0]["name"] == "u002"  # the unauthorised first
    digest = fields["accessRegisterDigest"]
    assert len(digest) == 64 and int(digest, 16) >= 0
    # Stable: the same bindings in another order give the same register and digest.
    assert access.register_status(register(s, *reversed(bindings)))["accessRegisterDigest"] == digest
    # A change beyond the cap changes the digest although the entries shown stay the same.
    changed = register(s, *bindings[:-1], rb("b104", "shop", "edit", user("u104")))
    other = access.register_status(changed)
    assert other["accessRegister"] == fields["accessRegister"] and other["accessRegisterDigest"] != digest
    small = access.register_status([])
    assert small == {"accessRegister": [], "accessRegisterTruncated": 0, "accessRegisterUnauthorised": 0,
                     "accessRegisterDigest": access.register_digest([])}


def test_register_authorisation_change_changes_the_digest():
    binding = rb("ops", "shop", "view", user("ops"))
    active = register(spec(accessGrants=[grant(user("ops"))]), binding)
    expired = register(spec(accessGrants=[grant(user("ops"))]), binding, now=LATER)
    assert access.register_digest(active) != access.register_digest(expired)


def test_register_agrees_with_acc001():
    s = spec(authorizedSubjects=[group("acme-admins")], accessGrants=[grant(user("sre"), "edit")])
    bindings = (rb("admins", "shop", "admin", group("acme-admins")), rb("sre", "shop", "edit", user("sre")),
                rb("m", "shop-db", "view", user("mallory")), crb("wide", "view", group("system:authenticated")),
                rb("own", "shop", "edit", sa("app")))
    refused = {(f.resource.name) for f in acc1(s, *bindings) if f.result is Result.FAIL}
    listed = {a["binding"]["name"] for e in register(s, *bindings) for a in e["access"] if not a["authorised"]}
    assert refused == listed == {"m", "wide"}


def test_evaluate_tenantpolicy_puts_the_register_in_the_status_fields():
    from sncguard.evaluation import TenantScope, evaluate_tenantpolicy

    outcome = evaluate_tenantpolicy(spec(), POLICY, TenantScope(TENANT, {}, set()),
                                    view(rb("devs", "shop", "edit", user("alice"))), NOW)
    assert [e["name"] for e in outcome.status_fields["accessRegister"]] == ["alice"]
    assert outcome.status_fields["accessRegisterTruncated"] == 0
    assert outcome.status_fields["accessRegisterUnauthorised"] == 1
    empty = evaluate_tenantpolicy(spec(), POLICY, TenantScope(TENANT, {}, set()), view(), NOW)
    assert empty.status_fields["accessRegister"] == [] and "accessRegisterDigest" in empty.status_fields


def test_register_fields_fit_the_status_model():
    from sncguard.api.tenantpolicy import TenantPolicyStatus

    s = spec(accessGrants=[grant(user("ops"))])
    fields = access.register_status(register(s, rb("ops", "shop", "view", user("ops")),
                                             crb("wide", "view", sa("ci", "ci"))))
    status = TenantPolicyStatus.model_validate(fields)
    assert status.dump() == fields
