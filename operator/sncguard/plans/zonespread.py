"""Enforce mode for ZoneSpread: a hard zone topology spread constraint on workloads that lack one.

The result is a server-side apply configuration per workload that names only the fields
sncguard owns: one entry of `topologySpreadConstraints`, keyed (topologyKey, whenUnsatisfiable)
by the API server, so a user's own constraints and every other field stay theirs.
"""

from __future__ import annotations

from typing import Any

from ..api import ZoneSpreadSpec
from ..rules.zonespread import ZoneSpreadEvaluation
from ..view import Workload


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
