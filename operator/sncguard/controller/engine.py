"""The evaluation engine: which policies are dirty, when to evaluate them, what to write.

Events mark policies dirty; one worker drains them. A policy not evaluated lately is evaluated at
once; one evaluated within the last `debounce` waits for that window to close, so a burst of pod
events (a rollout, a scale-up) costs it two evaluations, and at most one status write per change.
The worker reads only in-memory indexes (kopf's and the informers'); the API sees writes and
nothing else. Deadlines (an RPO running out, an access grant expiring) are timers in the same
loop, never polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import heapq
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from .. import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from ..defaults import apply_defaults
from ..findings import Finding
from ..loader import parse_policy_spec
from ..netpol import ForeignPodReach, IPAddress, IPBlock, pod_address
from ..status import differs, invalid_status, status_patch
from ..tenancy import TenantSelection
from ..view import ClusterView
from .backup_index import BackupIndex
from .foreign_pods import ForeignPodIndex
from .kube import TRANSIENT_ERRORS, ApiError, KubeClient
from .state import PolicyKey, PolicyRecord

if TYPE_CHECKING:
    from ..view import Pod
    from .metrics import Metrics

log = logging.getLogger("sncguard.engine")

RETRY_AFTER_ERROR_S = 5.0
# A failed Enforce write (a quota, an admission webhook, a 5xx) is retried after 5 s, 10 s, 20 s...
# up to this, until it goes through: nothing else may ever re-evaluate the policy.
RETRY_CAP_S = 300.0
# The policy whose evaluation is running in this task: the writes it makes are counted against it.
_evaluating: contextvars.ContextVar[PolicyKey | None] = contextvars.ContextVar("evaluating", default=None)
CONCURRENCY = 8
# Deferred policies are evaluated this many at a time, so prompt work never waits behind them long.
DEFERRED_CHUNK = 4
# A policy's debounce window (see `Engine._ready_chunk`) is this close to closing: it is closed.
WINDOW_RESOLUTION_S = 0.001
_UNSEEN = object()
TIMER_TOLERANCE_S = 0.01


class Reconciler(Protocol):
    kind: str
    api_version: str

    async def reconcile(self, engine: Engine, record: PolicyRecord) -> None: ...

    async def deleted(self, engine: Engine, record: PolicyRecord) -> None: ...


def _values(index: Any, key: str) -> list:
    return list(index[key]) if index is not None and key in index else []


def subset(desired: Any, actual: Any) -> bool:
    """Whether everything `desired` sets is in `actual` (the API server may add defaults)."""
    if isinstance(desired, Mapping):
        return isinstance(actual, Mapping) and all(subset(v, actual.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(actual, list) and len(desired) == len(actual) and all(
            subset(d, a) for d, a in zip(desired, actual, strict=True))
    return desired == actual


class Engine:
    def __init__(self, client: KubeClient, *, language: str = "en", debounce: float = 0.2,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.language = language
        self.debounce = debounce
        self.clock = clock
        self.indexes: Mapping[str, Any] = {}
        self.reconcilers: dict[str, Reconciler] = {}
        # Kinds sncguard may not list -> what the API server said (the informers keep it current).
        self.forbidden: dict[str, str] = {}
        # kopf invokes non-index handlers only once every index is filled: the first such call opens this.
        self.indexed = asyncio.Event()
        # The informers' initial lists, each done once its store holds the whole kind.
        self.synced: list[asyncio.Event] = []
        # Which TenantPolicies cover a namespace, as of their last evaluation.
        self.tenant_policies_of_namespace: dict[str, set[PolicyKey]] = {}
        # Which namespaces every usable TenantPolicy selects now (each evaluation brings it up to date).
        self.tenant_selection = TenantSelection()
        self.foreign_pods = ForeignPodIndex()
        self.backup_index = BackupIndex()
        self._namespace_selectors: dict[str, tuple[Any, dict[str, Any]]] = {}
        # Each usable TenantPolicy's namespaceSelector as last seen by its events: see `_tenant_claim`.
        self._tenant_claims: dict[PolicyKey, dict[str, Any]] = {}
        # What each TenantPolicy's view took of other tenants' pods, as of its last evaluation: so
        # that a pod event marks only the tenants whose verdict that pod can move (see
        # `remember_foreign_pods`, kinds._affects_pod_policies).
        # The ipBlocks of its NetworkPolicies: they admit the pods whose address they hold (NET-004).
        self.tenant_ip_blocks: dict[PolicyKey, tuple[IPBlock, ...]] = {}
        # Other tenants' namespaces whose pods its namespaceSelectors name (NET-005), by namespace;
        # which pods of theirs its peers' podSelectors select (`tenant_reach`), and which pods they
        # selected when last seen (a pod deleted or relabelled no longer says so).
        self.tenant_policies_reading_pods_in: dict[str, set[PolicyKey]] = {}
        self.tenant_reach: dict[PolicyKey, ForeignPodReach] = {}
        self.foreign_pods_selected: dict[PolicyKey, set[tuple[str, str]]] = {}
        # The address of each pod that some tenant's ipBlock held when last seen: the event of a pod
        # that left the block, or was deleted, no longer carries it.
        self.pod_addresses_in_blocks: dict[tuple[str, str], IPAddress] = {}
        # The namespaceSelectors of its peers whose matches its verdict reads (rules.network
        # `namespace_selectors_read`), and each namespace's labels as last seen: so that a namespace
        # created, relabelled or deleted marks only the tenants it can move (kinds._affects_namespace).
        self.tenant_namespace_selectors: dict[PolicyKey, list[dict]] = {}
        self.namespace_labels_seen: dict[str, Mapping[str, str]] = {}
        self._dirty: set[PolicyKey] = set()
        # Dirty only indirectly (another tenant's namespace moved): evaluated after prompt work,
        # a few at a time, so a change someone waits to see is never queued behind them.
        self._deferred: set[PolicyKey] = set()
        # When each policy's last evaluation ended (event loop time): see `_ready_chunk`.
        self._last_evaluated_at: dict[PolicyKey, float] = {}
        self._specs: dict[tuple[PolicyKey, str, int], tuple[Any | None, str]] = {}
        self._wake = asyncio.Event()
        # (due, sequence, key): the sequence orders timers due at the same instant (thousands of
        # policies share a month's end or a deadline), since keys do not compare.
        self._deadlines: list[tuple[float, int, PolicyKey]] = []
        self._timer_sequence = itertools.count()
        self._timers: dict[PolicyKey, float] = {}
        self._written: dict[PolicyKey, dict[str, Any]] = {}
        self._evaluated: dict[PolicyKey, tuple[str, int]] = {}
        self._applied: dict[tuple[str, str, str], str] = {}
        # Policies whose last evaluation had a write refused, and how many evaluations in a row did.
        self._failed_writes: set[PolicyKey] = set()
        # Set while this replica holds the leader Lease (always, without leader election): only the
        # leader evaluates and writes.
        self.leading = asyncio.Event()
        self.leading.set()
        # Run once the indexes are filled (handlers.py wires them): see `sweep`.
        self.sweepers: list[Callable[[Engine], Awaitable[None]]] = []
        self._retries: dict[PolicyKey, int] = {}
        # Policies whose last failure in a row was unexpected (a bug): its traceback was logged once.
        self._unexpected_failures: set[PolicyKey] = set()
        # Which object (uid) the memory above and the metrics' series are about, by key. A policy
        # deleted and recreated under its name while a watch was down (no DELETED event) is another
        # object: what was known of the first must not decide for the second (see `_adopt`).
        self._uids: dict[PolicyKey, str] = {}
        # An Event on each flip of the Compliant condition; off, each effective change is one write.
        self.compliance_events = True
        self.evaluations = 0
        self.status_writes = 0
        self.evaluation_seconds: list[float] = []
        self.metrics: Metrics | None = None
        # Times no sncguard observed, as the leader Lease keeps them (leader.py): the SLA ledger counts
        # them unobserved. Empty without leader election.
        self.unobserved: list[tuple[datetime, datetime]] = []
        # kopf's Insights (set by the runner): the API resources kopf's discovery found and watches.
        self.insights: Any = None

    # ---- wiring -------------------------------------------------------------------------------

    def attach(self, indexes: Mapping[str, Any], reconcilers: Iterable[Reconciler]) -> None:
        self.indexes = indexes
        self.reconcilers = {r.kind: r for r in reconcilers}

    def index(self, name: str) -> Any:
        return self.indexes.get(name)

    def records(self, kind: str) -> list[PolicyRecord]:
        index = self.indexes.get(policy_index_name(kind))
        return [r for key in list(index or ()) for r in index[key]] if index is not None else []

    def records_in(self, kind: str, namespace: str) -> list[PolicyRecord]:
        return _values(self.indexes.get(policy_index_name(kind)), namespace)

    def mark(self, key: PolicyKey, *, deferred: bool = False) -> None:
        if deferred:
            if key not in self._dirty:
                self._deferred.add(key)
        else:
            self._deferred.discard(key)
        self._dirty.add(key)
        self._wake.set()

    def _parsed(self, record: PolicyRecord) -> tuple[Any | None, str]:
        """(spec, "") or (None, why it does not validate), cached per generation."""
        cache_key = (record.key, record.uid, record.generation)
        if cache_key not in self._specs:
            try:
                self._specs[cache_key] = (parse_policy_spec(record.key.kind, record.spec), "")
            except ValueError as exc:
                self._specs[cache_key] = (None, str(exc))
            for stale in [k for k in self._specs if k[0] == record.key and k != cache_key]:
                del self._specs[stale]
        return self._specs[cache_key]

    def namespace_selector_of(self, name: str, spec: Any) -> dict[str, Any]:
        """TenantPolicy `name`'s namespaceSelector as a Kubernetes dict, dumped once per parsed spec."""
        cached = self._namespace_selectors.get(name)
        if cached is None or cached[0] is not spec:
            cached = self._namespace_selectors[name] = (spec, spec.namespace_selector.as_k8s())
        return cached[1]

    def spec_of(self, record: PolicyRecord) -> Any | None:
        """The record's parsed spec; None when it does not validate."""
        return self._parsed(record)[0]

    def mark_kind(self, kind: str) -> None:
        for record in self.records(kind):
            self.mark(record.key)

    def mark_namespaced(self, kind: str, namespace: str) -> None:
        for record in self.records_in(kind, namespace):
            self.mark(record.key)

    def mark_tenants_of(self, namespace: str) -> None:
        for key in self.tenant_policies_of_namespace.get(namespace, ()):
            self.mark(key)

    def remember_foreign_pods(self, key: PolicyKey, reach: ForeignPodReach, pods: Iterable[Pod]) -> None:
        """Record which of the other tenants' `pods` (those its view took) TenantPolicy `key` can name."""
        for keys in self.tenant_policies_reading_pods_in.values():
            keys.discard(key)
        pods = list(pods)
        for namespace in reach.namespaces:
            self.tenant_policies_reading_pods_in.setdefault(namespace, set()).add(key)
        self.tenant_reach[key] = reach
        self.foreign_pods_selected[key] = {(pod.namespace, pod.name) for pod in pods if reach.selects(pod)}
        if not reach.ip_blocks:
            self.tenant_ip_blocks.pop(key, None)
            return
        self.tenant_ip_blocks[key] = reach.ip_blocks
        for pod in pods:
            if reach.block_holds(pod) and (address := pod_address(pod)) is not None:
                self.pod_addresses_in_blocks[(pod.namespace, pod.name)] = address

    def schedule_at(self, key: PolicyKey, when: datetime, slack: float = 0.5) -> None:
        """Evaluate `key` again when `when` has passed (plus a little slack for clock edges)."""
        delay = max(0.0, (when - self.clock()).total_seconds()) + slack
        self.schedule(key, delay)

    def schedule(self, key: PolicyKey, delay: float) -> None:
        due = time.monotonic() + delay
        current = self._timers.get(key)
        # Within 10 ms is the same timer: a due time computed from the wall clock jitters by
        # microseconds between evaluations, and each new entry would stay in the heap until due.
        if current is not None and current <= due + TIMER_TOLERANCE_S and current > time.monotonic():
            return  # an earlier timer will re-evaluate anyway and set the next one
        self._timers[key] = due
        heapq.heappush(self._deadlines, (due, next(self._timer_sequence), key))
        self._wake.set()

    def policy_event(self, kind: str, event_type: str, body: Mapping[str, Any]) -> PolicyRecord:
        record = PolicyRecord.from_body(kind, body)
        if kind == "TenantPolicy":
            self._tenant_claim(record, deleted=event_type == "DELETED")
        if event_type == "DELETED":
            self.forget(record.key)
            return record
        self._adopt(record)
        written = self._written.get(record.key)
        if written is not None and differs(written, record.status) and self._evaluated.get(record.key) == (
                record.uid, record.generation):
            # Someone else changed our status, or this event predates our write: trust the API again.
            self._written.pop(record.key, None)
        if self._evaluated.get(record.key) != (record.uid, record.generation):
            self.mark(record.key)
        return record

    def _tenant_claim(self, record: PolicyRecord, *, deleted: bool) -> None:
        """Which namespaces are *other tenants'* depends on every TenantPolicy's namespaceSelector
        (NET-004): one created, deleted, made (un)usable or selecting anew moves the others' verdicts,
        which are evaluated again, after prompt work. Any other edit moves only its own."""
        spec = None if deleted else self.spec_of(record)
        claim = None if spec is None else self.namespace_selector_of(record.key.name, spec)
        before = self._tenant_claims.get(record.key, _UNSEEN)
        if claim == before:
            return
        if claim is None:
            self._tenant_claims.pop(record.key, None)
        else:
            self._tenant_claims[record.key] = claim
        if before is _UNSEEN and claim is None:
            return  # never claimed anything
        for other in self.records("TenantPolicy"):
            if other.key != record.key:
                self.mark(other.key, deferred=True)

    def forget(self, key: PolicyKey) -> None:
        self._dirty.discard(key)
        self._deferred.discard(key)
        self._forget_object(key)

    def _adopt(self, record: PolicyRecord) -> None:
        """Remember that `record.key` names the object `record.uid`; forget an earlier object of that name."""
        known = self._uids.get(record.key)
        if known is not None and known != record.uid:
            log.info("%s is a new object (uid %s, was %s): its status and timers start afresh",
                     record.key.label(), record.uid, known)
            # Still dirty if it was: the new object needs an evaluation all the more.
            self._forget_object(record.key)
        self._uids[record.key] = record.uid

    def _forget_object(self, key: PolicyKey) -> None:
        """Everything remembered of the object `key` named: last status written, evaluation, timer, spec, series."""
        self._uids.pop(key, None)
        self._retries.pop(key, None)
        self._unexpected_failures.discard(key)
        self._written.pop(key, None)
        self._evaluated.pop(key, None)
        # Its entries in the deadline heap no longer match a timer: the worker skips them.
        self._timers.pop(key, None)
        for cached in [k for k in self._specs if k[0] == key]:
            del self._specs[cached]
        if key.kind == "TenantPolicy":
            self._namespace_selectors.pop(key.name, None)
        for keys in self.tenant_policies_of_namespace.values():
            keys.discard(key)
        self.tenant_ip_blocks.pop(key, None)
        self.tenant_namespace_selectors.pop(key, None)
        self.tenant_reach.pop(key, None)
        self.foreign_pods_selected.pop(key, None)
        for keys in self.tenant_policies_reading_pods_in.values():
            keys.discard(key)
        self._last_evaluated_at.pop(key, None)
        if self.metrics is not None:
            self.metrics.forget(key)

    def object_changed(self, kind: str, namespace: str, name: str) -> None:
        """An object we may have applied changed: the next plan must compare again."""
        self._applied.pop((kind, namespace, name), None)

    def api_groups(self) -> set[str]:
        """API groups served for us: those kopf watches (the PolicyReport API once installed), and
        those of the optional kinds sncguard's informers found served (Velero, Routes; handlers.py
        sets `served_groups`)."""
        groups: set[str] = set()
        if self.insights is not None:
            groups = {resource.group for resource in self.insights.watched_resources}
        served = getattr(self, "served_groups", None)
        if served is not None:
            groups |= served()
        return groups

    async def follow_apis(self, on_change: Callable[[set[str], set[str]], None],
                          on_revision: Callable[[], None] | None = None) -> None:
        """Call `on_change(before, after)` whenever the set of watched API groups changes, and
        `on_revision()` on every revision of kopf's insights (a CRD created, changed or deleted: the
        informers of absent optional kinds then look again)."""
        if self.insights is None:
            return
        known = self.api_groups()
        while True:
            async with self.insights.revised:
                await self.insights.revised.wait()
            if on_revision is not None:
                on_revision()
            current = self.api_groups()
            if current != known:
                on_change(known, current)
                known = current

    # ---- the worker ---------------------------------------------------------------------------

    async def run(self) -> None:
        for gate in (self.indexed, *self.synced):
            await gate.wait()
        log.info("indexes filled")
        # The initial lists' projections live as long as the operator: out of the cyclic collector's
        # sight, its full passes no longer walk the whole cluster (they held up evaluations for
        # tenths of seconds at 40,000 pods). Reference counting frees them as before.
        gc.collect()
        gc.freeze()
        loop = asyncio.get_running_loop()
        swept = False  # in this term of leadership
        while True:
            if not self.leading.is_set():
                # A standby keeps its caches warm (the informers and kopf run on) and writes nothing.
                log.info("standing by: another replica leads")
                await self.leading.wait()
                log.info("leading: evaluating every policy")
                for kind in self.reconcilers:
                    self.mark_kind(kind)
                swept = False
            if not swept:
                swept = True
                await self.sweep()
            timeout = None
            if self._deadlines:
                timeout = max(0.0, self._deadlines[0][0] - time.monotonic())
            window_closes = self._next_window_close(loop.time())
            if window_closes is not None:
                timeout = window_closes if timeout is None else min(timeout, window_closes)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            now = time.monotonic()
            while self._deadlines and self._deadlines[0][0] <= now:
                due, _, key = heapq.heappop(self._deadlines)
                if self._timers.get(key) == due:
                    del self._timers[key]
                    self._dirty.add(key)
            while self.leading.is_set() and (chunk := self._ready_chunk(loop.time())):
                self._dirty.difference_update(chunk)
                self._deferred.difference_update(chunk)
                await self._reconcile_batch(chunk)
                finished = loop.time()
                # Closed windows say nothing: dropping them keeps this to the policies of one window.
                self._last_evaluated_at = {key: at for key, at in self._last_evaluated_at.items()
                                           if self._in_window(key, finished)}
                self._last_evaluated_at.update(dict.fromkeys(chunk, finished))

    def _in_window(self, key: PolicyKey, now: float) -> bool:
        """Whether `key` was evaluated within the last `debounce`: then it is in a burst. A window about
        to close counts as closed: a wait shorter than the clock's resolution would never end."""
        last = self._last_evaluated_at.get(key)
        return last is not None and now + WINDOW_RESOLUTION_S < last + self.debounce

    def _ready_chunk(self, now: float) -> list[PolicyKey]:
        """The dirty policies to evaluate now: the prompt ones, else a few deferred ones.

        A policy is evaluated as soon as it is dirty (leading edge), unless it was evaluated within the
        last `debounce`: then what keeps arriving is coalesced into one evaluation when that window
        closes (trailing edge). The first event of a change is seen at once, a burst of N events costs
        a policy one evaluation per window instead of N, and no other policy waits for it."""
        ready = {key for key in self._dirty if not self._in_window(key, now)}
        prompt = ready - self._deferred
        chunk = sorted(prompt or ready, key=PolicyKey.label)
        return chunk if prompt else chunk[:DEFERRED_CHUNK]

    def _next_window_close(self, now: float) -> float | None:
        """Seconds until the first dirty policy's window closes; None when no dirty policy waits."""
        closes = [self._last_evaluated_at[key] + self.debounce - now for key in self._dirty
                  if self._in_window(key, now)]
        return min(closes) if closes else None

    async def sweep(self) -> None:
        """Delete what sncguard owns, without an ownerReference, for policies that no longer exist."""
        for sweeper in self.sweepers:
            try:
                await sweeper(self)
            except Exception:  # the next start or deletion sweeps again; evaluation goes on
                log.exception("sweeping orphans failed (%s)", getattr(sweeper, "__qualname__", sweeper))

    async def _reconcile_batch(self, keys: list[PolicyKey]) -> None:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(key: PolicyKey) -> None:
            async with semaphore:
                await self.reconcile(key)

        await asyncio.gather(*(one(k) for k in keys))

    async def reconcile(self, key: PolicyKey) -> None:
        reconciler = self.reconcilers.get(key.kind)
        record = next((r for r in self.records_in(key.kind, key.namespace) if r.key == key), None)
        if reconciler is None or record is None:
            self.forget(key)
            return
        # A timer or another object may get here before the new object's own event does.
        self._adopt(record)
        started = time.perf_counter()
        token = _evaluating.set(key)
        self._failed_writes.discard(key)
        try:
            self.evaluations += 1
            await reconciler.reconcile(self, record)
            if key in self._failed_writes:
                self._retry_later(key)
            else:
                self._retries.pop(key, None)
        except Exception as exc:  # one broken policy must never stop the others
            self._retry_later(key, exc)
        finally:
            _evaluating.reset(token)
            elapsed = time.perf_counter() - started
            self.evaluation_seconds.append(elapsed)
            del self.evaluation_seconds[:-1000]
            if self.metrics is not None:
                self.metrics.timed(key.kind, elapsed)

    def _retry_later(self, key: PolicyKey, failure: Exception | None = None) -> None:
        """Evaluate `key` again after 5 s, 10 s, 20 s... (RETRY_CAP_S at most) while its evaluations
        fail or have a write refused; a successful evaluation starts the sequence afresh."""
        attempt = self._retries.get(key, 0)
        self._retries[key] = attempt + 1
        delay = min(RETRY_AFTER_ERROR_S * 2 ** attempt, RETRY_CAP_S)
        if failure is None:
            self._unexpected_failures.discard(key)
            log.info("%s: a write was refused; evaluating again in %.0f s", key.label(), delay)
        else:
            self._log_failure(key, failure, delay, first_in_a_row=attempt == 0)
        self.schedule(key, delay)

    def _log_failure(self, key: PolicyKey, failure: Exception, delay: float, *, first_in_a_row: bool) -> None:
        """One line per failed evaluation. An outage or a refusal (TRANSIENT_ERRORS) is no bug: no
        traceback. Anything else gets its traceback the first time in a row for the policy only."""
        message = str(failure) or type(failure).__name__
        if isinstance(failure, TRANSIENT_ERRORS):
            self._unexpected_failures.discard(key)
            log.warning("evaluating %s failed: %s; retrying in %.0f s", key.label(), message, delay)
            return
        if first_in_a_row or key not in self._unexpected_failures:
            log.error("evaluating %s failed; retrying in %.0f s", key.label(), delay, exc_info=failure)
        else:
            log.warning("evaluating %s failed again: %s: %s; retrying in %.0f s", key.label(),
                        type(failure).__name__, message, delay)
        self._unexpected_failures.add(key)

    def _write_failed(self) -> None:
        key = _evaluating.get()
        if key is not None:
            self._failed_writes.add(key)

    # ---- what reconcilers call ----------------------------------------------------------------

    async def parse_spec(self, record: PolicyRecord) -> Any | None:
        """The policy's spec as its model, or None after reporting Ready=False, reason InvalidSpec.

        Nothing else happens for an invalid spec: what was enforced stays, the last verdict stays.
        """
        spec, error = self._parsed(record)
        if spec is None:
            # The detail names the field in the schema's own (English) terms, in either language.
            prefix = "Spécification invalide : " if self.language == "fr" else "Invalid spec: "
            await self.write_status(record, invalid_status(
                generation=record.generation, reason="InvalidSpec", message=prefix + error,
                previous=self.previous_status(record), now=self.clock()))
        return spec

    def previous_status(self, record: PolicyRecord) -> Mapping[str, Any]:
        return self._written.get(record.key, record.status)

    async def write_status(self, record: PolicyRecord, status: dict[str, Any],
                           findings: list[Finding] | None = None) -> bool:
        """Patch the status if it differs from the last one; True when written.

        `findings` are those of an evaluation; None for a status that could not evaluate (an invalid
        spec, Velero missing), which keeps the last verdict in the metrics as it does in the status.

        A change of the Compliant condition is also an Event on the policy: people see it in
        `kubectl describe` without sncguard posting one per evaluation.
        """
        previous = self.previous_status(record)
        self._evaluated[record.key] = (record.uid, record.generation)
        if self.metrics is not None and findings is not None:
            # Without an evaluation the gauges stay: a bad edit must not resolve an alert that the
            # last verdict raised.
            self.metrics.observe(record, status, findings)
        if not differs(previous, status):
            await self._publish_reports(record, findings)
            return False
        reconciler = self.reconcilers[record.key.kind]
        try:
            response = await self.client.patch_status(reconciler.api_version, record.key.kind,
                                                      record.key.namespace or None, record.key.name,
                                                      status_patch(previous, status))
        except ApiError as exc:
            if exc.status == 404:
                self.forget(record.key)
                return False
            raise
        self.status_writes += 1
        if self.metrics is not None:
            self.metrics.written(record.key.kind)
        self._written[record.key] = response.get("status") or status
        # The status first: it is what a change waits to see (`kubectl get`, Argo CD); the reports
        # and the Event follow, a round trip each.
        await self._publish_reports(record, findings)
        if self.compliance_events:
            await self._announce_compliance(record, previous, status)
        return True

    async def _publish_reports(self, record: PolicyRecord, findings: list[Finding] | None) -> None:
        """The policy's PolicyReports, rewritten where a result moved (reports.py); nothing without an
        evaluation's findings."""
        if findings is not None:
            from .reports import publish

            await publish(self, record, findings)

    async def _announce_compliance(self, record: PolicyRecord, previous: Mapping[str, Any],
                                   status: Mapping[str, Any]) -> None:
        def compliant(st: Mapping[str, Any]) -> tuple[str, str]:
            c = next((c for c in st.get("conditions") or () if c.get("type") == "Compliant"), {})
            return c.get("status", ""), c.get("message", "")

        before, _ = compliant(previous)
        after, message = compliant(status)
        if after == before or after not in ("True", "False"):
            return
        if not before and after == "True":
            # A first verdict that finds nothing wrong is no news: at 4,200 new policies, one Event
            # each doubled the writes of the start-up. A first NonCompliant one is a Warning to see.
            return
        if after == "True":
            await self.post_event(record, "Compliant", message)
        else:
            await self.post_event(record, "NonCompliant", message, "Warning")

    async def apply_owned(self, desired: dict[str, Any], existing: Mapping[str, Any] | None,
                          *, owned: bool | None = None) -> str | None:
        """Server-side apply an object sncguard owns, unless the cluster already has it as desired.

        `existing` is the object as indexed (None when absent). An object of the same name that
        sncguard does not own is left alone: the error says so, for the status.
        """
        meta = desired["metadata"]
        target = (desired["kind"], meta.get("namespace", ""), meta["name"])
        if existing is not None:
            is_ours = owned if owned is not None else (
                (existing.get("metadata", {}).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE)
            if not is_ours:
                return f"{desired['kind']} {target[1]}/{target[2]} exists and is not managed by sncguard: left alone"
            if holds_as_desired(desired, existing):
                return None
        fingerprint = json.dumps(desired, sort_keys=True)
        if self._applied.get(target) == fingerprint:
            return None
        try:
            # Server-side apply sets what sncguard says but leaves fields that another manager added
            # (`ingress: [{}]` patched into a default deny): those are removed first, by a merge patch.
            extra = {} if existing is None else surplus(apply_defaults(desired["kind"], desired), existing)
            if extra:
                await self.client.merge_patch(desired["apiVersion"], desired["kind"], meta.get("namespace"),
                                              meta["name"], extra)
            await self.client.apply(desired, force=True)
        except ApiError as exc:
            self._write_failed()
            return f"{desired['kind']} {target[1]}/{target[2]}: {exc.message or exc}"
        self._applied[target] = fingerprint
        log.info("applied %s %s/%s", *target)
        return None

    async def apply_fields(self, config: dict[str, Any], manager: str) -> str | None:
        """Server-side apply of a few fields of a user's object under the policy's own field `manager`,
        never forced: a conflict is the user's (or another policy's) field to keep, and is reported."""
        meta = config["metadata"]
        target = (config["kind"], meta.get("namespace", ""), meta["name"])
        fingerprint = json.dumps([manager, config], sort_keys=True)
        if self._applied.get(target) == fingerprint:
            return None
        try:
            await self.client.apply(config, force=False, manager=manager)
        except ApiError as exc:
            if exc.status != 409:  # a conflict is the user's field: reported, not retried
                self._write_failed()
            return f"{config['kind']} {target[2]}: {exc.message or exc}"
        self._applied[target] = fingerprint
        log.info("applied sncguard's fields to %s %s/%s", *target)
        return None

    async def delete_owned(self, api_version: str, kind: str, namespace: str | None, name: str,
                           uid: str | None = None) -> str | None:
        try:
            await self.client.delete(api_version, kind, namespace, name, uid)
        except ApiError as exc:
            if exc.status != 409:  # the uid precondition failed: the object is someone else's now
                self._write_failed()
            return f"deleting {kind} {namespace}/{name}: {exc.message or exc}"
        self._applied.pop((kind, namespace or "", name), None)
        log.info("deleted %s %s/%s", kind, namespace or "", name)
        return None

    async def post_event(self, record: PolicyRecord, reason: str, message: str, type_: str = "Normal") -> None:
        reconciler = self.reconcilers[record.key.kind]
        try:
            await self.client.post_event(reconciler.api_version, record.key.kind, record.key.namespace,
                                         record.key.name, record.uid, reason, message, type_)
        except ApiError as exc:
            # A namespace being deleted refuses new events; its policy is going too.
            level = logging.DEBUG if "being terminated" in exc.message else logging.WARNING
            log.log(level, "could not post event %s on %s: %s", reason, record.key.label(), exc)

    # ---- the view -----------------------------------------------------------------------------

    def view(self, namespaces: Iterable[str] | None = None, *, velero_namespaces: Iterable[str] = ()) -> ClusterView:
        """A ClusterView of the given namespaces' objects plus every cluster-scoped one."""
        from .kinds import build_view

        return build_view(self, namespaces, velero_namespaces)


def policy_index_name(kind: str) -> str:
    return f"policies-{kind.lower()}"


def surplus(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch that removes what `existing` holds beyond `desired`, in the content an owned object
    has (metadata, status and lists aside: lists are replaced whole by the apply that follows)."""

    def walk(want: Mapping[str, Any], have: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in have.items():
            if key not in want:
                out[key] = None
            elif isinstance(value, Mapping) and isinstance(want[key], Mapping) and (inner := walk(want[key], value)):
                out[key] = inner
        return out

    content = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    return walk(content, {k: v for k, v in existing.items() if k in content or k not in (
        "apiVersion", "kind", "metadata", "status")})


def holds_as_desired(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    """Whether the cluster's copy of an owned object is exactly what the plan says.

    The content (spec, roleRef, subjects...) must be equal once the API server's defaults are applied
    to the plan: an owned object someone widened (`ingress: [{}]` added to a default deny) is put back,
    not accepted because it still contains what sncguard asked for. Metadata only has to contain
    sncguard's labels, annotations and owner: others may add theirs.
    """
    defaulted = apply_defaults(desired["kind"], desired)
    for key, value in defaulted.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            if not subset(value, existing.get("metadata")):
                return False
        elif existing.get(key) != value:
            return False
    return True
