"""Sources -> the data of the evidence packs: pure over what was read and `now`.

The policies are judged by `check.judge`, the very path `sncguard check` takes (and the operator's
rules, over the same ClusterView), so a pack's verdicts are check's. What only the operator keeps
over time comes from the policies' `status` when the source is a cluster (the SLA ledger, the last
restore drill, the erasure certificate, the digest of the access register it announced); offline the
pack says "not recorded offline" for it and computes what can be computed. Every list is sorted, and
nothing reads a clock: the same inputs and `now` give the same packs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import ZONE_LABEL, __version__
from ..api import TenantPolicySpec
from ..api.tenantpolicy import Flow, FlowPeer
from ..check import BASELINE_NAME, Judged, judge
from ..evaluation import TenantScope, tenant_scope
from ..findings import SEVERITY_RANK, Finding, Result, Summary, most_severe_first
from ..i18n import msg
from ..loader import Inputs
from ..netpol import CLUSTER_ADDRESS_SPACE, NetworkPolicyEngine
from ..plans.backuppolicy import drill_report
from ..rules import access, backup, termination
from ..rules.location import tenant_volumes, volume_regions
from ..rules.zonespread import WorkloadAssessment, ZoneSpreadEvaluation, workload_pods
from ..selectors import label_selector_matches
from ..sla import accrued, sla_causes
from ..timefmt import parse_rfc3339_or_none, rfc3339_seconds
from ..view import ClusterView, Pod
from .i18n import REQUIREMENTS, requirement, t

SCHEMA_VERSION = "sncguard.io/evidence/v1alpha1"
PLATFORM = "platform"
RECENT_SHOWN = 10
FLOW_PAIRS_CHECKED = 400

# How a piece of evidence that only the operator keeps stands: read from its status, absent from it,
# or not to be had at all (offline).
RECORDED, NOT_RECORDED, OFFLINE = "recorded", "not-recorded", "offline"
RESULT_ORDER = {"fail": 0, "warn": 1, "skip": 2, "pass": 3}


@dataclass
class Snapshot:
    """What a report reads: the loader's Inputs (files) or a cluster's, and for a cluster the policies'
    statuses, by (kind, namespace or "", name)."""

    inputs: Inputs
    source: dict[str, Any]
    statuses: Mapping[tuple[str, str, str], Mapping[str, Any]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.source.get("type") == "cluster"


@dataclass(frozen=True)
class Packs:
    tenants: dict[str, dict[str, Any]]  # file stem -> the tenant's pack (unsealed)
    platform: dict[str, Any] | None


class UnknownTenant(ValueError):
    """Its one argument is a Text: `str` gives it in English, `render` in the report's language."""


# ---- small helpers ------------------------------------------------------------------------------


def _summary(findings: Iterable[Finding]) -> dict[str, Any]:
    findings = list(findings)
    s = Summary.of(findings)
    by_severity = {sev.value: s.by_severity.get(sev.value, 0) for sev in sorted(SEVERITY_RANK, key=SEVERITY_RANK.get)}
    return {**s.as_dict(), "waived": sum(1 for f in findings if f.waived), "compliant": s.failed == 0,
            "failingBySeverity": by_severity}


def _is_baseline(j: Judged) -> bool:
    return j.policy.source == "(built-in baseline)" and j.policy.name == BASELINE_NAME


def _mode(j: Judged) -> str:
    return str(j.policy.spec.mode.value)


def _note(live: bool, present: bool) -> str:
    if not live:
        return OFFLINE
    return RECORDED if present else NOT_RECORDED


def _requirement_order(requirement_id: str) -> tuple[int, str]:
    """The order of docs/requirements.md (R1..R14, then S1..S7); an unknown ID last."""
    order = list(REQUIREMENTS)
    return (order.index(requirement_id) if requirement_id in order else len(order), requirement_id)


class _Findings:
    """The findings of a pack as JSON: every finding, most severe first, with where its object starts in
    the input (files), counts by rule and result, and the requirements they cite."""

    def __init__(self, snapshot: Snapshot, language: str) -> None:
        self.sources = snapshot.inputs.sources
        self.language = language

    def item(self, f: Finding) -> dict[str, Any]:
        out = f.as_dict(self.language)
        out["title"] = f.rule.title_in(self.language)
        out["waived"] = f.waived
        source = self.sources.get((f.resource.kind, f.resource.namespace, f.resource.name))
        if source is not None:
            out["source"] = {"file": source.file, "line": source.line}
        return out

    def section(self, findings: list[Finding]) -> dict[str, Any]:
        ordered = most_severe_first(findings)
        by_rule: dict[str, dict[str, Any]] = {}
        for f in ordered:
            entry = by_rule.setdefault(f.rule.id, {
                "rule": f.rule.id, "severity": f.severity.value,
                "title": f.rule.title_in(self.language),
                "requirements": list(f.rule.requirements), "fail": 0, "warn": 0, "pass": 0, "skip": 0, "waived": 0})
            entry[f.result.value] += 1
            entry["waived"] += f.waived
        cited = sorted({r for f in ordered for r in f.rule.requirements}, key=_requirement_order)
        requirements = []
        for rid in cited:
            text, source = requirement(rid, self.language)
            requirements.append({"id": rid, "text": text, "source": source})
        return {
            "items": [self.item(f) for f in ordered],
            "byRule": [by_rule[r] for r in sorted(by_rule)],
            "requirements": requirements,
        }


def _status_summary(status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The operator's verdict on a policy, as its status states it."""
    if not status:
        return None
    compliant = next((c.get("status") for c in status.get("conditions") or () if c.get("type") == "Compliant"), None)
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    out: dict[str, Any] = {
        "compliant": compliant if isinstance(compliant, str) else "Unknown",
        "ready": str(ready.get("status")) if ready else "Unknown",
    }
    if ready is not None and ready.get("status") != "True" and ready.get("reason"):
        out["reason"] = str(ready.get("reason"))
    summary = status.get("summary")
    if isinstance(summary, Mapping):
        out["summary"] = {k: int(summary.get(k) or 0) for k in ("pass", "fail", "warn", "skip")}
    if isinstance(status.get("observedGeneration"), int):
        out["observedGeneration"] = status["observedGeneration"]
    if isinstance(status.get("lastEvaluated"), str):
        out["lastEvaluated"] = status["lastEvaluated"]
    return out


# ---- the tenant's world ---------------------------------------------------------------------------


@dataclass
class _Tenant:
    judged: Judged
    spec: TenantPolicySpec
    scope: TenantScope
    zonespreads: list[Judged]
    backups: list[Judged]

    @property
    def name(self) -> str:
        return self.spec.tenant

    @property
    def findings(self) -> list[Finding]:
        return [f for j in (self.judged, *self.zonespreads, *self.backups) for f in j.outcome.findings]


def _tenants(judged: list[Judged], view: ClusterView) -> list[_Tenant]:
    policies = [j for j in judged if j.policy.kind == "TenantPolicy" and not _is_baseline(j)]
    out = []
    for j in policies:
        others = [o.policy.spec for o in policies if o is not j]
        scope = tenant_scope(j.policy.spec, view.namespaces, others)
        mine = set(scope.namespaces)
        out.append(_Tenant(
            j, j.policy.spec, scope,
            [z for z in judged if z.policy.kind == "ZoneSpread" and z.policy.namespace in mine],
            [b for b in judged if b.policy.kind == "BackupPolicy" and b.policy.namespace in mine]))
    return sorted(out, key=lambda x: (x.name, x.judged.policy.name))


def _stems(tenants: list[_Tenant]) -> dict[str, _Tenant]:
    """File stem -> tenant: the tenant's name; the policy's name after it when two policies name one
    tenant; never `platform`, the platform pack's."""
    counts: dict[str, int] = {}
    for x in tenants:
        counts[x.name] = counts.get(x.name, 0) + 1
    out = {}
    for x in tenants:
        stem = x.name if counts[x.name] == 1 else f"{x.name}-{x.judged.policy.name}"
        if stem == PLATFORM:
            stem = f"tenant-{stem}"
        out[stem] = x
    return out


# ---- access register ----------------------------------------------------------------------------


def _access(x: _Tenant, snapshot: Snapshot, view: ClusterView, now: datetime) -> dict[str, Any]:
    register = access.access_register(x.spec, x.scope.namespaces, view, now)
    digest = access.register_digest(register)
    status = snapshot.statuses.get(("TenantPolicy", "", x.judged.policy.name)) or {}
    recorded_digest = status.get("accessRegisterDigest")
    out: dict[str, Any] = {
        "authorizedSubjects": [{k: v for k, v in {"kind": s.kind.value, "name": s.name,
                                                  "namespace": s.namespace}.items() if v}
                               for s in x.spec.authorized_subjects or ()],
        "grants": [{**g, "reason": grant.reason}
                   for g, grant in zip(access.grant_states(x.spec, now), x.spec.access_grants or (), strict=True)],
        "register": register,
        "unauthorised": sum(1 for e in register if not e["authorised"]),
        "digest": digest,
        "recorded": _note(snapshot.live, isinstance(recorded_digest, str)),
    }
    if isinstance(recorded_digest, str):
        out["recordedDigest"] = recorded_digest
        out["recordedDigestMatches"] = recorded_digest == digest
    return out


# ---- placement ----------------------------------------------------------------------------------


def _volume_zone(pv: Any) -> str | None:
    zone = pv.labels.get(ZONE_LABEL)
    if zone:
        return zone
    zones: set[str] = set()
    for term in ((pv.node_affinity or {}).get("required") or {}).get("nodeSelectorTerms") or ():
        for e in term.get("matchExpressions") or ():
            if e.get("key") == ZONE_LABEL and e.get("operator") == "In":
                zones.update(e.get("values") or ())
    return ",".join(sorted(zones)) or None


def _workload_rows(namespaces: Iterable[str], view: ClusterView,
                   assessments: Mapping[tuple[str, str, str], WorkloadAssessment]) -> list[dict[str, Any]]:
    rows = []
    for ns in sorted(set(namespaces)):
        for w in sorted(view.workloads_in(ns), key=lambda w: (w.kind, w.name)):
            zones: dict[str, int] = {}
            regions: set[str] = set()
            unzoned = not_running = 0
            for pod in workload_pods(w, view):
                if not pod.running:
                    not_running += 1
                    continue
                node = view.nodes.get(pod.node_name)
                zone = node.zone if node else None
                if node and node.region:
                    regions.add(node.region)
                if zone:
                    zones[zone] = zones.get(zone, 0) + 1
                else:
                    unzoned += 1
            row: dict[str, Any] = {"kind": w.kind, "namespace": w.namespace, "name": w.name, "replicas": w.replicas,
                                   "zones": dict(sorted(zones.items())), "unzoned": unzoned, "notRunning": not_running,
                                   "regions": sorted(regions)}
            assessment = assessments.get((w.kind, w.namespace, w.name))
            if assessment is not None:
                row["hardSpread"] = assessment.spread_hard
            rows.append(row)
    return rows


def _assessments(zonespreads: Iterable[Judged]) -> dict[tuple[str, str, str], WorkloadAssessment]:
    out = {}
    for j in zonespreads:
        detail = j.outcome.detail
        if isinstance(detail, ZoneSpreadEvaluation):
            for a in detail.assessments:
                out[(a.workload.kind, a.workload.namespace, a.workload.name)] = a
    return out


def _pods_by_region(pods: Iterable[Pod], view: ClusterView) -> dict[str, int]:
    out: dict[str, int] = {}
    for pod in pods:
        if not pod.running:
            continue
        node = view.nodes.get(pod.node_name)
        region = (node.region if node else None) or "?"
        out[region] = out.get(region, 0) + 1
    return dict(sorted(out.items()))


def _placement(x: _Tenant, view: ClusterView) -> dict[str, Any]:
    allowed = sorted(x.spec.allowed_regions) if x.spec.allowed_regions else None
    rows = _workload_rows(x.scope.namespaces, view, _assessments(x.zonespreads))
    volumes, missing = tenant_volumes(x.scope.namespaces, view)
    volume_rows = []
    for pv, claim in volumes:
        regions, _ = volume_regions(pv)
        row: dict[str, Any] = {"name": pv.name, "claim": claim, "zone": _volume_zone(pv),
                               "region": ",".join(sorted(regions)) if regions else None}
        row["allowed"] = None if allowed is None or regions is None else regions <= set(allowed)
        volume_rows.append(row)
    zones = sorted(view.known_zones() | {z for r in rows for z in r["zones"]})
    pods = [p for ns in x.scope.namespaces for p in view.pods_in(ns)]
    return {
        "podsObserved": view.pods_observed,
        "zones": zones,
        "allowedRegions": allowed,
        "workloads": rows,
        "podsByRegion": _pods_by_region(pods, view),
        "volumes": volume_rows,
        "claimsWithoutVolume": [f"{c.namespace}/{c.name}" for c in missing],
    }


# ---- SLA ----------------------------------------------------------------------------------------


def _month_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = datetime(now.year, now.month, 1, tzinfo=now.tzinfo)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=now.tzinfo)
    return start, end


def _parse(text: Any) -> datetime | None:
    return parse_rfc3339_or_none(text) if isinstance(text, str) else None


def _timeline(ledger: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The month of `now` as segments: unknown before the ledger started, not eligible over its intervals
    (an open one until now), eligible in between; and the zone outages within the month."""
    start, end = _month_bounds(now)
    stop = min(now, end)
    month = now.strftime("%Y-%m")
    entry = next((m for m in ledger.get("months") or () if isinstance(m, Mapping) and m.get("month") == month), {})
    began = max(start, _parse(ledger.get("startedAt")) or start)
    segments: list[dict[str, Any]] = []
    if began > start:
        segments.append({"start": rfc3339_seconds(start), "end": rfc3339_seconds(min(began, stop)), "state": "unknown"})
    cursor = began
    for interval in sorted((i for i in entry.get("intervals") or () if isinstance(i, Mapping)),
                           key=lambda i: str(i.get("start"))):
        s = max(_parse(interval.get("start")) or began, began)
        e = min(_parse(interval.get("end")) or stop, stop)
        if e <= s or s >= stop:
            continue
        if s > cursor:
            segments.append({"start": rfc3339_seconds(cursor), "end": rfc3339_seconds(s), "state": "eligible"})
        causes = [c for c in interval.get("causes") or () if isinstance(c, Mapping)]
        segments.append({"start": rfc3339_seconds(s), "end": rfc3339_seconds(e), "state": "not-eligible",
                         "causes": [{k: str(c[k]) for k in ("kind", "namespace", "name", "rule") if c.get(k)}
                                    for c in causes]})
        cursor = max(cursor, e)
    if cursor < stop:
        # Past the last interval: eligible, unless the ledger says it has not been since before (an
        # interval the ledger no longer holds).
        current = ledger.get("current") or {}
        since = _parse(current.get("since"))
        state = "not-eligible" if current.get("eligible") is False and since is not None and since <= cursor \
            else "eligible"
        segments.append({"start": rfc3339_seconds(cursor), "end": rfc3339_seconds(stop), "state": state})
    outages = []
    for o in ledger.get("zoneOutages") or ():
        if not isinstance(o, Mapping):
            continue
        s, e = _parse(o.get("start")), _parse(o.get("end")) or stop
        if s is None or e <= start or s >= stop:
            continue
        outage = {"zone": str(o.get("zone", "")), "start": rfc3339_seconds(max(s, start)),
                  "end": rfc3339_seconds(min(e, stop))}
        if o.get("end") is None:
            outage["ongoing"] = True
        outages.append(outage)
    return {"month": month, "start": rfc3339_seconds(start), "end": rfc3339_seconds(end), "now": rfc3339_seconds(stop),
            "segments": segments, "outages": outages}


def _accrued(ledger: Mapping[str, Any], now: datetime) -> Mapping[str, Any]:
    """The ledger as of `now` (the time since accountedUntil added to the current state), by the
    operator's own arithmetic when it can read the ledger."""
    try:
        seen = accrued(ledger, now)
    except (KeyError, TypeError, ValueError, AttributeError):
        seen = None
    return seen if seen is not None else ledger


def _sla_entry(j: Judged, snapshot: Snapshot, now: datetime) -> dict[str, Any]:
    spec = j.policy.spec
    status = snapshot.statuses.get(("ZoneSpread", j.policy.namespace, j.policy.name)) or {}
    ledger = status.get("slaLedger") if isinstance(status.get("slaLedger"), Mapping) else None
    detail = j.outcome.detail
    entry: dict[str, Any] = {
        "namespace": j.policy.namespace, "name": j.policy.name, "baseline": _is_baseline(j),
        "minZones": spec.min_zones,
        "eligible": bool(j.outcome.status_fields.get("slaEligible")),
        "observedZones": list(j.outcome.status_fields.get("observedZones") or ()),
        "workloads": len(detail.assessments) if isinstance(detail, ZoneSpreadEvaluation) else 0,
        # Why it is not eligible now, by the operator's own reckoning (sla.sla_causes).
        "causes": [c.as_dict() for c in sla_causes(detail, j.policy.namespace, j.policy.name)]
        if isinstance(detail, ZoneSpreadEvaluation) and not j.outcome.status_fields.get("slaEligible") else [],
        "ledger": _note(snapshot.live, ledger is not None),
    }
    if ledger is not None:
        seen = _accrued(ledger, now)
        current = seen.get("current") or {}
        entry["current"] = {"eligible": bool(current.get("eligible")), "since": str(current.get("since", "")),
                            "causes": [dict(c) for c in current.get("causes") or () if isinstance(c, Mapping)]}
        entry["months"] = [{k: m.get(k) for k in ("month", "eligibleSeconds", "notEligibleSeconds",
                                                  "unobservedSeconds", "intervalsTruncated") if k in m}
                           for m in seen.get("months") or () if isinstance(m, Mapping)]
        entry["timeline"] = _timeline(seen, now)
    return entry


def _sla(zonespreads: list[Judged], snapshot: Snapshot, now: datetime) -> dict[str, Any]:
    return {"month": now.strftime("%Y-%m"),
            "policies": [_sla_entry(j, snapshot, now) for j in sorted(
                zonespreads, key=lambda j: (j.policy.namespace, j.policy.name))]}


# ---- backups ------------------------------------------------------------------------------------


def _target(bsl: Any, language: str) -> dict[str, Any]:
    evidence = backup.encryption_evidence(bsl)
    return {"namespace": bsl.namespace, "name": bsl.name, "provider": bsl.provider, "bucket": bsl.bucket,
            "zone": bsl.zone, "region": bsl.region, "phase": bsl.phase or None,
            "encryption": [said.render(language) for _, said in evidence.evidence]}


def _backup_entry(j: Judged, snapshot: Snapshot, view: ClusterView, language: str) -> dict[str, Any]:
    spec, ns = j.policy.spec, j.policy.namespace
    fields = j.outcome.status_fields
    bsl = backup.find_storage_location(spec, view)
    backups = list(reversed(backup.successful_backups(spec, ns, view)))
    by_name = {b.name: b for b in view.backups if b.namespace == spec.velero_namespace}
    tests = []
    for r in reversed(backup.restore_tests(spec, ns, view)):
        source = by_name.get(r.backup_name)
        report = drill_report(r, source, ns) if source is not None else None
        test: dict[str, Any] = {"name": r.name, "namespace": r.namespace, "backup": r.backup_name, "phase": r.phase,
                                "completed": r.completed, "drill": r.labels.get(backup.DRILL_LABEL) == "true"}
        if report is not None:
            test["report"] = report.render(language)
        tests.append(test)
    status = snapshot.statuses.get(("BackupPolicy", ns, j.policy.name)) or {}
    drill = status.get("lastDrill") if isinstance(status.get("lastDrill"), Mapping) else None
    entry: dict[str, Any] = {
        "namespace": ns, "name": j.policy.name, "mode": _mode(j),
        "storageLocation": spec.storage_location, "veleroNamespace": spec.velero_namespace,
        "schedule": spec.schedule, "rpo": spec.rpo, "restoreTestInterval": spec.restore_test_interval,
        "requireEncryption": spec.require_encryption,
        "status": {k: fields[k] for k in ("target", "targetZone", "targetRegion", "workloadZones", "lastBackup",
                                          "lastRestoreTest", "nextDeadline") if k in fields},
        "target": _target(bsl, language) if bsl is not None else None,
        "backups": [{"name": b.name, "phase": b.phase, "completed": b.completed or b.started,
                     "storageLocation": b.storage_location} for b in backups[:RECENT_SHOWN]],
        "backupsTotal": len(backups),
        "restoreTests": tests[:RECENT_SHOWN],
        "restoreTestsTotal": len(tests),
        "verdicts": {f.rule.id: f.result.value for f in sorted(j.outcome.findings, key=lambda f: f.rule.id)},
        "lastDrill": dict(drill) if drill is not None else None,
        "lastDrillRecorded": _note(snapshot.live, drill is not None),
    }
    return entry


def _backups(policies: list[Judged], namespaces: Iterable[str] | None, snapshot: Snapshot, view: ClusterView,
             language: str) -> dict[str, Any]:
    ordered = sorted(policies, key=lambda j: (j.policy.namespace, j.policy.name))
    covered = {j.policy.namespace for j in ordered}
    out: dict[str, Any] = {"veleroInstalled": view.velero_installed,
                           "policies": [_backup_entry(j, snapshot, view, language) for j in ordered]}
    if namespaces is not None:
        out["uncovered"] = sorted(set(namespaces) - covered)
    return out


# ---- network ------------------------------------------------------------------------------------


def _selector_text(selector: Any) -> str:
    k8s = selector.as_k8s() if selector is not None else {}
    parts = [f"{k}={v}" for k, v in sorted((k8s.get("matchLabels") or {}).items())]
    parts += [f"{e['key']} {e['operator']} ({','.join(e.get('values') or ())})"
              for e in k8s.get("matchExpressions") or ()]
    return ", ".join(parts) or "{}"


def _end_text(end: FlowPeer, language: str) -> str:
    if end.cidr is not None:
        return end.cidr
    where = (msg("zone {zone}", zone=end.zone) if end.zone is not None
             else msg("namespaces {selector}", selector=_selector_text(end.namespace_selector)))
    if end.pod_selector is not None:
        return msg("{where} · pods {selector}", where=where, selector=_selector_text(end.pod_selector)).render(language)
    return where.render(language)


def _ports_text(flow: Flow, language: str) -> str:
    if flow.ports is None:
        return t("all_ports", language)
    return ", ".join(f"{p.protocol.value}/{p.port}" + (f"-{p.end_port}" if p.end_port else "") for p in flow.ports)


def _live(pod: Pod) -> bool:
    return pod.running and not pod.host_network


def _end_members(end: FlowPeer, scope: TenantScope, view: ClusterView) -> list[Pod] | list[str]:
    """The live pods a flow end names, or sample addresses of its cidr."""
    if end.cidr is not None:
        network = ipaddress.ip_network(end.cidr, strict=False)
        carved = [c for c in CLUSTER_ADDRESS_SPACE if c.version == network.version and c != network
                  and c.subnet_of(network)]  # type: ignore[arg-type]
        candidates = [network.network_address + 1, network.network_address + network.num_addresses // 2 + 1] \
            if network.num_addresses > 2 else [network.network_address]
        return [str(a) for a in dict.fromkeys(candidates) if a in network and not any(a in c for c in carved)]
    if end.zone is not None:
        namespaces = [n for n, z in sorted(scope.zone_of_namespace.items()) if z == end.zone]
    else:
        selector = end.namespace_selector.as_k8s() if end.namespace_selector is not None else None
        namespaces = sorted(n for n, ns in view.namespaces.items() if label_selector_matches(selector, ns.labels))
    pods_selector = end.pod_selector.as_k8s() if end.pod_selector is not None else {}
    return [p for n in namespaces for p in sorted(view.pods_in(n), key=lambda p: p.name)
            if _live(p) and label_selector_matches(pods_selector, p.labels)]


def _probe_ports(flow: Flow, destination: Pod | str) -> list[tuple[str, int]]:
    if flow.ports is None:
        declared = [(cp.protocol or "TCP", cp.port) for cp in destination.ports] if isinstance(destination, Pod) else []
        return sorted(set(declared)) or [("TCP", 443)]
    out = []
    for p in flow.ports:
        if isinstance(p.port, int):
            out.append((p.protocol.value, p.port))
        elif isinstance(destination, Pod):
            out += [(p.protocol.value, cp.port) for cp in destination.ports
                    if cp.name == p.port and (cp.protocol or "TCP") == p.protocol.value]
    return out


def _endpoint_text(end: Pod | str) -> str:
    return f"{end.namespace}/{end.name}" if isinstance(end, Pod) else end


def _flows(x: _Tenant, view: ClusterView, engine: NetworkPolicyEngine, language: str) -> list[dict[str, Any]]:
    out = []
    for flow in x.spec.flows or ():
        sources = _end_members(flow.from_, x.scope, view)
        destinations = _end_members(flow.to, x.scope, view)
        checked = allowed = 0
        blocked_example = ""
        for src in sources:
            for dst in destinations:
                if isinstance(src, str) and isinstance(dst, str):
                    continue
                for protocol, port in _probe_ports(flow, dst):
                    if checked >= FLOW_PAIRS_CHECKED:
                        break
                    checked += 1
                    if engine.allows(src, dst, protocol, port):
                        allowed += 1
                    elif not blocked_example:
                        blocked_example = f"{_endpoint_text(src)} → {_endpoint_text(dst)} {protocol}/{port}"
        verdict = ("no-endpoints" if not checked else "effective" if allowed == checked
                   else "blocked" if not allowed else "partial")
        entry = {"name": flow.name, "from": _end_text(flow.from_, language), "to": _end_text(flow.to, language),
                 "ports": _ports_text(flow, language), "checked": checked, "allowed": allowed, "verdict": verdict}
        if blocked_example:
            entry["blockedExample"] = blocked_example
        out.append(entry)
    return out


def _exposures(namespaces: list[str], zone_of: Mapping[str, str], view: ClusterView,
               findings: list[Finding], language: str) -> list[dict[str, Any]]:
    verdicts: dict[tuple[str, str, str], dict[str, str]] = {}
    for f in findings:
        if f.rule.id in ("NET-003", "NET-006", "NET-007") and f.resource.kind in ("Service", "Ingress", "Route"):
            entry = verdicts.setdefault((f.resource.kind, f.resource.namespace, f.resource.name), {})
            # The worst result of the rule on the object.
            if f.rule.id not in entry or RESULT_ORDER[f.result.value] < RESULT_ORDER[entry[f.rule.id]]:
                entry[f.rule.id] = f.result.value
    mine = set(namespaces)
    rows = []
    for svc in sorted((s for s in view.services if s.namespace in mine), key=lambda s: (s.namespace, s.name)):
        if not svc.exposed:
            continue
        ports = ", ".join(f"{p.port}/{p.protocol}"
                          + (f"→{p.target_port}" if p.target_port not in (None, p.port) else "") for p in svc.ports)
        how = svc.type if svc.type in ("LoadBalancer", "NodePort") else "externalIPs " + ", ".join(svc.external_ips)
        ranges = ", ".join(svc.load_balancer_source_ranges) if svc.load_balancer_source_ranges else (
            "0.0.0.0/0" if svc.type == "LoadBalancer" else "")
        what = f"{how} {ports}" + (f" ← {ranges}" if ranges else "")
        rows.append(("Service", svc.namespace, svc.name, what))
    for ing in sorted((i for i in view.ingresses if i.namespace in mine), key=lambda i: (i.namespace, i.name)):
        hosts = ", ".join(h for h in ing.hosts if h) or "*"
        rows.append(("Ingress", ing.namespace, ing.name, f"{hosts} ({'TLS' if ing.has_tls else 'HTTP'})"))
    for route in sorted((r for r in view.routes if r.namespace in mine), key=lambda r: (r.namespace, r.name)):
        tls = route.termination or "HTTP"
        if route.insecure_edge_termination_policy:
            tls += f", insecure: {route.insecure_edge_termination_policy}"
        rows.append(("Route", route.namespace, route.name, f"{route.host or '*'} ({tls})"))
    return [{"kind": kind, "namespace": ns, "name": name, "zone": zone_of.get(ns), "exposure": what,
             "rules": dict(sorted(verdicts.get((kind, ns, name), {}).items()))} for kind, ns, name, what in rows]



def _network(x: _Tenant, view: ClusterView, items: _Findings, language: str) -> dict[str, Any]:
    findings = x.judged.outcome.findings
    deny: dict[str, dict[str, str]] = {ns: {} for ns in x.scope.namespaces}
    for f in findings:
        if f.rule.id in ("NET-001", "NET-002") and f.resource.kind == "Namespace" and f.resource.name in deny:
            deny[f.resource.name]["ingress" if f.rule.id == "NET-001" else "egress"] = f.result.value
    engine = NetworkPolicyEngine(view)
    return {
        "zonesOfNamespaces": {ns: x.scope.zone_of_namespace.get(ns) for ns in x.scope.namespaces},
        "defaultDeny": [{"namespace": ns, **d} for ns, d in sorted(deny.items())],
        "flows": _flows(x, view, engine, language),
        "undeclared": [items.item(f) for f in most_severe_first(findings)
                       if f.rule.id == "NET-005" and f.result is Result.FAIL],
        "exposures": _exposures(x.scope.namespaces, x.scope.zone_of_namespace, view, findings, language),
    }


# ---- termination --------------------------------------------------------------------------------


def _termination(x: _Tenant, snapshot: Snapshot, view: ClusterView, items: _Findings) -> dict[str, Any]:
    t_ = x.spec.termination
    status = snapshot.statuses.get(("TenantPolicy", "", x.judged.policy.name)) or {}
    verdicts = [items.item(f) for f in x.judged.outcome.findings if f.rule.id.startswith("TERM-")]
    if t_ is None:
        return {"declared": False, "verdicts": verdicts}
    notice, erasure = termination.notice_deadline(x.spec), termination.erasure_deadline(x.spec)
    namespaces = termination.erasure_scope(x.scope.namespaces, status if snapshot.live else None)
    remaining = termination.remaining_data(namespaces, view)
    recorded = status.get("erasureCertificate") if isinstance(status.get("erasureCertificate"), Mapping) else None
    computed = x.judged.outcome.status_fields.get("erasureCertificate")
    certificate = recorded if recorded is not None else computed
    return {
        "declared": True,
        "contractEndedAt": rfc3339_seconds(t_.contract_ended_at) if t_.contract_ended_at else None,
        "erasureNoticeAt": rfc3339_seconds(t_.erasure_notice_at) if t_.erasure_notice_at else None,
        "noticeDeadline": rfc3339_seconds(notice) if notice else None,
        "erasureDeadline": rfc3339_seconds(erasure) if erasure else None,
        "namespaces": namespaces,
        "remaining": {
            "namespaces": remaining.namespaces,
            "volumes": [{"name": pv.name, "claim": claim} for pv, claim in remaining.volumes],
            "backups": [{"namespace": b.namespace, "name": b.name, "phase": b.phase, "holds": held}
                        for b, held in remaining.backups],
        },
        "certificate": dict(certificate) if certificate is not None else None,
        "certificateSource": "operator" if recorded is not None else "computed" if computed is not None else None,
        "certificateRecorded": _note(snapshot.live, recorded is not None),
        "verdicts": verdicts,
    }


# ---- packs --------------------------------------------------------------------------------------


def _head(kind: str, snapshot: Snapshot, now: datetime, language: str) -> dict[str, Any]:
    return {"schemaVersion": SCHEMA_VERSION, "kind": kind, "language": language, "generatedAt": rfc3339_seconds(now),
            "generator": {"name": "sncguard", "version": __version__}, "source": dict(snapshot.source)}


def _problems(snapshot: Snapshot, namespaces: Collection[str] | None = None) -> dict[str, Any]:
    """The policies left out for an invalid spec (those in `namespaces`, when given) and the resources
    that could not be listed."""
    return {
        "invalidPolicies": [{"kind": e.kind, "namespace": e.namespace, "name": e.name, "problem": e.problem}
                            for e in sorted(snapshot.inputs.errors, key=lambda e: (e.kind, e.namespace, e.name))
                            if namespaces is None or e.namespace in namespaces],
        "unreadable": sorted(snapshot.unreadable),
    }


def _tenant_pack(x: _Tenant, snapshot: Snapshot, now: datetime, language: str) -> dict[str, Any]:
    view = snapshot.inputs.view
    items = _Findings(snapshot, language)
    findings = x.findings
    status = snapshot.statuses.get(("TenantPolicy", "", x.judged.policy.name))
    tenant: dict[str, Any] = {
        "name": x.name, "policy": x.judged.policy.name, "mode": _mode(x.judged),
        "namespaces": list(x.scope.namespaces),
        "policies": [{"kind": j.policy.kind, "namespace": j.policy.namespace, "name": j.policy.name,
                      "mode": _mode(j), "baseline": _is_baseline(j), "summary": _summary(j.outcome.findings),
                      "recorded": _status_summary(snapshot.statuses.get(
                          (j.policy.kind, j.policy.namespace, j.policy.name)))}
                     for j in (x.judged, *x.zonespreads, *x.backups)],
    }
    return {
        **_head("TenantEvidencePack", snapshot, now, language),
        "tenant": tenant,
        "summary": {**_summary(findings), "recorded": _status_summary(status)},
        "access": _access(x, snapshot, view, now),
        "placement": _placement(x, view),
        "sla": _sla(x.zonespreads, snapshot, now),
        "backups": _backups(x.backups, x.scope.namespaces, snapshot, view, language),
        "network": _network(x, view, items, language),
        "findings": items.section(findings),
        "termination": _termination(x, snapshot, view, items),
        "problems": _problems(snapshot, set(x.scope.namespaces)),
    }


def _nodes(view: ClusterView) -> dict[str, Any]:
    zones: dict[tuple[str, str], int] = {}
    for node in view.nodes.values():
        key = (node.zone or "?", node.region or "?")
        zones[key] = zones.get(key, 0) + 1
    return {"observed": view.nodes_observed, "total": len(view.nodes),
            "zones": [{"zone": z, "region": r, "nodes": n} for (z, r), n in sorted(zones.items())],
            "notReady": sorted(n.name for n in view.nodes.values() if not getattr(n, "ready", True))}


def _platform_pack(judged: list[Judged], tenants: dict[str, _Tenant], snapshot: Snapshot, now: datetime,
                   language: str) -> dict[str, Any]:
    view = snapshot.inputs.view
    items = _Findings(snapshot, language)
    findings = [f for j in judged for f in j.outcome.findings]
    tenant_of = {ns: stem for stem, x in tenants.items() for ns in x.scope.namespaces}
    tenant_rows = []
    for stem, x in tenants.items():
        register = access.access_register(x.spec, x.scope.namespaces, view, now)
        term = x.spec.termination
        certificate = (snapshot.statuses.get(("TenantPolicy", "", x.judged.policy.name)) or {}).get(
            "erasureCertificate") or x.judged.outcome.status_fields.get("erasureCertificate")
        state = ("running" if term is None or term.contract_ended_at is None else
                 "certified" if certificate else "notice-given" if term.erasure_notice_at else "ended")
        eligible = [bool(z.outcome.status_fields.get("slaEligible")) for z in x.zonespreads]
        tenant_rows.append({"tenant": x.name, "pack": stem, "policy": x.judged.policy.name, "mode": _mode(x.judged),
                            "namespaces": list(x.scope.namespaces), "summary": _summary(x.findings),
                            "unauthorisedSubjects": sum(1 for e in register if not e["authorised"]),
                            "slaEligible": all(eligible) if eligible else None, "termination": state})
    policies = []
    for j in sorted(judged, key=lambda j: (j.policy.kind, j.policy.namespace, j.policy.name)):
        recorded = _status_summary(snapshot.statuses.get((j.policy.kind, j.policy.namespace, j.policy.name)))
        summary = _summary(j.outcome.findings)
        row = {"kind": j.policy.kind, "namespace": j.policy.namespace, "name": j.policy.name, "mode": _mode(j),
               "baseline": _is_baseline(j), "tenant": tenant_of.get(j.policy.namespace) if j.policy.namespace
               else next((s for s, x in tenants.items() if x.judged is j), None),
               "summary": summary, "recorded": recorded}
        if recorded is not None and "summary" in recorded:
            row["agrees"] = recorded["summary"] == {k: summary[k] for k in ("pass", "fail", "warn", "skip")}
        policies.append(row)
    outside = [f for j in judged for f in j.outcome.findings
               if j.policy.kind != "TenantPolicy" and j.policy.namespace not in tenant_of]
    zonespreads = [j for j in judged if j.policy.kind == "ZoneSpread"]
    backups = [j for j in judged if j.policy.kind == "BackupPolicy"]
    return {
        **_head("PlatformEvidencePack", snapshot, now, language),
        "summary": _summary(findings),
        "tenants": tenant_rows,
        "policies": policies,
        "placement": {"nodes": _nodes(view), "podsByRegion": _pods_by_region(view.pods, view),
                      "podsObserved": view.pods_observed},
        "sla": _sla(zonespreads, snapshot, now),
        "backups": {**_backups(backups, None, snapshot, view, language),
                    "targets": [_target(b, language) for b in sorted(view.storage_locations,
                                                                      key=lambda b: (b.namespace, b.name))]},
        "findings": items.section(findings),
        "outsideTenants": [items.item(f) for f in most_severe_first(outside) if f.result in (Result.FAIL, Result.WARN)],
        "problems": _problems(snapshot),
    }


def gather(snapshot: Snapshot, now: datetime, language: str = "en",
           tenants: Collection[str] | None = None) -> Packs:
    """The packs of `snapshot` at `now`: one per TenantPolicy (or those whose tenant or policy name is in
    `tenants`) and, without `tenants`, the platform's."""
    previous = snapshot.statuses if snapshot.live else None
    _, judged = judge(snapshot.inputs, now, previous)
    view = snapshot.inputs.view
    stems = _stems(_tenants(judged, view))
    if tenants:
        names = {x.name for x in stems.values()} | {x.judged.policy.name for x in stems.values()}
        unknown = sorted(set(tenants) - names)
        if unknown:
            known = sorted({x.name for x in stems.values()}) or msg("none")
            raise UnknownTenant(msg("no TenantPolicy for tenant {tenants} (tenants: {known})", tenants=unknown,
                                    known=known))
        chosen = {stem: x for stem, x in stems.items() if x.name in tenants or x.judged.policy.name in tenants}
    else:
        chosen = stems
    packs = {stem: _tenant_pack(x, snapshot, now, language) for stem, x in chosen.items()}
    platform = None if tenants else _platform_pack(judged, stems, snapshot, now, language)
    return Packs(packs, platform)


__all__ = ["PLATFORM", "SCHEMA_VERSION", "Packs", "Snapshot", "UnknownTenant", "gather"]
