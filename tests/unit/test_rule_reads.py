"""Each rule reads only the kinds it declares, and each policy kind only what the engine watches for it.

The engine re-judges a policy when an object of a kind its rules read changes (controller/kinds.py
derives that from the registry's `reads`). A rule that reads a kind it does not declare would keep a
stale verdict after a change of that kind: here every rule, and every policy's whole evaluation, runs
on a view that refuses what was not declared, over seeded worlds of every kind with live pods and nodes.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sncguard import waivers
from sncguard.check import judge
from sncguard.controller.kinds import READS
from sncguard.evaluation import evaluate_backuppolicy, evaluate_tenantpolicy, evaluate_zonespread, scope_of
from sncguard.loader import load
from sncguard.rules import registry
from sncguard.rules.catalogue import CATALOGUE
from sncguard.tenancy import TenantSelection
from sncguard.view import PROJECTIONS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import worlds  # pure: the differential test's seeded worlds

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SEEDS = range(12)

# What each attribute or method of ClusterView reads, beside the attributes PROJECTIONS names.
_METHODS = {"pods_in": {"Pod"}, "workloads_in": {"Deployment", "StatefulSet"}, "pdbs_in": {"PodDisruptionBudget"},
            "zone_of_node": {"Node"}, "known_zones": {"Node"}}
READS_OF_ATTRIBUTE: dict[str, set[str]] = {**_METHODS}
for _kind, (_attribute, _) in PROJECTIONS.items():
    READS_OF_ATTRIBUTE.setdefault(_attribute, set()).add(_kind)
# What any rule may look at: whether live state was observed at all, and the waiver annotations (filled
# before the rules run, from the objects the findings name).
FREE = {"pods_observed", "nodes_observed", "velero_installed", "waive_index", "index_by_namespace"}


class Undeclared(AssertionError):
    pass


class GuardedView:
    """A ClusterView that answers only for the kinds `allowed`; anything else is an Undeclared read."""

    def __init__(self, view: Any, allowed: frozenset[str], who: str) -> None:
        self._view, self._allowed, self._who = view, allowed, who

    def __getattr__(self, name: str) -> Any:
        if name not in FREE:
            kinds = READS_OF_ATTRIBUTE.get(name)
            if kinds is None:
                raise Undeclared(f"{self._who} reads view.{name}, which this test does not map to kinds")
            if not kinds <= self._allowed:
                raise Undeclared(f"{self._who} reads view.{name} ({sorted(kinds)}) but declares only "
                                 f"{sorted(self._allowed)}")
        return getattr(self._view, name)


def _live(world: worlds.World, rng: random.Random) -> list[dict[str, Any]]:
    """Nodes in three zones (one in a region outside the EU, one without region) and running pods for the
    world's workloads, with addresses: what the rules read of a live cluster."""
    nodes = []
    for i, zone in enumerate(worlds.ZONES * 2):
        labels = {"topology.kubernetes.io/zone": zone}
        if i != 5:
            labels["topology.kubernetes.io/region"] = "us-east-1" if i == 4 else "eu-fr-paris"
        nodes.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}", "labels": labels},
                      "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    pods = []
    for kind in ("Deployment", "StatefulSet"):
        for workload in world.of(kind):
            meta, spec = workload["metadata"], workload["spec"]
            for r in range(spec.get("replicas", 1)):
                pending = rng.random() < 0.15
                pod: dict[str, Any] = {
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"{meta['name']}-{r}", "namespace": meta["namespace"],
                                 "labels": dict(spec["template"]["metadata"]["labels"])},
                    "spec": dict(spec["template"]["spec"]),
                    "status": {"phase": "Pending"} if pending else {
                        "phase": "Running", "podIP": f"10.{len(pods) // 250}.{len(pods) % 250}.{r + 1}"}}
                if not pending:
                    pod["spec"]["nodeName"] = rng.choice(nodes)["metadata"]["name"]
                pods.append(pod)
    return nodes + pods


@pytest.fixture(scope="module", params=SEEDS)
def inputs(request, tmp_path_factory):
    world = worlds.generate(request.param, NOW)
    documents = list(world.in_order()) + _live(world, random.Random(request.param))
    path = tmp_path_factory.mktemp(f"world{request.param}") / "world.yaml"
    path.write_text(yaml.safe_dump_all(documents), encoding="utf-8")
    loaded = load([path])
    assert not loaded.errors, loaded.errors
    assert loaded.view.pods_observed and loaded.view.nodes_observed and loaded.view.pods
    waivers.annotated(loaded.view)
    loaded.view.index_by_namespace()
    return loaded


@pytest.fixture()
def guarded_rules(monkeypatch):
    """Every declared rule runs on a view guarded by its own `reads`."""
    for family in registry.families():
        guarded = [registry.Rule(r.info, r.policy_kind, r.reads,
                                 lambda s, v, n, r=r: r.check(s, GuardedView(v, r.reads, r.id), n))
                   for r in family.rules]
        monkeypatch.setattr(family, "rules", guarded)


def test_each_rule_reads_only_what_it_declares(inputs, guarded_rules):
    _, judged = judge(inputs, NOW)
    ran = {f.rule.id for j in judged for f in j.outcome.findings}
    assert len(ran) >= 15, ran  # the worlds reach most rules, not a few skips


def test_each_policy_kind_reads_only_what_the_engine_watches_for_it(inputs):
    view = inputs.view
    for policy in inputs.policies_of("ZoneSpread"):
        guarded = GuardedView(view, READS["ZoneSpread"], f"ZoneSpread {policy.name}")
        evaluate_zonespread(policy.spec, policy.namespace, policy.name, guarded, NOW)
    for policy in inputs.policies_of("BackupPolicy"):
        guarded = GuardedView(view, READS["BackupPolicy"], f"BackupPolicy {policy.name}")
        evaluate_backuppolicy(policy.spec, policy.namespace, policy.name, guarded, NOW)
    tenants = inputs.policies_of("TenantPolicy")
    selection = TenantSelection()
    selection.sync(view.namespaces, {i: p.spec.namespace_selector.as_k8s() for i, p in enumerate(tenants)})
    for i, policy in enumerate(tenants):
        scope = scope_of(i, policy.spec, view.namespaces, selection)
        guarded = GuardedView(view, READS["TenantPolicy"], f"TenantPolicy {policy.name}")
        evaluate_tenantpolicy(policy.spec, policy.name, scope, guarded, NOW)


def test_the_guard_refuses_an_undeclared_read():
    """The test above cannot pass by a guard that lets everything through."""
    guarded = GuardedView(type("V", (), {"pods": [], "nodes": {}})(), frozenset({"Node"}), "X")
    assert guarded.nodes == {}
    with pytest.raises(Undeclared, match=r"reads view\.pods"):
        _ = guarded.pods


def test_every_rule_of_the_catalogue_is_declared_once_in_the_registry():
    assert sorted(CATALOGUE) == [r.id for r in registry.all_rules()]
