"""`sncguard check --output sarif`: the report as a SARIF 2.1.0 log, for GitHub code scanning and
the other readers of the OASIS format.

Pure functions: a CheckReport in, a dict ready for json.dump out. One reportingDescriptor per rule
of the catalogue, whether or not it produced a result; one result per failing or warning finding
(passes and skips are not problems to show), and one per waived finding, marked suppressed; the
policies that could not be used, and waivers naming no rule, are notifications of the run's invocation.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from . import __version__
from .check import CheckReport
from .findings import Finding, Result, RuleInfo, Severity, Waiver
from .i18n import msg
from .loader import STDIN_NAME, PolicyError, Source
from .rules.catalogue import CATALOGUE

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "sncguard"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
REPORTED = (Result.FAIL, Result.WARN)


def rule_level(rule: RuleInfo) -> str:
    """The rule's default level: critical and high are errors, medium warnings, low and info notes."""
    return LEVELS[rule.severity]


def result_level(finding: Finding) -> str:
    """A failure, waived or not, takes its rule's level; a warning is a warning, whatever the rule's severity."""
    return rule_level(finding.rule) if finding.result is Result.FAIL or finding.waived else "warning"


def rule_name(rule: RuleInfo) -> str:
    """An identifier a person can read, the same in every language: the English title in PascalCase."""
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", rule.title))


def rule_descriptor(rule: RuleInfo, language: str) -> dict[str, Any]:
    title = rule.title_in(language)
    full = msg("{title}. Requirements: {requirements}.", title=title, requirements=rule.requirements)
    return {
        "id": rule.id,
        "name": rule_name(rule),
        "shortDescription": {"text": title},
        "fullDescription": {"text": full.render(language)},
        "help": {"text": msg("{description} Category: {category}.", description=full,
                             category=rule.category).render(language)},
        "defaultConfiguration": {"level": rule_level(rule)},
        "properties": {
            "category": rule.category,
            "severity": rule.severity.value,
            "requirements": list(rule.requirements),
            "tags": [rule.category, *rule.requirements],
        },
    }


def artifact_uri(file: str, base: Path) -> str | None:
    """The file as a URI reference: relative to `base` (the current directory) when it lies
    below it, as code scanning expects paths from the repository's root; a file: URI otherwise.
    None for standard input, which is no artifact anyone can open."""
    if file == STDIN_NAME:
        return None
    path = Path(os.path.normpath(base / file))
    try:
        relative = path.relative_to(base)
    except ValueError:
        return path.as_uri()
    return quote(PurePosixPath(*relative.parts).as_posix())


def physical_location(source: Source | None, base: Path) -> dict[str, Any] | None:
    if source is None:
        return None
    uri = artifact_uri(source.file, base)
    if uri is None:
        return None
    return {"artifactLocation": {"uri": uri}, "region": {"startLine": max(source.line, 1)}}


def fingerprint(finding: Finding) -> str:
    """Stable across runs when lines move: the rule, the object, the field and the policy."""
    r = finding.resource
    key = "\0".join((finding.rule.id, r.kind, r.namespace, r.name, finding.field, finding.policy))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def sarif_result(report: CheckReport, finding: Finding, rule_index: int, language: str,
                 base: Path) -> dict[str, Any]:
    resource = finding.resource
    logical: dict[str, Any] = {
        "name": resource.name,
        "fullyQualifiedName": resource.display(),
        "kind": "object",
        "properties": {"kind": resource.kind, "namespace": resource.namespace, "name": resource.name},
    }
    if resource.api_version:
        logical["properties"]["apiVersion"] = resource.api_version
    location: dict[str, Any] = {"logicalLocations": [logical]}
    # An object the input does not hold (a Namespace it only mentions) is shown at the policy
    # that asked about it, when that policy is in the input.
    physical = physical_location(report.source_of(resource) or report.policy_source(finding.policy), base)
    if physical is not None:
        location["physicalLocation"] = physical
    properties: dict[str, Any] = {
        "result": finding.result.value,
        "severity": finding.severity.value,
        "category": finding.rule.category,
        "requirements": list(finding.rule.requirements),
    }
    if finding.field:
        properties["field"] = finding.field
    if finding.policy:
        properties["policy"] = finding.policy
    out = {
        "ruleId": finding.rule.id,
        "ruleIndex": rule_index,
        "level": result_level(finding),
        "message": {"text": finding.message(language)},
        "locations": [location],
        "partialFingerprints": {"sncguardFinding/v1": fingerprint(finding)},
        "properties": properties,
    }
    if finding.waived:
        out["suppressions"] = [suppression(finding.waiver, language)]  # type: ignore[arg-type]
    return out


def suppression(waiver: Waiver, language: str = "en") -> dict[str, Any]:
    """A waiver as SARIF states an accepted risk: in the source for an annotation on the object,
    external for a policy's spec.waivers; code scanning shows such a result as dismissed."""
    return {
        "kind": "inSource" if waiver.origin == "annotation" else "external",
        "status": "accepted",
        "justification": msg("{reason} (until {until})", reason=waiver.reason, until=waiver.until).render(language),
        "properties": {"until": waiver.until.isoformat(), "origin": waiver.origin},
    }


def notification(error: PolicyError, base: Path, language: str = "en") -> dict[str, Any]:
    text = msg("{policy}: {problem} (policy not evaluated)", policy=error.policy, problem=error.problem)
    out: dict[str, Any] = {
        "level": "error",
        "message": {"text": text.render(language)},
        "properties": {"policy": error.policy},
    }
    physical = physical_location(Source(error.file, error.line), base)
    if physical is not None:
        out["locations"] = [{"physicalLocation": physical}]
    return out


def to_sarif(report: CheckReport, language: str = "en", base: Path | None = None,
             information_uri: str | None = None) -> dict[str, Any]:
    """The SARIF log of one check: `base` is the directory file paths are made relative to (the
    current one by default); `information_uri`, the project's page, is omitted when None."""
    base = Path(os.path.abspath(base if base is not None else Path.cwd()))
    known = {**CATALOGUE, **{f.rule.id: f.rule for f in report.findings if f.rule.id not in CATALOGUE}}
    rules = sorted(known.values(), key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(rules)}
    driver: dict[str, Any] = {
        "name": TOOL_NAME,
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [rule_descriptor(r, language) for r in rules],
    }
    if information_uri:
        driver["informationUri"] = information_uri
    invocation: dict[str, Any] = {"executionSuccessful": not report.errors}
    notifications = [*(notification(e, base, language) for e in report.errors),
                     *({"level": "warning", "message": {"text": e}} for e in report.waiver_errors)]
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    results = [sarif_result(report, f, index[f.rule.id], language, base)
               for f in report.findings if f.result in REPORTED or f.waived]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": driver},
            "invocations": [invocation],
            "language": language,
            "results": results,
        }],
    }
