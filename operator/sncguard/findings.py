"""Findings: the one shape every rule returns. Its message is a Text (i18n.py), rendered in the language asked for."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from .i18n import LANGUAGES, Text, render


class Result(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3, Severity.INFO: 4}
# A failure outranks a warning of any severity: what breaks the contract comes first.
RESULT_RANK = {Result.FAIL: 0, Result.WARN: 1, Result.SKIP: 2, Result.PASS: 3}

__all__ = ["LANGUAGES", "Finding", "ResourceRef", "Result", "RuleInfo", "Severity", "Summary", "Waiver", "finding"]


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    severity: Severity
    requirements: tuple[str, ...]
    # The English title, which is also its message ID in the catalogues.
    title: str
    category: str

    def title_in(self, language: str) -> str:
        return render(Text(self.title), language)

    @property
    def title_en(self) -> str:
        return self.title_in("en")

    @property
    def title_fr(self) -> str:
        return self.title_in("fr")


@dataclass(frozen=True, slots=True, order=True)
class ResourceRef:
    kind: str
    namespace: str
    name: str
    api_version: str = ""
    uid: str = ""

    def display(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    def as_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "namespace": self.namespace, "name": self.name}
        if self.api_version:
            out["apiVersion"] = self.api_version
        return out


@dataclass(frozen=True, slots=True)
class Waiver:
    """A known risk accepted for `rule` until the end of the day `until` (UTC), and why.

    From an object's annotation (it covers that object) or from a policy's spec (it covers the
    objects its kind, namespace and name select, each absent one matching any).
    """

    rule: str
    until: date
    reason: str
    origin: str  # "annotation" or "policy"
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None

    @property
    def expires_at(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time(), UTC)

    def active(self, now: datetime) -> bool:
        return now < self.expires_at

    def selects(self, resource: ResourceRef) -> bool:
        return ((self.kind is None or self.kind == resource.kind)
                and (self.namespace is None or self.namespace == resource.namespace)
                and (self.name is None or self.name == resource.name))

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "until": self.until.isoformat(), "reason": self.reason, "origin": self.origin}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: RuleInfo
    result: Result
    resource: ResourceRef
    text: Text
    # The field the verdict rests on, e.g. "spec.template.spec.topologySpreadConstraints".
    field: str = ""
    # The policy that produced the finding, "Kind/namespace/name" or "Kind/name".
    policy: str = ""
    # The waiver that made this finding `skip`, or the lapsed one a failing finding still names.
    waiver: Waiver | None = None

    @property
    def waived(self) -> bool:
        return self.waiver is not None and self.result is Result.SKIP

    @property
    def rule_id(self) -> str:
        return self.rule.id

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    def message(self, language: str = "en") -> str:
        return self.text.render(language)

    @property
    def message_en(self) -> str:
        return self.text.render("en")

    @property
    def message_fr(self) -> str:
        return self.text.render("fr")

    def sort_key(self) -> tuple:
        return (RESULT_RANK[self.result], SEVERITY_RANK[self.severity], self.rule.id, self.resource)

    def as_dict(self, language: str = "en") -> dict:
        out = {
            "rule": self.rule.id,
            "result": self.result.value,
            "severity": self.severity.value,
            "message": self.message(language),
            "resource": self.resource.as_dict(),
            "requirements": list(self.rule.requirements),
            "category": self.rule.category,
        }
        if self.field:
            out["field"] = self.field
        if self.policy:
            out["policy"] = self.policy
        if self.waiver is not None:
            out["waiver"] = self.waiver.as_dict()
        return out


def finding(rule: RuleInfo, result: Result, resource: ResourceRef, text: Text, field: str = "") -> Finding:
    return Finding(rule=rule, result=result, resource=resource, text=text, field=field)


def most_severe_first(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=Finding.sort_key)


@dataclass(slots=True)
class Summary:
    passed: int = 0
    failed: int = 0
    warned: int = 0
    skipped: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, findings: list[Finding]) -> Summary:
        s = cls()
        for f in findings:
            if f.result is Result.PASS:
                s.passed += 1
            elif f.result is Result.FAIL:
                s.failed += 1
                s.by_severity[f.severity.value] = s.by_severity.get(f.severity.value, 0) + 1
            elif f.result is Result.WARN:
                s.warned += 1
            else:
                s.skipped += 1
        return s

    def as_dict(self) -> dict[str, int]:
        return {"pass": self.passed, "fail": self.failed, "warn": self.warned, "skip": self.skipped}
