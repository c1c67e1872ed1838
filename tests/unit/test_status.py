from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sncguard.findings import ResourceRef, Result, finding
from sncguard.rules.catalogue import rule
from sncguard.status import build_status, differs, invalid_status, status_patch

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
REF = ResourceRef("Deployment", "shop", "web")


@dataclass(frozen=True)
class _Said:
    """A finding's text that renders as "<rule> <language>": where each language lands, without a catalogue."""

    rule_id: str

    def render(self, language: str) -> str:
        return f"{self.rule_id} {language}"


def _f(rule_id, result):
    return finding(rule(rule_id), result, REF, _Said(rule_id), "spec.replicas")


def test_compliant_when_nothing_fails():
    status = build_status(generation=3, findings=[_f("ZS-001", Result.PASS), _f("ZS-005", Result.WARN)],
                          extra={"slaEligible": True}, previous=None, now=NOW)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Compliant"]["status"] == "True" and conditions["Compliant"]["reason"] == "Compliant"
    assert status["summary"] == {"pass": 1, "fail": 0, "warn": 1, "skip": 0}
    assert [f["rule"] for f in status["findings"]] == ["ZS-005"]
    assert status["observedGeneration"] == 3 and status["slaEligible"] is True


def test_failures_come_first_most_severe_first_and_are_capped():
    findings = [_f("ZS-005", Result.FAIL), _f("ZS-001", Result.FAIL), _f("ZS-003", Result.WARN)] * 10
    status = build_status(generation=1, findings=findings, extra={}, previous=None, now=NOW, cap=5)
    assert [f["rule"] for f in status["findings"]] == ["ZS-001"] * 5
    assert status["findingsTruncated"] == 25
    compliant = next(c for c in status["conditions"] if c["type"] == "Compliant")
    assert compliant["status"] == "False" and "ZS-001" in compliant["message"]


def test_french_messages():
    status = build_status(generation=1, findings=[_f("ZS-001", Result.FAIL)], extra={}, previous=None, now=NOW,
                          language="fr")
    assert status["findings"][0]["message"] == "ZS-001 fr"
    assert "échec" in next(c for c in status["conditions"] if c["type"] == "Compliant")["message"]


def test_italian_messages():
    """Italian, the third language, comes from its catalogue alone: no condition falls back to French or English."""
    failing = build_status(generation=1, findings=[_f("ZS-001", Result.FAIL)], extra={}, previous=None, now=NOW,
                           language="it")
    conditions = {c["type"]: c for c in failing["conditions"]}
    assert conditions["Ready"]["message"] == "Valutata"
    assert conditions["Compliant"]["message"] == "1 rilievo/i non conforme/i; il più grave: ZS-001 ZS-001 it"
    assert failing["findings"][0]["message"] == "ZS-001 it"
    passing = build_status(generation=1, findings=[_f("ZS-001", Result.PASS), _f("ZS-005", Result.WARN)], extra={},
                           previous=None, now=NOW, language="it")
    compliant = next(c for c in passing["conditions"] if c["type"] == "Compliant")
    assert compliant["message"] == "Nessun rilievo non conforme (1 conformi, 1 avvisi)"


def test_the_clock_alone_is_no_change():
    first = build_status(generation=1, findings=[_f("ZS-001", Result.FAIL)], extra={}, previous=None, now=NOW)
    later = build_status(generation=1, findings=[_f("ZS-001", Result.FAIL)], extra={}, previous=first,
                         now=NOW + timedelta(hours=1))
    assert not differs(first, later)
    assert later["conditions"][1]["lastTransitionTime"] == first["conditions"][1]["lastTransitionTime"]


def test_a_verdict_change_is_a_change_and_moves_the_transition_time():
    first = build_status(generation=1, findings=[_f("ZS-001", Result.FAIL)], extra={}, previous=None, now=NOW)
    fixed = build_status(generation=1, findings=[_f("ZS-001", Result.PASS)], extra={}, previous=first,
                         now=NOW + timedelta(minutes=5))
    assert differs(first, fixed)
    compliant = next(c for c in fixed["conditions"] if c["type"] == "Compliant")
    assert compliant["status"] == "True" and compliant["lastTransitionTime"] == "2026-11-22T10:05:00Z"
    ready = next(c for c in fixed["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2026-11-22T10:00:00Z"


def test_invalid_spec_keeps_the_last_verdict_and_says_why():
    good = build_status(generation=1, findings=[_f("ZS-001", Result.PASS)], extra={"slaEligible": True},
                        previous=None, now=NOW)
    bad = invalid_status(generation=2, reason="InvalidSpec", message="spec.minZones: must be >= 2",
                         previous=good, now=NOW)
    ready = next(c for c in bad["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "InvalidSpec",
                                                                    "spec.minZones: must be >= 2")
    assert bad["summary"] == good["summary"] and bad["slaEligible"] is True
    assert bad["observedGeneration"] == 2


def test_status_patch_nulls_what_went_away():
    assert status_patch({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5}) == {"b": 5, "c": None}


def test_status_patch_nulls_what_went_away_inside_nested_objects():
    old = {"a": 1, "lastDrill": {"restore": "a", "started": "t1", "completed": "t2", "result": "X"},
           "deep": {"kept": {"x": 1, "y": 2}, "same": {"z": 1}}, "list": [{"p": 1, "q": 2}]}
    new = {"a": 1, "lastDrill": {"restore": "b", "started": "t3"}, "deep": {"kept": {"x": 1}, "same": {"z": 1}},
           "list": [{"p": 1}]}
    assert status_patch(old, new) == {
        "lastDrill": {"restore": "b", "started": "t3", "completed": None, "result": None},
        "deep": {"kept": {"y": None}},
        "list": [{"p": 1}],  # a merge patch replaces a list whole
    }
    # An object that was not one before is sent whole; one emptied has each of its keys nulled.
    assert status_patch({"o": "text", "e": {"k": 1}}, {"o": {"k": 1}, "e": {}}) == {"o": {"k": 1}, "e": {"k": None}}
    assert status_patch(new, new) == {}
