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
    return {
        "topologyKey": spec.topology_key,
        "whenUnsatisfiable": "DoNotSchedule",
        "maxSkew": 1,
        "minDomains": spec.min_zones,
        "labelSelector": workload.selector,
    }


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
