"""Property-based tests of the three policy kinds through the real API server and the running operator.

Hypothesis draws specs (tests/unit/fuzz_strategies.py): valid-leaning ones derived from the CRD
schema, and hostile ones (wrong types, out-of-range numbers, bad durations and CIDRs, unknown
fields, huge strings, deep nesting, empty selectors, unicode). Each is created in the test's
namespace (a TenantPolicy cluster-wide), then maybe replaced by a second one, and must end one of
three ways:

- refused by the API server: 422 Invalid with a message that names the field (schema or CEL), or
  with fieldValidation=Strict (kubectl's default) 400 "strict decoding error: unknown field ...";
- accepted, then `Ready=False`, reason `InvalidSpec`, a message naming the field (what the schema
  lets through but the models refuse: a zero duration, a label key, a CIDR the CEL rule admits);
- accepted and evaluated: `Ready=True`, reason `Evaluated`, with a summary.

Whatever is accepted gets a status with `observedGeneration == metadata.generation` within
STATUS_WAIT seconds, Ready if and only if the pydantic model accepts the spec as stored; the
operator stays alive and logs no traceback. Each object is deleted after its example.
SNCGUARD_FUZZ_EXAMPLES sets the number of examples per kind (default 60).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sncguard.loader import parse_policy_spec

from .helpers import load_module, reference, wait_for

fuzz = load_module("sncguard_fuzz_strategies", "tests/unit/fuzz_strategies.py")

EXAMPLES = fuzz.examples(60)
STATUS_WAIT = 30.0
API = "/apis/sncguard.io/v1alpha1"
PLURALS = {"ZoneSpread": "zonespreads", "TenantPolicy": "tenantpolicies", "BackupPolicy": "backuppolicies"}
OUTCOMES: Counter = Counter()


@pytest.fixture(scope="module")
def velero_installed(cluster, crds) -> bool:
    """Velero's own CRDs, so that BackupPolicies are evaluated, not only told Velero is missing."""
    try:
        folder = reference.velero_crds()
    except reference.ReferenceMissing:
        return False
    cluster.kubectl("apply", "--server-side", "-f", str(folder))
    cluster.kubectl("wait", "--for", "condition=established", "--timeout=60s", "-f", str(folder))
    return True


def _path(kind: str, namespace: str, name: str = "") -> str:
    where = "" if kind == "TenantPolicy" else f"/namespaces/{namespace}"
    return f"{API}{where}/{PLURALS[kind]}" + (f"/{name}" if name else "")


def _scoped(kind: str, spec: Any, namespace: str) -> Any:
    """An Enforce TenantPolicy writes NetworkPolicies and RoleBindings into every namespace it
    selects: keep it to the test's namespace, so that no other test's namespace is touched."""
    if kind == "TenantPolicy" and isinstance(spec, dict) and spec.get("mode") == "Enforce":
        spec = {**spec, "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    return spec


def _ready(status: dict) -> dict | None:
    return next((c for c in status.get("conditions") or () if isinstance(c, dict) and c.get("type") == "Ready"), None)


def _settled(api, path: str) -> dict:
    """The object once its status reports its current generation (Ready condition included)."""
    def done():
        code, body = api.request("GET", path)
        assert code == 200, (code, body)
        status = body.get("status") or {}
        ready = _ready(status)
        generation = body["metadata"]["generation"]
        return body if (status.get("observedGeneration") == generation and ready is not None
                        and ready.get("observedGeneration") == generation) else None
    return wait_for(done, timeout=STATUS_WAIT, interval=0.1,
                    message=lambda: f"a status for generation of {path}: {api.request('GET', path)[1]}")


def _check_refusal(code: int, body: Any, spec: Any, validation: str) -> None:
    message = (body.get("message") or "") if isinstance(body, dict) else ""
    if code == 400 and validation == "Strict" and "strict decoding error: unknown field" in message:
        # fieldValidation=Strict (kubectl's default) refuses unknown fields before the schema,
        # as a BadRequest naming them.
        OUTCOMES["refused"] += 1
        event("refused by the API server (unknown field)")
        return
    assert code == 422, f"the API server answered {code} to {spec!r:.2000}: {body!r:.2000}"
    assert isinstance(body, dict) and body.get("kind") == "Status" and body.get("reason") == "Invalid", body
    assert "spec" in message or "metadata" in message, f"a refusal that names no field: {message}"
    OUTCOMES["refused"] += 1
    event("refused by the API server")


def _check_verdict(kind: str, body: dict, velero: bool) -> None:
    status = body["status"]
    ready = _ready(status)
    spec = body.get("spec")
    try:
        parse_policy_spec(kind, spec)
        valid, problem = True, ""
    except ValueError as exc:
        valid, problem = False, str(exc)
    if ready["status"] == "True":
        assert valid, f"evaluated a spec the model refuses ({problem}): {spec!r:.2000}"
        assert ready["reason"] == "Evaluated"
        assert set(status.get("summary") or {}) >= {"pass", "fail", "warn", "skip"}, status
        OUTCOMES["evaluated"] += 1
        event("accepted and evaluated")
        return
    assert ready["status"] == "False", ready
    if ready["reason"] == "VeleroNotInstalled" and kind == "BackupPolicy" and not velero and valid:
        OUTCOMES["velero missing"] += 1
        return
    assert ready["reason"] == "InvalidSpec", ready
    assert not valid, f"InvalidSpec for a spec the model accepts: {ready['message']}: {spec!r:.2000}"
    assert "spec" in ready["message"], f"InvalidSpec that names no field: {ready['message']}"
    OUTCOMES["invalid spec"] += 1
    event("accepted, then InvalidSpec")


def _spec_strategy(kind: str) -> st.SearchStrategy:
    # 100,000 characters at most (etcd takes 1.5 MB a value), 200 levels at most.
    return fuzz.any_spec(kind, max_deep=200, max_huge=100_000)


@pytest.mark.parametrize("kind", sorted(PLURALS))
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example,
                                 HealthCheck.filter_too_much])
@given(data=st.data())
def test_policies_are_refused_judged_invalid_or_evaluated(cluster, crds, live_operator, velero_installed,
                                                          namespace, kind, data):
    api = cluster.api()
    specs = data.draw(st.lists(_spec_strategy(kind), min_size=1, max_size=2), label="specs")
    validation = data.draw(st.sampled_from(["Strict", "Warn", "Ignore"]), label="fieldValidation")
    name = f"fz-{uuid.uuid4().hex[:12]}"
    log_start = len(live_operator.log_text())
    obj = {"apiVersion": "sncguard.io/v1alpha1", "kind": kind,
           "metadata": {"name": name, **({} if kind == "TenantPolicy" else {"namespace": namespace})},
           "spec": _scoped(kind, specs[0], namespace)}
    code, body = api.request("POST", f"{_path(kind, namespace)}?fieldValidation={validation}", obj)
    try:
        if code not in (200, 201):
            _check_refusal(code, body, obj["spec"], validation)
            return
        path = _path(kind, namespace, name)
        _check_verdict(kind, _settled(api, path), velero_installed)
        for spec in specs[1:]:
            # An edit: a new generation, refused or judged again.
            patch = [{"op": "replace", "path": "/spec", "value": _scoped(kind, spec, namespace)}]
            code, body = api.request("PATCH", f"{path}?fieldValidation={validation}", patch,
                                     content_type="application/json-patch+json")
            if code != 200:
                _check_refusal(code, body, spec, validation)
                continue
            _check_verdict(kind, _settled(api, path), velero_installed)
    finally:
        api.request("DELETE", _path(kind, namespace, name))
        assert live_operator.alive(), f"the operator died:\n{live_operator.log_tail()}"
        log = live_operator.log_text()[log_start:]
        assert "Traceback" not in log, f"the operator logged a traceback:\n{log[-4000:]}"


def test_fuzz_outcomes_were_all_seen(live_operator):
    """After the three kinds (pytest runs this file in order): the strategies reached each outcome,
    so none of the properties above held vacuously."""
    if sum(OUTCOMES.values()) < 30:
        pytest.skip(f"too few examples to judge: {dict(OUTCOMES)}")
    assert OUTCOMES["refused"] and OUTCOMES["evaluated"] and OUTCOMES["invalid spec"], dict(OUTCOMES)
    time.sleep(1)  # a last status write, after the last delete, must not crash the operator either
    assert live_operator.alive(), live_operator.log_tail()
