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
