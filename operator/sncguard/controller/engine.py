"""The evaluation engine: which policies to evaluate, on what, and with what memory of each.

Events mark policies dirty in the work queue (workqueue.py), which holds the debounce windows, the
timers and the retries; one worker drains it, evaluating a chunk at a time. The worker reads only
in-memory indexes (kopf's and the informers'); the API sees writes and nothing else, all made by
the writer (writer.py).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..i18n import msg
from ..loader import parse_policy_spec
from ..netpol import ForeignPodReach, IPAddress, IPBlock, pod_address
from ..status import invalid_status
from ..tenancy import TenantSelection
from .backup_index import BackupIndex
from .foreign_pods import ForeignPodIndex
from .kube import TRANSIENT_ERRORS, KubeClient
from .state import PolicyKey, PolicyRecord, TenantCoverage
from .workqueue import WorkQueue
from .writer import Writer

if TYPE_CHECKING:
    from ..view import Pod
    from .metrics import Metrics

log = logging.getLogger("sncguard.engine")

CONCURRENCY = 8
_UNSEEN = object()


class Reconciler(Protocol):
    kind: str

    async def reconcile(self, engine: Engine, record: PolicyRecord) -> None: ...

    async def deleted(self, engine: Engine, record: PolicyRecord) -> None: ...


def _values(index: Any, key: str) -> list:
    return list(index[key]) if index is not None and key in index else []


class Engine:
    def __init__(self, client: KubeClient, *, language: str = "en", debounce: float = 0.2,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), metrics: Metrics | None = None,
                 compliance_events: bool = True) -> None:
        self.client = client
        self.language = language
        self.clock = clock
        self.metrics = metrics
        self.queue = WorkQueue(debounce=debounce, clock=clock)
        self.writer = Writer(client, metrics=metrics, compliance_events=compliance_events)
        self.writer.on_gone = self.forget
        self.indexes: Mapping[str, Any] = {}
        self.reconcilers: dict[str, Reconciler] = {}
        # Kinds sncguard may not list -> what the API server said (the informers keep it current).
        self.forbidden: dict[str, str] = {}
        # kopf invokes non-index handlers only once every index is filled: the first such call opens
        # this. kopf's indexes hold the policies and the PolicyReports, which the informers do not:
        # sweeping before they are whole would take live policies' Schedules and reports for orphans.
        self.indexed = asyncio.Event()
        # The informers' initial lists, each done once its store holds the whole kind.
        self.synced: list[asyncio.Event] = []
        # The API groups of the optional kinds that the informers found served (Velero, Routes).
        self.served_groups: Callable[[], set[str]] = set
        # Which TenantPolicies cover a namespace, as of their last evaluation.
        self.tenant_policies_of_namespace = TenantCoverage()
        # Which namespaces every usable TenantPolicy selects now (each evaluation brings it up to date).
        self.tenant_selection = TenantSelection()
        self.foreign_pods = ForeignPodIndex()
        self.backup_index = BackupIndex()
        self._namespace_selectors: dict[str, tuple[Any, dict[str, Any]]] = {}
        # Each usable TenantPolicy's namespaceSelector as last seen by its events: see `_tenant_claim`.
        self._tenant_claims: dict[PolicyKey, dict[str, Any]] = {}
        # What each TenantPolicy's view took of other tenants' pods, as of its last evaluation: so
        # that a pod event marks only the tenants whose verdict that pod can move (see
        # `remember_foreign_pods`, kinds._tenants_naming_pod).
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
        # `namespace_selectors_read`): so that a namespace created, relabelled or deleted marks only the
        # tenants it can move (kinds.py's namespace narrowing, with the labels before and after).
        self.tenant_namespace_selectors: dict[PolicyKey, list[dict]] = {}
        self._specs: dict[tuple[PolicyKey, str, int], tuple[Any | None, str]] = {}
        # Set while this replica holds the leader Lease (always, without leader election): only the
        # leader evaluates and writes.
        self.leading = asyncio.Event()
        self.leading.set()
        # Run once the indexes are filled (the wiring sets them): see `sweep`.
        self.sweepers: list[Callable[[Engine], Awaitable[None]]] = []
        # Policies whose last failure in a row was unexpected (a bug): its traceback was logged once.
        self._unexpected_failures: set[PolicyKey] = set()
        # Which object (uid) the memory above and the metrics' series are about, by key. A policy
        # deleted and recreated under its name while a watch was down (no DELETED event) is another
        # object: what was known of the first must not decide for the second (see `_adopt`).
        self._uids: dict[PolicyKey, str] = {}
        self.evaluations = 0
        # Times no sncguard observed, as the leader Lease keeps them (leader.py): the SLA ledger counts
        # them unobserved. Empty without leader election.
        self.unobserved: list[tuple[datetime, datetime]] = []
        # kopf's Insights (set by the wiring): the API resources kopf's discovery found and watches.
        self.insights: Any = None

    # ---- the indexes --------------------------------------------------------------------------

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

    # ---- what marks policies dirty --------------------------------------------------------------

    def mark(self, key: PolicyKey, *, deferred: bool = False) -> None:
        self.queue.mark(key, deferred=deferred)

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

    def policy_event(self, kind: str, event_type: str, body: Mapping[str, Any]) -> PolicyRecord:
        record = PolicyRecord.from_body(kind, body)
        if kind == "TenantPolicy":
            self._tenant_claim(record, deleted=event_type == "DELETED")
        if event_type == "DELETED":
            self.forget(record.key)
            return record
        self._adopt(record)
        self.writer.status_seen(record)
        if not self.writer.is_evaluated(record):
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
        self.queue.forget(key)
        self._forget_memory(key)

    def _adopt(self, record: PolicyRecord) -> None:
        """Remember that `record.key` names the object `record.uid`; forget an earlier object of that name."""
        known = self._uids.get(record.key)
        if known is not None and known != record.uid:
            log.info("%s is a new object (uid %s, was %s): its status and timers start afresh",
                     record.key.label(), record.uid, known)
            self.queue.replaced(record.key)
            self._forget_memory(record.key)
        self._uids[record.key] = record.uid

    def _forget_memory(self, key: PolicyKey) -> None:
        """Everything remembered of the object `key` named: last status written, evaluation, spec, series."""
        self._uids.pop(key, None)
        self._unexpected_failures.discard(key)
        self.writer.forget(key)
        for cached in [k for k in self._specs if k[0] == key]:
            del self._specs[cached]
        if key.kind == "TenantPolicy":
            self._namespace_selectors.pop(key.name, None)
        self.tenant_policies_of_namespace.forget(key)
        self.tenant_ip_blocks.pop(key, None)
        self.tenant_namespace_selectors.pop(key, None)
        self.tenant_reach.pop(key, None)
        self.foreign_pods_selected.pop(key, None)
        for keys in self.tenant_policies_reading_pods_in.values():
            keys.discard(key)
        if self.metrics is not None:
            self.metrics.forget(key)

    def object_changed(self, kind: str, namespace: str, name: str) -> None:
        """An object we may have applied changed: the next plan must compare again."""
        self.writer.object_changed(kind, namespace, name)

    def api_groups(self) -> set[str]:
        """API groups served for us: those kopf watches (the PolicyReport API once installed), and
        those of the optional kinds sncguard's informers found served (Velero, Routes)."""
        groups: set[str] = set()
        if self.insights is not None:
            groups = {resource.group for resource in self.insights.watched_resources}
        return groups | self.served_groups()

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
            await self.queue.wait()
            while self.leading.is_set() and (chunk := self.queue.take()):
                await self._reconcile_batch(chunk)
                self.queue.evaluated(chunk)

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
        with self.writer.evaluating(key) as evaluation:
            try:
                self.evaluations += 1
                await reconciler.reconcile(self, record)
            except Exception as exc:  # one broken policy must never stop the others
                self._retry_later(key, exc)
            else:
                if evaluation.refused:
                    self._retry_later(key)
                else:
                    self.queue.succeeded(key)
            finally:
                if self.metrics is not None:
                    self.metrics.timed(key.kind, time.perf_counter() - started)

    def _retry_later(self, key: PolicyKey, failure: Exception | None = None) -> None:
        """Evaluate `key` again later (the work queue's backoff) while its evaluations fail or have a
        write refused; a successful evaluation starts the sequence afresh."""
        delay, first_in_a_row = self.queue.retry_later(key)
        if failure is None:
            self._unexpected_failures.discard(key)
            log.info("%s: a write was refused; evaluating again in %.0f s", key.label(), delay)
        else:
            self._log_failure(key, failure, delay, first_in_a_row=first_in_a_row)

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

    # ---- what reconcilers call ----------------------------------------------------------------

    async def parse_spec(self, record: PolicyRecord) -> Any | None:
        """The policy's spec as its model, or None after reporting Ready=False, reason InvalidSpec.

        Nothing else happens for an invalid spec: what was enforced stays, the last verdict stays.
        """
        spec, error = self._parsed(record)
        if spec is None:
            # The detail names the field in the schema's own (English) terms, in every language.
            message = msg("Invalid spec: {error}", error=error).render(self.language)
            await self.writer.write_status(record, invalid_status(
                generation=record.generation, reason="InvalidSpec", message=message,
                previous=self.writer.previous_status(record), now=self.clock()))
        return spec


def policy_index_name(kind: str) -> str:
    return f"policies-{kind.lower()}"
