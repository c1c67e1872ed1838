"""A small Kubernetes API client for the few writes sncguard makes.

It writes (status merge patches, server-side apply of owned objects and workload fields,
deletions of owned objects, events) and streams the built-in kinds' lists and watches for the
informers. It authenticates with the credentials kopf resolved at login, so the operator has
one source of identity.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import ssl
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from .. import FIELD_MANAGER, __version__

log = logging.getLogger(__name__)

# Kinds sncguard writes, by (apiVersion, kind) -> plural.
PLURALS: dict[tuple[str, str], str] = {
    ("apps/v1", "Deployment"): "deployments",
    ("apps/v1", "StatefulSet"): "statefulsets",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicies",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "rolebindings",
    ("velero.io/v1", "Schedule"): "schedules",
    ("velero.io/v1", "Restore"): "restores",
    ("v1", "Namespace"): "namespaces",
    ("v1", "Event"): "events",
    ("wgpolicyk8s.io/v1alpha2", "PolicyReport"): "policyreports",
    ("wgpolicyk8s.io/v1alpha2", "ClusterPolicyReport"): "clusterpolicyreports",
    ("sncguard.io/v1alpha1", "ZoneSpread"): "zonespreads",
    ("sncguard.io/v1alpha1", "TenantPolicy"): "tenantpolicies",
    ("sncguard.io/v1alpha1", "BackupPolicy"): "backuppolicies",
}


# A watch asks the server to end it after its timeoutSeconds; a read silent for longer than this
# means the connection is gone.
WATCH_READ_TIMEOUT_S = 400

# API Priority and Fairness answers 429 (text/plain, `Retry-After: 3`) when sncguard's flow is over
# its share; 503 may come with a Retry-After too. Either is waited out (as the server says, within
# bounds) and the same request sent again, this many times at most.
THROTTLED_STATUSES = frozenset({429, 503})
THROTTLE_RETRIES = 5
DEFAULT_RETRY_AFTER_S = 1.0
MAX_RETRY_AFTER_S = 60.0
# The client-side rate limit (`sncguard run --qps/--burst`): a token bucket over every request,
# watches included until their stream is open.
DEFAULT_QPS = 200.0
DEFAULT_BURST = 1000
# Identical requests (verb, path, query, body) go at most once per this many seconds: a repeat is
# delayed to the mark, never dropped.
IDENTICAL_INTERVAL_S = 1.0
# An error's body in a message (and so in logs and statuses) is cut to this.
MAX_ERROR_TEXT = 500

Sleep = Callable[[float], Awaitable[Any]]
Clock = Callable[[], float]


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


# What an outage or a refusal raises, as opposed to a bug: logged in one line, without a traceback.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ApiError, aiohttp.ClientError, OSError, TimeoutError)


def retry_after(value: str | None, *, now: datetime | None = None) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), within 0..MAX_RETRY_AFTER_S;
    DEFAULT_RETRY_AFTER_S when absent or unreadable."""
    if not value or not value.strip():
        return DEFAULT_RETRY_AFTER_S
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return DEFAULT_RETRY_AFTER_S
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return DEFAULT_RETRY_AFTER_S
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def error_from(status: int, status_line_reason: str, text: str) -> ApiError:
    """The ApiError of an error response, whatever its body: a Kubernetes Status (JSON) gives its
    reason and message; any other body (APF's text/plain 429, a proxy's HTML 503) is the message
    as it is, trimmed, under the reason of the status line."""
    payload: Any = None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            payload = json.loads(stripped)
        except ValueError:
            payload = None
    if isinstance(payload, dict) and ("reason" in payload or "message" in payload):
        return ApiError(status, str(payload.get("reason") or status_line_reason or ""),
                        str(payload.get("message") or "")[:MAX_ERROR_TEXT])
    return ApiError(status, status_line_reason or "", stripped[:MAX_ERROR_TEXT])


class TokenBucket:
    """`qps` requests a second on average, `burst` at once; qps <= 0 means no limit.

    A request takes its token at once (the count may go below zero) and waits until the bucket has
    refilled that far, so concurrent requests queue in the order they asked."""

    def __init__(self, qps: float, burst: int, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.qps = qps
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()

    def reserve(self) -> float:
        """Take a token; return how long to wait before using it."""
        if self.qps <= 0:
            return 0.0
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.qps)
        self._stamp = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def take(self) -> float:
        wait = self.reserve()
        if wait > 0:
            try:
                await self._sleep(wait)
            except asyncio.CancelledError:
                self._tokens += 1.0  # not used: give it back
                raise
        return wait


def _pem(data: bytes | str) -> bytes:
    """kubeconfig `*-data` fields arrive base64-encoded from kopf; files arrive as PEM."""
    raw = data if isinstance(data, bytes) else data.encode()
    return raw if raw.lstrip().startswith(b"-----BEGIN") else base64.b64decode(raw)


def resource_path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    plural = PLURALS[(api_version, kind)]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    path = f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"
    return f"{path}/{name}" if name else path


class KubeClient:
    def __init__(self, *, qps: float = DEFAULT_QPS, burst: int = DEFAULT_BURST, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self._session: aiohttp.ClientSession | None = None
        # Watches hold their connection for minutes: they get a pool of their own, so that
        # they never queue the writes behind them.
        self._watch_session: aiohttp.ClientSession | None = None
        self._configured = asyncio.Event()
        self._server = ""
        self._headers: dict[str, str] = {}
        self._tempfiles: list[Any] = []
        # Requests by (verb, outcome), read by the metrics. Outcomes: ok, error (no answer),
        # throttled (a 429 or 503 waited out and retried), invalid (a 2xx body not JSON), or the status.
        self.requests: Counter[tuple[str, str]] = Counter()
        self._clock = clock
        self._sleep = sleep
        self._bucket = TokenBucket(qps, burst, clock=clock, sleep=sleep)
        # When each request sent in the last second went (or will go), by its identity.
        self._recent: dict[tuple[str, str, str, str | None], float] = {}
        self._pruned = clock()

    def set_rate_limit(self, qps: float, burst: int) -> None:
        """The client-side limit: `qps` requests a second on average, `burst` at once (qps <= 0: none)."""
        self._bucket = TokenBucket(qps, burst, clock=self._clock, sleep=self._sleep)

    async def _limit(self, verb: str, path: str, params: dict[str, str] | None, data: str | None) -> None:
        """Wait for the rate limit, then for the identical-request rule (at most one a second)."""
        await self._bucket.take()
        now = self._clock()
        if now - self._pruned >= IDENTICAL_INTERVAL_S:
            horizon = now - IDENTICAL_INTERVAL_S
            self._recent = {k: t for k, t in self._recent.items() if t > horizon}
            self._pruned = now
        key = (verb, path, json.dumps(params or {}, sort_keys=True), data)
        last = self._recent.get(key)
        due = now if last is None else max(now, last + IDENTICAL_INTERVAL_S)
        # Reserved at once: a third identical request waits for the second one's mark plus a second.
        self._recent[key] = due
        if due > now:
            log.debug("%s %s: the same request went less than a second ago; this one waits %.2f s",
                      verb.upper(), path, due - now)
            await self._sleep(due - now)

    def _throttled(self, verb: str, path: str, error: ApiError, header: str | None, attempt: int) -> float:
        """Count and log one throttled response; the wait before the next attempt, or raise the error
        once THROTTLE_RETRIES retries are spent."""
        self.requests[(verb, "throttled")] += 1
        what = f"{verb.upper()} {path}: throttled by the API server ({error.status} {error.reason}"
        what += f": {error.message})" if error.message else ")"
        if attempt >= THROTTLE_RETRIES:
            log.warning("%s; giving up after %d attempts", what, attempt + 1)
            raise error
        delay = retry_after(header)
        log.warning("%s; retrying in %g s (%d/%d)", what, delay, attempt + 1, THROTTLE_RETRIES)
        return delay

    async def configure(self, info: Any) -> None:
        """Take kopf's ConnectionInfo: server, CA, client certificate or token."""
        await self.close()
        context = ssl.create_default_context()
        if info.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif info.ca_path:
            context.load_verify_locations(cafile=info.ca_path)
        elif info.ca_data:
            context.load_verify_locations(cadata=_pem(info.ca_data).decode())
        cert_path, key_path = info.certificate_path, info.private_key_path
        if info.certificate_data and info.private_key_data:
            cert_path = self._spill(_pem(info.certificate_data))
            key_path = self._spill(_pem(info.private_key_data))
        if cert_path and key_path:
            context.load_cert_chain(cert_path, key_path)
        # The user agent names the field manager of non-apply writes (status) in managedFields.
        self._headers = {"User-Agent": f"{FIELD_MANAGER}/{__version__}"}
        if info.token:
            self._headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
        self._server = info.server.rstrip("/")
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=8),
                                              timeout=aiohttp.ClientTimeout(total=30))
        self._watch_session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=WATCH_READ_TIMEOUT_S))
        self._configured.set()

    def _spill(self, data: bytes) -> str:
        handle = tempfile.NamedTemporaryFile(prefix="sncguard-", delete=True)  # noqa: SIM115 - lives as long as us
        handle.write(data)
        handle.flush()
        self._tempfiles.append(handle)
        return handle.name

    async def close(self) -> None:
        for session in (self._session, self._watch_session):
            if session is not None:
                await session.close()
        self._session = self._watch_session = None

    async def wait_configured(self) -> None:
        await self._configured.wait()

    async def watch(self, path: str, params: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        """The events of one watch request, parsed one line at a time, until the server ends it.

        Opening it counts against the rate limit and waits out a 429 or 503 like any request; the open
        stream does not."""
        headers = {**self._headers, "Accept": "application/json"}
        for attempt in range(THROTTLE_RETRIES + 1):
            if self._watch_session is None:
                raise ApiError(0, "NotConfigured", "the API client has no credentials yet")
            await self._limit("watch", path, params, None)
            opened = False
            try:
                async with self._watch_session.get(self._server + path, params=params,
                                                   headers=headers) as response:
                    if response.status < 400:
                        opened = True
                        self.requests[("watch", "ok")] += 1
                        async with contextlib.aclosing(self._events(response)) as events:
                            async for event in events:
                                yield event
                        return
                    text = await response.text(errors="replace")
                    error = error_from(response.status, response.reason or "", text)
                    if response.status not in THROTTLED_STATUSES:
                        self.requests[("watch", str(response.status))] += 1
                        raise error
                    delay = self._throttled("watch", path, error, response.headers.get("Retry-After"), attempt)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if not opened:  # a stream cut later was counted ok when it opened
                    self.requests[("watch", "error")] += 1
                raise ApiError(0, "ConnectionError", str(exc) or type(exc).__name__) from exc
            await self._sleep(delay)

    @staticmethod
    async def _events(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
        buffer = bytearray()
        async for chunk in response.content.iter_any():
            buffer += chunk
            start = 0
            while (end := buffer.find(b"\n", start)) >= 0:
                if end > start:
                    line = bytes(buffer[start:end])
                    try:
                        event = json.loads(line)
                    except ValueError:
                        raise ApiError(response.status, "InvalidResponse",
                                       "a watch event is not JSON: " + line[:200].decode(errors="replace")) from None
                    yield event
                start = end + 1
            del buffer[:start]

    async def request(self, method: str, path: str, *, body: Any = None, content_type: str = "application/json",
                      params: dict[str, str] | None = None) -> dict[str, Any]:
        """One API request, within the rate limit; a 429 or 503 is waited out and sent again."""
        headers = {**self._headers, "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        verb = method.lower()
        for attempt in range(THROTTLE_RETRIES + 1):
            if self._session is None:
                raise ApiError(0, "NotConfigured", "the API client has no credentials yet")
            await self._limit(verb, path, params, data)
            try:
                async with self._session.request(method, self._server + path, data=data, headers=headers,
                                                 params=params) as response:
                    status, reason = response.status, response.reason or ""
                    header = response.headers.get("Retry-After")
                    text = await response.text(errors="replace")
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.requests[(verb, "error")] += 1
                raise ApiError(0, "ConnectionError", str(exc) or type(exc).__name__) from exc
            if status in THROTTLED_STATUSES:
                error = error_from(status, reason, text)
                await self._sleep(self._throttled(verb, path, error, header, attempt))
                continue
            if status >= 400:
                self.requests[(verb, str(status))] += 1
                raise error_from(status, reason, text)
            try:
                payload = json.loads(text) if text.strip() else {}
            except ValueError:
                self.requests[(verb, "invalid")] += 1
                raise ApiError(status, "InvalidResponse",
                               "the response is not JSON: " + text.strip()[:MAX_ERROR_TEXT]) from None
            self.requests[(verb, "ok")] += 1
            return payload
        raise AssertionError("unreachable: the last throttled attempt raises")

    async def apply(self, obj: dict[str, Any], *, force: bool = False, manager: str = FIELD_MANAGER) -> dict[str, Any]:
        """Server-side apply under `manager` (`sncguard` by default); conflicts are not forced by default."""
        meta = obj["metadata"]
        path = resource_path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        params = {"fieldManager": manager}
        if force:
            params["force"] = "true"
        return await self.request("PATCH", path, body=obj, content_type="application/apply-patch+yaml",
                                  params=params)

    async def patch_status(self, api_version: str, kind: str, namespace: str | None, name: str,
                           status_patch: dict[str, Any]) -> dict[str, Any]:
        path = resource_path(api_version, kind, namespace, name) + "/status"
        return await self.request("PATCH", path, body={"status": status_patch},
                                  content_type="application/merge-patch+json")

    async def delete(self, api_version: str, kind: str, namespace: str | None, name: str,
                     uid: str | None = None) -> None:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            await self.request("DELETE", resource_path(api_version, kind, namespace, name), body=body)
        except ApiError as exc:
            if exc.status != 404:
                raise

    async def post_event(self, api_version: str, kind: str, namespace: str, name: str, uid: str,
                         reason: str, message: str, type_: str = "Normal") -> dict[str, Any]:
        """A core/v1 Event on a policy; cluster-scoped policies get theirs in `default`."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event_namespace = namespace or "default"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": event_namespace},
            "involvedObject": {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
                               **({"namespace": namespace} if namespace else {})},
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "source": {"component": "sncguard"},
            "reportingComponent": "sncguard",
            "reportingInstance": "sncguard",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        return await self.request("POST", f"/api/v1/namespaces/{event_namespace}/events", body=event)

    async def merge_patch(self, api_version: str, kind: str, namespace: str | None, name: str,
                          patch: dict[str, Any]) -> dict[str, Any]:
        return await self.request("PATCH", resource_path(api_version, kind, namespace, name), body=patch,
                                  content_type="application/merge-patch+json")
