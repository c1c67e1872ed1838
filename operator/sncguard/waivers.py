"""Waivers: known risks accepted with a reason and an expiry, the same for the operator and `check`.

A waiver comes from the annotation `sncguard.io/waive` on the object a finding is about (one
waiver a line: `ZS-005 until 2027-01-31: reason`), or from a policy's `spec.waivers`. It holds
through its `until` day (UTC). A failing or warning finding it covers becomes `skip` and carries
it; once it lapses the finding is what the rule says again, and names the lapsed waiver.

A waiver never silences anything by accident: a line that cannot be read, a rule that does not
exist, or a lapsed waiver that covers nothing is reported. When it names a rule of the catalogue
it is a `warn` finding of that rule on the object (or on the policy, for the spec's waivers);
otherwise a waiver error of the policy (status `waiverErrors`, check's error stream and SARIF
notifications), since a finding needs a rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from .findings import Finding, ResourceRef, Result, Waiver, finding
from .i18n import Text, msg
from .rules.catalogue import CATALOGUE
from .view import WAIVE_ANNOTATION, ClusterView

ANNOTATION_FORMAT = "RULE until YYYY-MM-DD: reason"
_LINE = re.compile(r"(?P<rule>\S+)\s+until\s+(?P<until>\S+?)\s*:\s*(?P<reason>.*)")
_RULE_ID = re.compile(r"[A-Z]{2,5}-\d{3}")


@dataclass(frozen=True, slots=True)
class Malformed:
    """An annotation line that is no waiver, and why; `rule` when the line names one of the catalogue."""

    line: str
    why: Text
    rule: str | None = None


def parse_annotation(text: str) -> tuple[list[Waiver], list[Malformed]]:
    """The waivers of one annotation value, and the lines that are none."""
    waivers: list[Waiver] = []
    malformed: list[Malformed] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            named = next((word for word in re.findall(r"[A-Z]{2,5}-\d{3}", line) if word in CATALOGUE), None)
            malformed.append(Malformed(line, msg("not a waiver: expected \"{format}\"", format=ANNOTATION_FORMAT),
                                       named))
            continue
        rule, until_text, reason = match["rule"], match["until"], match["reason"].strip()
        known = rule if rule in CATALOGUE else None
        try:
            until = date.fromisoformat(until_text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", until_text) else None
        except ValueError:
            until = None
        if not _RULE_ID.fullmatch(rule) or known is None:
            malformed.append(Malformed(line, msg("{rule} is no rule of the catalogue", rule=rule)))
        elif until is None:
            malformed.append(Malformed(line, msg("{until} is not a date YYYY-MM-DD", until=repr(until_text)), known))
        elif not reason:
            malformed.append(Malformed(line, msg("a waiver needs a reason"), known))
        else:
            waivers.append(Waiver(rule=rule, until=until, reason=reason, origin="annotation"))
    return waivers, malformed


def annotated(view: ClusterView) -> dict[tuple[str, str, str], str]:
    """(kind, namespace, name) -> the waiver annotation of each object of the view that has one."""
    if view.waive_index is not None:
        return view.waive_index
    out: dict[tuple[str, str, str], str] = {}
    view.waive_index = out

    def add(kind: str, objects: Iterable[Any]) -> None:
        for obj in objects:
            if obj.waive:
                out[(getattr(obj, "kind", None) or kind, getattr(obj, "namespace", ""), obj.name)] = obj.waive

    add("Namespace", view.namespaces.values())
    add("Pod", view.pods)
    add("Workload", view.workloads)
    add("PodDisruptionBudget", view.pdbs)
    add("Service", view.services)
    add("NetworkPolicy", view.network_policies)
    add("Ingress", view.ingresses)
    add("Route", view.routes)
    add("RoleBinding", view.role_bindings)
    add("PersistentVolume", view.persistent_volumes.values())
    add("PersistentVolumeClaim", view.persistent_volume_claims)
    add("BackupStorageLocation", view.storage_locations)
    return out


def _key(resource: ResourceRef) -> tuple[str, str, str]:
    return (resource.kind, resource.namespace, resource.name)


@dataclass(frozen=True)
class Waived:
    """Findings with the waivers applied, the waiver errors of no rule, and when a waiver next lapses."""

    findings: list[Finding]
    errors: list[str]
    next_expiry: datetime | None


def _origin(waiver: Waiver) -> Text:
    return msg("annotation") if waiver.origin == "annotation" else msg("policy")


def waived_finding(f: Finding, waiver: Waiver) -> Finding:
    return replace(f, result=Result.SKIP, waiver=waiver, text=msg(
        "Waived until {until} ({origin}): {reason}. Finding: {finding}",
        until=waiver.until, origin=_origin(waiver), reason=waiver.reason, finding=f.text))


def lapsed_finding(f: Finding, waiver: Waiver) -> Finding:
    return replace(f, waiver=waiver, text=msg(
        "{finding} (the waiver until {until} has lapsed: {reason})",
        finding=f.text, until=waiver.until, reason=waiver.reason))


def _lapsed_warning(waiver: Waiver, resource: ResourceRef) -> Finding:
    return finding(CATALOGUE[waiver.rule], Result.WARN, resource, msg(
        "The waiver of {rule} until {until} has lapsed and covers nothing failing: remove or renew it ({reason})",
        rule=waiver.rule, until=waiver.until, reason=waiver.reason), field="waiver")


def _malformed_warning(bad: Malformed, resource: ResourceRef) -> Finding:
    assert bad.rule is not None
    return finding(CATALOGUE[bad.rule], Result.WARN, resource, msg(
        "Waiver annotation {annotation} ignored: {why}: {line}",
        annotation=WAIVE_ANNOTATION, why=bad.why, line=repr(bad.line)),
        field=f"metadata.annotations[{WAIVE_ANNOTATION}]")


def spec_waivers(waivers: Sequence[Any] | None) -> list[Waiver]:
    """A policy's spec.waivers (api.Waiver models) as Waivers."""
    return [Waiver(rule=w.rule, until=w.until, reason=w.reason, origin="policy", kind=w.kind,
                   namespace=w.namespace, name=w.name) for w in waivers or ()]


def apply_waivers(findings: list[Finding], view: ClusterView, declared: Sequence[Waiver], policy: ResourceRef,
                  now: datetime) -> Waived:
    """`findings` of one policy with the annotations of their objects and the policy's own waivers applied."""
    annotations = annotated(view)
    rules_on: dict[tuple[str, str, str], set[str]] = {}
    resource_of: dict[tuple[str, str, str], ResourceRef] = {}
    for f in findings:
        rules_on.setdefault(_key(f.resource), set()).add(f.rule.id)
        resource_of.setdefault(_key(f.resource), f.resource)
    by_object: dict[tuple[str, str, str], list[Waiver]] = {}
    errors: list[str] = []
    extra: list[Finding] = []
    policy_label = policy.display()
    for key in rules_on:
        text = annotations.get(key)
        if not text:
            continue
        waivers, malformed = parse_annotation(text)
        by_object[key] = waivers
        resource = resource_of[key]
        for bad in malformed:
            if bad.rule is not None:
                extra.append(_malformed_warning(bad, resource))
            else:
                errors.append(f"{resource.display()}: waiver annotation ignored: {bad.why}: {bad.line!r}")
    usable = [w for w in declared if w.rule in CATALOGUE]
    errors += [f"{policy_label}: spec.waivers: {w.rule} is no rule of the catalogue" for w in declared
               if w.rule not in CATALOGUE]

    used: set[tuple[Waiver, tuple[str, str, str]]] = set()
    out: list[Finding] = []
    for f in findings:
        if f.result not in (Result.FAIL, Result.WARN):
            out.append(f)
            continue
        key = _key(f.resource)
        candidates = [w for w in by_object.get(key, ()) if w.rule == f.rule.id]
        candidates += [w for w in usable if w.rule == f.rule.id and w.selects(f.resource)]
        active = [w for w in candidates if w.active(now)]
        for w in candidates:
            used.add((w, key))
        if active:
            out.append(waived_finding(f, max(active, key=lambda w: w.until)))
        elif candidates:
            out.append(lapsed_finding(f, max(candidates, key=lambda w: w.until)))
        else:
            out.append(f)
    # A lapsed waiver that covers nothing failing any more is clutter that hides the next failure.
    for key, waivers in by_object.items():
        resource = resource_of[key]
        for w in waivers:
            if not w.active(now) and (w, key) not in used and w.rule in rules_on[key]:
                extra.append(_lapsed_warning(w, resource))
    used_waivers = {w for w, _ in used}
    for w in usable:
        if not w.active(now) and w not in used_waivers:
            extra.append(_lapsed_warning(w, policy))
    expiries = [w.expires_at for ws in (*by_object.values(), usable) for w in ws if w.active(now)]
    return Waived([*out, *(replace(f, policy=policy_label) for f in extra)], errors,
                  min(expiries) if expiries else None)
