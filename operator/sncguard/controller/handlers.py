"""kopf registrations, and nothing else: each handler projects or forwards to the engine.

Every handler is a coroutine: kopf runs plain functions in a thread pool, and the engine's
bookkeeping belongs to the event loop alone. Built-in kinds are only indexed and watched.
No handler here is of the change-detecting kind
(on.create/update/resume) and none needs a finalizer, so kopf writes no annotation and no
finalizer on any object, ours included; status is written by the engine alone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from .. import GROUP, VERSION
from ..view import Node, Pod, PodDisruptionBudget, Workload
from .engine import INDEX_NAMES, Engine
from .kube import KubeClient
from .state import PolicyRecord

log = logging.getLogger("sncguard.handlers")

registry = kopf.OperatorRegistry()
client = KubeClient()
engine = Engine(client)
_tasks: list[asyncio.Task] = []


def _changed(kind: str, namespace: str, name: str, projection: object) -> bool:
    return engine.fingerprints.changed(kind, namespace, name, projection)


def _opened(**_: Any) -> None:
    """Any non-index handler runs only after kopf filled every index: evaluation may start."""
    engine.indexed.set()


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
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    engine.attach({name: kwargs[name] for name in INDEX_NAMES})
    _tasks.append(asyncio.create_task(engine.run(), name="sncguard-engine"))


@kopf.on.cleanup(registry=registry)
async def cleanup(**_: Any) -> None:
    for task in _tasks:
        task.cancel()
    await asyncio.gather(*_tasks, return_exceptions=True)
    await client.close()


@kopf.on.probe(id="evaluations", registry=registry)
async def probe_evaluations(**_: Any) -> int:
    return engine.evaluations


# ---- indexes of built-in kinds: projections, and dirtiness when a projection really changes --


@kopf.index("pods", registry=registry)
async def pods_by_namespace(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[str, Pod]:
    pod = Pod.from_obj(body)
    if _changed("Pod", namespace, name, pod):
        engine.mark_namespace(namespace)
    return {namespace: pod}


def _index_workload(body: kopf.Body, namespace: str, name: str) -> dict[str, Workload]:
    workload = Workload.from_obj(body)
    if _changed(workload.kind, namespace, name, workload):
        engine.workload_changed(workload.kind, namespace, name)
        engine.mark_namespace(namespace)
    return {namespace: workload}


@kopf.index("apps", "v1", "deployments", registry=registry)
async def deployments_by_namespace(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[str, Workload]:
    return _index_workload(body, namespace, name)


@kopf.index("apps", "v1", "statefulsets", registry=registry)
async def statefulsets_by_namespace(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[str, Workload]:
    return _index_workload(body, namespace, name)


@kopf.index("policy", "v1", "poddisruptionbudgets", registry=registry)
async def pdbs_by_namespace(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[str, PodDisruptionBudget]:
    pdb = PodDisruptionBudget.from_obj(body)
    if _changed("PodDisruptionBudget", namespace, name, pdb):
        engine.mark_namespace(namespace)
    return {namespace: pdb}


@kopf.index("nodes", registry=registry)
async def nodes_by_name(body: kopf.Body, name: str, **_: Any) -> dict[str, Node]:
    node = Node.from_obj(body)
    # Nodes report status every few seconds; only a label change can move a verdict.
    if _changed("Node", "", name, node):
        engine.mark_all()
    return {name: node}


@kopf.index(GROUP, VERSION, "zonespreads", registry=registry)
async def zonespreads_by_namespace(body: kopf.Body, namespace: str, **_: Any) -> dict[str, PolicyRecord]:
    return {namespace: PolicyRecord.from_body("ZoneSpread", body)}


# ---- deletions (indexes forget on their own; the engine must hear of it) and policy events ---


def _deleted(kind: str, event_type: str, namespace: str | None, name: str) -> None:
    _opened()
    if event_type == "DELETED":
        engine.fingerprints.forget(kind, namespace or "", name)
        if namespace:
            engine.mark_namespace(namespace)
        else:
            engine.mark_all()


@kopf.on.event("pods", registry=registry)
async def pod_event(type: str, namespace: str, name: str, **_: Any) -> None:
    _deleted("Pod", type, namespace, name)


@kopf.on.event("apps", "v1", "deployments", registry=registry)
async def deployment_event(type: str, namespace: str, name: str, **_: Any) -> None:
    _deleted("Deployment", type, namespace, name)
    if type == "DELETED":
        engine.workload_changed("Deployment", namespace, name)


@kopf.on.event("apps", "v1", "statefulsets", registry=registry)
async def statefulset_event(type: str, namespace: str, name: str, **_: Any) -> None:
    _deleted("StatefulSet", type, namespace, name)
    if type == "DELETED":
        engine.workload_changed("StatefulSet", namespace, name)


@kopf.on.event("policy", "v1", "poddisruptionbudgets", registry=registry)
async def pdb_event(type: str, namespace: str, name: str, **_: Any) -> None:
    _deleted("PodDisruptionBudget", type, namespace, name)


@kopf.on.event("nodes", registry=registry)
async def node_event(type: str, name: str, **_: Any) -> None:
    _deleted("Node", type, None, name)


@kopf.on.event(GROUP, VERSION, "zonespreads", registry=registry)
async def zonespread_event(type: str, body: kopf.Body, **_: Any) -> None:
    _opened()
    engine.policy_event("ZoneSpread", type or "", body)
