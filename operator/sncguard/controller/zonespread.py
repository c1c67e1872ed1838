"""ZoneSpread in the operator: evaluate the namespace's workloads, enforce spreading, write status."""

from __future__ import annotations

from typing import Any

from .. import sla
from ..api import Mode, ZoneSpreadSpec
from ..evaluation import evaluate_zonespread
from ..plans import zonespread as plan
from ..status import build_status
from .engine import Engine
from .kinds import build_view, missing_permission
from .state import PolicyRecord


class ZoneSpreadReconciler:
    kind = "ZoneSpread"

    async def reconcile(self, engine: Engine, record: PolicyRecord) -> None:
        now = engine.clock()
        previous = engine.writer.previous_status(record)
        spec = await engine.parse_spec(record)
        if spec is None or await missing_permission(engine, record):
            return
        assert isinstance(spec, ZoneSpreadSpec)
        namespace = record.key.namespace
        view = build_view(engine, [namespace], ())
        outcome = evaluate_zonespread(spec, namespace, record.key.name, view, now)
        # The SLA ledger (sla.py) changes with eligibility, causes and zone outages, and at each new
        # UTC month, when a timer wakes the policy: never because time passed.
        ledger = sla.advance_ledger(
            (previous or {}).get("slaLedger"), outcome.detail.sla_eligible,
            sla.sla_causes(outcome.detail, namespace, record.key.name),
            sla.zone_states(view.nodes.values(), spec.topology_key), now, engine.unobserved)
        wake = [w for w in (outcome.wake_at, sla.next_month_start(now)) if w is not None]
        engine.queue.schedule_at(record.key, min(wake))
        extra: dict[str, Any] = {**outcome.status_fields, "slaLedger": ledger}
        if spec.mode is Mode.ENFORCE:
            manager = plan.field_manager(namespace, record.key.name)
            errors = [e for config in plan.plan(spec, outcome.detail)
                      if (e := await engine.writer.apply_fields(config, manager))]
            if errors:
                extra["enforcementErrors"] = errors
        status = build_status(generation=record.generation, findings=outcome.findings, extra=extra,
                              previous=previous, now=now, language=engine.language)
        await engine.writer.write_status(record, status, outcome.findings)

    async def deleted(self, engine: Engine, record: PolicyRecord) -> None:
        """The constraints sncguard added stay: removing them would reschedule the user's pods."""
