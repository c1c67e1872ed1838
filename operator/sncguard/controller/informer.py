"""sncguard's own informer for every watched kind: a paged LIST, then a WATCH, kept as projections.

Why not kopf for these: kopf 1.45 holds the whole listed body of every object in a parked
per-object worker until all of its indexes are filled. At 4,000 pods that was 150 MiB of a
401 MB peak (bench/README.md). Here each page is projected as it arrives and only the
projection is kept, so the peak is one page of bodies whatever the cluster's size. The APIs that
may be absent (Velero's kinds, OpenShift Routes: thousands of Backups per cluster) come this way
too: a 404 makes the kind *absent*, synced and empty, so the engine's start is not held up; it is
listed again when kopf's discovery revises what it knows of the APIs (a CRD created, changed or
deleted: `ApiRevisions`), a few times over a few seconds, since discovery may lag the CRD's event.
No request is made for an absent API between revisions. kopf keeps the policies and the
PolicyReports.

The store has the shape of a kopf index (key -> the values under it), so the engine and the
view read both alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, Protocol

import aiohttp

from ..view import UNREADABLE
from .interning import interned
from .kinds import CLUSTER, Watched, is_managed, owned_copy
from .kube import ApiError

log = logging.getLogger("sncguard.informer")

PAGE_SIZE = 500
# A watch is re-opened at least this long after the previous one opened: the platform throttles
# identical requests to one per second, and a watch re-opened at the same resourceVersion is one.
MIN_WATCH_INTERVAL_S = 1.0
# Retries after the API server answered with an error status (it is there, and said no)...
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
# ...and after it could not be reached (an outage, a restart): kept short, so that the view catches
# up within 2 s of the server answering again. A success (a LIST or a WATCH) starts both afresh.
CONNECTION_BACKOFF_S = (0.5, 1.0, 2.0)

# An absent optional API (404) is listed again after each revision of the APIs, these long after the
# revision, then the one before: the API server's discovery can lag the CRD's Established event by a
# moment, and the first delay keeps the LIST at least a second after the one that found it absent
# (identical requests go at most once a second).
ABSENT_RETRY_S = (1.0, 2.0, 4.0, 8.0)

# (namespace or "", name, the projection before or None when created, after or None when deleted)
OnChange = Callable[[str, str, Any, Any], None]


class ApiRevisions:
    """A count of the revisions of the served APIs (kopf's discovery bumps it on each CRD event).

    `wait_past(seen)` returns once the count exceeds `seen`, so a revision between reading the count
    and waiting is never lost."""

    def __init__(self) -> None:
        self.count = 0
        self._event = asyncio.Event()

    def bump(self) -> None:
        self.count += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_past(self, seen: int) -> None:
        while self.count <= seen:
            await self._event.wait()


class Transport(Protocol):
    async def wait_configured(self) -> None: ...

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None) -> dict[str, Any]: ...

    def watch(self, path: str, params: dict[str, str]) -> AsyncIterator[dict[str, Any]]: ...


def is_connection_error(exc: BaseException) -> bool:
    """The API server could not be reached or stopped answering, as opposed to answering with an error."""
    if isinstance(exc, ApiError):
        return exc.status == 0 and exc.reason == "ConnectionError"
    return isinstance(exc, aiohttp.ClientError | OSError | TimeoutError)


class Expired(Exception):
    """The resourceVersion is too old for the API server (410 Gone): list again."""


class ProjectionStore(Mapping[str, Any]):
    """Namespace (CLUSTER for cluster-scoped objects) -> the projections of the objects in it."""

    def __init__(self) -> None:
        self._by_key: dict[str, dict[str, Any]] = {}

    def __getitem__(self, key: str) -> Any:
        return self._by_key[key].values()

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def get_one(self, key: str, name: str) -> Any | None:
        return self._by_key.get(key, {}).get(name)

    def put(self, key: str, name: str, value: Any) -> Any | None:
        """Store `value` (None removes); return what was there."""
        bucket = self._by_key.get(key)
        if value is None:
            if bucket is None:
                return None
            old = bucket.pop(name, None)
            if not bucket:
                del self._by_key[key]
            return old
        if bucket is None:
            bucket = self._by_key[key] = {}
        old = bucket.get(name)
        bucket[name] = value
        return old

    def names(self) -> set[tuple[str, str]]:
        return {(key, name) for key, bucket in self._by_key.items() for name in bucket}

    def count(self) -> int:
        return sum(len(bucket) for bucket in self._by_key.values())


class Informer:
    def __init__(self, watched: Watched, transport: Transport, on_change: OnChange, *,
                 page_size: int = PAGE_SIZE, server_timeout: int = 300,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 on_availability: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic,
                 api_revisions: ApiRevisions | None = None) -> None:
        self.watched = watched
        self.transport = transport
        self.on_change = on_change
        self.page_size = page_size
        self.server_timeout = server_timeout
        self.store = ProjectionStore()
        # Owned kinds: plain copies of the objects carrying sncguard's managed-by label.
        self.owned = ProjectionStore()
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.lists = 0
        # Objects left out because their projection could not read them (sncguard_skipped_objects_total).
        self.skipped = 0
        # Why sncguard may not list this kind (a 403), None while it may: the policies that read the
        # kind are then not judged (MissingPermission), and every other policy runs on.
        self.forbidden: str | None = None
        # Optional kinds: whether the API serves them (None until the first answer). An absent kind is
        # synced and empty; `on_availability` is called when this flips.
        self.present: bool | None = None
        self.api_revisions = api_revisions or ApiRevisions()
        self.on_availability = on_availability
        self._sleep = sleep
        self._clock = clock

    @property
    def path(self) -> str:
        w = self.watched
        return f"/apis/{w.group}/{w.version}/{w.plural}" if w.group else f"/api/{w.version}/{w.plural}"

    async def run(self) -> None:
        await self.transport.wait_configured()
        # Failures in a row of one sort (unreachable, or an error status): a change of sort starts afresh,
        # so that a server answering 503 while it starts after an outage is not waited for 30 s.
        failures, unreachable_before = 0, False
        absent_tries = len(ABSENT_RETRY_S)  # at start, an absent API waits for the next revision
        while True:
            seen = self.api_revisions.count
            try:
                if not self.resource_version:
                    await self.list()
                    failures = 0
                await self.watch()
                failures = 0
            except ApiError as exc:
                if not (exc.status == 404 and self.watched.optional):
                    failures, unreachable_before = await self._failed(exc, failures, unreachable_before)
                    continue
                self._absent()
                if absent_tries >= len(ABSENT_RETRY_S):
                    # Nothing to ask until the APIs change: no request at all meanwhile.
                    await self.api_revisions.wait_past(seen)
                    absent_tries = 0
                await self._sleep(ABSENT_RETRY_S[absent_tries])
                absent_tries += 1
            except Expired:
                log.info("%s: resourceVersion expired; listing again", self.watched.plural)
                self.resource_version = ""
            # Whatever goes wrong, the informer goes on: one that stopped would leave its store stale for good.
            except Exception as exc:
                failures, unreachable_before = await self._failed(exc, failures, unreachable_before)

    async def _failed(self, exc: Exception, failures: int, unreachable_before: bool) -> tuple[int, bool]:
        """Log, note and wait out one failure; return the failures in a row and their sort."""
        unreachable = is_connection_error(exc)
        if unreachable != unreachable_before:
            failures, unreachable_before = 0, unreachable
        backoff = CONNECTION_BACKOFF_S if unreachable else BACKOFF_S
        delay = backoff[min(failures, len(backoff) - 1)]
        failures += 1
        if unreachable or isinstance(exc, ApiError | ValueError):
            # One line per failure: an outage is no bug, and its tracebacks would bury the log.
            log.warning("%s: %s; retrying in %g s", self.watched.plural, str(exc) or type(exc).__name__,
                        delay)
        else:
            log.exception("%s: unexpected error; retrying in %g s", self.watched.plural, delay)
        if isinstance(exc, ApiError) and exc.status == 410:
            self.resource_version = ""
        if isinstance(exc, ApiError) and exc.status == 403:
            self._refused(exc)
        await self._sleep(delay)
        return failures, unreachable_before

    async def list(self) -> None:
        """One consistent snapshot, a page at a time; what it no longer holds was deleted."""
        seen: set[tuple[str, str]] = set()
        params = {"limit": str(self.page_size)}
        while True:
            try:
                page = await self.transport.request("GET", self.path, params=params)
            except ApiError as exc:
                if exc.status == 410:  # the continue token outlived its snapshot
                    raise Expired from exc
                raise
            for item in page.get("items") or ():
                seen.add(self._upsert(item))
            meta = page.get("metadata") or {}
            if not meta.get("continue"):
                break
            params = {"limit": str(self.page_size), "continue": meta["continue"]}
        for key, name in self.store.names() - seen:
            self._delete(key, name)
        self.resource_version = meta.get("resourceVersion") or ""
        self.lists += 1
        available = False
        if self.forbidden is not None:
            log.info("%s: listing is allowed again", self.watched.plural)
            self.forbidden = None
            available = True
        if self.watched.optional and not self.present:
            if self.present is False:
                log.info("%s: the API is served now", self.watched.plural)
            self.present = True
            available = True
        if available:
            self.on_availability()
        if not self.synced.is_set():
            log.info("%s: %d listed", self.watched.plural, self.store.count())
        self.synced.set()

    async def watch(self) -> None:
        opened = self._clock()
        params = {"watch": "true", "allowWatchBookmarks": "true", "resourceVersion": self.resource_version,
                  "timeoutSeconds": str(self.server_timeout)}
        async for event in self.transport.watch(self.path, params):
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Expired
                raise ApiError(int(obj.get("code") or 0), obj.get("reason", ""), obj.get("message", ""))
            if kind in ("ADDED", "MODIFIED"):
                self._upsert(obj)
            elif kind == "DELETED":
                meta = obj.get("metadata") or {}
                self._delete(meta.get("namespace") or CLUSTER, meta.get("name", ""))
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version:
                self.resource_version = version
        remaining = MIN_WATCH_INTERVAL_S - (self._clock() - opened)
        if remaining > 0:
            await self._sleep(remaining)

    def _upsert(self, body: Mapping[str, Any]) -> tuple[str, str]:
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace") or "", meta.get("name", "")
        key = namespace or CLUSTER
        try:
            projection = interned(self.watched.project(body))
        except UNREADABLE as exc:
            # One object the projection cannot read must not stop the whole kind: it is left out,
            # the log names it and a counter says so.
            self.skipped += 1
            log.warning("%s %s/%s cannot be read (%s): left out", self.watched.kind, namespace, name, exc)
            self._delete(key, name)
            return key, name
        before = self.store.put(key, name, projection)
        owned_changed = False
        if self.watched.owned:
            copy = owned_copy(self.watched, body) if is_managed(body) else None
            owned_changed = self.owned.put(key, name, copy) != copy
        if before != projection or owned_changed:
            self._changed(namespace, name, before, projection)
        return key, name

    def _delete(self, key: str, name: str) -> None:
        before = self.store.put(key, name, None)
        owned_before = self.owned.put(key, name, None)
        if before is not None or owned_before is not None:
            self._changed("" if key == CLUSTER else key, name, before, None)

    def _absent(self) -> None:
        """The API does not serve the kind (404: its CRD is not installed, or was deleted): the kind
        is synced and empty, whatever it held is reported gone, and the engine starts without it."""
        if self.present is not False:
            log.info("%s: the API is not served (%s absent)", self.watched.plural, self.watched.group)
        for key, name in self.store.names() | self.owned.names():
            self._delete(key, name)
        self.resource_version = ""
        was = self.present
        self.present = False
        if self.forbidden is not None:
            self.forbidden = None
            was = None
        self.synced.set()
        if was is not False:
            self.on_availability()

    def _refused(self, exc: ApiError) -> None:
        """The API refuses to list the kind: say so once, and stop holding up the engine's start."""
        first = self.forbidden is None
        self.forbidden = exc.message or str(exc)
        if first:
            log.warning("%s: sncguard may not list them (%s): the policies that read them are not judged",
                        self.watched.plural, self.forbidden)
            self.on_availability()
        # Nothing to wait for: the engine starts, and judges what it can.
        self.synced.set()

    def _changed(self, namespace: str, name: str, before: Any, after: Any) -> None:
        # The initial list fills the store silently: the engine evaluates every policy once it
        # is synced anyway. Later lists (after a 410) do report what moved meanwhile, from what the
        # store held.
        if self.synced.is_set():
            self.on_change(namespace, name, before, after)
