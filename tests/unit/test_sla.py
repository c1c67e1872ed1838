"""The SLA ledger (sla.py): pure arithmetic over the previous ledger, what is observed, and the time given."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

from sncguard import ZONE_LABEL, sla
from sncguard.api.zonespread import SlaLedger, ZoneSpreadSpec
from sncguard.evaluation import evaluate_zonespread
from sncguard.sla import Cause, ZoneState, advance_ledger
from sncguard.view import ClusterView, Node, project

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
WEB_SPREAD = Cause("Deployment", "shop", "web", "ZS-002")
WEB_ZONES = Cause("Deployment", "shop", "web", "ZS-004")
API_SOFT = Cause("Deployment", "shop", "api", "ZS-003")
NO_ZONES: dict[str, ZoneState] = {}


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def stored(ledger: dict) -> dict:
    """The ledger as it comes back from the API server (JSON), checked against the CRD's model."""
    SlaLedger.model_validate(ledger)
    return json.loads(json.dumps(ledger))


def month(ledger: dict, key: str) -> dict:
    return next(m for m in ledger["months"] if m["month"] == key)


# ---- a fresh ledger, and no write at rest -------------------------------------------------------


def test_a_fresh_ledger_starts_now_with_the_state_observed():
    eligible = stored(advance_ledger(None, True, [], NO_ZONES, T0))
    assert eligible["current"] == {"eligible": True, "since": "2026-11-20T10:00:00Z"}
    assert eligible["startedAt"] == eligible["accountedUntil"] == "2026-11-20T10:00:00Z"
    assert eligible["months"] == [{"month": "2026-11", "eligibleSeconds": 0, "notEligibleSeconds": 0,
                                   "unobservedSeconds": 0, "intervals": [], "intervalsTruncated": 0}]
    assert eligible["totals"] == {"eligibleSeconds": 0, "notEligibleSeconds": 0, "unobservedSeconds": 0}

    not_eligible = stored(advance_ledger(None, False, [WEB_ZONES, WEB_SPREAD, WEB_SPREAD], NO_ZONES, T0))
    causes = [{"kind": "Deployment", "namespace": "shop", "name": "web", "rule": "ZS-002"},
              {"kind": "Deployment", "namespace": "shop", "name": "web", "rule": "ZS-004"}]
    assert not_eligible["current"] == {"eligible": False, "since": "2026-11-20T10:00:00Z", "causes": causes}
    assert month(not_eligible, "2026-11")["intervals"] == [{"start": "2026-11-20T10:00:00Z", "causes": causes}]


def test_nothing_changes_while_nothing_changes_however_long():
    ledger = stored(advance_ledger(None, False, [WEB_SPREAD], NO_ZONES, T0))
    for later in (at(seconds=1), at(hours=5), at(days=10)):  # still November
        assert advance_ledger(ledger, False, [WEB_SPREAD], NO_ZONES, later) is ledger
    eligible = stored(advance_ledger(None, True, [], NO_ZONES, T0))
    # Causes given with an eligible verdict mean nothing.
    assert advance_ledger(eligible, True, [WEB_SPREAD], NO_ZONES, at(days=3)) is eligible


def test_a_ledger_that_cannot_be_read_starts_afresh():
    for broken in ({}, {"current": {"eligible": True}}, {"accountedUntil": "yesterday", "current": {}, "months": []},
                   "text", {"accountedUntil": "2026-11-20T10:00:00Z",
                            "current": {"eligible": "yes", "since": "2026-11-20T10:00:00Z"}, "months": []}):
        ledger = advance_ledger(broken, True, [], NO_ZONES, at(hours=1))  # type: ignore[arg-type]
        assert ledger["startedAt"] == "2026-11-20T11:00:00Z"
    good = stored(advance_ledger(None, True, [], NO_ZONES, T0))
    for outages in ([{"start": "2026-11-20T10:00:00Z"}], [{"zone": "a", "start": "soon"}],
                    [{"zone": "a", "start": "2026-11-20T10:00:00Z", "end": 3}]):
        assert advance_ledger({**good, "zoneOutages": outages}, True, [], NO_ZONES, at(hours=1))["startedAt"] == \
            "2026-11-20T11:00:00Z"


# ---- transitions --------------------------------------------------------------------------------


def test_non_eligibility_gets_an_interval_with_its_cause_and_the_seconds_add_up():
    ledger = stored(advance_ledger(None, True, [], NO_ZONES, T0))
    ledger = stored(advance_ledger(ledger, False, [WEB_ZONES], NO_ZONES, at(hours=1)))
    assert ledger["current"]["since"] == "2026-11-20T11:00:00Z"
    assert month(ledger, "2026-11")["eligibleSeconds"] == 3600
    ledger = stored(advance_ledger(ledger, True, [], NO_ZONES, at(hours=1, minutes=30)))
    m = month(ledger, "2026-11")
    assert (m["eligibleSeconds"], m["notEligibleSeconds"], m["unobservedSeconds"]) == (3600, 1800, 0)
    assert m["intervals"] == [{"start": "2026-11-20T11:00:00Z", "end": "2026-11-20T11:30:00Z",
                               "causes": [{"kind": "Deployment", "namespace": "shop", "name": "web",
                                           "rule": "ZS-004"}]}]
    assert ledger["current"] == {"eligible": True, "since": "2026-11-20T11:30:00Z"}
    assert ledger["accountedUntil"] == "2026-11-20T11:30:00Z"
    assert ledger["totals"] == {"eligibleSeconds": 3600, "notEligibleSeconds": 1800, "unobservedSeconds": 0}


def test_causes_changing_while_not_eligible_split_the_interval_and_keep_since():
    ledger = stored(advance_ledger(None, False, [WEB_SPREAD], NO_ZONES, T0))
    ledger = stored(advance_ledger(ledger, False, [WEB_SPREAD, API_SOFT], NO_ZONES, at(minutes=10)))
    ledger = stored(advance_ledger(ledger, False, [API_SOFT], NO_ZONES, at(minutes=25)))
    assert ledger["current"]["since"] == "2026-11-20T10:00:00Z"
    intervals = month(ledger, "2026-11")["intervals"]
    assert [(i["start"], i.get("end"), [c["name"] + ":" + c["rule"] for c in i["causes"]]) for i in intervals] == [
        ("2026-11-20T10:00:00Z", "2026-11-20T10:10:00Z", ["web:ZS-002"]),
        ("2026-11-20T10:10:00Z", "2026-11-20T10:25:00Z", ["api:ZS-003", "web:ZS-002"]),
        ("2026-11-20T10:25:00Z", None, ["api:ZS-003"]),
    ]
    assert month(ledger, "2026-11")["notEligibleSeconds"] == 25 * 60


def test_a_flip_and_back_within_a_second_leaves_no_empty_interval():
    ledger = stored(advance_ledger(None, True, [], NO_ZONES, T0))
    ledger = stored(advance_ledger(ledger, False, [WEB_SPREAD], NO_ZONES, at(seconds=5.2)))
    ledger = stored(advance_ledger(ledger, True, [], NO_ZONES, at(seconds=5.9)))
    assert month(ledger, "2026-11")["intervals"] == []
    assert ledger["current"] == {"eligible": True, "since": "2026-11-20T10:00:05Z"}


def test_the_policy_that_selects_nothing_is_its_own_cause():
    cause = Cause("ZoneSpread", "shop", "sla")
    assert cause.as_dict() == {"kind": "ZoneSpread", "namespace": "shop", "name": "sla"}
    ledger = stored(advance_ledger(None, False, [cause], NO_ZONES, T0))
    assert ledger["current"]["causes"] == [{"kind": "ZoneSpread", "namespace": "shop", "name": "sla"}]


def test_a_clock_behind_the_ledger_counts_nothing_negative():
    ledger = stored(advance_ledger(None, True, [], NO_ZONES, T0))
    ledger = stored(advance_ledger(ledger, False, [WEB_SPREAD], NO_ZONES, at(seconds=-30)))
    assert ledger["accountedUntil"] == "2026-11-20T10:00:00Z"
    assert ledger["totals"] == {"eligibleSeconds": 0, "notEligibleSeconds": 0, "unobservedSeconds": 0}


# ---- months -------------------------------------------------------------------------------------


def test_the_month_rolls_over_at_the_utc_boundary_splitting_an_open_interval():
    start = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    ledger = stored(advance_ledger(None, False, [WEB_ZONES], NO_ZONES, start))
    assert sla.next_month_start(start) == datetime(2026, 12, 1, tzinfo=UTC)
    # The timer wakes the policy just after the boundary: one write, nothing else changed.
    rolled = stored(advance_ledger(ledger, False, [WEB_ZONES], NO_ZONES, datetime(2026, 12, 1, 0, 0, 0, 500_000,
                                                                                    tzinfo=UTC)))
    november, december = rolled["months"]
    assert (november["month"], november["notEligibleSeconds"]) == ("2026-11", 3600)
    assert november["intervals"][-1] == {"start": "2026-11-30T23:00:00Z", "end": "2026-12-01T00:00:00Z",
                                         "causes": [WEB_ZONES.as_dict()]}
    assert (december["month"], december["notEligibleSeconds"]) == ("2026-12", 0)
    assert december["intervals"] == [{"start": "2026-12-01T00:00:00Z", "causes": [WEB_ZONES.as_dict()]}]
    assert rolled["current"]["since"] == "2026-11-30T23:00:00Z"
    # And the same month again is no write.
    assert advance_ledger(rolled, False, [WEB_ZONES], NO_ZONES, datetime(2026, 12, 20, tzinfo=UTC)) is rolled


def test_an_interval_spanning_the_boundary_ends_in_the_next_month():
    ledger = stored(advance_ledger(None, False, [WEB_SPREAD], NO_ZONES, datetime(2026, 12, 31, 22, 0, tzinfo=UTC)))
    # No timer fired (the operator was busy): the change after the boundary still splits it right.
    ledger = stored(advance_ledger(ledger, True, [], NO_ZONES, datetime(2027, 1, 1, 1, 30, tzinfo=UTC)))
    december, january = ledger["months"]
    assert (december["month"], december["notEligibleSeconds"], december["eligibleSeconds"]) == ("2026-12", 7200, 0)
    assert december["intervals"] == [{"start": "2026-12-31T22:00:00Z", "end": "2027-01-01T00:00:00Z",
                                      "causes": [WEB_SPREAD.as_dict()]}]
    assert (january["month"], january["notEligibleSeconds"]) == ("2027-01", 5400)
    assert january["intervals"] == [{"start": "2027-01-01T00:00:00Z", "end": "2027-01-01T01:30:00Z",
                                     "causes": [WEB_SPREAD.as_dict()]}]
    assert ledger["current"] == {"eligible": True, "since": "2027-01-01T01:30:00Z"}


def test_only_the_current_and_previous_month_are_kept_the_totals_keep_everything():
    ledger = stored(advance_ledger(None, True, [], NO_ZONES, datetime(2026, 9, 15, tzinfo=UTC)))
    ledger = stored(advance_ledger(ledger, False, [WEB_SPREAD], NO_ZONES, datetime(2026, 12, 2, tzinfo=UTC)))
    assert [m["month"] for m in ledger["months"]] == ["2026-11", "2026-12"]
    assert month(ledger, "2026-11")["eligibleSeconds"] == 30 * 86400
    assert month(ledger, "2026-12")["eligibleSeconds"] == 86400
    assert ledger["totals"]["eligibleSeconds"] == (16 + 31 + 30 + 1) * 86400
    assert len(stored(ledger)["months"]) == 2


def test_next_month_start_handles_december():
    assert sla.next_month_start(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert sla.next_month_start(datetime(2027, 1, 1, tzinfo=UTC)) == datetime(2027, 2, 1, tzinfo=UTC)


# ---- restarts: the ledger continues, the gap is unobserved --------------------------------------


def test_a_restart_continues_the_ledger_and_counts_its_gap_unobserved():
    ledger = stored(advance_ledger(None, True, [], NO_ZONES, T0))
    ledger = stored(advance_ledger(ledger, False, [WEB_SPREAD], NO_ZONES, at(hours=1)))
    # The operator stops at +2 h, the next one takes over at +3 h: it reads the ledger from status.
    gap = [(at(hours=2), at(hours=3))]
    assert advance_ledger(ledger, False, [WEB_SPREAD], NO_ZONES, at(hours=3), gap) is ledger, \
        "a restart on an unchanged world writes nothing"
    # The next change folds the gap in: totals continue, nothing is reset.
    after = stored(advance_ledger(ledger, True, [], NO_ZONES, at(hours=4), gap))
    m = month(after, "2026-11")
    assert (m["eligibleSeconds"], m["notEligibleSeconds"], m["unobservedSeconds"]) == (3600, 7200, 3600)
    assert after["startedAt"] == "2026-11-20T10:00:00Z"
    # The interval spans the gap: non-eligible before and after it.
    assert m["intervals"][0]["start"] == "2026-11-20T11:00:00Z" and m["intervals"][0]["end"] == "2026-11-20T14:00:00Z"


def test_the_state_kept_across_a_restart_keeps_its_since():
    ledger = stored(advance_ledger(None, False, [WEB_SPREAD], NO_ZONES, T0))
    gap = [(at(hours=1), at(hours=2))]
    after = stored(advance_ledger(ledger, False, [WEB_SPREAD, API_SOFT], NO_ZONES, at(hours=3), gap))
    assert after["current"]["since"] == "2026-11-20T10:00:00Z"
    assert month(after, "2026-11")["unobservedSeconds"] == 3600
    assert month(after, "2026-11")["notEligibleSeconds"] == 2 * 3600


def test_gaps_already_accounted_or_across_the_boundary_are_split_right():
    ledger = stored(advance_ledger(None, True, [], NO_ZONES, datetime(2026, 11, 30, 20, 0, tzinfo=UTC)))
    gaps = [
        (datetime(2026, 11, 30, 18, 0, tzinfo=UTC), datetime(2026, 11, 30, 21, 0, tzinfo=UTC)),  # 1 h after start
        (datetime(2026, 11, 30, 23, 0, tzinfo=UTC), datetime(2026, 12, 1, 2, 0, tzinfo=UTC)),  # over the boundary
        (datetime(2026, 12, 1, 1, 0, tzinfo=UTC), datetime(2026, 12, 1, 1, 30, tzinfo=UTC)),  # inside the last
    ]
    after = stored(advance_ledger(ledger, False, [WEB_SPREAD], NO_ZONES, datetime(2026, 12, 1, 4, tzinfo=UTC), gaps))
    november, december = after["months"]
    assert (november["eligibleSeconds"], november["unobservedSeconds"]) == (2 * 3600, 2 * 3600)
    assert (december["eligibleSeconds"], december["unobservedSeconds"]) == (2 * 3600, 2 * 3600)
    assert after["totals"] == {"eligibleSeconds": 4 * 3600, "notEligibleSeconds": 0, "unobservedSeconds": 4 * 3600}


def test_readers_add_the_time_since_the_last_change_minus_the_gaps():
    ledger = stored(advance_ledger(None, True, [], NO_ZONES, T0))
    assert sla.eligible_seconds_total(ledger, at(hours=2)) == 7200
    assert sla.eligible_seconds_total(ledger, at(hours=2), [(at(hours=1), at(hours=1, minutes=30))]) == 5400
    seen = sla.accrued(ledger, at(hours=2))
    assert seen is not None and month(seen, "2026-11")["eligibleSeconds"] == 7200
    assert ledger["accountedUntil"] == "2026-11-20T10:00:00Z", "the reader's view is a copy"
    not_eligible = stored(advance_ledger(ledger, False, [WEB_SPREAD], NO_ZONES, at(hours=1)))
    assert sla.eligible_seconds_total(not_eligible, at(hours=5)) == 3600
    assert sla.eligible_seconds_total({"broken": True}, at(hours=5)) is None
    # The counter's shortcut counts what the full accrual counts, over months and gaps too.
    gaps = [(at(days=3), at(days=3, hours=2)), (at(days=11, hours=-1), at(days=11, hours=1))]
    for later in (at(hours=7), at(days=4), at(days=15)):
        seen = sla.accrued(ledger, later, gaps)
        assert seen is not None
        assert sla.eligible_seconds_total(ledger, later, gaps) == seen["totals"]["eligibleSeconds"]


def test_gaps_kept_on_the_lease_are_recorded_merged_pruned_and_capped():
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    gaps = sla.record_gap([], datetime(2026, 11, 28, 11, 59, 30, 123456, tzinfo=UTC), now)
    assert gaps == [(datetime(2026, 11, 28, 11, 59, 30, tzinfo=UTC), now)]
    text = sla.write_gaps(gaps)
    assert json.loads(text) == [["2026-11-28T11:59:30Z", "2026-11-28T12:00:00Z"]]
    assert sla.read_gaps(text) == gaps
    assert sla.read_gaps("not json") == [] and sla.read_gaps(None) == [] and sla.read_gaps('[["x", 1], 3]') == []
    # No last renewal known (a Lease created just now), or a renewal in the future: no gap.
    assert sla.record_gap(gaps, None, now) == gaps
    assert sla.record_gap(gaps, now + timedelta(seconds=5), now) == gaps
    # Gaps that ended before the previous month began are dropped; overlapping ones merge.
    old = [(datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 2, tzinfo=UTC)),
           (datetime(2026, 10, 31, 23, 0, tzinfo=UTC), datetime(2026, 11, 1, 1, 0, tzinfo=UTC)),
           (datetime(2026, 11, 1, 0, 30, tzinfo=UTC), datetime(2026, 11, 1, 2, 0, tzinfo=UTC))]
    kept = sla.record_gap(old, None, now)
    assert kept == [(datetime(2026, 10, 31, 23, 0, tzinfo=UTC), datetime(2026, 11, 1, 2, 0, tzinfo=UTC))]
    many = [(now - timedelta(hours=i, minutes=1), now - timedelta(hours=i)) for i in range(1, 300)]
    capped = sla.record_gap(many, None, now)
    assert len(capped) == sla.GAPS_CAP and capped[-1] == (now - timedelta(hours=1, minutes=1), now - timedelta(hours=1))


# ---- caps ---------------------------------------------------------------------------------------


def test_intervals_and_causes_are_capped_and_what_was_dropped_is_counted():
    causes = [Cause("Deployment", "shop", f"w{i:02d}", "ZS-002") for i in range(13)]
    ledger = stored(advance_ledger(None, False, causes, NO_ZONES, T0))
    assert len(ledger["current"]["causes"]) == sla.CAUSES_CAP and ledger["current"]["causesTruncated"] == 3
    assert ledger["current"]["causes"][0]["name"] == "w00"
    # The 3 causes beyond the cap change count: same cap, same count -> same state.
    assert advance_ledger(ledger, False, causes[:10] + causes[10:][::-1], NO_ZONES, at(hours=1)) is ledger
    # New causes at minute 1 split the interval; then non-eligible again at every odd minute: 1 + 1 + 59
    # intervals, the 11 oldest dropped and counted.
    for i in range(120):
        ledger = advance_ledger(ledger, i % 2 == 1, [WEB_SPREAD], NO_ZONES, at(minutes=i + 1))
    m = month(stored(ledger), "2026-11")
    assert len(m["intervals"]) == sla.INTERVALS_CAP and m["intervalsTruncated"] == 11
    assert m["intervals"][-1] == {"start": "2026-11-20T11:59:00Z", "end": "2026-11-20T12:00:00Z",
                                  "causes": [WEB_SPREAD.as_dict()]}
    assert m["intervals"][0]["start"] == "2026-11-20T10:21:00Z"


# ---- zone outages -------------------------------------------------------------------------------


def node(name: str, zone: str, ready: bool | None, since: str = "") -> Node:
    body: dict = {"metadata": {"name": name, "labels": {ZONE_LABEL: zone}}}
    if ready is not None:
        condition = {"type": "Ready", "status": "True" if ready else "False",
                     "lastHeartbeatTime": "2026-11-20T10:00:00Z"}
        if since:
            condition["lastTransitionTime"] = since
        body["status"] = {"conditions": [condition]}
    return project("Node", body)


def test_node_projection_reads_ready_and_its_transition_but_not_heartbeats():
    assert node("n1", "a", None) == Node("n1", {ZONE_LABEL: "a"}, True, "")
    assert node("n1", "a", False, "2026-11-20T09:00:00Z") == Node("n1", {ZONE_LABEL: "a"}, False,
                                                                 "2026-11-20T09:00:00Z")
    body = {"metadata": {"name": "n1", "labels": {}}, "status": {"conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-01T00:00:00Z",
         "lastHeartbeatTime": "2026-11-20T10:00:00Z"}]}}
    beat = copy.deepcopy(body)
    beat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-11-20T10:00:40Z"
    assert project("Node", body) == project("Node", beat), "a heartbeat is no change"
    unknown = {"metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert project("Node", unknown).ready is False


def test_a_zone_is_out_when_every_node_is_not_ready():
    nodes = [node("a1", "zone-a", False, "2026-11-20T09:50:00Z"), node("a2", "zone-a", False, "2026-11-20T09:55:00Z"),
             node("b1", "zone-b", False, "2026-11-20T09:00:00Z"), node("b2", "zone-b", True, "2026-11-20T09:30:00Z"),
             node("c1", "zone-c", True, "2026-11-01T00:00:00Z"), node("c2", "zone-c", True, "2026-11-02T00:00:00Z"),
             node("d1", "zone-d", False), project("Node", {"metadata": {"name": "x"}})]
    states = sla.zone_states(nodes, ZONE_LABEL)
    assert states == {
        "zone-a": ZoneState(True, datetime(2026, 11, 20, 9, 55, tzinfo=UTC)),  # when its last node went down
        "zone-b": ZoneState(False, datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        "zone-c": ZoneState(False, datetime(2026, 11, 1, tzinfo=UTC)),
        "zone-d": ZoneState(True, None),
    }
    assert sla.zone_states(nodes, "example.com/rack") == {}


def test_an_outage_starts_at_the_earliest_of_detection_and_report_and_ends_when_a_node_is_back():
    up = {"zone-a": ZoneState(False, T0), "zone-b": ZoneState(False, T0)}
    ledger = stored(advance_ledger(None, True, [], up, T0))
    assert ledger["zoneOutages"] == [] and ledger["zoneOutagesTruncated"] == 0
    assert advance_ledger(ledger, True, [], up, at(hours=1)) is ledger
    # The nodes reported NotReady 40 s before sncguard saw it: the outage starts then.
    down = {"zone-a": ZoneState(True, at(hours=1, seconds=-40)), "zone-b": ZoneState(False, T0)}
    ledger = stored(advance_ledger(ledger, True, [], down, at(hours=1)))
    assert ledger["zoneOutages"] == [{"zone": "zone-a", "start": "2026-11-20T10:59:20Z"}]
    assert ledger["current"] == {"eligible": True, "since": "2026-11-20T10:00:00Z"}, "an outage is no cause"
    assert advance_ledger(ledger, True, [], down, at(hours=2)) is ledger
    # A report in the future (a node's clock ahead) starts it at detection.
    other = stored(advance_ledger(None, True, [], {"zone-a": ZoneState(True, at(minutes=5))}, T0))
    assert other["zoneOutages"] == [{"zone": "zone-a", "start": "2026-11-20T10:00:00Z"}]
    # A node is Ready again: the outage ends at its report.
    back = {"zone-a": ZoneState(False, at(hours=2, minutes=59)), "zone-b": ZoneState(False, T0)}
    ledger = stored(advance_ledger(ledger, True, [], back, at(hours=3)))
    assert ledger["zoneOutages"] == [{"zone": "zone-a", "start": "2026-11-20T10:59:20Z",
                                      "end": "2026-11-20T12:59:00Z"}]
    assert advance_ledger(ledger, True, [], back, at(hours=4)) is ledger
    # Down again, with a stale report from before the last end: it starts no earlier than that end.
    again = stored(advance_ledger(ledger, True, [], {"zone-a": ZoneState(True, at(hours=1)),
                                                     "zone-b": ZoneState(False, T0)}, at(hours=5)))
    assert again["zoneOutages"][-1] == {"zone": "zone-a", "start": "2026-11-20T12:59:00Z"}
    # A zone whose nodes all went away ends its outage at detection.
    gone = stored(advance_ledger(again, True, [], {"zone-b": ZoneState(False, T0)}, at(hours=6)))
    assert gone["zoneOutages"][-1] == {"zone": "zone-a", "start": "2026-11-20T12:59:00Z",
                                       "end": "2026-11-20T16:00:00Z"}


def test_old_outages_go_with_their_month_and_open_ones_stay():
    start = datetime(2026, 10, 10, tzinfo=UTC)
    ledger = stored(advance_ledger(None, True, [], {"zone-a": ZoneState(True, start), "zone-b": ZoneState(True, start)},
                                   start))
    ledger = stored(advance_ledger(ledger, True, [], {"zone-a": ZoneState(False, datetime(2026, 10, 11, tzinfo=UTC)),
                                                      "zone-b": ZoneState(True, start)},
                                   datetime(2026, 10, 11, tzinfo=UTC)))
    same = {"zone-a": ZoneState(False, datetime(2026, 10, 11, tzinfo=UTC)), "zone-b": ZoneState(True, start)}
    november = stored(advance_ledger(ledger, True, [], same, datetime(2026, 11, 1, 0, 0, 1, tzinfo=UTC)))
    assert [o["zone"] for o in november["zoneOutages"]] == ["zone-a", "zone-b"]
    december = stored(advance_ledger(november, True, [], same, datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)))
    assert december["zoneOutages"] == [{"zone": "zone-b", "start": "2026-10-10T00:00:00Z"}]


def test_outages_are_capped_oldest_ended_first():
    ledger = stored(advance_ledger(None, True, [], NO_ZONES, T0))
    for i in range(60):
        ledger = advance_ledger(ledger, True, [], {"zone-a": ZoneState(True, None)}, at(minutes=2 * i + 1))
        ledger = advance_ledger(ledger, True, [], {"zone-a": ZoneState(False, None)}, at(minutes=2 * i + 2))
    ledger = advance_ledger(ledger, True, [], {"zone-a": ZoneState(True, None)}, at(hours=5))
    ledger = stored(ledger)
    assert len(ledger["zoneOutages"]) == sla.OUTAGES_CAP and ledger["zoneOutagesTruncated"] == 61 - sla.OUTAGES_CAP
    assert ledger["zoneOutages"][-1] == {"zone": "zone-a", "start": "2026-11-20T15:00:00Z"}


# ---- causes, from a real evaluation -------------------------------------------------------------


def deployment(name: str, replicas: int, spread: str | None = None, pinned: str | None = None) -> dict:
    pod_spec: dict = {"containers": [{"name": "app", "image": "app:1"}]}
    if spread:
        pod_spec["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": ZONE_LABEL, "whenUnsatisfiable": spread,
                                                  "labelSelector": {"matchLabels": {"app": name}}}]
    if pinned:
        pod_spec["nodeSelector"] = {ZONE_LABEL: pinned}
    return {"metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}}


def world(*deployments: dict, pods: dict[str, list[str]]) -> ClusterView:
    view = ClusterView(pods_observed=True, nodes_observed=True)
    view.add("Namespace", [project("Namespace", {"metadata": {"name": "shop"}})])
    view.add("Node", [project("Node", {"metadata": {"name": f"node-{z}", "labels": {ZONE_LABEL: f"zone-{z}"}}})
                      for z in "abc"])
    view.add("Deployment", [project("Deployment", d) for d in deployments])
    view.add("Pod", [project("Pod", {
        "metadata": {"name": f"{app}-{i}", "namespace": "shop", "labels": {"app": app}},
        "spec": {"nodeName": f"node-{z}", "containers": [{"name": "app", "image": "app:1"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
        for app, zones in pods.items() for i, z in enumerate(zones)])
    return view


def causes_of(view: ClusterView) -> tuple[bool, list[tuple[str, str]]]:
    outcome = evaluate_zonespread(ZoneSpreadSpec(), "shop", "sla", view, T0)
    causes = sla.sla_causes(outcome.detail, "shop", "sla")
    assert (not causes) == outcome.detail.sla_eligible
    return outcome.detail.sla_eligible, [(c.name, c.rule) for c in causes]


def test_causes_name_each_workload_and_the_rule_that_makes_it_not_eligible():
    assert causes_of(world(deployment("web", 3, "DoNotSchedule"), pods={"web": ["a", "b", "c"]})) == (True, [])
    assert causes_of(world(deployment("web", 3), pods={"web": ["a", "b", "c"]})) == (False, [("web", "ZS-002")])
    assert causes_of(world(deployment("web", 3, "ScheduleAnyway"), pods={"web": ["a", "b", "c"]})) == (
        False, [("web", "ZS-003")])
    # One pod, pinned to zone-a: too few zones, and why (one replica, a pinned placement).
    assert causes_of(world(deployment("api", 1, "DoNotSchedule", pinned="zone-a"),
                           deployment("web", 3, "DoNotSchedule"),
                           pods={"api": ["a"], "web": ["a", "b", "c"]})) == (
        False, [("api", "ZS-001"), ("api", "ZS-004"), ("api", "ZS-006")])
    # A PodDisruptionBudget missing (ZS-005) fails the policy, not the SLA.
    assert causes_of(world(pods={})) == (False, [("sla", "")])


# ---- metrics, read from the ledgers and the nodes at scrape time -----------------------------------


def test_the_metrics_add_the_time_since_the_last_change_and_follow_the_nodes():
    from types import SimpleNamespace

    from sncguard.controller.kube import KubeClient
    from sncguard.controller.metrics import Metrics
    from sncguard.controller.state import PolicyKey, PolicyRecord

    clock = {"now": at(hours=2)}
    metrics = Metrics(KubeClient(), clock=lambda: clock["now"])
    key = PolicyKey("ZoneSpread", "shop", "sla")
    ledger = stored(advance_ledger(None, True, [], NO_ZONES, T0))
    metrics.observe(PolicyRecord(key, "uid-1", 1, {}, {}), {"slaEligible": True, "slaLedger": ledger}, [])
    labels = {"namespace": "shop", "name": "sla"}
    assert metrics.registry.get_sample_value("sncguard_sla_eligible_seconds_total", labels) == 7200
    metrics.unobserved = [(at(hours=1), at(hours=1, minutes=10))]
    clock["now"] = at(hours=3)
    assert metrics.registry.get_sample_value("sncguard_sla_eligible_seconds_total", labels) == 3 * 3600 - 600
    metrics.forget(key)
    assert metrics.registry.get_sample_value("sncguard_sla_eligible_seconds_total", labels) is None

    class Store(dict):  # the informer's store: namespace ("*" for cluster-scoped) -> projections
        def count(self) -> int:
            return sum(len(v) for v in self.values())

    store = Store({"*": [node("a1", "zone-a", False), node("b1", "zone-b", True), node("b2", "zone-b", False)]})
    informer = SimpleNamespace(watched=SimpleNamespace(kind="Node", resource_label="nodes"), store=store, lists=1,
                               skipped=0)
    metrics.follow_informers([informer])
    assert metrics.registry.get_sample_value("sncguard_zone_outage", {"zone": "zone-a"}) == 1
    assert metrics.registry.get_sample_value("sncguard_zone_outage", {"zone": "zone-b"}) == 0


def test_a_node_readiness_change_alone_re_evaluates_only_the_zonespreads():
    from types import SimpleNamespace

    from sncguard.controller.kinds import BY_KIND

    marked: list[str] = []
    engine = SimpleNamespace(mark_kind=marked.append)
    affects = BY_KIND["Node"].affects
    ready, down = node("n-ready", "zone-a", True), node("n-ready", "zone-a", False, "2026-11-20T10:00:00Z")
    moved = node("n-ready", "zone-b", False, "2026-11-20T10:00:00Z")
    affects(engine, "", "n-ready", None, ready)
    assert marked == ["ZoneSpread", "TenantPolicy", "BackupPolicy"], "a node first seen moves everything"
    marked.clear()
    affects(engine, "", "n-ready", ready, down)
    assert marked == ["ZoneSpread"]
    marked.clear()
    affects(engine, "", "n-ready", down, moved)
    assert marked == ["ZoneSpread", "TenantPolicy", "BackupPolicy"], "its labels move everything"
    marked.clear()
    affects(engine, "", "n-ready", moved, None)
    assert marked == ["ZoneSpread", "TenantPolicy", "BackupPolicy"]
