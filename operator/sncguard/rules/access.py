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
    with a digest of the whole; `register_change_message` words the Event that announces a change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..findings import Finding, Message, ResourceRef, Result, finding
from ..view import ClusterView, RoleBinding, Subject
from .catalogue import rule

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
    "register_changes",
    "register_digest",
    "register_status",
    "rfc3339",
    "spec_identity",
]

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
POLICY_API_VERSION = "sncguard.io/v1alpha1"

BROAD_GROUPS: dict[str, tuple[str, str]] = {
    "system:authenticated": ("every authenticated user", "tous les utilisateurs authentifiés"),
    "system:unauthenticated": ("every anonymous request", "toutes les requêtes anonymes"),
    "system:serviceaccounts": ("every service account of the cluster", "tous les comptes de service du cluster"),
}

# `system:` names that stand for everyone (or every human): never authorised implicitly.
NEVER_IMPLICIT: dict[str, tuple[str, str]] = {
    **BROAD_GROUPS,
    "system:anonymous": ("the anonymous user", "l'utilisateur anonyme"),
    "system:authenticated:oauth": ("every user logged in through OpenShift OAuth",
                                   "tous les utilisateurs connectés par l'OAuth d'OpenShift"),
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


def rfc3339(moment: datetime) -> str:
    """UTC, second precision unless the time has a fraction: 2026-12-01T00:00:00Z."""
    moment = _aware(moment).astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_FR_KIND = {
    "User": ("l'utilisateur", "à l'utilisateur"),
    "Group": ("le groupe", "au groupe"),
    "ServiceAccount": ("le compte de service", "au compte de service"),
}


def _subject_en(subject: Subject, binding_namespace: str = "") -> str:
    if subject.kind == "ServiceAccount":
        return f"ServiceAccount {subject.namespace or binding_namespace}/{subject.name}"
    return f"{subject.kind} {subject.name}"


def _subject_fr(subject: Subject, binding_namespace: str = "", *, dative: bool = False) -> str:
    article = _FR_KIND.get(subject.kind, (f"le sujet {subject.kind}", f"au sujet {subject.kind}"))[dative]
    if subject.kind == "ServiceAccount":
        return f"{article} {subject.namespace or binding_namespace}/{subject.name}"
    return f"{article} {subject.name}"


def _spec_subject_en(subject: SpecSubject) -> str:
    kind = subject.kind.value if hasattr(subject.kind, "value") else str(subject.kind)
    if kind == "ServiceAccount" and not subject.namespace:
        return f"ServiceAccount {subject.name} of each tenant namespace"
    return _subject_en(Subject(kind, subject.name, subject.namespace or ""))


def _spec_subject_fr(subject: SpecSubject) -> str:
    kind = subject.kind.value if hasattr(subject.kind, "value") else str(subject.kind)
    if kind == "ServiceAccount" and not subject.namespace:
        return f"le compte de service {subject.name} de chaque espace de noms du locataire"
    return _subject_fr(Subject(kind, subject.name, subject.namespace or ""))


def _subject_key(subject: SpecSubject) -> str:
    """The GrantState subject: Kind/name, or ServiceAccount/namespace/name."""
    kind = subject.kind.value if hasattr(subject.kind, "value") else str(subject.kind)
    if kind == "ServiceAccount" and subject.namespace:
        return f"{kind}/{subject.namespace}/{subject.name}"
    return f"{kind}/{subject.name}"


def _binding_en(b: RoleBinding) -> str:
    return f"{b.kind} {b.namespace}/{b.name}" if b.namespace else f"{b.kind} {b.name}"


def _binding_fr(b: RoleBinding) -> str:
    return f"le {_binding_en(b)}"


def _role(b: RoleBinding) -> str:
    return f"{b.role_kind or 'Role'} {b.role_name}"


def _scope_en(b: RoleBinding) -> str:
    if b.kind == "ClusterRoleBinding":
        return "in every namespace (the tenant's included)"
    return f"in tenant namespace {b.namespace}"


def _scope_fr(b: RoleBinding) -> str:
    if b.kind == "ClusterRoleBinding":
        return "dans tous les espaces de noms (y compris ceux du locataire)"
    return f"dans l'espace de noms du locataire {b.namespace}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


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
    reason_en: str
    reason_fr: str
    # The unexpired grant that authorises, when one does (the access register shows its reason and expiry).
    grant: AccessGrant | None = None


def implicit_authorisation(who: Identity, tenant_namespaces: Iterable[str]) -> Authorisation | None:
    """Why `who` is authorised implicitly (a service account of the tenant, a platform identity); None if not."""
    tenant = frozenset(tenant_namespaces)
    if who.kind == "ServiceAccount" and who.namespace in tenant:
        return Authorisation(True, f"a service account of tenant namespace {who.namespace}",
                             f"compte de service de l'espace de noms du locataire {who.namespace}")
    sa_namespace = _sa_group_namespace(who)
    if sa_namespace is not None and sa_namespace in tenant:
        return Authorisation(True, f"the service accounts of tenant namespace {sa_namespace}",
                             f"les comptes de service de l'espace de noms du locataire {sa_namespace}")
    if is_platform_identity(who):
        if who.kind == "ServiceAccount" or sa_namespace is not None:
            where = who.namespace or sa_namespace
            return Authorisation(True, f"a platform identity (service accounts of namespace {where})",
                                 f"identité de la plateforme (comptes de service de l'espace de noms {where})")
        return Authorisation(True, "a Kubernetes/OpenShift system identity",
                             "identité système de Kubernetes/OpenShift")
    return None


def authorisation(subject: Subject, binding: RoleBinding, spec: TenantPolicySpec,
                  tenant_namespaces: Iterable[str], now: datetime) -> Authorisation:
    """Whether `subject` of `binding` is authorised by the tenant, and why (or why not)."""
    tenant = frozenset(tenant_namespaces)
    who = identity_of(subject, binding.namespace)
    for i, allowed in enumerate(spec.authorized_subjects or ()):
        if spec_identity(allowed, binding.namespace) == who:
            return Authorisation(True, f"on the authorised list (spec.authorizedSubjects[{i}])",
                                 f"sur la liste autorisée (spec.authorizedSubjects[{i}])")
    held = [(i, g) for i, g in enumerate(spec.access_grants or ())
            if spec_identity(g.subject, binding.namespace) == who]
    for i, g in held:
        if grant_active(g, now) and _grants_role(g, binding):
            return Authorisation(
                True,
                f"holds access grant spec.accessGrants[{i}] for ClusterRole {g.cluster_role} until "
                f"{rfc3339(g.expires)} ({g.reason})",
                f"détient l'autorisation d'accès spec.accessGrants[{i}] pour le ClusterRole {g.cluster_role} "
                f"jusqu'au {rfc3339(g.expires)} ({g.reason})", g)
    implicit = implicit_authorisation(who, tenant)
    if implicit is not None:
        return implicit
    sa_namespace = _sa_group_namespace(who)
    # Not authorised: say why as precisely as the evidence allows.
    if who.kind in ("User", "Group") and who.name in NEVER_IMPLICIT:
        en, fr = NEVER_IMPLICIT[who.name]
        return Authorisation(False, f"it stands for {en} and is never authorised implicitly",
                             f"il représente {fr} et n'est jamais autorisé implicitement")
    where = (who.namespace or sa_namespace) if (who.kind == "ServiceAccount" or sa_namespace) else None
    expired = [(i, g) for i, g in held if _grants_role(g, binding)]
    if expired:
        i, g = max(expired, key=lambda p: p[1].expires)
        return Authorisation(
            False,
            f"its access grant spec.accessGrants[{i}] for ClusterRole {g.cluster_role} expired at "
            f"{rfc3339(g.expires)}, and it is not on spec.authorizedSubjects",
            f"son autorisation d'accès spec.accessGrants[{i}] pour le ClusterRole {g.cluster_role} a expiré "
            f"le {rfc3339(g.expires)}, et il ne figure pas dans spec.authorizedSubjects")
    if held:
        roles = ", ".join(sorted({g.cluster_role for _, g in held}))
        return Authorisation(
            False,
            f"its access grants cover ClusterRole {roles}, not {_role(binding)}, and it is not on "
            f"spec.authorizedSubjects",
            f"ses autorisations d'accès portent sur le ClusterRole {roles}, pas sur le {_role(binding)}, et il "
            f"ne figure pas dans spec.authorizedSubjects")
    if where is not None:
        extra_en = f"; it belongs to namespace {where}, which is not a tenant namespace"
        extra_fr = f" ; il appartient à l'espace de noms {where}, qui n'est pas un espace de noms du locataire"
    else:
        extra_en = extra_fr = ""
    return Authorisation(
        False, f"it is not on spec.authorizedSubjects and holds no access grant{extra_en}",
        f"il ne figure pas dans spec.authorizedSubjects et ne détient aucune autorisation d'accès{extra_fr}")


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
            out.append(finding(rule("ACC-001"), Result.FAIL, _ref(b), Message(
                f"{_binding_en(b)} grants {_role(b)} {_scope_en(b)} to {_subject_en(s, b.namespace)} "
                f"(subjects[{i}]), who is not authorised by the tenant: {a.reason_en}",
                f"{_cap(_binding_fr(b))} donne le {_role(b)} {_scope_fr(b)} "
                f"{_subject_fr(s, b.namespace, dative=True)} (subjects[{i}]), qui n'est pas autorisé par le "
                f"locataire : {a.reason_fr}",
            ), f"subjects[{i}]"))
        if refused:
            continue
        if not verdicts:
            message = Message(f"{_binding_en(b)} ({_role(b)}) binds no subject",
                              f"{_cap(_binding_fr(b))} ({_role(b)}) ne lie aucun sujet")
        else:
            message = Message(
                f"{_binding_en(b)} grants {_role(b)} {_scope_en(b)} only to authorised subjects: "
                + "; ".join(f"{_subject_en(s, b.namespace)}: {a.reason_en}" for _, s, a in verdicts),
                f"{_cap(_binding_fr(b))} ne donne le {_role(b)} {_scope_fr(b)} qu'à des sujets autorisés : "
                + " ; ".join(f"{_subject_fr(s, b.namespace)} : {a.reason_fr}" for _, s, a in verdicts))
        out.append(finding(rule("ACC-001"), Result.PASS, _ref(b), message, "subjects"))
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
            en, fr = BROAD_GROUPS[s.name]
            out.append(finding(rule("ACC-002"), Result.FAIL, _ref(b), Message(
                f"{_binding_en(b)} grants {_role(b)} {_scope_en(b)} to Group {s.name} (subjects[{i}]), that is "
                f"to {en}: a broad group defeats the tenant's authorised list",
                f"{_cap(_binding_fr(b))} donne le {_role(b)} {_scope_fr(b)} au groupe {s.name} (subjects[{i}]), "
                f"c'est-à-dire à {fr} : un groupe aussi large rend caduque la liste autorisée du locataire",
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
        out.append(finding(rule("ACC-002"), Result.PASS, _namespace_ref(namespace), Message(
            f"No RoleBinding in tenant namespace {namespace} and no ClusterRoleBinding (apart from the discovery "
            f"roles Kubernetes and OpenShift bind themselves) names system:authenticated, "
            f"system:unauthenticated or system:serviceaccounts",
            f"Aucun RoleBinding de l'espace de noms du locataire {namespace} ni aucun ClusterRoleBinding (hors "
            f"rôles de découverte liés par Kubernetes et OpenShift eux-mêmes) ne nomme system:authenticated, "
            f"system:unauthenticated ou system:serviceaccounts",
        )))
    return out


# --------------------------------------------------------------------------------------------
# ACC-003


def _still_justified(binding: RoleBinding, subject: Subject, spec: TenantPolicySpec,
                     now: datetime) -> tuple[str, str] | None:
    """Why the binding may stay although a grant expired: an active grant of the same role, or the list."""
    who = identity_of(subject, binding.namespace)
    for j, g in enumerate(spec.access_grants or ()):
        if grant_active(g, now) and _grants_role(g, binding) and spec_identity(g.subject, binding.namespace) == who:
            return (f"access grant spec.accessGrants[{j}] is active until {rfc3339(g.expires)}",
                    f"l'autorisation d'accès spec.accessGrants[{j}] est active jusqu'au {rfc3339(g.expires)}")
    for j, allowed in enumerate(spec.authorized_subjects or ()):
        if spec_identity(allowed, binding.namespace) == who:
            return (f"the subject is on the authorised list (spec.authorizedSubjects[{j}])",
                    f"le sujet figure sur la liste autorisée (spec.authorizedSubjects[{j}])")
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
        who_en, who_fr = _spec_subject_en(g.subject), _spec_subject_fr(g.subject)
        field = f"{F_GRANTS}[{i}]"
        until = rfc3339(g.expires)
        if grant_active(g, now):
            out.append(finding(rule("ACC-003"), Result.PASS, _policy_ref(policy_name), Message(
                f"Access grant {field} ({who_en}, ClusterRole {g.cluster_role}, {g.reason}) is active until {until}",
                f"L'autorisation d'accès {field} ({who_fr}, ClusterRole {g.cluster_role}, {g.reason}) est active "
                f"jusqu'au {until}",
            ), field))
            continue
        lingering = 0
        justified: list[tuple[RoleBinding, str, str]] = []
        for b in candidates:
            if not _grants_role(g, b):
                continue
            for k, s in enumerate(b.subjects):
                if identity_of(s, b.namespace) != spec_identity(g.subject, b.namespace):
                    continue
                why = _still_justified(b, s, spec, now)
                if why is not None:
                    justified.append((b, *why))
                    continue
                lingering += 1
                out.append(finding(rule("ACC-003"), Result.FAIL, _ref(b), Message(
                    f"{_binding_en(b)} still grants ClusterRole {g.cluster_role} {_scope_en(b)} to "
                    f"{_subject_en(s, b.namespace)} (subjects[{k}]) although access grant {field} ({g.reason}) "
                    f"expired at {until}",
                    f"{_cap(_binding_fr(b))} donne toujours le ClusterRole {g.cluster_role} {_scope_fr(b)} "
                    f"{_subject_fr(s, b.namespace, dative=True)} (subjects[{k}]) alors que l'autorisation "
                    f"d'accès {field} ({g.reason}) a expiré le {until}",
                ), f"subjects[{k}]"))
        if lingering:
            continue
        if justified:
            names_en = "; ".join(f"{_binding_en(b)}: {en}" for b, en, _ in justified)
            names_fr = " ; ".join(f"{_binding_fr(b)} : {fr}" for b, _, fr in justified)
            message = Message(
                f"Access grant {field} ({who_en}, ClusterRole {g.cluster_role}) expired at {until}; the bindings "
                f"that remain are justified otherwise: {names_en}",
                f"L'autorisation d'accès {field} ({who_fr}, ClusterRole {g.cluster_role}) a expiré le {until} ; "
                f"les liaisons restantes sont justifiées autrement : {names_fr}")
        else:
            message = Message(
                f"Access grant {field} ({who_en}, ClusterRole {g.cluster_role}) expired at {until} and no binding "
                f"gives that role to that subject in a tenant namespace any more",
                f"L'autorisation d'accès {field} ({who_fr}, ClusterRole {g.cluster_role}) a expiré le {until} et "
                f"plus aucune liaison ne donne ce rôle à ce sujet dans un espace de noms du locataire")
        out.append(finding(rule("ACC-003"), Result.PASS, _policy_ref(policy_name), message, field))
    return out


# --------------------------------------------------------------------------------------------
# The policy


def evaluate_access(spec: TenantPolicySpec, policy_name: str, tenant_namespaces: list[str], view: ClusterView,
                    now: datetime) -> list[Finding]:
    """Every ACC rule for the tenant's namespaces."""
    return [
        *check_authorised_subjects(spec, tenant_namespaces, view, now),
        *check_broad_groups(tenant_namespaces, view),
        *check_expired_grants(spec, policy_name, tenant_namespaces, view, now),
    ]


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


def _register_subject(entry: Mapping[str, Any], language: str) -> str:
    kind, namespace, name = _register_key(entry)
    subject = Subject(kind, name, namespace)
    return _subject_fr(subject) if language == "fr" else _subject_en(subject)


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


def register_change_message(previous: Mapping[str, Any], fields: Mapping[str, Any], language: str = "en"
                            ) -> str | None:
    """The message of the AccessRegisterChanged Event between a previous status and new status fields;
    None when there is nothing to announce: the digest did not change, or the previous status had no
    register to compare with (a first evaluation, or a status written before the register existed).

    Only the entries shown (the first REGISTER_CAP of each register) can be named; when either register
    was truncated, the message says that subjects beyond them may have changed too."""
    before, after = previous.get("accessRegisterDigest"), fields.get("accessRegisterDigest")
    if before is None or after is None or before == after:
        return None
    fr = language == "fr"
    added, removed, changed = register_changes(previous.get("accessRegister") or (),
                                               fields.get("accessRegister") or ())

    def names(entries: list[Mapping[str, Any]], with_verdict: bool) -> str:
        shown = []
        for e in entries[:REGISTER_EVENT_NAMES]:
            text = _register_subject(e, language)
            if with_verdict:
                text += (" (autorisé)" if e.get("authorised") else " (non autorisé)") if fr else (
                    " (authorised)" if e.get("authorised") else " (not authorised)")
            shown.append(text)
        more = len(entries) - len(shown)
        if more:
            shown.append(f"et {more} autre(s)" if fr else f"and {more} more")
        return ", ".join(shown)

    parts = []
    for entries, en, fr_label, with_verdict in ((added, "added", "ajouté(s)", True),
                                                (removed, "removed", "retiré(s)", False),
                                                (changed, "changed", "modifié(s)", True)):
        if entries:
            listed = names(entries, with_verdict)
            parts.append(f"{fr_label} : {listed}" if fr else f"{en}: {listed}")
    truncated = bool(previous.get("accessRegisterTruncated") or fields.get("accessRegisterTruncated"))
    if fr:
        text = "Registre des accès modifié : " + (" ; ".join(parts) if parts else
                                                    f"au-delà des {REGISTER_CAP} premiers sujets affichés")
        if truncated and parts:
            text += f" (registre tronqué : les sujets au-delà des {REGISTER_CAP} premiers ne sont pas nommés)"
    else:
        text = "Access register changed: " + ("; ".join(parts) if parts else
                                              f"beyond the first {REGISTER_CAP} subjects shown")
        if truncated and parts:
            text += f" (register truncated: subjects beyond the first {REGISTER_CAP} are not named)"
    return text
