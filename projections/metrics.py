"""Projection metrics, exported by the worker's /metrics."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from core import clock

EVENTS_PROJECTED = Counter("ironlog_events_projected_total", "Events applied to read models", ["type"])
BATCH_SECONDS = Histogram(
    "ironlog_projection_batch_seconds",
    "Duration of one projection transaction",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG_SECONDS = Histogram(
    "ironlog_projection_lag_seconds",
    "From a command's commit to its event being projected",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
PARKED = Counter("ironlog_projection_parked_total", "Users parked after a projector kept failing")
LAGGING_USERS = Gauge(
    "ironlog_projection_lagging_users",
    "Users with events not yet projected (last sweep)",
    multiprocess_mode="livemostrecent",
)
PARKED_USERS = Gauge(
    "ironlog_projection_parked_users", "Users parked (last sweep)", multiprocess_mode="livemostrecent"
)
REDIS_SYNC_FAILURES = Counter("ironlog_redis_sync_failures_total", "Redis document syncs that failed")


def observe_projected(rows: Sequence[tuple[Any, str, Any, datetime]]) -> None:
    """A committed batch's events (version, type, payload, occurred at): counted by type, once per type,
    and each one's lag from one reading of the clock."""
    for event_type, count in collections.Counter(row[1] for row in rows).items():
        EVENTS_PROJECTED.labels(event_type).inc(count)
    now = clock.now()
    for row in rows:
        LAG_SECONDS.observe(max(0.0, (now - row[3]).total_seconds()))
