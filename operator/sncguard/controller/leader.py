"""Leader election on a coordination.k8s.io Lease, so that two replicas guard one cluster.

Every replica watches and keeps its caches warm; only the holder of the Lease evaluates and
writes (the engine waits on `leading`). The algorithm is client-go's leaderelection:

- the holder renews `renewTime` every `retry_period`; if it cannot renew for `renew_deadline`, it
  stops leading at once (before its lease can have expired for the others: no split brain);
- a candidate takes the Lease over once it has seen the same record unchanged for
  `lease_duration`, timed on its own monotonic clock, never by comparing the record's timestamps
  with its wall clock (replicas' clocks may disagree);
- every write carries the resourceVersion read, so of two candidates only one wins.

The Lease also keeps, in its annotation `sncguard.io/unobserved`, the recent times when no replica
led (from the last renewal of a holder to the next taking over), written with the takeover itself:
the SLA ledger counts them as unobserved (sla.py).

A leader that stops cleanly releases the Lease (`release`: holder emptied), so its successor takes
over at its next retry rather than a lease duration later. Defaults (12 s lease, 8 s renew deadline,
2 s retry) keep a takeover after the leader dies within 15 s: the candidate has seen the last
renewal at most one retry before the death, and leads one lease duration after that.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..sla import read_gaps, record_gap, write_gaps
from ..timefmt import parse_rfc3339
from .kube import ApiError, KubeClient

log = logging.getLogger("sncguard.leader")

LEASE_NAME = "sncguard-leader"
UNOBSERVED_ANNOTATION = "sncguard.io/unobserved"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def default_namespace() -> str:
    """The operator's own namespace in a pod (its service account's), else `default` (run locally)."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def default_identity() -> str:
    """The pod's name (HOSTNAME in a pod) or the host's, and the process id: unique per process."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{os.getpid()}"


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Timing:
    lease_duration: float = 12.0
    renew_deadline: float = 8.0
    retry_period: float = 2.0

    @classmethod
    def for_lease(cls, lease_duration: float) -> Timing:
        """The default proportions (2/3 and 1/6 of the lease) for another lease duration."""
        return cls(lease_duration, lease_duration * 2 / 3, lease_duration / 6)

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError("leader election needs lease duration > renew deadline > retry period > 0")


class LeaderElector:
    def __init__(self, client: KubeClient, namespace: str, identity: str, timing: Timing = Timing(), *,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.namespace = namespace
        self.identity = identity
        self.timing = timing
        self.leading = asyncio.Event()
        self._clock = clock
        self._wall = wall
        self._observed: tuple[str, str, str] | None = None  # (holder, renewTime, resourceVersion)
        self._observed_at = 0.0
        self._last_renewal = 0.0
        # The times no sncguard observed, as this replica found them on the Lease when it took over.
        self.unobserved: list[tuple[datetime, datetime]] = []

    @property
    def path(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"

    async def run(self, sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        await self.client.wait_configured()
        while True:
            try:
                await self.try_acquire_or_renew()
            except ApiError as exc:
                log.warning("leader election: %s", exc)
            if self.leading.is_set() and self._clock() - self._last_renewal > self.timing.renew_deadline:
                log.warning("%s could not renew the Lease %s/%s for %.0f s: no longer leading", self.identity,
                            self.namespace, LEASE_NAME, self.timing.renew_deadline)
                self.leading.clear()
            await sleep(self.timing.retry_period)

    async def try_acquire_or_renew(self) -> bool:
        """One round: True when this process holds the Lease afterwards."""
        now = self._wall()
        try:
            lease = await self.client.request("GET", f"{self.path}/{LEASE_NAME}")
        except ApiError as exc:
            if exc.status != 404:
                raise
            lease = None
        if lease is None:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": LEASE_NAME, "namespace": self.namespace},
                    "spec": self._spec(now, acquire=True, transitions=0)}
            return await self._write("POST", self.path, body)
        spec = lease.get("spec") or {}
        meta = lease.get("metadata") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime") or "", meta.get("resourceVersion") or "")
        if record != self._observed:  # a renewal changes renewTime and the resourceVersion
            self._observed, self._observed_at = record, self._clock()
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder and holder != self.identity:
            duration = float(spec.get("leaseDurationSeconds") or self.timing.lease_duration)
            if self._clock() - self._observed_at < duration:
                self._follow(holder)
                return False
            log.info("%s: the Lease held by %s was not renewed for %.0f s: taking over", self.identity, holder,
                     duration)
        acquire = holder != self.identity
        if acquire:
            lease = self._with_gap(lease, spec.get("renewTime"), now)
        body = {**lease, "spec": self._spec(now, acquire=acquire,
                                            transitions=transitions + (1 if acquire and holder else 0),
                                            acquired=spec.get("acquireTime"))}
        return await self._write("PUT", f"{self.path}/{LEASE_NAME}", body)

    def _with_gap(self, lease: dict[str, Any], renewed: str | None, now: datetime) -> dict[str, Any]:
        """The Lease with the time since its last holder's last renewal added to the gaps no sncguard
        observed (annotation UNOBSERVED_ANNOTATION, read by the SLA ledger), in the write that takes
        it over: a restart costs no write of its own. `unobserved` holds them from then on."""
        meta = lease.get("metadata") or {}
        annotations = dict(meta.get("annotations") or {})
        try:
            last_seen = parse_rfc3339(renewed) if renewed else None
        except ValueError:
            last_seen = None
        gaps = record_gap(read_gaps(annotations.get(UNOBSERVED_ANNOTATION)), last_seen, now)
        self.unobserved[:] = gaps
        annotations[UNOBSERVED_ANNOTATION] = write_gaps(gaps)
        return {**lease, "metadata": {**meta, "annotations": annotations}}

    def _spec(self, now: datetime, *, acquire: bool, transitions: int, acquired: str | None = None) -> dict[str, Any]:
        return {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.timing.lease_duration),
                "acquireTime": _micro_time(now) if acquire or not acquired else acquired,
                "renewTime": _micro_time(now), "leaseTransitions": transitions}

    async def _write(self, method: str, path: str, body: dict[str, Any]) -> bool:
        try:
            await self.client.request(method, path, body=body)
        except ApiError as exc:
            if exc.status == 409:  # another candidate wrote first: it leads
                self.leading.clear()
                return False
            raise
        self._last_renewal = self._clock()
        if not self.leading.is_set():
            log.info("%s now leads (Lease %s/%s)", self.identity, self.namespace, LEASE_NAME)
            self.leading.set()
        return True

    async def release(self) -> None:
        """Give the Lease up on a clean stop, so the standby need not wait out a lease duration."""
        if not self.leading.is_set():
            return
        self.leading.clear()
        try:
            lease = await self.client.request("GET", f"{self.path}/{LEASE_NAME}")
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1,
                    "renewTime": _micro_time(self._wall())}
            await self.client.request("PUT", f"{self.path}/{LEASE_NAME}", body={**lease, "spec": spec})
            log.info("%s released the Lease %s/%s", self.identity, self.namespace, LEASE_NAME)
        except ApiError as exc:  # the others take over once the lease runs out
            log.warning("could not release the Lease: %s", exc)

    def _follow(self, holder: str) -> None:
        if self.leading.is_set():
            log.warning("%s lost the Lease to %s: no longer leading", self.identity, holder)
            self.leading.clear()
