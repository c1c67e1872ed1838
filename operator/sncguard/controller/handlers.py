"""kopf registrations and the informers: each projects what it sees or forwards it to the engine.

Every watched kind streams through sncguard's informers (informer.py says why), the APIs that may
come and go (Velero, Routes) included; the policies and the PolicyReports are kopf's, and kopf's
discovery tells the informers of absent APIs when to look again. The informers only read.
Every kopf handler is a coroutine: kopf runs plain functions in a thread pool, and the engine's
bookkeeping belongs to the event loop alone. No handler here is of the change-detecting kind
(on.create/update/resume) and none needs a finalizer, so kopf writes no annotation and no
finalizer on any object, ours included; status is written by the engine alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import kopf

from .. import GROUP, MANAGED_BY_LABEL, MANAGED_BY_VALUE, VERSION
from . import kopf_fixes
from .backuppolicy import BackupPolicyReconciler
from .engine import Engine, policy_index_name
from .informer import ApiRevisions, Informer, OnChange
from .kinds import CLUSTER, VELERO_GROUP, WATCHED, Watched, change_handler, readers_of
from .kube import KubeClient
from .leader import LeaderElector, Timing
from .metrics import Metrics
from .reports import OWNED_INDEXES as OWNED_REPORT_INDEXES
from .reports import REPORT_GROUP
from .reports import sweep as sweep_reports
from .reports import withdraw as withdraw_reports
from .state import PolicyRecord
from .tenantpolicy import TenantPolicyReconciler
from .zonespread import ZoneSpreadReconciler

log = logging.getLogger("sncguard.handlers")

registry = kopf.OperatorRegistry()
client = KubeClient()
engine = Engine(client)
engine.metrics = Metrics(client)
METRICS_ADDRESS = {"value": "127.0.0.1:9090"}
# Set by `sncguard run`: None runs without leader election (one replica); else the Lease's namespace,
# identity and timing (leader.py).
LEADER_ELECTION: dict[str, Any] = {"namespace": None, "identity": "", "timing": Timing()}
BACKUPS = BackupPolicyReconciler()
RECONCILERS = (ZoneSpreadReconciler(), TenantPolicyReconciler(), BACKUPS)
POLICY_PLURALS = {"ZoneSpread": "zonespreads", "TenantPolicy": "tenantpolicies", "BackupPolicy": "backuppolicies"}
_tasks: list[asyncio.Task] = []
_electors: list[LeaderElector] = []
# The optional APIs kopf watches for us (the PolicyReports), by group: an API whose group kopf sees
# only in part is rescanned (kopf_fixes.follow_partial_groups).
KOPF_RESOURCES: dict[str, set[str]] = {REPORT_GROUP: {kind.lower() + "s" for kind in OWNED_REPORT_INDEXES}}
SERVER_TIMEOUT_S = 300
# Bumped on each revision of kopf's insights: the informers of absent optional APIs list again then.
API_REVISIONS = ApiRevisions()


# ---- lifecycle ------------------------------------------------------------------------------


@kopf.on.login(registry=registry)
async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    if info is not None:
        await client.configure(info)
    return info


@kopf.on.startup(registry=registry)
async def startup(settings: kopf.OperatorSettings, **kwargs: Any) -> None:
    settings.peering.standalone = True
    settings.posting.enabled = False  # events are ours to post, on compliance changes only
    settings.watching.server_timeout = SERVER_TIMEOUT_S
    settings.networking.request_timeout = 60
    # Paged initial LISTs: at most one page of a large kind (thousands of pods) is parsed at a time.
    settings.watching.chunk_size = 500
    names = [policy_index_name(kind) for kind in POLICY_PLURALS] + list(OWNED_REPORT_INDEXES.values())
    indexes = {name: kwargs[name] for name in names}
    informers = [Informer(w, client, _changed_by(w), server_timeout=SERVER_TIMEOUT_S, api_revisions=API_REVISIONS)
                 for w in WATCHED]
    optional = [informer for informer in informers if informer.watched.optional]
    # Velero is installed when the API serves its kinds: what the informers found, not kopf's discovery.
    engine.served_groups = lambda: {i.watched.group for i in optional if i.present}
    for informer in informers:
        informer.on_availability = _availability_of(informer)
        indexes[informer.watched.index_id] = informer.store
        if informer.watched.owned:
            indexes[informer.watched.owned_index_id] = informer.owned
        _tasks.append(asyncio.create_task(informer.run(), name=f"sncguard-informer-{informer.watched.plural}"))
    engine.synced = [informer.synced for informer in informers]
    if engine.metrics is not None:
        engine.metrics.follow_informers(informers)
    engine.attach(indexes, RECONCILERS)
    # What sncguard owns without an ownerReference, left behind by policies deleted while it was down.
    engine.sweepers = [BACKUPS.sweep, sweep_reports]
    if METRICS_ADDRESS["value"] and engine.metrics is not None:
        try:
            engine.metrics.serve(METRICS_ADDRESS["value"])
            log.info("metrics on http://%s/metrics", METRICS_ADDRESS["value"])
        except OSError as exc:
            # Guardrails matter more than their metrics: run on, and say so loudly.
            log.error("cannot serve metrics on %s: %s", METRICS_ADDRESS["value"], exc)
    if LEADER_ELECTION["namespace"]:
        elector = LeaderElector(client, LEADER_ELECTION["namespace"], LEADER_ELECTION["identity"],
                                LEADER_ELECTION["timing"])
        _electors.append(elector)
        engine.leading = elector.leading
        engine.unobserved = elector.unobserved  # the SLA ledger's unobserved time (sla.py)
        if engine.metrics is not None:
            engine.metrics.unobserved = elector.unobserved
        _tasks.append(asyncio.create_task(elector.run(), name="sncguard-leader-election"))
    else:
        log.info("no leader election: the time sncguard is stopped is not recorded, and SLA ledgers count it "
                 "as observed in the state they held")
    _tasks.append(asyncio.create_task(engine.run(), name="sncguard-engine"))
    _tasks.append(asyncio.create_task(engine.follow_apis(_apis_changed, API_REVISIONS.bump), name="sncguard-apis"))
    if engine.insights is not None:
        _tasks.append(asyncio.create_task(kopf_fixes.follow_partial_groups(
            KOPF_RESOURCES, settings=settings, registry=registry, insights=engine.insights),
            name="sncguard-partial-groups"))


def _apis_changed(before: set[str], after: set[str]) -> None:
    """Velero appearing (or going) changes every backup verdict; the PolicyReport API appearing
    means every policy has reports to write."""
    changed = before ^ after
    if VELERO_GROUP in changed:
        engine.mark_kind("BackupPolicy")
    if REPORT_GROUP in changed:
        for kind in POLICY_PLURALS:
            engine.mark_kind(kind)


@kopf.on.cleanup(registry=registry)
async def cleanup(**_: Any) -> None:
    for task in _tasks:
        task.cancel()
    await asyncio.gather(*_tasks, return_exceptions=True)
    for elector in _electors:
        await elector.release()
    await client.close()


@kopf.on.probe(id="evaluations", registry=registry)
async def probe_evaluations(**_: Any) -> int:
    return engine.evaluations


# ---- watched kinds: index a projection; a real change marks the policies that read it dirty ---


def _availability_of(informer: Informer) -> Callable[[], None]:
    """A kind sncguard may (no longer) list: the policies that read it are judged again, or reported unjudged."""
    def changed() -> None:
        if informer.forbidden:
            engine.forbidden[informer.watched.kind] = informer.forbidden
        else:
            engine.forbidden.pop(informer.watched.kind, None)
        for kind in readers_of(informer.watched.kind):
            engine.mark_kind(kind)
    return changed


def _changed_by(watched: Watched) -> OnChange:
    return change_handler(engine, watched)


def _register_reports(plural: str, index_id: str) -> None:
    async def owned(body: kopf.Body, namespace: str | None, **_: Any) -> dict[str, Any]:
        meta = body.get("metadata") or {}
        return {namespace or CLUSTER: {
            "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                         "labels": dict(meta.get("labels") or {}), "annotations": dict(meta.get("annotations") or {})},
            "summary": dict(body.get("summary") or {}),
            "results": [dict(r) for r in body.get("results") or ()],
        }}

    kopf.index("wgpolicyk8s.io", "v1alpha2", plural, id=index_id, registry=registry,
               labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE})(owned)


for _kind, _index_id in OWNED_REPORT_INDEXES.items():
    _register_reports(_kind.lower() + "s", _index_id)


# ---- the policies: indexed as records; their events mark them dirty or clean up after them ---


def _register_policy(kind: str, plural: str) -> None:
    reconciler = next(r for r in RECONCILERS if r.kind == kind)

    async def index(body: kopf.Body, namespace: str | None, **_: Any) -> dict[str, PolicyRecord]:
        return {namespace or "": PolicyRecord.from_body(kind, body)}

    async def event(type: str | None, body: kopf.Body, **_: Any) -> None:
        engine.indexed.set()
        record = engine.policy_event(kind, type or "", body)
        if type == "DELETED":
            await reconciler.deleted(engine, record)
            await withdraw_reports(engine, record)

    kopf.index(GROUP, VERSION, plural, id=policy_index_name(kind), registry=registry)(index)
    kopf.on.event(GROUP, VERSION, plural, id=f"events-{plural}", registry=registry)(event)


for _kind, _plural in POLICY_PLURALS.items():
    _register_policy(_kind, _plural)
