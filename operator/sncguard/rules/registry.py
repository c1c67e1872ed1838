"""The one registry of rules: each rule is declared once, in its family module, with everything about it.

A rule is its catalogue entry (ID, severity, requirements, title), the kinds of the ClusterView it reads,
and a pure function from (subject, view, now) to findings, where the subject is what the family judges:
a ZoneSpread's workloads, a BackupPolicy's namespace, a TenantPolicy's namespaces. From the registry come
the catalogue (catalogue.py), the rule list of docs/requirements.md (checked by a test), and which
object changes make which policies dirty (controller/kinds.py derives it from `reads`).

    family = Family(LOCATION, "TenantPolicy")

    @family.rule("LOC-002", Severity.CRITICAL, ("R10",),
                 N_("A PersistentVolume bound to a tenant claim lies in a region that is not allowed"),
                 reads={"PersistentVolume", "PersistentVolumeClaim"})
    def volume_regions(tenant: Tenant, view: ClusterView, now: datetime) -> list[Finding]: ...

`family.evaluate(subject, view, now)` runs the family's rules in the order they are declared.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from ..findings import Finding, RuleInfo, Severity
from ..view import PROJECTIONS, ClusterView

ZONE_SPREAD = "zone-spread"
BACKUP = "backup"
NETWORK = "network"
ACCESS = "access"
LOCATION = "location"
TERMINATION = "termination"

CATEGORIES = (ZONE_SPREAD, BACKUP, NETWORK, ACCESS, LOCATION, TERMINATION)
POLICY_KINDS = ("ZoneSpread", "BackupPolicy", "TenantPolicy")

Subject = TypeVar("Subject")


@dataclass(frozen=True)
class Rule(Generic[Subject]):
    info: RuleInfo
    policy_kind: str
    # The view's kinds (view.PROJECTIONS keys) the check may read; the engine re-judges a policy when an
    # object of one of them changes, so a kind read and not declared is a stale verdict.
    reads: frozenset[str]
    check: Callable[[Subject, ClusterView, datetime], list[Finding]]

    @property
    def id(self) -> str:
        return self.info.id

    def __call__(self, subject: Subject, view: ClusterView, now: datetime) -> list[Finding]:
        return self.check(subject, view, now)


_RULES: dict[str, Rule[Any]] = {}
_FAMILIES: list[Family[Any]] = []


class Family(Generic[Subject]):
    """The rules of one category, all judging one policy kind's subject."""

    def __init__(self, category: str, policy_kind: str) -> None:
        if category not in CATEGORIES or policy_kind not in POLICY_KINDS:
            raise ValueError(f"unknown category {category!r} or policy kind {policy_kind!r}")
        self.category = category
        self.policy_kind = policy_kind
        self.rules: list[Rule[Subject]] = []
        _FAMILIES.append(self)

    def rule(self, rule_id: str, severity: Severity, requirements: Iterable[str], title: str, *,
             reads: Collection[str]) -> Callable[[Callable[[Subject, ClusterView, datetime], list[Finding]]],
                                                 Rule[Subject]]:
        unknown = set(reads) - set(PROJECTIONS)
        if unknown:
            raise ValueError(f"{rule_id} reads unknown kinds {sorted(unknown)}; known: {sorted(PROJECTIONS)}")
        if rule_id in _RULES:
            raise ValueError(f"rule {rule_id} is declared twice")

        def register(check: Callable[[Subject, ClusterView, datetime], list[Finding]]) -> Rule[Subject]:
            declared = Rule(RuleInfo(rule_id, severity, tuple(requirements), title, self.category),
                            self.policy_kind, frozenset(reads), check)
            _RULES[rule_id] = declared
            self.rules.append(declared)
            return declared
        return register

    def evaluate(self, subject: Subject, view: ClusterView, now: datetime) -> list[Finding]:
        return [f for declared in self.rules for f in declared.check(subject, view, now)]

    @property
    def reads(self) -> frozenset[str]:
        return frozenset().union(*(r.reads for r in self.rules))


def rule(rule_id: str) -> RuleInfo:
    """The RuleInfo of a declared rule ID; KeyError names the unknown ID."""
    try:
        return _RULES[rule_id].info
    except KeyError:
        raise KeyError(f"unknown rule ID {rule_id!r}") from None


def declared(rule_id: str) -> Rule[Any]:
    return _RULES[rule_id]


def all_rules() -> list[Rule[Any]]:
    """Every declared rule, in ID order (the family modules must be imported: catalogue.py does)."""
    return sorted(_RULES.values(), key=lambda r: r.id)


def families() -> list[Family[Any]]:
    return list(_FAMILIES)


def reads_of(policy_kind: str) -> frozenset[str]:
    """The kinds the rules of `policy_kind` read, together."""
    return frozenset().union(*(f.reads for f in _FAMILIES if f.policy_kind == policy_kind))


# What a policy kind reads beside its rules: every policy kind finds the namespaces it judges among the
# Namespaces (a TenantPolicy by its namespaceSelector, a ZoneSpread or a BackupPolicy its own), and a
# ZoneSpread's SLA ledger counts its zones' outages from the Nodes' readiness (controller/zonespread.py).
READS_BESIDE_RULES: dict[str, frozenset[str]] = {
    "ZoneSpread": frozenset({"Namespace", "Node"}),
    "BackupPolicy": frozenset({"Namespace"}),
    "TenantPolicy": frozenset({"Namespace"}),
}


def policy_reads(policy_kind: str) -> frozenset[str]:
    """Every kind a policy of `policy_kind` reads: what its rules declare, and what it reads beside them.
    Complete once the family modules are imported (catalogue.py imports them all)."""
    return reads_of(policy_kind) | READS_BESIDE_RULES[policy_kind]
