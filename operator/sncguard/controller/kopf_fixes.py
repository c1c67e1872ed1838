"""Two workarounds for kopf 1.45: its start-up wake-ups, and API groups it sees only in part.

The start-up fix is applied by `sncguard run` before the operator starts.

kopf (1.45) holds every object's first event until all indexes are filled, with an
``aiotoggles.ToggleSet``: one toggle per listed object of an indexed resource, each object's
worker parked in ``ToggleSet.wait_for(True)``. ``make_toggle`` and ``drop_toggle`` notify the
set's condition on every call, waking every parked worker to re-check a state that did not
change: O(N^2) wake-ups for N listed objects. Measured by `make bench` (11,800 objects, two
cores): 654 s from start to every policy having a status, 651 s of CPU; with this fix, 20 s and
40 s. The fix notifies only when the set's aggregate state changes, which is all a `wait_for`
waiter can observe; `Toggle.turn_to` keeps notifying as before.

kopf rescans an API group on each event of one of its CRDs. The API server's discovery can
lag the last of those events (a CRD is Established a moment before discovery lists it), and then
kopf never watches that resource: seen with Velero's CRDs installed together, where Restores
stayed unwatched and restore drills were never seen to finish. `follow_partial_groups` notices a
group of which sncguard wants several resources but kopf watches only some, and has kopf rescan
it a few times, as a CRD event would.

Both touch kopf internals, so they check their shape first and leave kopf alone (with a
warning) if they differ; pyproject.toml pins kopf to the minor version they were verified on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger("sncguard.kopf_fixes")


def apply() -> bool:
    try:
        from kopf._cogs.aiokits.aiotoggles import Toggle, ToggleSet
    except ImportError:
        log.warning("kopf's ToggleSet moved: start-up keeps its quadratic wake-ups")
        return False
    if not all(hasattr(ToggleSet, name) for name in ("make_toggle", "drop_toggle", "drop_toggles", "is_on")):
        log.warning("kopf's ToggleSet changed shape: start-up keeps its quadratic wake-ups")
        return False

    async def make_toggle(self: ToggleSet, __val: bool = False, *, name: str | None = None) -> Toggle:
        toggle = Toggle(__val, name=name, condition=self._condition)
        async with self._condition:
            before = self.is_on()
            self._toggles.add(toggle)
            if self.is_on() != before:
                self._condition.notify_all()
        return toggle

    async def drop_toggle(self: ToggleSet, toggle: Toggle) -> None:
        async with self._condition:
            before = self.is_on()
            self._toggles.discard(toggle)
            if self.is_on() != before:
                self._condition.notify_all()

    async def drop_toggles(self: ToggleSet, toggles: Iterable[Toggle]) -> None:
        async with self._condition:
            before = self.is_on()
            self._toggles.difference_update(toggles)
            if self.is_on() != before:
                self._condition.notify_all()

    ToggleSet.make_toggle = make_toggle  # type: ignore[method-assign]
    ToggleSet.drop_toggle = drop_toggle  # type: ignore[method-assign]
    ToggleSet.drop_toggles = drop_toggles  # type: ignore[method-assign]
    return True


RESCAN_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 16.0)


def partly_watched_groups(wanted: Mapping[str, set[str]], watched: Iterable[Any]) -> list[str]:
    """The groups of which kopf watches some but not all of the plurals sncguard wants."""
    seen: dict[str, set[str]] = {}
    for resource in watched:
        seen.setdefault(resource.group, set()).add(resource.plural)
    return sorted(group for group, plurals in wanted.items() if seen.get(group) and not plurals <= seen[group])


async def rescan_api_group(group: str, *, settings: Any, registry: Any, insights: Any) -> None:
    """Have kopf re-read one API group's resources, exactly as an event of one of its CRDs does."""
    from kopf._core.reactor.observation import process_discovered_resource_event

    await process_discovered_resource_event(raw_event={"type": "MODIFIED", "object": {"spec": {"group": group}}},
                                            settings=settings, registry=registry, insights=insights)


async def follow_partial_groups(wanted: Mapping[str, set[str]], *, settings: Any, registry: Any,
                                insights: Any, sleep: Any = asyncio.sleep) -> None:
    """Whenever kopf's insights change, rescan each group it watches only in part, a few times."""
    while True:
        for group in partly_watched_groups(wanted, insights.watched_resources):
            for delay in RESCAN_DELAYS_S:
                await sleep(delay)  # discovery catches up in a moment; kopf's own rescan may too
                if group not in partly_watched_groups(wanted, insights.watched_resources):
                    break
                log.info("kopf watches only part of API group %s: asking it to look again", group)
                try:
                    await rescan_api_group(group, settings=settings, registry=registry, insights=insights)
                except Exception as exc:  # the next revision of the insights tries again
                    log.warning("rescanning API group %s failed: %s", group, exc)
                if group not in partly_watched_groups(wanted, insights.watched_resources):
                    break
        async with insights.revised:
            await insights.revised.wait()
