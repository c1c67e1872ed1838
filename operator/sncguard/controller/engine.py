"""The evaluation engine: which policies are dirty, when to evaluate them, what to write.

Events mark policies dirty; one worker drains them after a short debounce, so a burst of pod
events (a rollout, a scale-up) costs one evaluation and at most one status write per policy.
The worker reads only kopf's in-memory indexes; the API sees writes and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from .. import API_VERSION
from ..api import Mode, ZoneSpreadSpec
from ..evaluation import evaluate_zonespread
from ..loader import parse_policy_spec
from ..plans import zonespread as zonespread_plan
from ..status import build_status, differs, invalid_status, status_patch
from ..view import ClusterView
from .kube import ApiError, KubeClient
from .state import Fingerprints, PolicyKey, PolicyRecord

log = logging.getLogger("sncguard.engine")

# kopf index names, as registered in handlers.py.
POD_INDEX = "pods_by_namespace"
WORKLOAD_INDEXES = ("deployments_by_namespace", "statefulsets_by_namespace")
PDB_INDEX = "pdbs_by_namespace"
NODE_INDEX = "nodes_by_name"
ZONESPREAD_INDEX = "zonespreads_by_namespace"
INDEX_NAMES = (POD_INDEX, *WORKLOAD_INDEXES, PDB_INDEX, NODE_INDEX, ZONESPREAD_INDEX)

RETRY_AFTER_ERROR_S = 5.0
CONCURRENCY = 8


def _values(index: Any, key: str) -> list:
    return list(index[key]) if key in index else []


class Engine:
    def __init__(self, client: KubeClient, *, language: str = "en", debounce: float = 0.2,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.language = language
        self.debounce = debounce
        self.clock = clock
        self.indexes: Mapping[str, Any] = {}
        self.fingerprints = Fingerprints()
        # kopf invokes non-index handlers only once every index is filled: the first such call opens this.
        self.indexed = asyncio.Event()
        self._dirty: set[PolicyKey] = set()
        self._wake = asyncio.Event()
        self._deadlines: list[tuple[float, PolicyKey]] = []
        self._written: dict[PolicyKey, dict[str, Any]] = {}
        self._evaluated: dict[PolicyKey, tuple[str, int]] = {}
        self._enforced: dict[tuple[str, str, str], str] = {}
        self.evaluations = 0
        self.status_writes = 0
        self.evaluation_seconds: list[float] = []

    # ---- wiring -------------------------------------------------------------------------------

    def attach(self, indexes: Mapping[str, Any]) -> None:
        self.indexes = {name: indexes[name] for name in INDEX_NAMES}

    def mark(self, key: PolicyKey) -> None:
        self._dirty.add(key)
        self._wake.set()

    def mark_namespace(self, namespace: str) -> None:
        """Every namespaced policy of this namespace may read what changed."""
        index = self.indexes.get(ZONESPREAD_INDEX)
        if index is None:
            return
        for record in _values(index, namespace):
            self.mark(record.key)

    def mark_all(self) -> None:
        index = self.indexes.get(ZONESPREAD_INDEX)
        if index is None:
            return
        for namespace in list(index):
            self.mark_namespace(namespace)

    def schedule(self, key: PolicyKey, delay: float) -> None:
        heapq.heappush(self._deadlines, (time.monotonic() + delay, key))
        self._wake.set()

    def policy_event(self, kind: str, event_type: str, body: Mapping[str, Any]) -> None:
        record = PolicyRecord.from_body(kind, body)
        if event_type == "DELETED":
            self.forget(record.key)
            return
        written = self._written.get(record.key)
        if written is not None and differs(written, record.status) and self._evaluated.get(record.key) == (
                record.uid, record.generation):
            # Someone else changed our status, or this event predates our write: trust the API again.
            self._written.pop(record.key, None)
        if self._evaluated.get(record.key) != (record.uid, record.generation):
            self.mark(record.key)

    def forget(self, key: PolicyKey) -> None:
        self._written.pop(key, None)
        self._evaluated.pop(key, None)
        self._dirty.discard(key)

    def workload_changed(self, kind: str, namespace: str, name: str) -> None:
        self._enforced.pop((kind, namespace, name), None)

    # ---- the worker ---------------------------------------------------------------------------

    async def run(self) -> None:
        await self.indexed.wait()
        log.info("indexes filled; evaluating")
        while True:
            timeout = None
            if self._deadlines:
                timeout = max(0.0, self._deadlines[0][0] - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            now = time.monotonic()
            while self._deadlines and self._deadlines[0][0] <= now:
                self._dirty.add(heapq.heappop(self._deadlines)[1])
            if not self._dirty:
                continue
            # Let the rest of a burst arrive: one evaluation per policy instead of one per event.
            await asyncio.sleep(self.debounce)
            batch, self._dirty = self._dirty, set()
            await self._reconcile_batch(sorted(batch, key=PolicyKey.label))

    async def _reconcile_batch(self, keys: list[PolicyKey]) -> None:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(key: PolicyKey) -> None:
            async with semaphore:
                await self.reconcile(key)

        await asyncio.gather(*(one(k) for k in keys))

    async def reconcile(self, key: PolicyKey) -> None:
        try:
            if key.kind == "ZoneSpread":
                await self._reconcile_zonespread(key)
        except Exception:  # one broken policy must never stop the others
            log.exception("evaluating %s failed; retrying in %.0f s", key.label(), RETRY_AFTER_ERROR_S)
            self.schedule(key, RETRY_AFTER_ERROR_S)

    def _record(self, key: PolicyKey) -> PolicyRecord | None:
        index = self.indexes[ZONESPREAD_INDEX] if key.kind == "ZoneSpread" else None
        if index is None:
            return None
        return next((r for r in _values(index, key.namespace) if r.key == key), None)

    def namespace_view(self, namespace: str) -> ClusterView:
        nodes = {}
        for name in self.indexes[NODE_INDEX]:
            for node in self.indexes[NODE_INDEX][name]:
                nodes[node.name] = node
        return ClusterView(
            nodes=nodes,
            pods=_values(self.indexes[POD_INDEX], namespace),
            workloads=[w for name in WORKLOAD_INDEXES for w in _values(self.indexes[name], namespace)],
            pdbs=_values(self.indexes[PDB_INDEX], namespace),
            pods_observed=True,
            nodes_observed=True,
        )

    async def _reconcile_zonespread(self, key: PolicyKey) -> None:
        record = self._record(key)
        if record is None:
            self.forget(key)
            return
        started = time.perf_counter()
        self.evaluations += 1
        now = self.clock()
        previous = self._written.get(key, record.status)
        try:
            spec = parse_policy_spec("ZoneSpread", record.spec)
        except ValueError as exc:
            status = invalid_status(generation=record.generation, reason="InvalidSpec", message=str(exc),
                                    previous=previous, now=now)
            self._evaluated[key] = (record.uid, record.generation)
            await self._write_status(record, previous, status)
            return
        assert isinstance(spec, ZoneSpreadSpec)
        outcome = evaluate_zonespread(spec, key.namespace, key.name, self.namespace_view(key.namespace))
        extra = dict(outcome.status_fields)
        if spec.mode is Mode.ENFORCE:
            errors = await self._enforce_spread(spec, outcome.detail)
            if errors:
                extra["enforcementErrors"] = errors
        status = build_status(generation=record.generation, findings=outcome.findings, extra=extra,
                              previous=previous, now=now, language=self.language)
        self._evaluated[key] = (record.uid, record.generation)
        self.evaluation_seconds.append(time.perf_counter() - started)
        del self.evaluation_seconds[:-1000]
        await self._write_status(record, previous, status)

    async def _enforce_spread(self, spec: ZoneSpreadSpec, evaluation: Any) -> list[str]:
        errors = []
        for config in zonespread_plan.plan(spec, evaluation):
            meta = config["metadata"]
            target = (config["kind"], meta["namespace"], meta["name"])
            fingerprint = json.dumps(config, sort_keys=True)
            if self._enforced.get(target) == fingerprint:
                continue
            try:
                await self.client.apply(config)
            except ApiError as exc:
                # A conflict means a user owns that constraint: theirs stays, and we say so.
                errors.append(f"{config['kind']} {meta['name']}: {exc.message or exc}")
                log.warning("could not add a zone spread constraint to %s/%s/%s: %s", *target, exc)
                continue
            self._enforced[target] = fingerprint
            log.info("added a zone topology spread constraint to %s/%s/%s", *target)
        return errors

    async def _write_status(self, record: PolicyRecord, previous: Mapping[str, Any], status: dict) -> None:
        if not differs(previous, status):
            return
        try:
            response = await self.client.patch_status(API_VERSION, record.key.kind, record.key.namespace or None,
                                                      record.key.name, status_patch(previous, status))
        except ApiError as exc:
            if exc.status == 404:
                self.forget(record.key)
                return
            raise
        self.status_writes += 1
        self._written[record.key] = response.get("status") or status
