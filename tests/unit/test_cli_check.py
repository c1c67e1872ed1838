"""`sncguard check`: the contract of REQUIREMENTS.md (JSON output, exit codes, --now, baseline)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sncguard.cli import main
from sncguard.rules.catalogue import CATALOGUE
from sncguard.rules.registry import CATEGORIES

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

# A tenant of one namespace, selected by the name label the API server sets on every namespace.
SHOP_TENANT = """apiVersion: sncguard.io/v1alpha1
kind: TenantPolicy
metadata: {name: acme}
spec:
  tenant: acme
  namespaceSelector:
    matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [shop]}]
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


def test_italian_is_a_language_of_the_catalogues_alone(capsys):
    """`--language it` on the examples: the same findings as in English, findings of every rule family among
    them; each one's rule titled and its message worded in Italian, and printed; the summary line too."""
    now = ("--now", "2026-11-22T10:00:00Z")
    _, out, _ = run(capsys, str(EXAMPLES), "--output", "json", *now)
    english = json.loads(out)
    code, out, _ = run(capsys, str(EXAMPLES), "--output", "json", "--language", "it", *now)
    italian = json.loads(out)
    assert code == 1

    def key(f):
        return f["rule"], f["result"], f["resource"], f.get("field")

    assert [key(f) for f in italian] == [key(f) for f in english]
    by_family: dict[str, list[tuple[dict, dict]]] = {}
    for en, it in zip(english, italian, strict=True):
        by_family.setdefault(en["category"], []).append((en, it))
    assert set(by_family) == set(CATEGORIES), "the examples hold a finding of every family"

    _, out, _ = run(capsys, str(EXAMPLES), "--output", "sarif", "--language", "it", *now)
    (sarif_run,) = json.loads(out)["runs"]
    assert sarif_run["language"] == "it"
    titles = {r["id"]: r["shortDescription"]["text"] for r in sarif_run["tool"]["driver"]["rules"]}
    code, text, _ = run(capsys, str(EXAMPLES), "--verbose", "--language", "it", *now)
    assert code == 1
    for family, pairs in sorted(by_family.items()):
        for en, _ in pairs:
            info = CATALOGUE[en["rule"]]
            assert titles[info.id] == info.title_in("it") not in (info.title, info.title_in("fr")), (family, info.id)
        for en, it in pairs:
            assert it["message"] != en["message"], (family, en["message"])
            assert it["message"] in text
    summary = text.splitlines()[-1]
    assert re.fullmatch(r"\d+ risultati da 5 policy: \d+ non conformi, \d+ avvisi, \d+ conformi, \d+ non valutati",
                        summary), summary


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
    (tmp_path / "tenant.yaml").write_text(SHOP_TENANT + """---
apiVersion: v1
kind: Service
metadata: {name: sftp, namespace: shop}
spec: {type: LoadBalancer, selector: {app: sftp}, ports: [{port: 22}]}
""")
    code, out, _ = run(capsys, str(tmp_path), "--output", "json", "--now", "2026-11-28T10:00:00Z")
    failing = {(f["rule"], f["resource"]["name"]) for f in json.loads(out) if f["result"] == "fail"}
    assert ("NET-003", "sftp") in failing
    assert code == 1


# --------------------------------------------------------------------------- CI use

ONE_REPLICA = """apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template: {metadata: {labels: {app: api}}, spec: {containers: [{name: api, image: api}]}}
"""


def check_process(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "sncguard.cli", "check", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_standard_input_as_a_path(name):
    """`kubectl kustomize deploy/ | sncguard check -`: the stdin document is named <stdin>."""
    proc = check_process(name, "--output", "json", stdin=GOOD + "---\n" + ONE_REPLICA)
    assert proc.returncode == 1, proc.stderr
    failing = [f for f in json.loads(proc.stdout) if f["result"] == "fail"]
    assert {(f["rule"], f["resource"]["namespace"], f["resource"]["name"]) for f in failing} >= {
        ("ZS-001", "default", "api")}
    assert {f["source"]["file"] for f in failing} == {"<stdin>"}
    bad = check_process(name, stdin="a: [unclosed")
    assert bad.returncode == 2 and "<stdin>: not valid YAML" in bad.stderr and "Traceback" not in bad.stderr


def test_standard_input_also_takes_kubectl_json():
    dump = json.dumps({"apiVersion": "v1", "kind": "List", "items": [yaml_doc(ONE_REPLICA)]}, indent=2)
    proc = check_process("-", "-o", "json", stdin=dump)
    assert proc.returncode == 1, proc.stderr
    sources = {f["source"]["line"] for f in json.loads(proc.stdout) if f["resource"]["name"] == "api"}
    assert sources == {5}  # the item's brace, in `kubectl get -o json` layout


def yaml_doc(text):
    import yaml

    return yaml.safe_load(text)


def test_namespace_for_objects_without_one(tmp_path, capsys):
    """`helm template` output names no namespace: --namespace puts it where `kubectl apply -n` would."""
    (tmp_path / "d.yaml").write_text(ONE_REPLICA)
    code, out, _ = run(capsys, str(tmp_path), "--output", "json", "--namespace", "payments")
    assert code == 1
    results = json.loads(out)
    assert {r["resource"]["namespace"] for r in results if r["resource"]["kind"] == "Deployment"} == {"payments"}
    assert {r["policy"] for r in results if r["rule"].startswith("ZS-")} == {"ZoneSpread/payments/baseline"}
    code, out, _ = run(capsys, str(tmp_path), "--output", "json")
    assert {r["resource"]["namespace"] for r in json.loads(out) if r["resource"]["kind"] == "Deployment"} == {"default"}
    with pytest.raises(SystemExit):
        main(["check", str(tmp_path), "--namespace", "Not_A_Namespace"])
    assert "not a namespace name" in capsys.readouterr().err


def many(template: str, count: int) -> str:
    return "".join("---\n" + template.replace("api", f"api{i}").replace("web", f"web{i}") for i in range(count))


@pytest.mark.parametrize(("manifest", "args", "expected"), [
    (ONE_REPLICA, ["--output", "json"], 1),   # failures: 1, even with nobody reading
    (GOOD, ["--verbose"], 0),                 # passes and skips only: 0
])
def test_a_closed_pipe_ends_quietly_with_the_findings_exit_status(tmp_path, manifest, args, expected):
    """`sncguard check ... | head -1`: far more output than a pipe holds, the reader leaves after
    one line; no BrokenPipeError traceback, no 'Exception ignored', the status the findings deserve."""
    (tmp_path / "many.yaml").write_text(many(manifest, 600))
    proc = subprocess.Popen([sys.executable, "-m", "sncguard.cli", "check", str(tmp_path), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert first.strip()
    assert err == b""
    assert code == expected


MULTI_DOCUMENT = """# A multi-document file: the Deployment starts on line 12.
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: other, namespace: shop}
spec: {minAvailable: 1, selector: {matchLabels: {app: other}}}
---
# the api
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template: {metadata: {labels: {app: api}}, spec: {containers: [{name: api, image: api}]}}
"""


def test_json_findings_name_the_file_and_line_of_their_object(tmp_path, capsys):
    manifest = tmp_path / "all.yaml"
    manifest.write_text(MULTI_DOCUMENT)
    code, out, _ = run(capsys, str(manifest), "--output", "json")
    assert code == 1
    about_api = [r for r in json.loads(out) if r["resource"]["name"] == "api"]
    assert {r["rule"] for r in about_api} >= {"ZS-001", "ZS-002", "ZS-005"}
    assert all(r["source"] == {"file": str(manifest), "line": 12} for r in about_api)


def test_a_finding_about_an_object_not_in_the_input_has_no_source(tmp_path, capsys):
    """The tenant's namespace is only mentioned (inferred): NET-001 about it has no source; the
    Service's finding points at its document, in a JSON `List` too."""
    (tmp_path / "tenant.yaml").write_text(SHOP_TENANT)
    (tmp_path / "svc.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "sftp", "namespace": "shop"},
         "spec": {"type": "LoadBalancer", "ports": [{"port": 22}]}}]}, indent=2))
    code, out, _ = run(capsys, str(tmp_path), "--output", "json", "--now", "2026-11-28T10:00:00Z")
    assert code == 1
    results = json.loads(out)
    inferred = next(r for r in results if r["rule"] == "NET-001")
    assert inferred["resource"] == {"kind": "Namespace", "namespace": "", "name": "shop", "apiVersion": "v1"}
    assert "source" not in inferred
    sftp = next(r for r in results if r["rule"] == "NET-003")
    assert sftp["source"] == {"file": str(tmp_path / "svc.json"), "line": 5}


def test_the_examples_point_at_their_documents(capsys):
    _, out, _ = run(capsys, str(EXAMPLES), "--output", "json", "--now", "2026-11-22T10:00:00Z")
    results = json.loads(out)
    sftp = next(r for r in results if r["rule"] == "NET-003")
    assert sftp["source"] == {"file": str(EXAMPLES / "20-tenantpolicy-acme.yaml"), "line": 36}
    assert (EXAMPLES / "20-tenantpolicy-acme.yaml").read_text().splitlines()[35] == "apiVersion: v1"


BROKEN_ZONESPREAD = """apiVersion: sncguard.io/v1alpha1
kind: ZoneSpread
metadata: {name: broken, namespace: payments}
spec: {minZones: 1}
"""


def test_a_bad_policy_is_reported_and_the_others_still_run(tmp_path, capsys):
    """Its spec fails validation: named on stderr with file, line, policy and problem; every other
    policy is evaluated, the JSON output keeps its shape, and the status is 1."""
    (tmp_path / "a-good.yaml").write_text(GOOD + "---\n" + """apiVersion: sncguard.io/v1alpha1
kind: ZoneSpread
metadata: {name: sla, namespace: shop}
spec: {minZones: 2}
""")
    bad = tmp_path / "b-bad.yaml"
    bad.write_text("---\n" + BROKEN_ZONESPREAD)
    code, out, err = run(capsys, str(tmp_path), "--output", "json")
    assert code == 1
    assert f"{bad}:2: ZoneSpread payments/broken: spec.minZones" in err and "Traceback" not in err
    results = json.loads(out)
    assert isinstance(results, list) and results
    assert {r["policy"] for r in results if r["rule"].startswith("ZS-")} == {"ZoneSpread/shop/sla"}
    assert all(r["result"] in ("pass", "skip") for r in results)  # nothing fails: the status is the error's


def test_a_bad_policy_does_not_bring_the_baseline_back(tmp_path, capsys):
    (tmp_path / "d.yaml").write_text(ONE_REPLICA + "---\n" + BROKEN_ZONESPREAD)
    code, out, err = run(capsys, str(tmp_path), "--output", "json")
    assert code == 1 and "payments/broken" in err
    assert not [r for r in json.loads(out) if r["rule"].startswith("ZS-")]


def test_nothing_usable_exits_two(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text(BROKEN_ZONESPREAD + "---\n" + BROKEN_ZONESPREAD.replace("broken", "other"))
    code, out, err = run(capsys, str(tmp_path), "--output", "json")
    assert code == 2 and out == ""
    assert "payments/broken" in err and "payments/other" in err and "nothing evaluated" in err


def test_the_pre_commit_hook_runs_the_check_on_manifests():
    import re

    import yaml

    (hook,) = yaml.safe_load((EXAMPLES.parent / ".pre-commit-hooks.yaml").read_text())
    assert (hook["id"], hook["entry"], hook["language"]) == ("sncguard-check", "sncguard check", "python")
    files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])
    assert all(files.search(p) for p in ("deploy/a.yaml", "b.yml", "dump.json"))
    assert not any(files.search(p) for p in ("README.md", "main.py"))
    assert all(exclude.search(p) for p in (".pre-commit-config.yaml", ".github/workflows/ci.yml"))
    assert not exclude.search("deploy/a.yaml")
