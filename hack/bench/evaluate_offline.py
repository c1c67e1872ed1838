"""The operator's reconcilers on the benchmark's world, without an API server: how long one
evaluation of each policy kind takes, at any size, in seconds instead of a 40-minute run.

    .venv/bin/python hack/bench/evaluate_offline.py --namespaces 2000 --tenants 200 --nodes-per-zone 80 \\
        --backups-per-namespace 5 [--kind TenantPolicy] [--count 5] [--profile]

The world is world.py's (namespaces, Deployments with their pods spread over the zones, policies,
Velero Backups), projected by each kind's `Watched.project` into indexes shaped as the informers
fill them; status writes and Events are recorded, not sent. What it leaves out: JSON decoding,
the API round trips, the informers' events, and other work sharing the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "operator"))

import world  # noqa: E402  (hack/bench/world.py)

from sncguard.controller.backuppolicy import BackupPolicyReconciler  # noqa: E402
from sncguard.controller.engine import Engine, policy_index_name  # noqa: E402
from sncguard.controller.kinds import BY_KIND, CLUSTER  # noqa: E402
from sncguard.controller.state import PolicyRecord  # noqa: E402
from sncguard.controller.tenantpolicy import TenantPolicyReconciler  # noqa: E402
from sncguard.controller.zonespread import ZoneSpreadReconciler  # noqa: E402

POLICY_KINDS = ("ZoneSpread", "TenantPolicy", "BackupPolicy")


def objects(size: world.Size, now: datetime) -> list[dict[str, Any]]:
    out = [*world.node_objects(size.nodes_per_zone), *world.velero_objects(now)]
    out[-1] = {**out[-1], **world.backup_status(now)}
    salt = 0
    for _, objs in world.world(size):
        for obj in objs:
            out.append(obj)
            if obj["kind"] == "Deployment":
                out += world.pod_objects(obj, size.nodes_per_zone, salt)
                salt += 1
    out += [world.tenantpolicy(t) for t in world.tenant_namespaces(size)]
    return out + world.namespace_backups(size, now)


class Recording(Engine):
    """The engine, writing nothing: what it would write is counted."""

    def __init__(self) -> None:
        super().__init__(client=None)  # type: ignore[arg-type]
        self.written: list[Any] = []
        self.served_groups = lambda: {"velero.io"}
        self.writer.write_status = self._count  # type: ignore[method-assign]
        self.writer.post_event = self._post_nothing  # type: ignore[method-assign]

    async def _count(self, record: Any, status: dict[str, Any], findings: Any = None) -> bool:
        self.written.append((record.key, status))
        return True

    async def _post_nothing(self, *args: Any, **kwargs: Any) -> None:
        return None


def engine_for(objs: list[dict[str, Any]]) -> Recording:
    indexes: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for obj in objs:
        meta = obj["metadata"]
        meta.setdefault("uid", f"uid-{obj['kind']}-{meta.get('namespace', '')}-{meta['name']}")
        meta.setdefault("generation", 1)
        if obj["kind"] in POLICY_KINDS:
            indexes[policy_index_name(obj["kind"])][meta.get("namespace") or CLUSTER].append(
                PolicyRecord.from_body(obj["kind"], obj))
            continue
        watched = BY_KIND[obj["kind"]]
        indexes[watched.index_id][meta.get("namespace") if watched.namespaced else CLUSTER].append(
            watched.project(obj))
    engine = Recording()
    engine.attach(indexes, (ZoneSpreadReconciler(), TenantPolicyReconciler(), BackupPolicyReconciler()))
    return engine


async def evaluate(engine: Recording, kind: str, count: int, profile: bool) -> float:
    reconciler = engine.reconcilers[kind]
    records = engine.records(kind)
    await reconciler.reconcile(engine, records[0])  # the first fills what later ones reuse
    chosen = records[1:1 + count]
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for record in chosen:
        await reconciler.reconcile(engine, record)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return (time.perf_counter() - started) / max(1, len(chosen))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--namespaces", type=int, default=200)
    p.add_argument("--tenants", type=int, default=20)
    p.add_argument("--nodes-per-zone", type=int, default=8)
    p.add_argument("--backups-per-namespace", type=int, default=0)
    p.add_argument("--kind", choices=POLICY_KINDS, action="append")
    p.add_argument("--count", type=int, default=10, help="evaluations timed per kind (after a first one)")
    p.add_argument("--profile", action="store_true", help="cProfile the timed evaluations")
    args = p.parse_args()
    size = world.Size(namespaces=args.namespaces, tenants=args.tenants, nodes_per_zone=args.nodes_per_zone,
                      backups_per_namespace=args.backups_per_namespace)
    started = time.perf_counter()
    engine = engine_for(objects(size, datetime.now(UTC)))
    gc.collect()
    gc.freeze()  # as the operator does once its informers are synced
    print(f"world of {size.namespaces} namespaces, {size.pods} pods: indexed in {time.perf_counter() - started:.1f} s")
    for kind in args.kind or POLICY_KINDS:
        seconds = asyncio.run(evaluate(engine, kind, args.count, args.profile))
        failing = sum(1 for key, st in engine.written if key.kind == kind and (st.get("summary") or {}).get("fail"))
        print(f"{kind}: {seconds * 1000:.1f} ms per evaluation; statuses with a failure: {failing}")


if __name__ == "__main__":
    main()
