"""A small Kubernetes API client for the few writes sncguard makes.

It writes (status merge patches, server-side apply of owned objects and workload fields,
deletions of owned objects, events) and streams the built-in kinds' lists and watches for the
informers. It authenticates with the credentials kopf resolved at login, so the operator has
one source of identity.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
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


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


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
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        # Watches hold their connection for minutes: they get a pool of their own, so that
        # they never queue the writes behind them.
        self._watch_session: aiohttp.ClientSession | None = None
        self._configured = asyncio.Event()
        self._server = ""
        self._headers: dict[str, str] = {}
        self._tempfiles: list[Any] = []
        # Requests by (verb, outcome), read by the metrics.
        self.requests: Counter[tuple[str, str]] = Counter()

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
        """The events of one watch request, parsed one line at a time, until the server ends it."""
        if self._watch_session is None:
            raise ApiError(0, "NotConfigured", "the API client has no credentials yet")
        headers = {**self._headers, "Accept": "application/json"}
        try:
            async with self._watch_session.get(self._server + path, params=params, headers=headers) as response:
                if response.status >= 400:
                    self.requests[("watch", str(response.status))] += 1
                    text = await response.text()
                    payload = json.loads(text) if text.startswith("{") else {}
                    raise ApiError(response.status, payload.get("reason", ""), payload.get("message", text[:300]))
                self.requests[("watch", "ok")] += 1
                buffer = bytearray()
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    start = 0
                    while (end := buffer.find(b"\n", start)) >= 0:
                        if end > start:
                            yield json.loads(buffer[start:end])
                        start = end + 1
                    del buffer[:start]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(0, "ConnectionError", str(exc) or type(exc).__name__) from exc

    @property
    def ready(self) -> bool:
        return self._session is not None

    async def request(self, method: str, path: str, *, body: Any = None, content_type: str = "application/json",
                      params: dict[str, str] | None = None) -> dict[str, Any]:
        if self._session is None:
            raise ApiError(0, "NotConfigured", "the API client has no credentials yet")
        headers = {**self._headers, "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        verb = method.lower()
        try:
            async with self._session.request(method, self._server + path, data=data, headers=headers,
                                             params=params) as response:
                text = await response.text()
                payload = json.loads(text) if text else {}
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.requests[(verb, "error")] += 1
            raise ApiError(0, "ConnectionError", str(exc)) from exc
        if response.status >= 400:
            self.requests[(verb, str(response.status))] += 1
            raise ApiError(response.status, payload.get("reason", ""), payload.get("message", text[:300]))
        self.requests[(verb, "ok")] += 1
        return payload

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

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return await self.request("POST", resource_path(obj["apiVersion"], obj["kind"], meta.get("namespace")),
                                  body=obj)

    async def post_event(self, api_version: str, kind: str, namespace: str, name: str, uid: str,
                         reason: str, message: str, type_: str = "Normal") -> dict[str, Any]:
        """A core/v1 Event on a policy; cluster-scoped policies get theirs in `default`."""
        from datetime import UTC, datetime

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
