"""Access rules ACC-001 to ACC-003: nobody reaches a tenant's namespaces without its authorisation (R9, R14, S4).

Pure: no I/O, no clock (`now` is a parameter), no kopf, no client.

Which bindings are judged
    Every RoleBinding in a tenant namespace, and every ClusterRoleBinding: a ClusterRoleBinding
    grants its role in all namespaces, the tenant's included. To keep findings meaningful, a
    ClusterRoleBinding to a *harmless* role is not judged by ACC-001 and ACC-002:

    - the discovery and self-service roles that Kubernetes and OpenShift bind to broad groups
      themselves (`HARMLESS_CLUSTER_ROLES`: system:discovery, system:basic-user,
      system:public-info-viewer, system:service-account-issuer-discovery, and OpenShift's
      equivalents such as basic-user, cluster-status or system:webhook); none of them reads or
      writes namespaced data. They are recognised by name: sncguard does not see ClusterRole rules.
    - any role whose name starts with `system:` bound only to platform identities (see below):
      the control plane's own wiring, which would pass anyway.

    A `system:` role bound to a broad group and not in the list *is* judged: binding, say,
    system:controller:namespace-controller to system:authenticated is exactly what ACC-002 is for.

Who is authorised (ACC-001)
    - a subject on `spec.authorizedSubjects` (kind and name; namespace too for a ServiceAccount);
    - a subject holding an unexpired grant of `spec.accessGrants` (expires > now), for a binding
      whose roleRef is the ClusterRole the grant names;
    - a ServiceAccount of one of the tenant's own namespaces, and the group
      `system:serviceaccounts:<tenant namespace>`;
    - platform identities, authorised implicitly because the provider operates the platform:
      Kubernetes' and OpenShift's own `system:` Users and Groups, and the ServiceAccounts (and
      service-account groups) of kube-system and of the openshift-* namespaces.

    Never authorised implicitly, although their names start with `system:`: the broad groups of
    ACC-002 (system:authenticated, system:unauthenticated, system:serviceaccounts), the anonymous
    user system:anonymous, OpenShift's system:authenticated:oauth (every human user), and the
    service accounts of any other namespace, whether written as a ServiceAccount, as the group
    `system:serviceaccounts:<ns>` or as the user `system:serviceaccount:<ns>:<name>`: these stand
    for identities that someone other than the platform controls.

    A ServiceAccount subject without a namespace in a RoleBinding means the binding's own
    namespace, as in the API server's authorizer; the same holds for a ServiceAccount without a
    namespace in the spec.

The access register (R9, R14; evidence, not a rule)
    `access_register` lists, from the same bindings and with the same verdicts as ACC-001, every
    subject that reaches the tenant's namespaces, except those authorised implicitly (the tenant's
    own service accounts, the platform's identities): its roles, bindings and namespaces, whether
    the tenant authorised it, and the grant that does. `register_status` caps it for the status
    with a digest of the whole; `register_change_text` words the Event that announces a change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..findings import Finding, ResourceRef, Result, Severity, finding
from ..i18n import N_, Seq, Text, msg, render, semicolons, seq
from ..timefmt import rfc3339_fraction as rfc3339
from ..view import ClusterView, RoleBinding, Subject
from .registry import ACCESS, Family, rule
from .subjects import Tenant

if TYPE_CHECKING:
    from ..api.tenantpolicy import AccessGrant, TenantPolicySpec
    from ..api.tenantpolicy import Subject as SpecSubject

__all__ = [
    "BROAD_GROUPS",
    "HARMLESS_CLUSTER_ROLES",
    "NEVER_IMPLICIT",
    "Authorisation",
    "Identity",
    "access_register",
    "authorisation",
    "check_authorised_subjects",
    "check_broad_groups",
    "check_expired_grants",
    "evaluate_access",
    "grant_active",
    "grant_states",
    "identity_of",
    "implicit_authorisation",
    "is_harmless_cluster_binding",
    "is_platform_identity",
    "judged_bindings",
    "next_grant_expiry",
    "register_change_message",
    "register_change_text",
    "register_changes",
    "register_digest",
    "register_status",
    "spec_identity",
]

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
POLICY_API_VERSION = "sncguard.io/v1alpha1"

# Who each broad group stands for, as the messages name them.
BROAD_GROUPS: dict[str, Text] = {
    "system:authenticated": msg("every authenticated user"),
    "system:unauthenticated": msg("every anonymous request"),
    "system:serviceaccounts": msg("every service account of the cluster"),
}

# `system:` names that stand for everyone (or every human): never authorised implicitly.
NEVER_IMPLICIT: dict[str, Text] = {
    **BROAD_GROUPS,
    "system:anonymous": msg("the anonymous user"),
    "system:authenticated:oauth": msg("every user logged in through OpenShift OAuth"),
}

# ClusterRoles that Kubernetes and OpenShift bind to broad groups themselves; none reads or writes
# namespaced data. ClusterRoleBindings to them are not judged.
HARMLESS_CLUSTER_ROLES: frozenset[str] = frozenset({
    # Kubernetes
    "system:discovery",
    "system:basic-user",
    "system:public-info-viewer",
    "system:service-account-issuer-discovery",
    # OpenShift
    "basic-user",
    "cluster-status",
    "self-access-reviewer",
    "self-provisioner",
    "system:openshift:discovery",
    "system:openshift:public-info-viewer",
    "system:openshift:useroauthaccesstoken-manager",
    "system:oauth-token-deleter",
    "system:scope-impersonation",
    "system:webhook",
    "system:build-strategy-docker",
    "system:build-strategy-source",
    "system:build-strategy-jenkinspipeline",
})

PLATFORM_NAMESPACES = frozenset({"kube-system"})
PLATFORM_NAMESPACE_PREFIX = "openshift-"

SA_USER_PREFIX = "system:serviceaccount:"
SA_GROUP_PREFIX = "system:serviceaccounts:"

F_GRANTS = "spec.accessGrants"

# Every ACC rule reads the bindings alone (view.role_bindings holds both kinds).
BINDING_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding"})

family: Family[Tenant] = Family(ACCESS, "TenantPolicy")


# --------------------------------------------------------------------------------------------
# Identities


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    """Who a subject really is: a ServiceAccount written as a user name becomes a ServiceAccount."""

    kind: str
    name: str
    namespace: str = ""


def _identity(kind: str, name: str, namespace: str, default_namespace: str) -> Identity:
    if kind == "ServiceAccount":
        return Identity("ServiceAccount", name, namespace or default_namespace)
    if kind == "User" and name.startswith(SA_USER_PREFIX):
        parts = name[len(SA_USER_PREFIX):].split(":")
        if len(parts) == 2 and all(parts):
            return Identity("ServiceAccount", parts[1], parts[0])
    return Identity(kind, name)


def identity_of(subject: Subject, binding_namespace: str = "") -> Identity:
    """The identity of a binding's subject; a ServiceAccount without namespace is the binding's own."""
    return _identity(subject.kind, subject.name, subject.namespace, binding_namespace)


def spec_identity(subject: SpecSubject, binding_namespace: str = "") -> Identity:
    """The identity of a subject of the spec, as it would appear in a binding of `binding_namespace`."""
    kind = subject.kind.value if hasattr(subject.kind, "value") else str(subject.kind)
    return _identity(kind, subject.name, subject.namespace or "", binding_namespace)


def is_platform_namespace(namespace: str) -> bool:
    return namespace in PLATFORM_NAMESPACES or namespace.startswith(PLATFORM_NAMESPACE_PREFIX)


def _sa_group_namespace(identity: Identity) -> str | None:
    if identity.kind == "Group" and identity.name.startswith(SA_GROUP_PREFIX):
        return identity.name[len(SA_GROUP_PREFIX):] or None
    return None


def is_platform_identity(identity: Identity) -> bool:
    """Kubernetes' and OpenShift's own identities, which the provider operates."""
    if identity.kind == "ServiceAccount":
        return is_platform_namespace(identity.namespace)
    if identity.kind not in ("User", "Group") or not identity.name.startswith("system:"):
        return False
    if identity.name in NEVER_IMPLICIT:
        return False
    sa_namespace = _sa_group_namespace(identity)
    if sa_namespace is not None:
        return is_platform_namespace(sa_namespace)
    return not identity.name.startswith(SA_USER_PREFIX)  # a malformed service-account user name


# --------------------------------------------------------------------------------------------
# Text helpers


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _subject(subject: Subject, binding_namespace: str = "") -> Text:
    """A subject as a sentence names it (French adds the article its kind takes)."""
    if subject.kind == "ServiceAccount":
        return msg("ServiceAccount {namespace}/{name}", namespace=subject.namespace or binding_namespace,
                   name=subject.name)
    if subject.kind == "User":
        return msg("User {name}", name=subject.name)
    if subject.kind == "Group":
        return msg("Group {name}", name=subject.name)
    return msg("{kind} {name}", kind=subject.kind, name=subject.name)


def _to_subject(subject: Subject, binding_namespace: str = "") -> Text:
    """"to <subject>": its own message because French contracts the preposition with the article."""
    if subject.kind == "ServiceAccount":
        return msg("to ServiceAccount {namespace}/{name}", namespace=subject.namespace or binding_namespace,
                   name=subject.name)
    if subject.kind == "User":
        return msg("to User {name}", name=subject.name)
    if subject.kind == "Group":
        return msg("to Group {name}", name=subject.name)
    return msg("to {kind} {name}", kind=subject.kind, name=subject.name)


def _spec_subject(subject: SpecSubject) -> Text:
    kind = subject.kind.value if hasattr(subject.kind, "value") else str(subject.kind)
    if kind == "ServiceAccount" and not subject.namespace:
        return msg("ServiceAccount {name} of each tenant namespace", name=subject.name)
    return _subject(Subject(kind, subject.name, subject.namespace or ""))


def _subject_key(subject: SpecSubject) -> str:
    """The GrantState subject: Kind/name, or ServiceAccount/namespace/name."""
    kind = subject.kind.value if hasattr(subject.kind, "value") else str(subject.kind)
    if kind == "ServiceAccount" and subject.namespace:
        return f"{kind}/{subject.namespace}/{subject.name}"
    return f"{kind}/{subject.name}"


def _binding(b: RoleBinding) -> str:
    return f"{b.kind} {b.namespace}/{b.name}" if b.namespace else f"{b.kind} {b.name}"


def _role(b: RoleBinding) -> str:
    return f"{b.role_kind or 'Role'} {b.role_name}"


def _scope(b: RoleBinding) -> Text:
    if b.kind == "ClusterRoleBinding":
        return msg("in every namespace (the tenant's included)")
    return msg("in tenant namespace {namespace}", namespace=b.namespace)


def _ref(b: RoleBinding) -> ResourceRef:
    return ResourceRef(kind=b.kind or "RoleBinding", namespace=b.namespace, name=b.name,
                       api_version=RBAC_API_VERSION)


def _policy_ref(policy_name: str) -> ResourceRef:
    return ResourceRef(kind="TenantPolicy", namespace="", name=policy_name, api_version=POLICY_API_VERSION)


def _namespace_ref(namespace: str) -> ResourceRef:
    return ResourceRef(kind="Namespace", namespace="", name=namespace, api_version="v1")


# --------------------------------------------------------------------------------------------
# Grants


def grant_active(grant: AccessGrant, now: datetime) -> bool:
    """A grant is active while `expires` lies strictly after `now`: at `expires` exactly it has expired."""
    return _aware(grant.expires) > _aware(now)


def grant_states(spec: TenantPolicySpec, now: datetime) -> list[dict[str, str]]:
    """The status view of every grant, in spec order: {subject, clusterRole, expires, state}."""
    return [{
        "subject": _subject_key(g.subject),
        "clusterRole": g.cluster_role,
        "expires": rfc3339(g.expires),
        "state": "Active" if grant_active(g, now) else "Expired",
    } for g in spec.access_grants or ()]


def next_grant_expiry(spec: TenantPolicySpec, now: datetime) -> datetime | None:
    """The earliest expiry still in the future (in UTC), when the verdicts change next; None if there is none."""
    upcoming = [_aware(g.expires).astimezone(UTC) for g in spec.access_grants or () if grant_active(g, now)]
    return min(upcoming) if upcoming else None


def _grants_role(grant: AccessGrant, binding: RoleBinding) -> bool:
    return binding.role_kind == "ClusterRole" and binding.role_name == grant.cluster_role


# --------------------------------------------------------------------------------------------
# Authorisation


@dataclass(frozen=True, slots=True)
class Authorisation:
    authorised: bool
    reason: Text
    # The unexpired grant that authorises, when one does (the access register shows its reason and expiry).
    grant: AccessGrant | None = None


def implicit_authorisation(who: Identity, tenant_namespaces: Iterable[str]) -> Authorisation | None:
    """Why `who` is authorised implicitly (a service account of the tenant, a platform identity); None if not."""
    tenant = frozenset(tenant_namespaces)
    if who.kind == "ServiceAccount" and who.namespace in tenant:
        return Authorisation(True, msg("a service account of tenant namespace {namespace}",
                                       namespace=who.namespace))
    sa_namespace = _sa_group_namespace(who)
    if sa_namespace is not None and sa_namespace in tenant:
        return Authorisation(True, msg("the service accounts of tenant namespace {namespace}",
                                       namespace=sa_namespace))
    if is_platform_identity(who):
        if who.kind == "ServiceAccount" or sa_namespace is not None:
            return Authorisation(True, msg("a platform identity (service accounts of namespace {namespace})",
                                           namespace=who.namespace or sa_namespace))
        return Authorisation(True, msg("a Kubernetes/OpenShift system identity"))
    return None


def authorisation(subject: Subject, binding: RoleBinding, spec: TenantPolicySpec,
                  tenant_namespaces: Iterable[str], now: datetime) -> Authorisation:
    """Whether `subject` of `binding` is authorised by the tenant, and why (or why not)."""
    tenant = frozenset(tenant_namespaces)
    who = identity_of(subject, binding.namespace)
    for i, allowed in enumerate(spec.authorized_subjects or ()):
        if spec_identity(allowed, binding.namespace) == who:
            return Authorisation(True, msg("on the authorised list (spec.authorizedSubjects[{index}])", index=i))
    held = [(i, g) for i, g in enumerate(spec.access_grants or ())
            if spec_identity(g.subject, binding.namespace) == who]
    for i, g in held:
        if grant_active(g, now) and _grants_role(g, binding):
            return Authorisation(True, msg(
                "holds access grant spec.accessGrants[{index}] for ClusterRole {role} until {expires} ({reason})",
                index=i, role=g.cluster_role, expires=rfc3339(g.expires), reason=g.reason,
            ), g)
    implicit = implicit_authorisation(who, tenant)
    if implicit is not None:
        return implicit
    sa_namespace = _sa_group_namespace(who)
    # Not authorised: say why as precisely as the evidence allows.
    if who.kind in ("User", "Group") and who.name in NEVER_IMPLICIT:
        return Authorisation(False, msg("it stands for {who} and is never authorised implicitly",
                                        who=NEVER_IMPLICIT[who.name]))
    where = (who.namespace or sa_namespace) if (who.kind == "ServiceAccount" or sa_namespace) else None
    expired = [(i, g) for i, g in held if _grants_role(g, binding)]
    if expired:
        i, g = max(expired, key=lambda p: p[1].expires)
        return Authorisation(False, msg(
            "its access grant spec.accessGrants[{index}] for ClusterRole {role} expired at {expires}, and it is "
            "not on spec.authorizedSubjects", index=i, role=g.cluster_role, expires=rfc3339(g.expires),
        ))
    if held:
        return Authorisation(False, msg(
            "its access grants cover ClusterRole {roles}, not {role}, and it is not on spec.authorizedSubjects",
            roles={g.cluster_role for _, g in held}, role=_role(binding),
        ))
    if where is not None:
        return Authorisation(False, msg(
            "it is not on spec.authorizedSubjects and holds no access grant; it belongs to namespace {namespace}, "
            "which is not a tenant namespace", namespace=where,
        ))
    return Authorisation(False, msg("it is not on spec.authorizedSubjects and holds no access grant"))


# --------------------------------------------------------------------------------------------
# Which bindings count


def is_harmless_cluster_binding(binding: RoleBinding) -> bool:
    """A ClusterRoleBinding to a discovery role, or of a `system:` role to platform identities only."""
    if binding.kind != "ClusterRoleBinding":
        return False
    if binding.role_name in HARMLESS_CLUSTER_ROLES:
        return True
    return binding.role_name.startswith("system:") and all(
        is_platform_identity(identity_of(s)) for s in binding.subjects)


def judged_bindings(tenant_namespaces: Iterable[str], view: ClusterView) -> list[RoleBinding]:
    """The RoleBindings of the tenant namespaces and the ClusterRoleBindings that are not harmless, sorted."""
    tenant = frozenset(tenant_namespaces)
    out = [b for b in view.role_bindings
           if (b.kind == "RoleBinding" and b.namespace in tenant)
           or (b.kind == "ClusterRoleBinding" and not is_harmless_cluster_binding(b))]
    return sorted(out, key=lambda b: (b.kind != "ClusterRoleBinding", b.namespace, b.name))


# --------------------------------------------------------------------------------------------
# ACC-001


def check_authorised_subjects(spec: TenantPolicySpec, tenant_namespaces: Iterable[str], view: ClusterView,
                              now: datetime) -> list[Finding]:
    """ACC-001: one fail per (binding, subject) the tenant has not authorised; one pass per binding whose
    subjects are all authorised."""
    tenant = sorted(set(tenant_namespaces))
    out: list[Finding] = []
    for b in judged_bindings(tenant, view):
        verdicts = [(i, s, authorisation(s, b, spec, tenant, now)) for i, s in enumerate(b.subjects)]
        refused = [(i, s, a) for i, s, a in verdicts if not a.authorised]
        for i, s, a in refused:
            out.append(finding(rule("ACC-001"), Result.FAIL, _ref(b), msg(
                "{binding} grants {role} {scope} {to_subject} (subjects[{index}]), who is not authorised by the "
                "tenant: {reason}", binding=_binding(b), role=_role(b), scope=_scope(b),
                to_subject=_to_subject(s, b.namespace), index=i, reason=a.reason,
            ), f"subjects[{i}]"))
        if refused:
            continue
        if not verdicts:
            text = msg("{binding} ({role}) binds no subject", binding=_binding(b), role=_role(b))
        else:
            reasons = [msg("{subject}: {reason}", subject=_subject(s, b.namespace), reason=a.reason)
                       for _, s, a in verdicts]
            text = msg("{binding} grants {role} {scope} only to authorised subjects: {subjects}",
                       binding=_binding(b), role=_role(b), scope=_scope(b), subjects=semicolons(reasons))
        out.append(finding(rule("ACC-001"), Result.PASS, _ref(b), text, "subjects"))
    return out


# --------------------------------------------------------------------------------------------
# ACC-002


def _broad_subjects(b: RoleBinding) -> list[tuple[int, Subject]]:
    return [(i, s) for i, s in enumerate(b.subjects) if s.kind == "Group" and s.name in BROAD_GROUPS]


def check_broad_groups(tenant_namespaces: Iterable[str], view: ClusterView) -> list[Finding]:
    """ACC-002: one fail per (binding, broad group) among the RoleBindings of the tenant namespaces and
    the judged ClusterRoleBindings; one pass per tenant namespace that no such binding reaches."""
    tenant = sorted(set(tenant_namespaces))
    out: list[Finding] = []
    dirty: set[str] = set()
    cluster_wide = False
    for b in judged_bindings(tenant, view):
        for i, s in _broad_subjects(b):
            out.append(finding(rule("ACC-002"), Result.FAIL, _ref(b), msg(
                "{binding} grants {role} {scope} to Group {group} (subjects[{index}]), that is to {who}: a broad "
                "group defeats the tenant's authorised list",
                binding=_binding(b), role=_role(b), scope=_scope(b), group=s.name, index=i, who=BROAD_GROUPS[s.name],
            ), f"subjects[{i}]"))
            if b.kind == "ClusterRoleBinding":
                cluster_wide = True
            else:
                dirty.add(b.namespace)
    if cluster_wide:
        return out
    for namespace in tenant:
        if namespace in dirty:
            continue
        out.append(finding(rule("ACC-002"), Result.PASS, _namespace_ref(namespace), msg(
            "No RoleBinding in tenant namespace {namespace} and no ClusterRoleBinding (apart from the discovery "
            "roles Kubernetes and OpenShift bind themselves) names system:authenticated, system:unauthenticated "
            "or system:serviceaccounts", namespace=namespace,
        )))
    return out


# --------------------------------------------------------------------------------------------
# ACC-003


def _still_justified(binding: RoleBinding, subject: Subject, spec: TenantPolicySpec, now: datetime) -> Text | None:
    """Why the binding may stay although a grant expired: an active grant of the same role, or the list."""
    who = identity_of(subject, binding.namespace)
    for j, g in enumerate(spec.access_grants or ()):
        if grant_active(g, now) and _grants_role(g, binding) and spec_identity(g.subject, binding.namespace) == who:
            return msg("access grant spec.accessGrants[{index}] is active until {expires}",
                       index=j, expires=rfc3339(g.expires))
    for j, allowed in enumerate(spec.authorized_subjects or ()):
        if spec_identity(allowed, binding.namespace) == who:
            return msg("the subject is on the authorised list (spec.authorizedSubjects[{index}])", index=j)
    return None


def check_expired_grants(spec: TenantPolicySpec, policy_name: str, tenant_namespaces: Iterable[str],
                         view: ClusterView, now: datetime) -> list[Finding]:
    """ACC-003: one fail per binding that still gives an expired grant's subject the grant's ClusterRole in
    a tenant namespace (a RoleBinding there, or any ClusterRoleBinding); one pass per expired grant without
    binding and per active grant."""
    tenant = frozenset(tenant_namespaces)
    candidates = sorted((b for b in view.role_bindings
                         if (b.kind == "RoleBinding" and b.namespace in tenant) or b.kind == "ClusterRoleBinding"),
                        key=lambda b: (b.kind != "ClusterRoleBinding", b.namespace, b.name))
    out: list[Finding] = []
    for i, g in enumerate(spec.access_grants or ()):
        field = f"{F_GRANTS}[{i}]"
        grant = {"field": field, "subject": _spec_subject(g.subject), "role": g.cluster_role,
                 "expires": rfc3339(g.expires)}
        if grant_active(g, now):
            out.append(finding(rule("ACC-003"), Result.PASS, _policy_ref(policy_name), msg(
                "Access grant {field} ({subject}, ClusterRole {role}, {reason}) is active until {expires}",
                reason=g.reason, **grant,
            ), field))
            continue
        lingering = 0
        justified: list[Text] = []
        for b in candidates:
            if not _grants_role(g, b):
                continue
            for k, s in enumerate(b.subjects):
                if identity_of(s, b.namespace) != spec_identity(g.subject, b.namespace):
                    continue
                why = _still_justified(b, s, spec, now)
                if why is not None:
                    justified.append(msg("{binding}: {why}", binding=_binding(b), why=why))
                    continue
                lingering += 1
                out.append(finding(rule("ACC-003"), Result.FAIL, _ref(b), msg(
                    "{binding} still grants ClusterRole {role} {scope} {to_subject} (subjects[{index}]) although "
                    "access grant {field} ({reason}) expired at {expires}",
                    binding=_binding(b), role=g.cluster_role, scope=_scope(b), to_subject=_to_subject(s, b.namespace),
                    index=k, field=field, reason=g.reason, expires=grant["expires"],
                ), f"subjects[{k}]"))
        if lingering:
            continue
        if justified:
            text = msg("Access grant {field} ({subject}, ClusterRole {role}) expired at {expires}; the bindings that "
                       "remain are justified otherwise: {bindings}", bindings=semicolons(justified), **grant)
        else:
            text = msg("Access grant {field} ({subject}, ClusterRole {role}) expired at {expires} and no binding "
                       "gives that role to that subject in a tenant namespace any more", **grant)
        out.append(finding(rule("ACC-003"), Result.PASS, _policy_ref(policy_name), text, field))
    return out


# --------------------------------------------------------------------------------------------
# The rules


@family.rule("ACC-001", Severity.HIGH, ("R9", "R14"),
             N_("A binding grants access to a tenant namespace to a subject not on the authorised list"),
             reads=BINDING_KINDS)
def authorised_subjects(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    return check_authorised_subjects(tenant.spec, tenant.namespaces, view, now)


@family.rule("ACC-002", Severity.HIGH, ("S4",), N_("A binding grants access to a broad group"),
             reads=BINDING_KINDS)
def broad_groups(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    return check_broad_groups(tenant.namespaces, view)


@family.rule("ACC-003", Severity.HIGH, ("R9",),
             N_("A temporary access grant has expired but its binding still exists"),
             reads=BINDING_KINDS)
def expired_grants(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    return check_expired_grants(tenant.spec, tenant.name, tenant.namespaces, view, now)


def evaluate_access(spec: TenantPolicySpec, policy_name: str, tenant_namespaces: list[str], view: ClusterView,
                    now: datetime) -> list[Finding]:
    """Every ACC rule for the tenant's namespaces."""
    return family.evaluate(Tenant(spec, policy_name, list(tenant_namespaces)), view, now)


# --------------------------------------------------------------------------------------------
# The access register (R9, R14): evidence, not a rule


REGISTER_CAP = 100
REGISTER_EVENT_NAMES = 10


def access_register(spec: TenantPolicySpec, tenant_namespaces: Iterable[str], view: ClusterView,
                    now: datetime) -> list[dict[str, Any]]:
    """Every subject that reaches the tenant's namespaces, with what reaches them and whether the tenant
    authorised it: the full register, plain data, sorted (the unauthorised first, then by kind, namespace
    and name).

    The bindings are those ACC-001 judges (`judged_bindings`): the RoleBindings of the tenant namespaces
    and the ClusterRoleBindings, the harmless discovery ones aside. Subjects are merged by identity (a
    service account written as the user `system:serviceaccount:<ns>:<name>` is that ServiceAccount).

    Left out: the subjects ACC-001 authorises implicitly (`implicit_authorisation`), whatever the spec
    says: the tenant's own service accounts (and their groups) and the platform's identities. The
    register lists the subjects whose access only the tenant's spec can justify: users, groups and
    service accounts of other namespaces, the broad groups and system:anonymous among them.

    Each entry: {kind, name, namespace (ServiceAccounts only), authorised, access: [{role: {kind, name},
    binding: {kind, namespace (RoleBindings only), name}, namespaces: [namespace] for a RoleBinding or
    "all" for a ClusterRoleBinding, authorised}], grant: {reason, expires}}. `authorised` is true when
    every access is (by spec.authorizedSubjects or an unexpired grant of the bound ClusterRole); `grant`,
    present when a grant authorises an access, is the one of them that expires first.
    """
    tenant = sorted(set(tenant_namespaces))
    entries: dict[Identity, dict[str, Any]] = {}
    grants: dict[Identity, list[AccessGrant]] = {}
    for b in judged_bindings(tenant, view):
        for s in b.subjects:
            who = identity_of(s, b.namespace)
            if implicit_authorisation(who, tenant) is not None:
                continue
            verdict = authorisation(s, b, spec, tenant, now)
            entry = entries.get(who)
            if entry is None:
                entry = entries[who] = {"kind": who.kind, "name": who.name}
                if who.kind == "ServiceAccount":
                    entry["namespace"] = who.namespace
                entry["authorised"] = True
                entry["access"] = []
            binding: dict[str, str] = {"kind": b.kind}
            if b.namespace:
                binding["namespace"] = b.namespace
            binding["name"] = b.name
            access = {
                "role": {"kind": b.role_kind or "Role", "name": b.role_name},
                "binding": binding,
                "namespaces": "all" if b.kind == "ClusterRoleBinding" else [b.namespace],
                "authorised": verdict.authorised,
            }
            if access in entry["access"]:  # the same subject twice in one binding
                continue
            entry["access"].append(access)
            entry["authorised"] = entry["authorised"] and verdict.authorised
            if verdict.grant is not None:
                grants.setdefault(who, []).append(verdict.grant)
    for who, held in grants.items():
        first = min(held, key=lambda g: _aware(g.expires))
        entries[who]["grant"] = {"reason": first.reason, "expires": rfc3339(first.expires)}
    return [entries[who] for who in sorted(
        entries, key=lambda i: (entries[i]["authorised"], i.kind, i.namespace, i.name))]


def register_digest(register: list[dict[str, Any]]) -> str:
    """SHA-256 (hex) of the register's canonical JSON: keys sorted, no spaces, UTF-8."""
    text = json.dumps(register, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def register_status(register: list[dict[str, Any]], cap: int = REGISTER_CAP) -> dict[str, Any]:
    """The TenantPolicy status fields of a full register: the first `cap` entries, how many did not fit,
    how many subjects are not authorised (all of them, shown or not) and the digest of the full register,
    which changes with any entry, shown or not."""
    return {
        "accessRegister": register[:cap],
        "accessRegisterTruncated": max(0, len(register) - cap),
        "accessRegisterUnauthorised": sum(1 for e in register if not e["authorised"]),
        "accessRegisterDigest": register_digest(register),
    }


def _register_key(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    return str(entry.get("kind", "")), str(entry.get("namespace", "")), str(entry.get("name", ""))


def _register_subject(entry: Mapping[str, Any]) -> Text:
    kind, namespace, name = _register_key(entry)
    return _subject(Subject(kind, name, namespace))


def register_changes(previous: Iterable[Mapping[str, Any]], current: Iterable[Mapping[str, Any]]
                     ) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(added, removed, changed) between two registers: subjects only in `current`, only in `previous`, and
    in both with other access or another authorisation; each in the order of its register."""
    before = {_register_key(e): e for e in previous}
    after = {_register_key(e): e for e in current}
    added = [e for k, e in after.items() if k not in before]
    removed = [e for k, e in before.items() if k not in after]
    changed = [e for k, e in after.items() if k in before and before[k] != e]
    return added, removed, changed


def _named(entries: list[Mapping[str, Any]], with_verdict: bool) -> Seq:
    shown: list[Text] = []
    for e in entries[:REGISTER_EVENT_NAMES]:
        subject = _register_subject(e)
        if with_verdict:
            subject = (msg("{subject} (authorised)", subject=subject) if e.get("authorised")
                       else msg("{subject} (not authorised)", subject=subject))
        shown.append(subject)
    more = len(entries) - len(shown)
    if more:
        shown.append(msg("and {count} more", count=more))
    return seq(shown)


def register_change_text(previous: Mapping[str, Any], fields: Mapping[str, Any]) -> Text | None:
    """The message of the AccessRegisterChanged Event between a previous status and new status fields;
    None when there is nothing to announce: the digest did not change, or the previous status had no
    register to compare with (a first evaluation, or a status written before the register existed).

    Only the entries shown (the first REGISTER_CAP of each register) can be named; when either register
    was truncated, the message says that subjects beyond them may have changed too."""
    before, after = previous.get("accessRegisterDigest"), fields.get("accessRegisterDigest")
    if before is None or after is None or before == after:
        return None
    added, removed, changed = register_changes(previous.get("accessRegister") or (),
                                               fields.get("accessRegister") or ())
    parts: list[Text] = []
    if added:
        parts.append(msg("added: {subjects}", subjects=_named(added, True)))
    if removed:
        parts.append(msg("removed: {subjects}", subjects=_named(removed, False)))
    if changed:
        parts.append(msg("changed: {subjects}", subjects=_named(changed, True)))
    if not parts:
        return msg("Access register changed: beyond the first {cap} subjects shown", cap=REGISTER_CAP)
    if previous.get("accessRegisterTruncated") or fields.get("accessRegisterTruncated"):
        return msg("Access register changed: {changes} (register truncated: subjects beyond the first {cap} are "
                   "not named)", changes=semicolons(parts), cap=REGISTER_CAP)
    return msg("Access register changed: {changes}", changes=semicolons(parts))


def register_change_message(previous: Mapping[str, Any], fields: Mapping[str, Any], language: str = "en"
                            ) -> str | None:
    """`register_change_text` rendered in `language`: an Event's message is a string."""
    text = register_change_text(previous, fields)
    return None if text is None else render(text, language)
