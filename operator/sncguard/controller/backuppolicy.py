"""BackupPolicy in the operator: judge the namespace's backups, own its Velero Schedule, run restore drills.

Time is a timer, not a loop: after each evaluation the engine is told when the verdict next
changes by time alone (the RPO or the restore-test interval running out) and evaluates then.

A restore drill restores the latest successful backup into a scratch namespace (Velero's
namespaceMapping), waits for Velero to finish, records the result in status, posts an Event
with the report and deletes the scratch namespace. Drills are Velero Restores labelled as
sncguard's, so their state lives in the cluster and survives an operator restart.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from ..api import BackupPolicySpec, Mode
from ..evaluation import evaluate_backuppolicy
from ..i18n import msg, render
from ..plans import backuppolicy as plan
from ..status import build_status, invalid_status
from ..timefmt import parse_rfc3339_or_none as _parse_time
from ..view import VeleroRestore
from .engine import Engine
from .kinds import BY_KIND, build_view, index_values, missing_permission, owned_objects, velero_installed
from .state import PolicyKey, PolicyRecord

log = logging.getLogger("sncguard.backuppolicy")

FINISHED = plan.TERMINAL_RESTORE_PHASES
REPORTED = "sncguard.io/reported"
# How long a drill just created counts as in flight before the Restore watch shows it. A watch
# can lag (Velero's CRDs just installed, a watch reconnecting); without this, an evaluation in
# that window would start a second drill.
UNSEEN_DRILL_GRACE = timedelta(minutes=2)


def _policy_label(record: PolicyRecord) -> str:
    return plan.policy_label_value(record.key.namespace, record.key.name)


class BackupPolicyReconciler:
    kind = "BackupPolicy"

    def __init__(self) -> None:
        # Drills created but not yet seen in the Restore index: (policy uid, what status says of it, when).
        # The uid, because a policy recreated under its name while a watch was down is another
        # object, whose status must not report the first one's drill.
        self._unseen_drills: dict[PolicyKey, tuple[str, dict[str, Any], datetime]] = {}

    async def reconcile(self, engine: Engine, record: PolicyRecord) -> None:
        now = engine.clock()
        previous = engine.writer.previous_status(record)
        spec = await engine.parse_spec(record)
        if spec is None or await missing_permission(engine, record):
            return
        assert isinstance(spec, BackupPolicySpec)
        if not velero_installed(engine):
            message = msg("Velero (velero.io) is not installed: no backup can be judged; sncguard will pick it up "
                          "as soon as its CRDs appear").render(engine.language)
            await engine.writer.write_status(record, invalid_status(
                generation=record.generation, reason="VeleroNotInstalled", message=message, previous=previous,
                now=now))
            return
        namespace = record.key.namespace
        view = build_view(engine, [namespace], [spec.velero_namespace])
        view.backups = engine.backup_index.relevant(
            spec.velero_namespace, namespace, lambda vns: index_values(engine, BY_KIND["Backup"], [vns]), view.restores)
        outcome = evaluate_backuppolicy(spec, namespace, record.key.name, view, now)
        result = outcome.detail
        extra: dict[str, Any] = dict(outcome.status_fields)
        if spec.mode is Mode.ENFORCE:
            errors, drill = await self._enforce(engine, record, spec, result, extra, now)
            if drill is not None:
                extra["lastDrill"] = drill
            if errors:
                extra["enforcementErrors"] = errors
        for due in (result.next_deadline, outcome.wake_at):
            if due is not None:
                engine.queue.schedule_at(record.key, due)
        if spec.mode is Mode.ENFORCE and (due := plan.drill_due_at(spec, _parse_time(extra.get("lastRestoreTest")))):
            # The drill starts a margin before BK-006 would fail, so a well-run drill keeps it passing.
            engine.queue.schedule_at(record.key, due)
        status = build_status(generation=record.generation, findings=outcome.findings, extra=extra,
                              previous=previous, now=now, language=engine.language)
        await engine.writer.write_status(record, status, outcome.findings)

    async def _enforce(self, engine: Engine, record: PolicyRecord, spec: BackupPolicySpec, result: Any,
                       extra: dict[str, Any], now: datetime) -> tuple[list[str], dict[str, Any] | None]:
        errors: list[str] = []
        namespace = record.key.namespace
        schedule = plan.schedule_object(record.key.name, record.uid, namespace, spec)
        smeta = schedule["metadata"]
        owned = {o["metadata"]["name"]: o for o in owned_objects(engine, "Schedule", spec.velero_namespace)}
        taken = {s.name for s in index_values(engine, BY_KIND["Schedule"], [spec.velero_namespace])}
        if smeta["name"] in taken and smeta["name"] not in owned:
            errors.append(f"Schedule {smeta['namespace']}/{smeta['name']} exists and is not managed by sncguard")
        elif error := await engine.writer.apply_owned(schedule, owned.get(smeta["name"]), owned=True):
            errors.append(error)
        for stale in plan.stale_schedules(owned_objects(engine, "Schedule"), record.uid, schedule):
            meta = stale["metadata"]
            if error := await engine.writer.delete_owned("velero.io/v1", "Schedule", meta["namespace"], meta["name"],
                                                         meta.get("uid")):
                errors.append(error)
        drill = await self._drills(engine, record, spec, result, extra, now, errors)
        return errors, drill

    async def _drills(self, engine: Engine, record: PolicyRecord, spec: BackupPolicySpec, result: Any,
                      extra: dict[str, Any], now: datetime, errors: list[str]) -> dict[str, Any] | None:
        if spec.restore_test_interval is None:
            return None
        namespace = record.key.namespace
        mine = [o for o in owned_objects(engine, "Restore", spec.velero_namespace)
                if (o["metadata"].get("labels") or {}).get("sncguard.io/backup-policy") == _policy_label(record)
                and (o["metadata"].get("labels") or {}).get("sncguard.io/drill") == "true"]
        mine.sort(key=lambda o: o["metadata"]["name"])
        in_flight = False
        unseen = self._unseen_drills.get(record.key)
        if unseen is not None:
            uid, unseen_drill, started = unseen
            if uid != record.uid or any(o["metadata"]["name"] == unseen_drill["restore"] for o in mine) or (
                    now - started > UNSEEN_DRILL_GRACE):
                del self._unseen_drills[record.key]
            else:  # in flight: nothing else to do until the index shows it, or the grace runs out
                engine.queue.schedule_at(record.key, started + UNSEEN_DRILL_GRACE)
                return unseen_drill
        for obj in mine:
            restore = VeleroRestore.from_obj(obj)
            if restore.phase not in FINISHED:
                in_flight = True
                continue
            if (obj["metadata"].get("annotations") or {}).get(REPORTED):
                continue
            await self._finish_drill(engine, record, spec, obj, restore, errors)
        last_test = _parse_time(extra.get("lastRestoreTest"))
        backup = result.latest_backup
        if backup is not None and plan.drill_due(spec, last_test, in_flight, now):
            restore_obj = plan.restore_drill(record.key.name, namespace, spec, backup, now)
            if error := await engine.writer.apply_owned(restore_obj, None, owned=True):
                errors.append(error)
            else:
                log.info("restore drill %s started for %s", restore_obj["metadata"]["name"], record.key.label())
                drill = {"restore": restore_obj["metadata"]["name"], "backup": backup.name,
                         "scratchNamespace": plan.drill_scratch_namespace(namespace), "phase": "New"}
                self._unseen_drills[record.key] = (record.uid, drill, now)
                engine.queue.schedule_at(record.key, now + UNSEEN_DRILL_GRACE)
                return drill
        if not mine:
            return None
        latest = mine[-1]
        status = latest.get("status") or {}
        spec_ = latest.get("spec") or {}
        drill = {"restore": latest["metadata"]["name"], "backup": spec_.get("backupName", ""),
                 "scratchNamespace": next(iter((spec_.get("namespaceMapping") or {}).values()), ""),
                 "phase": status.get("phase") or "New"}
        if status.get("startTimestamp"):
            drill["started"] = status["startTimestamp"]
        if status.get("completionTimestamp"):
            drill["completed"] = status["completionTimestamp"]
        return drill

    async def _finish_drill(self, engine: Engine, record: PolicyRecord, spec: BackupPolicySpec, obj: dict,
                            restore: VeleroRestore, errors: list[str]) -> None:
        backups = {b.name: b for b in index_values(engine, BY_KIND["Backup"], [spec.velero_namespace])}
        backup = backups.get(restore.backup_name)
        if backup is not None:
            report = plan.drill_report(restore, backup, record.key.namespace)
        else:
            report = msg("Restore drill {restore} finished: {phase} (backup {backup})", restore=restore.name,
                         phase=restore.phase, backup=restore.backup_name)
        await engine.writer.post_event(record, "RestoreDrill", render(report, engine.language),
                                       "Normal" if restore.phase == "Completed" else "Warning")
        for scratch in restore.namespace_mapping.values():
            if scratch.startswith("sncguard-drill-") and (
                    error := await engine.writer.delete_owned("v1", "Namespace", None, scratch)):
                errors.append(error)
        # The report is out: marking it is best effort.
        if error := await engine.writer.annotate("velero.io/v1", "Restore", restore.namespace, restore.name,
                                                 {REPORTED: "true"}):
            errors.append(f"marking drill {restore.name} reported: {error}")

    async def deleted(self, engine: Engine, record: PolicyRecord) -> None:
        """The Schedule lives in Velero's namespace, where no ownerReference can reach: delete it here."""
        self._unseen_drills.pop(record.key, None)
        label = _policy_label(record)
        for obj in owned_objects(engine, "Schedule"):
            meta = obj["metadata"]
            if (meta.get("labels") or {}).get("sncguard.io/backup-policy") == label:
                await engine.writer.delete_owned("velero.io/v1", "Schedule", meta["namespace"], meta["name"],
                                                 meta.get("uid"))
        await self.sweep(engine)

    async def sweep(self, engine: Engine) -> None:
        """Delete the Schedules of BackupPolicies that no longer exist (deleted while sncguard was down,
        or whose DELETED event a broken watch lost); never one without sncguard's owner annotations."""
        alive = {r.uid for r in engine.records(self.kind)}
        for obj in plan.orphaned_schedules(owned_objects(engine, "Schedule"), alive):
            meta = obj["metadata"]
            log.info("Schedule %s/%s belongs to a BackupPolicy that no longer exists (%s): deleting it",
                     meta["namespace"], meta["name"], (meta.get("annotations") or {}).get(plan.OWNER_ANNOTATION))
            await engine.writer.delete_owned("velero.io/v1", "Schedule", meta["namespace"], meta["name"],
                                             meta.get("uid"))
