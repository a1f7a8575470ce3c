"""The pipeline's metrics are exported: projection by the worker, cache and waits by the API."""

from __future__ import annotations

import re
import urllib.request
import uuid
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from core import clock
from projections import metrics
from tests.accounts import bearer, sign_up
from tests.workouts import workout

pytestmark = pytest.mark.e2e

WORKER_SERIES = [
    'ironlog_events_projected_total{type="WorkoutLogged"}',
    "ironlog_projection_batch_seconds_count",
    "ironlog_projection_lag_seconds_count",
    "ironlog_projection_lagging_users",
    "ironlog_projection_parked_users",
]
API_SERIES = [
    'ironlog_cache_requests_total{model="dashboard",result="hit"}',
    'ironlog_cache_requests_total{model="workout",result=',
    'ironlog_consistency_waits_total{outcome="reached"}',
    "ironlog_consistency_wait_seconds_count",
]


async def test_projection_cache_and_wait_metrics_are_exported(client: Any, start_worker: Any) -> None:
    worker = start_worker()
    signed_in = await sign_up(client)
    response = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=bearer(signed_in))
    token = response.headers["x-consistency-token"]
    headers = {**bearer(signed_in), "X-Consistency-Token": token}
    detail = await client.get(response.headers["location"], headers=headers)
    assert detail.status_code == 200 and "x-consistency" not in detail.headers
    await client.get("/v1/stats/dashboard", headers=headers)
    await client.get("/v1/stats/dashboard", headers=bearer(signed_in))

    with urllib.request.urlopen(f"http://127.0.0.1:{worker.metrics_port}/metrics", timeout=5) as answer:
        worker_metrics = answer.read().decode()
    api_metrics = (await client.get("/metrics")).text

    for series in WORKER_SERIES:
        assert series in worker_metrics, series
    for series in API_SERIES:
        assert series in api_metrics, series
    # Every outcome is exported from the start: the read above is what counted one.
    for counted in (
        'ironlog_consistency_waits_total{outcome="reached"}',
        "ironlog_consistency_wait_seconds_count",
    ):
        value = re.search(rf"^{re.escape(counted)} (\S+)$", api_metrics, re.MULTILINE)
        assert value is not None and float(value.group(1)) >= 1, counted


def test_a_batch_is_counted_by_type_and_each_event_lags_from_one_clock_reading() -> None:

    def counted(event_type: str) -> float:
        labels = {"type": event_type}
        return REGISTRY.get_sample_value("ironlog_events_projected_total", labels) or 0.0

    def lags() -> tuple[float, float]:
        count = REGISTRY.get_sample_value("ironlog_projection_lag_seconds_count") or 0.0
        return count, REGISTRY.get_sample_value("ironlog_projection_lag_seconds_sum") or 0.0

    before = counted("WorkoutLogged"), counted("WorkoutDeleted"), lags()
    now = clock.now()  # observed a moment later: the sum is a few microseconds more
    rows = [
        (1, "WorkoutLogged", b"{}", now - timedelta(seconds=2)),
        (2, "WorkoutLogged", b"{}", now - timedelta(seconds=1)),
        (3, "WorkoutDeleted", b"{}", now + timedelta(seconds=5)),  # a clock ahead counts as no lag
    ]
    metrics.observe_projected(rows)
    assert counted("WorkoutLogged") - before[0] == 2
    assert counted("WorkoutDeleted") - before[1] == 1
    count, total = lags()
    assert count - before[2][0] == 3
    assert total - before[2][1] == pytest.approx(3.0, abs=0.05)
