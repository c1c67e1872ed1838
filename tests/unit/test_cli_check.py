"""`sncguard check`: the contract of REQUIREMENTS.md (JSON output, exit codes, --now, baseline)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sncguard.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

GOOD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
           labelSelector: {matchLabels: {app: web}}}
      containers: [{name: web, image: web}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec: {minAvailable: 2, selector: {matchLabels: {app: web}}}
"""


def run(capsys, *args):
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_compliant_manifests_exit_zero_with_the_baseline(tmp_path, capsys):
    (tmp_path / "good.yaml").write_text(GOOD)
    code, out, _ = run(capsys, str(tmp_path), "--output", "json")
    assert code == 0
    results = json.loads(out)
    assert {r["rule"] for r in results} == {"ZS-001", "ZS-002", "ZS-003", "ZS-004", "ZS-005", "ZS-006",
                                            "NET-003", "NET-006"}
    assert all(r["result"] in ("pass", "skip") for r in results)
    # Without Pods and Nodes, placement cannot be judged: skipped, not failed.
    assert next(r for r in results if r["rule"] == "ZS-004")["result"] == "skip"
    assert {r["policy"] for r in results} == {"ZoneSpread/shop/baseline", "TenantPolicy/baseline"}


def test_failures_exit_one_and_json_has_the_contract_fields(capsys):
    code, out, _ = run(capsys, str(EXAMPLES), "--output", "json", "--now", "2026-11-22T10:00:00Z")
    assert code == 1
    results = json.loads(out)
    failing = [r for r in results if r["result"] == "fail"]
    assert failing, "the examples contain a non-compliant Deployment"
    for r in results:
        assert set(r) >= {"rule", "result", "severity", "message", "resource"}
        assert set(r["resource"]) >= {"kind", "namespace", "name"}
    assert {(r["rule"], r["resource"]["name"]) for r in failing} >= {("ZS-001", "api"), ("ZS-002", "api"),
                                                                     ("ZS-006", "api"), ("ZS-005", "api")}
    # The examples' own policies apply, not the baseline, with the operator's rules for every kind.
    assert {r["policy"] for r in results} == {"ZoneSpread/shop/sla", "ZoneSpread/payments/sla", "TenantPolicy/acme",
                                              "BackupPolicy/shop/nightly", "BackupPolicy/payments/nightly"}
    assert ("NET-003", "sftp") in {(r["rule"], r["resource"]["name"]) for r in failing}
    # No Velero objects in the examples: no schedule covers the namespaces, and no target exists.
    assert {("BK-001", "payments"), ("BK-003", "default")} <= {(r["rule"], r["resource"]["name"]) for r in failing}
    # Most severe first.
    assert results[0]["result"] == "fail"


def test_text_output_and_french(capsys):
    code, out, _ = run(capsys, str(EXAMPLES), "--language", "fr")
    assert code == 1
    assert "ZS-001" in out and "Deployment/shop/api" in out
    assert "résultats" in out


@pytest.mark.parametrize(("content", "expected"), [
    ("a: [unclosed", "not valid YAML"),
    ("apiVersion: sncguard.io/v1alpha1\nkind: ZoneSpread\nmetadata: {name: x, namespace: y}\nspec: {minZones: 1}",
     "spec.minZones"),
])
def test_unusable_input_exits_two_naming_the_file(tmp_path, capsys, content, expected):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    code, out, err = run(capsys, str(bad))
    assert code == 2 and out == ""
    assert str(bad) in err and expected in err and "Traceback" not in err


def test_bad_now_exits_two(tmp_path, capsys):
    (tmp_path / "good.yaml").write_text(GOOD)
    code, _, err = run(capsys, str(tmp_path), "--now", "yesterday")
    assert code == 2 and "RFC 3339" in err


def test_the_console_script_runs_without_a_traceback(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("- [")
    proc = subprocess.run([sys.executable, "-m", "sncguard.cli", "check", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and str(bad) in proc.stderr


def test_crds_command_prints_three_crds(capsys):
    assert main(["crds"]) == 0
    out = capsys.readouterr().out
    assert out.count("kind: CustomResourceDefinition") == 3


def test_the_baseline_also_forbids_ssh_on_the_internet_and_cleartext(tmp_path, capsys):
    (tmp_path / "svc.yaml").write_text("""
apiVersion: v1
kind: Service
metadata: {name: bastion, namespace: ops}
spec: {type: LoadBalancer, ports: [{port: 22, targetPort: 22}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ops}
spec: {type: NodePort, ports: [{port: 80, targetPort: 8080}]}
""")
    code, out, _ = run(capsys, str(tmp_path), "--output", "json")
    assert code == 1
    failing = {(r["rule"], r["resource"]["name"]) for r in json.loads(out) if r["result"] == "fail"}
    assert failing == {("NET-003", "bastion"), ("NET-006", "web")}
    assert {r["policy"] for r in json.loads(out)} == {"TenantPolicy/baseline"}


def test_a_tenant_selected_by_the_namespace_name_label_covers_namespaces_the_input_only_mentions(tmp_path, capsys):
    """No Namespace object in the input: the namespace is inferred as the API server would create
    it, with `kubernetes.io/metadata.name`, so a TenantPolicy selecting by that label covers it and
    an SSH LoadBalancer there fails NET-003 instead of passing."""
    (tmp_path / "tenant.yaml").write_text("""
apiVersion: sncguard.io/v1alpha1
kind: TenantPolicy
metadata: {name: acme}
spec:
  tenant: acme
  namespaceSelector:
    matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [shop]}]
---
apiVersion: v1
kind: Service
metadata: {name: sftp, namespace: shop}
spec: {type: LoadBalancer, selector: {app: sftp}, ports: [{port: 22}]}
""")
    code, out, _ = run(capsys, str(tmp_path), "--output", "json", "--now", "2026-11-28T10:00:00Z")
    failing = {(f["rule"], f["resource"]["name"]) for f in json.loads(out) if f["result"] == "fail"}
    assert ("NET-003", "sftp") in failing
    assert code == 1
