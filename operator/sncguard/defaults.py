"""The API server's defaulting, for the fields the projections read.

A body read from the API has been defaulted by the server; a manifest read offline has not. Both go
through `apply_defaults` before they are projected, so a field the server fills in (a Deployment's
replicas, a Service's type and targetPort, a NetworkPolicy's policyTypes, a port's protocol, the
namespace name label) means the same thing on both paths. Applying it to an already defaulted body
changes nothing. The engine also defaults what it plans before comparing it with the owned object
the cluster holds (a binding's apiGroups), so a default is never taken for drift.

Each entry mirrors Kubernetes' own defaulting (pkg/apis/*/v1/defaults.go and the namespace
strategy), limited to what some projection reads. The input is never mutated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

Obj = Mapping[str, Any]


# Copy-on-write throughout: a body the API server already defaulted (every body the informers see,
# thousands of pods) comes back as the same object, uncopied.

def _with(obj: Obj, key: str, value: Any) -> Obj:
    return obj if obj.get(key) is value else {**obj, key: value}


def _each(items: Any, default: Callable[[Obj], Obj]) -> Any:
    if not isinstance(items, list):
        return items
    out = [default(i) if isinstance(i, Mapping) else i for i in items]
    return items if all(a is b for a, b in zip(out, items, strict=True)) else out


def _protocol(port: Obj) -> Obj:
    return port if port.get("protocol") else _with(port, "protocol", "TCP")


def _container(container: Obj) -> Obj:
    return _with(container, "ports", _each(container.get("ports"), _protocol)) if "ports" in container else container


def _pod_spec(spec: Any) -> Any:
    if not isinstance(spec, Mapping):
        return spec
    for key in ("initContainers", "containers"):
        if key in spec:
            spec = _with(spec, key, _each(spec[key], _container))
    return spec


def _namespace(body: Obj) -> Obj:
    meta = body.get("metadata") or {}
    name = meta.get("name")
    labels = meta.get("labels") or {}
    if not name or labels.get(NAMESPACE_NAME_LABEL) == name:
        return body
    # Set by the API server on every namespace, and kept in step with the name.
    return _with(body, "metadata", {**meta, "labels": {**labels, NAMESPACE_NAME_LABEL: name}})


def _pod(body: Obj) -> Obj:
    return _with(body, "spec", _pod_spec(body["spec"])) if isinstance(body.get("spec"), Mapping) else body


def _replicated(body: Obj) -> Obj:
    spec = body.get("spec") if isinstance(body.get("spec"), Mapping) else {}
    if spec.get("replicas") is None:
        spec = {**spec, "replicas": 1}
    template = spec.get("template")
    if isinstance(template, Mapping) and isinstance(template.get("spec"), Mapping):
        spec = _with(spec, "template", _with(template, "spec", _pod_spec(template["spec"])))
    return _with(body, "spec", spec)


def _service_port(port: Obj) -> Obj:
    port = _protocol(port)
    if port.get("targetPort") in (None, 0, "") and port.get("port") is not None:
        port = {**port, "targetPort": port["port"]}
    return port


def _service(body: Obj) -> Obj:
    spec = body.get("spec") if isinstance(body.get("spec"), Mapping) else {}
    if not spec.get("type"):
        spec = {**spec, "type": "ClusterIP"}
    if "ports" in spec:
        spec = _with(spec, "ports", _each(spec["ports"], _service_port))
    return _with(body, "spec", spec)


def _rule(rule: Obj) -> Obj:
    return _with(rule, "ports", _each(rule.get("ports"), _protocol)) if "ports" in rule else rule


def _network_policy(body: Obj) -> Obj:
    spec = body.get("spec") if isinstance(body.get("spec"), Mapping) else {}
    if not spec.get("policyTypes"):
        # Ingress always; Egress when the policy has egress rules.
        spec = {**spec, "policyTypes": ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]}
    for direction in ("ingress", "egress"):
        if direction in spec:
            spec = _with(spec, direction, _each(spec[direction], _rule))
    return _with(body, "spec", spec)


RBAC_GROUP = "rbac.authorization.k8s.io"


def _subject(subject: Obj) -> Obj:
    if subject.get("apiGroup") or subject.get("kind") not in ("User", "Group"):
        return subject
    return {**subject, "apiGroup": RBAC_GROUP}


def _binding(body: Obj) -> Obj:
    ref = body.get("roleRef")
    if isinstance(ref, Mapping) and not ref.get("apiGroup"):
        body = {**body, "roleRef": {**ref, "apiGroup": RBAC_GROUP}}
    return _with(body, "subjects", _each(body["subjects"], _subject)) if "subjects" in body else body


DEFAULTERS: dict[str, Callable[[Obj], Obj]] = {
    "Namespace": _namespace,
    "Pod": _pod,
    "Deployment": _replicated,
    "StatefulSet": _replicated,
    "Service": _service,
    "NetworkPolicy": _network_policy,
    "RoleBinding": _binding,
    "ClusterRoleBinding": _binding,
}


def apply_defaults(kind: str, body: Obj) -> Obj:
    """`body` as the API server holds it after defaulting: the same object when nothing was missing,
    else a copy of just the parts that change (the input is never mutated)."""
    defaulter = DEFAULTERS.get(kind)
    return body if defaulter is None else defaulter(body)
