"""Prometheus metrics: one registry per application, label values from small fixed sets.

Gauges that need a database query (queue depth, oldest due delivery, connectors by status) are
read from a snapshot refreshed in the background (`refresh_every`), never on the scrape itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.model import DROP_REASONS

PUSH_OUTCOMES = ("success", "http_3xx", "http_4xx", "http_5xx", "timeout", "connection_error")
CONNECTOR_STATUSES = ("ACTIVE", "USER_DISABLED", "SYSTEM_DISABLED")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0, 43200.0)


def push_outcome(status: int | None, timed_out: bool = False) -> str:
    """The `outcome` label of one push attempt."""
    if timed_out:
        return "timeout"
    if status is None:
        return "connection_error"
    if 200 <= status < 300:
        return "success"
    if status < 400:
        return "http_3xx"
    return "http_4xx" if status < 500 else "http_5xx"


class PoolSizes(Protocol):
    """The part of `asyncpg.Pool` the pool gauge reads."""

    def get_idle_size(self) -> int: ...
    def get_size(self) -> int: ...
    def get_max_size(self) -> int: ...


@dataclass
class QueueSnapshot:
    """What the database said at the last refresh."""

    pending: int = 0
    oldest_due_age: float = 0.0
    connectors: dict[str, int] = field(default_factory=dict)


class _SnapshotCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self._metrics.snapshot
        yield GaugeMetricFamily(
            "gateway_deliveries_pending", "Deliveries waiting to be pushed.", snapshot.pending
        )
        yield GaugeMetricFamily(
            "gateway_oldest_due_delivery_age_seconds",
            "How long the oldest due delivery has been waiting.",
            snapshot.oldest_due_age,
        )
        by_status = GaugeMetricFamily(
            "gateway_connectors", "Data connectors by status.", labels=["status"]
        )
        for status in CONNECTOR_STATUSES:
            by_status.add_metric([status], snapshot.connectors.get(status, 0))
        yield by_status

        pool = self._metrics.pool
        # The limit is its own metric so that summing the states gives the open connections.
        size = GaugeMetricFamily(
            "gateway_db_pool_connections", "Open database pool connections.", labels=["state"]
        )
        limit = GaugeMetricFamily(
            "gateway_db_pool_max_connections", "Most connections the database pool may open."
        )
        if pool is not None:
            idle = pool.get_idle_size()
            size.add_metric(["idle"], idle)
            size.add_metric(["in_use"], pool.get_size() - idle)
            limit.add_metric([], pool.get_max_size())
        yield size
        yield limit


class Metrics:
    """Every metric the gateway exports, registered in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.snapshot = QueueSnapshot()
        self.pool: PoolSizes | None = None
        r = self.registry
        self.events_published = Counter(
            "gateway_events_published", "Events stored, by type.", ["event_type"], registry=r
        )
        self.deliveries_enqueued = Counter(
            "gateway_deliveries_enqueued", "Deliveries created, by source.", ["source"], registry=r
        )
        self.push_attempts = Counter(
            "gateway_push_attempts", "Push attempts, by outcome.", ["outcome"], registry=r
        )
        self.push_duration = Histogram(
            "gateway_push_duration_seconds",
            "Time from sending a push to its answer.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.delivery_lag = Histogram(
            "gateway_delivery_lag_seconds",
            "Time from storing an event to its acknowledgement by a receiver.",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.pushes_in_flight = Gauge(
            "gateway_pushes_in_flight", "Pushes awaiting an answer.", registry=r
        )
        self.retries_scheduled = Counter(
            "gateway_retries_scheduled", "Failed pushes scheduled for another try.", registry=r
        )
        self.deliveries_expired = Counter(
            "gateway_deliveries_expired",
            "Deliveries dropped unsent at their age limit.",
            registry=r,
        )
        self.deliveries_dropped = Counter(
            "gateway_deliveries_dropped",
            "Deliveries dropped unsent, by reason (kept in the delivery log).",
            ["reason"],
            registry=r,
        )
        self.connectors_auto_disabled = Counter(
            "gateway_connectors_auto_disabled",
            "Connectors set to SYSTEM_DISABLED after failing too long.",
            registry=r,
        )
        self.http_requests = Counter(
            "gateway_http_requests",
            "API requests answered, by route and status class.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "gateway_http_request_duration_seconds",
            "API request handling time, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        r.register(_SnapshotCollector(self))
        for outcome in PUSH_OUTCOMES:
            self.push_attempts.labels(outcome)
        for reason in DROP_REASONS:
            self.deliveries_dropped.labels(reason)

    def count_dropped(self, reason: str, count: int) -> None:
        """Deliveries dropped unsent for `reason` (one of gateway.model.DROP_REASONS)."""
        if count:
            self.deliveries_dropped.labels(reason).inc(count)
