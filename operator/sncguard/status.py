"""Status of a policy, built from its findings; compared with the last one so unchanged status is not written.

`lastEvaluated` and the conditions' `lastTransitionTime` move only when something else changes:
a status that carried the clock would be a write on every evaluation, which is exactly the API
load this operator exists to avoid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .findings import Finding, ResourceRef, Result, Summary, most_severe_first
from .i18n import msg
from .timefmt import rfc3339_seconds

FINDINGS_CAP = 20
_VOLATILE = ("lastEvaluated",)

# The name evaluation.py and evidence/gather.py still import; timefmt is its home.


def _condition(type_: str, status: str, reason: str, message: str, generation: int | None,
               previous: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    old = next((c for c in (previous or {}).get("conditions") or () if c.get("type") == type_), None)
    changed = old is None or old.get("status") != status
    now_text = rfc3339_seconds(now)
    cond = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now_text if changed else old.get("lastTransitionTime", now_text),
    }
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def resource_entry(resource: ResourceRef) -> dict[str, str]:
    """An object as status entries name it: kind, name, and namespace when it has one."""
    entry = {"kind": resource.kind, "name": resource.name}
    if resource.namespace:
        entry["namespace"] = resource.namespace
    return entry


def _finding_entry(f: Finding, language: str) -> dict[str, Any]:
    entry = {"rule": f.rule.id, "result": f.result.value, "severity": f.severity.value,
             "resource": resource_entry(f.resource), "message": f.message(language)}
    if f.field:
        entry["field"] = f.field
    return entry


def compliance_message(findings: list[Finding], summary: Summary, language: str) -> str:
    failing = [f for f in most_severe_first(findings) if f.result is Result.FAIL]
    if not failing:
        return msg("No failing finding ({passed} passed, {warned} warnings)", passed=summary.passed,
                   warned=summary.warned).render(language)
    top = failing[0]
    return msg("{count} failing finding(s); most severe: {rule} {message}", count=len(failing), rule=top.rule.id,
               message=top.message(language)).render(language)


def build_status(
    *,
    generation: int | None,
    findings: list[Finding],
    extra: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    now: datetime,
    language: str = "en",
    cap: int = FINDINGS_CAP,
) -> dict[str, Any]:
    summary = Summary.of(findings)
    reported = [f for f in most_severe_first(findings) if f.result in (Result.FAIL, Result.WARN)]
    compliant = summary.failed == 0
    ready_message = msg("Evaluated").render(language)
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": [
            _condition("Ready", "True", "Evaluated", ready_message, generation, previous, now),
            _condition("Compliant", "True" if compliant else "False", "Compliant" if compliant else "NonCompliant",
                       compliance_message(findings, summary, language), generation, previous, now),
        ],
        "summary": summary.as_dict(),
        "findings": [_finding_entry(f, language) for f in reported[:cap]],
        "findingsTruncated": max(0, len(reported) - cap),
        **extra,
    }
    status["lastEvaluated"] = rfc3339_seconds(now)
    return status


def invalid_status(*, generation: int | None, reason: str, message: str, previous: Mapping[str, Any] | None,
                   now: datetime) -> dict[str, Any]:
    """A spec that cannot be evaluated: Ready=False with the reason; the previous verdict is kept as it was."""
    kept = {k: v for k, v in (previous or {}).items() if k not in ("conditions", "observedGeneration")}
    status = {
        **kept,
        "observedGeneration": generation,
        "conditions": [
            _condition("Ready", "False", reason, message, generation, previous, now),
            _condition("Compliant", "Unknown", reason, message, generation, previous, now),
        ],
    }
    status["lastEvaluated"] = rfc3339_seconds(now)
    return status


def _comparable(status: Mapping[str, Any] | None) -> dict[str, Any]:
    status = dict(status or {})
    for key in _VOLATILE:
        status.pop(key, None)
    status["conditions"] = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or ()
    ]
    return status


def differs(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    return _comparable(old) != _comparable(new)


def status_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) that turns the stored `old` status into exactly `new`.

    A merge patch merges a nested object key by key into the stored one, so a key the new status no
    longer has would survive (a drill's `completed` under the next drill's `lastDrill`): at every
    depth of nested objects, what went away is sent as null. Lists are replaced whole, so they go
    as they are.
    """
    old = old or {}
    patch: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            if nested := status_patch(before, value):
                patch[key] = nested
        elif key not in old or before != value:
            patch[key] = value
    for key in old:
        if key not in new:
            patch[key] = None
    return patch
