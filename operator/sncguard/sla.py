"""The SLA ledger of a ZoneSpread (R1, R6): how long its workloads were, and were not, SLA-eligible.

Pure functions of the previous ledger (the one in the policy's status), what the policy observes
now and the time passed in: no clock, no I/O. The ledger is written only when something in it
changes, never because time passed, so a policy at rest costs no write:

- `accountedUntil`: the month totals and the lifetime `totals` count up to this moment. From there
  on, the time belongs to `current` (eligible or not, `since` when): a reader adds
  `now - accountedUntil` to the current month's bucket (`accrued` does that for the metrics).
- A change of eligibility, of the causes of non-eligibility, of a zone outage, or a new UTC month
  (an engine timer wakes the policy at the month's first second) folds the time since
  `accountedUntil` into the totals and is one write.
- Time when no sncguard observed (the gaps between the last renewal of a leader's Lease and the next
  leader taking over, kept on that Lease; see `record_gap`) counts as `unobservedSeconds`, never in
  the state's bucket. A restart on an unchanged world writes nothing: its gap is folded in at the
  next change, since the Lease keeps it.
- `months` holds the current and the previous month, each with its intervals of non-eligibility
  and their causes (which workload, which rule); zone outages (every node of a zone NotReady) with
  their start, the earliest of detection and the nodes' own report (their Ready condition's
  lastTransitionTime), and their end.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .findings import Result
from .timefmt import parse_rfc3339, rfc3339_seconds
from .view import Node

if TYPE_CHECKING:
    from .rules.zonespread import ZoneSpreadEvaluation

MONTHS_KEPT = 2
INTERVALS_CAP = 50
CAUSES_CAP = 10
OUTAGES_CAP = 50
GAPS_CAP = 100
BUCKETS = ("eligibleSeconds", "notEligibleSeconds", "unobservedSeconds")

Gap = tuple[datetime, datetime]


# ---- time ---------------------------------------------------------------------------------------

# The name controller/leader.py still imports; timefmt is its home.


def _second(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def month_key(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month_start(moment: datetime) -> datetime:
    """The first second of the UTC month after `moment`'s: when the ledger rolls over."""
    moment = _second(moment)
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)


def _previous_month_start(moment: datetime) -> datetime:
    start = month_start(moment)
    return datetime(start.year - (start.month == 1), (start.month - 2) % 12 + 1, 1, tzinfo=UTC)


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


# ---- what the policy observes -------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Cause:
    """Why the policy is not SLA-eligible: a workload and the rule it fails, or (rule "") the policy
    itself, which selects no workload."""

    kind: str
    namespace: str
    name: str
    rule: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "namespace": self.namespace, "name": self.name}
        if self.rule:
            out["rule"] = self.rule
        return out


def sla_causes(result: ZoneSpreadEvaluation, namespace: str, name: str) -> list[Cause]:
    """Exactly what makes `result.sla_eligible` false, per workload: spreading not declared (ZS-002)
    or only soft (ZS-003), pods running in too few zones (ZS-004), and, for such a workload, the
    failures that explain it (ZS-001 too few replicas, ZS-006 pinned). Empty when eligible."""
    if not result.assessments:
        return [Cause("ZoneSpread", namespace, name)]
    failing = {(f.resource.kind, f.resource.name, f.rule.id) for f in result.findings if f.result is Result.FAIL}
    placed = {(f.resource.kind, f.resource.name) for f in result.findings
              if f.rule.id == "ZS-004" and f.result is Result.PASS}
    causes: set[Cause] = set()
    for assessment in result.assessments:
        w = assessment.workload
        rules = []
        if not assessment.spread_hard:
            rules.append("ZS-003" if assessment.spread_declared else "ZS-002")
        if (w.kind, w.name) not in placed:
            rules.append("ZS-004")
        if rules:
            rules += [r for r in ("ZS-001", "ZS-006") if (w.kind, w.name, r) in failing]
        causes.update(Cause(w.kind, w.namespace, w.name, r) for r in rules)
    return sorted(causes)


@dataclass(frozen=True)
class ZoneState:
    """A zone as its nodes report it: `out` when every node is NotReady. `reported` is when the nodes
    said so (their Ready conditions' lastTransitionTime): for an outage, the moment its last node
    went down; for a zone that is up, the moment its first Ready node became Ready. None when a node
    does not say."""

    out: bool
    reported: datetime | None = None


def zone_states(nodes: Iterable[Node], topology_key: str) -> dict[str, ZoneState]:
    """Each zone (a value of `topology_key` on some node) -> its state."""
    by_zone: dict[str, list[Node]] = {}
    for node in nodes:
        zone = node.labels.get(topology_key)
        if zone:
            by_zone.setdefault(zone, []).append(node)
    states = {}
    for zone, members in sorted(by_zone.items()):
        out = not any(n.ready for n in members)
        relevant = members if out else [n for n in members if n.ready]
        times = []
        for n in relevant:
            try:
                times.append(parse_rfc3339(n.ready_since) if n.ready_since else None)
            except ValueError:
                times.append(None)
        known = [t for t in times if t is not None]
        if out:
            reported = max(known) if known and len(known) == len(times) else None
        else:
            reported = min(known) if known else None
        states[zone] = ZoneState(out, reported)
    return states


# ---- unobserved time ----------------------------------------------------------------------------


def merge_gaps(gaps: Iterable[Gap]) -> list[Gap]:
    """Sorted, overlapping or touching gaps joined, empty ones left out, to whole seconds."""
    out: list[Gap] = []
    for start, end in sorted((_second(s), _second(e)) for s, e in gaps):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def read_gaps(text: str | None) -> list[Gap]:
    """The gaps kept on the leader Lease (a JSON list of [start, end]); what cannot be read is dropped."""
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return []
    gaps = []
    for item in items if isinstance(items, list) else ():
        try:
            start, end = item
            gaps.append((parse_rfc3339(start), parse_rfc3339(end)))
        except (TypeError, ValueError, AttributeError):
            continue
    return merge_gaps(gaps)


def record_gap(kept: Sequence[Gap], last_seen: datetime | None, now: datetime) -> list[Gap]:
    """The gaps to keep once a leader takes over at `now` from one last seen alive at `last_seen` (the
    previous holder's last renewTime): a new gap between them, older ones ending before the previous
    month left out, at most GAPS_CAP (the most recent)."""
    gaps = list(kept)
    if last_seen is not None and last_seen < now:
        gaps.append((last_seen, now))
    horizon = _previous_month_start(_second(now))
    return [g for g in merge_gaps(gaps) if g[1] >= horizon][-GAPS_CAP:]


def write_gaps(gaps: Sequence[Gap]) -> str:
    return json.dumps([[rfc3339_seconds(s), rfc3339_seconds(e)] for s, e in gaps], separators=(",", ":"))


def _unobserved(gaps: Sequence[Gap], start: datetime, end: datetime) -> int:
    return sum(_seconds(max(start, s), min(end, e)) for s, e in gaps if s < end and e > start)


# ---- the ledger ---------------------------------------------------------------------------------


def _new_month(key: str) -> dict[str, Any]:
    return {"month": key, "eligibleSeconds": 0, "notEligibleSeconds": 0, "unobservedSeconds": 0,
            "intervals": [], "intervalsTruncated": 0}


def _causes_fields(causes: Sequence[Cause]) -> dict[str, Any]:
    unique = sorted(set(causes))
    fields: dict[str, Any] = {"causes": [c.as_dict() for c in unique[:CAUSES_CAP]]}
    if len(unique) > CAUSES_CAP:
        fields["causesTruncated"] = len(unique) - CAUSES_CAP
    return fields


def _state(current: Mapping[str, Any]) -> tuple[bool, Any, int]:
    return bool(current.get("eligible")), current.get("causes") or [], current.get("causesTruncated") or 0


def _open_interval(month: dict[str, Any], start: datetime, causes: Mapping[str, Any]) -> None:
    intervals = month["intervals"]
    intervals.append({"start": rfc3339_seconds(start), **copy.deepcopy(dict(causes))})
    while len(intervals) > INTERVALS_CAP:
        intervals.pop(0)
        month["intervalsTruncated"] = month.get("intervalsTruncated", 0) + 1


def _close_interval(month: dict[str, Any], end: datetime) -> dict[str, Any] | None:
    """End the month's open interval at `end` (one of no length goes); its causes, or None."""
    intervals = month["intervals"]
    if not intervals or "end" in intervals[-1]:
        return None
    interval = intervals[-1]
    causes = {k: v for k, v in interval.items() if k in ("causes", "causesTruncated")}
    if parse_rfc3339(interval["start"]) >= end:
        intervals.pop()
    else:
        interval["end"] = rfc3339_seconds(end)
    return causes


def _valid(ledger: Any) -> bool:
    """Whether `ledger` has what the arithmetic reads (the CRD's schema guarantees as much for what the
    API server stored; anything else starts a new ledger rather than failing every evaluation)."""
    try:
        parse_rfc3339(ledger["accountedUntil"])
        parse_rfc3339(ledger["current"]["since"])
        for outage in ledger.get("zoneOutages") or ():
            if not isinstance(outage["zone"], str):
                return False
            parse_rfc3339(outage["start"])
            if "end" in outage:
                parse_rfc3339(outage["end"])
        return isinstance(ledger["current"]["eligible"], bool) and all(
            isinstance(m["month"], str) and isinstance(m["intervals"], list) for m in ledger["months"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def _accrue(ledger: dict[str, Any], now: datetime, gaps: Sequence[Gap]) -> None:
    """Fold the time from `accountedUntil` to `now` into the totals (in place): into the current
    state's bucket, the unobserved part aside; an open interval is split at each month's end; only
    MONTHS_KEPT months stay."""
    start = parse_rfc3339(ledger["accountedUntil"])
    now = max(now, start)
    eligible = bool(ledger["current"]["eligible"])
    bucket = "eligibleSeconds" if eligible else "notEligibleSeconds"
    months = {m["month"]: m for m in ledger["months"]}
    totals = ledger.setdefault("totals", dict.fromkeys(BUCKETS, 0))
    t = start
    while True:
        boundary = next_month_start(t)
        stop = min(now, boundary)
        month = months.setdefault(month_key(t), _new_month(month_key(t)))
        unobserved = _unobserved(gaps, t, stop)
        observed = _seconds(t, stop) - unobserved
        for target in (month, totals):
            target[bucket] = target.get(bucket, 0) + observed
            target["unobservedSeconds"] = target.get("unobservedSeconds", 0) + unobserved
        if boundary > now:
            break
        following = months.setdefault(month_key(boundary), _new_month(month_key(boundary)))
        if not eligible and (causes := _close_interval(month, boundary)) is not None:
            _open_interval(following, boundary, causes)
        t = boundary
    kept = sorted(months)[-MONTHS_KEPT:]
    ledger["months"] = [months[k] for k in kept]
    ledger["accountedUntil"] = rfc3339_seconds(now)


def _advance_outages(previous: Sequence[Mapping[str, Any]], truncated: int, zones: Mapping[str, ZoneState],
                     now: datetime) -> tuple[list[dict[str, Any]], int]:
    outages = [dict(o) for o in previous]
    open_ones = {o["zone"]: o for o in outages if "end" not in o}
    for zone, outage in open_ones.items():
        state = zones.get(zone)
        if state is None or not state.out:
            end = now if state is None or state.reported is None else min(now, state.reported)
            outage["end"] = rfc3339_seconds(max(end, parse_rfc3339(outage["start"])))
    for zone, state in sorted(zones.items()):
        if state.out and zone not in open_ones:
            start = now if state.reported is None else min(now, state.reported)
            ended = [parse_rfc3339(o["end"]) for o in outages if o["zone"] == zone and "end" in o]
            if ended:
                start = max(start, max(ended))
            outages.append({"zone": zone, "start": rfc3339_seconds(start)})
    horizon = _previous_month_start(now)
    outages = [o for o in outages if "end" not in o or parse_rfc3339(o["end"]) >= horizon]
    outages.sort(key=lambda o: (o["start"], o["zone"]))
    while len(outages) > OUTAGES_CAP:
        oldest = next((o for o in outages if "end" in o), outages[0])
        outages.remove(oldest)
        truncated += 1
    return outages, truncated


def _fresh(eligible: bool, causes: Sequence[Cause], zones: Mapping[str, ZoneState], now: datetime) -> dict[str, Any]:
    current: dict[str, Any] = {"eligible": eligible, "since": rfc3339_seconds(now)}
    month = _new_month(month_key(now))
    if not eligible:
        current.update(_causes_fields(causes))
        _open_interval(month, now, _causes_fields(causes))
    outages, truncated = _advance_outages([], 0, zones, now)
    started = rfc3339_seconds(now)
    return {"startedAt": started, "accountedUntil": started, "current": current, "months": [month],
            "totals": dict.fromkeys(BUCKETS, 0), "zoneOutages": outages, "zoneOutagesTruncated": truncated}


def advance_ledger(previous: Mapping[str, Any] | None, eligible: bool, causes: Sequence[Cause],
                   zones: Mapping[str, ZoneState], now: datetime, unobserved: Sequence[Gap] = ()) -> dict[str, Any]:
    """The ledger after observing, at `now`, the policy `eligible` or not (for `causes`) and the
    `zones`; `unobserved` are the gaps no sncguard observed. Returns `previous` itself, unchanged,
    when nothing in it changes (same state and causes, same outages, same month): time passing
    alone is never a write. A ledger that cannot be read starts afresh."""
    now = _second(now)
    causes = [] if eligible else list(causes)
    if previous is None or not _valid(previous):
        return _fresh(eligible, causes, zones, now)
    current = previous["current"]
    accounted = parse_rfc3339(previous["accountedUntil"])
    now = max(now, accounted)
    new_current_fields = {} if eligible else _causes_fields(causes)
    new_state = (eligible, new_current_fields.get("causes") or [], new_current_fields.get("causesTruncated") or 0)
    state_changed = _state(current) != new_state
    outages, truncated = _advance_outages(previous.get("zoneOutages") or [], previous.get("zoneOutagesTruncated") or 0,
                                          zones, now)
    outages_changed = outages != list(previous.get("zoneOutages") or []) or truncated != (
        previous.get("zoneOutagesTruncated") or 0)
    if not state_changed and not outages_changed and month_key(now) == month_key(accounted):
        return previous if isinstance(previous, dict) else dict(previous)
    ledger = copy.deepcopy(dict(previous))
    _accrue(ledger, now, merge_gaps(unobserved))
    if state_changed:
        month = ledger["months"][-1]
        if not current["eligible"]:
            _close_interval(month, now)
        if not eligible:
            _open_interval(month, now, new_current_fields)
        since = current["since"] if bool(current["eligible"]) == eligible else rfc3339_seconds(now)
        ledger["current"] = {"eligible": eligible, "since": since, **new_current_fields}
    ledger["zoneOutages"] = outages
    ledger["zoneOutagesTruncated"] = truncated
    return ledger


def accrued(ledger: Mapping[str, Any], now: datetime, unobserved: Sequence[Gap] = ()) -> dict[str, Any] | None:
    """The ledger as a reader at `now` sees it: the time since `accountedUntil` added to the current
    state's bucket (the unobserved part aside). None when it cannot be read."""
    if not _valid(ledger):
        return None
    out = copy.deepcopy(dict(ledger))
    _accrue(out, _second(now), merge_gaps(unobserved))
    return out


def eligible_seconds_total(ledger: Mapping[str, Any], now: datetime, unobserved: Sequence[Gap] = ()) -> int | None:
    """Seconds the policy was observed SLA-eligible since its ledger started, as of `now` (what `accrued`
    would count, without copying the ledger: the metrics read it at every scrape)."""
    if not _valid(ledger):
        return None
    total = int((ledger.get("totals") or {}).get("eligibleSeconds") or 0)
    if ledger["current"]["eligible"]:
        start, now = parse_rfc3339(ledger["accountedUntil"]), _second(now)
        total += _seconds(start, now) - _unobserved(merge_gaps(unobserved), start, now)
    return total
