"""BackupPolicy: the namespace it lives in is backed up off-zone, encrypted, recently and restore-tested."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from .common import DURATION_PATTERN, Mode, ModeField, Model, PolicyStatus, WaiversField

# Five cron fields, or one of Velero's (robfig/cron) descriptors.
CRON_PATTERN = (
    r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every [0-9hms.]+|"
    r"([0-9*/,?LW#-]+|[A-Za-z]{3}(-[A-Za-z]{3})?)( +([0-9*/,?LW#-]+|[A-Za-z]{3}(-[A-Za-z]{3})?)){4})$"
)
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

Duration = Annotated[str, Field(max_length=32, pattern=DURATION_PATTERN)]


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string ("26h", "1h30m")."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration such as 26h, 90m or 1h30m")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))


class BackupPolicySpec(Model):
    mode: ModeField = Mode.AUDIT
    storage_location: Annotated[str, Field(min_length=1, max_length=253,
                                           description="The Velero BackupStorageLocation.")] = "default"
    velero_namespace: Annotated[str, Field(min_length=1, max_length=63)] = "openshift-adp"
    schedule: Annotated[str, Field(max_length=128, pattern=CRON_PATTERN,
                                   description="Cron schedule of the backups.")] = "0 2 * * *"
    ttl: Duration = "720h"
    rpo: Annotated[str, Field(max_length=32, pattern=DURATION_PATTERN,
                              description="Oldest acceptable last successful backup.")] = "26h"
    restore_test_interval: Annotated[str | None, Field(
        max_length=32, pattern=DURATION_PATTERN,
        description="Longest time without a successful restore test; absent disables the check.")] = None
    require_encryption: bool = True
    allowed_regions: Annotated[list[Annotated[str, Field(max_length=63)]] | None, Field(max_length=32)] = None
    waivers: WaiversField = None

    @field_validator("ttl", "rpo", "restore_test_interval")
    @classmethod
    def _positive(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= 0:
            raise ValueError(f"{value!r} must be longer than zero")
        return value


class DrillState(Model):
    """The last restore drill sncguard ran (Enforce mode with restoreTestInterval)."""

    restore: str
    backup: str
    scratch_namespace: str
    phase: str
    started: str | None = None
    completed: str | None = None


class BackupPolicyStatus(PolicyStatus):
    target: str | None = None
    target_zone: str | None = None
    target_region: str | None = None
    workload_zones: list[str] | None = None
    last_backup: Annotated[str | None, Field(json_schema_extra={"format": "date-time"})] = None
    last_restore_test: Annotated[str | None, Field(json_schema_extra={"format": "date-time"})] = None
    next_deadline: Annotated[str | None, Field(json_schema_extra={"format": "date-time"})] = None
    last_drill: DrillState | None = None
