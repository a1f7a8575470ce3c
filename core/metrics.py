"""Prometheus metrics, correct across processes (multiprocess mode when a directory is set)."""

from __future__ import annotations

import os

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


def forget_process() -> None:
    """Drop this exiting process's live gauges (in flight, pool use) from the shared metrics directory."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def render_latest() -> tuple[bytes, str]:
    """The exposition text of every process sharing this one's metrics directory."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
