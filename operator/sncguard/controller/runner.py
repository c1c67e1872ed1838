"""`sncguard run`: the kopf operator over all namespaces, with a liveness endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable

import aiohttp
import kopf

from . import kopf_fixes
from .handlers import register
from .kube import DEFAULT_BURST, DEFAULT_QPS
from .leader import Timing, default_identity, default_namespace
from .wiring import LeaderElection, Operator, Settings, wire

# kopf logs every failed attempt of its own API requests at ERROR, from the logger of whoever made
# the request: "Request attempt #3/9 failed; will retry: GET ... -> ClientConnectorError(...)". During
# an outage or while throttled that is a line per watch per attempt, none of them an error of sncguard
# (kopf retries, and its watch streams reconnect). These loggers make such requests.
KOPF_API_LOGGERS = ("kopf._cogs.clients.watching", "kopf._core.reactor.observation", "kopf._core.engines.peering",
                    "kopf._core.engines.posting", "kopf.objects")
# Their watch streams catch an escalated connection error, a timeout or a 429 and reconnect: there,
# "escalating" is one more retry too. Elsewhere (kopf.objects: a handler's patch) it stays an error.
KOPF_STREAM_LOGGERS = ("kopf._cogs.clients.watching",)
_RETRYING = re.compile(r"Request attempt #\S+ failed; (will retry|TCP closed; will re-authenticate"
                       r"|SSL closed; will re-authenticate)")
_ESCALATING = re.compile(r"Request attempt #\S+ failed; escalating: .*? -> (\w+)\(")


def _subclass_names(*roots: type) -> set[str]:
    names: set[str] = set()
    todo = list(roots)
    while todo:
        cls = todo.pop()
        if cls.__name__ not in names:
            names.add(cls.__name__)
            todo.extend(cls.__subclasses__())
    return names


class KopfRetriesAsWarnings(logging.Filter):
    """Lowers kopf's records about retried API requests from ERROR to WARNING; anything else kopf
    logs (a handler's failure, an escalated error nobody retries) keeps its level."""

    def __init__(self) -> None:
        super().__init__()
        self.reconnecting = _subclass_names(aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError)
        self.reconnecting.add("APITooManyRequestsError")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.ERROR or not record.name.startswith("kopf"):
            return True
        message = record.getMessage()
        retried = _RETRYING.match(message) is not None
        if not retried and record.name in KOPF_STREAM_LOGGERS:
            escalated = _ESCALATING.match(message)
            retried = escalated is not None and escalated.group(1) in self.reconnecting
        if retried:
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def lower_kopf_retries(names: Iterable[str] = KOPF_API_LOGGERS) -> KopfRetriesAsWarnings:
    """Install the filter on kopf's API-calling loggers (once); return it."""
    loggers = [logging.getLogger(name) for name in names]
    found = next((f for lg in loggers for f in lg.filters if isinstance(f, KopfRetriesAsWarnings)), None)
    retries = found or KopfRetriesAsWarnings()
    for logger in loggers:
        if retries not in logger.filters:
            logger.addFilter(retries)
    return retries


async def _operate(operator: Operator, liveness: str) -> None:
    await kopf.operator(registry=register(operator), clusterwide=True, liveness_endpoint=liveness,
                        standalone=True, insights=operator.insights)


def run_operator(*, liveness: str, language: str, verbose: bool, debounce: float, metrics: str,
                 compliance_events: bool = True, leader_election: bool = True,
                 leader_election_namespace: str | None = None, lease_duration: float = 12.0,
                 qps: float = DEFAULT_QPS, burst: int = DEFAULT_BURST) -> int:
    election = None
    if leader_election:
        election = LeaderElection(namespace=leader_election_namespace or default_namespace(),
                                  identity=default_identity(), timing=Timing.for_lease(lease_duration))
    operator = wire(Settings(language=language, debounce=debounce, compliance_events=compliance_events,
                             metrics_address=metrics, leader_election=election, qps=qps, burst=burst))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    if not verbose:
        # kopf reports every watch reconnection at INFO; the operator's own log is what people read.
        logging.getLogger("kopf").setLevel(logging.WARNING)
    # kopf's retries of its API requests (an outage, throttling) are warnings, not errors.
    lower_kopf_retries()
    kopf_fixes.apply()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_operate(operator, liveness))
    return 0
