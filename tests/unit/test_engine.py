"""The engine's pure parts: what counts as already applied, and which policies go first."""

import asyncio
import contextlib
import copy
import itertools

import pytest

from sncguard.controller.engine import Engine
from sncguard.controller.kube import KubeClient
from sncguard.controller.state import PolicyKey
from sncguard.controller.writer import subset


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


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock moves only when every task waits, straight to the next timer: a
    sleep costs no wall-clock time, and the loop's time says how long the engine let a change wait."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0
        select = self._selector.select

        def select_then_advance(timeout=None):
            if timeout:
                self._now += timeout
            return select(0)

        self._selector.select = select_then_advance

    def time(self) -> float:
        return self._now


def in_virtual_time(coroutine):
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


class Timed(Engine):
    """Records when each batch starts (loop time) and what it holds; an evaluation takes `cost` seconds."""

    def __init__(self, cost: float = 0.0) -> None:
        super().__init__(KubeClient())
        self.cost = cost
        self.batches: list[tuple[float, list[str]]] = []

    async def _reconcile_batch(self, keys: list[PolicyKey]) -> None:
        self.batches.append((asyncio.get_running_loop().time(), [k.name for k in keys]))
        await asyncio.sleep(self.cost)

    def started(self) -> asyncio.Task:
        self.indexed.set()
        return asyncio.create_task(self.run())


async def stopped(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def test_a_change_on_an_idle_engine_is_evaluated_at_once():
    """Leading edge: the first event of a change is not held for the debounce."""
    engine = Timed(cost=0.05)
    key = PolicyKey("ZoneSpread", "shop", "spread")

    async def scenario():
        task = engine.started()
        marked = []
        for _ in range(2):
            await asyncio.sleep(5)
            marked.append(asyncio.get_running_loop().time())
            engine.mark(key)
        await asyncio.sleep(5)
        await stopped(task)
        return marked

    marked = in_virtual_time(scenario())
    assert [names for _, names in engine.batches] == [["spread"], ["spread"]]
    for (started, _), at in zip(engine.batches, marked, strict=True):
        assert started - at < engine.queue.debounce / 10, (started, at)


def test_a_burst_on_one_policy_costs_it_two_evaluations_and_no_other_policy_waits():
    """Trailing edge: what arrives while (or just after) a policy is evaluated is coalesced into one
    more evaluation when its window closes, which sees the last event; another policy goes at once."""
    engine = Timed(cost=0.03)
    busy, other = PolicyKey("ZoneSpread", "shop", "busy"), PolicyKey("ZoneSpread", "bank", "other")

    async def scenario():
        loop = asyncio.get_running_loop()
        task = engine.started()
        await asyncio.sleep(5)
        first = loop.time()
        for i in range(10):  # a rollout: ten pod events within the debounce
            engine.mark(busy)
            if i == 5:
                other_at = loop.time()
                engine.mark(other)
            await asyncio.sleep(engine.queue.debounce / 12)
        last = loop.time()
        await asyncio.sleep(5)
        await stopped(task)
        return first, other_at, last

    first, other_at, last = in_virtual_time(scenario())
    of_busy = [at for at, names in engine.batches if "busy" in names]
    assert len(of_busy) == 2, engine.batches
    assert of_busy[0] - first < engine.queue.debounce / 10, "the first event is seen at once"
    assert of_busy[1] >= last - engine.queue.debounce / 12, "the last one is seen too"
    assert of_busy[1] - of_busy[0] >= engine.queue.debounce
    of_other = [at for at, names in engine.batches if "other" in names]
    assert len(of_other) == 1 and of_other[0] - other_at <= engine.cost + 1e-9, "at most behind one running batch"


def test_a_long_burst_evaluates_a_policy_at_most_once_per_window():
    engine = Timed(cost=0.01)
    key = PolicyKey("ZoneSpread", "shop", "spread")

    async def scenario():
        task = engine.started()
        await asyncio.sleep(1)
        for _ in range(200):  # 2 s of events, one every 10 ms
            engine.mark(key)
            await asyncio.sleep(0.01)
        await asyncio.sleep(5)
        await stopped(task)

    in_virtual_time(scenario())
    starts = [at for at, _ in engine.batches]
    assert all(b - a >= engine.queue.debounce for a, b in itertools.pairwise(starts)), starts
    assert len(starts) <= 2 / engine.queue.debounce + 2


def test_deferred_policies_still_go_after_prompt_ones_without_waiting_for_the_debounce():
    class Promoting(Timed):
        async def _reconcile_batch(self, keys: list[PolicyKey]) -> None:
            await super()._reconcile_batch(keys)
            if keys[0].name == "d0":
                self.mark(PolicyKey("TenantPolicy", "", "late"))

    engine = Promoting(cost=0.05)

    async def scenario():
        task = engine.started()
        await asyncio.sleep(5)
        marked = asyncio.get_running_loop().time()
        for i in range(6):
            engine.mark(PolicyKey("TenantPolicy", "", f"d{i}"), deferred=True)
        engine.mark(PolicyKey("TenantPolicy", "", "p"))
        await asyncio.sleep(5)
        await stopped(task)
        return marked

    marked = in_virtual_time(scenario())
    assert [names for _, names in engine.batches] == [["p"], ["d0", "d1", "d2", "d3"], ["late"], ["d4", "d5"]]
    assert engine.batches[0][0] - marked < engine.queue.debounce / 10
    assert engine.batches[-1][0] - marked < 4 * engine.cost + 1e-9, "one batch after another, no pause"


def test_timers_keep_the_earliest_deadline():
    async def scenario():
        engine = Engine(KubeClient())
        key = PolicyKey("BackupPolicy", "ns", "p")
        engine.queue.schedule(key, 100)
        engine.queue.schedule(key, 200)
        engine.queue.schedule(key, 50)
        return sorted(due for due, _, _ in engine.queue.deadlines), engine.queue.timers[key]

    deadlines, timer = asyncio.run(scenario())
    assert len(deadlines) == 2 and timer == deadlines[0]


def test_the_operator_watches_exactly_the_kinds_the_offline_check_reads():
    from sncguard.controller.kinds import WATCHED
    from sncguard.view import PROJECTIONS

    assert sorted(w.kind for w in WATCHED) == sorted(PROJECTIONS)


def json_merge_patch(target, patch):
    """RFC 7386: what the API server stores when it applies `patch` (application/merge-patch+json) to `target`."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def test_json_merge_patch_follows_rfc_7386():
    # The examples of RFC 7386, appendix A.
    cases = [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ]
    for target, patch, result in cases:
        assert json_merge_patch(target, patch) == result, (target, patch)
    target = {"a": {"b": 1}}
    json_merge_patch(target, {"a": {"b": None}})
    assert target == {"a": {"b": 1}}, "the target is left as it was"


class RecordingClient(KubeClient):
    def __init__(self):
        super().__init__()
        self.calls: list[str] = []
        self.status: dict = {}
        self.patches: list[dict] = []

    async def patch_status(self, api_version, kind, namespace, name, status_patch):
        self.calls.append("status")
        self.patches.append(status_patch)
        # What the API server does with the merge patch of the status; it returns the whole object.
        self.status = json_merge_patch({"status": self.status}, {"status": status_patch}).get("status") or {}
        return {"status": copy.deepcopy(self.status)}

    async def post_event(self, api_version, kind, namespace, name, uid, reason, message, type_="Normal"):
        self.calls.append(f"event {reason} {type_}")
        return {}


def _compliant(value: str) -> dict:
    return {"observedGeneration": 1,
            "conditions": [{"type": "Compliant", "status": value, "reason": "R", "message": f"compliant={value}"}]}


def _writes_for(statuses: list[dict], *, compliance_events: bool) -> list[str]:
    from sncguard.controller.state import PolicyRecord

    client = RecordingClient()
    engine = Engine(client, compliance_events=compliance_events)
    record = PolicyRecord(PolicyKey("ZoneSpread", "shop", "spread"), "uid-1", 1, {}, {})

    async def scenario():
        for status in statuses:
            await engine.writer.write_status(record, status)

    asyncio.run(scenario())
    return client.calls


def test_a_compliance_flip_is_one_status_write_and_one_event():
    calls = _writes_for([_compliant("True"), _compliant("True"), _compliant("False"), _compliant("True")],
                        compliance_events=True)
    # A first verdict that is Compliant is no news (no Event); each flip after it is one.
    assert calls == ["status", "status", "event NonCompliant Warning", "status", "event Compliant Normal"]


def test_a_first_verdict_that_is_noncompliant_is_an_event():
    calls = _writes_for([_compliant("False"), _compliant("False")], compliance_events=True)
    assert calls == ["status", "event NonCompliant Warning"]


def test_without_compliance_events_each_change_is_one_write():
    calls = _writes_for([_compliant("True"), _compliant("False"), _compliant("False"), _compliant("True")],
                        compliance_events=False)
    assert calls == ["status", "status", "status"]


def _drill_setup():
    """An engine whose client records what it applies, a BackupPolicy reconciler, the Restore index it
    reads, and `drill(uid, at)`: one call of its drill logic for a policy with a 720h interval."""
    from types import SimpleNamespace

    from sncguard.api import BackupPolicySpec
    from sncguard.controller.backuppolicy import BackupPolicyReconciler
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
    spec = BackupPolicySpec.model_validate({"restoreTestInterval": "720h"})
    latest = VeleroBackup.from_obj({"metadata": {"name": "b-1", "namespace": spec.velero_namespace},
                                    "spec": {"includedNamespaces": ["shop"]}, "status": {"phase": "Completed"}})
    result = SimpleNamespace(latest_backup=latest)

    def drill(uid: str, at) -> dict:
        record = PolicyRecord(PolicyKey("BackupPolicy", "shop", "nightly"), uid, 1, {}, {})
        return asyncio.run(reconciler._drills(engine, record, spec, result, {}, at, []))

    return engine, reconciler, restores, applied, spec, drill


def test_a_drill_not_yet_in_the_restore_index_is_not_started_twice():
    from datetime import UTC, datetime, timedelta

    from sncguard.controller.backuppolicy import UNSEEN_DRILL_GRACE, _policy_label
    from sncguard.controller.state import PolicyRecord

    _, reconciler, restores, applied, spec, drill_of = _drill_setup()
    record = PolicyRecord(PolicyKey("BackupPolicy", "shop", "nightly"), "uid-1", 1, {}, {})
    start = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def drill(at: datetime) -> dict:
        return drill_of("uid-1", at)

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
    reconciler._unseen_drills[record.key] = (record.uid, first, start)
    later = drill(start + UNSEEN_DRILL_GRACE + timedelta(seconds=1))
    assert later["phase"] == "New" and len(applied) == 2


# ---- what the API server ends up storing, and what the engine remembers ------------------------


def _zonespread_engine(client: KubeClient, **options) -> tuple[Engine, dict]:
    """An engine that evaluates ZoneSpreads of namespace shop with `Fake`, from an index the test fills."""
    from sncguard.controller.engine import policy_index_name

    index: dict[str, list] = {}
    engine = Engine(client, **options)
    engine.attach({policy_index_name("ZoneSpread"): index}, [Fake()])
    return engine, index


class Fake:
    """A reconciler that writes the status it is given and sets a timer, as real ones do after evaluating."""

    kind = "ZoneSpread"
    api_version = "sncguard.io/v1alpha1"

    def __init__(self) -> None:
        self.status: dict = _compliant("True")
        self.timer: float | None = None

    async def reconcile(self, engine, record):
        spec = await engine.parse_spec(record)
        if spec is None:
            return
        if self.timer is not None:
            engine.queue.schedule(record.key, self.timer)
        await engine.writer.write_status(record, copy.deepcopy(self.status), [])

    async def deleted(self, engine, record):
        pass


def _body(uid: str, status: dict | None = None, spec: dict | None = None, generation: int = 1) -> dict:
    return {"metadata": {"name": "spread", "namespace": "shop", "uid": uid, "generation": generation},
            "spec": spec or {}, "status": status or {}}


def test_a_nested_object_the_new_status_no_longer_has_keys_of_leaves_nothing_of_them_on_the_server():
    from sncguard.controller.state import PolicyRecord

    client = RecordingClient()
    engine = Engine(client, compliance_events=False)
    record = PolicyRecord(PolicyKey("BackupPolicy", "shop", "nightly"), "uid-1", 1, {}, {})
    first = {**_compliant("True"), "lastDrill": {"restore": "a", "started": "2026-11-22T03:00:00Z",
                                                 "completed": "2026-11-22T03:05:00Z", "result": "Completed"}}
    second = {**_compliant("True"), "lastDrill": {"restore": "b", "started": "2026-11-23T03:00:00Z"}}

    async def scenario():
        await engine.writer.write_status(record, first)
        await engine.writer.write_status(record, second)

    asyncio.run(scenario())
    assert client.status == second
    assert "completed" not in client.status["lastDrill"]
    # Only what changed is sent: the conditions, unchanged, are not in the second patch.
    assert client.patches[1] == {"lastDrill": {"restore": "b", "started": "2026-11-23T03:00:00Z",
                                               "completed": None, "result": None}}


def _series(metrics) -> list[str]:
    from prometheus_client import generate_latest

    text = generate_latest(metrics.registry).decode()
    return sorted(line for line in text.splitlines()
                  if line.startswith(("sncguard_policy_compliant{", "sncguard_findings{", "sncguard_rule_results{")))


def test_an_invalid_spec_keeps_the_last_verdict_in_the_metrics_until_a_valid_one_is_evaluated():
    from texts import Said

    from sncguard.controller.metrics import Metrics
    from sncguard.controller.state import PolicyRecord
    from sncguard.findings import ResourceRef, Result, finding
    from sncguard.rules.catalogue import rule
    from sncguard.status import build_status

    client = RecordingClient()
    engine = Engine(client, compliance_events=False, metrics=Metrics(client))
    engine.reconcilers = {"BackupPolicy": Fake()}
    key = PolicyKey("BackupPolicy", "shop", "nightly")
    failing = [finding(rule("BK-002"), Result.FAIL, ResourceRef("BackupStorageLocation", "velero", "default"),
                       Said("en", "fr"))]
    now = engine.clock()

    async def scenario():
        good = PolicyRecord(key, "uid-1", 1, {}, {})
        await engine.writer.write_status(good, build_status(generation=1, findings=failing, extra={},
                                                            previous=None, now=now), failing)
        verdict = _series(engine.metrics)
        bad = PolicyRecord(key, "uid-1", 2, {"rpo": "soon"}, client.status)
        assert await engine.parse_spec(bad) is None
        ready = next(c for c in client.status["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == "InvalidSpec"
        kept = _series(engine.metrics)
        fixed = PolicyRecord(key, "uid-1", 3, {}, client.status)
        assert await engine.parse_spec(fixed) is not None
        await engine.writer.write_status(fixed, build_status(generation=3, findings=[], extra={},
                                                             previous=client.status, now=now), [])
        after = _series(engine.metrics)
        engine.forget(key)
        return verdict, kept, after, _series(engine.metrics)

    verdict, kept, after, deleted = asyncio.run(scenario())
    labels = 'kind="BackupPolicy",name="nightly",namespace="shop"'
    assert f"sncguard_policy_compliant{{{labels}}} 0.0" in verdict
    assert f'sncguard_findings{{{labels},severity="critical"}} 1.0' in verdict
    assert f'sncguard_rule_results{{{labels},result="fail",rule="BK-002"}} 1.0' in verdict
    assert kept == verdict, "a bad edit must not resolve the alert"
    assert f"sncguard_policy_compliant{{{labels}}} 1.0" in after
    assert not any("BK-002" in line for line in after)
    assert deleted == []


@pytest.mark.parametrize("seen_first", [True, False], ids=["event-first", "index-first"])
def test_a_policy_recreated_under_the_same_name_gets_a_fresh_status(seen_first):
    """Deleted and recreated while the watch was down: the DELETED event never came, the record has a new uid."""
    from sncguard.controller.metrics import Metrics
    from sncguard.controller.state import PolicyRecord

    client = RecordingClient()
    engine, index = _zonespread_engine(client, compliance_events=False, metrics=Metrics(client))
    fake = engine.reconcilers["ZoneSpread"]
    key = PolicyKey("ZoneSpread", "shop", "spread")

    async def scenario():
        fake.timer = 3600
        index["shop"] = [PolicyRecord.from_body("ZoneSpread", _body("uid-1"))]
        engine.policy_event("ZoneSpread", "ADDED", _body("uid-1"))
        await engine.reconcile(key)
        assert client.calls == ["status"] and key in engine.queue.timers and _series(engine.metrics)
        # The new object: same name, new uid, no status yet (the server starts it empty).
        client.status = {}
        fake.timer = None
        index["shop"] = [PolicyRecord.from_body("ZoneSpread", _body("uid-2"))]
        if seen_first:
            engine.policy_event("ZoneSpread", None, _body("uid-2"))
            assert key not in engine.queue.timers, "the previous object's timer is not this one's"
            assert _series(engine.metrics) == [], "nor are its metrics"
        await engine.reconcile(key)

    asyncio.run(scenario())
    assert client.calls == ["status", "status"]
    assert client.status == fake.status
    assert key not in engine.queue.timers


def test_a_recreated_policy_with_an_invalid_spec_keeps_no_verdict_of_the_previous_one():
    from sncguard.controller.metrics import Metrics
    from sncguard.controller.state import PolicyRecord

    client = RecordingClient()
    engine, index = _zonespread_engine(client, compliance_events=False, metrics=Metrics(client))
    key = PolicyKey("ZoneSpread", "shop", "spread")

    async def scenario():
        index["shop"] = [PolicyRecord.from_body("ZoneSpread", _body("uid-1"))]
        await engine.reconcile(key)
        assert _series(engine.metrics)
        client.status = {}
        index["shop"] = [PolicyRecord.from_body("ZoneSpread", _body("uid-2", spec={"minZones": "many"}))]
        await engine.reconcile(key)

    asyncio.run(scenario())
    assert _series(engine.metrics) == []
    assert "summary" not in client.status
    assert next(c for c in client.status["conditions"] if c["type"] == "Ready")["reason"] == "InvalidSpec"


def test_a_drill_of_a_previous_policy_of_the_same_name_is_not_taken_for_this_ones():
    from datetime import UTC, datetime, timedelta

    _, _, _, applied, _, drill = _drill_setup()
    start = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    first = drill("uid-1", start)
    assert drill("uid-1", start + timedelta(seconds=4)) == first
    second = drill("uid-2", start + timedelta(seconds=5))
    assert second["restore"] != first["restore"] and len(applied) == 2


def test_a_pod_anywhere_marks_the_tenants_whose_ipblocks_hold_its_address():
    """Another tenant's pod admitted by its address fails NET-004: its arrival must reach every
    TenantPolicy with an ipBlock that holds it, not only the tenant of its own namespace (deferred:
    indirect). More in test_ipblock_scope.py."""
    from sncguard.controller.kinds import BY_KIND
    from sncguard.netpol import ForeignPodReach, IPBlock
    from sncguard.view import Pod

    engine = Engine(KubeClient())
    reader, other = PolicyKey("TenantPolicy", "", "acme"), PolicyKey("TenantPolicy", "", "initech")
    engine.remember_foreign_pods(reader, ForeignPodReach((IPBlock.parse({"cidr": "10.0.0.0/8"}),)), ())
    engine.remember_foreign_pods(other, ForeignPodReach((IPBlock.parse({"cidr": "172.16.0.0/12"}),)), ())
    engine.tenant_policies_of_namespace.cover(PolicyKey("TenantPolicy", "", "globex"), ["globex-0"])
    intruder = Pod.from_obj({"metadata": {"namespace": "globex-0", "name": "intruder"},
                             "spec": {"containers": [{"name": "c"}]}, "status": {"podIP": "10.1.2.3"}})
    BY_KIND["Pod"].affects(engine, "globex-0", "intruder", None, intruder)
    assert engine.queue.dirty == {reader, PolicyKey("TenantPolicy", "", "globex")}
    assert engine.queue.deferred == {reader}
    assert other not in engine.queue.dirty


def test_an_owned_object_holds_as_desired_only_when_its_content_is_exactly_the_plan():
    from sncguard.controller.writer import holds_as_desired

    desired = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "sncguard-default-deny", "namespace": "shop",
                            "labels": {"app.kubernetes.io/managed-by": "sncguard"}},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    stored = {"metadata": {**desired["metadata"], "uid": "u", "labels": {**desired["metadata"]["labels"],
                                                                          "team": "added-by-someone"}},
              "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    assert holds_as_desired(desired, stored), "labels others add are theirs"
    widened = {**stored, "spec": {**stored["spec"], "ingress": [{}]}}
    assert not holds_as_desired(desired, widened), "`ingress: [{}]` admits everything: it must be put back"
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "g", "namespace": "shop"},
               "roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "User", "name": "ops"}]}
    served = {"metadata": {"name": "g", "namespace": "shop", "uid": "u"},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
              "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "ops"}]}
    assert holds_as_desired(binding, served), "the API server's defaults are no drift"
    assert not holds_as_desired(binding, {**served, "subjects": [*served["subjects"],
                                                                  {"kind": "Group", "name": "system:authenticated"}]})


def test_a_refused_enforce_write_is_retried_with_backoff_until_it_goes_through():
    """A ResourceQuota or a webhook refuses the write: nothing else may ever re-evaluate the policy, so
    the engine does, after 5 s, 10 s, 20 s... and stops once the write goes through."""
    from sncguard.controller.engine import policy_index_name
    from sncguard.controller.kube import ApiError
    from sncguard.controller.state import PolicyRecord

    class Refusing(RecordingClient):
        refusals = 3

        async def apply(self, obj, *, force=False):
            self.calls.append("apply")
            if self.refusals:
                self.refusals -= 1
                raise ApiError(403, "Forbidden", "exceeded quota: networkpolicies")
            return obj

    class Enforcing:
        kind = "TenantPolicy"
        api_version = "sncguard.io/v1alpha1"

        async def reconcile(self, engine, record):
            desired = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                       "metadata": {"name": "sncguard-default-deny", "namespace": "shop"},
                       "spec": {"podSelector": {}}}
            await engine.writer.apply_owned(desired, None, owned=True)

        async def deleted(self, engine, record):
            pass

    client = Refusing()
    engine = Engine(client)
    key = PolicyKey("TenantPolicy", "", "acme")
    engine.attach({policy_index_name("TenantPolicy"): {"": [PolicyRecord(key, "u", 1, {}, {})]}}, [Enforcing()])
    delays = []
    engine.queue.schedule = lambda k, delay: delays.append((k, delay))  # type: ignore[method-assign]

    async def scenario():
        for _ in range(4):
            await engine.reconcile(key)

    asyncio.run(scenario())
    assert client.calls == ["apply"] * 4
    assert delays == [(key, 5.0), (key, 10.0), (key, 20.0)], "backoff while refused, nothing once it went through"
    assert key not in engine.queue.retries


def test_the_surplus_of_an_owned_object_is_what_another_manager_added():
    from sncguard.controller.writer import surplus

    desired = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "d"},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    widened = {"metadata": {"name": "d", "uid": "u"},
               "spec": {"podSelector": {"matchLabels": {"x": "y"}}, "policyTypes": ["Ingress"], "ingress": [{}]}}
    # ingress goes; podSelector's extra key goes; policyTypes (a list) is the apply's to replace.
    assert surplus(desired, widened) == {"spec": {"ingress": None, "podSelector": {"matchLabels": None}}}
    assert surplus(desired, {"metadata": {}, "spec": desired["spec"]}) == {}


# ---- failed evaluations --------------------------------------------------------------------------


class _Scripted:
    """A reconciler whose evaluations raise the scripted exceptions in turn (None: it goes through)."""

    kind = "TenantPolicy"
    api_version = "sncguard.io/v1alpha1"

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)

    async def reconcile(self, engine, record):
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome

    async def deleted(self, engine, record):
        pass


def _evaluate_in_turn(outcomes):
    from sncguard.controller.engine import policy_index_name
    from sncguard.controller.state import PolicyRecord

    engine = Engine(KubeClient())
    key = PolicyKey("TenantPolicy", "", "acme")
    engine.attach({policy_index_name("TenantPolicy"): {"": [PolicyRecord(key, "u", 1, {}, {})]}},
                  [_Scripted(outcomes)])
    delays: list[float | None] = []

    def schedule(k, delay):
        delays[-1] = delay

    engine.queue.schedule = schedule  # type: ignore[method-assign]

    async def scenario():
        for _ in outcomes:
            delays.append(None)
            await engine.reconcile(key)

    asyncio.run(scenario())
    return engine, key, delays


def test_failed_evaluations_back_off_exponentially_with_one_warning_line_each(caplog):
    """During an outage every evaluation fails: 5 s, 10 s, 20 s... up to 300 s, one WARNING line each
    with the error's message and no traceback; a successful evaluation starts the sequence afresh."""
    import logging

    import aiohttp

    from sncguard.controller.kube import ApiError

    refused = ApiError(0, "ConnectionError", "Cannot connect to host 10.96.0.1:443 [Connection refused]")
    outcomes = [refused, ApiError(503, "ServiceUnavailable", "etcd is down"), OSError("network unreachable"),
                TimeoutError(), aiohttp.ServerDisconnectedError(), refused, refused, refused, None, refused]
    with caplog.at_level(logging.INFO, logger="sncguard.engine"):
        engine, key, delays = _evaluate_in_turn(outcomes)
    assert delays == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, None, 5.0]
    lines = [r for r in caplog.records if r.name == "sncguard.engine"]
    assert len(lines) == 9 and all(r.levelno == logging.WARNING and r.exc_info is None for r in lines), caplog.text
    assert "Connection refused" in lines[0].getMessage() and "retrying in 5 s" in lines[0].getMessage()
    assert "etcd is down" in lines[1].getMessage() and "TimeoutError" in lines[3].getMessage()
    assert engine.queue.retries[key] == 1


def test_an_unexpected_failure_has_its_traceback_once_in_a_row(caplog):
    """A bug: the traceback the first time, then one line per failure while it keeps failing; after an
    outage's failure or a success, the next bug's traceback again."""
    import logging

    from sncguard.controller.kube import ApiError

    bug = KeyError("spec")
    outcomes = [bug, bug, bug, ApiError(0, "ConnectionError", "refused"), bug, bug, None, bug]
    with caplog.at_level(logging.INFO, logger="sncguard.engine"):
        _, _, delays = _evaluate_in_turn(outcomes)
    assert delays == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, None, 5.0]
    lines = [r for r in caplog.records if r.name == "sncguard.engine"]
    assert len(lines) == 7, caplog.text
    assert [r.exc_info is not None for r in lines] == [True, False, False, False, True, False, True]
    assert [r.levelname for r in lines] == ["ERROR", "WARNING", "WARNING", "WARNING", "ERROR", "WARNING", "ERROR"]
    assert "KeyError: 'spec'" in lines[1].getMessage()


def test_a_timer_asked_again_within_10_ms_of_the_pending_one_stays_one_timer():
    """Due times computed from the wall clock (a waiver's lapse, a ZoneSpread's next month) jitter by
    microseconds between evaluations: each must not leave one more entry in the heap until it is due."""
    engine = Engine(KubeClient())
    key = PolicyKey("ZoneSpread", "shop", "spread")
    engine.queue.schedule(key, 3600.0)
    for _ in range(100):
        engine.queue.schedule(key, 3600.0 - 0.005)
    assert len(engine.queue.deadlines) == 1
    engine.queue.schedule(key, 60.0)  # really earlier: the timer moves
    deadlines = engine.queue.deadlines
    assert len(deadlines) == 2 and engine.queue.timers[key] == min(due for due, _, _ in deadlines)


def test_timers_due_at_the_same_instant_are_all_kept(monkeypatch):
    """Thousands of policies share a month's end or a deadline: two timers due at the same instant
    must not compare their keys (they do not compare), nor drop one another."""
    import sncguard.controller.workqueue as workqueue_module

    monkeypatch.setattr(workqueue_module.time, "monotonic", lambda: 1000.0)
    engine = Engine(KubeClient())
    keys = [PolicyKey("ZoneSpread", ns, "sla") for ns in ("a", "b", "c")]
    for key in keys:
        engine.queue.schedule(key, 60.0)
    assert sorted(key.label() for _, _, key in engine.queue.deadlines) == sorted(key.label() for key in keys)
    assert {engine.queue.timers[key] for key in keys} == {1060.0}
