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


_TIME = {"format": "date-time"}


class SlaCause(Model):
    kind: Annotated[str, Field(description="Deployment or StatefulSet; ZoneSpread when the policy selects no "
                                           "workload.")]
    namespace: str
    name: str
    rule: Annotated[str | None, Field(description="The rule the workload fails (ZS-002, ZS-003, ZS-004, and "
                                                  "ZS-001 or ZS-006 where they explain it); absent when the "
                                                  "policy selects no workload.")] = None


class SlaCurrent(Model):
    eligible: bool
    since: Annotated[str, Field(json_schema_extra=_TIME, description="When the eligibility last changed.")]
    causes: Annotated[list[SlaCause] | None, Field(description="Why it is not eligible (capped).")] = None
    causes_truncated: Annotated[int | None, Field(description="Causes that did not fit.")] = None


class SlaInterval(Model):
    start: Annotated[str, Field(json_schema_extra=_TIME)]
    end: Annotated[str | None, Field(json_schema_extra=_TIME, description="Absent while it lasts.")] = None
    causes: list[SlaCause] | None = None
    causes_truncated: int | None = None


class SlaMonth(Model):
    month: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="The UTC month, YYYY-MM.")]
    eligible_seconds: int
    not_eligible_seconds: int
    unobserved_seconds: Annotated[int, Field(description="Time no sncguard observed (between an operator's "
                                                         "last renewal of its Lease and the next taking over).")]
    intervals: Annotated[list[SlaInterval], Field(
        description="Intervals of non-eligibility with their causes, a new one when the causes change; the "
                    "most recent kept.")]
    intervals_truncated: int = 0


class SlaTotals(Model):
    eligible_seconds: int = 0
    not_eligible_seconds: int = 0
    unobserved_seconds: int = 0


class ZoneOutage(Model):
    zone: str
    start: Annotated[str, Field(json_schema_extra=_TIME, description="The earliest of detection and the nodes' "
                                                                      "own report (their Ready condition).")]
    end: Annotated[str | None, Field(json_schema_extra=_TIME, description="Absent while it lasts.")] = None


class SlaLedger(Model):
    """R1, R6. Totals count up to accountedUntil; the time since belongs to `current` (add it to the current
    month's bucket): the ledger is written on a change or a new month only, never because time passes."""

    started_at: Annotated[str, Field(json_schema_extra=_TIME)]
    accounted_until: Annotated[str, Field(json_schema_extra=_TIME)]
    current: SlaCurrent
    months: Annotated[list[SlaMonth], Field(max_length=2, description="The previous and the current UTC month.")]
    totals: Annotated[SlaTotals | None, Field(description="Since startedAt.")] = None
    zone_outages: Annotated[list[ZoneOutage] | None, Field(
        description="Zones whose every node was NotReady, ongoing or ended since the previous month began.")] = None
    zone_outages_truncated: int | None = None


class ZoneSpreadStatus(PolicyStatus):
    sla_eligible: Annotated[bool | None, Field(
        description="Every selected workload spreads hard and runs in at least minZones zones.")] = None
    zones: Annotated[str | None, Field(description="The zones where selected pods run, comma-separated.")] = None
    observed_zones: list[str] | None = None
    workloads: Annotated[int | None, Field(description="Workloads selected.")] = None
    sla_ledger: Annotated[SlaLedger | None, Field(
        description="Time SLA-eligible and not, per month, with the intervals and causes, and zone outages.")] = None
