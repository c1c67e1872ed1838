"""The kopf registrations of a wired operator (wiring.py): its lifecycle, the policies, the PolicyReports.

Every watched kind streams through sncguard's informers (informer.py says why), the APIs that may
come and go (Velero, Routes) included; the policies and the PolicyReports are kopf's, and kopf's
discovery tells the informers of absent APIs when to look again. The informers only read.
Every kopf handler is a coroutine: kopf runs plain functions in a thread pool, and the engine's
bookkeeping belongs to the event loop alone. No handler here is of the change-detecting kind
(on.create/update/resume) and none needs a finalizer, so kopf writes no annotation and no
finalizer on any object, ours included; status is written by the engine's writer alone.
"""

from __future__ import annotations

from typing import Any

import kopf

from .. import GROUP, MANAGED_BY_LABEL, MANAGED_BY_VALUE, VERSION
from .engine import policy_index_name
from .kinds import CLUSTER
from .reports import OWNED_INDEXES as OWNED_REPORT_INDEXES
from .state import PolicyRecord
from .wiring import Operator

POLICY_PLURALS = {"ZoneSpread": "zonespreads", "TenantPolicy": "tenantpolicies", "BackupPolicy": "backuppolicies"}
# kopf's indexes, handed to the engine beside the informers' stores.
KOPF_INDEXES = [policy_index_name(kind) for kind in POLICY_PLURALS] + list(OWNED_REPORT_INDEXES.values())


def register(operator: Operator) -> kopf.OperatorRegistry:
    """A kopf registry whose handlers drive `operator`."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
        if info is not None:
            await operator.client.configure(info)
        return info

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **kwargs: Any) -> None:
        await operator.start(settings, {name: kwargs[name] for name in KOPF_INDEXES}, registry)

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await operator.stop()

    @kopf.on.probe(id="evaluations", registry=registry)
    async def probe_evaluations(**_: Any) -> int:
        return operator.engine.evaluations

    for kind, index_id in OWNED_REPORT_INDEXES.items():
        _register_reports(registry, kind.lower() + "s", index_id)
    for kind, plural in POLICY_PLURALS.items():
        _register_policy(registry, operator, kind, plural)
    return registry


def _register_reports(registry: kopf.OperatorRegistry, plural: str, index_id: str) -> None:
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


def _register_policy(registry: kopf.OperatorRegistry, operator: Operator, kind: str, plural: str) -> None:
    """The policies: indexed as records; their events mark them dirty or clean up after them."""
    async def index(body: kopf.Body, namespace: str | None, **_: Any) -> dict[str, PolicyRecord]:
        return {namespace or "": PolicyRecord.from_body(kind, body)}

    async def event(type: str | None, body: kopf.Body, **_: Any) -> None:
        await operator.policy_event(kind, type or "", body)

    kopf.index(GROUP, VERSION, plural, id=policy_index_name(kind), registry=registry)(index)
    kopf.on.event(GROUP, VERSION, plural, id=f"events-{plural}", registry=registry)(event)
