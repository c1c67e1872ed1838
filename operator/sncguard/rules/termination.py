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

from ..findings import Finding, Message, ResourceRef, Result, finding
from ..view import ClusterView, PersistentVolume, VeleroBackup
from .access import rfc3339
from .backup import VELERO_API_VERSION, backup_holds_namespace
from .catalogue import rule
from .location import tenant_volumes

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
]

POLICY_API_VERSION = "sncguard.io/v1alpha1"

NOTICE_PERIOD = timedelta(days=21)
ERASURE_PERIOD = timedelta(days=30)

F_TERMINATION = "spec.termination"
F_ENDED = "spec.termination.contractEndedAt"
F_NOTICE = "spec.termination.erasureNoticeAt"
F_CLAIM_REF = "spec.claimRef"
F_INCLUDED = "spec.includedNamespaces"

# The kinds TERM-002 looks for, in the certificate's inventory.
INVENTORY_KINDS = ("Namespace", "PersistentVolume", "Backup")


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


def _names(items: Iterable[str]) -> str:
    return ", ".join(items) or "none"


def _skip_both(policy_name: str, why_en: str, why_fr: str) -> list[Finding]:
    ref = _policy_ref(policy_name)
    return [finding(rule(rule_id), Result.SKIP, ref, Message(f"{what_en} not judged: {why_en}",
                                                             f"{what_fr} non évalué : {why_fr}"), F_TERMINATION)
            for rule_id, what_en, what_fr in (
                ("TERM-001", "Erasure notice", "Avis d'effacement"),
                ("TERM-002", "Erasure of the tenant's data", "Effacement des données du locataire"))]


def check_notice(spec: TenantPolicySpec, policy_name: str, now: datetime) -> Finding:
    """TERM-001: fail when the contract ended more than 21 days ago and no notice is recorded."""
    t = spec.termination
    assert t is not None and t.contract_ended_at is not None
    ref = _policy_ref(policy_name)
    ended, due = rfc3339(t.contract_ended_at), rfc3339(t.contract_ended_at + NOTICE_PERIOD)
    if t.erasure_notice_at is not None:
        after = _days(t.erasure_notice_at - t.contract_ended_at)
        return finding(rule("TERM-001"), Result.PASS, ref, Message(
            f"Erasure notice recorded at {rfc3339(t.erasure_notice_at)} ({F_NOTICE}), {after} day(s) after the "
            f"contract ended at {ended}",
            f"Avis d'effacement enregistré le {rfc3339(t.erasure_notice_at)} ({F_NOTICE}), {after} jour(s) après "
            f"la fin du contrat le {ended}",
        ), F_NOTICE)
    if now <= t.contract_ended_at + NOTICE_PERIOD:
        verb_en, verb_fr = ("ended", "a pris fin") if now >= t.contract_ended_at else ("ends", "prend fin")
        return finding(rule("TERM-001"), Result.PASS, ref, Message(
            f"The contract {verb_en} at {ended} ({F_ENDED}); the erasure notice is due by {due} (21 days later) "
            f"and none is recorded yet",
            f"Le contrat {verb_fr} le {ended} ({F_ENDED}) ; l'avis d'effacement est dû au plus tard le {due} "
            f"(21 jours après) et aucun n'est encore enregistré",
        ), F_NOTICE)
    late = _days(now - t.contract_ended_at)
    return finding(rule("TERM-001"), Result.FAIL, ref, Message(
        f"The contract ended at {ended} ({F_ENDED}), {late} days ago, and no erasure notice is recorded "
        f"({F_NOTICE} is absent): it was due by {due}, 21 days after the end of the contract",
        f"Le contrat a pris fin le {ended} ({F_ENDED}), il y a {late} jours, et aucun avis d'effacement n'est "
        f"enregistré ({F_NOTICE} est absent) : il était dû au plus tard le {due}, 21 jours après la fin du "
        f"contrat",
    ), F_NOTICE)


def _remaining_en(remaining: Remaining) -> str:
    c = remaining.counts()
    return (f"{c['Namespace']} namespace(s), {c['PersistentVolume']} persistent volume(s) and "
            f"{c['Backup']} Velero backup(s) of the tenant remain")


def _remaining_fr(remaining: Remaining) -> str:
    c = remaining.counts()
    return (f"il reste {c['Namespace']} espace(s) de noms, {c['PersistentVolume']} volume(s) persistant(s) et "
            f"{c['Backup']} sauvegarde(s) Velero du locataire")


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
        return [finding(rule("TERM-002"), Result.PASS, ref, Message(
            f"Erasure not yet due: the tenant's data must be gone by {due}, 30 days after the erasure notice of "
            f"{notice} ({F_NOTICE}); for now {_remaining_en(remaining)}",
            f"Effacement pas encore dû : les données du locataire doivent disparaître au plus tard le {due}, "
            f"30 jours après l'avis d'effacement du {notice} ({F_NOTICE}) ; à ce jour, {_remaining_fr(remaining)}",
        ), F_NOTICE)], None
    late = _days(now - deadline)
    since_en = f"past the erasure deadline of {due} (the notice of {notice} + 30 days; {late} day(s) late)"
    since_fr = (f"après l'échéance d'effacement du {due} (avis du {notice} + 30 jours ; {late} jour(s) de "
                f"retard)")
    out: list[Finding] = []
    for namespace in remaining.namespaces:
        out.append(finding(rule("TERM-002"), Result.FAIL, ResourceRef(
            kind="Namespace", namespace="", name=namespace, api_version="v1"), Message(
            f"Namespace {namespace} of tenant {spec.tenant} still exists {since_en}",
            f"L'espace de noms {namespace} du locataire {spec.tenant} existe toujours {since_fr}",
        )))
    for pv, claim in remaining.volumes:
        out.append(finding(rule("TERM-002"), Result.FAIL, ResourceRef(
            kind="PersistentVolume", namespace="", name=pv.name, api_version="v1"), Message(
            f"PersistentVolume {pv.name}, bound to claim {claim} of tenant {spec.tenant} ({F_CLAIM_REF}), still "
            f"exists {since_en}",
            f"Le PersistentVolume {pv.name}, lié à la demande {claim} du locataire {spec.tenant} "
            f"({F_CLAIM_REF}), existe toujours {since_fr}",
        ), F_CLAIM_REF))
    for b, held in remaining.backups:
        scope = _names(b.included_namespaces) if b.included_namespaces else "empty: every namespace"
        scope_fr = _names(b.included_namespaces) if b.included_namespaces else "vide : tous les espaces de noms"
        out.append(finding(rule("TERM-002"), Result.FAIL, ResourceRef(
            kind="Backup", namespace=b.namespace, name=b.name, api_version=VELERO_API_VERSION), Message(
            f"Velero Backup {b.namespace}/{b.name} (phase {b.phase or 'unknown'}) covers namespace(s) "
            f"{_names(held)} of tenant {spec.tenant} ({F_INCLUDED}: {scope}) and still exists {since_en}",
            f"La sauvegarde Velero {b.namespace}/{b.name} (phase {b.phase or 'inconnue'}) couvre le(s) espace(s) "
            f"de noms {_names(held)} du locataire {spec.tenant} ({F_INCLUDED} : {scope_fr}) et existe toujours "
            f"{since_fr}",
        ), F_INCLUDED))
    if out:
        return out, None
    certificate = erasure_certificate(spec.tenant, namespaces, deadline, now, previous_status)
    return [finding(rule("TERM-002"), Result.PASS, ref, Message(
        f"Nothing of tenant {spec.tenant} remains past the erasure deadline of {due}: no namespace, no "
        f"PersistentVolume bound to its claims and no Velero Backup covering its namespaces "
        f"(looked for: {_names(namespaces)}); "
        f"erasure certificate since {certificate['checkedAt']}, digest {certificate['digest']}",
        f"Plus rien du locataire {spec.tenant} ne subsiste après l'échéance d'effacement du {due} : aucun "
        f"espace de noms, aucun PersistentVolume lié à ses demandes et aucune sauvegarde Velero couvrant ses "
        f"espaces de noms "
        f"(recherchés : {_names(namespaces) if namespaces else 'aucun'}) ; certificat d'effacement depuis le "
        f"{certificate['checkedAt']}, empreinte {certificate['digest']}",
    ), F_NOTICE)], certificate


def evaluate_termination(spec: TenantPolicySpec, policy_name: str, tenant_namespaces: Iterable[str],
                         view: ClusterView, now: datetime,
                         previous_status: Mapping[str, Any] | None = None) -> TerminationEvaluation:
    """Every TERM rule; one skip per rule while no termination is declared (the contract runs)."""
    t = spec.termination
    if t is None:
        return TerminationEvaluation(_skip_both(
            policy_name, f"TenantPolicy {policy_name} declares no {F_TERMINATION} (the contract runs)",
            f"la TenantPolicy {policy_name} ne déclare pas de {F_TERMINATION} (le contrat est en cours)"))
    namespaces = erasure_scope(tenant_namespaces, previous_status)
    fields: dict[str, Any] = {"erasureNamespaces": namespaces}
    if t.contract_ended_at is None:
        result = _skip_both(policy_name, f"{F_TERMINATION} sets no contractEndedAt",
                            f"{F_TERMINATION} ne fixe pas contractEndedAt")
        return TerminationEvaluation(result, fields)
    findings = [check_notice(spec, policy_name, now)]
    if t.erasure_notice_at is None:
        findings.append(finding(rule("TERM-002"), Result.SKIP, _policy_ref(policy_name), Message(
            f"Erasure of the tenant's data not judged: no erasure notice is recorded ({F_NOTICE}), so the "
            f"30-day erasure deadline has not started (TERM-001 judges the notice)",
            f"Effacement des données du locataire non évalué : aucun avis d'effacement n'est enregistré "
            f"({F_NOTICE}), le délai d'effacement de 30 jours n'a donc pas commencé (TERM-001 évalue l'avis)",
        ), F_NOTICE))
        return TerminationEvaluation(findings, fields)
    erasure, certificate = check_erasure(spec, policy_name, namespaces, view, now, previous_status)
    findings.extend(erasure)
    if certificate is not None:
        fields["erasureCertificate"] = certificate
    return TerminationEvaluation(findings, fields)
