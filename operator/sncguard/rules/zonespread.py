"""ZoneSpread rules ZS-001 to ZS-006: workloads must run across at least `minZones` zones (R1, R4).

Pure: no I/O, no clock, no kopf, no client. `evaluate` judges every Deployment and StatefulSet
of a namespace that the policy selects; each `check_*` function judges one rule for one workload
and returns exactly one Finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import ZONE_LABEL
from ..findings import Finding, Message, ResourceRef, Result, finding
from ..selectors import label_selector_matches, node_admits
from ..view import ClusterView, Pod, PodDisruptionBudget, Workload
from .catalogue import rule

if TYPE_CHECKING:
    from ..api.zonespread import ZoneSpreadSpec

__all__ = [
    "LEGACY_ZONE_LABEL",
    "SpreadAnalysis",
    "SpreadTerm",
    "WorkloadAssessment",
    "ZoneSpreadEvaluation",
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
    counts: bool      # zone spreading that selects the workload's own pods
    reason_en: str = ""  # why it does not count
    reason_fr: str = ""


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


def _obj_en(w: Workload) -> str:
    return f"{w.kind} {w.namespace}/{w.name}"


def _obj_fr(w: Workload) -> str:
    return f"le {w.kind} {w.namespace}/{w.name}"


def _of_fr(w: Workload) -> str:
    return f"du {w.kind} {w.namespace}/{w.name}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _n_en(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _n_fr(n: int, singular: str, plural: str | None = None) -> str:
    # French: singular for 0 and 1.
    return f"{n} {singular if n <= 1 else (plural or singular + 's')}"


def _labels_en(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"


def _labels_fr(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "aucun label"


def _zones_en(zones: Iterable[str]) -> str:
    return ", ".join(sorted(zones)) or "none"


def _zones_fr(zones: Iterable[str]) -> str:
    return ", ".join(sorted(zones)) or "aucune"


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
        return finding(rule("ZS-001"), Result.FAIL, _ref(w), Message(
            f"{_obj_en(w)} has {_n_en(n, 'replica')}; minZones is {m}, so it cannot span {m} zones",
            f"{_cap(_obj_fr(w))} a {_n_fr(n, 'réplica')} ; minZones vaut {m}, il ne peut donc pas "
            f"couvrir {m} zones",
        ), F_REPLICAS)
    return finding(rule("ZS-001"), Result.PASS, _ref(w), Message(
        f"{_obj_en(w)} has {_n_en(n, 'replica')}, enough to span {m} zones (minZones)",
        f"{_cap(_obj_fr(w))} a {_n_fr(n, 'réplica')}, assez pour couvrir {m} zones (minZones)",
    ), F_REPLICAS)


# --------------------------------------------------------------------------------------------
# ZS-002, ZS-003


def _namespace_labels(namespace: str, view: ClusterView | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    if view is not None and namespace in view.namespaces:
        labels.update(view.namespaces[namespace].labels)
    labels[NAMESPACE_NAME_LABEL] = namespace
    return labels


def _term_scope_reason(term: Mapping, namespace: str, view: ClusterView | None) -> tuple[str, str]:
    """Why a pod (anti-)affinity term does not apply to pods of `namespace` ("" when it does).

    Kubernetes: the term applies to the union of `namespaces` and the namespaces its
    namespaceSelector selects; no namespaces and no namespaceSelector means the pod's own
    namespace; an empty namespaceSelector selects every namespace.
    """
    names = list(term.get("namespaces") or ())
    ns_selector = term.get("namespaceSelector")
    if not names and ns_selector is None:
        return "", ""
    if namespace in names:
        return "", ""
    if ns_selector is not None and label_selector_matches(ns_selector, _namespace_labels(namespace, view)):
        return "", ""
    listed = ", ".join(names)
    if ns_selector is None:
        return (f"it applies to namespaces {listed}, not {namespace}",
                f"il s'applique aux espaces de noms {listed}, pas à {namespace}")
    if names:
        return (f"it applies to namespaces {listed} and to those its namespaceSelector selects, "
                f"which excludes {namespace}",
                f"il s'applique aux espaces de noms {listed} et à ceux que son namespaceSelector "
                f"sélectionne, ce qui exclut {namespace}")
    return (f"its namespaceSelector does not select namespace {namespace}",
            f"son namespaceSelector ne sélectionne pas l'espace de noms {namespace}")


def _selector_reason(selector: Mapping | None, pod_labels: Mapping[str, str]) -> tuple[str, str]:
    if selector is None:
        return ("it has no labelSelector, so it selects no pods (not even the workload's own)",
                "il n'a pas de labelSelector et ne sélectionne donc aucun pod (pas même ceux de la charge)")
    if not label_selector_matches(selector, pod_labels):
        return (f"its labelSelector does not select the pod template labels ({_labels_en(pod_labels)})",
                f"son labelSelector ne sélectionne pas les labels du modèle de pod "
                f"({_labels_fr(pod_labels)})")
    return "", ""


def _key_reason(key: object, spec: ZoneSpreadSpec) -> tuple[str, str]:
    if key in spread_keys(spec):
        return "", ""
    return (f"its topologyKey is {key!s}, not {spec.topology_key}",
            f"sa topologyKey est {key!s}, et non {spec.topology_key}")


def _tsc_term(i: int, c: Mapping, spec: ZoneSpreadSpec, labels: Mapping[str, str]) -> SpreadTerm:
    when = c.get("whenUnsatisfiable")
    hard = when == "DoNotSchedule"
    source = f"topologySpreadConstraints[{i}]"
    reason = _key_reason(c.get("topologyKey"), spec)
    if not reason[0] and when not in ("DoNotSchedule", "ScheduleAnyway"):
        reason = (f"its whenUnsatisfiable is {when!s}, neither DoNotSchedule nor ScheduleAnyway",
                  f"son whenUnsatisfiable vaut {when!s}, ni DoNotSchedule ni ScheduleAnyway")
    if not reason[0]:
        reason = _selector_reason(c.get("labelSelector"), labels)
    return SpreadTerm(source, F_TSC, hard, not reason[0], *reason)


def _anti_affinity_term(source: str, term: Mapping, hard: bool, spec: ZoneSpreadSpec, workload: Workload,
                        view: ClusterView | None) -> SpreadTerm:
    labels = workload.template.labels
    reason = _key_reason(term.get("topologyKey"), spec)
    if not reason[0]:
        reason = _selector_reason(term.get("labelSelector"), labels)
    if not reason[0]:
        # mismatchLabelKeys: "key notin (the pod's own value)", which excludes the pod's own replicas.
        own = [k for k in term.get("mismatchLabelKeys") or () if k in labels]
        if own:
            reason = (f"its mismatchLabelKeys ({', '.join(own)}) exclude the workload's own pods",
                      f"ses mismatchLabelKeys ({', '.join(own)}) excluent les pods de la charge elle-même")
    if not reason[0]:
        reason = _term_scope_reason(term, workload.namespace, view)
    return SpreadTerm(source, F_POD_ANTI_AFFINITY, hard, not reason[0], *reason)


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


def _ignored_en(analysis: SpreadAnalysis) -> str:
    return "".join(f" {t.source} does not count: {t.reason_en}." for t in analysis.ignored)


def _ignored_fr(analysis: SpreadAnalysis) -> str:
    return "".join(f" {t.source} ne compte pas : {t.reason_fr}." for t in analysis.ignored)


def _kind_en(t: SpreadTerm) -> str:
    if t.field == F_TSC:
        return f"{t.source} ({'DoNotSchedule' if t.hard else 'ScheduleAnyway'})"
    return t.source


def check_spread_declared(spec: ZoneSpreadSpec, workload: Workload, view: ClusterView | None = None,
                          analysis: SpreadAnalysis | None = None) -> Finding:
    """ZS-002: fail when no zone spreading that selects the workload's own pods is declared."""
    w = workload
    a = analysis or analyse_spread(spec, w, view)
    if not a.declared:
        return finding(rule("ZS-002"), Result.FAIL, _ref(w), Message(
            f"{_obj_en(w)} declares no zone spreading: no topologySpreadConstraint and no podAntiAffinity "
            f"term on {spec.topology_key} selects its pods ({_labels_en(w.template.labels)})."
            + _ignored_en(a),
            f"{_cap(_obj_fr(w))} ne déclare aucune répartition entre zones : aucune "
            f"topologySpreadConstraint ni aucun terme podAntiAffinity sur {spec.topology_key} ne "
            f"sélectionne ses pods ({_labels_fr(w.template.labels)})." + _ignored_fr(a),
        ), F_TSC)
    counted = ", ".join(_kind_en(t) for t in a.counted)
    return finding(rule("ZS-002"), Result.PASS, _ref(w), Message(
        f"{_obj_en(w)} declares zone spreading on {spec.topology_key}: {counted}",
        f"{_cap(_obj_fr(w))} déclare une répartition entre zones sur {spec.topology_key} : {counted}",
    ), a.counted[0].field)


def check_hard_spread(spec: ZoneSpreadSpec, workload: Workload, view: ClusterView | None = None,
                      analysis: SpreadAnalysis | None = None) -> Finding:
    """ZS-003: skip without spreading (ZS-002 fails); fail when the policy requires hard spreading and
    the only spreading that counts is soft (ScheduleAnyway, preferred anti-affinity)."""
    w = workload
    a = analysis or analyse_spread(spec, w, view)
    if not a.declared:
        return finding(rule("ZS-003"), Result.SKIP, _ref(w), Message(
            f"{_obj_en(w)} declares no zone spreading (ZS-002), so there is no hardness to judge",
            f"{_cap(_obj_fr(w))} ne déclare aucune répartition entre zones (ZS-002) : rien à juger "
            f"sur son caractère strict",
        ), F_TSC)
    hard = [t for t in a.counted if t.hard]
    soft = [t for t in a.counted if not t.hard]
    if hard:
        listed = ", ".join(_kind_en(t) for t in hard)
        return finding(rule("ZS-003"), Result.PASS, _ref(w), Message(
            f"{_obj_en(w)} spreads hard across zones: {listed}",
            f"{_cap(_obj_fr(w))} se répartit de façon stricte entre les zones : {listed}",
        ), hard[0].field)
    listed = ", ".join(_kind_en(t) for t in soft)
    if spec.require_hard_spread:
        return finding(rule("ZS-003"), Result.FAIL, _ref(w), Message(
            f"{_obj_en(w)} spreads across zones only softly, by {listed}, while requireHardSpread is true: "
            f"the scheduler may still put every pod in one zone; use whenUnsatisfiable DoNotSchedule or "
            f"a required anti-affinity term",
            f"{_cap(_obj_fr(w))} ne se répartit entre les zones que de façon souple, par {listed}, alors que "
            f"requireHardSpread vaut true : l'ordonnanceur peut encore placer tous les pods dans une "
            f"seule zone ; utilisez whenUnsatisfiable DoNotSchedule ou un terme d'anti-affinité requis",
        ), soft[0].field)
    return finding(rule("ZS-003"), Result.PASS, _ref(w), Message(
        f"{_obj_en(w)} spreads across zones softly, by {listed}; the policy accepts it (requireHardSpread "
        f"is false)",
        f"{_cap(_obj_fr(w))} se répartit entre les zones de façon souple, par {listed} ; la politique "
        f"l'accepte (requireHardSpread vaut false)",
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


def running_zones(spec: ZoneSpreadSpec, workload: Workload,
                  view: ClusterView) -> tuple[frozenset[str], int, int]:
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
                        known: tuple[frozenset[str], int, int] | None = None) -> Finding:
    """ZS-004: fail when the running pods sit in fewer than minZones zones; skip without live data.
    `known`: `running_zones` of the workload, when the caller has it already."""
    w, m, key = workload, spec.min_zones, spec.topology_key
    if not view.pods_observed or not view.nodes_observed:
        return finding(rule("ZS-004"), Result.SKIP, _ref(w), Message(
            f"Placement of {_obj_en(w)} not judged: no live Pods/Nodes in the input",
            f"Placement {_of_fr(w)} non évalué : aucun Pod ni Node réel dans "
            f"l'entrée",
        ))
    zones, running, unzoned = known if known is not None else running_zones(spec, w, view)
    if not w.selector:
        extra_en, extra_fr = " (its spec.selector is empty)", " (son spec.selector est vide)"
    elif unzoned:
        extra_en = (f"; {_n_en(unzoned, 'running pod')} sit on nodes that are not observed or have "
                    f"no {key} label")
        extra_fr = (f" ; {_n_fr(unzoned, 'pod')} en cours d'exécution sur des nœuds non observés ou "
                    f"sans label {key}")
    else:
        extra_en = extra_fr = ""
    en = (f"{_obj_en(w)} has {_n_en(running, 'running pod')} in {_n_en(len(zones), 'zone')} "
          f"({_zones_en(zones)}); minZones is {m}{extra_en}")
    fr = (f"{_cap(_obj_fr(w))} a {_n_fr(running, 'pod')} en cours d'exécution dans "
          f"{_n_fr(len(zones), 'zone')} ({_zones_fr(zones)}) ; minZones vaut {m}{extra_fr}")
    result = Result.FAIL if len(zones) < m else Result.PASS
    return finding(rule("ZS-004"), result, _ref(w), Message(en, fr), F_SELECTOR)


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


def _budget_text(pdb: PodDisruptionBudget) -> tuple[str, str]:
    if pdb.min_available is not None and pdb.max_unavailable is not None:
        return (f"minAvailable {pdb.min_available!s} and maxUnavailable {pdb.max_unavailable!s}",
                f"minAvailable {pdb.min_available!s} et maxUnavailable {pdb.max_unavailable!s}")
    if pdb.max_unavailable is not None:
        return f"maxUnavailable {pdb.max_unavailable!s}", f"maxUnavailable {pdb.max_unavailable!s}"
    if pdb.min_available is not None:
        return f"minAvailable {pdb.min_available!s}", f"minAvailable {pdb.min_available!s}"
    return ("neither minAvailable nor maxUnavailable, so minAvailable 1",
            "ni minAvailable ni maxUnavailable, donc minAvailable 1")


def check_disruption_budget(spec: ZoneSpreadSpec, workload: Workload,
                            pdbs: Iterable[PodDisruptionBudget]) -> Finding:
    """ZS-005: fail when no PodDisruptionBudget of the namespace selects the workload's pods, or when
    every one that does lets all of its replicas go down; skip when the policy does not require one."""
    w, r = workload, workload.replicas
    if not spec.require_pod_disruption_budget:
        return finding(rule("ZS-005"), Result.SKIP, _ref(w), Message(
            f"PodDisruptionBudget of {_obj_en(w)} not judged: requirePodDisruptionBudget is false",
            f"PodDisruptionBudget {_of_fr(w)} non évalué : "
            f"requirePodDisruptionBudget vaut false",
        ))
    labels = w.template.labels
    in_namespace = sorted((b for b in pdbs if b.namespace == w.namespace), key=lambda b: b.name)
    covering = [b for b in in_namespace
                if b.selector is not None and label_selector_matches(b.selector, labels)]
    if not covering:
        others = [b.name for b in in_namespace]
        extra_en = (f"; {_n_en(len(others), 'PodDisruptionBudget')} in {w.namespace} select other pods: "
                    f"{', '.join(others)}" if others else "")
        extra_fr = (f" ; {_n_fr(len(others), 'PodDisruptionBudget')} de {w.namespace} "
                    f"sélectionne{'nt' if len(others) > 1 else ''} d'autres pods : {', '.join(others)}"
                    if others else "")
        return finding(rule("ZS-005"), Result.FAIL, _ref(w), Message(
            f"{_obj_en(w)} is covered by no PodDisruptionBudget: none in namespace {w.namespace} selects "
            f"its pod template labels ({_labels_en(labels)}){extra_en}",
            f"{_cap(_obj_fr(w))} n'est couvert par aucun PodDisruptionBudget : aucun dans l'espace de "
            f"noms {w.namespace} ne sélectionne les labels de son modèle de pod ({_labels_fr(labels)})"
            f"{extra_fr}",
        ), F_TEMPLATE_LABELS)
    valid: list[tuple[PodDisruptionBudget, int]] = []
    notes_en: list[str] = []
    notes_fr: list[str] = []
    for b in covering:
        allowed = pdb_allowed_disruptions(b, r)
        budget_en, budget_fr = _budget_text(b)
        if allowed is None:
            notes_en.append(f"PodDisruptionBudget {b.namespace}/{b.name} is invalid ({budget_en}), so it "
                            f"does not count")
            notes_fr.append(f"le PodDisruptionBudget {b.namespace}/{b.name} est invalide ({budget_fr}) et "
                            f"ne compte donc pas")
            continue
        valid.append((b, allowed))
    if r == 0 and valid:
        b = valid[0][0]
        return finding(rule("ZS-005"), Result.PASS, _ref(w), Message(
            f"{_obj_en(w)} has 0 replicas, so there is nothing to protect; it is covered by "
            f"PodDisruptionBudget {b.namespace}/{b.name}",
            f"{_cap(_obj_fr(w))} a 0 réplica, il n'y a donc rien à protéger ; il est couvert par le "
            f"PodDisruptionBudget {b.namespace}/{b.name}",
        ), F_TEMPLATE_LABELS)
    protecting = [(b, a) for b, a in valid if a < r]
    if protecting:
        b, allowed = min(protecting, key=lambda p: p[1])
        budget_en, budget_fr = _budget_text(b)
        return finding(rule("ZS-005"), Result.PASS, _ref(w), Message(
            f"{_obj_en(w)} is protected by PodDisruptionBudget {b.namespace}/{b.name} ({budget_en}): at "
            f"most {allowed} of its {_n_en(r, 'replica')} may be down at once",
            f"{_cap(_obj_fr(w))} est protégé par le PodDisruptionBudget {b.namespace}/{b.name} "
            f"({budget_fr}) : au plus {allowed} de ses {_n_fr(r, 'réplica')} peuvent être arrêtés à la fois",
        ), F_TEMPLATE_LABELS)
    for b, allowed in valid:
        budget_en, budget_fr = _budget_text(b)
        notes_en.append(f"PodDisruptionBudget {b.namespace}/{b.name} ({budget_en}) allows {allowed} of "
                        f"{_n_en(r, 'replica')} down")
        notes_fr.append(f"le PodDisruptionBudget {b.namespace}/{b.name} ({budget_fr}) autorise l'arrêt de "
                        f"{allowed} sur {_n_fr(r, 'réplica')}")
    return finding(rule("ZS-005"), Result.FAIL, _ref(w), Message(
        f"{_obj_en(w)} has no PodDisruptionBudget that keeps a pod up: " + "; ".join(notes_en),
        f"{_cap(_obj_fr(w))} n'a aucun PodDisruptionBudget qui maintienne un pod en service : "
        + " ; ".join(notes_fr),
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
                   view: ClusterView) -> tuple[frozenset[str] | None, list[tuple[str, str, str]]]:
    """The zones the template names explicitly (nodeSelector, required node affinity, nodeName on a
    known node), None when unconstrained, and the (field, English, French) sources that constrain."""
    keys = spread_keys(spec)
    template = workload.template
    allowed: frozenset[str] | None = None
    sources: list[tuple[str, str, str]] = []
    for key in keys:
        if key in template.node_selector:
            value = template.node_selector[key]
            allowed = _intersect(allowed, frozenset({value}))
            sources.append((F_NODE_SELECTOR, f"nodeSelector {key}={value}", f"le nodeSelector {key}={value}"))
    terms = _required_node_terms(workload)
    if terms is not None:
        zones = _affinity_zones(terms, keys, frozenset(view.known_zones(spec.topology_key)))
        if zones is not None:
            allowed = _intersect(allowed, zones)
            sources.append((F_NODE_AFFINITY, f"required node affinity (zones {_zones_en(zones)})",
                            f"l'affinité de nœud requise (zones {_zones_fr(zones)})"))
    if template.node_name and template.node_name in view.nodes:
        zone = view.zone_of_node(template.node_name, spec.topology_key)
        allowed = _intersect(allowed, frozenset({zone}) if zone else frozenset())
        where_en = f"in zone {zone}" if zone else f"without {spec.topology_key} label"
        where_fr = f"dans la zone {zone}" if zone else f"sans label {spec.topology_key}"
        sources.append((F_NODE_NAME, f"nodeName {template.node_name} (a node {where_en})",
                        f"le nodeName {template.node_name} (un nœud {where_fr})"))
    return allowed, sources


def _constraint_fields(workload: Workload) -> list[tuple[str, str, str]]:
    """The placement constraints present in the template: (field, English, French)."""
    t = workload.template
    present = []
    if t.node_selector:
        present.append((F_NODE_SELECTOR, "nodeSelector", "nodeSelector"))
    if _required_node_terms(workload) is not None:
        present.append((F_NODE_AFFINITY, "required node affinity", "affinité de nœud requise"))
    if t.node_name:
        present.append((F_NODE_NAME, f"nodeName {t.node_name}", f"nodeName {t.node_name}"))
    return present


def check_zone_pinning(spec: ZoneSpreadSpec, workload: Workload, view: ClusterView) -> Finding:
    """ZS-006: fail when nodeSelector, required node affinity or nodeName confine the workload to fewer
    than minZones zones: explicitly (the zone values they name) or, with live Nodes, implicitly (the
    zones of the nodes they admit)."""
    w, m, key = workload, spec.min_zones, spec.topology_key
    allowed, sources = explicit_zones(spec, w, view)
    if allowed is not None and len(allowed) < m:
        by_en = " and ".join(s[1] for s in sources)
        by_fr = " et ".join(s[2] for s in sources)
        return finding(rule("ZS-006"), Result.FAIL, _ref(w), Message(
            f"{_obj_en(w)} is pinned to {_n_en(len(allowed), 'zone')} ({_zones_en(allowed)}) by {by_en}; "
            f"minZones is {m}",
            f"{_cap(_obj_fr(w))} est cantonné à {_n_fr(len(allowed), 'zone')} ({_zones_fr(allowed)}) par "
            f"{by_fr} ; minZones vaut {m}",
        ), sources[0][0])
    present = _constraint_fields(w)
    what_en = ", ".join(p[1] for p in present)
    what_fr = ", ".join(p[2] for p in present)
    if view.nodes_observed and present:
        t = w.template
        admitted = [n for n in view.nodes.values()
                    if node_admits(n.name, n.labels, t.node_selector, t.affinity)
                    and (not t.node_name or n.name == t.node_name)]
        zones = frozenset(z for n in admitted if (z := n.labels.get(key)))
        counts_en = f"{len(admitted)} of {_n_en(len(view.nodes), 'observed node')}"
        counts_fr = f"{len(admitted)} nœud(s) admis sur {len(view.nodes)} observé(s)"
        if len(zones) < m:
            return finding(rule("ZS-006"), Result.FAIL, _ref(w), Message(
                f"{_obj_en(w)} is pinned by its placement constraints ({what_en}): they admit only nodes "
                f"in {_n_en(len(zones), 'zone')} ({_zones_en(zones)}), {counts_en}; minZones is {m}",
                f"{_cap(_obj_fr(w))} est cantonné par ses contraintes de placement ({what_fr}) : elles "
                f"n'admettent que des nœuds de {_n_fr(len(zones), 'zone')} ({_zones_fr(zones)}), "
                f"{counts_fr} ; minZones vaut {m}",
            ), present[0][0])
        return finding(rule("ZS-006"), Result.PASS, _ref(w), Message(
            f"{_obj_en(w)}: its placement constraints ({what_en}) admit nodes in "
            f"{_n_en(len(zones), 'zone')} ({_zones_en(zones)}), {counts_en}; minZones is {m}",
            f"{_cap(_obj_fr(w))} : ses contraintes de placement ({what_fr}) admettent des nœuds de "
            f"{_n_fr(len(zones), 'zone')} ({_zones_fr(zones)}), {counts_fr} ; minZones vaut {m}",
        ), present[0][0])
    if allowed is not None:
        return finding(rule("ZS-006"), Result.PASS, _ref(w), Message(
            f"{_obj_en(w)}: its placement constraints allow {_n_en(len(allowed), 'zone')} "
            f"({_zones_en(allowed)}); minZones is {m}",
            f"{_cap(_obj_fr(w))} : ses contraintes de placement autorisent {_n_fr(len(allowed), 'zone')} "
            f"({_zones_fr(allowed)}) ; minZones vaut {m}",
        ), sources[0][0])
    if present:
        return finding(rule("ZS-006"), Result.PASS, _ref(w), Message(
            f"{_obj_en(w)}: its placement constraints ({what_en}) do not restrict {key}",
            f"{_cap(_obj_fr(w))} : ses contraintes de placement ({what_fr}) ne restreignent pas {key}",
        ), present[0][0])
    return finding(rule("ZS-006"), Result.PASS, _ref(w), Message(
        f"{_obj_en(w)} has no nodeSelector, required node affinity or nodeName: it is not pinned to a zone",
        f"{_cap(_obj_fr(w))} n'a ni nodeSelector, ni affinité de nœud requise, ni nodeName : il n'est "
        f"cantonné à aucune zone",
    ), F_NODE_SELECTOR)


# --------------------------------------------------------------------------------------------
# The policy


def evaluate(spec: ZoneSpreadSpec, namespace: str, view: ClusterView) -> ZoneSpreadEvaluation:
    """Every ZS rule for every workload of `namespace` that the policy selects."""
    findings: list[Finding] = []
    assessments: list[WorkloadAssessment] = []
    eligible = True
    for w in select_workloads(spec, namespace, view):
        analysis = analyse_spread(spec, w, view)
        running = running_zones(spec, w, view) if view.pods_observed else None
        placement = check_running_zones(spec, w, view, running)
        findings += [
            check_replicas(spec, w),
            check_spread_declared(spec, w, view, analysis),
            check_hard_spread(spec, w, view, analysis),
            placement,
            check_disruption_budget(spec, w, view.pdbs_in(namespace)),
            check_zone_pinning(spec, w, view),
        ]
        zones = running[0] if running is not None else frozenset()
        needs = not analysis.hard if spec.require_hard_spread else not analysis.declared
        assessments.append(WorkloadAssessment(w, zones, analysis.declared, analysis.hard, needs))
        eligible = eligible and analysis.hard and placement.result is Result.PASS
    observed = frozenset().union(*(a.zones for a in assessments))
    return ZoneSpreadEvaluation(findings, assessments, observed, bool(assessments) and eligible)
