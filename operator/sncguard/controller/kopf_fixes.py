"""Two workarounds for kopf 1.45: its start-up wake-ups, and API groups it sees only in part.

Both are still needed now that the built-in kinds go through sncguard's informer (informer.py):
kopf still lists and indexes the policies and the PolicyReports, and still discovers the
PolicyReport API when its CRDs arrive. Re-measured on kopf 1.45.2, two cores, a local API
server; docs/kopf-upstream.md has each reproduction script and the steps.

The start-up fix (`apply`, called by `sncguard run` before the operator starts). kopf holds every
object's first event until all indexes are filled, with an ``aiotoggles.ToggleSet``: one toggle
per listed object of an indexed resource, each object's worker parked in
``ToggleSet.wait_for(True)``. ``make_toggle`` and ``drop_toggle`` notify the set's condition on
every call, waking every parked worker to re-check a state that did not change: O(N^2) wake-ups
for N listed objects. From kopf.operator() to the last object's first event, one index on N
objects, without -> with the fix: N = 840 (the benchmark's 420 policies and their 420
PolicyReports on a restart) 3.2 s -> 0.8 s; N = 4,200 (the 10x benchmark's policies) 120 s and
100 s of CPU -> 4.4 s and 3.4 s. (When kopf also listed the built-in kinds, 11,800 objects:
`make bench` cold start 654 s -> 16 s.) The fix notifies only when the set's aggregate state
changes, which is all a `wait_for` waiter can observe; `Toggle.turn_to` keeps notifying as before.

The rescan (`follow_partial_groups`, started with the operator). kopf rescans an API group on each
event of one of its CRDs, but the API server's discovery can lag the last of those events (a CRD is
Established a moment before discovery lists it), and then kopf never watches that resource. The
two wgpolicyk8s.io CRDs applied together into a running kopf operator, 20 trials: without the
rescan kopf left policyreports unwatched in 9 (still so 40 s later); with it all 20 were watched
within 1.02 s of Established, 10 of them thanks to the rescan. An unwatched PolicyReport kind
leaves sncguard's owned-report index empty: a report's results lose their kept timestamps, so each
evaluation writes it again, and stale reports are never deleted (from reports.py, not measured).

Both touch kopf internals, so they check their shape first and leave kopf alone (with a warning)
if it differs; tests/unit/test_kopf_fixes.py fails on such a kopf, and pyproject.toml pins kopf to
the minor version they were verified on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

log = logging.getLogger("sncguard.kopf_fixes")

_EMPTY = inspect.Parameter.empty
_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
_KEYWORD = inspect.Parameter.KEYWORD_ONLY
# The ToggleSet methods `apply` replaces, as (name, kind, default) per parameter: the replacements
# take the same arguments, so kopf's callers are served alike.
TOGGLE_SET_SIGNATURES: dict[str, tuple[tuple[str, Any, Any], ...]] = {
    "make_toggle": (("self", _POSITIONAL, _EMPTY), ("val", _POSITIONAL, False), ("name", _KEYWORD, None)),
    "drop_toggle": (("self", _POSITIONAL, _EMPTY), ("toggle", _POSITIONAL, _EMPTY)),
    "drop_toggles": (("self", _POSITIONAL, _EMPTY), ("toggles", _POSITIONAL, _EMPTY)),
}
# What kopf's observation needs from a call of process_discovered_resource_event.
RESCAN_KEYWORDS = frozenset({"raw_event", "settings", "registry", "insights"})


def signature_of(function: Callable[..., Any]) -> tuple[tuple[str, Any, Any], ...]:
    """Each parameter's name, kind and default. kopf names its positional flags `__val`, which a class
    body mangles (`_ToggleSet__val`) and a function body does not: the prefix is left out."""
    return tuple((name.rpartition("__")[2], p.kind, p.default)
                 for name, p in inspect.signature(function).parameters.items())


def toggles_have_their_shape(toggle_cls: type, toggle_set_cls: type) -> bool:
    """Whether kopf's Toggle and ToggleSet are what the start-up fix was written against."""
    if any(signature_of(getattr(toggle_set_cls, name, lambda: None)) != expected
           for name, expected in TOGGLE_SET_SIGNATURES.items()):
        return False
    init = inspect.signature(toggle_cls.__init__).parameters
    if any(name not in init or init[name].kind is not _KEYWORD for name in ("name", "condition")):
        return False
    sample = toggle_set_cls(all)
    return (isinstance(getattr(sample, "_condition", None), asyncio.Condition)
            and isinstance(getattr(sample, "_toggles", None), set) and callable(getattr(sample, "is_on", None)))


def apply() -> bool:
    try:
        from kopf._cogs.aiokits.aiotoggles import Toggle, ToggleSet
    except ImportError:
        log.warning("kopf's ToggleSet moved: start-up keeps its quadratic wake-ups")
        return False
    if not toggles_have_their_shape(Toggle, ToggleSet):
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


def rescan_has_its_shape(insights: Any) -> bool:
    """Whether kopf's discovery is what `follow_partial_groups` was written against."""
    try:
        from kopf._cogs.structs.references import Resource
        from kopf._core.reactor.observation import process_discovered_resource_event
    except ImportError:
        return False
    parameters = inspect.signature(process_discovered_resource_event).parameters
    keywords = {name for name, p in parameters.items() if p.kind is _KEYWORD}
    return (keywords >= RESCAN_KEYWORDS
            and {"group", "plural"} <= {f.name for f in dataclasses.fields(Resource)}
            and isinstance(getattr(insights, "watched_resources", None), set)
            and isinstance(getattr(insights, "revised", None), asyncio.Condition))


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
    if not rescan_has_its_shape(insights):
        log.warning("kopf's discovery changed shape: an API group it watches only in part is not rescanned")
        return
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
