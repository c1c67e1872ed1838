"""The engine's pure parts: what counts as already applied, and which policies go first."""

import asyncio

from sncguard.controller.engine import Engine, subset
from sncguard.controller.kube import KubeClient
from sncguard.controller.state import PolicyKey


def test_subset_allows_server_defaults_but_not_differences():
    desired = {"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}
    actual = {"spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                       "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}]}]}}
    assert subset(desired, actual)
    assert not subset({"spec": {"ingress": [{"ports": [{"port": 81}]}]}}, actual)
    assert not subset({"spec": {"ingress": []}}, actual), "list lengths must match"
    assert not subset({"metadata": {"labels": {"a": "b"}}}, {"metadata": {}})


def test_urgent_policies_are_evaluated_first_in_a_batch():
    order: list[str] = []

    class Recorder(Engine):
        async def reconcile(self, key: PolicyKey) -> None:
            order.append(key.name)

    async def scenario():
        engine = Recorder(KubeClient(), debounce=0)
        for name in ("a", "b", "c", "d"):
            engine.mark(PolicyKey("TenantPolicy", "", name), urgent=name == "c")
        engine.indexed.set()
        task = asyncio.create_task(engine.run())
        for _ in range(20):
            await asyncio.sleep(0)
        task.cancel()

    asyncio.run(scenario())
    assert order == ["c", "a", "b", "d"]


def test_timers_keep_the_earliest_deadline():
    async def scenario():
        engine = Engine(KubeClient())
        key = PolicyKey("BackupPolicy", "ns", "p")
        engine.schedule(key, 100)
        engine.schedule(key, 200)
        engine.schedule(key, 50)
        return sorted(due for due, _ in engine._deadlines), engine._timers[key]

    deadlines, timer = asyncio.run(scenario())
    assert len(deadlines) == 2 and timer == deadlines[0]
