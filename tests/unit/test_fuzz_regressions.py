"""What tests/unit/test_fuzz_check.py found: each a traceback of `sncguard check` before its fix, in
its minimal form. Each must now end with an exit status (2 and a message for unusable input)."""

from __future__ import annotations

import io
import json

import pytest

from sncguard.cli import main

NOW = ["--now", "2026-11-22T10:00:00Z"]


def check(tmp_path, capsys, name: str, text: str, *args: str) -> tuple[int, str, str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code = main(["check", str(path), "--output", "json", *NOW, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("name", "text"), [
    ("deep.yaml", "[" * 5000 + "]" * 5000),  # RecursionError in PyYAML's composer
    ("deep.json", "[" * 5000 + "]" * 5000),  # RecursionError in json's decoder
    ("deep-key.json", '{"kind": ' + "[" * 5000 + "]" * 5000 + "}"),  # the same, under the line walk
])
def test_nesting_deeper_than_the_parsers_recurse_is_unusable_input(tmp_path, capsys, name, text):
    code, out, err = check(tmp_path, capsys, name, text)
    assert (code, out) == (2, "")
    assert name in err and "nested too deeply" in err


def test_nesting_too_deep_on_standard_input(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO('{"a": ' + "[" * 5000 + "]" * 5000 + "}"))
    assert main(["check", "-", *NOW]) == 2
    assert "<stdin>: not valid YAML: nested too deeply" in capsys.readouterr().err


def test_an_unquoted_date_is_a_string_as_kubectl_reads_it(tmp_path, capsys):
    # Was: "Object of type date is not JSON serializable" (a Namespace named by a YAML date), and
    # "'<' not supported between 'str' and 'datetime.date'" (a namespace named by one).
    code, out, err = check(tmp_path, capsys, "date.yaml", """
apiVersion: v1
kind: Namespace
metadata: {name: 2024-01-01}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: 2024-01-02}
""")
    assert code == 0, err
    assert {r["resource"]["name"] for r in json.loads(out) if r["resource"]["kind"] == "Namespace"} >= {"2024-01-01"}


def test_an_unquoted_backup_timestamp_is_read_like_a_quoted_one(tmp_path, capsys):
    # Was: "'datetime.datetime' object has no attribute 'strip'" in the backup rules.
    text = """
apiVersion: velero.io/v1
kind: Backup
metadata: {name: b1, namespace: openshift-adp}
spec: {includedNamespaces: [shop], storageLocation: default}
status: {phase: Completed, completionTimestamp: %s}
---
apiVersion: sncguard.io/v1alpha1
kind: BackupPolicy
metadata: {name: nightly, namespace: shop}
spec: {}
"""
    unquoted = check(tmp_path, capsys, "a.yaml", text % "2026-11-22T09:00:00Z")
    quoted = check(tmp_path, capsys, "b.yaml", text % "'2026-11-22T09:00:00Z'")
    assert unquoted[0] == quoted[0] == 1
    assert [r["result"] for r in json.loads(unquoted[1])] == [r["result"] for r in json.loads(quoted[1])]
    bk005 = next(r for r in json.loads(unquoted[1]) if r["rule"] == "BK-005")
    assert bk005["result"] == "pass"


def test_a_null_name_is_no_name(tmp_path, capsys):
    # Was: "'<' not supported between instances of 'str' and 'NoneType'" (sorting the namespaces).
    code, _, err = check(tmp_path, capsys, "null.yaml", """
apiVersion: v1
kind: Namespace
metadata: {name: null}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
""")
    assert code == 0, err


@pytest.mark.parametrize(("text", "expected"), [
    # Was: "unhashable type: 'dict'" in the access rules.
    ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\n"
     "roleRef: {kind: ClusterRole, name: {}}\n"
     "---\napiVersion: sncguard.io/v1alpha1\nkind: TenantPolicy\nmetadata: {name: t}\n"
     "spec: {tenant: t, namespaceSelector: {}}\n",
     "ClusterRoleBinding x: malformed object: roleRef.name must be a string, not an object"),
    # Was: "'str' object has no attribute 'get'" in the NetworkPolicy engine.
    ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\n"
     "spec: {ingress: {matchLabels: {}}}\n",
     "NetworkPolicy np: malformed object: spec.ingress must be a list, not an object"),
    # Was: "cannot convert float infinity to integer" (OverflowError, not among the projection errors).
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: .inf}\n",
     "Deployment web: malformed object: cannot convert float infinity to integer"),
    # A number where Kubernetes wants a string name: refused, as kubectl does.
    ("apiVersion: v1\nkind: Namespace\nmetadata: {name: 1}\n",
     "Namespace: metadata.name must be a string, not int"),
    ("apiVersion: v1\nkind: Node\nmetadata: {name: n, labels: {topology.kubernetes.io/zone: 1}}\n",
     "Node n: malformed object: metadata.labels.topology.kubernetes.io/zone must be a string, not a number"),
])
def test_a_wrong_type_where_a_projection_reads_is_unusable_input_naming_the_field(tmp_path, capsys, text, expected):
    code, out, err = check(tmp_path, capsys, "bad.yaml", text)
    assert (code, out) == (2, ""), err
    assert f"bad.yaml: {expected}" in err


@pytest.mark.parametrize("name", ["bad.json", "bad.yaml"])
def test_half_a_surrogate_pair_is_unusable_input(tmp_path, capsys, name):
    # Was: "'utf-8' codec can't encode character '\\ud800'" when writing the report (SARIF, or any
    # output on a UTF-8 standard output).
    text = ('{"kind": "Namespace", "metadata": {"name": "\\ud800"}}' if name.endswith(".json")
            else 'kind: Namespace\nmetadata: {name: "\\ud800"}\n')
    code, out, err = check(tmp_path, capsys, name, text)
    assert (code, out) == (2, "")
    assert "half a UTF-16 surrogate pair" in err
    # A whole pair is one character, and fine.
    code, _, err = check(tmp_path, capsys, "pair.json", '{"kind": "Namespace", "metadata": {"name": "\\ud83d\\ude00"}}')
    assert code == 0, err
