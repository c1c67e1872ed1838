"""From the apiserver's audit log to the benchmark's figures. Pure: no cluster, no clock, no I/O but reading lines.

The audit log (JSON lines, ``--audit-log-format=json``) has one event per request and stage; the
policy of ``localcluster.py --audit`` records the operator's writes at Request level (with their
bodies) and everything else at Metadata level, without the RequestReceived stage. What is used:

- ``requestReceivedTimestamp``: when the apiserver got the request (a change's moment);
- ``stageTimestamp`` of the ResponseComplete stage: when the answer was complete (a status
  becoming visible to readers);
- ``user.username``: the operator runs under its own user, so its requests can be told apart;
- ``requestObject``: the body of the operator's writes, to rebuild each policy's status from its
  merge patches and to compare bodies of identical requests.

Changes made by the benchmark carry ``fieldManager=<tag>`` in their URI, which finds them here.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
LONG_RUNNING_VERBS = frozenset({"watch"})
POLICY_RESOURCES = {"zonespreads": "ZoneSpread", "tenantpolicies": "TenantPolicy", "backuppolicies": "BackupPolicy"}


def parse_time(text: str) -> float:
    """RFC 3339 with optional fraction (audit uses microseconds) -> POSIX seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class Request:
    audit_id: str
    stage: str
    verb: str
    uri: str
    user: str
    received: float
    done: float  # stageTimestamp: complete for ResponseComplete, started for a watch still open
    code: int
    resource: str = ""
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    body: Any = None  # requestObject, when the audit level recorded it

    @property
    def is_write(self) -> bool:
        return self.verb in WRITE_VERBS

    @property
    def is_watch(self) -> bool:
        return self.verb in LONG_RUNNING_VERBS

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    def body_key(self) -> str:
        return "" if self.body is None else json.dumps(self.body, sort_keys=True, separators=(",", ":"))


def parse_event(event: Mapping[str, Any], keep_bodies_of: str | None = None) -> Request | None:
    stage = event.get("stage", "")
    if stage not in ("ResponseComplete", "ResponseStarted", "Panic"):
        return None
    ref = event.get("objectRef") or {}
    user = (event.get("user") or {}).get("username", "")
    body = event.get("requestObject") if keep_bodies_of is None or user == keep_bodies_of else None
    return Request(
        audit_id=event.get("auditID", ""),
        stage=stage,
        verb=event.get("verb", ""),
        uri=event.get("requestURI", ""),
        user=user,
        received=parse_time(event["requestReceivedTimestamp"]),
        done=parse_time(event["stageTimestamp"]),
        code=int((event.get("responseStatus") or {}).get("code") or 0),
        resource=ref.get("resource", ""),
        namespace=ref.get("namespace", ""),
        name=ref.get("name", ""),
        subresource=ref.get("subresource", ""),
        body=body,
    )


def load_requests(lines: Iterable[str], keep_bodies_of: str | None = None) -> list[Request]:
    """One Request per audit ID, ResponseComplete preferred (a watch still open has only ResponseStarted),
    sorted by the time they were received. Lines that are not JSON (a torn last line) are skipped."""
    by_id: dict[str, Request] = {}
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        request = parse_event(event, keep_bodies_of)
        if request is None:
            continue
        previous = by_id.get(request.audit_id)
        if previous is None or request.stage != "ResponseStarted":
            by_id[request.audit_id] = request
    return sorted(by_id.values(), key=lambda r: (r.received, r.done))


# --------------------------------------------------------------------------- generic figures


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100), linear between closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def of_user(requests: Iterable[Request], user: str) -> list[Request]:
    return [r for r in requests if r.user == user]


def within(requests: Iterable[Request], start: float, end: float) -> list[Request]:
    """Requests received in [start, end)."""
    return [r for r in requests if start <= r.received < end]


def writes(requests: Iterable[Request]) -> list[Request]:
    return [r for r in requests if r.is_write]


def non_watch(requests: Iterable[Request]) -> list[Request]:
    return [r for r in requests if not r.is_watch]


def describe(request: Request) -> str:
    sub = f"/{request.subresource}" if request.subresource else ""
    where = f"{request.namespace}/" if request.namespace else ""
    return f"{request.verb} {request.resource}{sub} {where}{request.name}".rstrip()


def breakdown(requests: Iterable[Request]) -> dict[str, int]:
    """'verb resource[/subresource]' -> count, most frequent first."""
    counts = Counter(f"{r.verb} {r.resource}" + (f"/{r.subresource}" if r.subresource else "") for r in requests)
    return dict(counts.most_common())


@dataclass
class IdenticalRequests:
    count: int = 0  # requests that repeat an identical one received less than `window` before
    examples: list[dict[str, Any]] = field(default_factory=list)


def identical_requests(requests: Iterable[Request], window: float = 1.0, max_examples: int = 5) -> IdenticalRequests:
    """Requests with the same verb, URI and body as the previous such request, received less than
    `window` seconds after it (R5: identical requests at most once per second)."""
    groups: dict[tuple[str, str, str], list[Request]] = defaultdict(list)
    for r in requests:
        groups[(r.verb, r.uri, r.body_key())].append(r)
    out = IdenticalRequests()
    for (verb, uri, _), members in groups.items():
        members.sort(key=lambda r: r.received)
        for before, after in itertools.pairwise(members):
            gap = after.received - before.received
            if gap < window:
                out.count += 1
                if len(out.examples) < max_examples:
                    out.examples.append({"verb": verb, "uri": uri, "gap_s": round(gap, 4)})
    return out


# --------------------------------------------------------------------------- status timelines


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new value, `target` is not modified."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


PolicyRef = tuple[str, str, str]  # (kind, namespace or "", name)


def policy_ref(request: Request) -> PolicyRef | None:
    kind = POLICY_RESOURCES.get(request.resource)
    return None if kind is None else (kind, request.namespace, request.name)


def status_timelines(requests: Iterable[Request], user: str) -> dict[PolicyRef, list[tuple[float, dict[str, Any]]]]:
    """Per policy, [(moment the write completed, status after it)], rebuilt from `user`'s successful
    merge patches of the status subresource, in order of completion. The first patch of a policy
    without status is the whole status (the operator diffs against what it last wrote)."""
    timelines: dict[PolicyRef, list[tuple[float, dict[str, Any]]]] = {}
    ordered = sorted((r for r in requests if r.user == user and r.verb == "patch" and r.subresource == "status"
                      and r.ok and isinstance(r.body, Mapping)), key=lambda r: r.done)
    for r in ordered:
        ref = policy_ref(r)
        if ref is None:
            continue
        line = timelines.setdefault(ref, [])
        current = line[-1][1] if line else {}
        status = merge_patch(current, r.body.get("status") or {})
        line.append((r.done, status))
    return timelines


def redundant_status_writes(timelines: Mapping[PolicyRef, list[tuple[float, dict[str, Any]]]]) -> int:
    """Status patches that left the status as it was: what "one write per effective change" forbids."""
    return sum(1 for line in timelines.values()
               for (_, before), (_, after) in itertools.pairwise(line) if before == after)


def wrong_at_rest(timelines: Mapping[PolicyRef, list[tuple[float, dict[str, Any]]]], until: float,
                  expected: Callable[[PolicyRef], str]) -> dict[str, list[str]]:
    """Policies whose last status before `until` does not say what the world states (`expected`:
    "True" for Compliant) -> the rules they fail, or why they are wrong: a fast wrong answer fails."""
    wrong: dict[str, list[str]] = {}
    for ref, line in sorted(timelines.items()):
        at_rest = [status for moment, status in line if moment <= until]
        status = at_rest[-1] if at_rest else {}
        got = next((c.get("status") for c in status.get("conditions") or () if c.get("type") == "Compliant"),
                   "no status")
        if got != expected(ref):
            failing = sorted({f.get("rule", "?") for f in status.get("findings") or () if f.get("result") == "fail"})
            wrong["/".join(x for x in ref if x)] = failing or [f"Compliant={got}"]
    return wrong


def first_status_times(timelines: Mapping[PolicyRef, list[tuple[float, dict[str, Any]]]]) -> dict[PolicyRef, float]:
    return {ref: line[0][0] for ref, line in timelines.items() if line}


# --------------------------------------------------------------------------- expectations


def satisfied(status: Mapping[str, Any], expect: Mapping[str, Any]) -> bool:
    """Whether a status reflects a change, as described by `expect`:

    - ``{"type": "finding", "rule": R, "name": N, "result": "fail", "present": bool}``: a finding
      of rule R about a resource named N with that result is (or is not) in ``status.findings``;
    - ``{"type": "at_least", "field": F, "value": V}``: ``status[F] >= V``.
    """
    kind = expect.get("type")
    if kind == "finding":
        found = any(f.get("rule") == expect["rule"] and (f.get("resource") or {}).get("name") == expect["name"]
                    and f.get("result") == expect.get("result", "fail") for f in status.get("findings") or ())
        return found == bool(expect.get("present", True))
    if kind == "at_least":
        value = status.get(expect["field"])
        return isinstance(value, int | float) and value >= expect["value"]
    raise ValueError(f"unknown expectation {expect!r}")


@dataclass(frozen=True)
class Change:
    """A change the benchmark made: found in the audit log by `tag` (fieldManager in its URI)."""

    tag: str
    type: str
    target: PolicyRef
    expect: Mapping[str, Any]


@dataclass
class ChangeResult:
    tag: str
    type: str
    target: PolicyRef
    received: float | None = None  # the change's requestReceivedTimestamp
    reflected: float | None = None  # the stageTimestamp of the first status write that reflects it
    writes: int = 0  # the operator's writes received from this change until the next one
    status_writes_to_target: int = 0

    @property
    def latency(self) -> float | None:
        if self.received is None or self.reflected is None:
            return None
        return self.reflected - self.received


def find_change_requests(requests: Iterable[Request], tags: Iterable[str]) -> dict[str, Request]:
    """tag -> the successful request whose URI carries fieldManager=<tag>."""
    wanted = set(tags)
    out: dict[str, Request] = {}
    for r in requests:
        if "fieldManager=" not in r.uri or not r.ok:
            continue
        query = r.uri.split("?", 1)[1] if "?" in r.uri else ""
        for part in query.split("&"):
            if part.startswith("fieldManager="):
                tag = part[len("fieldManager="):]
                if tag in wanted and tag not in out:
                    out[tag] = r
    return out


def pair_changes(changes: Sequence[Change], requests: Sequence[Request], user: str,
                 horizon: float = 60.0) -> list[ChangeResult]:
    """For each change, when it was received, when a status write of `user` first reflected it (within
    `horizon` seconds), and how many writes `user` made from it until the next change."""
    found = find_change_requests(requests, (c.tag for c in changes))
    timelines = status_timelines(requests, user)
    own_writes = sorted((r for r in requests if r.user == user and r.is_write), key=lambda r: r.received)
    results = []
    for change in changes:
        res = ChangeResult(change.tag, change.type, change.target)
        request = found.get(change.tag)
        if request is not None:
            res.received = request.received
            for moment, status in timelines.get(change.target, ()):
                if moment <= res.received:
                    continue
                if moment > res.received + horizon:
                    break
                if satisfied(status, change.expect):
                    res.reflected = moment
                    break
        results.append(res)
    # Writes attributed to a change: received from it until the next change was received.
    moments = sorted((r.received, i) for i, r in enumerate(results) if r.received is not None)
    for k, (start, i) in enumerate(moments):
        end = moments[k + 1][0] if k + 1 < len(moments) else start + horizon
        window = within(own_writes, start, end)
        results[i].writes = len(window)
        results[i].status_writes_to_target = sum(
            1 for r in window if r.subresource == "status" and policy_ref(r) == results[i].target)
    return results


def summarize_changes(results: Sequence[ChangeResult], phase_writes: Sequence[Request]) -> dict[str, Any]:
    """The change figures: latency percentiles over the reflected changes, writes per effective change.

    `phase_writes` is every write of the operator from the first change until the operator was quiet
    again; dividing it by the effective changes charges every write of the phase to some change. The
    split says what they were: status patches, and the Events posted when compliance flips.
    """
    latencies = [r.latency for r in results if r.latency is not None]
    effective = len(latencies)
    per_type: dict[str, dict[str, Any]] = {}
    for kind in sorted({r.type for r in results}):
        mine = [r for r in results if r.type == kind]
        lat = [r.latency for r in mine if r.latency is not None]
        per_type[kind] = {
            "changes": len(mine), "reflected": len(lat),
            "p50_s": _round(percentile(lat, 50)), "p99_s": _round(percentile(lat, 99)),
            "max_s": _round(max(lat, default=None)),
            "writes_per_change": _round(sum(r.writes for r in mine) / len(lat)) if lat else None,
            "status_writes_to_target_per_change": _round(sum(r.status_writes_to_target for r in mine) / len(lat))
            if lat else None,
        }
    return {
        "changes": len(results),
        "effective_changes": effective,
        "not_reflected": [r.tag for r in results if r.latency is None],
        "p50_change_to_status_s": _round(percentile(latencies, 50)),
        "p90_change_to_status_s": _round(percentile(latencies, 90)),
        "p99_change_to_status_s": _round(percentile(latencies, 99)),
        "max_change_to_status_s": _round(max(latencies, default=None)),
        "writes_per_change": _round(len(phase_writes) / effective) if effective else None,
        "status_writes_per_change": _round(sum(1 for r in phase_writes if r.subresource == "status") / effective)
        if effective else None,
        "event_writes_per_change": _round(sum(1 for r in phase_writes if r.resource == "events") / effective)
        if effective else None,
        "per_type": per_type,
    }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# --------------------------------------------------------------------------- scaling (1x -> 10x)

MIB = 1024 * 1024


def growth_exponent(size_a: float, cost_a: float | None, size_b: float, cost_b: float | None) -> float | None:
    """k in cost ∝ size^k through two points: log(cost_b / cost_a) / log(size_b / size_a). None when a cost
    is missing or not positive, or the sizes are equal (no slope to read)."""
    if cost_a is None or cost_b is None or cost_a <= 0 or cost_b <= 0 or size_a <= 0 or size_b <= 0:
        return None
    if size_a == size_b:
        return None
    return round(math.log(cost_b / cost_a) / math.log(size_b / size_a), 3)


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes an object holds in CPython: sys.getsizeof of it and of everything it reaches (containers,
    dataclass and __slots__ attributes), each object counted once. Interned or shared objects reached
    from several roots count once per `seen` set: pass one set across objects to count sharing."""
    import sys

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if obj is None or (isinstance(obj, bool | int) and -5 <= obj <= 256):
        return 0  # CPython's shared singletons and small ints belong to nobody
    size = sys.getsizeof(obj)
    if isinstance(obj, str | bytes | int | float):
        return size
    if isinstance(obj, Mapping):
        return size + sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    if isinstance(obj, list | tuple | set | frozenset):
        return size + sum(deep_size(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        size += deep_size(vars(obj), seen)
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if hasattr(obj, slot):
                size += deep_size(getattr(obj, slot), seen)
    return size


def _get(results: Mapping[str, Any], *path: str) -> Any:
    value: Any = results
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def memory_per_object(marginal_bytes_per_namespace: float | None, per_namespace: Mapping[str, float],
                      unit_bytes: Mapping[str, float]) -> dict[str, float | None]:
    """Apportion what one more namespace costs (with everything in it) to the kinds it holds, in proportion
    to their projections' sizes: kind -> bytes per object. `per_namespace`: objects of each kind per
    namespace; `unit_bytes`: the deep size of one projection of each kind."""
    weights = {kind: per_namespace[kind] * unit_bytes[kind] for kind in per_namespace if kind in unit_bytes}
    total = sum(weights.values())
    if marginal_bytes_per_namespace is None or total <= 0:
        return {kind: None for kind in per_namespace}
    return {kind: round(marginal_bytes_per_namespace * unit_bytes[kind] / total) if kind in unit_bytes else None
            for kind in per_namespace}


RSS_METHOD = (
    "RSS exponent on VmHWM (peak RSS over the whole life) less the empty operator's RSS (details."
    "operator_rss_mb_baseline: `sncguard run` on the cluster before the world exists, VmRSS 5 s after it is "
    "live) when a run measured it, else raw.")
MEMORY_METHOD = (
    "Marginal RSS: (RSS after the cold start at 10x - at 1x) / (namespaces at 10x - at 1x) is what one more "
    "namespace costs with everything in it (its Deployments, pods, PDBs, Services, NetworkPolicies, "
    "RoleBindings, Backups, policies); it is shared out to the kinds in proportion to the deep size "
    "(sys.getsizeof, recursively) of one projection of each, measured by the benchmark with the operator's "
    "own `view.project` on the world's objects (details.projection_bytes). The projection sizes alone are "
    "what the stores hold; the RSS shares add the store's dicts, the indexes, the policies' state and the "
    "allocator's slack, in the same proportion.")


def scaling(base: Mapping[str, Any], scaled: Mapping[str, Any]) -> dict[str, Any]:
    """The growth from one run (1x) to a bigger one (10x): cost ∝ size^k for cold start, RSS and CPU, with
    size the number of pods (every kind of the world grows with it), and the memory per object."""
    size_a, size_b = _get(base, "size", "pods"), _get(scaled, "size", "pods")
    if not size_a or not size_b:
        raise ValueError("both results need size.pods")
    baseline = _get(scaled, "details", "operator_rss_mb_baseline") or _get(base, "details", "operator_rss_mb_baseline")

    def above(results: Mapping[str, Any]) -> float | None:
        peak = results.get("operator_peak_rss_mb")
        return None if peak is None or baseline is None else peak - baseline

    def k(cost: Callable[[Mapping[str, Any]], Any]) -> float | None:
        return growth_exponent(size_a, cost(base), size_b, cost(scaled))

    rss_key = "above_baseline" if baseline is not None else "raw"
    exponents = {
        "cold_start_s": k(lambda r: r.get("cold_start_s")),
        "operator_peak_rss_mb": k(above) if baseline is not None else k(lambda r: r.get("operator_peak_rss_mb")),
        "operator_peak_rss_mb_raw": k(lambda r: r.get("operator_peak_rss_mb")),
        "operator_cpu_s": k(lambda r: r.get("operator_cpu_s")),
        "operator_cpu_s_cold_start": k(lambda r: _get(r, "details", "operator_cpu_s_by_phase", "cold_start")),
        "operator_cpu_s_changes": k(lambda r: _get(r, "details", "operator_cpu_s_by_phase", "changes")),
    }
    ns_a, ns_b = _get(base, "size", "namespaces"), _get(scaled, "size", "namespaces")
    rss_a = _get(base, "details", "operator_rss_mb_after_cold_start") or base.get("operator_peak_rss_mb")
    rss_b = _get(scaled, "details", "operator_rss_mb_after_cold_start") or scaled.get("operator_peak_rss_mb")
    marginal = None
    if ns_a and ns_b and ns_b != ns_a and rss_a is not None and rss_b is not None:
        marginal = (rss_b - rss_a) * MIB / (ns_b - ns_a)
    per_namespace = _get(scaled, "details", "objects_per_namespace") or {}
    unit = _get(scaled, "details", "projection_bytes") or {}
    per_object = memory_per_object(marginal, per_namespace, unit)
    return {
        "size_measure": "pods",
        "from": {"pods": size_a, "namespaces": ns_a, "deployments": _get(base, "size", "deployments"),
                 "git": _get(base, "machine", "git")},
        "to": {"pods": size_b, "namespaces": ns_b, "deployments": _get(scaled, "size", "deployments"),
               "git": _get(scaled, "machine", "git")},
        "size_ratio": round(size_b / size_a, 3),
        "exponents": exponents,
        "rss": rss_key,
        "rss_baseline_mb": baseline,
        "rss_method": RSS_METHOD,
        "marginal_rss_bytes_per_namespace": None if marginal is None else round(marginal),
        "memory_per_object_bytes": {kind: per_object.get(kind) for kind in ("Pod", "Deployment", "Namespace")},
        "memory_per_object_bytes_all": per_object,
        "projection_bytes": dict(unit),
        "memory_method": MEMORY_METHOD,
    }
