"""Publishing PolicyReports: apply what changed, delete what is no longer reported, skip when absent."""

from __future__ import annotations

import logging
from typing import Any

from ..findings import Finding
from ..reports import POLICY_LABEL, REPORT_API_VERSION, build_reports, policy_label_value, same_content
from .engine import Engine
from .state import PolicyRecord

log = logging.getLogger("sncguard.reports")

REPORT_GROUP = "wgpolicyk8s.io"
OWNED_INDEXES = {"PolicyReport": "owned-policyreports", "ClusterPolicyReport": "owned-clusterpolicyreports"}
_said_absent: list[bool] = []


def reports_installed(engine: Engine) -> bool:
    return REPORT_GROUP in engine.api_groups()


def _existing(engine: Engine, label: str) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for kind, index_id in OWNED_INDEXES.items():
        index = engine.index(index_id)
        for key in list(index or ()):
            for obj in index[key]:
                if (obj["metadata"].get("labels") or {}).get(POLICY_LABEL) == label:
                    out[(kind, obj["metadata"].get("namespace") or "")] = obj
    return out


async def publish(engine: Engine, record: PolicyRecord, findings: list[Finding]) -> None:
    if not reports_installed(engine):
        if not _said_absent:
            log.info("the PolicyReport CRD (wgpolicyk8s.io) is absent: no PolicyReports are written")
            _said_absent.append(True)
        return
    key = record.key
    label = policy_label_value(key.kind, key.namespace, key.name)
    existing = _existing(engine, label)
    desired = build_reports(key.kind, key.namespace, key.name, record.uid, findings, engine.clock(), existing,
                            engine.language)
    wanted = set()
    for report in desired:
        where = (report["kind"], report["metadata"].get("namespace") or "")
        wanted.add(where)
        if same_content(report, existing.get(where)):
            continue
        if error := await engine.apply_owned(report, None, owned=True):
            log.warning("could not write %s: %s", where, error)
    for (kind, namespace), obj in existing.items():
        if (kind, namespace) not in wanted:
            await engine.delete_owned(REPORT_API_VERSION, kind, namespace or None, obj["metadata"]["name"])
