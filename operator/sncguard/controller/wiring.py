"""`sncguard run` put together: the API client, the engine and its metrics, the reconcilers, the informers
and leader election, built once by `wire` from the settings the command was given.

Nothing here runs at import. kopf's handlers (handlers.py) reach the operator `wire` returned; its
startup handler calls `Operator.start`, which starts the informers, the engine's worker and leader
election once kopf's own indexes (the policies, the PolicyReports) exist.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf
from kopf._cogs.structs.references import Insights  # the type of kopf.operator(insights=...)

from . import kopf_fixes
from .backuppolicy import BackupPolicyReconciler
from .engine import Engine, Reconciler
from .informer import ApiRevisions, Informer
from .kinds import VELERO_GROUP, WATCHED, change_handler, readers_of
from .kube import DEFAULT_BURST, DEFAULT_QPS, KubeClient
from .leader import LeaderElector, Timing
from .metrics import Metrics
from .reports import OWNED_INDEXES as OWNED_REPORT_INDEXES
from .reports import REPORT_GROUP
from .reports import publish as publish_reports
from .reports import sweep as sweep_reports
from .reports import withdraw as withdraw_reports
from .tenantpolicy import TenantPolicyReconciler
from .zonespread import ZoneSpreadReconciler

log = logging.getLogger("sncguard.wiring")

SERVER_TIMEOUT_S = 300
# The optional APIs kopf watches for us (the PolicyReports), by group: an API whose group kopf sees
# only in part is rescanned (kopf_fixes.follow_partial_groups).
KOPF_RESOURCES: dict[str, set[str]] = {REPORT_GROUP: {kind.lower() + "s" for kind in OWNED_REPORT_INDEXES}}


@dataclass(frozen=True)
class LeaderElection:
    """The Lease two replicas share (leader.py): its namespace, this replica's identity, the timing."""

    namespace: str
    identity: str
    timing: Timing = field(default_factory=Timing)


@dataclass(frozen=True)
class Settings:
    """What `sncguard run` was told (cli.py has each option's help)."""

    language: str = "en"
    debounce: float = 0.2
    compliance_events: bool = True
    # host:port of the Prometheus endpoint; empty: none.
    metrics_address: str = "127.0.0.1:9090"
    # None runs without leader election: one replica, and no record of the time sncguard is stopped.
    leader_election: LeaderElection | None = None
    qps: float = DEFAULT_QPS
    burst: int = DEFAULT_BURST


@dataclass
class Operator:
    settings: Settings
    client: KubeClient
    engine: Engine
    metrics: Metrics
    reconcilers: dict[str, Reconciler]
    informers: list[Informer]
    # Bumped on each revision of kopf's insights: the informers of absent optional APIs list again then.
    api_revisions: ApiRevisions
    # kopf's own discovery keeps these current (which APIs exist and are watched): the engine reads
    # them to know whether the PolicyReport API is there, with no watch of its own on CRDs.
    insights: Insights
    elector: LeaderElector | None
    tasks: list[asyncio.Task] = field(default_factory=list)

    async def start(self, kopf_settings: kopf.OperatorSettings, kopf_indexes: Mapping[str, Any],
                    registry: kopf.OperatorRegistry) -> None:
        """Run everything: kopf's `kopf_indexes` (the policies', the PolicyReports') and the informers'
        stores become the engine's indexes."""
        kopf_settings.peering.standalone = True
        kopf_settings.posting.enabled = False  # events are ours to post, on compliance changes only
        kopf_settings.watching.server_timeout = SERVER_TIMEOUT_S
        kopf_settings.networking.request_timeout = 60
        # Paged initial LISTs: at most one page of a large kind (thousands of pods) is parsed at a time.
        kopf_settings.watching.chunk_size = 500
        indexes = dict(kopf_indexes)
        for informer in self.informers:
            indexes[informer.watched.index_id] = informer.store
            if informer.watched.owned:
                indexes[informer.watched.owned_index_id] = informer.owned
            self._spawn(informer.run(), f"sncguard-informer-{informer.watched.plural}")
        self.engine.attach(indexes, self.reconcilers.values())
        address = self.settings.metrics_address
        if address:
            try:
                self.metrics.serve(address)
                log.info("metrics on http://%s/metrics", address)
            except OSError as exc:
                # Guardrails matter more than their metrics: run on, and say so loudly.
                log.error("cannot serve metrics on %s: %s", address, exc)
        if self.elector is not None:
            self._spawn(self.elector.run(), "sncguard-leader-election")
        else:
            log.info("no leader election: the time sncguard is stopped is not recorded, and SLA ledgers count it "
                     "as observed in the state they held")
        self._spawn(self.engine.run(), "sncguard-engine")
        self._spawn(self.engine.follow_apis(self._apis_changed, self.api_revisions.bump), "sncguard-apis")
        self._spawn(kopf_fixes.follow_partial_groups(KOPF_RESOURCES, settings=kopf_settings, registry=registry,
                                                     insights=self.insights), "sncguard-partial-groups")

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.elector is not None:
            await self.elector.release()
        await self.client.close()

    async def policy_event(self, kind: str, event_type: str, body: kopf.Body) -> None:
        """A policy's event (kopf's): it is marked dirty, or what sncguard keeps for it goes with it."""
        self.engine.indexed.set()
        record = self.engine.policy_event(kind, event_type, body)
        if event_type == "DELETED":
            await self.reconcilers[kind].deleted(self.engine, record)
            await withdraw_reports(self.engine, record)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.create_task(work, name=name))

    def _apis_changed(self, before: set[str], after: set[str]) -> None:
        """Velero appearing (or going) changes every backup verdict; the PolicyReport API appearing
        means every policy has reports to write."""
        changed = before ^ after
        if VELERO_GROUP in changed:
            self.engine.mark_kind("BackupPolicy")
        if REPORT_GROUP in changed:
            for kind in self.reconcilers:
                self.engine.mark_kind(kind)


def wire(settings: Settings) -> Operator:
    """Build the operator `settings` describe; nothing runs until `Operator.start`."""
    # sncguard's own requests (kopf's have their own client): a runaway loop cannot flood the API.
    client = KubeClient(qps=settings.qps, burst=settings.burst)
    metrics = Metrics(client)
    engine = Engine(client, language=settings.language, debounce=settings.debounce,
                    compliance_events=settings.compliance_events, metrics=metrics)
    backups = BackupPolicyReconciler()
    reconcilers: list[Reconciler] = [ZoneSpreadReconciler(), TenantPolicyReconciler(), backups]
    api_revisions = ApiRevisions()
    informers = [Informer(w, client, change_handler(engine, w), server_timeout=SERVER_TIMEOUT_S,
                          api_revisions=api_revisions) for w in WATCHED]
    for informer in informers:
        informer.on_availability = _availability_of(engine, informer)
    optional = [informer for informer in informers if informer.watched.optional]
    # Velero is installed when the API serves its kinds: what the informers found, not kopf's discovery.
    engine.served_groups = lambda: {i.watched.group for i in optional if i.present}
    engine.synced = [informer.synced for informer in informers]
    metrics.follow_informers(informers)
    engine.writer.publish_reports = functools.partial(publish_reports, engine)
    # What sncguard owns without an ownerReference, left behind by policies deleted while it was down.
    engine.sweepers = [backups.sweep, sweep_reports]
    insights = Insights()
    engine.insights = insights
    elector = None
    if settings.leader_election is not None:
        election = settings.leader_election
        elector = LeaderElector(client, election.namespace, election.identity, election.timing)
        engine.leading = elector.leading
        engine.unobserved = elector.unobserved  # the SLA ledger's unobserved time (sla.py)
        metrics.unobserved = elector.unobserved
    return Operator(settings=settings, client=client, engine=engine, metrics=metrics,
                    reconcilers={r.kind: r for r in reconcilers}, informers=informers,
                    api_revisions=api_revisions, insights=insights, elector=elector)


def _availability_of(engine: Engine, informer: Informer) -> Callable[[], None]:
    """A kind sncguard may (no longer) list: the policies that read it are judged again, or reported unjudged."""
    def changed() -> None:
        if informer.forbidden:
            engine.forbidden[informer.watched.kind] = informer.forbidden
        else:
            engine.forbidden.pop(informer.watched.kind, None)
        for kind in readers_of(informer.watched.kind):
            engine.mark_kind(kind)
    return changed
