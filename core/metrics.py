"""Prometheus metrics, correct across processes (multiprocess mode when a directory is set)."""

from __future__ import annotations

import asyncio
import os
import threading
from bisect import bisect_left
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from core.processes import MULTIPROC_ENV

HTTP_REQUEST_DURATION = Histogram(
    "ironlog_http_request_duration_seconds",
    "Time spent answering HTTP requests, by route template and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_UNMATCHED_REQUESTS = Counter(
    "ironlog_http_unmatched_requests_total",
    "Requests that matched no route (404) or no method (405).",
    ["method", "status"],
)
HTTP_REQUESTS_IN_FLIGHT = Gauge(
    "ironlog_http_requests_in_flight",
    "HTTP requests being answered right now.",
    multiprocess_mode="livesum",
)
DB_POOL_CONNECTIONS = Gauge(
    "ironlog_db_pool_connections",
    "Postgres connections open in the pools of this service's processes, by role and state (in_use, idle).",
    ["role", "state"],
    multiprocess_mode="livesum",
)
DB_POOL_MAX_CONNECTIONS = Gauge(
    "ironlog_db_pool_max_connections",
    "The most connections the pools of this service's processes may open, by role.",
    ["role"],
    multiprocess_mode="livesum",
)
DB_REPLICA_LAG = Gauge(
    "ironlog_db_replica_lag_seconds",
    "How far each streaming replica's replay is behind the primary, as last measured (core/replicas.py).",
    ["replica"],
    multiprocess_mode="livemax",
)
DB_REPLICA_IN_ROTATION = Gauge(
    "ironlog_db_replica_in_rotation",
    "1 while a replica serves reads, 0 while it is down, lagging past the bound or no longer a replica.",
    ["replica"],
    multiprocess_mode="livemin",
)
DB_READS = Counter(
    "ironlog_db_reads_total",
    "Reads of read models by where they ran (replica, primary) and why (routed, no_replica, "
    "replica_failed, replica_behind).",
    ["target", "reason"],
)


class RequestMetrics:
    """The HTTP RED metrics of this process, gathered in memory and written to the Prometheus values in
    batches: every `FLUSH_INTERVAL_S`, before each scrape and when the process stops (`flush`).

    In multiprocess mode each observation of a histogram is two writes to a shared memory-mapped file,
    each under a lock, and the in-flight gauge two more; per request that was a good part of the API's
    own cost. Here a request costs a few additions; what Prometheus reads is the same, at most
    `FLUSH_INTERVAL_S` late (the in-flight gauge is the number at the last flush).
    """

    def __init__(self, histogram: Histogram, in_flight: Gauge) -> None:
        self._histogram = histogram
        self._in_flight_gauge = in_flight
        self._bounds: tuple[float, ...] = tuple(histogram._upper_bounds)
        #: (method, route, status) -> [count per bucket..., sum of seconds]
        self._pending: dict[tuple[str, str, int], list[float]] = {}
        self._lock = threading.Lock()  # observations come from the loop, flushes also from scrapes
        self.in_flight = 0  # counted up and down by the request pipeline (api/request_context.py)
        self._counters: list[DeferredCounter] = []

    def defer(self, counter: Counter) -> DeferredCounter:
        """A counter whose increments are gathered here and written with these metrics."""
        deferred = DeferredCounter(counter)
        self._counters.append(deferred)
        return deferred

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request answered: its duration into its bucket, under its method, route and status."""
        key = (method, route, status)
        with self._lock:
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = [0.0] * (len(self._bounds) + 1)
            pending[bisect_left(self._bounds, seconds)] += 1
            pending[-1] += seconds

    def flush(self) -> None:
        """Write what was gathered since the last flush to the Prometheus values."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for (method, route, status), counts in pending.items():
            child: Any = self._histogram.labels(method, route, str(status))
            child._sum.inc(counts[-1])
            for index, count in enumerate(counts[:-1]):
                if count:
                    child._buckets[index].inc(count)
        self._in_flight_gauge.set(self.in_flight)
        for counter in self._counters:
            counter.flush()

    async def flush_periodically(self) -> None:
        """Flush every `FLUSH_INTERVAL_S` until cancelled (a task of the API's lifespan)."""
        try:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL_S)
                self.flush()
        finally:
            self.flush()


class DeferredCounter:
    """Increments of a Prometheus counter, by label values, gathered in memory and written by the
    request metrics' flushes (`RequestMetrics.defer`): for counters every cached read adds to, each
    increment otherwise a locked write to a memory-mapped file in multiprocess mode."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._pending: dict[tuple[str, ...], int] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str) -> None:
        with self._lock:
            self._pending[labels] = self._pending.get(labels, 0) + 1

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for labels, count in pending.items():
            (self._counter.labels(*labels) if labels else self._counter).inc(count)


FLUSH_INTERVAL_S = 1.0
HTTP_METRICS = RequestMetrics(HTTP_REQUEST_DURATION, HTTP_REQUESTS_IN_FLIGHT)


def forget_process() -> None:
    """Drop this exiting process's live gauges (in flight, pool use) from the shared metrics directory."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def render_latest() -> tuple[bytes, str]:
    """The exposition text of every process sharing this one's metrics directory."""
    HTTP_METRICS.flush()
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
