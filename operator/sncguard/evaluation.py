"""One policy in, findings and the kind's status fields out: the glue shared by the operator and `check`."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from . import API_VERSION
from .api import BackupPolicySpec, TenantPolicySpec, ZoneSpreadSpec
from .findings import Finding, ResourceRef
from .rules import access, backup, location, network, termination, zonespread
from .rules.subjects import Tenant
from .selectors import label_selector_matches
from .status import resource_entry
from .tenancy import TenantSelection
from .timefmt import rfc3339_seconds
from .view import ClusterView, Namespace
from .waivers import apply_waivers, spec_waivers

Detail = TypeVar("Detail")


@dataclass(frozen=True)
class Outcome(Generic[Detail]):
    findings: list[Finding]
    status_fields: dict[str, Any]
    # What the kind's reconciler reads beyond findings and status: a ZoneSpread's ZoneSpreadEvaluation (its
    # plan and SLA ledger), a BackupPolicy's BackupEvaluation (its drills); None for a TenantPolicy.
    detail: Detail
    # When a verdict may change with no object changing (a waiver lapsing, a grant expiring, a termination
    # deadline, an RPO running out): a timer's due time.
    wake_at: datetime | None = None


def policy_label(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


WAIVED_SHOWN = 20


def with_waivers(outcome: Outcome[Detail], spec: Any, kind: str, namespace: str, name: str, view: ClusterView,
                 now: datetime) -> Outcome[Detail]:
    """The outcome with the waivers of its objects and of the policy applied (waivers.py), and the
    status fields that show them: `waived` (what is accepted, until when, why) and `waiverErrors`."""
    policy = ResourceRef(kind=kind, namespace=namespace, name=name, api_version=API_VERSION)
    waived = apply_waivers(outcome.findings, view, spec_waivers(spec.waivers), policy, now)
    fields = dict(outcome.status_fields)
    accepted = [f for f in waived.findings if f.waived]
    if accepted:
        fields["waived"] = [{**f.waiver.as_dict(), "resource": resource_entry(f.resource)}  # type: ignore[union-attr]
                            for f in sorted(accepted, key=lambda f: (f.rule.id, f.resource))[:WAIVED_SHOWN]]
    if waived.errors:
        fields["waiverErrors"] = waived.errors[:WAIVED_SHOWN]
    due = [d for d in (outcome.wake_at, waived.next_expiry) if d is not None]
    return replace(outcome, findings=waived.findings, status_fields=fields, wake_at=min(due) if due else None)


def evaluate_zonespread(spec: ZoneSpreadSpec, namespace: str, name: str, view: ClusterView,
                        now: datetime) -> Outcome[zonespread.ZoneSpreadEvaluation]:
    result = zonespread.evaluate(spec, namespace, view, name, now)
    label = policy_label("ZoneSpread", namespace, name)
    zones = sorted(result.observed_zones)
    return with_waivers(Outcome(
        findings=[replace(f, policy=label) for f in result.findings],
        status_fields={
            "slaEligible": result.sla_eligible,
            "zones": ",".join(zones),
            "observedZones": zones,
            "workloads": len(result.assessments),
        },
        detail=result,
    ), spec, "ZoneSpread", namespace, name, view, now)


# ---- TenantPolicy -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantScope:
    """Which namespaces a TenantPolicy covers, and in which network zone each one sits."""

    namespaces: list[str]
    zone_of_namespace: dict[str, str]
    other_tenant_namespaces: set[str]


def tenant_scope(spec: TenantPolicySpec, namespaces: Mapping[str, Namespace],
                 other_specs: list[TenantPolicySpec]) -> TenantScope:
    """The scope of one TenantPolicy among `other_specs`, for a single question; to ask for many
    policies, keep a TenantSelection and use `scope_of`."""
    selection = TenantSelection()
    selection.sync(namespaces, {0: spec.namespace_selector.as_k8s(),
                                **{i: other.namespace_selector.as_k8s() for i, other in enumerate(other_specs, 1)}})
    return scope_of(0, spec, namespaces, selection)


def scope_of(policy: Hashable, spec: TenantPolicySpec, namespaces: Mapping[str, Namespace],
             selection: TenantSelection) -> TenantScope:
    """The scope of `policy` (its id in `selection`, which is up to date with `namespaces` and every
    usable TenantPolicy, this one included)."""
    mine = selection.namespaces_of(policy)
    zones: dict[str, str] = {}
    for zone in sorted(spec.zones or {}):
        zone_selector = (spec.zones or {})[zone].as_k8s()
        for n in mine:
            if n not in zones and label_selector_matches(zone_selector, namespaces[n].labels):
                zones[n] = zone
    return TenantScope(mine, zones, selection.others(policy))


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


# The families that judge a TenantPolicy, in the order its findings are listed.
TENANT_FAMILIES = (network.family, access.family, location.family, termination.family)


def evaluate_tenantpolicy(spec: TenantPolicySpec, name: str, scope: TenantScope, view: ClusterView,
                          now: datetime, previous_status: Mapping[str, Any] | None = None) -> Outcome[None]:
    """`previous_status` (the policy's last status, if any) carries the termination evidence over: the
    namespaces remembered once deleted, the erasure certificate's checkedAt. `wake_at` is the next moment
    a verdict changes by time alone: a grant's expiry or a termination deadline, whichever comes first."""
    label = policy_label("TenantPolicy", "", name)
    tenant = Tenant(spec, name, scope.namespaces, scope.zone_of_namespace, scope.other_tenant_namespaces,
                    previous_status)
    findings = [f for family in TENANT_FAMILIES for f in family.evaluate(tenant, view, now)]
    grants = access.grant_states(spec, now)
    next_expiry = access.next_grant_expiry(spec, now)
    timers = [d for d in (next_expiry, termination.next_deadline(spec, now)) if d is not None]
    fields: dict[str, Any] = {
        "namespaces": len(scope.namespaces),
        "tenantNamespaces": scope.namespaces[:TENANT_NAMESPACES_SHOWN],
        "grants": grants or None,
        "nextGrantExpiry": rfc3339_seconds(next_expiry) if next_expiry else None,
        **termination.termination_status_fields(tenant, view, now),
        # Always present, an empty register too: its digest tells the next evaluation what changed.
        **access.register_status(access.access_register(spec, scope.namespaces, view, now)),
    }
    return with_waivers(Outcome(findings=[replace(f, policy=label) for f in findings],
                                status_fields={k: v for k, v in fields.items() if v is not None},
                                detail=None, wake_at=min(timers) if timers else None),
                        spec, "TenantPolicy", "", name, view, now)


TENANT_NAMESPACES_SHOWN = 50


# ---- BackupPolicy -----------------------------------------------------------------------------


def backuppolicy_status(result: backup.BackupEvaluation) -> dict[str, Any]:
    """What the BackupPolicy's status says of its namespace's protection, beside the findings: the target
    and its place, the workloads' zones, the last backup and restore test, and the next deadline."""
    protected = result.protected
    fields: dict[str, Any] = {"target": protected.spec.storage_location,
                              "workloadZones": protected.workload_zones.zones}
    bsl = protected.storage_location
    if bsl is not None and bsl.zone:
        fields["targetZone"] = bsl.zone
    if bsl is not None and bsl.region:
        fields["targetRegion"] = bsl.region
    if protected.last_backup_at is not None:
        fields["lastBackup"] = rfc3339_seconds(protected.last_backup_at)
    if protected.last_restore_test_at is not None:
        fields["lastRestoreTest"] = rfc3339_seconds(protected.last_restore_test_at)
    if result.next_deadline is not None:
        fields["nextDeadline"] = rfc3339_seconds(result.next_deadline)
    return fields


def evaluate_backuppolicy(spec: BackupPolicySpec, namespace: str, name: str, view: ClusterView,
                          now: datetime) -> Outcome[backup.BackupEvaluation]:
    """`detail` is the BackupEvaluation: when a verdict next changes by time alone, the backup a drill restores."""
    result = backup.evaluate_backup(spec, namespace, name, view, now)
    label = policy_label("BackupPolicy", namespace, name)
    return with_waivers(Outcome(findings=[replace(f, policy=label) for f in result.findings],
                                 status_fields=backuppolicy_status(result), detail=result),
                         spec, "BackupPolicy", namespace, name, view, now)
