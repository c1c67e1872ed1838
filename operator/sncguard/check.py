"""The offline check: manifests in, findings out, with the operator's own rules."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TextIO

import orjson

from .api import LabelSelector, TenantPolicySpec, ZoneSpreadSpec
from .evaluation import (
    Outcome,
    evaluate_backuppolicy,
    evaluate_tenantpolicy,
    evaluate_zonespread,
    policy_label,
    scope_of,
    with_waivers,
)
from .findings import Finding, ResourceRef, Result, Summary, most_severe_first
from .i18n import msg
from .loader import Inputs, PolicyDocument, PolicyError, Source
from .rules import network
from .tenancy import TenantSelection
from .view import ClusterView

BASELINE_NAME = "baseline"


@dataclass(frozen=True)
class CheckReport:
    findings: list[Finding]
    policies: list[PolicyDocument]
    # Policies left out because their spec fails validation: the others were evaluated.
    errors: list[PolicyError] = field(default_factory=list)
    # (kind, namespace, name) -> where the object starts in the input (see loader.Inputs.sources).
    sources: dict[tuple[str, str, str], Source] = field(default_factory=dict)
    # Waivers that name no rule of the catalogue (waivers.py): ignored, and said so.
    waiver_errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(f.result is Result.FAIL for f in self.findings)

    def source_of(self, resource: ResourceRef) -> Source | None:
        """Where the object a finding is about starts; None for one not in the input (an inferred Namespace)."""
        return self.sources.get((resource.kind, resource.namespace, resource.name))

    def policy_source(self, label: str) -> Source | None:
        """Where the policy labelled "Kind/namespace/name" or "Kind/name" starts; None for a built-in baseline."""
        kind, _, rest = label.partition("/")
        namespace, _, name = rest.rpartition("/")
        return self.sources.get((kind, namespace, name)) if kind and name else None


def baseline_zonespreads(inputs: Inputs) -> list[PolicyDocument]:
    """With no ZoneSpread in the input, every namespace with workloads gets the default one."""
    namespaces = sorted({w.namespace for w in inputs.view.workloads})
    return [PolicyDocument("ZoneSpread", ns, BASELINE_NAME, ZoneSpreadSpec(), "(built-in baseline)")
            for ns in namespaces]


def baseline_exposure(view: ClusterView, now: datetime) -> Outcome:
    """With no TenantPolicy in the input, the default forbidden and cleartext port lists still apply,
    to every namespace: SSH, RDP, SMB and NFS open to the Internet are never acceptable (R7, S1).
    The objects' waiver annotations apply as under any policy."""
    spec = TenantPolicySpec(tenant=BASELINE_NAME, namespace_selector=LabelSelector())
    namespaces = sorted(view.namespaces)
    label = policy_label("TenantPolicy", "", BASELINE_NAME)
    findings = [*network.check_forbidden_ports_exposed(spec, namespaces, view),
                *network.check_cleartext_exposure(spec, namespaces, view)]
    return with_waivers(Outcome([replace(f, policy=label) for f in findings], {}, None), spec, "TenantPolicy", "",
                        BASELINE_NAME, view, now)


@dataclass(frozen=True)
class Judged:
    """One policy and what its evaluation gave: findings, the kind's status fields, the rules' detail."""

    policy: PolicyDocument
    outcome: Outcome


def judge(inputs: Inputs, now: datetime,
          previous: Mapping[tuple[str, str, str], Mapping[str, Any]] | None = None
          ) -> tuple[list[PolicyDocument], list[Judged]]:
    """Every policy of the input evaluated, the baselines where the input declares none: the policies
    counted (the baseline exposure is not one) and each evaluation. `previous` holds statuses by
    (kind, namespace, name), read from a cluster: a TenantPolicy's carries its termination evidence
    over, as in the operator. `check` and `report` judge through here, so their verdicts agree."""
    view = inputs.view
    view.index_by_namespace()  # the view is complete: the rules look namespaces up
    # A policy the input declares but that cannot be used does not bring the baseline back: it
    # is an error of its own (the exit status says so), not an absence.
    declared = {e.kind for e in inputs.errors}
    zonespreads = inputs.policies_of("ZoneSpread")
    if not zonespreads and "ZoneSpread" not in declared:
        zonespreads = baseline_zonespreads(inputs)
    tenants = inputs.policies_of("TenantPolicy")
    backups = inputs.policies_of("BackupPolicy")
    judged: list[Judged] = []
    for policy in zonespreads:
        judged.append(Judged(policy, evaluate_zonespread(policy.spec, policy.namespace, policy.name, view, now)))
    # By position: two documents of one name are two policies, as they are two claims.
    selection = TenantSelection()
    selection.sync(view.namespaces, {i: p.spec.namespace_selector.as_k8s() for i, p in enumerate(tenants)})
    for i, policy in enumerate(tenants):
        scope = scope_of(i, policy.spec, view.namespaces, selection)
        status = (previous or {}).get(("TenantPolicy", "", policy.name))
        judged.append(Judged(policy, evaluate_tenantpolicy(policy.spec, policy.name, scope, view, now,
                                                           previous_status=status)))
    for policy in backups:
        judged.append(Judged(policy, evaluate_backuppolicy(policy.spec, policy.namespace, policy.name, view, now)))
    if not tenants and "TenantPolicy" not in declared:
        exposure = baseline_exposure(view, now)
        spec = TenantPolicySpec(tenant=BASELINE_NAME, namespace_selector=LabelSelector())
        judged.append(Judged(PolicyDocument("TenantPolicy", "", BASELINE_NAME, spec, "(built-in baseline)"), exposure))
    return [*zonespreads, *tenants, *backups], judged


def run_check(inputs: Inputs, now: datetime) -> CheckReport:
    policies, judged = judge(inputs, now)
    findings = [f for j in judged for f in j.outcome.findings]
    waiver_errors = sorted({e for j in judged for e in j.outcome.status_fields.get("waiverErrors", ())})
    return CheckReport(findings=most_severe_first(findings), policies=policies,
                       errors=list(inputs.errors), sources=dict(inputs.sources), waiver_errors=waiver_errors)


def finding_dict(report: CheckReport, finding: Finding, language: str) -> dict[str, Any]:
    """A finding as JSON output states it: Finding.as_dict, and where its object starts in the input."""
    out = finding.as_dict(language)
    source = report.source_of(finding.resource)
    if source is not None:
        out["source"] = {"file": source.file, "line": source.line}
    return out


def write_json(report: CheckReport, out: TextIO, language: str) -> None:
    findings = [finding_dict(report, f, language) for f in report.findings]
    out.write(indented_json(findings))
    out.write("\n")


def indented_json(value: Any) -> str:
    """json.dumps(value, ensure_ascii=False, indent=2), by orjson's C encoder (json's has none for an
    indented output: it was a fifth of `check`'s time), byte for byte for what findings hold
    (strings, integers, booleans, null). What orjson refuses (a key that is not a string, a lone
    surrogate, an integer beyond 64 bits) goes to json.dumps."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=False, indent=2)


def write_errors(report: CheckReport, err: TextIO, language: str = "en") -> None:
    for error in report.errors:
        text = msg("{error} (policy not evaluated)", error=error)
        err.write(f"sncguard check: {text.render(language)}\n")
    for error in report.waiver_errors:
        err.write(f"sncguard check: {error}\n")


def write_text(report: CheckReport, out: TextIO, language: str, verbose: bool = False) -> None:
    shown = [f for f in report.findings if verbose or f.result in (Result.FAIL, Result.WARN) or f.waived]
    for f in shown:
        where = f" {f.field}" if f.field else ""
        out.write(f"{'WAIVED' if f.waived else f.result.value.upper():4}  {f.severity.value:8}  {f.rule.id}  "
                  f"{f.resource.display()}{where}\n      {f.message(language)}\n")
    s = Summary.of(report.findings)
    summary = msg("{findings} results from {policies} policies: {failed} fail, {warned} warn, {passed} pass, "
                  "{skipped} skip", findings=len(report.findings), policies=len(report.policies), failed=s.failed,
                  warned=s.warned, passed=s.passed, skipped=s.skipped)
    out.write(f"{summary.render(language)}\n")

