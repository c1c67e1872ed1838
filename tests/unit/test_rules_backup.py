"""BackupPolicy rules BK-001..BK-007, each rule both ways, evaluate_backup and the status evaluation builds.

Objects are built as Kubernetes dicts and projected through the same `from_obj` functions the
operator and the offline check use.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sncguard import REGION_LABEL, ZONE_LABEL
from sncguard.api.backuppolicy import BackupPolicySpec
from sncguard.evaluation import evaluate_backuppolicy
from sncguard.findings import Finding, Result, Severity
from sncguard.rules.backup import (
    BackupEvaluation,
    check_encryption,
    check_off_zone,
    check_region,
    check_restore_test,
    check_rpo,
    check_schedule,
    check_zone_known,
    covering_schedules,
    encryption_evidence,
    evaluate_backup,
    format_duration,
    last_restore_test,
    latest_backup,
    workload_zones,
)
from sncguard.timefmt import parse_rfc3339_or_none, rfc3339_seconds
from sncguard.view import (
    BackupStorageLocation,
    ClusterView,
    Node,
    Pod,
    VeleroBackup,
    VeleroRestore,
    VeleroSchedule,
)

NS = "shop"
VNS = "openshift-adp"
NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
_UNSET: Any = object()


# --------------------------------------------------------------------------------------------
# Builders


def spec(**fields: Any) -> BackupPolicySpec:
    """BackupPolicySpec from wire (camelCase) fields, as the operator receives it."""
    return BackupPolicySpec.model_validate(fields)


def ts(delta: timedelta) -> str:
    """RFC 3339 for NOW - delta."""
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def bsl(name: str = "default", *, namespace: str = VNS, zone: str | None = "zone-c", region: str | None = None,
        config: dict | None = None, annotations: dict | None = None) -> BackupStorageLocation:
    labels = {}
    if zone is not None:
        labels[ZONE_LABEL] = zone
    if region is not None:
        labels[REGION_LABEL] = region
    meta: dict = {"name": name, "namespace": namespace, "labels": labels}
    if annotations is not None:
        meta["annotations"] = annotations
    return BackupStorageLocation.from_obj({
        "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation", "metadata": meta,
        "spec": {"provider": "aws", "objectStorage": {"bucket": "backups"},
                 "config": config if config is not None else {"kmsKeyId": "arn:kms:key/1"}},
    })


def schedule(name: str = "daily", *, namespace: str = VNS, included: Any = _UNSET, excluded: list | None = None,
             location: str | None = "default", paused: bool = False, phase: str | None = None) -> VeleroSchedule:
    template: dict = {}
    template["includedNamespaces"] = [NS] if included is _UNSET else included
    if excluded is not None:
        template["excludedNamespaces"] = excluded
    if location is not None:
        template["storageLocation"] = location
    obj_spec: dict = {"schedule": "0 2 * * *", "template": template}
    if paused:
        obj_spec["paused"] = True
    obj: dict = {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": name, "namespace": namespace},
                 "spec": obj_spec}
    if phase is not None:
        obj["status"] = {"phase": phase}
    return VeleroSchedule.from_obj(obj)


def backup(name: str = "daily-1", *, age: timedelta | None = timedelta(hours=3), phase: str = "Completed",
           included: Any = _UNSET, location: str | None = "default", namespace: str = VNS,
           started_age: timedelta | None = None, excluded: list | None = None) -> VeleroBackup:
    obj_spec: dict = {"includedNamespaces": [NS] if included is _UNSET else included}
    if excluded is not None:
        obj_spec["excludedNamespaces"] = excluded
    if location is not None:
        obj_spec["storageLocation"] = location
    status: dict = {"phase": phase}
    if age is not None:
        status["completionTimestamp"] = ts(age)
    if started_age is not None:
        status["startTimestamp"] = ts(started_age)
    return VeleroBackup.from_obj({"apiVersion": "velero.io/v1", "kind": "Backup",
                                  "metadata": {"name": name, "namespace": namespace,
                                               "labels": {"velero.io/schedule-name": "daily"}},
                                  "spec": obj_spec, "status": status})


def restore(name: str = "test-1", backup_name: str = "daily-1", *, age: timedelta | None = timedelta(days=2),
            phase: str = "Completed", labels: dict | None = None, mapping: dict | None = None,
            namespace: str = VNS) -> VeleroRestore:
    obj_spec: dict = {"backupName": backup_name}
    if mapping is not None:
        obj_spec["namespaceMapping"] = mapping
    status: dict = {"phase": phase}
    if age is not None:
        status["completionTimestamp"] = ts(age)
    return VeleroRestore.from_obj({"apiVersion": "velero.io/v1", "kind": "Restore",
                                   "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
                                   "spec": obj_spec, "status": status})


def node(name: str, zone: str | None) -> Node:
    labels = {"kubernetes.io/hostname": name}
    if zone is not None:
        labels[ZONE_LABEL] = zone
    return Node.from_obj({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})


def pod(name: str, node_name: str, *, namespace: str = NS, phase: str = "Running") -> Pod:
    return Pod.from_obj({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"}},
                         "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "x"}]},
                         "status": {"phase": phase}})


NODES = [node("node-a1", "zone-a"), node("node-b1", "zone-b"), node("node-c1", "zone-c"), node("node-x", None)]


def view(*, locations: Any = _UNSET, schedules: Any = _UNSET, backups: Any = _UNSET, restores: Any = _UNSET,
         pods: Any = _UNSET, nodes: Any = _UNSET, velero: bool = True) -> ClusterView:
    """A compliant cluster by default: BSL in zone-c with KMS, pods in zones a and b, a covering schedule,
    a backup 3h old, a restore test 2 days old. pods/nodes None = not observed."""
    pods = [pod("web-0", "node-a1"), pod("web-1", "node-b1")] if pods is _UNSET else pods
    nodes = NODES if nodes is _UNSET else nodes
    return ClusterView(
        nodes={n.name: n for n in nodes or ()},
        pods=list(pods or ()),
        storage_locations=[bsl()] if locations is _UNSET else list(locations),
        schedules=[schedule()] if schedules is _UNSET else list(schedules),
        backups=[backup()] if backups is _UNSET else list(backups),
        restores=[restore()] if restores is _UNSET else list(restores),
        pods_observed=pods is not None,
        nodes_observed=nodes is not None,
        velero_installed=velero,
    )


def assert_bsl(f: Finding, rule_id: str, result: Result, field: str | None = None) -> None:
    assert f.rule.id == rule_id
    assert f.result is result, f.message_en
    assert (f.resource.kind, f.resource.namespace, f.resource.name) == ("BackupStorageLocation", VNS, "default")
    assert f.resource.api_version == "velero.io/v1"
    for text in (f.message_en, f.message_fr):
        assert f"BackupStorageLocation {VNS}/default" in text
    assert f.message_en != f.message_fr
    if field is not None:
        assert f.field == field


def assert_ns(f: Finding, rule_id: str, result: Result, field: str | None = None) -> None:
    assert f.rule.id == rule_id
    assert f.result is result, f.message_en
    assert (f.resource.kind, f.resource.namespace, f.resource.name) == ("Namespace", "", NS)
    for text in (f.message_en, f.message_fr):
        assert NS in text
    assert f.message_en != f.message_fr
    if field is not None:
        assert f.field == field


# --------------------------------------------------------------------------------------------
# Helpers


class TestTime:
    def test_parse_z_and_offset(self):
        assert parse_rfc3339_or_none("2026-11-22T10:00:00Z") == NOW
        assert parse_rfc3339_or_none("2026-11-22T11:00:00+01:00") == NOW
        assert parse_rfc3339_or_none("2026-11-22T10:00:00.123Z") == NOW + timedelta(milliseconds=123)

    def test_parse_naive_is_utc(self):
        assert parse_rfc3339_or_none("2026-11-22T10:00:00") == NOW

    @pytest.mark.parametrize("text", ["", None, "yesterday", "2026-13-01T00:00:00Z"])
    def test_parse_bad(self, text):
        assert parse_rfc3339_or_none(text) is None

    def test_format_time(self):
        assert rfc3339_seconds(NOW + timedelta(microseconds=5)) == "2026-11-22T10:00:00Z"
        paris = datetime(2026, 11, 22, 11, 0, tzinfo=UTC).astimezone(
            datetime.fromisoformat("2026-01-01T00:00:00+01:00").tzinfo)
        assert rfc3339_seconds(paris) == "2026-11-22T11:00:00Z"

    @pytest.mark.parametrize("seconds, text", [
        (0, "0s"), (-5, "0s"), (12, "12s"), (60, "1m"), (270, "4m30s"), (3600, "1h"),
        (30 * 3600 + 5 * 60 + 7, "30h5m"), (720 * 3600, "720h"),
    ])
    def test_format_duration(self, seconds, text):
        assert format_duration(seconds) == text


class TestWorkloadZones:
    def test_running_pods_only(self):
        v = view(pods=[pod("a", "node-a1"), pod("b", "node-b1", phase="Pending"), pod("c", "node-c1"),
                       pod("other", "node-b1", namespace="elsewhere"), pod("x", "node-x"), pod("gone", "nope")])
        wz = workload_zones(NS, v)
        assert wz.zones == ["zone-a", "zone-c"]
        assert [p.name for p in wz.unzoned] == ["gone", "x"]


# --------------------------------------------------------------------------------------------
# BK-001


class TestSchedule:
    def test_pass_names_the_schedule(self):
        f = check_schedule(spec(), NS, view())
        assert_ns(f, "BK-001", Result.PASS, "spec.template.includedNamespaces")
        assert f"{VNS}/daily" in f.message_en and f"{VNS}/daily" in f.message_fr
        assert f.severity is Severity.HIGH

    def test_fail_without_schedule(self):
        f = check_schedule(spec(), NS, view(schedules=[]))
        assert_ns(f, "BK-001", Result.FAIL, "spec.template.includedNamespaces")
        assert "covered by no Velero Schedule" in f.message_en
        assert "aucune planification" in f.message_fr

    @pytest.mark.parametrize("included", [["*"], [], ["other", NS]])
    def test_wildcard_empty_and_list_cover(self, included):
        assert check_schedule(spec(), NS, view(schedules=[schedule(included=included)])).result is Result.PASS

    @pytest.mark.parametrize("kwargs, reason_en, reason_fr", [
        ({"included": ["other"]}, "", ""),
        ({"included": ["*"], "excluded": [NS]}, "excludedNamespaces exclude shop", "excluent shop"),
        ({"location": "other"}, "writes to storage location other", "emplacement other"),
        ({"paused": True}, "it is paused", "suspendue"),
        ({"namespace": "velero"}, "", ""),
    ])
    def test_fail_near_misses_are_explained(self, kwargs, reason_en, reason_fr):
        f = check_schedule(spec(), NS, view(schedules=[schedule(**kwargs)]))
        assert f.result is Result.FAIL
        assert reason_en in f.message_en
        assert reason_fr in f.message_fr
        if reason_en:
            assert f"Schedule {VNS}/daily" in f.message_en

    def test_empty_location_is_velero_default(self):
        assert check_schedule(spec(), NS, view(schedules=[schedule(location=None)])).result is Result.PASS
        f = check_schedule(spec(storageLocation="s3-b"), NS, view(schedules=[schedule(location=None)]))
        assert f.result is Result.FAIL
        assert "writes to storage location default, not s3-b" in f.message_en

    def test_policy_location_must_match(self):
        v = view(schedules=[schedule(location="s3-b")])
        assert check_schedule(spec(storageLocation="s3-b"), NS, v).result is Result.PASS

    def test_covering_lists_several_sorted(self):
        v = view(schedules=[schedule("weekly", included=["*"]), schedule("daily"), schedule("p", paused=True)])
        assert [s.name for s in covering_schedules(spec(), NS, v)] == ["daily", "weekly"]
        f = check_schedule(spec(), NS, v)
        assert f"{VNS}/daily (0 2 * * *), {VNS}/weekly" in f.message_en

    @pytest.mark.parametrize("phase", ["New", "Enabled", ""])
    def test_a_schedule_velero_accepted_or_has_yet_to_validate_covers(self, phase):
        assert check_schedule(spec(), NS, view(schedules=[schedule(phase=phase)])).result is Result.PASS

    def test_a_schedule_that_failed_validation_covers_nothing(self):
        v = view(schedules=[schedule(phase="FailedValidation")])
        assert covering_schedules(spec(), NS, v) == []
        f = check_schedule(spec(), NS, v)
        assert_ns(f, "BK-001", Result.FAIL, "status.phase")
        for text in (f.message_en, f.message_fr):
            assert f"{VNS}/daily (status.phase FailedValidation)" in text
        assert "the only Schedule that would back it up" in f.message_en and "never runs it" in f.message_en
        assert "la seule planification qui le sauvegarderait" in f.message_fr
        assert "ne l'exécute jamais" in f.message_fr

    def test_a_schedule_that_failed_validation_is_named_beside_other_near_misses(self):
        v = view(schedules=[schedule("broken", phase="FailedValidation"), schedule("other-loc", location="other"),
                            schedule("idle", paused=True, phase="FailedValidation")])
        f = check_schedule(spec(), NS, v)
        assert f.result is Result.FAIL and f.field == "status.phase"
        assert f"only Schedule that would back it up to storage location default, {VNS}/broken (status.phase " \
               f"FailedValidation)" in f.message_en
        assert f"Schedule {VNS}/other-loc: it writes to storage location other" in f.message_en
        assert f"Schedule {VNS}/idle: it is paused" in f.message_en
        assert f"planification {VNS}/other-loc : elle écrit dans l'emplacement other" in f.message_fr

    def test_a_failed_validation_beside_a_covering_schedule_is_not_listed(self):
        v = view(schedules=[schedule("broken", included=["*"], phase="FailedValidation"), schedule("daily")])
        assert [s.name for s in covering_schedules(spec(), NS, v)] == ["daily"]
        f = check_schedule(spec(), NS, v)
        assert f.result is Result.PASS and "broken" not in f.message_en

    def test_several_schedules_that_failed_validation(self):
        v = view(schedules=[schedule("a", phase="FailedValidation"), schedule("b", phase="FailedValidation")])
        f = check_schedule(spec(), NS, v)
        assert f.result is Result.FAIL
        assert (f"the only Schedules that would back it up to storage location default, {VNS}/a (status.phase "
                f"FailedValidation), {VNS}/b (status.phase FailedValidation), failed") in f.message_en
        assert "les seules planifications" in f.message_fr


# --------------------------------------------------------------------------------------------
# BK-002


class TestOffZone:
    def test_pass_when_different_zone(self):
        f = check_off_zone(spec(), NS, view())
        assert_bsl(f, "BK-002", Result.PASS, f"metadata.labels['{ZONE_LABEL}']")
        assert "zone-c" in f.message_en and "zone-a, zone-b" in f.message_en
        assert f.severity is Severity.CRITICAL

    def test_fail_when_a_pod_shares_the_zone(self):
        v = view(pods=[pod("web-0", "node-a1"), pod("web-1", "node-c1")])
        f = check_off_zone(spec(), NS, v)
        assert_bsl(f, "BK-002", Result.FAIL, f"metadata.labels['{ZONE_LABEL}']")
        for text in (f.message_en, f.message_fr):
            assert "zone-c" in text and "web-1" in text and "node-c1" in text and NS in text

    def test_pods_of_other_namespaces_do_not_count(self):
        v = view(pods=[pod("web-0", "node-a1"), pod("db", "node-c1", namespace="other")])
        assert check_off_zone(spec(), NS, v).result is Result.PASS

    def test_non_running_pods_do_not_count(self):
        v = view(pods=[pod("web-0", "node-a1"), pod("done", "node-c1", phase="Succeeded")])
        assert check_off_zone(spec(), NS, v).result is Result.PASS

    def test_skip_when_zone_unknown(self):
        f = check_off_zone(spec(), NS, view(locations=[bsl(zone=None)]))
        assert_bsl(f, "BK-002", Result.SKIP)
        assert "BK-003" in f.message_en

    def test_skip_when_location_missing(self):
        f = check_off_zone(spec(), NS, view(locations=[bsl("other")]))
        assert f.result is Result.SKIP
        assert "does not exist" in f.message_en and "n'existe pas" in f.message_fr

    def test_skip_without_live_pods(self):
        assert check_off_zone(spec(), NS, view(pods=None)).result is Result.SKIP
        assert check_off_zone(spec(), NS, view(nodes=None)).result is Result.SKIP

    def test_warn_when_some_pod_zone_is_unknown(self):
        v = view(pods=[pod("web-0", "node-a1"), pod("web-1", "node-x")])
        f = check_off_zone(spec(), NS, v)
        assert f.result is Result.WARN
        assert "web-1" in f.message_en and "web-1" in f.message_fr

    def test_fail_beats_unknown(self):
        v = view(pods=[pod("web-0", "node-c1"), pod("web-1", "node-x")])
        assert check_off_zone(spec(), NS, v).result is Result.FAIL

    def test_pass_without_running_pods(self):
        f = check_off_zone(spec(), NS, view(pods=[]))
        assert f.result is Result.PASS
        assert "no running pods" in f.message_en


# --------------------------------------------------------------------------------------------
# BK-003


class TestZoneKnown:
    def test_pass(self):
        f = check_zone_known(spec(), view())
        assert_bsl(f, "BK-003", Result.PASS)
        assert "zone-c" in f.message_en

    def test_fail_missing_location(self):
        f = check_zone_known(spec(), view(locations=[bsl("other"), bsl(namespace="velero")]))
        assert_bsl(f, "BK-003", Result.FAIL, "spec.storageLocation")
        assert f"BackupStorageLocation {VNS}/default does not exist" in f.message_en
        assert f"BackupStorageLocation {VNS}/default n'existe pas" in f.message_fr

    def test_fail_without_zone_label(self):
        f = check_zone_known(spec(), view(locations=[bsl(zone=None)]))
        assert_bsl(f, "BK-003", Result.FAIL, f"metadata.labels['{ZONE_LABEL}']")
        assert ZONE_LABEL in f.message_en and ZONE_LABEL in f.message_fr

    def test_policy_names_the_location(self):
        v = view(locations=[bsl("s3-b", namespace="velero")])
        f = check_zone_known(spec(storageLocation="s3-b", veleroNamespace="velero"), v)
        assert f.result is Result.PASS
        assert f.resource.name == "s3-b" and f.resource.namespace == "velero"


# --------------------------------------------------------------------------------------------
# BK-004


class TestEncryption:
    @pytest.mark.parametrize("key", ["serverSideEncryption", "kmsKeyId", "customerKeyEncryptionSecret",
                                     "customerKeyEncryptionFile"])
    def test_pass_per_config_key(self, key):
        f = check_encryption(spec(), view(locations=[bsl(config={"region": "x", key: "v"})]))
        assert_bsl(f, "BK-004", Result.PASS, f"spec.config.{key}")
        assert key in f.message_en and key in f.message_fr

    def test_pass_on_attestation(self):
        f = check_encryption(spec(), view(locations=[bsl(config={}, annotations={
            "sncguard.io/encryption": "SSE on the appliance, ticket 42"})]))
        assert_bsl(f, "BK-004", Result.PASS, "metadata.annotations['sncguard.io/encryption']")
        assert "ticket 42" in f.message_en

    def test_fail_without_evidence(self):
        f = check_encryption(spec(), view(locations=[bsl(config={"region": "eu"})]))
        assert_bsl(f, "BK-004", Result.FAIL, "spec.config")
        for text in (f.message_en, f.message_fr):
            assert "kmsKeyId" in text and "sncguard.io/encryption" in text

    @pytest.mark.parametrize("config, annotations", [
        ({"serverSideEncryption": ""}, None),
        ({"serverSideEncryption": "false"}, None),
        ({}, {"sncguard.io/encryption": "false"}),
    ])
    def test_negative_values_do_not_count(self, config, annotations):
        location = bsl(config=config, annotations=annotations)
        assert not encryption_evidence(location).encrypts
        f = check_encryption(spec(), view(locations=[location]))
        assert f.result is Result.FAIL
        assert "does not count" in f.message_en

    def test_skip_when_not_required(self):
        f = check_encryption(spec(requireEncryption=False), view(locations=[bsl(config={})]))
        assert_bsl(f, "BK-004", Result.SKIP)

    def test_skip_when_location_missing(self):
        f = check_encryption(spec(), view(locations=[]))
        assert_bsl(f, "BK-004", Result.SKIP)


# --------------------------------------------------------------------------------------------
# BK-005


class TestRpo:
    def test_pass_names_backup_and_age(self):
        f = check_rpo(spec(), NS, view(), NOW)
        assert_ns(f, "BK-005", Result.PASS, "status.completionTimestamp")
        for text in (f.message_en, f.message_fr):
            assert f"{VNS}/daily-1" in text and "3h" in text and "26h" in text

    def test_fail_when_older_than_rpo(self):
        f = check_rpo(spec(), NS, view(backups=[backup(age=timedelta(hours=27, minutes=30))]), NOW)
        assert_ns(f, "BK-005", Result.FAIL, "status.completionTimestamp")
        for text in (f.message_en, f.message_fr):
            assert "27h30m" in text and "26h" in text and f"{VNS}/daily-1" in text

    def test_exactly_rpo_passes(self):
        assert check_rpo(spec(), NS, view(backups=[backup(age=timedelta(hours=26))]), NOW).result is Result.PASS
        late = view(backups=[backup(age=timedelta(hours=26, seconds=1))])
        assert check_rpo(spec(), NS, late, NOW).result is Result.FAIL

    def test_fail_without_backup(self):
        f = check_rpo(spec(), NS, view(backups=[]), NOW)
        assert_ns(f, "BK-005", Result.FAIL)
        assert "no successful backup" in f.message_en and "aucune sauvegarde réussie" in f.message_fr

    def test_failed_backups_do_not_count_and_are_reported(self):
        v = view(backups=[backup("b1", phase="Failed"), backup("b2", phase="PartiallyFailed")])
        f = check_rpo(spec(), NS, v, NOW)
        assert f.result is Result.FAIL
        assert "1 Failed" in f.message_en and "1 PartiallyFailed" in f.message_en

    def test_latest_counts(self):
        v = view(backups=[backup("old", age=timedelta(hours=50)), backup("new", age=timedelta(hours=1)),
                          backup("newer-failed", age=timedelta(minutes=5), phase="Failed")])
        f = check_rpo(spec(), NS, v, NOW)
        assert f.result is Result.PASS
        assert f"{VNS}/new" in f.message_en
        assert latest_backup(spec(), NS, v).name == "new"

    @pytest.mark.parametrize("kwargs", [
        {"included": ["other"]}, {"location": "other"}, {"namespace": "velero"},
        {"included": ["*"], "excluded": [NS]}, {"included": [], "excluded": ["*"]},
    ])
    def test_backups_not_covering_do_not_count(self, kwargs):
        assert check_rpo(spec(), NS, view(backups=[backup(**kwargs)]), NOW).result is Result.FAIL

    @pytest.mark.parametrize("included", [["*"], []])
    def test_wildcard_and_empty_cover(self, included):
        assert check_rpo(spec(), NS, view(backups=[backup(included=included)]), NOW).result is Result.PASS
        other_excluded = backup(included=included, excluded=["other"])
        assert check_rpo(spec(), NS, view(backups=[other_excluded]), NOW).result is Result.PASS

    def test_falls_back_to_start_time(self):
        v = view(backups=[backup(age=None, started_age=timedelta(hours=2))])
        f = check_rpo(spec(), NS, v, NOW)
        assert f.result is Result.PASS
        assert f.field == "status.startTimestamp"

    def test_undated_completed_backup_does_not_count(self):
        f = check_rpo(spec(), NS, view(backups=[backup(age=None)]), NOW)
        assert f.result is Result.FAIL
        assert "without a timestamp" in f.message_en

    def test_naive_now_is_utc(self):
        f = check_rpo(spec(), NS, view(), NOW.replace(tzinfo=None))
        assert f.result is Result.PASS and "3h old" in f.message_en

    def test_rpo_from_policy(self):
        v = view(backups=[backup(age=timedelta(hours=3))])
        assert check_rpo(spec(rpo="2h"), NS, v, NOW).result is Result.FAIL
        assert check_rpo(spec(rpo="3h30m"), NS, v, NOW).result is Result.PASS


# --------------------------------------------------------------------------------------------
# BK-006


class TestRestoreTest:
    def test_skip_without_interval(self):
        f = check_restore_test(spec(), NS, view(restores=[]), NOW)
        assert_ns(f, "BK-006", Result.SKIP)
        assert "restoreTestInterval" in f.message_en

    def test_pass(self):
        f = check_restore_test(spec(restoreTestInterval="720h"), NS, view(), NOW)
        assert_ns(f, "BK-006", Result.PASS, "status.completionTimestamp")
        for text in (f.message_en, f.message_fr):
            assert f"{VNS}/test-1" in text and "daily-1" in text and "48h" in text and "720h" in text
        assert f.severity is Severity.MEDIUM

    def test_fail_too_old(self):
        v = view(restores=[restore(age=timedelta(days=31))])
        f = check_restore_test(spec(restoreTestInterval="720h"), NS, v, NOW)
        assert_ns(f, "BK-006", Result.FAIL, "status.completionTimestamp")
        assert "744h" in f.message_en and "744h" in f.message_fr

    def test_fail_without_restore(self):
        f = check_restore_test(spec(restoreTestInterval="720h"), NS, view(restores=[]), NOW)
        assert_ns(f, "BK-006", Result.FAIL)
        assert "no successful restore test" in f.message_en
        assert "aucun test de restauration réussi" in f.message_fr

    @pytest.mark.parametrize("r", [
        restore(phase="PartiallyFailed"),
        restore(phase="InProgress", age=None),
        restore(backup_name="someone-elses"),
        restore(namespace="velero"),
        restore(age=None),
    ])
    def test_restores_that_do_not_count(self, r):
        v = view(restores=[r])
        assert check_restore_test(spec(restoreTestInterval="720h"), NS, v, NOW).result is Result.FAIL

    def test_restore_of_backup_of_other_namespace_does_not_count(self):
        v = view(backups=[backup(), backup("other-1", included=["other"])],
                 restores=[restore(backup_name="other-1")])
        assert check_restore_test(spec(restoreTestInterval="720h"), NS, v, NOW).result is Result.FAIL

    def test_restore_of_failed_but_covering_backup_counts(self):
        v = view(backups=[backup(phase="PartiallyFailed")])
        assert check_restore_test(spec(restoreTestInterval="720h"), NS, v, NOW).result is Result.PASS

    def test_drill_of_expired_backup_counts(self):
        drill = restore(backup_name="expired", labels={"sncguard.io/drill": "true"},
                        mapping={NS: "sncguard-drill-shop"})
        v = view(restores=[drill])
        assert check_restore_test(spec(restoreTestInterval="720h"), NS, v, NOW).result is Result.PASS
        # Not a drill, or a drill of another namespace: the backup is unknown, so it does not count.
        for r in (restore(backup_name="expired", mapping={NS: "x"}),
                  restore(backup_name="expired", labels={"sncguard.io/drill": "true"}, mapping={"other": "x"})):
            assert check_restore_test(spec(restoreTestInterval="720h"), NS, view(restores=[r]), NOW).result \
                is Result.FAIL

    def test_last_restore_test_is_latest(self):
        v = view(restores=[restore("a", age=timedelta(days=3)), restore("b", age=timedelta(days=1))])
        assert last_restore_test(spec(), NS, v).name == "b"


# --------------------------------------------------------------------------------------------
# BK-007


class TestRegion:
    def test_skip_without_allowed_regions(self):
        assert_bsl(check_region(spec(), view()), "BK-007", Result.SKIP)
        assert_bsl(check_region(spec(allowedRegions=[]), view()), "BK-007", Result.SKIP)

    def test_pass_from_label(self):
        v = view(locations=[bsl(region="eu-fr-paris")])
        f = check_region(spec(allowedRegions=["eu-fr-paris"]), v)
        assert_bsl(f, "BK-007", Result.PASS, f"metadata.labels['{REGION_LABEL}']")
        assert f.severity is Severity.CRITICAL

    def test_pass_from_config_region(self):
        v = view(locations=[bsl(config={"region": "eu-fr-paris", "kmsKeyId": "k"})])
        f = check_region(spec(allowedRegions=["eu-fr-paris"]), v)
        assert_bsl(f, "BK-007", Result.PASS, "spec.config.region")

    def test_label_wins_over_config(self):
        v = view(locations=[bsl(region="us-east-1", config={"region": "eu-fr-paris"})])
        f = check_region(spec(allowedRegions=["eu-fr-paris"]), v)
        assert_bsl(f, "BK-007", Result.FAIL, f"metadata.labels['{REGION_LABEL}']")
        for text in (f.message_en, f.message_fr):
            assert "us-east-1" in text and "eu-fr-paris" in text

    def test_fail_outside(self):
        v = view(locations=[bsl(config={"region": "us-east-1"})])
        f = check_region(spec(allowedRegions=["eu-fr-paris", "eu-de-1"]), v)
        assert_bsl(f, "BK-007", Result.FAIL, "spec.config.region")
        assert "eu-fr-paris, eu-de-1" in f.message_en

    def test_fail_unknown(self):
        f = check_region(spec(allowedRegions=["eu-fr-paris"]), view(locations=[bsl(config={})]))
        assert_bsl(f, "BK-007", Result.FAIL)
        assert "no region" in f.message_en and "pas de région" in f.message_fr

    def test_skip_when_location_missing(self):
        assert check_region(spec(allowedRegions=["eu-fr-paris"]), view(locations=[])).result is Result.SKIP


# --------------------------------------------------------------------------------------------
# Velero not installed, and the whole policy


RULE_IDS = ["BK-001", "BK-002", "BK-003", "BK-004", "BK-005", "BK-006", "BK-007"]


def evaluated(s: BackupPolicySpec, name: str, v: ClusterView) -> tuple[BackupEvaluation, dict[str, Any]]:
    """The rules' evaluation of the policy and the status fields evaluation.py builds from it."""
    outcome = evaluate_backuppolicy(s, NS, name, v, NOW)
    assert isinstance(outcome.detail, BackupEvaluation)
    return outcome.detail, outcome.status_fields


class TestVeleroMissing:
    def test_every_check_skips(self):
        v = view(velero=False, locations=[], schedules=[], backups=[], restores=[])
        s = spec(restoreTestInterval="720h", allowedRegions=["eu-fr-paris"])
        checks = [check_schedule(s, NS, v), check_off_zone(s, NS, v), check_zone_known(s, v, NS),
                  check_encryption(s, v, NS), check_rpo(s, NS, v, NOW), check_restore_test(s, NS, v, NOW),
                  check_region(s, v, NS)]
        assert [f.rule.id for f in checks] == RULE_IDS
        for f in checks:
            assert f.result is Result.SKIP
            assert "Velero (velero.io) is not installed" in f.message_en
            assert "Velero (velero.io) n'est pas installé" in f.message_fr

    def test_evaluate(self):
        e, status = evaluated(spec(), "backups", view(velero=False))
        assert [f.rule.id for f in e.findings] == RULE_IDS
        assert {f.result for f in e.findings} == {Result.SKIP}
        assert e.next_deadline is None and e.latest_backup is None and not e.storage_location_found
        assert status["target"] == "default"
        assert "lastBackup" not in status


class TestEvaluate:
    def test_compliant(self):
        s = spec(restoreTestInterval="720h", allowedRegions=["eu-fr-paris"])
        v = view(locations=[bsl(region="eu-fr-paris")])
        e, status = evaluated(s, "backups", v)
        assert [f.rule.id for f in e.findings] == RULE_IDS
        assert {f.result for f in e.findings} == {Result.PASS}, [f.message_en for f in e.findings]
        assert {f.policy for f in e.findings} == {f"BackupPolicy/{NS}/backups"}
        assert e.storage_location_found
        assert e.latest_backup is not None and e.latest_backup.name == "daily-1"
        assert status == {
            "target": "default",
            "targetZone": "zone-c",
            "targetRegion": "eu-fr-paris",
            "workloadZones": ["zone-a", "zone-b"],
            "lastBackup": "2026-11-22T07:00:00Z",
            "lastRestoreTest": "2026-11-20T10:00:00Z",
            "nextDeadline": "2026-11-23T09:00:00Z",  # backup 3h old + rpo 26h
        }
        assert e.next_deadline == NOW + timedelta(hours=23)

    def test_next_deadline_is_the_earliest_future_one(self):
        # restore 719h old + 720h interval = in 1h, earlier than the backup's 23h.
        v = view(restores=[restore(age=timedelta(hours=719))])
        e, status = evaluated(spec(restoreTestInterval="720h"), "p", v)
        assert e.next_deadline == NOW + timedelta(hours=1)
        assert status["nextDeadline"] == "2026-11-22T11:00:00Z"

    def test_past_deadlines_are_ignored(self):
        v = view(backups=[backup(age=timedelta(hours=30))], restores=[restore(age=timedelta(hours=800))])
        e, status = evaluated(spec(restoreTestInterval="720h"), "p", v)
        assert e.next_deadline is None
        assert "nextDeadline" not in status
        assert status["lastBackup"] == "2026-11-21T04:00:00Z"

    def test_restore_deadline_only_with_interval(self):
        # The backup is past its RPO deadline; the restore test has one only with an interval.
        v = view(backups=[backup(age=timedelta(hours=30))], restores=[restore(age=timedelta(hours=1))])
        e, status = evaluated(spec(), "p", v)
        assert e.next_deadline is None
        assert status["lastRestoreTest"] == "2026-11-22T09:00:00Z"
        e = evaluate_backup(spec(restoreTestInterval="2h"), NS, "p", v, NOW)
        assert e.next_deadline == NOW + timedelta(hours=1)

    def test_missing_location(self):
        e, status = evaluated(spec(allowedRegions=["eu"]), "p", view(locations=[]))
        results = {f.rule.id: f.result for f in e.findings}
        assert results == {"BK-001": Result.PASS, "BK-002": Result.SKIP, "BK-003": Result.FAIL,
                           "BK-004": Result.SKIP, "BK-005": Result.PASS, "BK-006": Result.SKIP,
                           "BK-007": Result.SKIP}
        assert not e.storage_location_found
        assert "targetZone" not in status and "targetRegion" not in status

    def test_a_schedule_that_failed_validation_is_no_coverage(self):
        e = evaluate_backup(spec(), NS, "p", view(schedules=[schedule(phase="FailedValidation")]), NOW)
        results = {f.rule.id: f.result for f in e.findings}
        assert results["BK-001"] is Result.FAIL
        assert "FailedValidation" in e.findings[0].message_en

    def test_non_compliant(self):
        v = view(locations=[bsl(config={"region": "us-east-1"})], schedules=[], backups=[],
                 pods=[pod("web-0", "node-c1")])
        e, status = evaluated(spec(restoreTestInterval="720h", allowedRegions=["eu-fr-paris"]), "p", v)
        results = {f.rule.id: f.result for f in e.findings}
        assert results == {"BK-001": Result.FAIL, "BK-002": Result.FAIL, "BK-003": Result.PASS,
                           "BK-004": Result.FAIL, "BK-005": Result.FAIL, "BK-006": Result.FAIL,
                           "BK-007": Result.FAIL}
        assert e.latest_backup is None
        assert status["targetRegion"] == "us-east-1"
        assert status["workloadZones"] == ["zone-c"]
