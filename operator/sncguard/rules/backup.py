"""BackupPolicy rules BK-001 to BK-007: the policy's namespace is backed up off-zone, encrypted, within
its RPO, restore-tested and inside the allowed regions (R2, R3, R10, S2, S3).

Pure: no I/O, no clock, no kopf, no client; `now` is a parameter. The rules judge a
`ProtectedNamespace`: the namespace a BackupPolicy lives in (and protects), with the evidence
several rules and the policy's status share, found once. `evaluate_backup` runs them all and
gives the findings and the facts the operator acts on (the next deadline, the backup a drill
restores); evaluation.py builds the status from them. Each `check_*` function judges one rule
and returns exactly one Finding.

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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property

from .. import ZONE_LABEL
from ..api.backuppolicy import BackupPolicySpec, parse_duration
from ..findings import Finding, ResourceRef, Result, Severity, finding
from ..i18n import N_, Seq, Text, msg, semicolons, seq
from ..timefmt import as_utc, parse_rfc3339_or_none, rfc3339_seconds
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
from .registry import BACKUP, Family, Rule, rule

__all__ = [
    "DRILL_LABEL",
    "ENCRYPTION_CONFIG_KEYS",
    "VELERO_API_VERSION",
    "BackupEvaluation",
    "Encryption",
    "ProtectedNamespace",
    "WorkloadZones",
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
    "family",
    "find_storage_location",
    "format_duration",
    "last_restore_test",
    "latest_backup",
    "next_deadline",
    "restore_tests",
    "schedule_miss",
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
F_BACKUP_STARTED = "status.startTimestamp"
F_RESTORE_COMPLETED = "status.completionTimestamp"

# The Schedule phase Velero sets when it refuses a Schedule: it never creates a Backup from it.
SCHEDULE_REFUSED = "FailedValidation"
# How many pods sharing the target's zone, or of unknown zone, a BK-002 message names.
PODS_SHOWN = 3

# The name evidence/gather.py still imports; timefmt is its home.


# --------------------------------------------------------------------------------------------
# What the rules judge, and what they give


@dataclass(frozen=True)
class WorkloadZones:
    """Where the namespace's running pods are: zone -> pods, and the pods of unknown zone."""

    by_zone: dict[str, list[Pod]]
    unzoned: list[Pod]

    @property
    def zones(self) -> list[str]:
        return sorted(self.by_zone)


@dataclass
class ProtectedNamespace:
    """The namespace a BackupPolicy lives in and protects, as `view` shows it. The evidence that several
    rules and the status read is found once, when first read; without Velero there is none."""

    spec: BackupPolicySpec
    namespace: str
    name: str  # the BackupPolicy's
    view: ClusterView = field(repr=False, compare=False)

    @cached_property
    def storage_location(self) -> BackupStorageLocation | None:
        return find_storage_location(self.spec, self.view) if self.view.velero_installed else None

    @cached_property
    def workload_zones(self) -> WorkloadZones:
        return workload_zones(self.namespace, self.view)

    @cached_property
    def latest_backup(self) -> VeleroBackup | None:
        """The latest Completed backup of the namespace: what BK-005 dates and a drill restores."""
        return latest_backup(self.spec, self.namespace, self.view) if self.view.velero_installed else None

    @cached_property
    def last_backup_at(self) -> datetime | None:
        return backup_time(self.latest_backup) if self.latest_backup is not None else None

    @cached_property
    def last_restore_test(self) -> VeleroRestore | None:
        return last_restore_test(self.spec, self.namespace, self.view) if self.view.velero_installed else None

    @cached_property
    def last_restore_test_at(self) -> datetime | None:
        test = self.last_restore_test
        return parse_rfc3339_or_none(test.completed) if test is not None else None


family: Family[ProtectedNamespace] = Family(BACKUP, "BackupPolicy")


@dataclass(frozen=True)
class BackupEvaluation:
    protected: ProtectedNamespace
    findings: list[Finding]          # one finding per rule BK-001..BK-007, pass and skip included
    next_deadline: datetime | None   # earliest future moment a verdict changes by time alone

    @property
    def storage_location_found(self) -> bool:
        return self.protected.storage_location is not None

    @property
    def latest_backup(self) -> VeleroBackup | None:
        return self.protected.latest_backup


@dataclass(frozen=True)
class Encryption:
    """What shows that a storage location encrypts: (field, what it shows) per piece of evidence, and the
    keys that are present but say "no"."""

    evidence: tuple[tuple[str, Text], ...]
    negative: tuple[str, ...]

    @property
    def encrypts(self) -> bool:
        return bool(self.evidence)


# --------------------------------------------------------------------------------------------
# Text helpers


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


def _bsl_ref(spec: BackupPolicySpec) -> ResourceRef:
    return ResourceRef(kind="BackupStorageLocation", namespace=spec.velero_namespace, name=spec.storage_location,
                       api_version=VELERO_API_VERSION)


def _ns_ref(namespace: str) -> ResourceRef:
    return ResourceRef(kind="Namespace", namespace="", name=namespace, api_version="v1")


def _location(spec: BackupPolicySpec) -> str:
    return f"{spec.velero_namespace}/{spec.storage_location}"


def _not_installed(rule_id: str, protected: ProtectedNamespace) -> list[Finding]:
    namespace = protected.namespace
    ref = _ns_ref(namespace) if rule_id in ("BK-001", "BK-005", "BK-006") else _bsl_ref(protected.spec)
    return [finding(rule(rule_id), Result.SKIP, ref, msg(
        "Velero (velero.io) is not installed: {rule} cannot judge the backups of namespace {namespace}",
        rule=rule_id, namespace=namespace,
    ))]


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


def _spec_miss(spec: BackupPolicySpec, namespace: str, schedule: VeleroSchedule) -> Text | None:
    """Why the schedule, as written, does not back the namespace up to the policy's location; None when it
    would."""
    if schedule.namespace != spec.velero_namespace:
        return msg("it is in namespace {schedule_namespace}, not {velero_namespace}",
                   schedule_namespace=schedule.namespace, velero_namespace=spec.velero_namespace)
    if not _includes(schedule.included_namespaces, namespace):
        return msg("its includedNamespaces ({included}) do not hold {namespace}",
                   included=sorted(schedule.included_namespaces), namespace=namespace)
    if _excludes(schedule.excluded_namespaces, namespace):
        return msg("its excludedNamespaces exclude {namespace}", namespace=namespace)
    location = _location_of(schedule.storage_location)
    if location != spec.storage_location:
        return msg("it writes to storage location {location}, not {expected}",
                   location=location, expected=spec.storage_location)
    if schedule.paused:
        return msg("it is paused")
    return None


def schedule_miss(spec: BackupPolicySpec, namespace: str, schedule: VeleroSchedule) -> Text | None:
    """Why the schedule does not cover the namespace; None when it does."""
    miss = _spec_miss(spec, namespace, schedule)
    if miss is not None:
        return miss
    # Judged last, so that this reason names exactly the Schedules that would cover once Velero accepted them.
    if schedule.phase == SCHEDULE_REFUSED:
        return msg("its {field} is {phase}: Velero refused it and never runs it",
                   field=F_SCHEDULE_PHASE, phase=schedule.phase)
    return None


def covering_schedules(spec: BackupPolicySpec, namespace: str, view: ClusterView) -> list[VeleroSchedule]:
    """The Schedules that back the namespace up to the policy's storage location, by name."""
    return sorted((s for s in view.schedules if schedule_miss(spec, namespace, s) is None), key=lambda s: s.name)


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
    return parse_rfc3339_or_none(backup.completed) or parse_rfc3339_or_none(backup.started)


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
        if r.namespace != spec.velero_namespace or r.phase != "Completed" or parse_rfc3339_or_none(r.completed) is None:
            continue
        backup = backups.get(r.backup_name)
        if (backup is not None and backup_covers(spec, namespace, backup)) or (
                backup is None and _is_drill_of(r, namespace)):
            found.append(r)
    return sorted(found, key=lambda r: (parse_rfc3339_or_none(r.completed), r.name))


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
    evidence: list[tuple[str, Text]] = []
    negative: list[str] = []
    for key in ENCRYPTION_CONFIG_KEYS:
        if key not in bsl.config:
            continue
        if bsl.config[key].strip().lower() in _NEGATIVE_VALUES:
            negative.append(f"spec.config.{key}={bsl.config[key]!r}")
        else:
            evidence.append((f"spec.config.{key}", msg("spec.config.{key} is set", key=key)))
    if bsl.encryption_attested is not None:
        value = bsl.encryption_attested
        if value.strip().lower() in _NEGATIVE_VALUES:
            negative.append(f"annotation {ENCRYPTION_ANNOTATION}={value!r}")
        else:
            evidence.append((F_ANNOTATION, msg("the platform team attests it ({annotation}: {value})",
                                               annotation=ENCRYPTION_ANNOTATION, value=value)))
    return Encryption(tuple(evidence), tuple(negative))


def next_deadline(protected: ProtectedNamespace, now: datetime) -> datetime | None:
    """The earliest moment after `now` when a verdict changes by time alone: the last backup growing older
    than the rpo (BK-005), the last restore test older than restoreTestInterval (BK-006)."""
    spec = protected.spec
    deadlines: list[datetime] = []
    if protected.last_backup_at is not None:
        deadlines.append(protected.last_backup_at + timedelta(seconds=parse_duration(spec.rpo)))
    if protected.last_restore_test_at is not None and spec.restore_test_interval is not None:
        deadlines.append(protected.last_restore_test_at
                         + timedelta(seconds=parse_duration(spec.restore_test_interval)))
    future = [d for d in deadlines if d > as_utc(now)]
    return min(future) if future else None


# --------------------------------------------------------------------------------------------
# BK-001


@family.rule("BK-001", Severity.HIGH, ("R2", "R3"),
             N_("A namespace that a policy requires backed up is covered by no backup schedule"),
             reads={"Schedule"})
def schedule_coverage(protected: ProtectedNamespace, view: ClusterView, now: datetime) -> list[Finding]:
    """Fail when no Velero Schedule covers the namespace on the policy's storage location."""
    if not view.velero_installed:
        return _not_installed("BK-001", protected)
    spec, namespace = protected.spec, protected.namespace
    covering = covering_schedules(spec, namespace, view)
    vns, loc = spec.velero_namespace, spec.storage_location
    if covering:
        return [finding(rule("BK-001"), Result.PASS, _ns_ref(namespace), msg(
            "Namespace {namespace} is backed up to storage location {location} by Velero Schedule(s) {schedules}",
            namespace=namespace, location=loc, schedules=[f"{vns}/{s.name} ({s.schedule})" for s in covering],
        ), F_INCLUDED)]
    near: list[Text] = []
    refused = []  # would cover, but Velero refused them: the first thing to fix, so the message leads with them
    for s in sorted(view.schedules, key=lambda s: s.name):
        if s.namespace != vns or not _includes(s.included_namespaces, namespace):
            continue
        miss = _spec_miss(spec, namespace, s)
        if miss is None:
            refused.append(s)
        else:
            schedule = f"{vns}/{s.name}"
            near.append(msg("Schedule {schedule}: {reason}", schedule=schedule, reason=miss))
    if refused:
        listed = [f"{vns}/{s.name} ({F_SCHEDULE_PHASE} {s.phase})" for s in refused]
        if len(refused) == 1:
            lead = msg("the only Schedule that would back it up to storage location {location}, {schedules}, "
                       "failed Velero's validation: Velero never runs it", location=loc, schedules=listed)
        else:
            lead = msg("the only Schedules that would back it up to storage location {location}, {schedules}, "
                       "failed Velero's validation: Velero never runs them", location=loc, schedules=listed)
        cited = F_SCHEDULE_PHASE
    else:
        lead = msg("no active Schedule there holds it (or *) in spec.template.includedNamespaces and writes to "
                   "storage location {location}", location=loc)
        cited = F_INCLUDED
    return [finding(rule("BK-001"), Result.FAIL, _ns_ref(namespace), msg(
        "Namespace {namespace} is covered by no Velero Schedule in {velero_namespace}: {reasons}",
        namespace=namespace, velero_namespace=vns, reasons=semicolons([lead, *near]),
    ), cited)]


# --------------------------------------------------------------------------------------------
# BK-002, BK-003


def _pods_on_nodes(pods: list[Pod]) -> Text | Seq:
    shown: Text | Seq = seq(msg("{pod} on node {node}", pod=p.name, node=p.node_name) for p in pods[:PODS_SHOWN])
    if len(pods) > PODS_SHOWN:
        return msg("{pods} and {more} more", pods=shown, more=len(pods) - PODS_SHOWN)
    return shown


@family.rule("BK-002", Severity.CRITICAL, ("R2",),
             N_("The backup target sits in a zone where protected workloads run"),
             reads={"BackupStorageLocation", "Pod", "Node"})
def off_zone_storage(protected: ProtectedNamespace, view: ClusterView, now: datetime) -> list[Finding]:
    """Fail when the storage location's zone is a zone where running pods of the namespace sit; skip when
    the location is missing or has no zone (BK-003 reports it) or without live Pods/Nodes; warn when some
    running pods are on nodes of unknown zone."""
    if not view.velero_installed:
        return _not_installed("BK-002", protected)
    spec, namespace = protected.spec, protected.namespace
    ref, location = _bsl_ref(spec), _location(spec)
    bsl = protected.storage_location
    if bsl is None:
        return [finding(rule("BK-002"), Result.SKIP, ref, msg(
            "BackupStorageLocation {location} does not exist, so its zone cannot be compared with the workloads of "
            "namespace {namespace} (BK-003 reports the missing location)", location=location, namespace=namespace,
        ), F_STORAGE_LOCATION)]
    zone = bsl.zone
    if not zone:
        return [finding(rule("BK-002"), Result.SKIP, ref, msg(
            "BackupStorageLocation {location} has no {label} label, so off-zone storage is not judged here "
            "(BK-003 reports it)", location=location, label=ZONE_LABEL,
        ), F_ZONE)]
    if not view.pods_observed or not view.nodes_observed:
        return [finding(rule("BK-002"), Result.SKIP, ref, msg(
            "Zones of the workloads of namespace {namespace} not judged: no live Pods/Nodes in the input "
            "(BackupStorageLocation {location} is in zone {zone})", namespace=namespace, location=location, zone=zone,
        ), F_ZONE)]
    wz = protected.workload_zones
    where = {"location": location, "zone": zone, "namespace": namespace}
    if zone in wz.by_zone:
        return [finding(rule("BK-002"), Result.FAIL, ref, msg(
            "BackupStorageLocation {location} is in zone {zone} ({field}), where running pods of namespace "
            "{namespace} sit ({pods}); a zone outage would take the workloads and their backups together "
            "(workload zones: {zones})", field=F_ZONE, pods=_pods_on_nodes(wz.by_zone[zone]), zones=wz.zones, **where,
        ), F_ZONE)]
    if wz.unzoned:
        unknown = {"count": len(wz.unzoned), "label": ZONE_LABEL,
                   "pods": [f"{p.name} ({p.node_name})" for p in wz.unzoned[:PODS_SHOWN]]}
        if not wz.zones:
            return [finding(rule("BK-002"), Result.WARN, ref, msg(
                "BackupStorageLocation {location} is in zone {zone}, outside the known workload zones of namespace "
                "{namespace} (none), but {count} running pod(s) sit on nodes that are not observed or have no "
                "{label} label ({pods}): off-zone storage is not proven for them", **where, **unknown,
            ), F_ZONE)]
        return [finding(rule("BK-002"), Result.WARN, ref, msg(
            "BackupStorageLocation {location} is in zone {zone}, outside the known workload zones of namespace "
            "{namespace} ({zones}), but {count} running pod(s) sit on nodes that are not observed or have no "
            "{label} label ({pods}): off-zone storage is not proven for them", zones=wz.zones, **where, **unknown,
        ), F_ZONE)]
    if not wz.by_zone:
        return [finding(rule("BK-002"), Result.PASS, ref, msg(
            "BackupStorageLocation {location} is in zone {zone}; namespace {namespace} has no running pods, so none "
            "shares its zone", **where,
        ), F_ZONE)]
    return [finding(rule("BK-002"), Result.PASS, ref, msg(
        "BackupStorageLocation {location} is in zone {zone}, outside the zones of the running pods of namespace "
        "{namespace} ({zones})", zones=wz.zones, **where,
    ), F_ZONE)]


def _missing(rule_id: str, spec: BackupPolicySpec, result: Result, consequence: Text) -> Finding:
    return finding(rule(rule_id), result, _bsl_ref(spec), msg(
        "BackupStorageLocation {location} does not exist (spec.storageLocation {name} in spec.veleroNamespace "
        "{velero_namespace}): {consequence}", location=_location(spec), name=spec.storage_location,
        velero_namespace=spec.velero_namespace, consequence=consequence,
    ), F_STORAGE_LOCATION)


@family.rule("BK-003", Severity.HIGH, ("R2",),
             N_("The backup target's zone is unknown, so off-zone storage cannot be proven"),
             reads={"BackupStorageLocation"})
def target_zone_known(protected: ProtectedNamespace, view: ClusterView, now: datetime) -> list[Finding]:
    """Fail when the storage location does not exist or has no zone label."""
    if not view.velero_installed:
        return _not_installed("BK-003", protected)
    spec = protected.spec
    bsl = protected.storage_location
    if bsl is None:
        return [_missing("BK-003", spec, Result.FAIL, msg("the backup target, and so its zone, is unknown"))]
    if not bsl.zone:
        return [finding(rule("BK-003"), Result.FAIL, _bsl_ref(spec), msg(
            "BackupStorageLocation {location} has no {label} label: its zone is unknown, so storage outside the "
            "workloads' zones cannot be proven", location=_location(spec), label=ZONE_LABEL,
        ), F_ZONE)]
    return [finding(rule("BK-003"), Result.PASS, _bsl_ref(spec), msg(
        "BackupStorageLocation {location} declares its zone: {zone} ({field})",
        location=_location(spec), zone=bsl.zone, field=F_ZONE,
    ), F_ZONE)]


# --------------------------------------------------------------------------------------------
# BK-004


@family.rule("BK-004", Severity.HIGH, ("S2",), N_("The backup target does not encrypt"),
             reads={"BackupStorageLocation"})
def target_encryption(protected: ProtectedNamespace, view: ClusterView, now: datetime) -> list[Finding]:
    """Fail when the policy requires encryption and the storage location shows none; skip when not required
    or the location is missing (BK-003 fails then)."""
    if not view.velero_installed:
        return _not_installed("BK-004", protected)
    spec = protected.spec
    ref, location = _bsl_ref(spec), _location(spec)
    if not spec.require_encryption:
        return [finding(rule("BK-004"), Result.SKIP, ref, msg(
            "Encryption of BackupStorageLocation {location} not judged: the policy's requireEncryption is false",
            location=location,
        ), F_CONFIG)]
    bsl = protected.storage_location
    if bsl is None:
        return [_missing("BK-004", spec, Result.SKIP, msg("its encryption cannot be judged (BK-003 reports it)"))]
    enc = encryption_evidence(bsl)
    if enc.encrypts:
        return [finding(rule("BK-004"), Result.PASS, ref, msg(
            "BackupStorageLocation {location} encrypts: {evidence}",
            location=location, evidence=semicolons([text for _, text in enc.evidence]),
        ), enc.evidence[0][0])]
    absent = {"location": location, "keys": ENCRYPTION_CONFIG_KEYS, "annotation": ENCRYPTION_ANNOTATION}
    if enc.negative:
        return [finding(rule("BK-004"), Result.FAIL, ref, msg(
            "BackupStorageLocation {location} shows no encryption while the policy requires it: its spec.config "
            "sets none of {keys}, and it has no {annotation} annotation ({negative} does not count)",
            negative=enc.negative, **absent,
        ), F_CONFIG)]
    return [finding(rule("BK-004"), Result.FAIL, ref, msg(
        "BackupStorageLocation {location} shows no encryption while the policy requires it: its spec.config sets "
        "none of {keys}, and it has no {annotation} annotation", **absent,
    ), F_CONFIG)]


# --------------------------------------------------------------------------------------------
# BK-005


def _phases(backups: Iterable[VeleroBackup]) -> dict[str, int]:
    phases: dict[str, int] = {}
    for b in backups:
        phase = b.phase or "no phase"
        phases[phase] = phases.get(phase, 0) + 1
    return phases


@family.rule("BK-005", Severity.HIGH, ("R3",), N_("The last successful backup is older than the policy's RPO"),
             reads={"Backup"})
def backup_age(protected: ProtectedNamespace, view: ClusterView, now: datetime) -> list[Finding]:
    """Fail when no Completed backup covers the namespace, or the latest is older than rpo."""
    if not view.velero_installed:
        return _not_installed("BK-005", protected)
    spec, namespace = protected.spec, protected.namespace
    about = {"namespace": namespace, "velero_namespace": spec.velero_namespace, "rpo": spec.rpo}
    latest, when = protected.latest_backup, protected.last_backup_at
    if latest is None or when is None:
        phases = _phases(b for b in view.backups if backup_covers(spec, namespace, b))
        if not phases:
            return [finding(rule("BK-005"), Result.FAIL, _ns_ref(namespace), msg(
                "Namespace {namespace} has no successful backup: no Velero Backup in {velero_namespace} on storage "
                "location {location} covering it has status.phase Completed (RPO {rpo})",
                location=spec.storage_location, **about,
            ), F_BACKUP_COMPLETED)]
        counted: Text | list[str] = [f"{n} {p}" for p, n in sorted(phases.items())]
        if "Completed" in phases:
            counted = msg("{backups} (Completed without a timestamp)", backups=counted)
        return [finding(rule("BK-005"), Result.FAIL, _ns_ref(namespace), msg(
            "Namespace {namespace} has no successful backup: no Velero Backup in {velero_namespace} on storage "
            "location {location} covering it has status.phase Completed (RPO {rpo}); its backups there: {backups}",
            location=spec.storage_location, backups=counted, **about,
        ), F_BACKUP_COMPLETED)]
    age = (as_utc(now) - when).total_seconds()
    source = F_BACKUP_COMPLETED if parse_rfc3339_or_none(latest.completed) else F_BACKUP_STARTED
    last = {"backup": f"{spec.velero_namespace}/{latest.name}", "field": source, "completed": rfc3339_seconds(when),
            "age": format_duration(age), **about}
    if age > parse_duration(spec.rpo):
        return [finding(rule("BK-005"), Result.FAIL, _ns_ref(namespace), msg(
            "The last successful backup of namespace {namespace}, Velero Backup {backup} ({field} {completed}), is "
            "{age} old: older than the policy's rpo of {rpo}", **last,
        ), source)]
    return [finding(rule("BK-005"), Result.PASS, _ns_ref(namespace), msg(
        "The last successful backup of namespace {namespace}, Velero Backup {backup} ({field} {completed}), is "
        "{age} old, within the rpo of {rpo}", **last,
    ), source)]


# --------------------------------------------------------------------------------------------
# BK-006


@family.rule("BK-006", Severity.MEDIUM, ("S3",), N_("No successful restore test within the policy's interval"),
             reads={"Restore", "Backup"})
def restore_test_age(protected: ProtectedNamespace, view: ClusterView, now: datetime) -> list[Finding]:
    """Fail when no Completed Restore of a backup of the namespace lies within restoreTestInterval; skip when
    the policy sets no interval."""
    if not view.velero_installed:
        return _not_installed("BK-006", protected)
    spec, namespace = protected.spec, protected.namespace
    interval = spec.restore_test_interval
    if interval is None:
        return [finding(rule("BK-006"), Result.SKIP, _ns_ref(namespace), msg(
            "Restore tests of namespace {namespace} not judged: the policy sets no restoreTestInterval",
            namespace=namespace,
        ), "status.phase")]
    about = {"namespace": namespace, "interval": interval}
    last, when = protected.last_restore_test, protected.last_restore_test_at
    if last is None or when is None:
        return [finding(rule("BK-006"), Result.FAIL, _ns_ref(namespace), msg(
            "Namespace {namespace} has no successful restore test: no Velero Restore in {velero_namespace} of a "
            "backup of it has status.phase Completed; the policy's restoreTestInterval is {interval}",
            velero_namespace=spec.velero_namespace, **about,
        ), "status.phase")]
    age = (as_utc(now) - when).total_seconds()
    tested = {"restore": f"{spec.velero_namespace}/{last.name}", "backup": last.backup_name,
              "field": F_RESTORE_COMPLETED, "completed": rfc3339_seconds(when), "age": format_duration(age), **about}
    if age > parse_duration(interval):
        return [finding(rule("BK-006"), Result.FAIL, _ns_ref(namespace), msg(
            "The last successful restore test of namespace {namespace}, Velero Restore {restore} of backup {backup} "
            "({field} {completed}), is {age} old: older than the policy's restoreTestInterval of {interval}",
            **tested,
        ), F_RESTORE_COMPLETED)]
    return [finding(rule("BK-006"), Result.PASS, _ns_ref(namespace), msg(
        "The last successful restore test of namespace {namespace}, Velero Restore {restore} of backup {backup} "
        "({field} {completed}), is {age} old, within the restoreTestInterval of {interval}", **tested,
    ), F_RESTORE_COMPLETED)]


# --------------------------------------------------------------------------------------------
# BK-007


@family.rule("BK-007", Severity.CRITICAL, ("R10",), N_("The backup target is outside the allowed regions"),
             reads={"BackupStorageLocation"})
def target_region(protected: ProtectedNamespace, view: ClusterView, now: datetime) -> list[Finding]:
    """Fail when allowedRegions is set and the storage location's region (label, then spec.config.region) is
    unknown or not in it; skip without allowedRegions or location."""
    if not view.velero_installed:
        return _not_installed("BK-007", protected)
    spec = protected.spec
    ref, location = _bsl_ref(spec), _location(spec)
    allowed = list(spec.allowed_regions or ())
    if not allowed:
        return [finding(rule("BK-007"), Result.SKIP, ref, msg(
            "Region of BackupStorageLocation {location} not judged: the policy sets no allowedRegions",
            location=location,
        ), F_REGION)]
    bsl = protected.storage_location
    if bsl is None:
        return [_missing("BK-007", spec, Result.SKIP, msg("its region cannot be judged (BK-003 reports it)"))]
    region = bsl.region
    if not region:
        return [finding(rule("BK-007"), Result.FAIL, ref, msg(
            "BackupStorageLocation {location} has no region: neither a {label} label nor spec.config.region, so it "
            "cannot be shown to lie in the allowed regions ({allowed})",
            location=location, label=REGION_LABEL, allowed=allowed,
        ), F_REGION)]
    source = F_REGION if bsl.labels.get(REGION_LABEL) else F_CONFIG_REGION
    where = {"location": location, "region": region, "field": source, "allowed": allowed}
    if region not in allowed:
        return [finding(rule("BK-007"), Result.FAIL, ref, msg(
            "BackupStorageLocation {location} is in region {region} ({field}), outside the policy's allowedRegions "
            "({allowed})", **where,
        ), source)]
    return [finding(rule("BK-007"), Result.PASS, ref, msg(
        "BackupStorageLocation {location} is in region {region} ({field}), one of the allowed regions ({allowed})",
        **where,
    ), source)]


# --------------------------------------------------------------------------------------------
# One rule, or all of them


def _judge(declared: Rule[ProtectedNamespace], spec: BackupPolicySpec, namespace: str, view: ClusterView,
           now: datetime = datetime.min) -> Finding:
    (only,) = declared(ProtectedNamespace(spec, namespace, "", view), view, now)
    return only


def check_schedule(spec: BackupPolicySpec, namespace: str, view: ClusterView) -> Finding:
    """BK-001 alone."""
    return _judge(schedule_coverage, spec, namespace, view)


def check_off_zone(spec: BackupPolicySpec, namespace: str, view: ClusterView) -> Finding:
    """BK-002 alone."""
    return _judge(off_zone_storage, spec, namespace, view)


def check_zone_known(spec: BackupPolicySpec, view: ClusterView, namespace: str = "") -> Finding:
    """BK-003 alone."""
    return _judge(target_zone_known, spec, namespace, view)


def check_encryption(spec: BackupPolicySpec, view: ClusterView, namespace: str = "") -> Finding:
    """BK-004 alone."""
    return _judge(target_encryption, spec, namespace, view)


def check_rpo(spec: BackupPolicySpec, namespace: str, view: ClusterView, now: datetime) -> Finding:
    """BK-005 alone."""
    return _judge(backup_age, spec, namespace, view, now)


def check_restore_test(spec: BackupPolicySpec, namespace: str, view: ClusterView, now: datetime) -> Finding:
    """BK-006 alone."""
    return _judge(restore_test_age, spec, namespace, view, now)


def check_region(spec: BackupPolicySpec, view: ClusterView, namespace: str = "") -> Finding:
    """BK-007 alone."""
    return _judge(target_region, spec, namespace, view)


def evaluate_backup(spec: BackupPolicySpec, namespace: str, policy_name: str, view: ClusterView,
                    now: datetime) -> BackupEvaluation:
    """Every BK rule for the namespace the BackupPolicy `policy_name` lives in (and protects)."""
    label = f"BackupPolicy/{namespace}/{policy_name}"
    protected = ProtectedNamespace(spec, namespace, policy_name, view)
    findings = family.evaluate(protected, view, as_utc(now))
    return BackupEvaluation(protected, [replace(f, policy=label) for f in findings], next_deadline(protected, now))
