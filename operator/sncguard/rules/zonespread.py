"""ZoneSpread rules ZS-001 to ZS-006: workloads must run across at least `minZones` zones (R1, R4).

Pure: no I/O, no clock, no kopf, no client. Each rule judges every Deployment and StatefulSet of
the policy's namespace that the policy selects (its subject is a `ZoneSpreadPolicy`); `evaluate`
runs them all and orders the findings workload by workload. Each `check_*` function judges one
rule for one workload and returns exactly one Finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .. import ZONE_LABEL
from ..findings import Finding, ResourceRef, Result, Severity, finding
from ..i18n import N_, Text, msg, msg_n, semicolons, seq
from ..selectors import label_selector_matches, node_admits
from ..view import ClusterView, Pod, PodDisruptionBudget, Workload
from .registry import ZONE_SPREAD, Family, rule

if TYPE_CHECKING:
    from ..api.zonespread import ZoneSpreadSpec

__all__ = [
    "LEGACY_ZONE_LABEL",
    "SpreadAnalysis",
    "SpreadTerm",
    "WorkloadAssessment",
    "ZoneSpreadEvaluation",
    "ZoneSpreadPolicy",
    "analyse_spread",
    "check_disruption_budget",
    "check_hard_spread",
    "check_replicas",
    "check_running_zones",
    "check_spread_declared",
    "check_zone_pinning",
    "evaluate",
    "explicit_zones",
    "pdb_allowed_disruptions",
    "running_zones",
    "select_workloads",
    "spread_keys",
    "workload_pods",
]

# The zone label before Kubernetes 1.17; still honoured when the policy uses the default zone key.
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"
# Set by the API server on every namespace (Kubernetes >= 1.22): a namespaceSelector may rely on it.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

F_REPLICAS = "spec.replicas"
F_SELECTOR = "spec.selector"
F_TEMPLATE_LABELS = "spec.template.metadata.labels"
F_TSC = "spec.template.spec.topologySpreadConstraints"
F_POD_ANTI_AFFINITY = "spec.template.spec.affinity.podAntiAffinity"
F_NODE_AFFINITY = "spec.template.spec.affinity.nodeAffinity"
F_NODE_SELECTOR = "spec.template.spec.nodeSelector"
F_NODE_NAME = "spec.template.spec.nodeName"

_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
_DIGITS = re.compile(r"[0-9]+")

# (zones of the running pods, number of running pods, running pods whose node has no zone)
RunningZones = tuple[frozenset[str], int, int]


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class WorkloadAssessment:
    workload: Workload
    zones: frozenset[str]          # zones (values of spec.topology_key on the nodes) of its running pods
    spread_declared: bool          # a zone TSC or zone anti-affinity that selects its own pods, hard or soft
    spread_hard: bool              # a DoNotSchedule TSC or a required anti-affinity term on the key
    needs_spread_constraint: bool  # what Enforce mode must fix: ZS-002 failed, or ZS-003 failed


@dataclass(frozen=True)
class ZoneSpreadEvaluation:
    findings: list[Finding]        # every result of every rule for every selected workload (pass too)
    assessments: list[WorkloadAssessment]
    observed_zones: frozenset[str]  # union of zones of running selected pods
    sla_eligible: bool             # >= 1 workload, each spreading hard and running in >= minZones zones


@dataclass(frozen=True)
class SpreadTerm:
    """One topology spread constraint or pod anti-affinity term of a pod template."""

    source: str       # e.g. "topologySpreadConstraints[0]"
    field: str        # the JSON path of the list it sits in
    hard: bool        # DoNotSchedule / required
    reason: Text | None = None  # why it does not count as zone spreading of the workload's own pods

    @property
    def counts(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class SpreadAnalysis:
    terms: tuple[SpreadTerm, ...]

    @property
    def counted(self) -> tuple[SpreadTerm, ...]:
        return tuple(t for t in self.terms if t.counts)

    @property
    def ignored(self) -> tuple[SpreadTerm, ...]:
        return tuple(t for t in self.terms if not t.counts)

    @property
    def declared(self) -> bool:
        return any(t.counts for t in self.terms)

    @property
    def hard(self) -> bool:
        return any(t.counts and t.hard for t in self.terms)


# --------------------------------------------------------------------------------------------
# Text helpers


def _ref(workload: Workload) -> ResourceRef:
    return ResourceRef(kind=workload.kind, namespace=workload.namespace, name=workload.name,
                       api_version="apps/v1", uid=workload.uid)


def _named(w: Workload) -> str:
    return f"{w.kind} {w.namespace}/{w.name}"


def _replicas(n: int) -> Text:
    return msg_n("{count} replica", "{count} replicas", n)


def _running_pods(n: int) -> Text:
    return msg_n("{count} running pod", "{count} running pods", n)


def _zones(zones: Iterable[str]) -> Text:
    """How many zones and which: "2 zones (zone-a, zone-b)"."""
    names = sorted(zones)
    if not names:
        return msg("0 zones (none)")
    return msg_n("{count} zone ({zones})", "{count} zones ({zones})", len(names), zones=names)


def _labels(labels: Mapping[str, str]) -> str | Text:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or msg("no labels")


def _joined_by_and(parts: list[Text]) -> Text:
    joined = parts[0]
    for part in parts[1:]:
        joined = msg("{parts} and {part}", parts=joined, part=part)
    return joined


# --------------------------------------------------------------------------------------------
# Selection


def spread_keys(spec: ZoneSpreadSpec) -> tuple[str, ...]:
    """The node label keys that count as the zone key: the policy's, plus the legacy zone label
    when the policy uses the default one."""
    if spec.topology_key == ZONE_LABEL:
        return (ZONE_LABEL, LEGACY_ZONE_LABEL)
    return (spec.topology_key,)


def select_workloads(spec: ZoneSpreadSpec, namespace: str, view: ClusterView) -> list[Workload]:
    """The Deployments and StatefulSets of `namespace` whose labels match `spec.selector` (absent = all)."""
    selector = spec.selector.as_k8s() if spec.selector is not None else None
    chosen = [
        w for w in view.workloads_in(namespace)
        if w.kind in ("Deployment", "StatefulSet")
        and (selector is None or label_selector_matches(selector, w.labels))
    ]
    return sorted(chosen, key=lambda w: (w.name, w.kind))


# --------------------------------------------------------------------------------------------
# ZS-001


def check_replicas(spec: ZoneSpreadSpec, workload: Workload) -> Finding:
    """ZS-001: fail when the workload has fewer replicas than minZones."""
    w, n, m = workload, workload.replicas, spec.min_zones
    if n < m:
        return finding(rule("ZS-001"), Result.FAIL, _ref(w), msg(
            "{workload} has {replicas}; minZones is {min_zones}, so it cannot span {min_zones} zones",
            workload=_named(w), replicas=_replicas(n), min_zones=m,
        ), F_REPLICAS)
    return finding(rule("ZS-001"), Result.PASS, _ref(w), msg(
        "{workload} has {replicas}, enough to span {min_zones} zones (minZones)",
        workload=_named(w), replicas=_replicas(n), min_zones=m,
    ), F_REPLICAS)


# --------------------------------------------------------------------------------------------
# ZS-002, ZS-003


def _namespace_labels(namespace: str, view: ClusterView | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    if view is not None and namespace in view.namespaces:
        labels.update(view.namespaces[namespace].labels)
    labels[NAMESPACE_NAME_LABEL] = namespace
    return labels


def _term_scope_reason(term: Mapping, namespace: str, view: ClusterView | None) -> Text | None:
    """Why a pod (anti-)affinity term does not apply to pods of `namespace` (None when it does).

    Kubernetes: the term applies to the union of `namespaces` and the namespaces its
    namespaceSelector selects; no namespaces and no namespaceSelector means the pod's own
    namespace; an empty namespaceSelector selects every namespace.
    """
    names = list(term.get("namespaces") or ())
    ns_selector = term.get("namespaceSelector")
    if not names and ns_selector is None:
        return None
    if namespace in names:
        return None
    if ns_selector is not None and label_selector_matches(ns_selector, _namespace_labels(namespace, view)):
        return None
    listed = ", ".join(names)
    if ns_selector is None:
        return msg("it applies to namespaces {namespaces}, not {namespace}", namespaces=listed, namespace=namespace)
    if names:
        return msg("it applies to namespaces {namespaces} and to those its namespaceSelector selects, which "
                   "excludes {namespace}", namespaces=listed, namespace=namespace)
    return msg("its namespaceSelector does not select namespace {namespace}", namespace=namespace)


def _selector_reason(selector: Mapping | None, pod_labels: Mapping[str, str]) -> Text | None:
    if selector is None:
        return msg("it has no labelSelector, so it selects no pods (not even the workload's own)")
    if not label_selector_matches(selector, pod_labels):
        return msg("its labelSelector does not select the pod template labels ({labels})",
                   labels=_labels(pod_labels))
    return None


def _key_reason(key: object, spec: ZoneSpreadSpec) -> Text | None:
    if key in spread_keys(spec):
        return None
    return msg("its topologyKey is {key}, not {topology_key}", key=str(key), topology_key=spec.topology_key)


def _tsc_term(i: int, c: Mapping, spec: ZoneSpreadSpec, labels: Mapping[str, str]) -> SpreadTerm:
    when = c.get("whenUnsatisfiable")
    reason = _key_reason(c.get("topologyKey"), spec)
    if reason is None and when not in ("DoNotSchedule", "ScheduleAnyway"):
        reason = msg("its whenUnsatisfiable is {when}, neither DoNotSchedule nor ScheduleAnyway", when=str(when))
    if reason is None:
        reason = _selector_reason(c.get("labelSelector"), labels)
    return SpreadTerm(f"topologySpreadConstraints[{i}]", F_TSC, when == "DoNotSchedule", reason)


def _anti_affinity_term(source: str, term: Mapping, hard: bool, spec: ZoneSpreadSpec, workload: Workload,
                        view: ClusterView | None) -> SpreadTerm:
    labels = workload.template.labels
    reason = _key_reason(term.get("topologyKey"), spec)
    if reason is None:
        reason = _selector_reason(term.get("labelSelector"), labels)
    if reason is None:
        # mismatchLabelKeys: "key notin (the pod's own value)", which excludes the pod's own replicas.
        own = [k for k in term.get("mismatchLabelKeys") or () if k in labels]
        if own:
            reason = msg("its mismatchLabelKeys ({keys}) exclude the workload's own pods", keys=", ".join(own))
    if reason is None:
        reason = _term_scope_reason(term, workload.namespace, view)
    return SpreadTerm(source, F_POD_ANTI_AFFINITY, hard, reason)


def analyse_spread(spec: ZoneSpreadSpec, workload: Workload,
                   view: ClusterView | None = None) -> SpreadAnalysis:
    """Every topology spread constraint and pod anti-affinity term of the template, and whether it
    counts as zone spreading of the workload's own pods."""
    labels = workload.template.labels
    constraints = workload.template.topology_spread_constraints
    terms = [_tsc_term(i, c, spec, labels) for i, c in enumerate(constraints)]
    anti = workload.template.affinity.get("podAntiAffinity") or {}
    for i, term in enumerate(anti.get(_REQUIRED) or ()):
        terms.append(_anti_affinity_term(f"podAntiAffinity.{_REQUIRED}[{i}]", term, True,
                                         spec, workload, view))
    for i, weighted in enumerate(anti.get(_PREFERRED) or ()):
        terms.append(_anti_affinity_term(f"podAntiAffinity.{_PREFERRED}[{i}].podAffinityTerm",
                                         weighted.get("podAffinityTerm") or {}, False, spec, workload, view))
    return SpreadAnalysis(tuple(terms))


def _term_label(t: SpreadTerm) -> str:
    if t.field == F_TSC:
        return f"{t.source} ({'DoNotSchedule' if t.hard else 'ScheduleAnyway'})"
    return t.source


def check_spread_declared(spec: ZoneSpreadSpec, workload: Workload, view: ClusterView | None = None,
                          analysis: SpreadAnalysis | None = None) -> Finding:
    """ZS-002: fail when no zone spreading that selects the workload's own pods is declared."""
    w = workload
    a = analysis if analysis is not None else analyse_spread(spec, w, view)
    if not a.declared:
        what = {"workload": _named(w), "key": spec.topology_key, "labels": _labels(w.template.labels)}
        if not a.ignored:
            return finding(rule("ZS-002"), Result.FAIL, _ref(w), msg(
                "{workload} declares no zone spreading: no topologySpreadConstraint and no podAntiAffinity term on "
                "{key} selects its pods ({labels}).", **what,
            ), F_TSC)
        ignored = [msg("{source} does not count: {reason}.", source=t.source, reason=t.reason) for t in a.ignored]
        return finding(rule("ZS-002"), Result.FAIL, _ref(w), msg(
            "{workload} declares no zone spreading: no topologySpreadConstraint and no podAntiAffinity term on "
            "{key} selects its pods ({labels}). {ignored}", ignored=seq(ignored, " "), **what,
        ), F_TSC)
    return finding(rule("ZS-002"), Result.PASS, _ref(w), msg(
        "{workload} declares zone spreading on {key}: {terms}",
        workload=_named(w), key=spec.topology_key, terms=[_term_label(t) for t in a.counted],
    ), a.counted[0].field)


def check_hard_spread(spec: ZoneSpreadSpec, workload: Workload, view: ClusterView | None = None,
                      analysis: SpreadAnalysis | None = None) -> Finding:
    """ZS-003: skip without spreading (ZS-002 fails); fail when the policy requires hard spreading and
    the only spreading that counts is soft (ScheduleAnyway, preferred anti-affinity)."""
    w = workload
    a = analysis if analysis is not None else analyse_spread(spec, w, view)
    if not a.declared:
        return finding(rule("ZS-003"), Result.SKIP, _ref(w), msg(
            "{workload} declares no zone spreading (ZS-002), so there is no hardness to judge", workload=_named(w),
        ), F_TSC)
    hard = [t for t in a.counted if t.hard]
    soft = [t for t in a.counted if not t.hard]
    if hard:
        return finding(rule("ZS-003"), Result.PASS, _ref(w), msg(
            "{workload} spreads hard across zones: {terms}",
            workload=_named(w), terms=[_term_label(t) for t in hard],
        ), hard[0].field)
    what = {"workload": _named(w), "terms": [_term_label(t) for t in soft]}
    if spec.require_hard_spread:
        return finding(rule("ZS-003"), Result.FAIL, _ref(w), msg(
            "{workload} spreads across zones only softly, by {terms}, while requireHardSpread is true: the "
            "scheduler may still put every pod in one zone; use whenUnsatisfiable DoNotSchedule or a required "
            "anti-affinity term", **what,
        ), soft[0].field)
    return finding(rule("ZS-003"), Result.PASS, _ref(w), msg(
        "{workload} spreads across zones softly, by {terms}; the policy accepts it (requireHardSpread is false)",
        **what,
    ), soft[0].field)


# --------------------------------------------------------------------------------------------
# ZS-004


def workload_pods(workload: Workload, view: ClusterView) -> list[Pod]:
    """The pods of the workload's namespace that its selector matches (an empty selector matches none:
    apps/v1 refuses it)."""
    if not workload.selector:
        return []
    return [p for p in view.pods_in(workload.namespace)
            if label_selector_matches(workload.selector, p.labels)]


def running_zones(spec: ZoneSpreadSpec, workload: Workload, view: ClusterView) -> RunningZones:
    """(zones of the running pods, number of running pods, running pods whose node has no zone)."""
    zones: set[str] = set()
    running = unzoned = 0
    for pod in workload_pods(workload, view):
        if not pod.running:
            continue
        running += 1
        zone = view.zone_of_node(pod.node_name, spec.topology_key)
        if zone:
            zones.add(zone)
        else:
            unzoned += 1
    return frozenset(zones), running, unzoned


def check_running_zones(spec: ZoneSpreadSpec, workload: Workload, view: ClusterView,
                        known: RunningZones | None = None) -> Finding:
    """ZS-004: fail when the running pods sit in fewer than minZones zones; skip without live data.
    `known`: `running_zones` of the workload, when the caller has it already."""
    w, m = workload, spec.min_zones
    if not view.pods_observed or not view.nodes_observed:
        return finding(rule("ZS-004"), Result.SKIP, _ref(w), msg(
            "Placement of {workload} not judged: no live Pods/Nodes in the input", workload=_named(w),
        ))
    zones, running, unzoned = known if known is not None else running_zones(spec, w, view)
    result = Result.FAIL if len(zones) < m else Result.PASS
    what = {"workload": _named(w), "running": _running_pods(running), "zones": _zones(zones), "min_zones": m}
    if not w.selector:
        text = msg("{workload} has {running} in {zones}; minZones is {min_zones} (its spec.selector is empty)",
                   **what)
    elif unzoned:
        text = msg("{workload} has {running} in {zones}; minZones is {min_zones}; {unzoned} sit on nodes that are "
                   "not observed or have no {key} label", unzoned=_running_pods(unzoned), key=spec.topology_key,
                   **what)
    else:
        text = msg("{workload} has {running} in {zones}; minZones is {min_zones}", **what)
    return finding(rule("ZS-004"), result, _ref(w), text, F_SELECTOR)


# --------------------------------------------------------------------------------------------
# ZS-005


def _scaled(value: object, replicas: int) -> int | None:
    """An IntOrString scaled to `replicas`, percentages rounded up; None when unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        if value.endswith("%") and _DIGITS.fullmatch(value[:-1]):
            percent = int(value[:-1])
            if percent > 100:
                return None
            return -(-percent * replicas // 100)
        if _DIGITS.fullmatch(value):
            return int(value)
    return None


def pdb_allowed_disruptions(pdb: PodDisruptionBudget, replicas: int) -> int | None:
    """How many of `replicas` pods the PDB lets go down at once (0..replicas); None when invalid.

    Kubernetes semantics: percentages are scaled and rounded up for both fields; a PDB with
    neither field has minAvailable 1; both fields at once is invalid.
    """
    if pdb.min_available is not None and pdb.max_unavailable is not None:
        return None
    if pdb.max_unavailable is not None:
        down = _scaled(pdb.max_unavailable, replicas)
        return None if down is None else min(down, replicas)
    minimum = _scaled(1 if pdb.min_available is None else pdb.min_available, replicas)
    return None if minimum is None else max(replicas - minimum, 0)


def _pdb_name(pdb: PodDisruptionBudget) -> str:
    return f"{pdb.namespace}/{pdb.name}"


def _budget(pdb: PodDisruptionBudget) -> str | Text:
    if pdb.min_available is not None and pdb.max_unavailable is not None:
        return msg("minAvailable {min_available} and maxUnavailable {max_unavailable}",
                   min_available=str(pdb.min_available), max_unavailable=str(pdb.max_unavailable))
    if pdb.max_unavailable is not None:
        return f"maxUnavailable {pdb.max_unavailable!s}"
    if pdb.min_available is not None:
        return f"minAvailable {pdb.min_available!s}"
    return msg("neither minAvailable nor maxUnavailable, so minAvailable 1")


def _uncovered(w: Workload, in_namespace: list[PodDisruptionBudget]) -> Text:
    what = {"workload": _named(w), "namespace": w.namespace, "labels": _labels(w.template.labels)}
    others = [b.name for b in in_namespace]
    if not others:
        return msg("{workload} is covered by no PodDisruptionBudget: none in namespace {namespace} selects its pod "
                   "template labels ({labels})", **what)
    if len(others) == 1:
        return msg("{workload} is covered by no PodDisruptionBudget: none in namespace {namespace} selects its pod "
                   "template labels ({labels}); 1 PodDisruptionBudget in {namespace} select other pods: {others}",
                   others=others, **what)
    return msg("{workload} is covered by no PodDisruptionBudget: none in namespace {namespace} selects its pod "
               "template labels ({labels}); {count} PodDisruptionBudgets in {namespace} select other pods: {others}",
               count=len(others), others=others, **what)


def check_disruption_budget(spec: ZoneSpreadSpec, workload: Workload,
                            pdbs: Iterable[PodDisruptionBudget]) -> Finding:
    """ZS-005: fail when no PodDisruptionBudget of the namespace selects the workload's pods, or when
    every one that does lets all of its replicas go down; skip when the policy does not require one."""
    w, r = workload, workload.replicas
    if not spec.require_pod_disruption_budget:
        return finding(rule("ZS-005"), Result.SKIP, _ref(w), msg(
            "PodDisruptionBudget of {workload} not judged: requirePodDisruptionBudget is false", workload=_named(w),
        ))
    labels = w.template.labels
    in_namespace = sorted((b for b in pdbs if b.namespace == w.namespace), key=lambda b: b.name)
    covering = [b for b in in_namespace
                if b.selector is not None and label_selector_matches(b.selector, labels)]
    if not covering:
        return finding(rule("ZS-005"), Result.FAIL, _ref(w), _uncovered(w, in_namespace), F_TEMPLATE_LABELS)
    valid: list[tuple[PodDisruptionBudget, int]] = []
    notes: list[Text] = []
    for b in covering:
        allowed = pdb_allowed_disruptions(b, r)
        if allowed is None:
            notes.append(msg("PodDisruptionBudget {pdb} is invalid ({budget}), so it does not count",
                             pdb=_pdb_name(b), budget=_budget(b)))
            continue
        valid.append((b, allowed))
    if r == 0 and valid:
        b = valid[0][0]
        return finding(rule("ZS-005"), Result.PASS, _ref(w), msg(
            "{workload} has 0 replicas, so there is nothing to protect; it is covered by PodDisruptionBudget {pdb}",
            workload=_named(w), pdb=_pdb_name(b),
        ), F_TEMPLATE_LABELS)
    protecting = [(b, a) for b, a in valid if a < r]
    if protecting:
        b, allowed = min(protecting, key=lambda p: p[1])
        return finding(rule("ZS-005"), Result.PASS, _ref(w), msg(
            "{workload} is protected by PodDisruptionBudget {pdb} ({budget}): at most {allowed} of its {replicas} "
            "may be down at once",
            workload=_named(w), pdb=_pdb_name(b), budget=_budget(b), allowed=allowed,
            replicas=_replicas(r),
        ), F_TEMPLATE_LABELS)
    for b, allowed in valid:
        notes.append(msg("PodDisruptionBudget {pdb} ({budget}) allows {allowed} of {replicas} down",
                         pdb=_pdb_name(b), budget=_budget(b), allowed=allowed, replicas=_replicas(r)))
    return finding(rule("ZS-005"), Result.FAIL, _ref(w), msg(
        "{workload} has no PodDisruptionBudget that keeps a pod up: {notes}",
        workload=_named(w), notes=semicolons(notes),
    ), F_TEMPLATE_LABELS)


# --------------------------------------------------------------------------------------------
# ZS-006


def _intersect(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """Allowed-zone sets, None meaning unconstrained."""
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _required_node_terms(workload: Workload) -> list | None:
    required = (workload.template.affinity.get("nodeAffinity") or {}).get(_REQUIRED)
    if not required:
        return None
    return list(required.get("nodeSelectorTerms") or ())


def _affinity_zones(terms: list, keys: tuple[str, ...], known: frozenset[str]) -> frozenset[str] | None:
    """Zones that required node affinity allows; None when some term does not constrain the zone."""
    union: set[str] = set()
    for term in terms:
        expressions = term.get("matchExpressions") or ()
        if not expressions and not term.get("matchFields"):
            continue  # an empty term matches no node
        allowed: frozenset[str] | None = None
        for e in expressions:
            if e.get("key") not in keys:
                continue
            operator, values = e.get("operator"), frozenset(e.get("values") or ())
            if operator == "In":
                zones: frozenset[str] | None = values
            elif operator == "NotIn":
                zones = (known - values) if known else None
            elif operator == "DoesNotExist":
                zones = frozenset()
            else:  # Exists, Gt, Lt: no restriction to named zones
                zones = None
            allowed = _intersect(allowed, zones)
        if allowed is None:
            return None
        union |= allowed
    return frozenset(union)


def explicit_zones(spec: ZoneSpreadSpec, workload: Workload,
                   view: ClusterView) -> tuple[frozenset[str] | None, list[tuple[str, Text]]]:
    """The zones the template names explicitly (nodeSelector, required node affinity, nodeName on a
    known node), None when unconstrained, and the (field, description) of each source that constrains."""
    keys = spread_keys(spec)
    template = workload.template
    allowed: frozenset[str] | None = None
    sources: list[tuple[str, Text]] = []
    for key in keys:
        if key in template.node_selector:
            value = template.node_selector[key]
            allowed = _intersect(allowed, frozenset({value}))
            sources.append((F_NODE_SELECTOR, msg("nodeSelector {key}={value}", key=key, value=value)))
    terms = _required_node_terms(workload)
    if terms is not None:
        zones = _affinity_zones(terms, keys, frozenset(view.known_zones(spec.topology_key)))
        if zones is not None:
            allowed = _intersect(allowed, zones)
            if zones:
                sources.append((F_NODE_AFFINITY, msg("required node affinity (zones {zones})", zones=sorted(zones))))
            else:
                sources.append((F_NODE_AFFINITY, msg("required node affinity (zones none)")))
    if template.node_name and template.node_name in view.nodes:
        zone = view.zone_of_node(template.node_name, spec.topology_key)
        allowed = _intersect(allowed, frozenset({zone}) if zone else frozenset())
        if zone:
            where = msg("nodeName {node} (a node in zone {zone})", node=template.node_name, zone=zone)
        else:
            where = msg("nodeName {node} (a node without {key} label)", node=template.node_name,
                        key=spec.topology_key)
        sources.append((F_NODE_NAME, where))
    return allowed, sources


def _constraint_fields(workload: Workload) -> list[tuple[str, str | Text]]:
    """The placement constraints present in the template: (field, name)."""
    t = workload.template
    present: list[tuple[str, str | Text]] = []
    if t.node_selector:
        present.append((F_NODE_SELECTOR, "nodeSelector"))
    if _required_node_terms(workload) is not None:
        present.append((F_NODE_AFFINITY, msg("required node affinity")))
    if t.node_name:
        present.append((F_NODE_NAME, f"nodeName {t.node_name}"))
    return present


def _admitted_nodes(admitted: int, observed: int) -> Text:
    if observed == 1:
        return msg("{admitted} of 1 observed node", admitted=admitted)
    return msg("{admitted} of {observed} observed nodes", admitted=admitted, observed=observed)


def check_zone_pinning(spec: ZoneSpreadSpec, workload: Workload, view: ClusterView) -> Finding:
    """ZS-006: fail when nodeSelector, required node affinity or nodeName confine the workload to fewer
    than minZones zones: explicitly (the zone values they name) or, with live Nodes, implicitly (the
    zones of the nodes they admit)."""
    w, m, key = workload, spec.min_zones, spec.topology_key
    allowed, sources = explicit_zones(spec, w, view)
    if allowed is not None and len(allowed) < m:
        return finding(rule("ZS-006"), Result.FAIL, _ref(w), msg(
            "{workload} is pinned to {zones} by {sources}; minZones is {min_zones}",
            workload=_named(w), zones=_zones(allowed), sources=_joined_by_and([s[1] for s in sources]), min_zones=m,
        ), sources[0][0])
    present = _constraint_fields(w)
    constraints = [p[1] for p in present]
    if view.nodes_observed and present:
        t = w.template
        admitted = [n for n in view.nodes.values()
                    if node_admits(n.name, n.labels, t.node_selector, t.affinity)
                    and (not t.node_name or n.name == t.node_name)]
        zones = frozenset(z for n in admitted if (z := n.labels.get(key)))
        what = {"workload": _named(w), "constraints": constraints, "zones": _zones(zones),
                "nodes": _admitted_nodes(len(admitted), len(view.nodes)), "min_zones": m}
        if len(zones) < m:
            return finding(rule("ZS-006"), Result.FAIL, _ref(w), msg(
                "{workload} is pinned by its placement constraints ({constraints}): they admit only nodes in "
                "{zones}, {nodes}; minZones is {min_zones}", **what,
            ), present[0][0])
        return finding(rule("ZS-006"), Result.PASS, _ref(w), msg(
            "{workload}: its placement constraints ({constraints}) admit nodes in {zones}, {nodes}; minZones is "
            "{min_zones}", **what,
        ), present[0][0])
    if allowed is not None:
        return finding(rule("ZS-006"), Result.PASS, _ref(w), msg(
            "{workload}: its placement constraints allow {zones}; minZones is {min_zones}",
            workload=_named(w), zones=_zones(allowed), min_zones=m,
        ), sources[0][0])
    if present:
        return finding(rule("ZS-006"), Result.PASS, _ref(w), msg(
            "{workload}: its placement constraints ({constraints}) do not restrict {key}",
            workload=_named(w), constraints=constraints, key=key,
        ), present[0][0])
    return finding(rule("ZS-006"), Result.PASS, _ref(w), msg(
        "{workload} has no nodeSelector, required node affinity or nodeName: it is not pinned to a zone",
        workload=_named(w),
    ), F_NODE_SELECTOR)


# --------------------------------------------------------------------------------------------
# The rules


def _key(workload: Workload) -> tuple[str, str]:
    return workload.kind, workload.name


@dataclass(eq=False)
class ZoneSpreadPolicy:
    """One ZoneSpread, and what its rules share about the workloads it selects, each part computed once: the
    selection, how each workload spreads (ZS-002, ZS-003, Enforce mode) and where its pods run (ZS-004, SLA).

    A subject is judged against one view. Each part is computed from the view of the first rule that needs
    it, so a rule reads only the kinds it declares."""

    spec: ZoneSpreadSpec
    namespace: str
    name: str
    _selected: list[Workload] | None = field(default=None, init=False, repr=False)
    _spread: dict[tuple[str, str], SpreadAnalysis] = field(default_factory=dict, init=False, repr=False)
    _running: dict[tuple[str, str], RunningZones | None] = field(default_factory=dict, init=False, repr=False)

    def workloads(self, view: ClusterView) -> list[Workload]:
        if self._selected is None:
            self._selected = select_workloads(self.spec, self.namespace, view)
        return self._selected

    def spread(self, workload: Workload, view: ClusterView) -> SpreadAnalysis:
        if _key(workload) not in self._spread:
            self._spread[_key(workload)] = analyse_spread(self.spec, workload, view)
        return self._spread[_key(workload)]

    def running(self, workload: Workload, view: ClusterView) -> RunningZones | None:
        """`running_zones` of the workload; None when live pods are not observed."""
        if _key(workload) not in self._running:
            self._running[_key(workload)] = (running_zones(self.spec, workload, view) if view.pods_observed
                                             else None)
        return self._running[_key(workload)]


family: Family[ZoneSpreadPolicy] = Family(ZONE_SPREAD, "ZoneSpread")


@family.rule("ZS-001", Severity.HIGH, ("R1", "R4"), N_("A selected workload has fewer replicas than minZones"),
             reads={"Deployment", "StatefulSet"})
def enough_replicas(policy: ZoneSpreadPolicy, view: ClusterView, now: datetime) -> list[Finding]:
    return [check_replicas(policy.spec, w) for w in policy.workloads(view)]


@family.rule("ZS-002", Severity.HIGH, ("R1",),
             N_("No zone spreading declared: neither a topology spread constraint nor a pod anti-affinity "
                "on the zone key"),
             reads={"Deployment", "StatefulSet", "Namespace"})
def spread_declared(policy: ZoneSpreadPolicy, view: ClusterView, now: datetime) -> list[Finding]:
    return [check_spread_declared(policy.spec, w, view, policy.spread(w, view)) for w in policy.workloads(view)]


@family.rule("ZS-003", Severity.MEDIUM, ("R1",), N_("Zone spreading is only soft while the policy requires it hard"),
             reads={"Deployment", "StatefulSet", "Namespace"})
def hard_spread(policy: ZoneSpreadPolicy, view: ClusterView, now: datetime) -> list[Finding]:
    return [check_hard_spread(policy.spec, w, view, policy.spread(w, view)) for w in policy.workloads(view)]


@family.rule("ZS-004", Severity.HIGH, ("R1",), N_("The running pods sit in fewer than minZones zones"),
             reads={"Deployment", "StatefulSet", "Pod", "Node"})
def running_placement(policy: ZoneSpreadPolicy, view: ClusterView, now: datetime) -> list[Finding]:
    return [check_running_zones(policy.spec, w, view, policy.running(w, view)) for w in policy.workloads(view)]


@family.rule("ZS-005", Severity.MEDIUM, ("R4",),
             N_("No PodDisruptionBudget covers the workload, or it allows every pod down"),
             reads={"Deployment", "StatefulSet", "PodDisruptionBudget"})
def disruption_budget(policy: ZoneSpreadPolicy, view: ClusterView, now: datetime) -> list[Finding]:
    pdbs = view.pdbs_in(policy.namespace)
    return [check_disruption_budget(policy.spec, w, pdbs) for w in policy.workloads(view)]


@family.rule("ZS-006", Severity.HIGH, ("R1",),
             N_("The workload is pinned to a single zone by nodeSelector or node affinity"),
             reads={"Deployment", "StatefulSet", "Node"})
def zone_pinning(policy: ZoneSpreadPolicy, view: ClusterView, now: datetime) -> list[Finding]:
    return [check_zone_pinning(policy.spec, w, view) for w in policy.workloads(view)]


# --------------------------------------------------------------------------------------------
# The policy


def evaluate(spec: ZoneSpreadSpec, namespace: str, view: ClusterView, name: str = "",
             now: datetime | None = None) -> ZoneSpreadEvaluation:
    """Every ZS rule for every workload of `namespace` that the policy selects, workload by workload (each
    one's ZS-001 to ZS-006 together), with what Enforce mode and the SLA need of each workload. No ZS rule
    reads the clock."""
    policy = ZoneSpreadPolicy(spec, namespace, name)
    workloads = policy.workloads(view)
    position = {_key(w): i for i, w in enumerate(workloads)}
    # The family runs rule after rule; the stable sort keeps each workload's findings in rule order.
    findings = sorted(family.evaluate(policy, view, now or datetime.min),
                      key=lambda f: position[(f.resource.kind, f.resource.name)])
    placed = {(f.resource.kind, f.resource.name) for f in findings
              if f.rule.id == "ZS-004" and f.result is Result.PASS}
    assessments: list[WorkloadAssessment] = []
    for w in workloads:
        spread = policy.spread(w, view)
        running = policy.running(w, view)
        needs = not spread.hard if spec.require_hard_spread else not spread.declared
        assessments.append(WorkloadAssessment(w, running[0] if running is not None else frozenset(),
                                              spread.declared, spread.hard, needs))
    eligible = all(a.spread_hard and _key(a.workload) in placed for a in assessments)
    observed = frozenset().union(*(a.zones for a in assessments))
    return ZoneSpreadEvaluation(findings, assessments, observed, bool(assessments) and eligible)
