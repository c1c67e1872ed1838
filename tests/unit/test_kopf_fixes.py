"""The two kopf workarounds: the start-up fix keeps ToggleSet's semantics and drops the useless
wake-ups, the rescan makes kopf watch a group it saw in part; both bow out on a kopf of another shape."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import inspect
import logging

import pytest
from kopf._cogs.aiokits import aiotoggles
from kopf._cogs.aiokits.aiotoggles import Toggle, ToggleSet

from sncguard.controller import kopf_fixes

# sha256 of kopf 1.45.2's Toggle and ToggleSet classes (their source text). The fix replaces three
# of ToggleSet's methods with copies that notify less: any change to these classes is to be read,
# and the fix re-measured (docs/kopf-upstream.md) or dropped, before this digest is updated.
VERIFIED_TOGGLES_DIGEST = "9a793f9ccdccaf2f"


def test_the_fix_applies_to_this_kopf():
    assert kopf_fixes.apply() is True


def test_kopf_toggles_are_the_code_the_fix_was_verified_on():
    source = inspect.getsource(aiotoggles)
    classes = [ast.get_source_segment(source, node) for node in ast.parse(source).body
               if isinstance(node, ast.ClassDef) and node.name in ("Toggle", "ToggleSet")]
    assert hashlib.sha256("\n".join(classes).encode()).hexdigest()[:16] == VERIFIED_TOGGLES_DIGEST


async def _drop_toggles_with_a_reason(self, toggles, *, reason): ...


def _toggle_without_shared_condition(self, state=False, *, name=None): ...


class _SetWithoutToggles:
    def __init__(self, fn):
        self._condition = asyncio.Condition()


@pytest.mark.parametrize(("cls", "attribute", "replacement"), [
    (ToggleSet, "drop_toggles", _drop_toggles_with_a_reason),
    (Toggle, "__init__", _toggle_without_shared_condition),
    (ToggleSet, "__init__", _SetWithoutToggles.__init__),
], ids=["a-signature", "toggle-condition", "an-attribute"])
def test_a_kopf_of_another_shape_is_left_alone(monkeypatch, caplog, cls, attribute, replacement):
    monkeypatch.setattr(cls, attribute, replacement)
    before = ToggleSet.make_toggle
    with caplog.at_level(logging.WARNING, logger="sncguard.kopf_fixes"):
        assert kopf_fixes.apply() is False
    assert ToggleSet.make_toggle is before
    assert "changed shape" in caplog.text


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


def test_the_rescan_applies_to_this_kopf():
    from kopf._cogs.structs.references import Insights

    assert kopf_fixes.rescan_has_its_shape(Insights()) is True


def test_a_discovery_of_another_shape_is_not_rescanned(monkeypatch, caplog):
    import kopf
    from kopf._cogs.structs.references import Insights
    from kopf._core.reactor import observation

    called: list = []

    async def without_insights(*, raw_event, settings, registry):
        called.append(raw_event)

    monkeypatch.setattr(observation, "process_discovered_resource_event", without_insights)
    insights = Insights()
    insights.watched_resources.add(_resource("velero.io", "backups"))

    async def no_sleep(delay):
        pass

    with caplog.at_level(logging.WARNING, logger="sncguard.kopf_fixes"):
        asyncio.run(asyncio.wait_for(kopf_fixes.follow_partial_groups(
            WANTED, settings=kopf.OperatorSettings(), registry=kopf.OperatorRegistry(), insights=insights,
            sleep=no_sleep), 1))
    assert called == [] and "changed shape" in caplog.text
