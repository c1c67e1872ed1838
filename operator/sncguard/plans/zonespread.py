"""Enforce mode for ZoneSpread: a hard zone topology spread constraint on workloads that lack one.

The result is a server-side apply configuration per workload that names only the fields
sncguard owns: one entry of `topologySpreadConstraints`, keyed (topologyKey, whenUnsatisfiable)
by the API server, so a user's own constraints and every other field stay theirs.

Each ZoneSpread applies under a field manager of its own (`field_manager`): a server-side apply
removes what the same manager applied before and no longer names, so two policies sharing one
manager would take each other's constraints away in turn (one on zones, one on hosts, say). With
one manager each, a policy owns exactly the constraint it added; one that collides with another's
(the same key) is a conflict, reported and never forced.
"""

from __future__ import annotations

from typing import Any

from ..api import ZoneSpreadSpec
from ..naming import digest
from ..rules.zonespread import ZoneSpreadEvaluation
from ..view import Workload

MAX_FIELD_MANAGER = 128  # the API server refuses longer ones


def field_manager(namespace: str, name: str) -> str:
    """sncguard/zonespread/<namespace>/<name>: readable in managedFields, at most 128 characters."""
    manager = f"sncguard/zonespread/{namespace}/{name}"
    if len(manager) <= MAX_FIELD_MANAGER:
        return manager
    tail = digest(manager)
    return f"{manager[:MAX_FIELD_MANAGER - len(tail) - 1]}-{tail}"


def spread_constraint(spec: ZoneSpreadSpec, workload: Workload) -> dict[str, Any]:
    constraint: dict[str, Any] = {
        "topologyKey": spec.topology_key,
        "whenUnsatisfiable": "DoNotSchedule",
        "maxSkew": 1,
        "minDomains": spec.min_zones,
        "labelSelector": workload.selector,
    }
    if workload.kind == "Deployment":
        # During a rolling update the old ReplicaSet's pods match the selector too; counting them
        # lets the new pods pile into the zones the old ones are leaving. Count one revision only.
        constraint["matchLabelKeys"] = ["pod-template-hash"]
    return constraint


def apply_configuration(spec: ZoneSpreadSpec, workload: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": workload.kind,
        "metadata": {"name": workload.name, "namespace": workload.namespace},
        "spec": {"template": {"spec": {"topologySpreadConstraints": [spread_constraint(spec, workload)]}}},
    }


def plan(spec: ZoneSpreadSpec, evaluation: ZoneSpreadEvaluation) -> list[dict[str, Any]]:
    """Apply configurations for the selected workloads that do not spread hard on the zone key."""
    return [apply_configuration(spec, a.workload) for a in evaluation.assessments
            if a.needs_spread_constraint and a.workload.selector]
