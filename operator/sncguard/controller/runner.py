"""`sncguard run`: the kopf operator over all namespaces, with a liveness endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import ModuleType

import kopf
from kopf._cogs.structs.references import Insights  # the type of kopf.operator(insights=...)

from . import kopf_fixes


async def _operate(handlers: ModuleType, liveness: str) -> None:
    # kopf's own discovery keeps these insights current (which APIs exist and are watched); the
    # engine reads them to know whether Velero or the PolicyReport API is there, with no watch
    # of its own on CustomResourceDefinitions (which would duplicate kopf's request for request).
    insights = Insights()
    handlers.engine.insights = insights
    await kopf.operator(registry=handlers.registry, clusterwide=True, liveness_endpoint=liveness,
                        standalone=True, insights=insights)


def run_operator(*, liveness: str, language: str, verbose: bool, debounce: float, metrics: str,
                 compliance_events: bool = True) -> int:
    from . import handlers

    handlers.engine.language = language
    handlers.engine.compliance_events = compliance_events
    handlers.engine.debounce = debounce
    handlers.METRICS_ADDRESS["value"] = metrics
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    if not verbose:
        # kopf reports every watch reconnection at INFO; the operator's own log is what people read.
        logging.getLogger("kopf").setLevel(logging.WARNING)
    kopf_fixes.apply()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_operate(handlers, liveness))
    return 0
