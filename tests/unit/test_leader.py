"""Leader election on a Lease: one leader, takeover only after the lease ran out on the candidate's own
clock, optimistic concurrency between candidates, and a leader that cannot renew stops leading."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime

import pytest

from sncguard.controller.kube import ApiError
from sncguard.controller.leader import LEASE_NAME, UNOBSERVED_ANNOTATION, LeaderElector, Timing
from sncguard.sla import read_gaps


class LeaseServer:
    """The API server's part: one Lease, resourceVersions, 409 on a stale write."""

    def __init__(self) -> None:
        self.lease: dict | None = None
        self.version = 0
        self.down = False

    async def wait_configured(self) -> None:
        return None

    async def request(self, method, path, *, body=None, params=None, content_type=None):
        if self.down:
            raise ApiError(0, "ConnectionError", "connection refused")
        if method == "GET":
            if self.lease is None:
                raise ApiError(404, "NotFound", "not found")
            return copy.deepcopy(self.lease)
        if method == "POST" and self.lease is not None:
            raise ApiError(409, "AlreadyExists", "exists")
        if method == "PUT" and body["metadata"].get("resourceVersion") != str(self.version):
            raise ApiError(409, "Conflict", "the object has been modified")
        self.version += 1
        self.lease = {**copy.deepcopy(body), "metadata": {**body["metadata"], "resourceVersion": str(self.version)}}
        return copy.deepcopy(self.lease)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elector(server, name, clock) -> LeaderElector:
    return LeaderElector(server, "sncguard-system", name, Timing(15, 10, 2), clock=clock,
                         wall=lambda: datetime(2026, 11, 28, 10, 0, tzinfo=UTC))


def rounds(*steps):
    async def go():
        return [await step.try_acquire_or_renew() for step in steps]

    return asyncio.run(go())


def test_one_leads_the_other_stands_by_and_takes_over_once_the_lease_runs_out():
    server, clock_a, clock_b = LeaseServer(), Clock(), Clock()
    a, b = elector(server, "pod-a_1", clock_a), elector(server, "pod-b_1", clock_b)
    assert rounds(a, b) == [True, False]
    assert a.leading.is_set() and not b.leading.is_set()
    assert server.lease["spec"]["holderIdentity"] == "pod-a_1"
    assert server.lease["metadata"]["name"] == LEASE_NAME

    # a renews: b keeps seeing a fresh record and stands by, however long that lasts.
    for _ in range(20):
        clock_a.now += 2
        clock_b.now += 2
        assert rounds(a, b) == [True, False]
    # a dies. b takes over only once the record stayed unchanged for the lease duration, on b's clock.
    clock_b.now += 14
    assert rounds(b) == [False]
    clock_b.now += 2
    assert rounds(b) == [True]
    assert b.leading.is_set()
    assert server.lease["spec"]["holderIdentity"] == "pod-b_1"
    assert server.lease["spec"]["leaseTransitions"] == 1


def test_of_two_candidates_only_one_wins_a_takeover():
    server, clock = LeaseServer(), Clock()
    old, a, b = (elector(server, n, clock) for n in ("old_1", "a_1", "b_1"))
    rounds(old, a, b)
    clock.now += 16
    rounds(a, b)  # both saw the record unchanged for 16 s, a wrote first

    async def race():
        # b read the record before a's takeover landed: its write carries a stale resourceVersion.
        stale = copy.deepcopy(server.lease)
        await a.try_acquire_or_renew()
        return await b._write("PUT", f"{b.path}/{LEASE_NAME}", {**stale, "spec": b._spec(
            datetime(2026, 11, 28, tzinfo=UTC), acquire=True, transitions=1)})

    assert asyncio.run(race()) is False
    assert a.leading.is_set() and not b.leading.is_set()
    assert server.lease["spec"]["holderIdentity"] == "a_1"


def test_a_leader_that_cannot_renew_stops_leading_before_its_lease_runs_out():
    server, clock = LeaseServer(), Clock()
    a = elector(server, "a_1", clock)
    sleeps = []

    async def sleep(seconds):
        sleeps.append(seconds)
        clock.now += seconds
        if len(sleeps) == 1:
            server.down = True
        if not a.leading.is_set():
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(a.run(sleep=sleep))
    # It held the lease, lost the API, and gave up leading after the renew deadline (10 s) passed,
    # that is before the others may take over (15 s).
    assert 10 < clock.now - 1000.0 <= 14


def test_timing_must_leave_room_for_renewal():
    with pytest.raises(ValueError):
        Timing(lease_duration=10, renew_deadline=10, retry_period=2)


def test_a_leader_that_stops_cleanly_hands_over_at_once():
    server, clock = LeaseServer(), Clock()
    a, b = elector(server, "a_1", clock), elector(server, "b_1", clock)
    assert rounds(a, b) == [True, False]
    asyncio.run(a.release())
    assert not a.leading.is_set() and server.lease["spec"]["holderIdentity"] == ""
    assert rounds(b) == [True], "no lease duration to wait out"


def test_each_takeover_records_the_time_no_replica_led_on_the_lease():
    """From the last holder's last renewal to the takeover: unobserved for the SLA ledger (sla.py),
    kept on the Lease in the takeover's own write, so a restart costs no other write."""
    server, clock = LeaseServer(), Clock()
    walls = iter(datetime(2026, 11, 28, 10, m, s, tzinfo=UTC) for m, s in (
        (0, 0), (0, 2),  # a creates, a renews
        (0, 4), (0, 20),  # b stands by, b takes over
        (5, 0), (5, 1)))  # b releases, c takes over

    def candidate(name):
        return LeaderElector(server, "sncguard-system", name, Timing(15, 10, 2), clock=clock, wall=lambda: next(walls))

    a = candidate("a_1")
    assert rounds(a, a) == [True, True]  # created at 10:00:00, renewed at 10:00:02
    assert a.unobserved == [] and UNOBSERVED_ANNOTATION not in (server.lease["metadata"].get("annotations") or {})
    b = candidate("b_1")
    rounds(b)
    clock.now += 16
    assert rounds(b) == [True]  # a died after 10:00:02; b takes over at 10:00:20
    gap = (datetime(2026, 11, 28, 10, 0, 2, tzinfo=UTC), datetime(2026, 11, 28, 10, 0, 20, tzinfo=UTC))
    assert b.unobserved == [gap]
    assert read_gaps(server.lease["metadata"]["annotations"][UNOBSERVED_ANNOTATION]) == [gap]
    asyncio.run(b.release())  # a clean stop at 10:05:00; c starts at 10:05:01
    c = candidate("c_1")
    assert rounds(c) == [True]
    assert c.unobserved == [gap, (datetime(2026, 11, 28, 10, 5, tzinfo=UTC), datetime(2026, 11, 28, 10, 5, 1,
                                                                                         tzinfo=UTC))]
