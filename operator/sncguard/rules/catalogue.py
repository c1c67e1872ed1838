"""The rule catalogue: one RuleInfo per rule ID of the requirements (REQUIREMENTS.md, "Rule catalogue").

Rule IDs are stable: findings, metrics, PolicyReports, tests and documentation all use them. Each rule is
declared in its family module (registry.py says how); importing the families here completes the registry,
and the catalogue is read from it.
"""

from __future__ import annotations

from ..findings import RuleInfo
from . import access, backup, location, network, registry, termination, zonespread  # noqa: F401 (they declare)
from .registry import CATEGORIES, rule

__all__ = ["CATALOGUE", "CATEGORIES", "POLICY_READS", "rule", "rules_of"]

CATALOGUE: dict[str, RuleInfo] = {r.id: r.info for r in registry.all_rules()}
# The kinds each policy kind reads, rules and subject together: the engine's READS (controller/kinds.py).
POLICY_READS: dict[str, frozenset[str]] = {kind: registry.policy_reads(kind) for kind in registry.POLICY_KINDS}


def rules_of(category: str) -> list[RuleInfo]:
    """The rules of one category, in ID order."""
    return sorted((r for r in CATALOGUE.values() if r.category == category), key=lambda r: r.id)
