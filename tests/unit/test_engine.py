"""The engine's pure parts: what counts as already applied, and which policies go first."""

import asyncio

from sncguard.controller.engine import Engine, subset
from sncguard.controller.kube import KubeClient
from sncguard.controller.state import PolicyKey


def test_subset_allows_server_defaults_but_not_differences():
    desired = {"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}
    actual = {"spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                       "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}]}]}}
    assert subset(desired, actual)
    assert not subset({"spec": {"ingress": [{"ports": [{"port": 81}]}]}}, actual)
    assert not subset({"spec": {"ingress": []}}, actual), "list lengths must match"
    assert not subset({"metadata": {"labels": {"a": "b"}}}, {"metadata": {}})


def test_deferred_policies_wait_for_prompt_ones_and_go_a_few_at_a_time():
    batches: list[list[str]] = []

    class Recorder(Engine):
        async def _reconcile_batch(self, keys: list[PolicyKey]) -> None:
            batches.append([k.name for k in keys])
            if keys[0].name == "d0":
                # Prompt work arriving while deferred work runs is taken next, before the rest.
                self.mark(PolicyKey("TenantPolicy", "", "late"))

    async def scenario():
        engine = Recorder(KubeClient(), debounce=0)
        for i in range(6):
            engine.mark(PolicyKey("TenantPolicy", "", f"d{i}"), deferred=True)
        engine.mark(PolicyKey("TenantPolicy", "", "p"))
        # A prompt mark of a deferred policy promotes it.
        engine.mark(PolicyKey("TenantPolicy", "", "d5"))
        engine.indexed.set()
        task = asyncio.create_task(engine.run())
        for _ in range(20):
            await asyncio.sleep(0)
        task.cancel()

    asyncio.run(scenario())
    assert batches == [["d5", "p"], ["d0", "d1", "d2", "d3"], ["late"], ["d4"]]


def test_timers_keep_the_earliest_deadline():
    async def scenario():
        engine = Engine(KubeClient())
        key = PolicyKey("BackupPolicy", "ns", "p")
        engine.schedule(key, 100)
        engine.schedule(key, 200)
        engine.schedule(key, 50)
        return sorted(due for due, _ in engine._deadlines), engine._timers[key]

    deadlines, timer = asyncio.run(scenario())
    assert len(deadlines) == 2 and timer == deadlines[0]


def test_the_operator_watches_exactly_the_kinds_the_offline_check_reads():
    from sncguard.controller.kinds import WATCHED
    from sncguard.view import PROJECTIONS

    assert sorted(w.kind for w in WATCHED) == sorted(PROJECTIONS)


class RecordingClient(KubeClient):
    def __init__(self):
        super().__init__()
        self.calls: list[str] = []
        self.status: dict = {}

    async def patch_status(self, api_version, kind, namespace, name, status_patch):
        self.calls.append("status")
        # A JSON merge patch at the top level is enough for these statuses; the API returns the whole.
        for key, value in status_patch.items():
            if value is None:
                self.status.pop(key, None)
            else:
                self.status[key] = value
        return {"status": dict(self.status)}

    async def post_event(self, api_version, kind, namespace, name, uid, reason, message, type_="Normal"):
        self.calls.append(f"event {reason} {type_}")
        return {}


def _compliant(value: str) -> dict:
    return {"observedGeneration": 1,
            "conditions": [{"type": "Compliant", "status": value, "reason": "R", "message": f"compliant={value}"}]}


def _writes_for(statuses: list[dict], *, compliance_events: bool) -> list[str]:
    from types import SimpleNamespace

    from sncguard.controller.state import PolicyRecord

    client = RecordingClient()
    engine = Engine(client)
    engine.compliance_events = compliance_events
    engine.reconcilers = {"ZoneSpread": SimpleNamespace(kind="ZoneSpread", api_version="sncguard.io/v1alpha1")}
    record = PolicyRecord(PolicyKey("ZoneSpread", "shop", "spread"), "uid-1", 1, {}, {})

    async def scenario():
        for status in statuses:
            await engine.write_status(record, status)

    asyncio.run(scenario())
    return client.calls


def test_a_compliance_flip_is_one_status_write_and_one_event():
    calls = _writes_for([_compliant("True"), _compliant("True"), _compliant("False"), _compliant("True")],
                        compliance_events=True)
    assert calls == ["status", "event Compliant Normal", "status", "event NonCompliant Warning",
                     "status", "event Compliant Normal"]


def test_without_compliance_events_each_change_is_one_write():
    calls = _writes_for([_compliant("True"), _compliant("False"), _compliant("False"), _compliant("True")],
                        compliance_events=False)
    assert calls == ["status", "status", "status"]


def test_a_drill_not_yet_in_the_restore_index_is_not_started_twice():
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from sncguard.api import BackupPolicySpec
    from sncguard.controller.backuppolicy import UNSEEN_DRILL_GRACE, BackupPolicyReconciler, _policy_label
    from sncguard.controller.kinds import BY_KIND
    from sncguard.controller.state import PolicyRecord
    from sncguard.view import VeleroBackup

    applied: list[str] = []

    class ApplyingClient(KubeClient):
        async def apply(self, obj, *, force=False):
            applied.append(obj["metadata"]["name"])
            return obj

    engine = Engine(ApplyingClient())
    restores: dict[str, list] = {}
    engine.attach({BY_KIND["Restore"].owned_index_id: restores}, [])
    reconciler = BackupPolicyReconciler()
    record = PolicyRecord(PolicyKey("BackupPolicy", "shop", "nightly"), "uid-1", 1, {}, {})
    spec = BackupPolicySpec.model_validate({"restoreTestInterval": "720h"})
    latest = VeleroBackup.from_obj({"metadata": {"name": "b-1", "namespace": spec.velero_namespace},
                                    "spec": {"includedNamespaces": ["shop"]}, "status": {"phase": "Completed"}})
    result = SimpleNamespace(latest_backup=latest)
    start = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def drill(at: datetime) -> dict:
        return asyncio.run(reconciler._drills(engine, record, spec, result, {}, at, []))

    first = drill(start)
    assert first["phase"] == "New" and applied == [first["restore"]]
    # The watch has not shown the Restore yet: the drill is still the one in flight.
    assert drill(start + timedelta(seconds=4)) == first and len(applied) == 1
    # Once the index holds it, it is read from there; still running, so no new drill either.
    obj = {"metadata": {"name": first["restore"], "namespace": spec.velero_namespace,
                        "labels": {"sncguard.io/drill": "true", "sncguard.io/backup-policy": _policy_label(record)}},
           "spec": {"backupName": "b-1", "namespaceMapping": {"shop": first["scratchNamespace"]}},
           "status": {"phase": "InProgress"}}
    restores[spec.velero_namespace] = [obj]
    assert drill(start + timedelta(seconds=10))["phase"] == "InProgress" and len(applied) == 1
    # A drill that never shows up is given up after the grace period, and a new one starts.
    restores.clear()
    reconciler._unseen_drills[record.key] = (first, start)
    later = drill(start + UNSEEN_DRILL_GRACE + timedelta(seconds=1))
    assert later["phase"] == "New" and len(applied) == 2
