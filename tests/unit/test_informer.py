"""The informer: paged list, watch, resourceVersion bookkeeping, 410 recovery, change reporting."""

import asyncio
import logging

import pytest

from sncguard import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from sncguard.controller.informer import BACKOFF_S, CONNECTION_BACKOFF_S, MIN_WATCH_INTERVAL_S, Expired, Informer
from sncguard.controller.kinds import BY_KIND, CLUSTER
from sncguard.controller.kube import ApiError


def pod(name, namespace="shop", node="n1", rv="1", **labels):
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": rv, "labels": labels,
                         "managedFields": [{"manager": "kubelet"}]},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running"}}


def netpol(name, namespace="shop", rv="1", managed=False, port=80):
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE} if managed else {}
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": rv, "labels": labels},
            "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": port}]}]}}


class FakeTransport:
    def __init__(self, pages, watches=()):
        self.pages = list(pages)  # each: dict response, or an ApiError to raise
        self.watches = list(watches)  # each: list of events, or an ApiError to raise
        self.calls: list[tuple[str, dict]] = []

    async def wait_configured(self):
        return None

    async def request(self, method, path, *, params=None):
        self.calls.append(("list", dict(params or {})))
        page = self.pages.pop(0)
        if isinstance(page, Exception):
            raise page
        return page

    async def watch(self, path, params):
        self.calls.append(("watch", dict(params)))
        events = self.watches.pop(0)
        if isinstance(events, BaseException):
            raise events
        for event in events:
            yield event


def page(items, rv="10", cont=""):
    return {"items": items, "metadata": {"resourceVersion": rv, **({"continue": cont} if cont else {})}}


def make(kind, transport, clock=None):
    changes = []
    sleeps = []

    async def sleep(seconds):
        sleeps.append(seconds)

    informer = Informer(BY_KIND[kind], transport, lambda ns, name, before, p: changes.append((ns, name, p)),
                        page_size=2, sleep=sleep, clock=clock or (lambda: 0.0))
    return informer, changes, sleeps


def list_then_watch(informer):
    async def both():
        await informer.list()
        await informer.watch()

    asyncio.run(both())


def test_the_list_is_paged_and_fills_the_store_silently():
    transport = FakeTransport([page([pod("a"), pod("b")], cont="t1"), page([pod("c", namespace="web")], rv="42")])
    informer, changes, _ = make("Pod", transport)
    asyncio.run(informer.list())
    assert transport.calls == [("list", {"limit": "2"}), ("list", {"limit": "2", "continue": "t1"})]
    assert sorted(p.name for p in informer.store["shop"]) == ["a", "b"]
    assert [p.name for p in informer.store["web"]] == ["c"]
    assert informer.resource_version == "42" and informer.synced.is_set()
    assert changes == [], "the initial list is not a change: the engine evaluates everything once synced"
    assert informer.path == "/api/v1/pods"
    assert make("Deployment", transport)[0].path == "/apis/apps/v1/deployments"


def test_watch_events_report_only_changes_of_what_the_rules_read():
    transport = FakeTransport([page([pod("a")], rv="10")], [[
        {"type": "MODIFIED", "object": pod("a", rv="11", extra="label")},  # labels are projected
        {"type": "MODIFIED", "object": {**pod("a", rv="12", extra="label"), "status": {"phase": "Failed"}}},
        {"type": "ADDED", "object": pod("b", node="n2", rv="13")},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "20"}}},
        {"type": "DELETED", "object": pod("a", rv="21")},
    ]])
    informer, changes, _ = make("Pod", transport)

    list_then_watch(informer)
    assert transport.calls[1] == ("watch", {"watch": "true", "allowWatchBookmarks": "true", "resourceVersion": "10",
                                            "timeoutSeconds": "300"})
    # A label and then the phase (both projected) changed, b came, a went.
    assert [(ns, name, p is None) for ns, name, p in changes] == [
        ("shop", "a", False), ("shop", "a", False), ("shop", "b", False), ("shop", "a", True)]
    assert changes[1][2].phase == "Failed"
    assert informer.resource_version == "21"
    assert [p.name for p in informer.store["shop"]] == ["b"]


def test_a_change_nobody_reads_is_not_reported():
    same = pod("a", rv="11")
    same["metadata"]["managedFields"] = [{"manager": "someone-else"}]
    transport = FakeTransport([page([pod("a")])], [[{"type": "MODIFIED", "object": same}]])
    informer, changes, _ = make("Pod", transport)

    list_then_watch(informer)
    assert changes == []
    assert informer.resource_version == "11", "the resourceVersion moves on even when nothing we read changed"


def test_owned_copies_follow_the_managed_by_label():
    transport = FakeTransport([page([netpol("mine", managed=True), netpol("theirs")])], [[
        {"type": "MODIFIED", "object": netpol("mine", rv="2", managed=False)},
        {"type": "MODIFIED", "object": netpol("theirs", rv="3", managed=True, port=443)},
    ]])
    informer, changes, _ = make("NetworkPolicy", transport)

    async def scenario():
        await informer.list()
        assert [o["metadata"]["name"] for o in informer.owned["shop"]] == ["mine"]
        await informer.watch()

    asyncio.run(scenario())
    assert [o["metadata"]["name"] for o in informer.owned["shop"]] == ["theirs"]
    assert informer.owned.get_one("shop", "theirs")["spec"]["ingress"][0]["ports"] == [{"port": 443}]
    assert "managedFields" not in informer.owned.get_one("shop", "theirs")["metadata"]
    # The label change alone leaves the projection as it was but changes what sncguard owns.
    assert [name for _, name, _ in changes] == ["mine", "theirs"]


def test_an_expired_version_lists_again_and_reports_what_moved_meanwhile():
    transport = FakeTransport(
        [page([pod("a"), pod("b")], rv="10"), page([pod("b", node="n3"), pod("c")], rv="50")],
        [[{"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}]])
    informer, changes, _ = make("Pod", transport)

    async def scenario():
        await informer.list()
        with pytest.raises(Expired):
            await informer.watch()
        await informer.list()

    asyncio.run(scenario())
    assert sorted((name, p is None) for _, name, p in changes) == [("a", True), ("b", False), ("c", False)]
    assert informer.resource_version == "50" and informer.lists == 2


def test_run_recovers_from_errors_with_backoff_and_relists_after_410():
    transport = FakeTransport(
        [ApiError(0, "ConnectionError", "refused"), page([pod("a")], rv="10"),
         ApiError(410, "Expired", "continue token"), page([pod("a")], rv="60")],
        [[{"type": "ERROR", "object": {"code": 410}}], ApiError(500, "InternalError", "boom"),
         asyncio.CancelledError()])
    # The second list's 410 (an expired continue token) restarts the list; the third watch ends run().
    informer, _, sleeps = make("Pod", transport)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(informer.run())
    kinds = [kind for kind, _ in transport.calls]
    assert kinds == ["list", "list", "watch", "list", "list", "watch", "watch"], transport.calls
    assert transport.calls[-1][1]["resourceVersion"] == "60"
    # The API server unreachable: half a second; then it answered 500: a second (the list in between reset it).
    assert sleeps == [0.5, 1.0]


def test_a_watch_that_ends_at_once_is_not_reopened_within_a_second():
    times = iter([100.0, 100.25])
    transport = FakeTransport([page([])], [[]])
    informer, _, sleeps = make("Pod", transport, clock=lambda: next(times))

    list_then_watch(informer)
    assert sleeps == [pytest.approx(MIN_WATCH_INTERVAL_S - 0.25)]


def test_cluster_scoped_objects_sit_under_the_cluster_key():
    node = {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "a"}}}
    transport = FakeTransport([page([node])], [[{"type": "DELETED", "object": node}]])
    informer, changes, _ = make("Node", transport)

    async def scenario():
        await informer.list()
        assert [n.name for n in informer.store[CLUSTER]] == ["n1"]
        await informer.watch()

    asyncio.run(scenario())
    assert changes == [("", "n1", None)] and CLUSTER not in informer.store


def test_an_object_the_projection_cannot_read_is_left_out_and_the_rest_goes_on():
    broken = pod("broken")
    broken["spec"]["containers"] = [{"name": "c", "ports": [{"containerPort": "not-a-number"}]}]
    transport = FakeTransport([page([pod("a"), broken])], [[
        {"type": "MODIFIED", "object": {**broken, "metadata": {**broken["metadata"], "resourceVersion": "2"}}},
        {"type": "ADDED", "object": pod("b", rv="3")},
    ]])
    informer, changes, _ = make("Pod", transport)

    list_then_watch(informer)
    assert sorted(p.name for p in informer.store["shop"]) == ["a", "b"]
    assert [name for _, name, _ in changes] == ["b"]


def recording(kind, transport):
    """An informer whose callback keeps each change whole: (namespace, name, before, after)."""
    changes = []

    async def sleep(seconds):
        pass

    informer = Informer(BY_KIND[kind], transport, lambda *change: changes.append(change), page_size=10,
                        sleep=sleep, clock=lambda: 0.0)
    return informer, changes


def nodes_of(changes):
    """Each pod change as (name, its node before, its node after), None where there is no projection."""
    return [(name, before and before.node_name, after and after.node_name) for _, name, before, after in changes]


def test_each_change_carries_the_projection_the_store_held_before():
    transport = FakeTransport([page([pod("a")], rv="10")], [[
        {"type": "MODIFIED", "object": pod("a", node="n2", rv="11")},
        {"type": "ADDED", "object": pod("b", node="n3", rv="12")},
        {"type": "DELETED", "object": pod("a", node="n2", rv="13")},
    ]])
    informer, changes = recording("Pod", transport)

    list_then_watch(informer)
    assert nodes_of(changes) == [("a", "n1", "n2"), ("b", None, "n3"), ("a", "n2", None)]
    assert {ns for ns, *_ in changes} == {"shop"}


def test_a_list_again_after_an_expiry_reports_before_and_after_of_what_moved_meanwhile():
    """Events missed while the watch was down are rebuilt from the store: a changed object with what it
    was, a vanished one as deleted with what it was, an unchanged one not at all."""
    transport = FakeTransport(
        [page([pod("a"), pod("b"), pod("same")], rv="10"),
         page([pod("a", node="n3", rv="40"), pod("c", node="n4", rv="41"), pod("same")], rv="50")],
        [[{"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}]])
    informer, changes = recording("Pod", transport)

    async def scenario():
        await informer.list()
        with pytest.raises(Expired):
            await informer.watch()
        await informer.list()

    asyncio.run(scenario())
    assert sorted(nodes_of(changes)) == [("a", "n1", "n3"), ("b", "n1", None), ("c", None, "n4")]


def test_an_object_that_can_no_longer_be_read_is_reported_gone_with_its_last_projection():
    broken = pod("a", rv="2")
    broken["spec"]["containers"] = [{"name": "c", "ports": [{"containerPort": "not-a-number"}]}]
    transport = FakeTransport([page([pod("a")])], [[{"type": "MODIFIED", "object": broken}]])
    informer, changes = recording("Pod", transport)

    list_then_watch(informer)
    assert nodes_of(changes) == [("a", "n1", None)]


def test_run_survives_an_unexpected_error():
    transport = FakeTransport([page([pod("a")], rv="10")], [RuntimeError("surprise"), asyncio.CancelledError()])
    informer, _, sleeps = make("Pod", transport)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(informer.run())
    assert [kind for kind, _ in transport.calls] == ["list", "watch", "watch"] and sleeps == [1.0]


# ---- outages -------------------------------------------------------------------------------------

REFUSED = ApiError(0, "ConnectionError", "Cannot connect to host 10.96.0.1:443 [Connection refused]")


def test_a_successful_list_resets_the_backoff():
    """Refused three times (1, 2, 4 s), then the LIST goes through: the next failure waits 1 s again, not 8."""
    boom = ApiError(500, "InternalError", "etcdserver: request timed out")
    transport = FakeTransport([boom, boom, boom, page([pod("a")], rv="10")], [boom, asyncio.CancelledError()])
    informer, _, sleeps = make("Pod", transport)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(informer.run())
    assert [kind for kind, _ in transport.calls] == ["list"] * 4 + ["watch"] * 2
    assert sleeps == [1.0, 2.0, 4.0, 1.0]


def test_after_an_outage_the_view_catches_up_within_two_seconds(caplog):
    """However long the API server was unreachable, the informer asks again at least every 2 s (0.5, 1, 2,
    2...), so it notices within 2 s that the server is back; then the backoff starts afresh. One WARNING
    line per failure, no traceback."""
    outage = [REFUSED] * 12
    transport = FakeTransport([*outage, page([pod("a")], rv="10")],
                              [REFUSED, REFUSED, [{"type": "ADDED", "object": pod("b", rv="11")}],
                               asyncio.CancelledError()])
    informer, _, sleeps = make("Pod", transport)
    with caplog.at_level(logging.INFO, logger="sncguard.informer"), pytest.raises(asyncio.CancelledError):
        asyncio.run(informer.run())
    assert CONNECTION_BACKOFF_S[-1] <= 2.0 and max(sleeps) <= 2.0
    assert sleeps[:12] == [0.5, 1.0] + [2.0] * 10, "the outage: never more than 2 s between attempts"
    # The list went through (reset); the watch was refused twice more (0.5, 1), then streamed and ended.
    assert sleeps[12:] == [0.5, 1.0, MIN_WATCH_INTERVAL_S]
    assert sorted(p.name for p in informer.store["shop"]) == ["a", "b"]
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(failures) == 14 and all(r.levelno == logging.WARNING and r.exc_info is None for r in failures)
    assert "Connection refused" in failures[0].getMessage() and "retrying in 0.5 s" in failures[0].getMessage()


def test_a_server_answering_errors_after_an_outage_starts_the_error_backoff_afresh():
    """Unreachable for a long while, then 503s while it starts: the error statuses wait 1, 2... s, not 30."""
    unready = ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
    transport = FakeTransport([*[REFUSED] * 8, unready, unready, page([pod("a")])], [asyncio.CancelledError()])
    informer, _, sleeps = make("Pod", transport)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(informer.run())
    assert sleeps == [0.5, 1.0] + [2.0] * 6 + [BACKOFF_S[0], BACKOFF_S[1]]


def test_a_kind_sncguard_may_not_list_holds_nothing_up_and_is_picked_up_once_allowed():
    """A 403 on the LIST: the informer says so once (the policies that read the kind are reported
    unjudged), counts as synced so the engine starts for the others, and lists again until allowed."""
    refused = ApiError(403, "Forbidden", 'persistentvolumes is forbidden: User "sncguard" cannot list')
    transport = FakeTransport([refused, refused, page([pod("a")], rv="7")],
                              [asyncio.CancelledError()])
    informer, changes, _ = make("Pod", transport)
    seen = []
    informer.on_availability = lambda: seen.append(informer.forbidden)

    async def scenario():
        with pytest.raises(asyncio.CancelledError):
            await informer.run()

    asyncio.run(scenario())
    assert seen == ['persistentvolumes is forbidden: User "sncguard" cannot list', None]
    assert informer.synced.is_set() and informer.forbidden is None
    assert [p.name for p in informer.store["shop"]] == ["a"]
    assert [(ns, name) for ns, name, _ in changes] == [("shop", "a")], "listed once allowed: a change to judge"


# ---- optional APIs (Velero, Routes): absent is synced and empty, found again on a revision of the APIs ----

NOT_FOUND = ApiError(404, "NotFound", "the server could not find the requested resource")


def backup(name, namespace="velero", rv="1", phase="Completed"):
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": rv},
            "spec": {"includedNamespaces": ["shop"], "storageLocation": "offsite"},
            "status": {"phase": phase, "completionTimestamp": "2026-11-22T08:00:00Z"}}


def schedule(name, namespace="velero", rv="1", managed=False):
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE} if managed else {}
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": rv, "labels": labels},
            "spec": {"schedule": "0 2 * * *", "template": {"includedNamespaces": ["shop"],
                                                           "storageLocation": "offsite"}}}


def test_every_watched_kind_goes_through_the_informer():
    from sncguard.controller import handlers
    from sncguard.controller.kinds import WATCHED
    from sncguard.controller.wiring import Settings, wire

    registry = handlers.register(wire(Settings()))
    assert not any(h.id == w.index_id for w in WATCHED for h in registry._indexing.get_all_handlers())
    assert {w.kind for w in WATCHED if w.optional} >= {"Backup", "Schedule", "Restore", "BackupStorageLocation",
                                                       "Route"}


def test_an_absent_api_is_synced_and_empty_and_asks_nothing_until_the_apis_change():
    """A 404 (Velero's CRDs not installed): synced at once so the engine starts, no request until kopf's
    discovery revises the APIs; then listed, reported available, its objects judged."""
    transport = FakeTransport([NOT_FOUND, page([backup("b1")], rv="9")], [asyncio.CancelledError()])
    informer, changes, sleeps = make("Backup", transport)
    flips = []
    informer.on_availability = lambda: flips.append(informer.present)

    async def scenario():
        task = asyncio.create_task(informer.run())
        for _ in range(20):
            await asyncio.sleep(0)
        assert informer.synced.is_set() and informer.present is False and len(informer.store) == 0
        assert transport.calls == [("list", {"limit": "2"})], "nothing asked while the API is absent"
        informer.api_revisions.bump()  # a CRD was created
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert flips == [False, True]
    assert informer.present is True and [b.name for b in informer.store["velero"]] == ["b1"]
    assert [name for _, name, _ in changes] == ["b1"], "found after the start: a change to judge"
    assert [kind for kind, _ in transport.calls] == ["list", "list", "watch"]
    assert sleeps == [1.0], "listed a second after the revision, never within a second of the last LIST"


def test_a_revision_that_lost_the_race_with_discovery_is_followed_by_a_few_tries():
    """The CRD's event can come a moment before the API serves it: after a revision the LIST is tried
    1 s later, then after 2, 4 and 8 s more, then the informer waits for the next revision."""
    from sncguard.controller.informer import ABSENT_RETRY_S

    transport = FakeTransport([NOT_FOUND] * (1 + len(ABSENT_RETRY_S)))
    informer, _, sleeps = make("Backup", transport)

    async def scenario():
        task = asyncio.create_task(informer.run())
        for _ in range(20):
            await asyncio.sleep(0)
        informer.api_revisions.bump()
        for _ in range(50):
            await asyncio.sleep(0)
        calls = len(transport.calls)
        assert calls == 1 + len(ABSENT_RETRY_S), "the first, then one per delay after the revision"
        assert not task.done(), "waiting for the next revision, asking nothing"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert sleeps == list(ABSENT_RETRY_S)


def test_a_revision_between_the_request_and_the_wait_is_not_lost():
    revisions_seen = []
    from sncguard.controller.informer import ApiRevisions

    async def scenario():
        revisions = ApiRevisions()
        seen = revisions.count
        revisions.bump()  # before anyone waits
        await asyncio.wait_for(revisions.wait_past(seen), 1)
        revisions_seen.append(revisions.count)

    asyncio.run(scenario())
    assert revisions_seen == [1]


def test_an_api_removed_empties_the_kind_and_reports_each_object_gone():
    """Velero uninstalled: the watch ends, the LIST says 404; every Backup is reported deleted."""
    transport = FakeTransport([page([backup("b1"), backup("b2")], rv="5"), NOT_FOUND],
                              [[{"type": "ERROR", "object": {"code": 410}}]])
    informer, changes, _ = make("Backup", transport)
    flips = []
    informer.on_availability = lambda: flips.append(informer.present)

    async def scenario():
        task = asyncio.create_task(informer.run())
        for _ in range(50):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert flips == [True, False]
    assert len(informer.store) == 0 and informer.present is False
    assert sorted((name, p) for _, name, p in changes) == [("b1", None), ("b2", None)]


def test_a_built_in_kind_answering_404_is_an_error_retried_with_backoff():
    transport = FakeTransport([NOT_FOUND, page([pod("a")])], [asyncio.CancelledError()])
    informer, _, sleeps = make("Pod", transport)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(informer.run())
    assert sleeps == [BACKOFF_S[0]] and informer.present is None


def test_an_optional_kind_sncguard_may_not_list_is_reported_as_before():
    """RBAC, not absence: a 403 sets `forbidden` (MissingPermission for the readers) and is retried."""
    refused = ApiError(403, "Forbidden", 'backups.velero.io is forbidden: User "sncguard" cannot list')
    transport = FakeTransport([refused, page([backup("b1")], rv="3")], [asyncio.CancelledError()])
    informer, _, sleeps = make("Backup", transport)
    seen = []
    informer.on_availability = lambda: seen.append((informer.forbidden, informer.present))
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(informer.run())
    assert seen == [('backups.velero.io is forbidden: User "sncguard" cannot list', None), (None, True)]
    assert sleeps == [BACKOFF_S[0]]


def test_owned_velero_kinds_keep_the_owned_index():
    """Schedules sncguard owns (managed-by label) are kept whole in the owned store, as NetworkPolicies are."""
    transport = FakeTransport([page([schedule("mine", managed=True), schedule("users")], rv="4")])
    informer, _, _ = make("Schedule", transport)
    asyncio.run(informer.list())
    assert sorted(s.name for s in informer.store["velero"]) == ["mine", "users"]
    (owned,) = informer.owned["velero"]
    assert owned["metadata"]["name"] == "mine" and owned["spec"]["schedule"] == "0 2 * * *"


def test_an_unreadable_velero_object_is_left_out_and_counted():
    broken = schedule("broken")
    broken["spec"]["template"]["includedNamespaces"] = 42
    transport = FakeTransport([page([schedule("good"), broken], rv="4")])
    informer, _, _ = make("Schedule", transport)
    asyncio.run(informer.list())
    assert [s.name for s in informer.store["velero"]] == ["good"] and informer.skipped == 1
