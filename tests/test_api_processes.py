"""`ironlog api` as real processes: metrics stay correct across several API worker processes."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from typing import Any

import pytest

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


def _answers(port: int) -> bool:
    try:
        return _get(port, "/health/live")[0] == 200
    except OSError:
        return False


def test_metrics_count_requests_of_every_api_process(start_ironlog: Any, tmp_path: Path) -> None:
    port = free_port()
    api = start_ironlog(["api", "--port", str(port), "--workers", "2"])
    wait_until(lambda: _answers(port), 60, "the API to answer")
    api.wait_for_log("Application startup complete", timeout_s=30)
    wait_until(lambda: api.log().count("Application startup complete") >= 2, 30, "both API processes")

    for _ in range(REQUESTS):
        assert _get(port, "/health/live")[0] == 200

    status, text = _get(port, "/metrics")
    assert status == 200
    series = 'ironlog_http_request_duration_seconds_count{method="GET",route="/health/live",status="200"}'
    count = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert count is not None, text
    # The readiness probes made while waiting count too; every one of ours must be there.
    assert float(count.group(1)) >= REQUESTS
    metrics_dir = tmp_path / "data" / "metrics" / f"api-{port}"
    writers = {p.name.rsplit("_", 1)[-1] for p in metrics_dir.glob("histogram_*.db")}
    assert len(writers) == 2, f"expected two API processes to record metrics, saw {writers}"
