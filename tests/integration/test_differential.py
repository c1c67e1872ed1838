"""The operator's verdicts equal `sncguard check`'s on the same cluster, whatever path the data took.

Each seed draws a random world (tests/integration/worlds.py: every kind sncguard reads, the three
policy kinds, the five rule families) and walks it through every way objects reach the operator,
on a real local control plane of its own:

  (a) the world exists before the operator starts: everything arrives by LIST, whose items carry
      no kind;
  (b) a change made while it runs: WATCH events;
  (c) the API server restarted and a change made as it comes back: the informers' watches expire
      and they list again (asserted from sncguard_informer_lists_total);
  (d) a change made while the operator is stopped, then a restart: LIST again, with statuses that
      the previous process wrote.

After each step, once the cluster holds still, the cluster is dumped with `kubectl get -o yaml`
and `sncguard check` runs on the dump: every policy's status (summary counts, failing and warning
findings, their truncation) must equal what the check says of that policy. Finally the operator
restarts on the unchanged world and must write nothing: no status, no PolicyReport, no Event.

`make test-differential SEEDS=N` runs seeds 1..N; `make test` runs the first two.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import worlds
from .conftest import LocalCluster
from .helpers import WaitTimeout
from .operator_process import OperatorProcess, running

SEEDS = [int(s) for s in os.environ.get("SNCGUARD_DIFF_SEEDS", "1,2").split(",") if s.strip()]
POLICY_KINDS = {"ZoneSpread": "zonespreads", "TenantPolicy": "tenantpolicies", "BackupPolicy": "backuppolicies"}
DUMPED = ("namespaces,nodes,pods,deployments.apps,statefulsets.apps,poddisruptionbudgets.policy,services,"
          "networkpolicies.networking.k8s.io,ingresses.networking.k8s.io,rolebindings.rbac.authorization.k8s.io,"
          "clusterrolebindings.rbac.authorization.k8s.io,persistentvolumes,persistentvolumeclaims,"
          "backupstoragelocations.velero.io,schedules.velero.io,backups.velero.io,restores.velero.io,"
          "zonespreads.sncguard.io,tenantpolicies.sncguard.io,backuppolicies.sncguard.io")
STILL_FOR_S = 3.0
SETTLE_TIMEOUT_S = 150.0


# ---- the cluster -------------------------------------------------------------------------------


def apply(cluster: LocalCluster, objects: list[dict[str, Any]]) -> None:
    if objects:
        text = yaml.safe_dump_all(objects, sort_keys=False)
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=world", "-f", "-",
                        input=text)


def move_to(cluster: LocalCluster, before: worlds.World | None, after: worlds.World) -> None:
    """Make the cluster hold `after`: apply what is new or changed, delete what went."""
    old = before.objects if before else {}
    apply(cluster, [o for o in after.in_order() if old.get(_key(o)) != o])
    for kind, namespace, name in sorted(set(old) - set(after.objects)):
        args = ["delete", kind.lower(), name, "--wait=false", "--ignore-not-found"]
        cluster.kubectl(*args, *(["-n", namespace] if namespace else []))


def _key(obj: dict[str, Any]) -> worlds.Key:
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


# ---- holding still, dumping, checking ----------------------------------------------------------


def _still_shape(dump: dict[str, Any]) -> Any:
    """What must stay the same for the cluster to count as still (heartbeats aside)."""
    out = []
    for item in dump["items"]:
        meta = {k: v for k, v in item["metadata"].items() if k not in ("resourceVersion", "managedFields")}
        body = {k: v for k, v in item.items() if k != "metadata"}
        if item["kind"] == "Node":
            body.pop("status", None)
        out.append((item["kind"], json.dumps(meta, sort_keys=True), json.dumps(body, sort_keys=True)))
    return sorted(out)


def _unsettled(dump: dict[str, Any]) -> list[str]:
    """Why the cluster is not yet worth comparing: policies not evaluated, controllers or pods mid-way."""
    why = []
    for item in dump["items"]:
        kind, meta, status = item["kind"], item["metadata"], item.get("status") or {}
        where = f"{kind} {meta.get('namespace', '')}/{meta['name']}"
        if kind in POLICY_KINDS and status.get("observedGeneration") != meta.get("generation"):
            why.append(f"{where} not evaluated at generation {meta.get('generation')}")
        if kind in ("Deployment", "StatefulSet") and (status.get("observedGeneration") or 0) < meta["generation"]:
            why.append(f"{where} not seen by its controller")
        if kind == "Pod" and (meta.get("deletionTimestamp") or (item["spec"].get("nodeName")
                                                                and status.get("phase") != "Running")):
            why.append(f"{where} starting or stopping")
    return why


def settled_dump(cluster: LocalCluster, path: Path) -> dict[str, Any]:
    """The cluster dumped once it has held still for STILL_FOR_S with every policy evaluated."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    previous: Any = None
    since = time.monotonic()
    while True:
        text = cluster.kubectl("get", DUMPED, "-A", "-o", "yaml").stdout
        dump = yaml.safe_load(text)
        shape, why = _still_shape(dump), _unsettled(dump)
        if shape != previous or why:
            previous, since = shape, time.monotonic()
        elif time.monotonic() - since >= STILL_FOR_S:
            path.write_text(text)
            return dump
        if time.monotonic() > deadline:
            raise WaitTimeout(f"the cluster did not settle in {SETTLE_TIMEOUT_S:.0f} s: {why[:5]}")
        time.sleep(0.5)


def offline_verdicts(dump_path: Path, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """`sncguard check` on the dump, as a user runs it: its findings by policy label."""
    res = subprocess.run([sys.executable, "-m", "sncguard.cli", "check", str(dump_path), "--output", "json",
                          "--now", now.strftime("%Y-%m-%dT%H:%M:%SZ")], capture_output=True, text=True, timeout=120)
    assert res.returncode in (0, 1), f"sncguard check failed ({res.returncode}): {res.stderr}"
    by_policy: dict[str, list[dict[str, Any]]] = {}
    for finding in json.loads(res.stdout):
        by_policy.setdefault(finding["policy"], []).append(finding)
    return by_policy


def _entry(finding: dict[str, Any]) -> tuple:
    """A finding as both sides state it; messages aside, since some name durations as of their clock."""
    resource = finding["resource"]
    return (finding["rule"], finding["result"], finding["severity"], resource["kind"],
            resource.get("namespace") or "", resource["name"], finding.get("field", ""))


def disagreements(dump: dict[str, Any], offline: dict[str, list[dict[str, Any]]]) -> list[str]:
    out = []
    seen = set()
    for item in dump["items"]:
        kind, meta, status = item["kind"], item["metadata"], item.get("status") or {}
        if kind not in POLICY_KINDS:
            continue
        label = f"{kind}/{meta['namespace']}/{meta['name']}" if meta.get("namespace") else f"{kind}/{meta['name']}"
        seen.add(label)
        findings = offline.get(label, [])
        summary = {r: sum(1 for f in findings if f["result"] == r) for r in ("pass", "fail", "warn", "skip")}
        reported = [_entry(f) for f in findings if f["result"] in ("fail", "warn")]
        shown = [_entry(f) for f in status.get("findings") or ()]
        if status.get("summary") != summary:
            out.append(f"{label}: status summary {status.get('summary')} but check says {summary}")
        if shown != reported[:len(shown)] or len(shown) + (status.get("findingsTruncated") or 0) != len(reported):
            missing = sorted(set(reported) - set(shown))
            extra = sorted(set(shown) - set(reported))
            out.append(f"{label}: status findings differ from check's: only in check {missing[:6]}, "
                       f"only in status {extra[:6]}")
    unknown = sorted(set(offline) - seen)
    if unknown:
        out.append(f"check judged policies the cluster does not hold: {unknown}")
    return out


def assert_agree(cluster: LocalCluster, tmp_path: Path, step: str, world: worlds.World) -> dict[str, Any]:
    for _attempt in range(3):
        dump = settled_dump(cluster, tmp_path / f"dump-{step}.yaml")
        now = datetime.now(UTC)
        problems = disagreements(dump, offline_verdicts(tmp_path / f"dump-{step}.yaml", now))
        if not problems:
            return dump
        # The operator may have been between a change and its status when the dump was taken: only a
        # disagreement on a cluster that held still through the whole comparison counts.
        after = yaml.safe_load(cluster.kubectl("get", DUMPED, "-A", "-o", "yaml").stdout)
        if _still_shape(after) == _still_shape(dump):
            break
    pytest.fail(f"seed {world.seed}, step {step}: the operator and `sncguard check` disagree "
                f"(dump: {tmp_path / f'dump-{step}.yaml'}):\n  " + "\n  ".join(problems))


# ---- the operator's own account ----------------------------------------------------------------


def writes_snapshot(cluster: LocalCluster) -> dict[str, Any]:
    """Every object the operator writes on its own behalf, by resourceVersion, and its Events."""
    objects = cluster.kubectl_json("get", "zonespreads,tenantpolicies,backuppolicies,policyreports,"
                                   "clusterpolicyreports", "-A")
    events = cluster.kubectl_json("get", "events", "-A")
    return {
        "objects": sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"],
                           o["metadata"]["resourceVersion"]) for o in objects["items"]),
        "events": sorted((e["metadata"]["namespace"], e["metadata"]["name"], e.get("count") or 1,
                          e["metadata"]["resourceVersion"])
                         for e in events["items"] if e.get("reportingComponent") == "sncguard"),
    }


# ---- the walk ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_the_operator_and_the_offline_check_agree_on_every_path(seed: int, own_cluster: LocalCluster,
                                                                tmp_path: Path) -> None:
    cluster = own_cluster
    now = datetime.now(UTC)
    rng = random.Random(seed)
    world = worlds.generate(seed, now)
    assert worlds.families(world) == {"ZS", "BK", "NET", "ACC", "LOC"}

    # (a) Everything exists before the operator starts: it all arrives by LIST.
    move_to(cluster, None, world)
    with running(OperatorProcess(cluster.env, tmp_path / "operator-1.log")) as operator:
        assert_agree(cluster, tmp_path, "a-listed", world)

        # (b) A change while it runs: WATCH events.
        changed = worlds.mutate(world, rng, now)
        move_to(cluster, world, changed)
        world = changed
        assert_agree(cluster, tmp_path, "b-watched", world)

        # (c) The API server restarts; a change lands as it comes back. Watches expire: LIST again.
        lists_before = {k: v for k, v in operator.metrics().items() if k.startswith("sncguard_informer_lists_total")}
        cluster.restart("kube-apiserver")
        changed = worlds.mutate(world, rng, now)
        move_to(cluster, world, changed)
        world = changed
        assert_agree(cluster, tmp_path, "c-relisted", world)
        lists_after = {k: v for k, v in operator.metrics().items() if k.startswith("sncguard_informer_lists_total")}
        relisted = sorted(k for k, v in lists_after.items() if v > lists_before.get(k, 0))
        assert any("clusterrolebindings" in k for k in relisted) and any("deployments" in k for k in relisted), (
            f"the API server restart made no informer list again: {lists_after}")

    # (d) A change while the operator is down; the next one starts from the statuses the last one wrote.
    changed = worlds.mutate(world, rng, now)
    move_to(cluster, world, changed)
    world = changed
    with running(OperatorProcess(cluster.env, tmp_path / "operator-2.log")):
        assert_agree(cluster, tmp_path, "d-restarted", world)
    policies = sum(len(world.of(kind)) for kind in POLICY_KINDS)

    # A restart on an unchanged world writes nothing.
    before = writes_snapshot(cluster)
    with running(OperatorProcess(cluster.env, tmp_path / "operator-3.log")) as operator:
        deadline = time.monotonic() + 60
        while operator.metric("sncguard_evaluation_duration_seconds_count") < policies:
            assert time.monotonic() < deadline, "the restarted operator did not evaluate every policy in 60 s"
            time.sleep(0.5)
        time.sleep(STILL_FOR_S)
        after = writes_snapshot(cluster)
        written = operator.metric("sncguard_status_writes_total")
    assert written == 0, f"the restarted operator patched {written:.0f} statuses of an unchanged world"
    assert after == before, (
        "a restart on an unchanged world wrote (resourceVersions before -> after): "
        f"objects {sorted(set(before['objects']) ^ set(after['objects']))[:12]}, "
        f"events {sorted(set(before['events']) ^ set(after['events']))[:12]}")
