"""Termination rules TERM-001 and TERM-002: once the contract ends, the tenant is told within 21 days
that its data will be erased, and nothing of it remains 30 days after that notice (R11).

Pure: no I/O, no clock (`now` is a parameter), no kopf, no client. sncguard never deletes tenant
data itself: it says what remains, and certifies when nothing does.

Deadlines
    TERM-001 fails once more than 21 days have passed since `contractEndedAt` with no
    `erasureNoticeAt`; TERM-002 judges what remains once more than 30 days have passed since
    `erasureNoticeAt`. Both are engine timers (`next_deadline`), as RPOs are: the verdict changes
    with no object changing.

What counts as the tenant's data (TERM-002)
    - each of its namespaces that still exists;
    - each PersistentVolume bound to a claim of one of them (claimRef, or a claim's volumeName),
      Released volumes included: a Retain policy keeps the data after the claim is gone;
    - each Velero Backup, in any namespace and any phase, whose scope takes one of them in
      (rules/backup.py decides: includedNamespaces holds it, or `*`, or is empty, and
      excludedNamespaces does not exclude it). sncguard sees a Backup's scope, not its content:
      a Backup of every namespace counts until it is deleted or excludes the tenant's.

    The tenant's namespaces are those its selector matches now, plus those the previous status
    remembered (`erasureNamespaces`, seeded from `tenantNamespaces`): a deleted namespace no longer
    matches any selector, yet its volumes and backups may remain.

Erasure certificate
    Past the deadline with nothing left, the status carries `erasureCertificate`: when sncguard first
    saw nothing left (`checkedAt`, carried over from the previous status while the deadline is
    unchanged), the deadline, the namespaces looked for, the inventory (each kind checked -> 0) and
    `digest`, the SHA-256 (hex) of the canonical JSON (sorted keys, no spaces, UTF-8) of those fields
    and the tenant's name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..findings import Finding, ResourceRef, Result, Severity, finding
from ..i18n import N_, Text, msg
from ..timefmt import rfc3339_fraction as rfc3339
from ..view import ClusterView, PersistentVolume, VeleroBackup
from .backup import VELERO_API_VERSION, backup_holds_namespace
from .location import tenant_volumes
from .registry import TERMINATION, Family, rule
from .subjects import Tenant

if TYPE_CHECKING:
    from ..api.tenantpolicy import TenantPolicySpec

__all__ = [
    "ERASURE_PERIOD",
    "INVENTORY_KINDS",
    "NOTICE_PERIOD",
    "Remaining",
    "TerminationEvaluation",
    "certificate_digest",
    "erasure_certificate",
    "erasure_deadline",
    "erasure_scope",
    "evaluate_termination",
    "next_deadline",
    "notice_deadline",
    "remaining_data",
    "termination_status_fields",
]

POLICY_API_VERSION = "sncguard.io/v1alpha1"

NOTICE_PERIOD = timedelta(days=21)
ERASURE_PERIOD = timedelta(days=30)

F_TERMINATION = "spec.termination"
F_NOTICE = "spec.termination.erasureNoticeAt"
F_CLAIM_REF = "spec.claimRef"
F_INCLUDED = "spec.includedNamespaces"

# The kinds TERM-002 looks for, in the certificate's inventory.
INVENTORY_KINDS = ("Namespace", "PersistentVolume", "Backup")

family: Family[Tenant] = Family(TERMINATION, "TenantPolicy")


# --------------------------------------------------------------------------------------------
# Deadlines


def notice_deadline(spec: TenantPolicySpec) -> datetime | None:
    """When the erasure notice is due (contractEndedAt + 21 days); None without a contract end."""
    t = spec.termination
    return t.contract_ended_at + NOTICE_PERIOD if t is not None and t.contract_ended_at is not None else None


def erasure_deadline(spec: TenantPolicySpec) -> datetime | None:
    """When the tenant's data must be gone (erasureNoticeAt + 30 days); None without a notice."""
    t = spec.termination
    return t.erasure_notice_at + ERASURE_PERIOD if t is not None and t.erasure_notice_at is not None else None


def next_deadline(spec: TenantPolicySpec, now: datetime) -> datetime | None:
    """The earliest future moment a TERM verdict changes by time alone; None when there is none."""
    t = spec.termination
    if t is None:
        return None
    deadlines = [erasure_deadline(spec)]
    if t.erasure_notice_at is None:
        deadlines.append(notice_deadline(spec))
    future = [d for d in deadlines if d is not None and d > now]
    return min(future) if future else None


def _days(delta: timedelta) -> int:
    return int(delta.total_seconds() // 86400)


# --------------------------------------------------------------------------------------------
# What remains


def erasure_scope(tenant_namespaces: Iterable[str], previous_status: Mapping[str, Any] | None) -> list[str]:
    """The tenant's namespaces: selected now, or remembered by the previous status, sorted."""
    previous = previous_status or {}
    remembered = [*(previous.get("erasureNamespaces") or ()), *(previous.get("tenantNamespaces") or ())]
    return sorted({*tenant_namespaces, *(n for n in remembered if isinstance(n, str) and n)})


@dataclass(frozen=True)
class Remaining:
    """The tenant's data still in the view."""

    namespaces: list[str] = field(default_factory=list)
    volumes: list[tuple[PersistentVolume, str]] = field(default_factory=list)  # with its claim "ns/name"
    backups: list[tuple[VeleroBackup, list[str]]] = field(default_factory=list)  # with the namespaces it holds

    def counts(self) -> dict[str, int]:
        return {"Namespace": len(self.namespaces), "PersistentVolume": len(self.volumes),
                "Backup": len(self.backups)}

    @property
    def empty(self) -> bool:
        return not (self.namespaces or self.volumes or self.backups)


def remaining_data(namespaces: Iterable[str], view: ClusterView) -> Remaining:
    scope = sorted(set(namespaces))
    volumes, _ = tenant_volumes(scope, view)
    backups = []
    for b in sorted(view.backups, key=lambda b: (b.namespace, b.name)):
        held = [n for n in scope if backup_holds_namespace(b, n)]
        if held:
            backups.append((b, held))
    return Remaining([n for n in scope if n in view.namespaces], volumes, backups)


# --------------------------------------------------------------------------------------------
# The certificate


def certificate_digest(tenant: str, certificate: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of the certificate's evidence (every field but the digest) and
    the tenant's name."""
    evidence = {**{k: v for k, v in certificate.items() if k != "digest"}, "tenant": tenant}
    canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def erasure_certificate(tenant: str, namespaces: list[str], deadline: datetime, now: datetime,
                        previous_status: Mapping[str, Any] | None) -> dict[str, Any]:
    """The certificate of an erasure found complete at `now`; `checkedAt` is the previous certificate's
    while its deadline is the same, so that the certificate stays put across evaluations."""
    previous = (previous_status or {}).get("erasureCertificate") or {}
    due = rfc3339(deadline)
    checked_at = previous.get("checkedAt") if previous.get("deadline") == due else None
    certificate: dict[str, Any] = {
        "checkedAt": checked_at if isinstance(checked_at, str) and checked_at else rfc3339(now),
        "deadline": due,
        "namespaces": list(namespaces),
        "inventory": {kind: 0 for kind in INVENTORY_KINDS},
    }
    certificate["digest"] = certificate_digest(tenant, certificate)
    return certificate


# --------------------------------------------------------------------------------------------
# The rules


@dataclass(frozen=True)
class TerminationEvaluation:
    findings: list[Finding]
    # Status fields: erasureNamespaces (once termination is declared), erasureCertificate (once earned).
    status_fields: dict[str, Any] = field(default_factory=dict)


def _policy_ref(policy_name: str) -> ResourceRef:
    return ResourceRef(kind="TenantPolicy", namespace="", name=policy_name, api_version=POLICY_API_VERSION)


def _undeclared(tenant: Tenant, rule_id: str) -> Finding | None:
    """The skip of `rule_id` while no termination is declared (the contract runs) or it has no end date;
    None once the contract's end is known."""
    t = tenant.spec.termination
    notice = rule_id == "TERM-001"
    if t is None:
        text = (msg("Erasure notice not judged: TenantPolicy {policy} declares no spec.termination (the contract "
                    "runs)", policy=tenant.name) if notice else
                msg("Erasure of the tenant's data not judged: TenantPolicy {policy} declares no spec.termination "
                    "(the contract runs)", policy=tenant.name))
    elif t.contract_ended_at is None:
        text = (msg("Erasure notice not judged: spec.termination sets no contractEndedAt") if notice else
                msg("Erasure of the tenant's data not judged: spec.termination sets no contractEndedAt"))
    else:
        return None
    return finding(rule(rule_id), Result.SKIP, _policy_ref(tenant.name), text, F_TERMINATION)


def check_notice(spec: TenantPolicySpec, policy_name: str, now: datetime) -> Finding:
    """TERM-001: fail when the contract ended more than 21 days ago and no notice is recorded."""
    t = spec.termination
    assert t is not None and t.contract_ended_at is not None
    ref = _policy_ref(policy_name)
    ended, due = rfc3339(t.contract_ended_at), rfc3339(t.contract_ended_at + NOTICE_PERIOD)
    if t.erasure_notice_at is not None:
        return finding(rule("TERM-001"), Result.PASS, ref, msg(
            "Erasure notice recorded at {notice} (spec.termination.erasureNoticeAt), {days} day(s) after the "
            "contract ended at {ended}",
            notice=rfc3339(t.erasure_notice_at), days=_days(t.erasure_notice_at - t.contract_ended_at), ended=ended,
        ), F_NOTICE)
    if now <= t.contract_ended_at + NOTICE_PERIOD:
        if now >= t.contract_ended_at:
            text = msg("The contract ended at {ended} (spec.termination.contractEndedAt); the erasure notice is due "
                       "by {due} (21 days later) and none is recorded yet", ended=ended, due=due)
        else:
            text = msg("The contract ends at {ended} (spec.termination.contractEndedAt); the erasure notice is due "
                       "by {due} (21 days later) and none is recorded yet", ended=ended, due=due)
        return finding(rule("TERM-001"), Result.PASS, ref, text, F_NOTICE)
    return finding(rule("TERM-001"), Result.FAIL, ref, msg(
        "The contract ended at {ended} (spec.termination.contractEndedAt), {days} days ago, and no erasure notice "
        "is recorded (spec.termination.erasureNoticeAt is absent): it was due by {due}, 21 days after the end of "
        "the contract", ended=ended, days=_days(now - t.contract_ended_at), due=due,
    ), F_NOTICE)


def _remaining(remaining: Remaining) -> Text:
    c = remaining.counts()
    return msg("{namespaces} namespace(s), {volumes} persistent volume(s) and {backups} Velero backup(s) of the "
               "tenant remain", namespaces=c["Namespace"], volumes=c["PersistentVolume"], backups=c["Backup"])


def check_erasure(spec: TenantPolicySpec, policy_name: str, namespaces: list[str], view: ClusterView,
                  now: datetime, previous_status: Mapping[str, Any] | None = None
                  ) -> tuple[list[Finding], dict[str, Any] | None]:
    """TERM-002: past the deadline, one failing finding per namespace, volume and backup that remains, or
    one pass and the erasure certificate when nothing does; before it, one pass saying what remains."""
    t = spec.termination
    assert t is not None and t.erasure_notice_at is not None
    ref = _policy_ref(policy_name)
    deadline = t.erasure_notice_at + ERASURE_PERIOD
    notice, due = rfc3339(t.erasure_notice_at), rfc3339(deadline)
    remaining = remaining_data(namespaces, view)
    if now <= deadline:
        return [finding(rule("TERM-002"), Result.PASS, ref, msg(
            "Erasure not yet due: the tenant's data must be gone by {due}, 30 days after the erasure notice of "
            "{notice} (spec.termination.erasureNoticeAt); for now {remaining}",
            due=due, notice=notice, remaining=_remaining(remaining),
        ), F_NOTICE)], None
    since = msg("past the erasure deadline of {due} (the notice of {notice} + 30 days; {days} day(s) late)",
                due=due, notice=notice, days=_days(now - deadline))
    out: list[Finding] = []
    for namespace in remaining.namespaces:
        out.append(finding(rule("TERM-002"), Result.FAIL, ResourceRef(
            kind="Namespace", namespace="", name=namespace, api_version="v1"), msg(
            "Namespace {namespace} of tenant {tenant} still exists {since}",
            namespace=namespace, tenant=spec.tenant, since=since,
        )))
    for pv, claim in remaining.volumes:
        out.append(finding(rule("TERM-002"), Result.FAIL, ResourceRef(
            kind="PersistentVolume", namespace="", name=pv.name, api_version="v1"), msg(
            "PersistentVolume {pv}, bound to claim {claim} of tenant {tenant} (spec.claimRef), still exists {since}",
            pv=pv.name, claim=claim, tenant=spec.tenant, since=since,
        ), F_CLAIM_REF))
    for b, held in remaining.backups:
        out.append(finding(rule("TERM-002"), Result.FAIL, ResourceRef(
            kind="Backup", namespace=b.namespace, name=b.name, api_version=VELERO_API_VERSION), msg(
            "Velero Backup {namespace}/{backup} ({phase}) covers namespace(s) {held} of tenant {tenant} "
            "(spec.includedNamespaces: {scope}) and still exists {since}",
            namespace=b.namespace, backup=b.name,
            phase=msg("phase {phase}", phase=b.phase) if b.phase else msg("phase unknown"),
            held=held, tenant=spec.tenant,
            scope=list(b.included_namespaces) if b.included_namespaces else msg("empty: every namespace"),
            since=since,
        ), F_INCLUDED))
    if out:
        return out, None
    certificate = erasure_certificate(spec.tenant, namespaces, deadline, now, previous_status)
    evidence = {"tenant": spec.tenant, "due": due, "checked_at": certificate["checkedAt"],
                "digest": certificate["digest"]}
    if namespaces:
        text = msg("Nothing of tenant {tenant} remains past the erasure deadline of {due}: no namespace, no "
                   "PersistentVolume bound to its claims and no Velero Backup covering its namespaces (looked for: "
                   "{namespaces}); erasure certificate since {checked_at}, digest {digest}",
                   namespaces=namespaces, **evidence)
    else:
        text = msg("Nothing of tenant {tenant} remains past the erasure deadline of {due}: no namespace, no "
                   "PersistentVolume bound to its claims and no Velero Backup covering its namespaces (looked for: "
                   "none); erasure certificate since {checked_at}, digest {digest}", **evidence)
    return [finding(rule("TERM-002"), Result.PASS, ref, text, F_NOTICE)], certificate


@family.rule("TERM-001", Severity.HIGH, ("R11",),
             N_("The contract ended more than 21 days ago and no erasure notice is recorded"),
             reads=())
def erasure_notice(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    skipped = _undeclared(tenant, "TERM-001")
    return [skipped if skipped is not None else check_notice(tenant.spec, tenant.name, now)]


@family.rule("TERM-002", Severity.CRITICAL, ("R11",),
             N_("More than 30 days after the erasure notice, tenant data remains"),
             reads={"Namespace", "PersistentVolume", "PersistentVolumeClaim", "Backup"})
def erasure(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]:
    skipped = _undeclared(tenant, "TERM-002")
    if skipped is not None:
        return [skipped]
    assert tenant.spec.termination is not None
    if tenant.spec.termination.erasure_notice_at is None:
        return [finding(rule("TERM-002"), Result.SKIP, _policy_ref(tenant.name), msg(
            "Erasure of the tenant's data not judged: no erasure notice is recorded "
            "(spec.termination.erasureNoticeAt), so the 30-day erasure deadline has not started (TERM-001 judges "
            "the notice)",
        ), F_NOTICE)]
    namespaces = erasure_scope(tenant.namespaces, tenant.previous_status)
    return check_erasure(tenant.spec, tenant.name, namespaces, view, now, tenant.previous_status)[0]


def termination_status_fields(tenant: Tenant, view: ClusterView, now: datetime) -> dict[str, Any]:
    """erasureNamespaces once a termination is declared; erasureCertificate once TERM-002 earns it."""
    t = tenant.spec.termination
    if t is None:
        return {}
    namespaces = erasure_scope(tenant.namespaces, tenant.previous_status)
    fields: dict[str, Any] = {"erasureNamespaces": namespaces}
    if t.contract_ended_at is None or t.erasure_notice_at is None:
        return fields
    # The same judgement as TERM-002's, so that the certificate exists exactly when its pass names it.
    _, certificate = check_erasure(tenant.spec, tenant.name, namespaces, view, now, tenant.previous_status)
    if certificate is not None:
        fields["erasureCertificate"] = certificate
    return fields


def evaluate_termination(spec: TenantPolicySpec, policy_name: str, tenant_namespaces: Iterable[str],
                         view: ClusterView, now: datetime,
                         previous_status: Mapping[str, Any] | None = None) -> TerminationEvaluation:
    """Every TERM rule (one skip per rule while no termination is declared: the contract runs) and the
    termination's status fields."""
    tenant = Tenant(spec, policy_name, list(tenant_namespaces), previous_status=previous_status)
    return TerminationEvaluation(family.evaluate(tenant, view, now), termination_status_fields(tenant, view, now))
