"""`sncguard check --output junit`: the report as JUnit XML, for the test reports of GitLab
(artifacts:reports:junit), GitHub actions that read JUnit, Jenkins and the like.

Pure functions: a CheckReport in, XML text out. One testsuite per policy, one testcase per finding:
a failure for a failing finding, skipped for a skipped one, and a passing testcase with the
warning in system-out for a warning (JUnit has no warning state). A policy that could not be used
is a testsuite with one testcase in error.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .check import CheckReport
from .evaluation import policy_label
from .findings import Finding, Result
from .i18n import msg
from .loader import STDIN_NAME, PolicyError, Source

SUITES_NAME = "sncguard check"
# Characters XML 1.0 cannot carry, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def display_path(file: str, base: Path) -> str | None:
    """The file relative to `base` (the current directory) when it lies below it, as given
    otherwise; None for standard input."""
    if file == STDIN_NAME:
        return None
    path = Path(os.path.normpath(base / file))
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _locate(element: ET.Element, source: Source | None, base: Path) -> str:
    """Set the file and line attributes that reporters use for annotations; "file:line" or ""."""
    if source is None:
        return ""
    path = display_path(source.file, base)
    if path is None:
        return source.file
    element.set("file", path)
    element.set("line", str(source.line))
    return f"{path}:{source.line}"


def _case_name(finding: Finding) -> str:
    where = f" {finding.field}" if finding.field else ""
    return f"{finding.rule.id} {finding.resource.display()}{where}"


def _details(finding: Finding, language: str, where: str) -> str:
    rule = finding.rule
    lines = [msg("rule: {rule} ({severity}) {title}", rule=rule.id, severity=rule.severity.value,
                 title=rule.title_in(language)),
             msg("object: {object}", object=finding.resource.display())]
    if finding.field:
        lines.append(msg("field: {field}", field=finding.field))
    lines.append(msg("requirements: {requirements}", requirements=rule.requirements))
    if where:
        lines.append(msg("at: {location}", location=where))
    return _text("\n".join([finding.message(language), *(line.render(language) for line in lines)]))


def _testcase(suite: ET.Element, report: CheckReport, finding: Finding, label: str, language: str,
              base: Path) -> None:
    case = ET.SubElement(suite, "testcase", name=_text(_case_name(finding)), classname=_text(label))
    where = _locate(case, report.source_of(finding.resource), base)
    message = _text(finding.message(language))
    if finding.result is Result.FAIL:
        failure = ET.SubElement(case, "failure", message=message,
                                type=f"{finding.rule.id} {finding.severity.value}")
        failure.text = _details(finding, language, where)
    elif finding.result is Result.SKIP:
        ET.SubElement(case, "skipped", message=message)
    elif finding.result is Result.WARN:
        ET.SubElement(case, "system-out").text = f"WARN {finding.severity.value}: " + _details(finding, language, where)


def _error_case(suite: ET.Element, error: PolicyError, language: str, base: Path) -> None:
    # The testcase's name identifies it across runs, whatever the language: it is not translated.
    case = ET.SubElement(suite, "testcase", name=_text(f"{error.policy} is valid"), classname=_text(error.policy))
    where = _locate(case, Source(error.file, error.line), base)
    problem = _text(error.problem)
    element = ET.SubElement(case, "error", message=problem, type="invalid policy")
    lines = [msg("{policy}: {problem} (policy not evaluated)", policy=error.policy, problem=error.problem)]
    if where:
        lines.append(msg("at: {location}", location=where))
    element.text = _text("\n".join(line.render(language) for line in lines))


def _count(element: ET.Element, counts: dict[str, int]) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        element.set(key, str(counts[key]))


def to_junit(report: CheckReport, language: str = "en", base: Path | None = None) -> ET.Element:
    base = Path(os.path.abspath(base if base is not None else Path.cwd()))
    by_policy: dict[str, list[Finding]] = {policy_label(p.kind, p.namespace, p.name): [] for p in report.policies}
    for f in report.findings:
        by_policy.setdefault(f.policy or "sncguard", []).append(f)
    errors_by_policy: dict[str, list[PolicyError]] = {}
    for e in report.errors:
        errors_by_policy.setdefault(e.policy, []).append(e)
        by_policy.setdefault(e.policy, [])
    root = ET.Element("testsuites", name=SUITES_NAME)
    total = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for label, findings in by_policy.items():
        suite = ET.SubElement(root, "testsuite", name=_text(label))
        policy_source = report.policy_source(label)
        if policy_source is not None and (path := display_path(policy_source.file, base)):
            suite.set("file", path)
        errors = errors_by_policy.get(label, [])
        counts = {
            "tests": len(findings) + len(errors),
            "failures": sum(f.result is Result.FAIL for f in findings),
            "errors": len(errors),
            "skipped": sum(f.result is Result.SKIP for f in findings),
        }
        _count(suite, counts)
        for key, value in counts.items():
            total[key] += value
        for error in errors:
            _error_case(suite, error, language, base)
        for f in findings:
            _testcase(suite, report, f, label, language, base)
    _count(root, total)
    return root


def render(report: CheckReport, language: str = "en", base: Path | None = None) -> str:
    root = to_junit(report, language, base)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
