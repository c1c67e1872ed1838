"""ZoneSpread: workloads of a namespace must run across at least `minZones` availability zones."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .. import ZONE_LABEL
from .common import LABEL_KEY_PATTERN, LabelSelector, Mode, ModeField, Model, PolicyStatus, WaiversField


class ZoneSpreadSpec(Model):
    mode: ModeField = Mode.AUDIT
    selector: Annotated[LabelSelector | None, Field(
        description="Deployments and StatefulSets of this namespace, by their labels; absent selects all.")] = None
    min_zones: Annotated[int, Field(ge=2, le=16, description="Zones each workload must span (the SLA needs 2).")] = 2
    topology_key: Annotated[str, Field(max_length=317, pattern=LABEL_KEY_PATTERN,
                                       description="The node label that names a zone.")] = ZONE_LABEL
    require_hard_spread: Annotated[bool, Field(
        description="Soft spreading (ScheduleAnyway, preferred anti-affinity) fails ZS-003.")] = True
    require_pod_disruption_budget: Annotated[bool, Field(
        description="A workload without a useful PodDisruptionBudget fails ZS-005.")] = True
    waivers: WaiversField = None


class ZoneSpreadStatus(PolicyStatus):
    sla_eligible: Annotated[bool | None, Field(
        description="Every selected workload spreads hard and runs in at least minZones zones.")] = None
    zones: Annotated[str | None, Field(description="The zones where selected pods run, comma-separated.")] = None
    observed_zones: list[str] | None = None
    workloads: Annotated[int | None, Field(description="Workloads selected.")] = None
