"""CONTRIBUTING.md's worked example, run as written: adding a rule is one declaration in its family module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sncguard.findings import Severity
from sncguard.rules import network, registry

ROOT = Path(__file__).resolve().parents[2]


def example(name: str) -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, re.S)
    assert match, f"CONTRIBUTING.md has no '{name}' example"
    return match.group(1)


@pytest.fixture()
def scratch_registry(monkeypatch):
    """The real registry, restored afterwards: the example rule is not part of the contract."""
    monkeypatch.setattr(registry, "_RULES", dict(registry._RULES))
    for family in registry.families():
        monkeypatch.setattr(family, "rules", list(family.rules))


def test_the_worked_example_declares_a_rule_that_the_registry_and_the_engine_see(scratch_registry):
    assert "NET-008" not in registry._RULES
    module = dict(vars(network))  # appended to rules/network.py: its names, `family` first of all
    exec(compile(example("rule"), "CONTRIBUTING.md:rule", "exec"), module)

    declared = registry.declared("NET-008")
    assert declared.info.severity is Severity.MEDIUM and declared.info.requirements == ("S7",)
    assert declared.info.category == "network" and declared.policy_kind == "TenantPolicy"
    assert declared in network.family.rules
    assert "Service" in registry.reads_of("TenantPolicy")

    tests = {"no_external_ips": module["no_external_ips"]}
    exec(compile(example("test"), "CONTRIBUTING.md:test", "exec"), tests)
    tests["test_net_008_fails_a_tenant_service_with_external_ips_and_passes_the_others"]()


def test_the_example_rule_is_not_left_in_the_registry():
    assert "NET-008" not in registry._RULES
