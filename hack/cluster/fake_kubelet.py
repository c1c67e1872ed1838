#!/usr/bin/env python3
"""The kubelet's part for the fake nodes of the local cluster: run bound pods, finish deletions.

A control plane without kubelets schedules pods that then stay Pending forever, and deleted pods
that stay Terminating forever (so Deployments never roll and namespaces never finish deleting).
This process does exactly the two kubelet duties the tests need, for pods bound to a node
(``spec.nodeName`` set) that exists and is Ready:

* a pod that is not yet running gets ``pods/status`` patched to phase Running: conditions
  PodScheduled, PodReadyToStartContainers, Initialized, ContainersReady and Ready True, a unique
  podIP from 10.244.0.0/16 (the node's address for hostNetwork pods), hostIP, startTime and a
  running, ready status per container (init containers: terminated, Completed);
* a pod with a ``deletionTimestamp`` is deleted with gracePeriodSeconds=0 and a uid precondition,
  which is what a kubelet does once the containers are gone.

Why a small loop of our own rather than kwok: kwok is another Go program to fetch and build (this
project builds its binaries from source, so one more build step and cache), while this starts
instantly with the venv it already has, does only the two duties above, and is short enough to
read. Node heartbeats are not needed: the local cluster runs without the node-lifecycle
controller, so registered nodes stay Ready.

Pods on a node that is missing or not Ready are left alone, like a dead kubelet would: a test can
patch a node's Ready condition to False to simulate an outage, and pods there keep their last
status (and stay Terminating when deleted) until the node is Ready again.

Per-pod overrides, with the annotation ``localcluster.sncguard/kubelet``:

* ``ignore``: leave the pod alone (it stays Pending, or as it is);
* ``not-ready``: run it, but with its containers not ready (flip back by removing the annotation).

Pods and nodes are followed with list+watch: the watch resumes from the last resourceVersion after
timeouts and errors, and relists on 410 Gone. Work is de-duplicated per pod and done by a pool of
workers, so thousands of pods are fine.

Usage: fake_kubelet.py --kubeconfig PATH [--workers N] [--watch-timeout S] [-v]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import random
import signal
import ssl
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ANNOTATION = "localcluster.sncguard/kubelet"
POD_NETWORK = ipaddress.ip_network("10.244.0.0/16")
SMP = "application/strategic-merge-patch+json"

log = logging.getLogger("fake-kubelet")


class ApiError(Exception):
    def __init__(self, status: int, body: Any):
        super().__init__(f"HTTP {status}: {str(body)[:300]}")
        self.status = status
        self.body = body


class Gone(Exception):
    """The watch's resourceVersion is too old: relist."""


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _rv(obj: dict[str, Any]) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


def load_kubeconfig(path: str) -> tuple[str, ssl.SSLContext]:
    """Server URL and a TLS context from a kubeconfig with certificate data or file references."""
    cfg = yaml.safe_load(Path(path).read_text())
    ctx_name = cfg.get("current-context")
    context = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == context["user"])
    base = Path(path).resolve().parent

    def material(data_key: str, file_key: str, section: dict[str, Any]) -> bytes | None:
        if section.get(data_key):
            return base64.b64decode(section[data_key])
        if section.get(file_key):
            return (base / section[file_key]).read_bytes()
        return None

    ctx = ssl.create_default_context()
    ca = material("certificate-authority-data", "certificate-authority", cluster)
    if ca:
        ctx.load_verify_locations(cadata=ca.decode())
    cert = material("client-certificate-data", "client-certificate", user)
    key = material("client-key-data", "client-key", user)
    if cert and key:
        with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain wants files
            (Path(tmp) / "c").write_bytes(cert)
            (Path(tmp) / "k").write_bytes(key)
            ctx.load_cert_chain(str(Path(tmp) / "c"), str(Path(tmp) / "k"))
    return cluster["server"].rstrip("/"), ctx


class Client:
    def __init__(self, server: str, ctx: ssl.SSLContext, connections: int):
        self.server = server
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=connections),
            headers={"Accept": "application/json", "User-Agent": "sncguard-fake-kubelet"})

    async def close(self) -> None:
        await self.session.close()

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json",
                      timeout: float = 30) -> Any:
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self.session.request(
                method, self.server + path, params=params, headers=headers,
                data=None if body is None else json.dumps(body),
                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            raw = await resp.read()
            data: Any = raw.decode(errors="replace")
            with contextlib.suppress(ValueError):
                data = json.loads(raw) if raw else None
            if resp.status >= 300:
                raise ApiError(resp.status, data)
            return data

    async def list_all(self, path: str, params: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        cont = None
        while True:
            page_params = dict(params, limit="500")
            if cont:
                page_params["continue"] = cont
            data = await self.request("GET", path, params=page_params, timeout=120)
            items.extend(data.get("items") or [])
            cont = data["metadata"].get("continue")
            if not cont:
                return items, data["metadata"]["resourceVersion"]

    async def watch(self, path: str, params: dict[str, str], rv: str,
                    timeout_seconds: int) -> AsyncIterator[dict[str, Any]]:
        params = dict(params, watch="true", resourceVersion=rv, allowWatchBookmarks="true",
                      timeoutSeconds=str(timeout_seconds))
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_seconds + 60)
        async with self.session.get(self.server + path, params=params, timeout=timeout) as resp:
            if resp.status == 410:
                raise Gone()
            if resp.status >= 300:
                raise ApiError(resp.status, (await resp.read())[:300])
            rest = b""
            # Lines can be longer than aiohttp's readline limit: split chunks ourselves.
            async for chunk in resp.content.iter_any():
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    if line.strip():
                        yield json.loads(line)


class FakeKubelet:
    def __init__(self, client: Client, workers: int = 16, watch_timeout: int = 240):
        self.client = client
        self.workers = workers
        self.watch_timeout = watch_timeout
        self.nodes: dict[str, dict[str, Any]] = {}  # name -> {"ready": bool, "ip": str}
        self.pods: dict[str, dict[str, Any]] = {}  # uid -> latest pod
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self.ips: dict[str, str] = {}  # uid -> pod IP
        self.used_ips: set[str] = set()
        self._next_ip = 1
        self.start_times: dict[str, str] = {}
        self.deleting: set[str] = set()
        self.nodes_synced = asyncio.Event()
        self.pods_synced = asyncio.Event()
        self.stats = {"started": 0, "deleted": 0, "errors": 0, "relists": 0, "rewatches": 0}

    # ---- informers

    async def informer(self, kind: str, path: str, params: dict[str, str],
                       on_list: Callable[[list[dict[str, Any]]], None],
                       on_event: Callable[[str, dict[str, Any]], None],
                       synced: asyncio.Event) -> None:
        rv: str | None = None
        backoff = 0.2
        while True:
            try:
                if rv is None:
                    items, rv = await self.client.list_all(path, params)
                    on_list(items)
                    self.stats["relists"] += 1
                    if not synced.is_set():
                        synced.set()
                    log.info("listed %d %s at resourceVersion %s", len(items), kind, rv)
                started, events = time.monotonic(), 0
                async for event in self.client.watch(path, params, rv, self.watch_timeout):
                    events += 1
                    typ, obj = event.get("type"), event.get("object") or {}
                    if typ == "ERROR":
                        if obj.get("code") == 410:
                            raise Gone()
                        raise ApiError(obj.get("code") or 0, obj)
                    rv = obj.get("metadata", {}).get("resourceVersion") or rv
                    if typ != "BOOKMARK":
                        on_event(typ, obj)
                    backoff = 0.2
                self.stats["rewatches"] += 1  # the server ended the watch (timeoutSeconds)
                lasted = time.monotonic() - started
                if lasted < self.watch_timeout / 2:
                    log.info("%s watch ended early after %.1fs and %d events; resuming at %s",
                             kind, lasted, events, rv)
            except asyncio.CancelledError:
                raise
            except Gone:
                log.info("%s watch: resourceVersion %s expired (410 Gone), relisting", kind, rv)
                rv = None
            except Exception as e:  # connection reset, apiserver restarting, timeouts...
                self.stats["errors"] += 1
                log.warning("%s watch failed (%s: %s), retrying in %.1fs",
                            kind, type(e).__name__, e, backoff)
                await asyncio.sleep(backoff + random.random() * backoff)
                backoff = min(backoff * 2, 5.0)

    def nodes_listed(self, items: list[dict[str, Any]]) -> None:
        old = self.nodes
        self.nodes = {}
        for node in items:
            self._node_seen(node, old)

    def node_event(self, typ: str, node: dict[str, Any]) -> None:
        if typ == "DELETED":
            self.nodes.pop(node["metadata"]["name"], None)
        else:
            self._node_seen(node, self.nodes)

    def _node_seen(self, node: dict[str, Any], before: dict[str, dict[str, Any]]) -> None:
        name = node["metadata"]["name"]
        status = node.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in status.get("conditions") or [])
        ip = next((a["address"] for a in status.get("addresses") or []
                   if a.get("type") == "InternalIP"), "")
        was = before.get(name)
        self.nodes[name] = {"ready": ready, "ip": ip}
        if ready and not (was and was["ready"]):
            for uid, pod in self.pods.items():  # a node came (back): catch up on its pods
                if pod["spec"].get("nodeName") == name:
                    self.enqueue(uid)

    def pods_listed(self, items: list[dict[str, Any]]) -> None:
        fresh = {p["metadata"]["uid"]: p for p in items}
        for uid in set(self.pods) - set(fresh):
            self._forget(uid)
        self.pods = fresh
        for uid, pod in fresh.items():
            ip = (pod.get("status") or {}).get("podIP")
            if ip and uid not in self.ips and not pod["spec"].get("hostNetwork") \
                    and ip not in self.used_ips:
                self.ips[uid] = ip
                self.used_ips.add(ip)
            self.enqueue(uid)

    def pod_event(self, typ: str, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        if typ == "DELETED":
            self._forget(uid)
            return
        current = self.pods.get(uid)
        if current is None or _rv(pod) >= _rv(current):
            self.pods[uid] = pod
        self.enqueue(uid)

    def _forget(self, uid: str) -> None:
        self.pods.pop(uid, None)
        self.start_times.pop(uid, None)
        self.deleting.discard(uid)
        ip = self.ips.pop(uid, None)
        if ip:
            self.used_ips.discard(ip)

    # ---- work

    def enqueue(self, uid: str) -> None:
        if uid not in self.queued:
            self.queued.add(uid)
            self.queue.put_nowait(uid)

    async def worker(self) -> None:
        while True:
            uid = await self.queue.get()
            self.queued.discard(uid)
            try:
                await self.sync(uid)
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.status in (404, 409, 422):
                    if e.status == 422:
                        log.error("pod %s: %s", uid, e)
                    continue
                self._retry_later(uid, e)
            except Exception as e:
                self._retry_later(uid, e)

    def _retry_later(self, uid: str, error: Exception) -> None:
        self.stats["errors"] += 1
        log.warning("pod %s: %s: %s (retrying)", uid, type(error).__name__, error)
        asyncio.get_running_loop().call_later(0.5 + random.random(), self.enqueue, uid)

    async def sync(self, uid: str) -> None:
        pod = self.pods.get(uid)
        if pod is None:
            return
        meta, spec = pod["metadata"], pod["spec"]
        node = self.nodes.get(spec.get("nodeName") or "")
        if node is None or not node["ready"]:
            return
        mode = (meta.get("annotations") or {}).get(ANNOTATION, "")
        if mode == "ignore":
            return
        if meta.get("deletionTimestamp"):
            if uid in self.deleting and meta.get("deletionGracePeriodSeconds") == 0:
                return  # already deleted, waiting for finalizers
            self.deleting.add(uid)
            await self.client.request(
                "DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                      "preconditions": {"uid": uid}})
            self.stats["deleted"] += 1
            log.debug("deleted %s/%s", meta["namespace"], meta["name"])
            return
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            return
        desired = self.desired_status(pod, node, ready=mode != "not-ready")
        if _matches(status, desired):
            return
        updated = await self.client.request(
            "PATCH", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
            body={"metadata": {"uid": uid}, "status": desired}, content_type=SMP)
        if updated and _rv(updated) > _rv(self.pods.get(uid) or pod) and uid in self.pods:
            self.pods[uid] = updated
        if status.get("phase") != "Running":
            self.stats["started"] += 1
        log.debug("running %s/%s on %s", meta["namespace"], meta["name"], spec.get("nodeName"))

    def pod_ip(self, uid: str) -> str:
        if uid in self.ips:
            return self.ips[uid]
        size = POD_NETWORK.num_addresses - 2
        for _ in range(size):
            ip = str(POD_NETWORK.network_address + self._next_ip)
            self._next_ip = self._next_ip % size + 1
            if ip not in self.used_ips:
                self.ips[uid] = ip
                self.used_ips.add(ip)
                return ip
        raise RuntimeError("pod network exhausted")

    def desired_status(self, pod: dict[str, Any], node: dict[str, Any], ready: bool) -> dict[str, Any]:
        uid, spec = pod["metadata"]["uid"], pod["spec"]
        status = pod.get("status") or {}
        now = _now()
        start = status.get("startTime") or self.start_times.setdefault(uid, now)
        host_ip = node["ip"]
        pod_ip = host_ip if spec.get("hostNetwork") else self.pod_ip(uid)

        def ids(name: str, image: str) -> dict[str, str]:
            digest = hashlib.sha256(image.encode()).hexdigest()
            image_id = image if "@sha256:" in image else f"{image}@sha256:{digest}"
            cid = hashlib.sha256(f"{uid}/{name}".encode()).hexdigest()
            return {"image": image, "imageID": image_id, "containerID": f"fake://{cid}"}

        containers = []
        for c in spec.get("containers") or []:
            containers.append({"name": c["name"], **ids(c["name"], c.get("image", "")),
                               "ready": ready, "started": True, "restartCount": 0,
                               "state": {"running": {"startedAt": start}}, "lastState": {}})
        inits = []
        for c in spec.get("initContainers") or []:
            base = {"name": c["name"], **ids(c["name"], c.get("image", "")), "restartCount": 0,
                    "lastState": {}}
            if c.get("restartPolicy") == "Always":  # a sidecar keeps running
                inits.append({**base, "ready": ready, "started": True,
                              "state": {"running": {"startedAt": start}}})
            else:
                inits.append({**base, "ready": True, "started": False, "state": {"terminated": {
                    "exitCode": 0, "reason": "Completed", "startedAt": start,
                    "finishedAt": start, "containerID": base["containerID"]}}})

        old = {c.get("type"): c for c in status.get("conditions") or []}
        gates_ok = all(old.get(g.get("conditionType"), {}).get("status") == "True"
                       for g in spec.get("readinessGates") or [])

        def cond(typ: str, ok: bool) -> dict[str, Any]:
            value = "True" if ok else "False"
            prev = old.get(typ) or {}
            since = prev.get("lastTransitionTime") if prev.get("status") == value else None
            c = {"type": typ, "status": value, "lastProbeTime": None,
                 "lastTransitionTime": since or now}
            if ok:
                c["reason"] = c["message"] = None  # strategic merge: drop stale ones
            else:
                c["reason"] = "ContainersNotReady" if typ != "Ready" or not ready \
                    else "ReadinessGatesNotReady"
            return c

        desired: dict[str, Any] = {
            "phase": "Running",
            "conditions": [cond("PodReadyToStartContainers", True), cond("Initialized", True),
                           cond("ContainersReady", ready), cond("Ready", ready and gates_ok),
                           cond("PodScheduled", True)],
            "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
            "startTime": start,
            "containerStatuses": containers,
        }
        if inits:
            desired["initContainerStatuses"] = inits
        if pod["metadata"].get("generation"):
            desired["observedGeneration"] = pod["metadata"]["generation"]
        return desired

    # ---- main

    async def report(self) -> None:
        while True:
            await asyncio.sleep(30)
            log.info("pods known=%d queued=%d %s", len(self.pods), self.queue.qsize(),
                     " ".join(f"{k}={v}" for k, v in self.stats.items()))

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.informer(
            "nodes", "/api/v1/nodes", {}, self.nodes_listed, self.node_event, self.nodes_synced))]
        await self.nodes_synced.wait()
        tasks.append(asyncio.create_task(self.informer(
            "pods", "/api/v1/pods", {"fieldSelector": "spec.nodeName!="},
            self.pods_listed, self.pod_event, self.pods_synced)))
        await self.pods_synced.wait()
        tasks += [asyncio.create_task(self.worker()) for _ in range(self.workers)]
        tasks.append(asyncio.create_task(self.report()))
        log.info("synced: %d nodes (%d ready), %d bound pods", len(self.nodes),
                 sum(n["ready"] for n in self.nodes.values()), len(self.pods))
        await asyncio.gather(*tasks)


def _matches(status: dict[str, Any], desired: dict[str, Any]) -> bool:
    if status.get("phase") != desired["phase"] or status.get("podIP") != desired["podIP"] \
            or status.get("hostIP") != desired["hostIP"]:
        return False
    have = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if any(have.get(c["type"]) != c["status"] for c in desired["conditions"]):
        return False
    for key in ("containerStatuses", "initContainerStatuses"):
        want = {c["name"]: (c["ready"], next(iter(c["state"]))) for c in desired.get(key, [])}
        got = {c.get("name"): (c.get("ready"), next(iter(c.get("state") or {"": 0})))
               for c in status.get(key) or []}
        if want != got:
            return False
    return True


async def amain(args: argparse.Namespace) -> None:
    server, ctx = load_kubeconfig(args.kubeconfig)
    client = Client(server, ctx, connections=args.workers + 8)
    kubelet = FakeKubelet(client, workers=args.workers, watch_timeout=args.watch_timeout)
    main_task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)
    log.info("fake kubelet for %s (pid %d)", server, os.getpid())
    try:
        await kubelet.run()
    except asyncio.CancelledError:
        log.info("stopping: %s", " ".join(f"{k}={v}" for k, v in kubelet.stats.items()))
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake kubelet for the local cluster's nodes.")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"), required=False)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--watch-timeout", type=int, default=240,
                        help="seconds before the server ends each watch (then it resumes)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if not args.kubeconfig:
        parser.error("--kubeconfig (or KUBECONFIG) is required")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(amain(args))


if __name__ == "__main__":
    main()
