"""One policy in, findings and the kind's status fields out: the glue shared by the operator and `check`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .api import ZoneSpreadSpec
from .findings import Finding
from .rules import zonespread
from .view import ClusterView


@dataclass(frozen=True)
class Outcome:
    findings: list[Finding]
    status_fields: dict[str, Any]
    detail: Any = None


def policy_label(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def evaluate_zonespread(spec: ZoneSpreadSpec, namespace: str, name: str, view: ClusterView) -> Outcome:
    result = zonespread.evaluate(spec, namespace, view)
    label = policy_label("ZoneSpread", namespace, name)
    zones = sorted(result.observed_zones)
    return Outcome(
        findings=[replace(f, policy=label) for f in result.findings],
        status_fields={
            "slaEligible": result.sla_eligible,
            "zones": ",".join(zones),
            "observedZones": zones,
            "workloads": len(result.assessments),
        },
        detail=result,
    )
