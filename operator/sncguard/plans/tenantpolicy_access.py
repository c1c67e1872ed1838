"""Enforce mode for TenantPolicy access grants: one RoleBinding per active grant and tenant namespace.

A grant (R9) is a written, temporary authorisation: while it is active (expires > now) sncguard
keeps a RoleBinding `sncguard-grant-<hash>` in every tenant namespace that gives the grant's
subject the grant's ClusterRole. The hash covers the subject (kind, name, namespace) and the
ClusterRole, so the name is stable across evaluations and a binding never changes its roleRef
(which the API server forbids): a different role is a different binding.

Bindings carry the managed-by label, the policy's label and an ownerReference to the
TenantPolicy. `stale_grant_bindings` names the owned ones that no grant wants any more (expired,
removed, or in a namespace that left the tenant); a binding without both labels and the name
prefix is a user's and is never stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .. import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from ..api.tenantpolicy import AccessGrant, TenantPolicySpec
from ..naming import digest, label_value, owner_reference
from ..rules.access import grant_active
from ..timefmt import rfc3339_fraction as rfc3339
from ..view import RoleBinding

__all__ = [
    "EXPIRES_ANNOTATION",
    "GRANT_PREFIX",
    "REASON_ANNOTATION",
    "TENANT_POLICY_LABEL",
    "binding_name",
    "grant_binding",
    "grant_bindings",
    "policy_label_value",
    "stale_grant_bindings",
]

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
GRANT_PREFIX = "sncguard-grant-"
TENANT_POLICY_LABEL = "sncguard.io/tenant-policy"
EXPIRES_ANNOTATION = "sncguard.io/expires"
REASON_ANNOTATION = "sncguard.io/reason"


def policy_label_value(policy_name: str) -> str:
    """The sncguard.io/tenant-policy label value of a TenantPolicy (shared with the network plan)."""
    return label_value(policy_name)


def _subject_namespace(grant: AccessGrant, namespace: str) -> str:
    """A ServiceAccount without namespace is the one of the binding's namespace."""
    if grant.subject.kind.value != "ServiceAccount":
        return ""
    return grant.subject.namespace or namespace


def binding_name(grant: AccessGrant, namespace: str) -> str:
    """sncguard-grant-<12 hex>: a hash of the subject's kind, name and namespace and of the ClusterRole."""
    s = grant.subject
    key = "\x00".join((s.kind.value, s.name, _subject_namespace(grant, namespace), grant.cluster_role))
    return GRANT_PREFIX + digest(key, 12)


def _subject(grant: AccessGrant, namespace: str) -> dict[str, str]:
    s = grant.subject
    if s.kind.value == "ServiceAccount":
        return {"kind": "ServiceAccount", "name": s.name, "namespace": _subject_namespace(grant, namespace)}
    return {"kind": s.kind.value, "apiGroup": RBAC_GROUP, "name": s.name}


def grant_binding(policy_name: str, policy_uid: str, grant: AccessGrant, namespace: str) -> dict[str, Any]:
    """The RoleBinding that implements `grant` in `namespace`."""
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "RoleBinding",
        "metadata": {
            "name": binding_name(grant, namespace),
            "namespace": namespace,
            "labels": {
                MANAGED_BY_LABEL: MANAGED_BY_VALUE,
                TENANT_POLICY_LABEL: policy_label_value(policy_name),
            },
            "annotations": {
                EXPIRES_ANNOTATION: rfc3339(grant.expires),
                REASON_ANNOTATION: grant.reason,
            },
            "ownerReferences": [owner_reference("TenantPolicy", policy_name, policy_uid)],
        },
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": grant.cluster_role},
        "subjects": [_subject(grant, namespace)],
    }


def grant_bindings(policy_name: str, policy_uid: str, spec: TenantPolicySpec, tenant_namespaces: list[str],
                   now: datetime) -> list[dict[str, Any]]:
    """A RoleBinding per active grant (expires > now) and tenant namespace, sorted by namespace and name.

    Two active grants of the same role to the same subject make one binding, annotated with the later
    expiry (and that grant's reason).
    """
    chosen: dict[tuple[str, str], AccessGrant] = {}
    for namespace in sorted(set(tenant_namespaces)):
        for grant in spec.access_grants or ():
            if not grant_active(grant, now):
                continue
            key = (namespace, binding_name(grant, namespace))
            if key not in chosen or grant.expires > chosen[key].expires:
                chosen[key] = grant
    return [grant_binding(policy_name, policy_uid, grant, namespace)
            for (namespace, _), grant in sorted(chosen.items(), key=lambda item: item[0])]


def _owned_by(binding: RoleBinding, policy_name: str) -> bool:
    return (binding.kind == "RoleBinding"
            and binding.name.startswith(GRANT_PREFIX)
            and binding.labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE
            and binding.labels.get(TENANT_POLICY_LABEL) == policy_label_value(policy_name))


def stale_grant_bindings(existing: Iterable[RoleBinding], desired: Iterable[dict[str, Any]],
                         policy_name: str) -> list[tuple[str, str]]:
    """(namespace, name) of the grant bindings this policy owns that `desired` no longer holds, sorted."""
    wanted = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in desired}
    stale = {(b.namespace, b.name) for b in existing
             if _owned_by(b, policy_name) and (b.namespace, b.name) not in wanted}
    return sorted(stale)
