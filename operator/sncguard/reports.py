"""PolicyReports (wgpolicyk8s.io/v1alpha2), the format Policy Reporter and the policy engines read.

Following the wg-policy conventions, a policy writes one PolicyReport per namespace of the resources
it judged, and one ClusterPolicyReport for the cluster-scoped ones (a Namespace, a
ClusterRoleBinding, a PersistentVolume). A report carries an ownerReference to its policy only where
Kubernetes honours one: a cluster-scoped TenantPolicy may own any report, a namespaced ZoneSpread or
BackupPolicy only the report in its own namespace (the garbage collector refuses a ClusterPolicyReport
owned by a namespaced object, and collects at once a report owned from another namespace). The
others, a BackupPolicy's report in Velero's namespace about its storage location for instance, carry
the policy's uid as a label (`POLICY_UID_LABEL`) and sncguard deletes them with the policy, or on
start when the policy went while it was down. Names carry the policy's namespace and name, so
policies of one name in several namespaces never share a report. Every report is bounded:
flooding etcd with reports is the best-known failure of the general engines. Results carry the
time their verdict last changed, so an evaluation that changes nothing produces an identical
report and no write.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from .findings import Finding, Result, most_severe_first
from .naming import label_value, owner_reference

REPORT_API_VERSION = "wgpolicyk8s.io/v1alpha2"
POLICY_LABEL = "sncguard.io/policy"
POLICY_UID_LABEL = "sncguard.io/policy-uid"
RESULTS_CAP = 500


def report_name(kind: str, policy_namespace: str, policy_name: str) -> str:
    """sncguard-<kind>-<policy name> in the policy's own namespace (or for a cluster-scoped policy);
    sncguard-<kind>-<policy namespace>.<policy name> elsewhere. A namespace name has no '.'."""
    middle = f"{policy_namespace}.{policy_name}" if policy_namespace else policy_name
    return f"sncguard-{kind.lower()}-{middle}"[:253]


def policy_label_value(kind: str, namespace: str, name: str) -> str:
    # Label values allow no "/": kind.namespace.name identifies the policy.
    return label_value(".".join(p for p in (kind.lower(), namespace, name) if p))


def _result(f: Finding, language: str, seconds: int) -> dict[str, Any]:
    resource = {"apiVersion": f.resource.api_version or "v1", "kind": f.resource.kind, "name": f.resource.name}
    if f.resource.namespace:
        resource["namespace"] = f.resource.namespace
    if f.resource.uid:
        resource["uid"] = f.resource.uid
    out = {
        "policy": f.policy or "",
        "rule": f.rule.id,
        "result": f.result.value,
        "severity": f.severity.value,
        "category": ", ".join(f.rule.requirements),
        "message": f.message(language),
        "resources": [resource],
        "source": "sncguard",
        "scored": True,
        "timestamp": {"seconds": seconds, "nanos": 0},
    }
    properties = {"field": f.field} if f.field else {}
    if f.waiver is not None:
        # wg-policy properties are strings: a waived result is a skip that says why and until when.
        properties.update({"waiverReason": f.waiver.reason, "waiverUntil": f.waiver.until.isoformat(),
                           "waiverOrigin": f.waiver.origin, "waiverLapsed": str(not f.waived).lower()})
    if properties:
        out["properties"] = properties
    return out


def _key(result: Mapping[str, Any]) -> tuple:
    r = result["resources"][0]
    return (result["rule"], r.get("kind"), r.get("namespace", ""), r.get("name"), result.get("result"),
            result.get("message"))


def build_reports(kind: str, namespace: str, name: str, uid: str, findings: list[Finding], now: datetime,
                  previous: Mapping[tuple[str, str], Mapping[str, Any]], language: str = "en",
                  cap: int = RESULTS_CAP) -> list[dict[str, Any]]:
    """The reports this policy should own, keyed by (report kind, namespace) in `previous`."""
    owner = owner_reference(kind, name, uid)
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        groups[f.resource.namespace].append(f)
    # A namespaced policy always reports in its own namespace, if only to say all passed.
    if namespace:
        groups.setdefault(namespace, [])
    seconds = int(now.timestamp())
    reports = []
    for ns, group in sorted(groups.items()):
        report_kind = "PolicyReport" if ns else "ClusterPolicyReport"
        ordered = most_severe_first(group)
        old = previous.get((report_kind, ns)) or {}
        kept_times = {_key(r): r.get("timestamp") for r in old.get("results") or ()}
        results = []
        for f in ordered[:cap]:
            r = _result(f, language, seconds)
            r["timestamp"] = kept_times.get(_key(r)) or r["timestamp"]
            results.append(r)
        summary = {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}
        for f in group:
            summary[f.result.value] += 1
        at_home = not namespace or ns == namespace
        metadata: dict[str, Any] = {
            "name": report_name(kind, "" if at_home else namespace, name),
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, POLICY_LABEL: policy_label_value(kind, namespace, name),
                       POLICY_UID_LABEL: uid},
        }
        if at_home:
            metadata["ownerReferences"] = [owner]
        if ns:
            metadata["namespace"] = ns
        report = {"apiVersion": REPORT_API_VERSION, "kind": report_kind, "metadata": metadata,
                  "summary": summary, "results": results}
        if len(ordered) > cap:
            metadata["annotations"] = {"sncguard.io/results-truncated": str(len(ordered) - cap)}
        reports.append(report)
    return reports


def same_content(desired: Mapping[str, Any], existing: Mapping[str, Any] | None) -> bool:
    if existing is None:
        return False
    return (desired.get("summary") == existing.get("summary")
            and desired.get("results") == existing.get("results")
            and (desired["metadata"].get("annotations") or {}).items()
            <= (existing.get("metadata", {}).get("annotations") or {}).items())


def failing(findings: list[Finding]) -> int:
    return sum(1 for f in findings if f.result is Result.FAIL)
