"""Pydantic models of the sncguard custom resources: specs, statuses and their shared parts."""

from .backuppolicy import BackupPolicySpec, BackupPolicyStatus
from .common import Condition, FindingEntry, LabelSelector, Mode, PolicyStatus, SummaryCounts, Waiver
from .tenantpolicy import TenantPolicySpec, TenantPolicyStatus
from .zonespread import ZoneSpreadSpec, ZoneSpreadStatus

__all__ = [
    "BackupPolicySpec",
    "BackupPolicyStatus",
    "Condition",
    "FindingEntry",
    "LabelSelector",
    "Mode",
    "PolicyStatus",
    "SummaryCounts",
    "TenantPolicySpec",
    "TenantPolicyStatus",
    "Waiver",
    "ZoneSpreadSpec",
    "ZoneSpreadStatus",
]
