"""hack/bench/peers.py: the side-by-side with checkov and the Kyverno CLI, its pure parts (no peer is run)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from hack_modules import load

REPO = Path(__file__).resolve().parents[2]


peers = load("bench_peers", "hack/bench/peers.py")


def done(argv, returncode=0, stdout="", stderr=""):
    return subprocess.CompletedProcess(argv, returncode, stdout, stderr)


def test_the_ratio_is_sncguard_speed_over_the_peer_speed():
    assert peers.ratio(5000.0, 250.0) == 20.0
    assert peers.ratio(5000.0, 3000.0) == 1.7
    assert peers.ratio(None, 250.0) is None
    assert peers.ratio(5000.0, None) is None
    assert peers.ratio(5000.0, 0.0) is None


def test_checkov_failed_checks_come_from_the_summary_of_each_report():
    one = {"check_type": "kubernetes", "results": {"failed_checks": [{}, {}]},
           "summary": {"passed": 10, "failed": 499, "skipped": 0, "resource_count": 74}}
    assert peers.checkov_failed(json.dumps(one)) == 499
    assert peers.checkov_failed(json.dumps([one, {"check_type": "secrets", "summary": {"failed": 1}}])) == 500
    assert peers.checkov_failed(json.dumps({"passed": 0, "failed": 0, "summary": {}})) == 0
    with pytest.raises(ValueError):
        peers.checkov_failed("not json")


def test_kyverno_failed_checks_come_from_its_closing_summary_line():
    out = ("Applying 4 policy rule(s) to 63 resource(s)...\n"
           "policy zs-001-replicas -> resource t00-ns00/Deployment/one failed:\n"
           "1 - at-least-two-replicas fewer than 2 replicas\n\n"
           "pass: 21, fail: 4, warn: 0, error: 0, skip: 9 \n")
    assert peers.kyverno_failed(out) == 4
    with pytest.raises(ValueError):
        peers.kyverno_failed("Error: failed to load policies\n")


def test_a_peer_that_cannot_be_installed_is_unavailable_with_the_reason():
    def run(argv, **_):
        return done(argv, 4, "", "go: downloading ...\npeers.sh: the Go module proxy did not serve kyverno v1.19.1\n")

    exe, reason = peers.install("kyverno", run=run)
    assert exe is None and "exit 4" in reason and "did not serve kyverno" in reason

    def missing(argv, **_):
        raise FileNotFoundError("bash")

    assert peers.install("checkov", run=missing)[0] is None


def test_an_installed_peer_is_the_last_line_the_installer_prints():
    assert peers.install("checkov", run=lambda argv, **_: done(argv, 0, "/x/checkov\n")) == ("/x/checkov", None)


def test_measure_times_the_whole_process_and_reads_its_failures(tmp_path):
    ticks = iter([10.0, 12.5])
    report = json.dumps({"check_type": "kubernetes", "summary": {"failed": 7}})
    figures = peers.measure("checkov", "/x/checkov", tmp_path, 10_000, run=lambda argv, **_: done(argv, 1, report),
                            clock=lambda: next(ticks))
    assert figures["status"] == "ok"
    assert (figures["seconds"], figures["objects_per_s"], figures["failed_checks"]) == (2.5, 4000.0, 7)
    assert figures["exit_code"] == 1 and figures["command"].startswith("checkov -d ")


def test_a_peer_whose_output_cannot_be_read_or_that_cannot_start_is_unavailable(tmp_path):
    bad = peers.measure("kyverno", "/x/kubectl-kyverno", tmp_path, 10,
                        run=lambda argv, **_: done(argv, 1, "", "Error: boom\n"))
    assert bad["status"] == "unavailable" and "boom" in bad["reason"]

    def missing(argv, **_):
        raise FileNotFoundError(argv[0])

    assert peers.measure("kyverno", "/x/k", tmp_path, 10, run=missing)["status"] == "unavailable"


def test_a_peer_stopped_at_the_timeout_gives_bounds_not_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(peers, "RUN_TIMEOUT_S", 100)

    def timeout(argv, **_):
        raise subprocess.TimeoutExpired(argv, 100)

    figures = peers.measure("checkov", "/x/checkov", tmp_path, 10_000, run=timeout)
    assert figures["status"] == "timeout" and figures["objects_per_s_at_most"] == 100.0
    out = peers.compare(tmp_path, 10_000, 5000.0, install_peer=lambda tool: ("/x/" + tool, None),
                        measure_peer=lambda *a: dict(figures))
    assert out["checkov"]["ratio_sncguard_to_peer_at_least"] == 50.0


def test_compare_records_each_peer_and_the_ratio_and_never_fails(tmp_path):
    def install(tool):
        return (None, "no Go toolchain") if tool == "kyverno" else ("/x/checkov", None)

    def measure(tool, exe, folder, objects):
        return {"status": "ok", "seconds": 20.0, "objects_per_s": 500.0, "failed_checks": 3, "exit_code": 1}

    out = peers.compare(tmp_path, 10_000, 5000.0, install_peer=install, measure_peer=measure)
    assert out["kyverno"] == {"status": "unavailable", "reason": "no Go toolchain"}
    assert out["checkov"]["ratio_sncguard_to_peer"] == 10.0


def test_the_kyverno_policies_are_cluster_policies_of_the_rules_they_express():
    policies = [yaml.safe_load(p.read_text()) for p in sorted(peers.KYVERNO_POLICIES.glob("*.yaml"))]
    assert [p["metadata"]["name"] for p in policies] == [
        "net-003-forbidden-ports", "net-006-ingress-tls", "zs-001-replicas", "zs-002-zone-spread"]
    assert all(p["kind"] == "ClusterPolicy" and p["spec"]["validationFailureAction"] == "Audit" for p in policies)
