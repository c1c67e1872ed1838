"""Enforce-mode plans for BackupPolicy: the Velero Schedule, restore drills, their names and timing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sncguard.api.backuppolicy import BackupPolicySpec
from sncguard.i18n import Text
from sncguard.plans.backuppolicy import (
    MAX_NAME,
    bounded_name,
    drill_due,
    drill_due_at,
    drill_name,
    drill_report,
    drill_scratch_namespace,
    orphaned_schedules,
    policy_label_value,
    restore_drill,
    schedule_name,
    schedule_object,
    stale_schedules,
)
from sncguard.rules.backup import check_restore_test
from sncguard.view import ClusterView, VeleroBackup, VeleroRestore, VeleroSchedule

NS = "shop"
NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
LONG_NS = "a" * 30 + "-" + "b" * 32  # 63 characters, the longest namespace name
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def spec(**fields) -> BackupPolicySpec:
    return BackupPolicySpec.model_validate(fields)


def backup(name: str = "sncguard-shop-20261122020000", completed: str = "2026-11-22T02:05:00Z",
           started: str = "2026-11-22T02:00:00Z") -> VeleroBackup:
    return VeleroBackup.from_obj({
        "apiVersion": "velero.io/v1", "kind": "Backup",
        "metadata": {"name": name, "namespace": "openshift-adp"},
        "spec": {"includedNamespaces": [NS], "storageLocation": "default"},
        "status": {"phase": "Completed", "startTimestamp": started, "completionTimestamp": completed},
    })


def as_restore(obj: dict, phase: str = "", completed: str = "") -> VeleroRestore:
    status = {"phase": phase} if phase else {}
    if completed:
        status["completionTimestamp"] = completed
    return VeleroRestore.from_obj({**obj, "status": status})


# --------------------------------------------------------------------------------------------
# Names


class TestNames:
    def test_short_names_unchanged(self):
        assert schedule_name(NS, "backups") == "sncguard-shop.backups"
        assert drill_scratch_namespace(NS) == "sncguard-drill-shop"
        assert drill_name(NS, NOW) == "sncguard-drill-shop-20261122100000"
        assert policy_label_value(NS, "backups") == "shop.backups"

    @pytest.mark.parametrize("namespace", [LONG_NS, "x" * 54, "x" * 55, "a" * 47 + "-" * 15 + "z"])
    def test_long_names_fit_and_stay_valid(self, namespace):
        for name in (drill_scratch_namespace(namespace), drill_name(namespace, NOW)):
            assert len(name) <= MAX_NAME
            assert DNS_LABEL.match(name), name
        # Velero copies the Schedule's name into a label value of every Backup.
        schedule = schedule_name(namespace, "p" * 40)
        assert len(schedule) <= MAX_NAME and LABEL_VALUE.match(schedule) and schedule.startswith("sncguard-")
        assert drill_name(namespace, NOW).endswith("-20261122100000")
        assert drill_scratch_namespace(namespace).startswith("sncguard-drill-")

    def test_boundary(self):
        fits = "x" * (MAX_NAME - len("sncguard-") - len(".p"))
        assert schedule_name(fits, "p") == "sncguard-" + fits + ".p"
        assert schedule_name(fits + "y", "p") != "sncguard-" + fits + "y.p"
        assert len(schedule_name(fits + "y", "p")) == MAX_NAME

    def test_hash_is_stable_and_distinguishes(self):
        a, b = "n" * 60 + "-a", "n" * 60 + "-b"
        assert schedule_name(a, "p") == schedule_name(a, "p")
        assert schedule_name(a, "p") != schedule_name(b, "p")
        # One Schedule per policy, and no two (namespace, policy) pairs share one.
        assert schedule_name("shop", "a") != schedule_name("shop", "b")
        assert schedule_name("a-b", "c") != schedule_name("a", "b-c")
        assert drill_scratch_namespace(a) != drill_scratch_namespace(b)
        assert drill_name(a, NOW) != drill_name(b, NOW)

    def test_drill_name_in_utc_and_per_second(self):
        paris = NOW.astimezone(timezone(timedelta(hours=1)))
        assert drill_name(NS, paris) == drill_name(NS, NOW)
        assert drill_name(NS, NOW + timedelta(seconds=1)) != drill_name(NS, NOW)

    def test_policy_label_value_is_a_label_value(self):
        value = policy_label_value(LONG_NS, "p" * 200)
        assert len(value) <= MAX_NAME
        assert LABEL_VALUE.match(value)
        assert value != policy_label_value(LONG_NS, "p" * 199)

    def test_bounded_name_refuses_impossible(self):
        with pytest.raises(ValueError):
            bounded_name("p" * 50, "m" * 10, "s" * 10)


# --------------------------------------------------------------------------------------------
# The Schedule


class TestSchedule:
    def test_shape(self):
        s = spec(storageLocation="s3-b", veleroNamespace="velero", schedule="30 1 * * *", ttl="168h")
        obj = schedule_object("backups", "uid-1", NS, s)
        assert obj["apiVersion"] == "velero.io/v1" and obj["kind"] == "Schedule"
        meta = obj["metadata"]
        assert meta["name"] == "sncguard-shop.backups"
        assert meta["namespace"] == "velero"
        assert meta["labels"] == {"app.kubernetes.io/managed-by": "sncguard",
                                  "sncguard.io/backup-policy": "shop.backups"}
        assert meta["annotations"] == {"sncguard.io/owner": "shop/backups", "sncguard.io/owner-uid": "uid-1"}
        assert "ownerReferences" not in meta
        assert obj["spec"] == {
            "schedule": "30 1 * * *",
            "useOwnerReferencesInBackup": False,
            "template": {"includedNamespaces": [NS], "storageLocation": "s3-b", "ttl": "168h"},
        }

    def test_projects_as_covering(self):
        """The view reads the planned Schedule back as one that covers the namespace."""
        s = spec()
        projected = VeleroSchedule.from_obj(schedule_object("backups", "", NS, s))
        assert projected.included_namespaces == (NS,)
        assert projected.storage_location == "default" and not projected.paused
        from sncguard.rules.backup import covering_schedules
        assert covering_schedules(s, NS, ClusterView(schedules=[projected])) == [projected]

    def test_no_uid_no_uid_annotation(self):
        meta = schedule_object("backups", "", NS, spec())["metadata"]
        assert "sncguard.io/owner-uid" not in meta["annotations"]

    def test_long_namespace(self):
        obj = schedule_object("backups", "u", LONG_NS, spec())
        assert len(obj["metadata"]["name"]) <= MAX_NAME
        assert obj["spec"]["template"]["includedNamespaces"] == [LONG_NS]
        assert obj["metadata"]["annotations"]["sncguard.io/owner"] == f"{LONG_NS}/backups"


# --------------------------------------------------------------------------------------------
# Restore drills


class TestRestoreDrill:
    def test_shape(self):
        obj = restore_drill("backups", NS, spec(veleroNamespace="velero"), backup(), NOW)
        assert obj["apiVersion"] == "velero.io/v1" and obj["kind"] == "Restore"
        meta = obj["metadata"]
        assert meta["name"] == "sncguard-drill-shop-20261122100000"
        assert meta["namespace"] == "velero"
        assert meta["labels"] == {"app.kubernetes.io/managed-by": "sncguard",
                                  "sncguard.io/backup-policy": "shop.backups", "sncguard.io/drill": "true"}
        assert "ownerReferences" not in meta
        assert obj["spec"] == {
            "backupName": "sncguard-shop-20261122020000",
            "includedNamespaces": [NS],
            "namespaceMapping": {NS: "sncguard-drill-shop"},
            "restorePVs": True,
        }

    def test_never_restores_into_the_namespace_itself(self):
        for namespace in (NS, LONG_NS):
            obj = restore_drill("p", namespace, spec(), backup(), NOW)
            target = obj["spec"]["namespaceMapping"][namespace]
            assert target != namespace and len(target) <= MAX_NAME and DNS_LABEL.match(target)
            assert len(obj["metadata"]["name"]) <= MAX_NAME

    def test_completed_drill_counts_for_bk006_even_after_the_backup_expired(self):
        s = spec(restoreTestInterval="720h")
        done = as_restore(restore_drill("p", NS, s, backup(), NOW), "Completed", "2026-11-22T10:10:00Z")
        v = ClusterView(restores=[done])  # the backup is gone
        assert check_restore_test(s, NS, v, NOW + timedelta(hours=1)).result.value == "pass"


class TestDrillDue:
    def test_not_due_without_interval(self):
        assert not drill_due(spec(), None, False, NOW)

    def test_due_without_any_test(self):
        assert drill_due(spec(restoreTestInterval="720h"), None, False, NOW)

    def test_not_due_while_in_flight(self):
        assert not drill_due(spec(restoreTestInterval="720h"), None, True, NOW)
        assert not drill_due(spec(restoreTestInterval="720h"), NOW - timedelta(hours=900), True, NOW)

    def test_not_due_when_recent(self):
        assert not drill_due(spec(restoreTestInterval="720h"), NOW - timedelta(hours=1), False, NOW)

    def test_margin_is_ten_percent(self):
        s = spec(restoreTestInterval="100h")
        assert not drill_due(s, NOW - timedelta(hours=90), False, NOW)  # exactly 10 % left
        assert drill_due(s, NOW - timedelta(hours=90, seconds=1), False, NOW)
        assert drill_due(s, NOW - timedelta(hours=99), False, NOW)

    def test_naive_times_are_utc(self):
        s = spec(restoreTestInterval="100h")
        assert drill_due(s, (NOW - timedelta(hours=95)).replace(tzinfo=None), False, NOW)
        assert not drill_due(s, NOW - timedelta(hours=5), False, NOW.replace(tzinfo=None))

    def test_due_when_overdue(self):
        assert drill_due(spec(restoreTestInterval="720h"), NOW - timedelta(hours=800), False, NOW)


class TestDrillReport:
    def drill(self, phase: str, completed: str = "2026-11-22T10:04:00Z") -> VeleroRestore:
        return as_restore(restore_drill("p", NS, spec(), backup(), NOW), phase, completed)

    def test_completed(self):
        msg = drill_report(self.drill("Completed"), backup(), NS)
        assert isinstance(msg, Text)
        en, fr = msg.render("en"), msg.render("fr")
        for text in (en, fr):
            assert "openshift-adp/sncguard-drill-shop-20261122100000" in text
            assert "openshift-adp/sncguard-shop-20261122020000" in text
            assert "2026-11-22T02:05:00Z" in text
            assert "7h59m" in text  # backup completed 02:05, restore completed 10:04
            assert "sncguard-drill-shop" in text
            assert "Completed" in text
            assert NS in text
        assert en != fr
        assert "old when restored" in en and "âgée de" in fr

    def test_failed_without_completion(self):
        msg = drill_report(self.drill("Failed", completed=""), backup(), NS)
        assert "phase Failed" in msg.render("en") and "phase Failed" in msg.render("fr")
        assert "old when restored" not in msg.render("en")

    def test_unknown_phase_and_backup_time(self):
        undated = VeleroBackup.from_obj({"metadata": {"name": "b", "namespace": "openshift-adp"},
                                         "status": {"phase": "Completed"}})
        msg = drill_report(self.drill(""), undated, NS)
        assert "phase unknown" in msg.render("en") and "time unknown" in msg.render("en")
        assert "phase inconnue" in msg.render("fr") and "date inconnue" in msg.render("fr")

    def test_duration_when_start_is_known(self):
        class Started:  # a restore projection that also carries status.startTimestamp
            namespace, name, backup_name, phase = "openshift-adp", "r", "b", "Completed"
            namespace_mapping = {NS: "sncguard-drill-shop"}
            completed, started, labels = "2026-11-22T10:04:00Z", "2026-11-22T10:00:30Z", {}

        msg = drill_report(Started(), backup(), NS)  # type: ignore[arg-type]
        assert "took 3m30s" in msg.render("en") and "durée 3m30s" in msg.render("fr")
        assert "took" not in drill_report(self.drill("Completed"), backup(), NS).render("en")


# --------------------------------------------------------------------------------------------
# Ownership: one Schedule per policy, stale and orphaned ones


def _owned_schedule(name: str, uid: str | None, namespace: str = "velero") -> dict:
    annotations = {"sncguard.io/owner": "shop/backups"}
    if uid is not None:
        annotations["sncguard.io/owner-uid"] = uid
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"obj-{name}",
                         "labels": {"app.kubernetes.io/managed-by": "sncguard"}, "annotations": annotations}}


class TestOwnership:
    def test_two_policies_of_one_namespace_own_two_schedules(self):
        s = spec(storageLocation="default", veleroNamespace="velero")
        one, two = schedule_object("a", "uid-a", NS, s), schedule_object("b", "uid-b", NS, s)
        assert one["metadata"]["name"] != two["metadata"]["name"]

    def test_stale_schedules_are_this_policys_others(self):
        desired = schedule_object("backups", "uid-1", NS, spec(storageLocation="d", veleroNamespace="velero"))
        legacy = _owned_schedule("sncguard-shop", "uid-1")            # the one-per-namespace name
        moved = _owned_schedule(desired["metadata"]["name"], "uid-1", namespace="openshift-adp")
        current = _owned_schedule(desired["metadata"]["name"], "uid-1")
        someone_elses = _owned_schedule("sncguard-shop.other", "uid-2")
        stale = stale_schedules([legacy, moved, current, someone_elses], "uid-1", desired)
        assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in stale] == [
            ("velero", "sncguard-shop"), ("openshift-adp", desired["metadata"]["name"])]

    def test_orphans_are_schedules_of_policies_that_are_gone(self):
        alive, gone, unannotated = (_owned_schedule("a", "uid-alive"), _owned_schedule("b", "uid-gone"),
                                    _owned_schedule("c", None))
        assert orphaned_schedules([alive, gone, unannotated], {"uid-alive"}) == [gone]


class TestDrillTimer:
    def test_the_next_drill_is_due_a_margin_before_the_interval_ends(self):
        s = spec(storageLocation="d", restoreTestInterval="720h")
        due = drill_due_at(s, NOW)
        assert due == NOW + timedelta(hours=720 * 0.9)
        assert not drill_due(s, NOW, False, due - timedelta(seconds=1))
        assert drill_due(s, NOW, False, due + timedelta(seconds=1))

    def test_no_timer_without_an_interval_or_a_test(self):
        assert drill_due_at(spec(storageLocation="d"), NOW) is None
        assert drill_due_at(spec(storageLocation="d", restoreTestInterval="720h"), None) is None
