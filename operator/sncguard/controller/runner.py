"""`sncguard run`: the kopf operator over all namespaces, with a liveness endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import kopf


def run_operator(*, liveness: str, language: str, verbose: bool, debounce: float, metrics: str) -> int:
    from . import handlers

    handlers.engine.language = language
    handlers.engine.debounce = debounce
    handlers.METRICS_ADDRESS["value"] = metrics
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    if not verbose:
        # kopf reports every watch reconnection at INFO; the operator's own log is what people read.
        logging.getLogger("kopf").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(kopf.operator(registry=handlers.registry, clusterwide=True, liveness_endpoint=liveness,
                                  standalone=True))
    return 0
