"""Prometheus metrics, served by `sncguard run` (127.0.0.1:9090/metrics by default).

Gauges follow the last evaluation of each policy: a spec that cannot be evaluated (Ready=False)
leaves them as they were, like the verdict in its status. Series of a deleted policy are removed
with it, and so are those of an earlier object of the same name (another uid).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .. import ZONE_LABEL, sla
from ..findings import Finding
from .kube import KubeClient
from .state import PolicyKey, PolicyRecord

SEVERITIES = ("critical", "high", "medium", "low", "info")
RESULTS = ("pass", "fail", "warn", "skip")


class ApiRequestCollector(Collector):
    """sncguard_api_requests_total{verb, outcome}, read from the client's own counter."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("sncguard_api_requests", "API requests sncguard made, by outcome: ok, throttled "
                                     "(a 429 or 503 waited out and retried), error (no answer), invalid, or the "
                                     "HTTP status", labels=["verb", "outcome"])
        for (verb, outcome), count in sorted(self.client.requests.items()):
            family.add_metric([verb, outcome], count)
        yield family


class InformerCollector(Collector):
    """sncguard_watched_objects{resource} and sncguard_informer_lists_total{resource}, read from the
    informers: how much of the cluster sncguard keeps in memory, and how often it had to list a kind
    again (more than one list means a watch fell too far behind: a 410). And
    sncguard_skipped_objects_total{resource}: objects left out of the view because their body could
    not be read."""

    def __init__(self, informers: list[Any]) -> None:
        self.informers = informers

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        objects = GaugeMetricFamily("sncguard_watched_objects", "Objects of a built-in kind sncguard keeps a "
                                    "projection of", labels=["resource"])
        lists = CounterMetricFamily("sncguard_informer_lists", "Full lists of a built-in kind (the first, then "
                                    "one per expired watch)", labels=["resource"])
        skipped = CounterMetricFamily("sncguard_skipped_objects", "Objects left out of the view because their "
                                      "body could not be read (the log names each)", labels=["resource"])
        for informer in self.informers:
            resource = informer.watched.resource_label
            objects.add_metric([resource], informer.store.count())
            lists.add_metric([resource], informer.lists)
            skipped.add_metric([resource], informer.skipped)
        yield objects
        yield lists
        yield skipped


class SlaCollector(Collector):
    """sncguard_sla_eligible_seconds_total{namespace, name}: from each ZoneSpread's SLA ledger as last
    evaluated, with the time since its last change added at scrape time (sla.accrued), since the ledger
    is written on changes only."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("sncguard_sla_eligible_seconds", "Seconds a ZoneSpread's workloads were "
                                     "observed SLA-eligible since its ledger started", labels=["namespace", "name"])
        now = self.metrics.clock()
        for key, ledger in sorted(self.metrics.ledgers.items(), key=lambda item: item[0].label()):
            seconds = sla.eligible_seconds_total(ledger, now, self.metrics.unobserved)
            if seconds is not None:
                family.add_metric([key.namespace, key.name], seconds)
        yield family


class ZoneOutageCollector(Collector):
    """sncguard_zone_outage{zone}: 1 while every node of the zone (topology.kubernetes.io/zone) is NotReady,
    read from the node projections at scrape time."""

    def __init__(self, informers: list[Any]) -> None:
        self.nodes = next((i for i in informers if i.watched.kind == "Node"), None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("sncguard_zone_outage", "1 while every node of the zone is NotReady",
                                   labels=["zone"])
        store = self.nodes.store if self.nodes is not None else {}
        nodes = [node for key in list(store) for node in store[key]]
        for zone, state in sla.zone_states(nodes, ZONE_LABEL).items():
            family.add_metric([zone], 1.0 if state.out else 0.0)
        yield family


class Metrics:
    def __init__(self, client: KubeClient, registry: CollectorRegistry | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ["kind", "namespace", "name"]
        self.compliant = Gauge("sncguard_policy_compliant", "1 when the policy has no failing finding",
                               labels, registry=self.registry)
        self.results = Gauge("sncguard_rule_results", "Results of each rule in the policy's last evaluation",
                             [*labels, "rule", "result"], registry=self.registry)
        self.findings = Gauge("sncguard_findings", "Failing findings of the policy by severity",
                              [*labels, "severity"], registry=self.registry)
        self.sla = Gauge("sncguard_zonespread_sla_eligible",
                         "1 when every selected workload spreads hard over at least minZones zones",
                         ["namespace", "name"], registry=self.registry)
        self.access_register = Gauge("sncguard_access_register_subjects",
                                     "Subjects of a TenantPolicy's access register (who can reach the tenant's "
                                     "namespaces), authorised or not", ["name", "authorised"],
                                     registry=self.registry)
        self.duration = Histogram("sncguard_evaluation_duration_seconds", "Time to evaluate one policy",
                                  ["kind"], registry=self.registry,
                                  buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.status_writes = Counter("sncguard_status_writes", "Status patches written (only on change)",
                                     ["kind"], registry=self.registry)
        self.registry.register(ApiRequestCollector(client))
        self._series: dict[PolicyKey, list[tuple[Gauge, tuple[str, ...]]]] = {}
        # Each ZoneSpread's SLA ledger as last evaluated, and the times no sncguard observed (the engine's).
        self.clock = clock
        self.ledgers: dict[PolicyKey, Mapping[str, Any]] = {}
        self.unobserved: Sequence[tuple[datetime, datetime]] = ()
        self.registry.register(SlaCollector(self))

    def follow_informers(self, informers: list[Any]) -> None:
        self.registry.register(InformerCollector(informers))
        self.registry.register(ZoneOutageCollector(informers))

    def timed(self, kind: str, seconds: float) -> None:
        self.duration.labels(kind).observe(seconds)

    def written(self, kind: str) -> None:
        self.status_writes.labels(kind).inc()

    def observe(self, record: PolicyRecord, status: dict[str, Any], findings: list[Finding]) -> None:
        key = record.key
        base = (key.kind, key.namespace, key.name)
        self.forget(key)
        series: list[tuple[Gauge, tuple[str, ...]]] = []

        def put(gauge: Gauge, labels: tuple[str, ...], value: float) -> None:
            gauge.labels(*labels).set(value)
            series.append((gauge, labels))

        compliant = next((c["status"] for c in status.get("conditions") or () if c["type"] == "Compliant"), "")
        if compliant in ("True", "False"):
            put(self.compliant, base, 1.0 if compliant == "True" else 0.0)
        counts: dict[tuple[str, str], int] = {}
        failing = dict.fromkeys(SEVERITIES, 0)
        for f in findings:
            counts[(f.rule.id, f.result.value)] = counts.get((f.rule.id, f.result.value), 0) + 1
            if f.result.value == "fail":
                failing[f.severity.value] += 1
        for (rule, result), count in counts.items():
            put(self.results, (*base, rule, result), count)
        if findings or compliant:
            for severity, count in failing.items():
                put(self.findings, (*base, severity), count)
        if key.kind == "ZoneSpread" and "slaEligible" in status:
            put(self.sla, (key.namespace, key.name), 1.0 if status["slaEligible"] else 0.0)
        if key.kind == "ZoneSpread" and "slaLedger" in status:
            self.ledgers[key] = status["slaLedger"]
        if key.kind == "TenantPolicy" and "accessRegisterDigest" in status:
            # Counted over the whole register, the part that did not fit in the status included.
            total = len(status.get("accessRegister") or ()) + (status.get("accessRegisterTruncated") or 0)
            unauthorised = status.get("accessRegisterUnauthorised") or 0
            put(self.access_register, (key.name, "true"), total - unauthorised)
            put(self.access_register, (key.name, "false"), unauthorised)
        self._series[key] = series

    def forget(self, key: PolicyKey) -> None:
        self.ledgers.pop(key, None)
        for gauge, labels in self._series.pop(key, ()):
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)

    def serve(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)

