"""YAML and JSON manifests -> ClusterView and policies, for the offline check.

Accepts files and folders, multi-document YAML, and `kubectl get -o yaml` lists. Anything it
cannot use is an InputError naming the file and the problem, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .api import BackupPolicySpec, TenantPolicySpec, ZoneSpreadSpec
from .view import PROJECTIONS, UNREADABLE, VELERO_KINDS, ClusterView, project

MANIFEST_SUFFIXES = {".yaml", ".yml", ".json"}
POLICY_SPECS: dict[str, type[BaseModel]] = {
    "ZoneSpread": ZoneSpreadSpec,
    "TenantPolicy": TenantPolicySpec,
    "BackupPolicy": BackupPolicySpec,
}
CLUSTER_SCOPED = {"Namespace", "Node", "TenantPolicy", "PersistentVolume", "ClusterRoleBinding", "ClusterRole"}


class InputError(Exception):
    """Unusable input: the message names the file and the problem."""


@dataclass(frozen=True)
class PolicyDocument:
    kind: str
    namespace: str
    name: str
    spec: Any
    source: str
    generation: int = 0


@dataclass
class Inputs:
    view: ClusterView = field(default_factory=ClusterView)
    policies: list[PolicyDocument] = field(default_factory=list)
    documents: int = 0

    def policies_of(self, kind: str) -> list[PolicyDocument]:
        return [p for p in self.policies if p.kind == kind]


def format_validation_error(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        location = ".".join(str(x) for x in e["loc"] if not str(x).startswith("function-"))
        message = e["msg"].removeprefix("Value error, ")
        parts.append(f"spec.{location}: {message}" if location else f"spec: {message}")
    return "; ".join(parts)


def parse_policy_spec(kind: str, spec: Any) -> BaseModel:
    """Validate a policy spec with the models behind the CRD schema; ValueError says what is wrong."""
    if not isinstance(spec, dict):
        raise ValueError("spec: must be an object")
    try:
        return POLICY_SPECS[kind].model_validate(spec)
    except ValidationError as exc:
        raise ValueError(format_validation_error(exc)) from None


def _manifest_files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix in MANIFEST_SUFFIXES and not any(
                    part.startswith(".") for part in child.relative_to(path).parts):
                yield child
    elif path.is_file():
        yield path
    else:
        raise InputError(f"{path}: no such file or directory")


def _documents(path: Path) -> Iterator[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    try:
        docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        problem = str(exc).replace("\n", " ")
        raise InputError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {problem}") from None
    for number, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InputError(f"{path}: document {number} is a {type(doc).__name__}, not a Kubernetes object")
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
            # kubectl's `List` names each item's kind; an API list response (`PodList`) names none
            # on its items, only its own: theirs is the list's kind less "List".
            item_kind = kind.removesuffix("List")
            for item in doc["items"]:
                if not isinstance(item, dict):
                    raise InputError(f"{path}: document {number}: a list item is not an object")
                if item_kind and not item.get("kind"):
                    item = {"kind": item_kind, "apiVersion": doc.get("apiVersion", ""), **item}
                yield item
        else:
            yield doc


def load(paths: list[str | Path]) -> Inputs:
    inputs = Inputs()
    view = inputs.view
    for raw in paths:
        for file in _manifest_files(Path(raw)):
            for doc in _documents(file):
                inputs.documents += 1
                _add(inputs, view, doc, file)
    return inputs


def _add(inputs: Inputs, view: ClusterView, doc: dict, file: Path) -> None:
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InputError(f"{file}: a document has no kind")
    meta = doc.get("metadata") or {}
    if not isinstance(meta, dict):
        raise InputError(f"{file}: {kind}: metadata must be an object")
    name = meta.get("name") or ""
    if kind not in CLUSTER_SCOPED and not meta.get("namespace"):
        # kubectl apply puts an object without a namespace into "default".
        doc = {**doc, "metadata": {**meta, "namespace": "default"}}
    namespace = "" if kind in CLUSTER_SCOPED else doc["metadata"]["namespace"]
    try:
        if kind in PROJECTIONS and (kind not in VELERO_KINDS
                                    or str(doc.get("apiVersion", "")).startswith("velero.io/")):
            view.add(kind, [project(kind, doc)])
            view.pods_observed |= kind == "Pod"
            view.nodes_observed |= kind == "Node"
        elif kind in POLICY_SPECS and str(doc.get("apiVersion", "")).startswith("sncguard.io/"):
            where = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
            try:
                spec = parse_policy_spec(kind, doc.get("spec") or {})
            except ValueError as exc:
                raise InputError(f"{file}: {where}: {exc}") from None
            inputs.policies.append(PolicyDocument(kind, namespace, name, spec, str(file),
                                                  int(meta.get("generation") or 0)))
    except UNREADABLE as exc:
        raise InputError(f"{file}: {kind} {name}: malformed object: {exc}") from None
    if namespace and namespace not in view.namespaces:
        # A namespace the input only mentions, as the API server would create it: with its name label.
        view.add("Namespace", [project("Namespace", {"metadata": {"name": namespace}})])
