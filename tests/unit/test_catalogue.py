"""The rule registry (rules/registry.py, read through catalogue.py) matches the contract in REQUIREMENTS.md."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sncguard.findings import RuleInfo, Severity
from sncguard.rules.catalogue import CATALOGUE, CATEGORIES, rule, rules_of

ROOT = Path(__file__).resolve().parents[2]

CATEGORY_OF_PREFIX = {"ZS": "zone-spread", "BK": "backup", "NET": "network", "ACC": "access",
                      "LOC": "location", "TERM": "termination"}


# The contract, kept in the repository so that the test needs nothing beside the checkout.
REQUIREMENTS = ROOT / "docs" / "requirements.md"
# The workspace's original, when the checkout sits in one: the copy must not drift from it.
WORKSPACE_REQUIREMENTS = Path(os.environ.get("SNCGUARD_REQUIREMENTS") or ROOT.parent / "shared" / "REQUIREMENTS.md")


_BULLET = re.compile(r"^- \*\*([A-Z]+-\d{3})\*\* \[(\w+)\](.*?)(?=^- \*\*|^#|\Z)", re.M | re.S)
_REQS = re.compile(r"\(((?:[RS]\d+)(?:,\s*[RS]\d+)*)\)")


def parse_catalogue(text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """`- **XX-NNN** [severity] text (R1, R4)` bullets, possibly spanning lines."""
    section = text[text.index("## Rule catalogue"):]
    section = section[:section.index("\n## ", 1)] if "\n## " in section[1:] else section
    out = {}
    for rule_id, severity, body in _BULLET.findall(section):
        reqs = _REQS.findall(body)
        out[rule_id] = (severity, tuple(r.strip() for r in reqs[-1].split(","))) if reqs else (severity, ())
    return out


def test_parser_reads_multiline_bullets():
    text = ("## Rule catalogue\n### X\n- **ZS-001** [high] a b (R1, R4)\n- **NET-003** [critical] port 22\n"
            "  more text (with parens) and 0.0.0.0/0 (R7)\n\n## Next\n- **XX-999** [low] ignored (R1)\n")
    assert parse_catalogue(text) == {"ZS-001": ("high", ("R1", "R4")), "NET-003": ("critical", ("R7",))}


# Rules the contract names that an open issue is to implement: listed here, so that the contract can
# move ahead of the code without the test going blind. Once a rule is implemented it must leave this list.
PLANNED: dict[str, str] = {}


def test_catalogue_matches_requirements_file():
    parsed = parse_catalogue(REQUIREMENTS.read_text(encoding="utf-8"))
    assert len(parsed) == 27 + len(PLANNED)  # ZS 6, BK 7, NET 7, ACC 3, LOC 2, TERM 2, and the planned ones
    assert not set(PLANNED) & set(CATALOGUE), "an implemented rule is still listed as planned"
    assert set(parsed) == set(CATALOGUE) | set(PLANNED), "rule IDs differ between docs/requirements.md and CATALOGUE"
    for rule_id, (severity, requirements) in parsed.items():
        if rule_id in PLANNED:
            continue
        info = CATALOGUE[rule_id]
        assert info.severity.value == severity, rule_id
        assert info.requirements == requirements, rule_id
    if WORKSPACE_REQUIREMENTS.is_file():
        assert parse_catalogue(WORKSPACE_REQUIREMENTS.read_text(encoding="utf-8")) == parsed, (
            f"docs/requirements.md has drifted from {WORKSPACE_REQUIREMENTS}: copy it again")


def test_catalogue_counts_per_family():
    prefixes = [rule_id.split("-")[0] for rule_id in CATALOGUE]
    counts = {p: prefixes.count(p) for p in CATEGORY_OF_PREFIX}
    assert counts == {"ZS": 6, "BK": 7, "NET": 7, "ACC": 3, "LOC": 2, "TERM": 2}


def contract_ids() -> list[str]:
    """The rule IDs of docs/requirements.md: the contract the registry is checked against (above)."""
    return sorted(parse_catalogue(REQUIREMENTS.read_text(encoding="utf-8")))


@pytest.mark.parametrize("rule_id", contract_ids())
def test_rule_info_is_complete(rule_id):
    info = CATALOGUE[rule_id]
    assert isinstance(info, RuleInfo)
    assert info.id == rule_id
    assert info.category == CATEGORY_OF_PREFIX[rule_id.split("-")[0]]
    assert info.category in CATEGORIES
    assert isinstance(info.requirements, tuple) and info.requirements
    assert all(re.fullmatch(r"[RS]\d+", r) for r in info.requirements)
    assert len(info.title_en) > 15 and len(info.title_fr) > 15
    assert info.title_en != info.title_fr
    assert info.title_en[0].isupper() and info.title_fr[0].isupper()
    assert not info.title_en.endswith(".") and not info.title_fr.endswith(".")


def test_french_titles_are_french():
    titles = [r.title_fr for r in CATALOGUE.values()]
    accented = [t for t in titles if re.search(r"[éèêàùçôîœ]", t)]
    assert len(accented) >= len(titles) * 2 // 3, "French titles should be real French, with accents"
    assert all(re.search(r"\b(le|la|les|un|une|des|du|de|d'|aucun|aucune)\b", t.lower()) for t in titles)


def test_rule_lookup():
    assert rule("ZS-001") is CATALOGUE["ZS-001"]
    assert rule("LOC-002").severity is Severity.CRITICAL
    with pytest.raises(KeyError, match="ZS-999"):
        rule("ZS-999")


def test_rules_of_category_in_id_order():
    assert [r.id for r in rules_of("zone-spread")] == [f"ZS-00{i}" for i in range(1, 7)]
    assert [r.id for r in rules_of("access")] == ["ACC-001", "ACC-002", "ACC-003"]
    assert [r.id for r in rules_of("termination")] == ["TERM-001", "TERM-002"]
    assert rules_of("nope") == []
    assert sum(len(rules_of(c)) for c in CATEGORIES) == len(CATALOGUE)
