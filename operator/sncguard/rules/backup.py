"""BackupPolicy rules BK-001 to BK-007: the policy's namespace is backed up off-zone, encrypted, within
its RPO, restore-tested and inside the allowed regions (R2, R3, R10, S2, S3).

Pure: no I/O, no clock, no kopf, no client; `now` is a parameter. `evaluate_backup` judges the
namespace a BackupPolicy lives in; each `check_*` function judges one rule and returns exactly one
Finding.

Evidence (REQUIREMENTS.md, "Evidence conventions"), all read in the policy's `veleroNamespace`:

- the backup target is the BackupStorageLocation named `spec.storageLocation`;
- a Schedule covers the namespace when its template's includedNamespaces holds it or `*` (empty
  means all namespaces to Velero), its excludedNamespaces does not, it writes to the policy's
  storage location ("" is Velero's default location, taken to be the one named `default`), it
  is not paused and Velero did not refuse it (status.phase FailedValidation: Velero never runs it);
- a Backup counts when its phase is Completed and it covers the namespace the same way on the same
  location; it is dated by its completionTimestamp, else its startTimestamp;
- a restore test counts when a Restore in phase Completed restored a backup covering the namespace
  (dated by its completionTimestamp). When that backup is gone from the cluster (expired by its
  TTL), a Restore still counts if it is a drill sncguard ran for the namespace: labelled
  `sncguard.io/drill=true` with the namespace in its namespaceMapping.

Findings about the storage location cite the BackupStorageLocation (even a missing one: the
finding names what the policy points at). BK-001, BK-005 and BK-006 judge the namespace's
protection, so they always cite the Namespace, and their messages name the Schedule, Backup or
Restore that decided; the cited resource stays the same as backups rotate, so a verdict's
identity in status and reports does not churn.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from .. import ZONE_LABEL
from ..api.backuppolicy import BackupPolicySpec, parse_duration
from ..findings import Finding, Message, ResourceRef, Result, finding
from ..view import (
    ENCRYPTION_ANNOTATION,
    REGION_LABEL,
    BackupStorageLocation,
    ClusterView,
    Pod,
    VeleroBackup,
    VeleroRestore,
    VeleroSchedule,
)
from .catalogue import rule

__all__ = [
    "DRILL_LABEL",
    "ENCRYPTION_CONFIG_KEYS",
    "VELERO_API_VERSION",
    "BackupEvaluation",
    "Encryption",
    "WorkloadZones",
    "aware",
    "backup_covers",
    "backup_holds_namespace",
    "backup_time",
    "check_encryption",
    "check_off_zone",
    "check_region",
    "check_restore_test",
    "check_rpo",
    "check_schedule",
    "check_zone_known",
    "covering_schedules",
    "encryption_evidence",
    "evaluate_backup",
    "find_storage_location",
    "format_duration",
    "format_time",
    "last_restore_test",
    "latest_backup",
    "parse_time",
    "restore_tests",
    "schedule_covers",
    "successful_backups",
    "workload_zones",
]

VELERO_API_VERSION = "velero.io/v1"
DEFAULT_LOCATION = "default"
DRILL_LABEL = "sncguard.io/drill"
ENCRYPTION_CONFIG_KEYS = ("serverSideEncryption", "kmsKeyId", "customerKeyEncryptionSecret",
                          "customerKeyEncryptionFile")
# A key or annotation set to one of these says "no encryption"; it is not evidence of encryption.
_NEGATIVE_VALUES = frozenset({"", "false", "no", "off", "none", "disabled"})

F_INCLUDED = "spec.template.includedNamespaces"
F_STORAGE_LOCATION = "spec.storageLocation"
F_ZONE = f"metadata.labels['{ZONE_LABEL}']"
F_REGION = f"metadata.labels['{REGION_LABEL}']"
F_CONFIG_REGION = "spec.config.region"
F_CONFIG = "spec.config"
F_ANNOTATION = f"metadata.annotations['{ENCRYPTION_ANNOTATION}']"
F_SCHEDULE_PHASE = "status.phase"
F_BACKUP_COMPLETED = "status.completionTimestamp"
F_RESTORE_COMPLETED = "status.completionTimestamp"

# The Schedule phase Velero sets when it refuses a Schedule: it never creates a Backup from it.
SCHEDULE_REFUSED = "FailedValidation"

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_ALL_RULES = ("BK-001", "BK-002", "BK-003", "BK-004", "BK-005", "BK-006", "BK-007")


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class BackupEvaluation:
    findings: list[Finding]          # one finding per rule BK-001..BK-007, pass and skip included
    status_fields: dict              # camelCase fields of the BackupPolicy status
    next_deadline: datetime | None   # earliest future moment a verdict changes by time alone
    storage_location_found: bool
    latest_backup: VeleroBackup | None  # latest Completed backup of the namespace: what a drill restores


@dataclass(frozen=True)
class WorkloadZones:
    """Where the namespace's running pods are: zone -> pods, and the pods of unknown zone."""

    by_zone: dict[str, list[Pod]]
    unzoned: list[Pod]

    @property
    def zones(self) -> list[str]:
        return sorted(self.by_zone)


@dataclass(frozen=True)
class Encryption:
    """What shows that a storage location encrypts: (field, English, French) per piece of evidence,
    and the keys that are present but say "no"."""

    evidence: tuple[tuple[str, str, str], ...]
    negative: tuple[str, ...]

    @property
    def encrypts(self) -> bool:
        return bool(self.evidence)


# --------------------------------------------------------------------------------------------
# Time and text helpers


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime (UTC when it has no zone); None when absent or bad."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return aware(value)


def aware(value: datetime) -> datetime:
    """The datetime with a time zone: a naive one is taken as UTC (so comparisons never raise)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC, to the second: 2026-11-22T10:00:00Z."""
    return aware(value).astimezone(UTC).strftime(_TIME_FORMAT)


def format_duration(seconds: float) -> str:
    """A duration in the policy's own notation: 30h5m, 45m10s, 12s (hours are not folded into days,
    so an age compares at a glance with rpo: 26h). Negative durations read as 0s."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def _names(items: Iterable[str], none_en: str = "none") -> str:
    listed = sorted(items)
    return ", ".join(listed) if listed else none_en


def _bsl_ref(spec: BackupPolicySpec) -> ResourceRef:
    return ResourceRef(kind="BackupStorageLocation", namespace=spec.velero_namespace, name=spec.storage_location,
                       api_version=VELERO_API_VERSION)


def _ns_ref(namespace: str) -> ResourceRef:
    return ResourceRef(kind="Namespace", namespace="", name=namespace, api_version="v1")


def _bsl_en(spec: BackupPolicySpec) -> str:
    return f"BackupStorageLocation {spec.velero_namespace}/{spec.storage_location}"


def _bsl_fr(spec: BackupPolicySpec) -> str:
    return f"le BackupStorageLocation {spec.velero_namespace}/{spec.storage_location}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _not_installed(rule_id: str, spec: BackupPolicySpec, namespace: str) -> Finding:
    ref = _ns_ref(namespace) if rule_id in ("BK-001", "BK-005", "BK-006") else _bsl_ref(spec)
    return finding(rule(rule_id), Result.SKIP, ref, Message(
        f"Velero (velero.io) is not installed: {rule_id} cannot judge the backups of namespace {namespace}",
        f"Velero (velero.io) n'est pas installé : {rule_id} ne peut pas juger les sauvegardes de l'espace de "
        f"noms {namespace}",
    ))


def _location_of(name: str) -> str:
    return name or DEFAULT_LOCATION


# --------------------------------------------------------------------------------------------
# Evidence


def find_storage_location(spec: BackupPolicySpec, view: ClusterView) -> BackupStorageLocation | None:
    """The BackupStorageLocation named spec.storageLocation in spec.veleroNamespace, if it exists."""
    for bsl in view.storage_locations:
        if bsl.namespace == spec.velero_namespace and bsl.name == spec.storage_location:
            return bsl
    return None


def _includes(included: tuple[str, ...], namespace: str) -> bool:
    return not included or "*" in included or namespace in included


def _excludes(excluded: tuple[str, ...], namespace: str) -> bool:
    return namespace in excluded or "*" in excluded


def _spec_misses(spec: BackupPolicySpec, namespace: str, schedule: VeleroSchedule) -> tuple[str, str]:
    """Why the schedule, as written, does not back the namespace up to the policy's location; ("", "") when it
    would."""
    if schedule.namespace != spec.velero_namespace:
        return (f"it is in namespace {schedule.namespace}, not {spec.velero_namespace}",
                f"elle est dans l'espace de noms {schedule.namespace}, pas dans {spec.velero_namespace}")
    if not _includes(schedule.included_namespaces, namespace):
        return (f"its includedNamespaces ({_names(schedule.included_namespaces)}) do not hold {namespace}",
                f"ses includedNamespaces ({_names(schedule.included_namespaces)}) ne contiennent pas {namespace}")
    if _excludes(schedule.excluded_namespaces, namespace):
        return (f"its excludedNamespaces exclude {namespace}",
                f"ses excludedNamespaces excluent {namespace}")
    location = _location_of(schedule.storage_location)
    if location != spec.storage_location:
        return (f"it writes to storage location {location}, not {spec.storage_location}",
                f"elle écrit dans l'emplacement {location}, et non {spec.storage_location}")
    if schedule.paused:
        return "it is paused", "elle est suspendue (paused)"
    return "", ""


def schedule_covers(spec: BackupPolicySpec, namespace: str, schedule: VeleroSchedule) -> tuple[str, str]:
    """Why the schedule does not cover the namespace, (English, French); ("", "") when it does."""
    miss = _spec_misses(spec, namespace, schedule)
    if miss[0]:
        return miss
    # Judged last, so that this reason names exactly the Schedules that would cover once Velero accepted them.
    if schedule.phase == SCHEDULE_REFUSED:
        return (f"its {F_SCHEDULE_PHASE} is {schedule.phase}: Velero refused it and never runs it",
                f"son {F_SCHEDULE_PHASE} vaut {schedule.phase} : Velero l'a refusée et ne l'exécute jamais")
    return "", ""


def covering_schedules(spec: BackupPolicySpec, namespace: str, view: ClusterView) -> list[VeleroSchedule]:
    """The Schedules that back the namespace up to the policy's storage location, by name."""
    return sorted((s for s in view.schedules if not schedule_covers(spec, namespace, s)[0]),
                  key=lambda s: s.name)


def backup_holds_namespace(backup: VeleroBackup, namespace: str) -> bool:
    """Whether the backup's scope takes the namespace in: includedNamespaces holds it or `*` (or is
    empty: all namespaces, to Velero), and excludedNamespaces neither holds it nor `*`."""
    return _includes(backup.included_namespaces, namespace) and not _excludes(backup.excluded_namespaces, namespace)


def backup_covers(spec: BackupPolicySpec, namespace: str, backup: VeleroBackup) -> bool:
    """Whether the backup (any phase) holds the namespace and was written to the policy's location."""
    return (backup.namespace == spec.velero_namespace
            and backup_holds_namespace(backup, namespace)
            and _location_of(backup.storage_location) == spec.storage_location)


def backup_time(backup: VeleroBackup) -> datetime | None:
    """When the backup completed, else when it started; None when neither is known."""
    return parse_time(backup.completed) or parse_time(backup.started)


def successful_backups(spec: BackupPolicySpec, namespace: str, view: ClusterView) -> list[VeleroBackup]:
    """The Completed, dated backups covering the namespace, oldest first."""
    found = [b for b in view.backups
             if b.phase == "Completed" and backup_covers(spec, namespace, b) and backup_time(b) is not None]
    return sorted(found, key=lambda b: (backup_time(b), b.name))


def latest_backup(spec: BackupPolicySpec, namespace: str, view: ClusterView) -> VeleroBackup | None:
    """The latest Completed backup covering the namespace (the one a restore drill should use)."""
    found = successful_backups(spec, namespace, view)
    return found[-1] if found else None


def _is_drill_of(restore: VeleroRestore, namespace: str) -> bool:
    return restore.labels.get(DRILL_LABEL) == "true" and namespace in restore.namespace_mapping


def restore_tests(spec: BackupPolicySpec, namespace: str, view: ClusterView) -> list[VeleroRestore]:
    """The Completed, dated Restores of a backup of the namespace, oldest first."""
    backups = {b.name: b for b in view.backups if b.namespace == spec.velero_namespace}
    found = []
    for r in view.restores:
        if r.namespace != spec.velero_namespace or r.phase != "Completed" or parse_time(r.completed) is None:
            continue
        backup = backups.get(r.backup_name)
        if (backup is not None and backup_covers(spec, namespace, backup)) or (
                backup is None and _is_drill_of(r, namespace)):
            found.append(r)
    return sorted(found, key=lambda r: (parse_time(r.completed), r.name))


def last_restore_test(spec: BackupPolicySpec, namespace: str, view: ClusterView) -> VeleroRestore | None:
    found = restore_tests(spec, namespace, view)
    return found[-1] if found else None


def workload_zones(namespace: str, view: ClusterView) -> WorkloadZones:
    """The zones (node label topology.kubernetes.io/zone) of the namespace's running pods."""
    by_zone: dict[str, list[Pod]] = {}
    unzoned: list[Pod] = []
    for pod in sorted(view.pods_in(namespace), key=lambda p: p.name):
        if not pod.running:
            continue
        node = view.nodes.get(pod.node_name)
        zone = node.zone if node else None
        if zone:
            by_zone.setdefault(zone, []).append(pod)
        else:
            unzoned.append(pod)
    return WorkloadZones(by_zone, unzoned)


def encryption_evidence(bsl: BackupStorageLocation) -> Encryption:
    """The spec.config keys and the attestation annotation that show the location encrypts."""
    evidence: list[tuple[str, str, str]] = []
    negative: list[str] = []
    for key in ENCRYPTION_CONFIG_KEYS:
        if key not in bsl.config:
            continue
        if bsl.config[key].strip().lower() in _NEGATIVE_VALUES:
            negative.append(f"spec.config.{key}={bsl.config[key]!r}")
        else:
            evidence.append((f"spec.config.{key}", f"spec.config.{key} is set", f"spec.config.{key} est défini"))
    if bsl.encryption_attested is not None:
        value = bsl.encryption_attested
        if value.strip().lower() in _NEGATIVE_VALUES:
            negative.append(f"annotation {ENCRYPTION_ANNOTATION}={value!r}")
        else:
            evidence.append((F_ANNOTATION, f"the platform team attests it ({ENCRYPTION_ANNOTATION}: {value})",
                             f"l'équipe plateforme l'atteste ({ENCRYPTION_ANNOTATION} : {value})"))
    return Encryption(tuple(evidence), tuple(negative))


# --------------------------------------------------------------------------------------------
# BK-001


def check_schedule(spec: BackupPolicySpec, namespace: str, view: ClusterView) -> Finding:
    """BK-001: fail when no Velero Schedule covers the namespace on the policy's storage location."""
    if not view.velero_installed:
        return _not_installed("BK-001", spec, namespace)
    covering = covering_schedules(spec, namespace, view)
    vns, loc = spec.velero_namespace, spec.storage_location
    if covering:
        listed = ", ".join(f"{vns}/{s.name} ({s.schedule})" for s in covering)
        return finding(rule("BK-001"), Result.PASS, _ns_ref(namespace), Message(
            f"Namespace {namespace} is backed up to storage location {loc} by Velero Schedule(s) {listed}",
            f"L'espace de noms {namespace} est sauvegardé dans l'emplacement {loc} par la ou les "
            f"planifications Velero {listed}",
        ), F_INCLUDED)
    near = []
    refused = []  # would cover, but Velero refused them: the first thing to fix, so the message leads with them
    for s in sorted(view.schedules, key=lambda s: s.name):
        if s.namespace != vns or not _includes(s.included_namespaces, namespace):
            continue
        if not _spec_misses(spec, namespace, s)[0]:
            refused.append(s)
            continue
        en, fr = schedule_covers(spec, namespace, s)
        near.append((f"Schedule {vns}/{s.name}: {en}", f"planification {vns}/{s.name} : {fr}"))
    why_en = "".join(f"; {n[0]}" for n in near)
    why_fr = "".join(f" ; {n[1]}" for n in near)
    if refused:
        listed = ", ".join(f"{vns}/{s.name} ({F_SCHEDULE_PHASE} {s.phase})" for s in refused)
        if len(refused) == 1:
            lead_en = (f"the only Schedule that would back it up to storage location {loc}, {listed}, failed "
                       f"Velero's validation: Velero never runs it")
            lead_fr = (f"la seule planification qui le sauvegarderait dans l'emplacement {loc}, {listed}, a échoué "
                       f"à la validation de Velero : Velero ne l'exécute jamais")
        else:
            lead_en = (f"the only Schedules that would back it up to storage location {loc}, {listed}, failed "
                       f"Velero's validation: Velero never runs them")
            lead_fr = (f"les seules planifications qui le sauvegarderaient dans l'emplacement {loc}, {listed}, ont "
                       f"échoué à la validation de Velero : Velero ne les exécute jamais")
        return finding(rule("BK-001"), Result.FAIL, _ns_ref(namespace), Message(
            f"Namespace {namespace} is covered by no Velero Schedule in {vns}: {lead_en}{why_en}",
            f"L'espace de noms {namespace} n'est couvert par aucune planification (Schedule) Velero de {vns} : "
            f"{lead_fr}{why_fr}",
        ), F_SCHEDULE_PHASE)
    return finding(rule("BK-001"), Result.FAIL, _ns_ref(namespace), Message(
        f"Namespace {namespace} is covered by no Velero Schedule in {vns}: no active Schedule there holds it "
        f"(or *) in spec.template.includedNamespaces and writes to storage location {loc}{why_en}",
        f"L'espace de noms {namespace} n'est couvert par aucune planification (Schedule) Velero de {vns} : "
        f"aucune planification active n'y contient cet espace de noms (ni *) dans "
        f"spec.template.includedNamespaces tout en écrivant dans l'emplacement {loc}{why_fr}",
    ), F_INCLUDED)


# --------------------------------------------------------------------------------------------
# BK-002, BK-003


def check_off_zone(spec: BackupPolicySpec, namespace: str, view: ClusterView) -> Finding:
    """BK-002: fail when the storage location's zone is a zone where running pods of the namespace sit;
    skip when the location is missing or has no zone (BK-003 reports it) or without live Pods/Nodes;
    warn when some running pods are on nodes of unknown zone."""
    if not view.velero_installed:
        return _not_installed("BK-002", spec, namespace)
    ref = _bsl_ref(spec)
    bsl = find_storage_location(spec, view)
    if bsl is None:
        return finding(rule("BK-002"), Result.SKIP, ref, Message(
            f"{_bsl_en(spec)} does not exist, so its zone cannot be compared with the workloads of namespace "
            f"{namespace} (BK-003 reports the missing location)",
            f"{_cap(_bsl_fr(spec))} n'existe pas : sa zone ne peut pas être comparée à celles des charges de "
            f"l'espace de noms {namespace} (BK-003 signale l'emplacement manquant)",
        ), F_STORAGE_LOCATION)
    zone = bsl.zone
    if not zone:
        return finding(rule("BK-002"), Result.SKIP, ref, Message(
            f"{_bsl_en(spec)} has no {ZONE_LABEL} label, so off-zone storage is not judged here (BK-003 "
            f"reports it)",
            f"{_cap(_bsl_fr(spec))} n'a pas de label {ZONE_LABEL} : le stockage hors zone n'est pas jugé ici "
            f"(BK-003 le signale)",
        ), F_ZONE)
    if not view.pods_observed or not view.nodes_observed:
        return finding(rule("BK-002"), Result.SKIP, ref, Message(
            f"Zones of the workloads of namespace {namespace} not judged: no live Pods/Nodes in the input "
            f"({_bsl_en(spec)} is in zone {zone})",
            f"Zones des charges de l'espace de noms {namespace} non évaluées : aucun Pod ni Node réel dans "
            f"l'entrée ({_bsl_fr(spec)} est dans la zone {zone})",
        ), F_ZONE)
    wz = workload_zones(namespace, view)
    if zone in wz.by_zone:
        pods = wz.by_zone[zone]
        shown = ", ".join(f"{p.name} on node {p.node_name}" for p in pods[:3])
        shown_fr = ", ".join(f"{p.name} sur le nœud {p.node_name}" for p in pods[:3])
        more = len(pods) - 3
        more_en = f" and {more} more" if more > 0 else ""
        more_fr = f" et {more} autre(s)" if more > 0 else ""
        return finding(rule("BK-002"), Result.FAIL, ref, Message(
            f"{_bsl_en(spec)} is in zone {zone} ({F_ZONE}), where running pods of namespace {namespace} sit "
            f"({shown}{more_en}); a zone outage would take the workloads and their backups together "
            f"(workload zones: {_names(wz.zones)})",
            f"{_cap(_bsl_fr(spec))} est dans la zone {zone} ({F_ZONE}), où s'exécutent des pods de l'espace "
            f"de noms {namespace} ({shown_fr}{more_fr}) ; une panne de zone emporterait les charges et leurs "
            f"sauvegardes ensemble (zones des charges : {_names(wz.zones, 'aucune')})",
        ), F_ZONE)
    if wz.unzoned:
        listed = ", ".join(f"{p.name} ({p.node_name})" for p in wz.unzoned[:3])
        return finding(rule("BK-002"), Result.WARN, ref, Message(
            f"{_bsl_en(spec)} is in zone {zone}, outside the known workload zones of namespace {namespace} "
            f"({_names(wz.zones)}), but {len(wz.unzoned)} running pod(s) sit on nodes that are not observed "
            f"or have no {ZONE_LABEL} label ({listed}): off-zone storage is not proven for them",
            f"{_cap(_bsl_fr(spec))} est dans la zone {zone}, hors des zones connues des charges de l'espace "
            f"de noms {namespace} ({_names(wz.zones, 'aucune')}), mais {len(wz.unzoned)} pod(s) en cours "
            f"d'exécution sont sur des nœuds non observés ou sans label {ZONE_LABEL} ({listed}) : le "
            f"stockage hors zone n'est pas prouvé pour eux",
        ), F_ZONE)
    if not wz.by_zone:
        return finding(rule("BK-002"), Result.PASS, ref, Message(
            f"{_bsl_en(spec)} is in zone {zone}; namespace {namespace} has no running pods, so none shares "
            f"its zone",
            f"{_cap(_bsl_fr(spec))} est dans la zone {zone} ; l'espace de noms {namespace} n'a aucun pod en "
            f"cours d'exécution, aucun ne partage donc sa zone",
        ), F_ZONE)
    return finding(rule("BK-002"), Result.PASS, ref, Message(
        f"{_bsl_en(spec)} is in zone {zone}, outside the zones of the running pods of namespace {namespace} "
        f"({_names(wz.zones)})",
        f"{_cap(_bsl_fr(spec))} est dans la zone {zone}, hors des zones des pods en cours d'exécution de "
        f"l'espace de noms {namespace} ({_names(wz.zones, 'aucune')})",
    ), F_ZONE)


def _missing(rule_id: str, spec: BackupPolicySpec, result: Result, tail_en: str, tail_fr: str) -> Finding:
    return finding(rule(rule_id), result, _bsl_ref(spec), Message(
        f"{_bsl_en(spec)} does not exist (spec.storageLocation {spec.storage_location} in "
        f"spec.veleroNamespace {spec.velero_namespace}){tail_en}",
        f"{_cap(_bsl_fr(spec))} n'existe pas (spec.storageLocation {spec.storage_location} dans "
        f"spec.veleroNamespace {spec.velero_namespace}){tail_fr}",
    ), F_STORAGE_LOCATION)


def check_zone_known(spec: BackupPolicySpec, view: ClusterView, namespace: str = "") -> Finding:
    """BK-003: fail when the storage location does not exist or has no zone label."""
    if not view.velero_installed:
        return _not_installed("BK-003", spec, namespace)
    bsl = find_storage_location(spec, view)
    if bsl is None:
        return _missing("BK-003", spec, Result.FAIL, ": the backup target, and so its zone, is unknown",
                        " : la cible de sauvegarde, et donc sa zone, est inconnue")
    if not bsl.zone:
        return finding(rule("BK-003"), Result.FAIL, _bsl_ref(spec), Message(
            f"{_bsl_en(spec)} has no {ZONE_LABEL} label: its zone is unknown, so storage outside the "
            f"workloads' zones cannot be proven",
            f"{_cap(_bsl_fr(spec))} n'a pas de label {ZONE_LABEL} : sa zone est inconnue, le stockage hors "
            f"des zones des charges ne peut donc pas être prouvé",
        ), F_ZONE)
    return finding(rule("BK-003"), Result.PASS, _bsl_ref(spec), Message(
        f"{_bsl_en(spec)} declares its zone: {bsl.zone} ({F_ZONE})",
        f"{_cap(_bsl_fr(spec))} déclare sa zone : {bsl.zone} ({F_ZONE})",
    ), F_ZONE)


# --------------------------------------------------------------------------------------------
# BK-004


def check_encryption(spec: BackupPolicySpec, view: ClusterView, namespace: str = "") -> Finding:
    """BK-004: fail when the policy requires encryption and the storage location shows none; skip when
    not required or the location is missing (BK-003 fails then)."""
    if not view.velero_installed:
        return _not_installed("BK-004", spec, namespace)
    ref = _bsl_ref(spec)
    if not spec.require_encryption:
        return finding(rule("BK-004"), Result.SKIP, ref, Message(
            f"Encryption of {_bsl_en(spec)} not judged: the policy's requireEncryption is false",
            f"Chiffrement du BackupStorageLocation {spec.velero_namespace}/{spec.storage_location} non évalué : "
            f"requireEncryption vaut false dans la politique",
        ), F_CONFIG)
    bsl = find_storage_location(spec, view)
    if bsl is None:
        return _missing("BK-004", spec, Result.SKIP, ": its encryption cannot be judged (BK-003 reports it)",
                        " : son chiffrement ne peut pas être évalué (BK-003 le signale)")
    enc = encryption_evidence(bsl)
    if enc.encrypts:
        return finding(rule("BK-004"), Result.PASS, ref, Message(
            f"{_bsl_en(spec)} encrypts: {'; '.join(e[1] for e in enc.evidence)}",
            f"{_cap(_bsl_fr(spec))} chiffre les données : {' ; '.join(e[2] for e in enc.evidence)}",
        ), enc.evidence[0][0])
    keys = ", ".join(ENCRYPTION_CONFIG_KEYS)
    neg_en = f" ({', '.join(enc.negative)} does not count)" if enc.negative else ""
    neg_fr = f" ({', '.join(enc.negative)} ne compte pas)" if enc.negative else ""
    return finding(rule("BK-004"), Result.FAIL, ref, Message(
        f"{_bsl_en(spec)} shows no encryption while the policy requires it: its spec.config sets none of "
        f"{keys}, and it has no {ENCRYPTION_ANNOTATION} annotation{neg_en}",
        f"{_cap(_bsl_fr(spec))} ne montre aucun chiffrement alors que la politique l'exige : son spec.config "
        f"ne définit aucune des clés {keys}, et il ne porte pas l'annotation {ENCRYPTION_ANNOTATION}{neg_fr}",
    ), F_CONFIG)


# --------------------------------------------------------------------------------------------
# BK-005


def check_rpo(spec: BackupPolicySpec, namespace: str, view: ClusterView, now: datetime) -> Finding:
    """BK-005: fail when no Completed backup covers the namespace, or the latest is older than rpo."""
    if not view.velero_installed:
        return _not_installed("BK-005", spec, namespace)
    vns, loc, rpo = spec.velero_namespace, spec.storage_location, spec.rpo
    latest = latest_backup(spec, namespace, view)
    if latest is None:
        others = [b for b in view.backups if backup_covers(spec, namespace, b)]
        if others:
            phases: dict[str, int] = {}
            for b in others:
                phase = b.phase if b.phase == "Completed" else (b.phase or "no phase")
                phases[phase] = phases.get(phase, 0) + 1
            counted = ", ".join(f"{n} {p}" for p, n in sorted(phases.items()))
            extra_en = f"; its backups there: {counted}"
            extra_fr = f" ; ses sauvegardes présentes : {counted}"
            if "Completed" in phases:
                extra_en += " (Completed without a timestamp)"
                extra_fr += " (Completed sans horodatage)"
        else:
            extra_en = extra_fr = ""
        return finding(rule("BK-005"), Result.FAIL, _ns_ref(namespace), Message(
            f"Namespace {namespace} has no successful backup: no Velero Backup in {vns} on storage location "
            f"{loc} covering it has status.phase Completed (RPO {rpo}){extra_en}",
            f"L'espace de noms {namespace} n'a aucune sauvegarde réussie : aucune Backup Velero de {vns} dans "
            f"l'emplacement {loc} qui le couvre n'a status.phase Completed (RPO {rpo}){extra_fr}",
        ), F_BACKUP_COMPLETED)
    when = backup_time(latest)
    assert when is not None  # successful_backups keeps dated backups only
    age = (aware(now) - when).total_seconds()
    stamp = format_time(when)
    source = F_BACKUP_COMPLETED if parse_time(latest.completed) else "status.startTimestamp"
    if age > parse_duration(rpo):
        return finding(rule("BK-005"), Result.FAIL, _ns_ref(namespace), Message(
            f"The last successful backup of namespace {namespace}, Velero Backup {vns}/{latest.name} "
            f"({source} {stamp}), is {format_duration(age)} old: older than the policy's rpo of {rpo}",
            f"La dernière sauvegarde réussie de l'espace de noms {namespace}, la Backup Velero "
            f"{vns}/{latest.name} ({source} {stamp}), est âgée de {format_duration(age)} : plus ancienne que le "
            f"rpo de la politique, {rpo}",
        ), source)
    return finding(rule("BK-005"), Result.PASS, _ns_ref(namespace), Message(
        f"The last successful backup of namespace {namespace}, Velero Backup {vns}/{latest.name} "
        f"({source} {stamp}), is {format_duration(age)} old, within the rpo of {rpo}",
        f"La dernière sauvegarde réussie de l'espace de noms {namespace}, la Backup Velero "
        f"{vns}/{latest.name} ({source} {stamp}), est âgée de {format_duration(age)}, dans le rpo de {rpo}",
    ), source)


# --------------------------------------------------------------------------------------------
# BK-006


def check_restore_test(spec: BackupPolicySpec, namespace: str, view: ClusterView, now: datetime) -> Finding:
    """BK-006: fail when no Completed Restore of a backup of the namespace lies within
    restoreTestInterval; skip when the policy sets no interval."""
    if not view.velero_installed:
        return _not_installed("BK-006", spec, namespace)
    interval = spec.restore_test_interval
    vns = spec.velero_namespace
    if interval is None:
        return finding(rule("BK-006"), Result.SKIP, _ns_ref(namespace), Message(
            f"Restore tests of namespace {namespace} not judged: the policy sets no restoreTestInterval",
            f"Tests de restauration de l'espace de noms {namespace} non évalués : la politique ne fixe pas de "
            f"restoreTestInterval",
        ), "status.phase")
    last = last_restore_test(spec, namespace, view)
    if last is None:
        return finding(rule("BK-006"), Result.FAIL, _ns_ref(namespace), Message(
            f"Namespace {namespace} has no successful restore test: no Velero Restore in {vns} of a backup "
            f"of it has status.phase Completed; the policy's restoreTestInterval is {interval}",
            f"L'espace de noms {namespace} n'a aucun test de restauration réussi : aucune Restore Velero de "
            f"{vns} d'une de ses sauvegardes n'a status.phase Completed ; le restoreTestInterval de la "
            f"politique est de {interval}",
        ), "status.phase")
    when = parse_time(last.completed)
    assert when is not None  # restore_tests keeps dated restores only
    age = (aware(now) - when).total_seconds()
    what_en = (f"Velero Restore {vns}/{last.name} of backup {last.backup_name} "
               f"({F_RESTORE_COMPLETED} {format_time(when)})")
    what_fr = (f"la Restore Velero {vns}/{last.name} de la sauvegarde {last.backup_name} "
               f"({F_RESTORE_COMPLETED} {format_time(when)})")
    if age > parse_duration(interval):
        return finding(rule("BK-006"), Result.FAIL, _ns_ref(namespace), Message(
            f"The last successful restore test of namespace {namespace}, {what_en}, is "
            f"{format_duration(age)} old: older than the policy's restoreTestInterval of {interval}",
            f"Le dernier test de restauration réussi de l'espace de noms {namespace}, {what_fr}, est âgé de "
            f"{format_duration(age)} : plus ancien que le restoreTestInterval de la politique, {interval}",
        ), F_RESTORE_COMPLETED)
    return finding(rule("BK-006"), Result.PASS, _ns_ref(namespace), Message(
        f"The last successful restore test of namespace {namespace}, {what_en}, is {format_duration(age)} old, "
        f"within the restoreTestInterval of {interval}",
        f"Le dernier test de restauration réussi de l'espace de noms {namespace}, {what_fr}, est âgé de "
        f"{format_duration(age)}, dans le restoreTestInterval de {interval}",
    ), F_RESTORE_COMPLETED)


# --------------------------------------------------------------------------------------------
# BK-007


def check_region(spec: BackupPolicySpec, view: ClusterView, namespace: str = "") -> Finding:
    """BK-007: fail when allowedRegions is set and the storage location's region (label, then
    spec.config.region) is unknown or not in it; skip without allowedRegions or location."""
    if not view.velero_installed:
        return _not_installed("BK-007", spec, namespace)
    ref = _bsl_ref(spec)
    allowed = list(spec.allowed_regions or ())
    if not allowed:
        return finding(rule("BK-007"), Result.SKIP, ref, Message(
            f"Region of {_bsl_en(spec)} not judged: the policy sets no allowedRegions",
            f"Région du BackupStorageLocation {spec.velero_namespace}/{spec.storage_location} non évaluée : la "
            f"politique ne fixe pas d'allowedRegions",
        ), F_REGION)
    listed = ", ".join(allowed)
    bsl = find_storage_location(spec, view)
    if bsl is None:
        return _missing("BK-007", spec, Result.SKIP, ": its region cannot be judged (BK-003 reports it)",
                        " : sa région ne peut pas être évaluée (BK-003 le signale)")
    region = bsl.region
    if not region:
        return finding(rule("BK-007"), Result.FAIL, ref, Message(
            f"{_bsl_en(spec)} has no region: neither a {REGION_LABEL} label nor spec.config.region, so it "
            f"cannot be shown to lie in the allowed regions ({listed})",
            f"{_cap(_bsl_fr(spec))} n'a pas de région : ni label {REGION_LABEL} ni spec.config.region ; on ne "
            f"peut donc pas montrer qu'il se trouve dans les régions autorisées ({listed})",
        ), F_REGION)
    source = F_REGION if bsl.labels.get(REGION_LABEL) else F_CONFIG_REGION
    if region not in allowed:
        return finding(rule("BK-007"), Result.FAIL, ref, Message(
            f"{_bsl_en(spec)} is in region {region} ({source}), outside the policy's allowedRegions ({listed})",
            f"{_cap(_bsl_fr(spec))} est dans la région {region} ({source}), hors des allowedRegions de la "
            f"politique ({listed})",
        ), source)
    return finding(rule("BK-007"), Result.PASS, ref, Message(
        f"{_bsl_en(spec)} is in region {region} ({source}), one of the allowed regions ({listed})",
        f"{_cap(_bsl_fr(spec))} est dans la région {region} ({source}), une des régions autorisées ({listed})",
    ), source)


# --------------------------------------------------------------------------------------------
# The policy


def evaluate_backup(spec: BackupPolicySpec, namespace: str, policy_name: str, view: ClusterView,
                    now: datetime) -> BackupEvaluation:
    """Every BK rule for the namespace the BackupPolicy `policy_name` lives in (and protects)."""
    label = f"BackupPolicy/{namespace}/{policy_name}"
    now = aware(now)
    wz = workload_zones(namespace, view)
    status: dict = {"target": spec.storage_location, "workloadZones": wz.zones}
    if not view.velero_installed:
        findings = [_not_installed(r, spec, namespace) for r in _ALL_RULES]
        return BackupEvaluation([replace(f, policy=label) for f in findings], status, None, False, None)
    findings = [
        check_schedule(spec, namespace, view),
        check_off_zone(spec, namespace, view),
        check_zone_known(spec, view, namespace),
        check_encryption(spec, view, namespace),
        check_rpo(spec, namespace, view, now),
        check_restore_test(spec, namespace, view, now),
        check_region(spec, view, namespace),
    ]
    bsl = find_storage_location(spec, view)
    if bsl is not None:
        if bsl.zone:
            status["targetZone"] = bsl.zone
        if bsl.region:
            status["targetRegion"] = bsl.region
    deadlines: list[datetime] = []
    latest = latest_backup(spec, namespace, view)
    if latest is not None:
        when = backup_time(latest)
        assert when is not None
        status["lastBackup"] = format_time(when)
        deadlines.append(when + timedelta(seconds=parse_duration(spec.rpo)))
    restore = last_restore_test(spec, namespace, view)
    if restore is not None:
        tested = parse_time(restore.completed)
        assert tested is not None
        status["lastRestoreTest"] = format_time(tested)
        if spec.restore_test_interval is not None:
            deadlines.append(tested + timedelta(seconds=parse_duration(spec.restore_test_interval)))
    future = [d for d in deadlines if d > now]
    next_deadline = min(future) if future else None
    if next_deadline is not None:
        status["nextDeadline"] = format_time(next_deadline)
    return BackupEvaluation([replace(f, policy=label) for f in findings], status, next_deadline,
                            bsl is not None, latest)
