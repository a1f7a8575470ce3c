"""`ironlog api` as real processes: metrics stay correct across several API worker processes."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from typing import Any

import pytest

from core.metrics import FLUSH_INTERVAL_S
from core.processes import free_port
from tests.harness import wait_until

pytestmark = pytest.mark.e2e

REQUESTS = 60


def _get(port: int, path: str) -> tuple[int, str]:
    # A new connection per request, so the kernel spreads them over the worker processes.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


class LiveCalls:
    """Calls /health/live over fresh connections, counting every 200 the API answered."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answered = 0

    def call(self) -> bool:
        try:
            ok = _get(self.port, "/health/live")[0] == 200
        except OSError:
            return False
        self.answered += ok
        return ok


def _writers(metrics_dir: Path) -> set[str]:
    """Pids of the processes that recorded a request."""
    return {p.stem.rsplit("_", 1)[-1] for p in metrics_dir.glob("histogram_*.db")}


def test_metrics_count_requests_of_every_api_process(start_ironlog: Any, tmp_path: Path) -> None:
    port = free_port()
    api = start_ironlog(["api", "--port", str(port), "--workers", "2"])
    live = LiveCalls(port)
    wait_until(live.call, 60, "the API to answer")
    wait_until(lambda: api.log().count("Application startup complete") >= 2, 30, "both API processes")
    metrics_dir = tmp_path / "data" / "metrics" / f"api-{port}"

    # Which process accepts a connection is up to the kernel: go on until both have served.
    for _ in range(20):
        for _ in range(REQUESTS):
            assert live.call()
        if len(_writers(metrics_dir)) == 2:
            break
    assert len(_writers(metrics_dir)) == 2, "expected both API processes to serve requests"

    series = 'ironlog_http_request_duration_seconds_count{method="GET",route="/health/live",status="200"}'

    def scraped() -> float | None:
        status, text = _get(port, "/metrics")
        assert status == 200
        count = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
        return None if count is None else float(count.group(1))

    # Each process writes its requests to the shared files at least every FLUSH_INTERVAL_S.
    answered = live.answered
    wait_until(lambda: scraped() == answered, 5 * FLUSH_INTERVAL_S, f"{answered} requests in /metrics")
