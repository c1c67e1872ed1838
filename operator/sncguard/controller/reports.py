"""Publishing PolicyReports: apply what changed, delete what is no longer reported, skip when absent.

Reports a policy cannot own by ownerReference (reports.py says which) are deleted here: with the
policy (`withdraw`), and on start for policies deleted while sncguard was down (`sweep`).
"""

from __future__ import annotations

import logging
from typing import Any

from ..findings import Finding
from ..reports import (
    POLICY_LABEL,
    POLICY_UID_LABEL,
    REPORT_API_VERSION,
    build_reports,
    policy_label_value,
    same_content,
)
from .engine import Engine
from .state import PolicyRecord

log = logging.getLogger("sncguard.reports")

REPORT_GROUP = "wgpolicyk8s.io"
OWNED_INDEXES = {"PolicyReport": "owned-policyreports", "ClusterPolicyReport": "owned-clusterpolicyreports"}
_said_absent: list[bool] = []


def reports_installed(engine: Engine) -> bool:
    return REPORT_GROUP in engine.api_groups()


def _owned_reports(engine: Engine) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for kind, index_id in OWNED_INDEXES.items():
        index = engine.index(index_id)
        out.extend((kind, obj) for key in list(index or ()) for obj in index[key])
    return out


def _existing(engine: Engine, label: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """This policy's reports, by (kind, namespace, name): a report of an older name is one to delete."""
    return {(kind, obj["metadata"].get("namespace") or "", obj["metadata"]["name"]): obj
            for kind, obj in _owned_reports(engine)
            if (obj["metadata"].get("labels") or {}).get(POLICY_LABEL) == label}


async def _delete(engine: Engine, kind: str, obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    await engine.writer.delete_owned(REPORT_API_VERSION, kind, meta.get("namespace") or None, meta["name"],
                                     meta.get("uid"))


async def withdraw(engine: Engine, record: PolicyRecord) -> None:
    """The policy is gone: delete its reports (those it owned would go with it anyway)."""
    label = policy_label_value(record.key.kind, record.key.namespace, record.key.name)
    for (kind, _, _), obj in _existing(engine, label).items():
        await _delete(engine, kind, obj)


async def sweep(engine: Engine) -> None:
    """Delete the reports whose policy (by the uid label) no longer exists; never one without that label."""
    alive = {r.uid for kind in ("ZoneSpread", "TenantPolicy", "BackupPolicy") for r in engine.records(kind)}
    for kind, obj in _owned_reports(engine):
        uid = (obj["metadata"].get("labels") or {}).get(POLICY_UID_LABEL)
        if uid and uid not in alive:
            log.info("%s %s/%s belongs to a policy that no longer exists: deleting it", kind,
                     obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
            await _delete(engine, kind, obj)


async def publish(engine: Engine, record: PolicyRecord, findings: list[Finding]) -> None:
    if not reports_installed(engine):
        if not _said_absent:
            log.info("the PolicyReport CRD (wgpolicyk8s.io) is absent: no PolicyReports are written")
            _said_absent.append(True)
        return
    key = record.key
    label = policy_label_value(key.kind, key.namespace, key.name)
    existing = _existing(engine, label)
    previous = {(kind, namespace): obj for (kind, namespace, _), obj in sorted(existing.items())}
    desired = build_reports(key.kind, key.namespace, key.name, record.uid, findings, engine.clock(), previous,
                            engine.language)
    wanted = set()
    for report in desired:
        where = (report["kind"], report["metadata"].get("namespace") or "", report["metadata"]["name"])
        wanted.add(where)
        if same_content(report, existing.get(where)):
            continue
        if error := await engine.writer.apply_owned(report, None, owned=True):
            log.warning("could not write %s: %s", where, error)
    for where, obj in existing.items():
        if where not in wanted:
            await _delete(engine, where[0], obj)
