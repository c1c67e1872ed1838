"""The start-up fix to kopf's ToggleSet keeps its semantics and drops the useless wake-ups."""

import asyncio

from kopf._cogs.aiokits.aiotoggles import ToggleSet

from sncguard.controller import kopf_fixes


def test_the_fix_applies_to_this_kopf():
    assert kopf_fixes.apply() is True


def test_waiters_still_wake_when_the_set_turns_on():
    kopf_fixes.apply()

    async def scenario():
        toggles = ToggleSet(all)
        first = await toggles.make_toggle(False)
        second = await toggles.make_toggle(False)
        waiter = asyncio.create_task(toggles.wait_for(True))
        await asyncio.sleep(0)
        await toggles.drop_toggle(first)
        await asyncio.sleep(0)
        assert not waiter.done(), "one toggle is still off"
        await second.turn_to(True)
        await asyncio.wait_for(waiter, 1)
        assert toggles.is_on()

    asyncio.run(scenario())


def test_a_change_that_keeps_the_state_wakes_nobody():
    kopf_fixes.apply()

    async def scenario():
        toggles = ToggleSet(all)
        await toggles.make_toggle(False)
        checks = 0

        def predicate():
            nonlocal checks
            checks += 1
            return toggles.is_on()

        async def waiter():
            async with toggles._condition:
                await toggles._condition.wait_for(predicate)

        task = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        before = checks
        extra = [await toggles.make_toggle(False) for _ in range(100)]
        await toggles.drop_toggles(extra[:50])
        for toggle in extra[50:]:
            await toggles.drop_toggle(toggle)
        await asyncio.sleep(0)
        assert checks == before, "no aggregate change, so no wake-up"
        task.cancel()

    asyncio.run(scenario())


def _resource(group: str, plural: str):
    from kopf._cogs.structs.references import Resource

    return Resource(group, "v1", plural, kind=plural.capitalize()[:-1], namespaced=True,
                    verbs=["list", "watch", "get", "patch"])


WANTED = {"velero.io": {"backups", "restores"}, "route.openshift.io": {"routes"}}


def test_a_group_kopf_watches_only_in_part_is_noticed():
    assert kopf_fixes.partly_watched_groups(WANTED, [_resource("velero.io", "backups")]) == ["velero.io"]
    whole = [_resource("velero.io", "backups"), _resource("velero.io", "restores")]
    assert kopf_fixes.partly_watched_groups(WANTED, whole) == []
    # A group with nothing watched is an API that is not installed, not one seen in part.
    assert kopf_fixes.partly_watched_groups(WANTED, []) == []


def test_a_rescan_makes_kopf_watch_what_discovery_now_lists(monkeypatch):
    import kopf
    from kopf._cogs.clients import scanning
    from kopf._cogs.structs.references import Insights

    registry = kopf.OperatorRegistry()
    for plural in ("backups", "restores"):
        kopf.on.event("velero.io", "v1", plural, registry=registry)(lambda **_: None)
    scanned: list = []

    async def scan_resources(*, groups, settings, logger):
        scanned.append(groups)
        return {_resource("velero.io", "backups"), _resource("velero.io", "restores")}

    monkeypatch.setattr(scanning, "scan_resources", scan_resources)

    async def scenario():
        insights = Insights()
        insights.watched_resources.add(_resource("velero.io", "backups"))
        sleeps: list[float] = []

        async def sleep(delay):
            sleeps.append(delay)

        follower = asyncio.create_task(kopf_fixes.follow_partial_groups(
            WANTED, settings=kopf.OperatorSettings(), registry=registry, insights=insights, sleep=sleep))
        for _ in range(50):
            await asyncio.sleep(0)
        follower.cancel()
        return insights, sleeps

    insights, sleeps = asyncio.run(scenario())
    assert scanned == [{"velero.io"}] and sleeps == [1.0]
    assert {r.plural for r in insights.watched_resources} == {"backups", "restores"}
