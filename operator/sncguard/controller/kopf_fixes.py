"""A fix to kopf's start-up, applied by `sncguard run` before the operator starts.

kopf (1.45) holds every object's first event until all indexes are filled, with an
``aiotoggles.ToggleSet``: one toggle per listed object of an indexed resource, each object's
worker parked in ``ToggleSet.wait_for(True)``. ``make_toggle`` and ``drop_toggle`` notify the
set's condition on every call, waking every parked worker to re-check a state that did not
change: O(N^2) wake-ups for N listed objects. Measured by `make bench` (11,800 objects, two
cores): 654 s from start to every policy having a status, 651 s of CPU; with this fix, 20 s and
40 s. The fix notifies only when the set's aggregate state changes, which is all a `wait_for`
waiter can observe; `Toggle.turn_to` keeps notifying as before.

It touches kopf internals, so it checks their shape first and leaves kopf alone (with a
warning) if they differ; pyproject.toml pins kopf to the minor version it was verified on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

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
