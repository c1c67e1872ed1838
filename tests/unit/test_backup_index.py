"""BackupIndex: a BackupPolicy judged on the Backups the index gives is judged as on all of them."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from test_rules_backup import NOW, VNS, backup, restore, spec, view

from sncguard.controller.backup_index import BackupIndex
from sncguard.evaluation import evaluate_backuppolicy

NAMESPACES = ("shop", "pay", "erp", "ops")
INCLUDED = ([], ["*"], ["shop"], ["pay"], ["shop", "pay"], ["erp", "*"], ["ops"])
EXCLUDED = (None, ["shop"], ["*"], ["pay", "erp"])


def _world(rnd: random.Random) -> tuple[list, list]:
    backups = [backup(f"b-{i}", included=rnd.choice(INCLUDED), excluded=rnd.choice(EXCLUDED),
                      age=timedelta(hours=rnd.randrange(1, 80)), phase=rnd.choice(("Completed", "Failed")),
                      location=rnd.choice(("default", "other")), namespace=rnd.choice((VNS, VNS, "elsewhere")))
               for i in range(rnd.randrange(0, 25))]
    restores = [restore(f"r-{i}", rnd.choice([*(b.name for b in backups), "gone"]),
                        labels={"sncguard.io/drill": "true"} if rnd.random() < 0.5 else {},
                        mapping={rnd.choice(NAMESPACES): "scratch"}, age=timedelta(days=rnd.randrange(0, 10)))
                for i in range(rnd.randrange(0, 6))]
    return backups, restores


@pytest.mark.parametrize("seed", range(60))
def test_the_backups_it_gives_judge_every_namespace_as_all_backups_do(seed: int):
    rnd = random.Random(seed)
    backups, restores = _world(rnd)
    index = BackupIndex()
    policy = spec(storageLocation="default", veleroNamespace=VNS, rpo="24h", restoreTestInterval="168h")
    for namespace in NAMESPACES:
        full = view(backups=backups, restores=restores)
        relevant = index.relevant(VNS, namespace, lambda vns: [b for b in backups if b.namespace == vns], restores)
        pruned = replace(full, backups=relevant)
        expected = evaluate_backuppolicy(policy, namespace, "nightly", full, NOW)
        got = evaluate_backuppolicy(policy, namespace, "nightly", pruned, NOW)
        assert got.findings == expected.findings, namespace
        assert got.status_fields == expected.status_fields, namespace
        assert len(relevant) <= len(backups)


def test_a_change_of_velero_s_objects_drops_the_index():
    index = BackupIndex()
    first = [backup("b-1", included=["shop"])]
    assert [b.name for b in index.relevant(VNS, "shop", lambda vns: first, [])] == ["b-1"]
    second = [*first, backup("b-2", included=["*"])]
    assert [b.name for b in index.relevant(VNS, "shop", lambda vns: second, [])] == ["b-1"], "kept until told"
    index.velero_changed()
    assert [b.name for b in index.relevant(VNS, "shop", lambda vns: second, [])] == ["b-1", "b-2"]
    assert [b.name for b in index.relevant(VNS, "pay", lambda vns: second, [])] == ["b-2"]
