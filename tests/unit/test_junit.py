"""`sncguard check --output junit`: one testsuite per policy, one testcase per finding, as GitLab's
and GitHub's JUnit readers take it."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sncguard.check import CheckReport
from sncguard.cli import main
from sncguard.findings import Finding, ResourceRef, Result
from sncguard.i18n import LANGUAGES, msg
from sncguard.junit import render
from sncguard.loader import PolicyDocument, PolicyError, Source
from sncguard.rules.catalogue import rule

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-22T10:00:00Z"


def junit_of(capsys, *args):
    code = main(["check", *args, "--output", "junit", "--now", NOW])
    out, err = capsys.readouterr()
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return code, ET.fromstring(out.encode()), err


def test_the_examples_one_suite_per_policy_one_case_per_finding(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, root, _ = junit_of(capsys, "examples")
    assert code == 1
    main(["check", "examples", "--output", "json", "--now", NOW])
    findings = json.loads(capsys.readouterr().out)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert {s.get("name") for s in suites} == {f["policy"] for f in findings}
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(findings) == int(root.get("tests"))
    failing = [f for f in findings if f["result"] == "fail"]
    assert len(root.findall("testsuite/testcase/failure")) == len(failing) == int(root.get("failures"))
    assert len(root.findall("testsuite/testcase/skipped")) == int(root.get("skipped")) == sum(
        f["result"] == "skip" for f in findings)
    assert root.get("errors") == "0"
    for suite in suites:
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
    sla = next(s for s in suites if s.get("name") == "ZoneSpread/shop/sla")
    assert sla.get("file") == "examples/10-zonespread-shop.yaml"
    case = next(c for c in sla.findall("testcase") if c.get("name").startswith("ZS-001 Deployment/shop/api"))
    assert case.get("classname") == "ZoneSpread/shop/sla"
    assert (case.get("file"), case.get("line")) == ("examples/10-zonespread-shop.yaml", "33")
    failure = case.find("failure")
    assert failure.get("type") == "ZS-001 high"
    assert "minZones" in failure.get("message")
    assert "at: examples/10-zonespread-shop.yaml:33" in failure.text and "requirements: R1, R4" in failure.text


def test_french_messages(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    _, root, _ = junit_of(capsys, "examples", "--language", "fr")
    messages = [f.get("message") for f in root.iter("failure")]
    assert any("réplica" in m for m in messages)


def test_italian_details(capsys, monkeypatch):
    """The labels of a failure's details and its rule's title come from the Italian catalogue."""
    monkeypatch.chdir(ROOT)
    _, root, _ = junit_of(capsys, "examples", "--language", "it")
    case = next(c for c in root.iter("testcase") if c.get("name").startswith("ZS-001 Deployment/shop/api"))
    details = case.find("failure").text.splitlines()
    title = rule("ZS-001").title_in("it")
    assert title not in (rule("ZS-001").title, rule("ZS-001").title_in("fr"))
    assert details[1:] == [f"regola: ZS-001 (high) {title}", "oggetto: Deployment/shop/api", "campo: spec.replicas",
                           "requisiti: R1, R4", "posizione: examples/10-zonespread-shop.yaml:33"]


def made(rule_id, result, name, message="en"):
    return Finding(rule(rule_id), result, ResourceRef("Pod", "shop", name, "v1"), msg(message), "spec.nodeName",
                   "TenantPolicy/acme")


def test_every_result_and_an_unusable_policy(tmp_path):
    report = CheckReport(
        findings=[made("LOC-001", Result.FAIL, "a"), made("LOC-001", Result.WARN, "b", "bound to a ghost"),
                  made("LOC-001", Result.SKIP, "c", "no nodes"), made("LOC-001", Result.PASS, "d"),
                  made("LOC-001", Result.FAIL, "e", "bad \x00 char & <tags>")],
        policies=[PolicyDocument("TenantPolicy", "", "acme", None, str(tmp_path / "t.yaml"))],
        errors=[PolicyError(str(tmp_path / "z.yaml"), 4, "ZoneSpread", "shop", "sla", "spec.minZones: too small")],
        sources={("Pod", "shop", "a"): Source(str(tmp_path / "pods.yaml"), 7),
                 ("Pod", "shop", "b"): Source("<stdin>", 3),
                 ("TenantPolicy", "", "acme"): Source(str(tmp_path / "t.yaml"), 1)},
    )
    root = ET.fromstring(render(report, "en", base=tmp_path).encode())
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("6", "2", "1", "1")
    tenant, broken = root.findall("testsuite")
    assert tenant.get("name") == "TenantPolicy/acme" and tenant.get("file") == "t.yaml"
    cases = {c.get("name").split()[1]: c for c in tenant.findall("testcase")}
    assert cases["Pod/shop/a"].find("failure") is not None
    assert (cases["Pod/shop/a"].get("file"), cases["Pod/shop/a"].get("line")) == ("pods.yaml", "7")
    warned = cases["Pod/shop/b"]
    assert warned.find("failure") is None and warned.find("skipped") is None
    assert warned.find("system-out").text.startswith("WARN critical: bound to a ghost")
    assert warned.get("file") is None  # standard input: no file to link
    assert cases["Pod/shop/c"].find("skipped").get("message") == "no nodes"
    assert list(cases["Pod/shop/d"]) == []
    assert cases["Pod/shop/e"].find("failure").get("message") == "bad \ufffd char & <tags>"
    assert broken.get("name") == "ZoneSpread/shop/sla" and broken.get("errors") == "1"
    (error_case,) = broken.findall("testcase")
    assert (error_case.get("file"), error_case.get("line")) == ("z.yaml", "4")
    error = error_case.find("error")
    assert error.get("message") == "spec.minZones: too small" and "policy not evaluated" in error.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_bad_policy_file_through_the_command(tmp_path, monkeypatch, capsys, language):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "zs.yaml").write_text("apiVersion: sncguard.io/v1alpha1\nkind: ZoneSpread\n"
                                      "metadata: {name: sla, namespace: shop}\nspec: {minZones: 1}\n---\n"
                                      "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
                                      "spec: {type: NodePort, ports: [{port: 80}]}\n")
    code, root, err = junit_of(capsys, ".", "--language", language)
    assert code == 1 and "zs.yaml:1: ZoneSpread shop/sla" in err
    assert root.get("errors") == "1"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert suites["ZoneSpread/shop/sla"].find("testcase/error") is not None
    assert suites["TenantPolicy/baseline"].find("testcase/failure") is not None  # NET-006 on port 80
