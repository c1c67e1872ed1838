"""The rule catalogue: one RuleInfo per rule ID of the requirements (REQUIREMENTS.md, "Rule catalogue").

Rule IDs are stable: findings, metrics, PolicyReports, tests and documentation all use them.
"""

from __future__ import annotations

from ..findings import RuleInfo, Severity
from ..i18n import N_
from . import registry
from .registry import ACCESS, BACKUP, CATEGORIES, NETWORK, TERMINATION, ZONE_SPREAD

_C, _H, _M = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM

__all__ = ["CATEGORIES", "rule", "rules_of"]  # and CATALOGUE, lazily (TRANSITION)

# TRANSITION: the entries of families not yet declared through registry.Family; a family moves its
# entries into its rule declarations and out of here.
_RULES: tuple[RuleInfo, ...] = (
    RuleInfo("ZS-001", _H, ("R1", "R4"),
             N_("A selected workload has fewer replicas than minZones"),
             ZONE_SPREAD),
    RuleInfo("ZS-002", _H, ("R1",),
             N_("No zone spreading declared: neither a topology spread constraint nor a pod anti-affinity "
                "on the zone key"),
             ZONE_SPREAD),
    RuleInfo("ZS-003", _M, ("R1",),
             N_("Zone spreading is only soft while the policy requires it hard"),
             ZONE_SPREAD),
    RuleInfo("ZS-004", _H, ("R1",),
             N_("The running pods sit in fewer than minZones zones"),
             ZONE_SPREAD),
    RuleInfo("ZS-005", _M, ("R4",),
             N_("No PodDisruptionBudget covers the workload, or it allows every pod down"),
             ZONE_SPREAD),
    RuleInfo("ZS-006", _H, ("R1",),
             N_("The workload is pinned to a single zone by nodeSelector or node affinity"),
             ZONE_SPREAD),
    RuleInfo("BK-001", _H, ("R2", "R3"),
             N_("A namespace that a policy requires backed up is covered by no backup schedule"),
             BACKUP),
    RuleInfo("BK-002", _C, ("R2",),
             N_("The backup target sits in a zone where protected workloads run"),
             BACKUP),
    RuleInfo("BK-003", _H, ("R2",),
             N_("The backup target's zone is unknown, so off-zone storage cannot be proven"),
             BACKUP),
    RuleInfo("BK-004", _H, ("S2",),
             N_("The backup target does not encrypt"),
             BACKUP),
    RuleInfo("BK-005", _H, ("R3",),
             N_("The last successful backup is older than the policy's RPO"),
             BACKUP),
    RuleInfo("BK-006", _M, ("S3",),
             N_("No successful restore test within the policy's interval"),
             BACKUP),
    RuleInfo("BK-007", _C, ("R10",),
             N_("The backup target is outside the allowed regions"),
             BACKUP),
    RuleInfo("NET-001", _H, ("R8", "S7"),
             N_("A tenant namespace has no default-deny ingress policy"),
             NETWORK),
    RuleInfo("NET-002", _M, ("S7",),
             N_("A tenant namespace has no default-deny egress policy"),
             NETWORK),
    RuleInfo("NET-003", _C, ("R7",),
             N_("An administration or file-sharing port is open to the whole Internet"),
             NETWORK),
    RuleInfo("NET-004", _C, ("S6",),
             N_("The effective network policies admit traffic from another tenant's namespaces"),
             NETWORK),
    RuleInfo("NET-005", _H, ("S7",),
             N_("The effective network policies admit a flow that the flow matrix does not list"),
             NETWORK),
    RuleInfo("NET-006", _H, ("S1", "S4"),
             N_("Cleartext exposure: a route, ingress or port without encryption"),
             NETWORK),
    RuleInfo("NET-007", _M, ("S7",),
             N_("An externally exposed Service, Route or Ingress lies in a namespace outside the DMZ zone"),
             NETWORK),
    RuleInfo("ACC-001", _H, ("R9", "R14"),
             N_("A binding grants access to a tenant namespace to a subject not on the authorised list"),
             ACCESS),
    RuleInfo("ACC-002", _H, ("S4",),
             N_("A binding grants access to a broad group"),
             ACCESS),
    RuleInfo("ACC-003", _H, ("R9",),
             N_("A temporary access grant has expired but its binding still exists"),
             ACCESS),
    RuleInfo("TERM-001", _H, ("R11",),
             N_("The contract ended more than 21 days ago and no erasure notice is recorded"),
             TERMINATION),
    RuleInfo("TERM-002", _C, ("R11",),
             N_("More than 30 days after the erasure notice, tenant data remains"),
             TERMINATION),
)

_LEGACY: dict[str, RuleInfo] = {r.id: r for r in _RULES}


def rule(rule_id: str) -> RuleInfo:
    """The RuleInfo of a rule ID; KeyError names the unknown ID."""
    try:
        return registry.rule(rule_id)
    except KeyError:
        pass
    try:
        return _LEGACY[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule ID {rule_id!r}") from None


def __getattr__(name: str):  # TRANSITION: lazy while family modules still import this one
    if name == "CATALOGUE":
        from . import access, backup, location, network, termination, zonespread  # noqa: F401
        return {**_LEGACY, **{r.id: r.info for r in registry.all_rules()}}
    raise AttributeError(name)


def rules_of(category: str) -> list[RuleInfo]:
    """The rules of one category, in ID order."""
    return sorted((r for r in __getattr__("CATALOGUE").values() if r.category == category), key=lambda r: r.id)
