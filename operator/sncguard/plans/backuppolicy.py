"""Enforce mode for BackupPolicy: the Velero Schedule that backs the namespace up, and restore drills.

Pure builders: no I/O, no clock (`now` is a parameter), no client. The shell applies what they
return with server-side apply under the field manager `sncguard`.

Ownership. A BackupPolicy lives in the namespace it protects; the Velero objects it asks for live
in the policy's `veleroNamespace`. Kubernetes forbids an ownerReference across namespaces (the
garbage collector would treat it as unresolvable and delete the dependent), so these objects carry
no ownerReference. They carry instead:

- the label `app.kubernetes.io/managed-by: sncguard` (sncguard only ever touches what has it),
- the label `sncguard.io/backup-policy: <namespace>.<policy>` (select them by policy; shortened
  with a stable hash past 63 characters, see `policy_label_value`),
- the annotation `sncguard.io/owner: <namespace>/<policy>` (and `sncguard.io/owner-uid`), which
  names the policy exactly.

The caller must therefore delete them itself when the policy goes away (and sweep, on start, the
Schedules of policies deleted while it was down: `orphaned_schedules`), and delete the scratch
namespace of a finished drill. Each BackupPolicy owns its own Schedule (`schedule_name`), so two
policies of one namespace never rewrite one object in turn.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .. import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from ..api.backuppolicy import BackupPolicySpec, parse_duration
from ..i18n import Text, msg
from ..naming import digest
from ..rules.backup import DRILL_LABEL, VELERO_API_VERSION, backup_time, format_duration
from ..timefmt import as_utc, parse_rfc3339_or_none, rfc3339_seconds
from ..view import VeleroBackup, VeleroRestore

__all__ = [
    "DRILL_LABEL",
    "DRILL_MARGIN",
    "MAX_NAME",
    "OWNER_ANNOTATION",
    "OWNER_UID_ANNOTATION",
    "POLICY_LABEL",
    "TERMINAL_RESTORE_PHASES",
    "bounded_name",
    "drill_due",
    "drill_due_at",
    "drill_name",
    "drill_report",
    "drill_scratch_namespace",
    "orphaned_schedules",
    "policy_label_value",
    "restore_drill",
    "schedule_name",
    "schedule_object",
    "stale_schedules",
]

POLICY_LABEL = "sncguard.io/backup-policy"
OWNER_ANNOTATION = "sncguard.io/owner"
OWNER_UID_ANNOTATION = "sncguard.io/owner-uid"
# Names and label values: a DNS label / label value is at most 63 characters. Velero copies the
# Schedule name into the velero.io/schedule-name label of every Backup, and the Restore name into
# velero.io/restore-name on every restored object, so both must fit in a label value too.
MAX_NAME = 63
_HASH_LEN = 8
# A drill is due when less than this share of restoreTestInterval remains, so it lands before BK-006 fails.
DRILL_MARGIN = 0.10
# Velero Restore phases after which nothing more happens.
TERMINAL_RESTORE_PHASES = frozenset({"Completed", "PartiallyFailed", "Failed", "FailedValidation"})
_STAMP = "%Y%m%d%H%M%S"


# --------------------------------------------------------------------------------------------
# Names



def bounded_name(prefix: str, middle: str, suffix: str = "", limit: int = MAX_NAME) -> str:
    """prefix + middle + suffix, unchanged when it fits in `limit`; otherwise `middle` is cut and a
    stable hash of the whole name takes its tail, so distinct long names stay distinct. The result
    starts and ends like its parts and never has a '-' or '.' next to the hash."""
    full = f"{prefix}{middle}{suffix}"
    if len(full) <= limit:
        return full
    room = limit - len(prefix) - len(suffix) - _HASH_LEN - 1
    if room < 0:
        raise ValueError(f"{prefix!r} and {suffix!r} leave no room in {limit} characters")
    cut = middle[:room].rstrip("-.")
    return f"{prefix}{cut}-{digest(full, _HASH_LEN)}{suffix}" if cut else f"{prefix}{digest(full, _HASH_LEN)}{suffix}"


def schedule_name(namespace: str, policy_name: str) -> str:
    """sncguard-<namespace>.<policy>, at most 63 characters: one Schedule per BackupPolicy. A
    namespace name has no '.', so the first one tells where the policy's name begins."""
    return bounded_name("sncguard-", f"{namespace}.{policy_name}")


def drill_scratch_namespace(namespace: str) -> str:
    """The namespace a drill restores into: sncguard-drill-<namespace>, at most 63 characters."""
    return bounded_name("sncguard-drill-", namespace)


def drill_name(namespace: str, now: datetime) -> str:
    """sncguard-drill-<namespace>-<YYYYmmddHHMMSS> (UTC), at most 63 characters: the time is kept whole."""
    stamp = as_utc(now).strftime(_STAMP)
    return bounded_name("sncguard-drill-", namespace, f"-{stamp}")


def policy_label_value(namespace: str, policy_name: str) -> str:
    """<namespace>.<policy>, the value of sncguard.io/backup-policy: a label value of at most 63 characters."""
    return bounded_name("", f"{namespace}.{policy_name}")


def _metadata(name: str, spec: BackupPolicySpec, namespace: str, policy_name: str,
              extra_labels: dict[str, str] | None = None, policy_uid: str = "") -> dict[str, Any]:
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, POLICY_LABEL: policy_label_value(namespace, policy_name)}
    labels.update(extra_labels or {})
    annotations = {OWNER_ANNOTATION: f"{namespace}/{policy_name}"}
    if policy_uid:
        annotations[OWNER_UID_ANNOTATION] = policy_uid
    return {"name": name, "namespace": spec.velero_namespace, "labels": labels, "annotations": annotations}


# --------------------------------------------------------------------------------------------
# The Schedule


def schedule_object(policy_name: str, policy_uid: str, namespace: str, spec: BackupPolicySpec) -> dict[str, Any]:
    """The velero.io/v1 Schedule that backs `namespace` up as the BackupPolicy `policy_name` asks.

    It lives in spec.veleroNamespace, apart from the policy, so it has NO ownerReference
    (Kubernetes forbids cross-namespace owners): the annotation sncguard.io/owner names the policy
    (<namespace>/<policy_name>, and sncguard.io/owner-uid its uid), and the caller deletes the
    Schedule when the policy goes. useOwnerReferencesInBackup is false: the Backups must outlive
    the Schedule, they are what a restore needs.
    """
    return {
        "apiVersion": VELERO_API_VERSION,
        "kind": "Schedule",
        "metadata": _metadata(schedule_name(namespace, policy_name), spec, namespace, policy_name,
                              policy_uid=policy_uid),
        "spec": {
            "schedule": spec.schedule,
            "useOwnerReferencesInBackup": False,
            "template": {
                "includedNamespaces": [namespace],
                "storageLocation": spec.storage_location,
                "ttl": spec.ttl,
            },
        },
    }


# --------------------------------------------------------------------------------------------
# Restore drills


def restore_drill(policy_name: str, namespace: str, spec: BackupPolicySpec, backup: VeleroBackup,
                  now: datetime) -> dict[str, Any]:
    """A velero.io/v1 Restore of `backup` into the scratch namespace (never into `namespace` itself:
    namespaceMapping sends every object there). Like the Schedule it has no ownerReference; the
    caller deletes the scratch namespace, and the Restore when it no longer needs it as evidence
    (BK-006 reads Completed Restores)."""
    return {
        "apiVersion": VELERO_API_VERSION,
        "kind": "Restore",
        "metadata": _metadata(drill_name(namespace, now), spec, namespace, policy_name,
                              extra_labels={DRILL_LABEL: "true"}),
        "spec": {
            "backupName": backup.name,
            "includedNamespaces": [namespace],
            "namespaceMapping": {namespace: drill_scratch_namespace(namespace)},
            "restorePVs": True,
        },
    }


def drill_due(spec: BackupPolicySpec, last_restore_test: datetime | None, drills_in_flight: bool,
              now: datetime) -> bool:
    """Whether to start a restore drill now: the policy sets restoreTestInterval, no drill is running,
    and the last successful restore test is missing or has less than 10 % of the interval left."""
    if spec.restore_test_interval is None or drills_in_flight:
        return False
    if last_restore_test is None:
        return True
    interval = parse_duration(spec.restore_test_interval)
    remaining = interval - (as_utc(now) - as_utc(last_restore_test)).total_seconds()
    return remaining < DRILL_MARGIN * interval


def drill_due_at(spec: BackupPolicySpec, last_restore_test: datetime | None) -> datetime | None:
    """When the next drill falls due by time alone (see `drill_due`): a timer for that moment starts the
    drill a margin before BK-006 fails, rather than once it has. None without an interval or a test."""
    if spec.restore_test_interval is None or last_restore_test is None:
        return None
    interval = parse_duration(spec.restore_test_interval)
    return as_utc(last_restore_test) + timedelta(seconds=interval * (1 - DRILL_MARGIN))


def _owner_uid(obj: dict[str, Any]) -> str:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(OWNER_UID_ANNOTATION, "")


def stale_schedules(owned: list[dict[str, Any]], policy_uid: str, desired: dict[str, Any]) -> list[dict[str, Any]]:
    """The Schedules this policy (by uid) owns that are not `desired`: left behind by a move to another
    veleroNamespace, or named the way older versions named them (one per namespace)."""
    where = (desired["metadata"]["namespace"], desired["metadata"]["name"])
    return [o for o in owned if _owner_uid(o) == policy_uid
            and (o["metadata"].get("namespace"), o["metadata"]["name"]) != where]


def orphaned_schedules(owned: list[dict[str, Any]], policy_uids: set[str]) -> list[dict[str, Any]]:
    """Owned Schedules whose BackupPolicy (by the uid annotation) no longer exists: deleted while the
    operator was down. A Schedule without the annotation is never taken for an orphan."""
    return [o for o in owned if _owner_uid(o) and _owner_uid(o) not in policy_uids]


def drill_report(restore: VeleroRestore, backup: VeleroBackup, namespace: str) -> Text:
    """The text of the Event posted when a drill ends: which backup, how old it was when restored,
    the phase, and how long the restore took when both of its timestamps are known."""
    scratch = restore.namespace_mapping.get(namespace, "")
    taken = backup_time(backup)
    finished = parse_rfc3339_or_none(restore.completed)
    # VeleroRestore does not project status.startTimestamp yet; use it as soon as it does.
    started = parse_rfc3339_or_none(getattr(restore, "started", "") or "")
    name = f"{backup.namespace}/{backup.name}"
    at = finished or started
    source: Text
    if taken is None:
        source = msg("backup {backup} (time unknown)", backup=name)
    elif at is None:
        source = msg("backup {backup} (taken {taken})", backup=name, taken=rfc3339_seconds(taken))
    else:
        source = msg("backup {backup} (taken {taken}, {age} old when restored)", backup=name,
                     taken=rfc3339_seconds(taken), age=format_duration((at - taken).total_seconds()))
    if scratch:
        source = msg("{backup} into namespace {namespace}", backup=source, namespace=scratch)
    took = (format_duration((finished - started).total_seconds())
            if started is not None and finished is not None else None)
    if restore.phase:
        outcome = (msg("phase {phase}, took {took}", phase=restore.phase, took=took) if took
                   else msg("phase {phase}", phase=restore.phase))
    else:
        outcome = msg("phase unknown, took {took}", took=took) if took else msg("phase unknown")
    drill = f"{restore.namespace}/{restore.name}"
    return msg("Restore drill {restore} of namespace {namespace} from {source}: {outcome}",
               restore=drill, namespace=namespace, source=source, outcome=outcome)
