"""One policy in, findings and the kind's status fields out: the glue shared by the operator and `check`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .api import BackupPolicySpec, TenantPolicySpec, ZoneSpreadSpec
from .findings import Finding
from .rules import access, backup, location, network, zonespread
from .selectors import label_selector_matches
from .status import rfc3339
from .view import ClusterView, Namespace


@dataclass(frozen=True)
class Outcome:
    findings: list[Finding]
    status_fields: dict[str, Any]
    detail: Any = None


def policy_label(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def evaluate_zonespread(spec: ZoneSpreadSpec, namespace: str, name: str, view: ClusterView) -> Outcome:
    result = zonespread.evaluate(spec, namespace, view)
    label = policy_label("ZoneSpread", namespace, name)
    zones = sorted(result.observed_zones)
    return Outcome(
        findings=[replace(f, policy=label) for f in result.findings],
        status_fields={
            "slaEligible": result.sla_eligible,
            "zones": ",".join(zones),
            "observedZones": zones,
            "workloads": len(result.assessments),
        },
        detail=result,
    )


# ---- TenantPolicy -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantScope:
    """Which namespaces a TenantPolicy covers, and in which network zone each one sits."""

    namespaces: list[str]
    zone_of_namespace: dict[str, str]
    other_tenant_namespaces: set[str]


def tenant_scope(spec: TenantPolicySpec, namespaces: Mapping[str, Namespace],
                 other_specs: list[TenantPolicySpec]) -> TenantScope:
    selector = spec.namespace_selector.as_k8s()
    mine = sorted(n for n, ns in namespaces.items() if label_selector_matches(selector, ns.labels))
    zones: dict[str, str] = {}
    for zone in sorted(spec.zones or {}):
        zone_selector = (spec.zones or {})[zone].as_k8s()
        for n in mine:
            if n not in zones and label_selector_matches(zone_selector, namespaces[n].labels):
                zones[n] = zone
    other_selectors = [other.namespace_selector.as_k8s() for other in other_specs]
    others = {n for other in other_selectors for n, ns in namespaces.items()
              if label_selector_matches(other, ns.labels)} - set(mine)
    return TenantScope(mine, zones, others)


def yielded_namespaces(name: str, namespaces: list[str], all_namespaces: Mapping[str, Namespace],
                       others: Mapping[str, TenantPolicySpec]) -> dict[str, str]:
    """The namespaces among `namespaces` that a TenantPolicy of an earlier name selects too -> that name.

    Two TenantPolicies that both enforce in one namespace would apply NetworkPolicies and
    RoleBindings of the same names there, each undoing the other's on every evaluation. The first by
    name enforces; the others leave the namespace to it and say so.
    """
    earlier = sorted((other, spec.namespace_selector.as_k8s()) for other, spec in others.items() if other < name)
    out: dict[str, str] = {}
    for namespace in namespaces:
        labels = all_namespaces[namespace].labels
        winner = next((other for other, selector in earlier if label_selector_matches(selector, labels)), None)
        if winner is not None:
            out[namespace] = winner
    return out


def evaluate_tenantpolicy(spec: TenantPolicySpec, name: str, scope: TenantScope, view: ClusterView,
                          now: datetime) -> Outcome:
    label = policy_label("TenantPolicy", "", name)
    findings = [
        *network.evaluate_network(spec, scope.namespaces, scope.zone_of_namespace,
                                  scope.other_tenant_namespaces, view),
        *access.evaluate_access(spec, name, scope.namespaces, view, now),
        *location.evaluate_location(spec, name, scope.namespaces, view),
    ]
    grants = access.grant_states(spec, now)
    next_expiry = access.next_grant_expiry(spec, now)
    fields: dict[str, Any] = {
        "namespaces": len(scope.namespaces),
        "tenantNamespaces": scope.namespaces[:TENANT_NAMESPACES_SHOWN],
        "grants": grants or None,
        "nextGrantExpiry": rfc3339(next_expiry) if next_expiry else None,
    }
    return Outcome(findings=[replace(f, policy=label) for f in findings],
                   status_fields={k: v for k, v in fields.items() if v is not None}, detail=next_expiry)


TENANT_NAMESPACES_SHOWN = 50


# ---- BackupPolicy -----------------------------------------------------------------------------


def evaluate_backuppolicy(spec: BackupPolicySpec, namespace: str, name: str, view: ClusterView,
                          now: datetime) -> Outcome:
    result = backup.evaluate_backup(spec, namespace, name, view, now)
    label = policy_label("BackupPolicy", namespace, name)
    return Outcome(findings=[replace(f, policy=label) for f in result.findings],
                   status_fields=dict(result.status_fields), detail=result)
