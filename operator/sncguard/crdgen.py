"""The CustomResourceDefinitions, generated from the pydantic models.

Kubernetes wants a structural schema: every node typed, no `$ref`, no `anyOf` over types, no
`additionalProperties: false`. Pydantic's JSON Schema is close; this module closes the gap and
adds what only a CRD has (scope, names, printer columns, the status subresource).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from . import GROUP, VERSION
from .api import (
    BackupPolicySpec,
    BackupPolicyStatus,
    TenantPolicySpec,
    TenantPolicyStatus,
    ZoneSpreadSpec,
    ZoneSpreadStatus,
)

_DROPPED_KEYS = {"title", "$defs", "additionalProperties"}
_COMPLIANT = '.status.conditions[?(@.type=="Compliant")].status'


@dataclass(frozen=True)
class KindDefinition:
    kind: str
    plural: str
    short_name: str
    namespaced: bool
    spec: type[BaseModel]
    status: type[BaseModel]
    columns: tuple[dict[str, Any], ...]
    description: str

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


def _column(name: str, path: str, type_: str = "string", description: str = "", priority: int = 0) -> dict:
    column: dict[str, Any] = {"name": name, "type": type_, "jsonPath": path}
    if description:
        column["description"] = description
    if priority:
        column["priority"] = priority
    return column


_AGE = _column("Age", ".metadata.creationTimestamp", "date")
_FAIL = _column("Fail", ".status.summary.fail", "integer", "Failing findings")
_COMPLIANT_COLUMN = _column("Compliant", _COMPLIANT, description="No failing finding")

KINDS: tuple[KindDefinition, ...] = (
    KindDefinition(
        kind="ZoneSpread", plural="zonespreads", short_name="zs", namespaced=True,
        spec=ZoneSpreadSpec, status=ZoneSpreadStatus,
        description="Workloads of this namespace must span at least minZones availability zones "
                    "(the SLA applies only across two zones or more).",
        columns=(
            _column("Mode", ".spec.mode"),
            _column("Zones", ".status.zones", description="Zones where the selected pods run"),
            _column("SLA-Eligible", ".status.slaEligible", "boolean"),
            _COMPLIANT_COLUMN, _FAIL, _AGE,
            _column("Min-Zones", ".spec.minZones", "integer", priority=1),
            _column("Workloads", ".status.workloads", "integer", priority=1),
        ),
    ),
    KindDefinition(
        kind="TenantPolicy", plural="tenantpolicies", short_name="tp", namespaced=False,
        spec=TenantPolicySpec, status=TenantPolicyStatus,
        description="A tenant's namespaces, network zones and flow matrix, forbidden exposures, "
                    "authorised subjects and allowed regions.",
        columns=(
            _column("Tenant", ".spec.tenant"),
            _column("Mode", ".spec.mode"),
            _column("Namespaces", ".status.namespaces", "integer"),
            _COMPLIANT_COLUMN, _FAIL, _AGE,
        ),
    ),
    KindDefinition(
        kind="BackupPolicy", plural="backuppolicies", short_name="bp", namespaced=True,
        spec=BackupPolicySpec, status=BackupPolicyStatus,
        description="This namespace is backed up off-zone, encrypted, within its RPO, and restore-tested.",
        columns=(
            _column("Target", ".spec.storageLocation"),
            _column("Last-Backup", ".status.lastBackup", "date"),
            _COMPLIANT_COLUMN, _FAIL, _AGE,
            _column("Mode", ".spec.mode", priority=1),
            _column("Target-Zone", ".status.targetZone", priority=1),
        ),
    ),
)


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    """Inline $refs and turn pydantic's JSON Schema idioms into structural ones."""
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        target = copy.deepcopy(defs[node.pop("$ref").rsplit("/", 1)[-1]])
        node = {**target, **node}
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**node.pop("allOf")[0], **node}
        node = _resolve(node, defs)
    if "anyOf" in node:
        options = [o for o in node.pop("anyOf") if o.get("type") != "null"]
        if node.get("x-kubernetes-int-or-string"):
            options = []  # int-or-string carries no type of its own
        elif len(options) == 1:
            node = {**_resolve(options[0], defs), **node}
        elif options:
            raise ValueError(f"cannot express anyOf {options} structurally")
    if node.get("default", 0) is None:
        del node["default"]
    if "const" in node:
        node["enum"] = [node.pop("const")]
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "properties":
            out[key] = {name: _resolve(prop, defs) for name, prop in value.items()}
        elif key == "additionalProperties":
            continue
        else:
            out[key] = _resolve(value, defs) if isinstance(value, dict | list) and key != "enum" else value
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _resolve(node["additionalProperties"], defs)
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    elif "type" not in out and "properties" in out:
        out["type"] = "object"
    if "required" in out and not out["required"]:
        del out["required"]
    return out


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    return _resolve(raw, defs)


def crd(kind: KindDefinition) -> dict[str, Any]:
    spec_schema = structural_schema(kind.spec)
    status_schema = structural_schema(kind.status)
    status_schema.pop("required", None)
    schema = {
        "type": "object",
        "description": kind.description,
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
        "required": ["spec"],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/name": "sncguard", "app.kubernetes.io/part-of": "sncguard"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "shortNames": [kind.short_name],
                "categories": ["sncguard"],
            },
            "versions": [{
                "name": VERSION,
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": schema},
                "subresources": {"status": {}},
                "additionalPrinterColumns": list(kind.columns),
            }],
        },
    }


_HEADER = "# Generated by `sncguard crds` from the pydantic models in operator/sncguard/api; do not edit.\n"


def render(kind: KindDefinition) -> str:
    return _HEADER + yaml.safe_dump(crd(kind), sort_keys=False, allow_unicode=True, width=120)


def render_all() -> str:
    return "---\n".join(render(k) for k in KINDS)


def file_name(kind: KindDefinition) -> str:
    return f"{GROUP}_{kind.plural}.yaml"
