"""The worker path end to end: API -> broker -> a real `ironlog worker` process -> Redis."""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
import pytest

from core.processes import YOUNG_GENERATION_OBJECTS, free_port, process_running
from core.settings import Settings, load_settings
from tests.accounts import access_headers
from tests.harness import wait_until
from workers.enqueue import Enqueuer
from workers.resources import OPENED

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(client: Any, settings: Settings) -> Any:
    """Diagnostics are for admins: every request in this module carries an admin's token."""
    client.headers.update(access_headers(settings, role="admin"))
    return client


async def wait_for_answer(client: Any, token: str, timeout_s: float = 20.0) -> dict[str, Any]:
    """Poll the ping's answer with a bounded retry, as an eventually consistent client would."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = await client.get(f"/v1/diagnostics/ping/{token}")
        if response.status_code == 200:
            return dict(response.json())
        assert response.status_code == 404, response.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"no worker answered ping {token} within {timeout_s} s")


async def test_ping_reaches_the_worker_and_its_log_carries_the_request_id(
    client: Any, start_worker: Any
) -> None:
    worker = start_worker()
    sent = await client.post("/v1/diagnostics/ping", headers={"X-Request-ID": "req-ping-e2e-1"})
    assert sent.status_code == 202, sent.text
    token = sent.json()["token"]

    answer = await wait_for_answer(client, token)

    assert answer == {"token": token, "requestId": "req-ping-e2e-1", "answers": 1}
    worker.wait_for_log(token, timeout_s=5)
    answered = [line for line in worker.log().splitlines() if token in line and "ping_answered" in line]
    assert len(answered) == 1
    assert json.loads(answered[0])["request_id"] == "req-ping-e2e-1"
    assert sent.json()["messageId"] in answered[0]


def test_a_worker_collects_its_young_objects_less_often_than_python_does(start_worker: Any) -> None:
    """A projection batch's many live objects: the worker's collector waits for more of them
    (core.processes.settle_for_batches) than CPython's 700."""
    worker = start_worker()
    opened = next(line for line in worker.log().splitlines() if OPENED in line)
    young, *_ = json.loads(opened)["gc_threshold"]
    assert young == YOUNG_GENERATION_OBJECTS > 700


async def test_worker_serves_its_own_dramatiq_metrics(client: Any, start_worker: Any) -> None:
    worker = start_worker()
    token = (await client.post("/v1/diagnostics/ping")).json()["token"]
    await wait_for_answer(client, token)

    def processed() -> float:
        url = f"http://127.0.0.1:{worker.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
        except OSError:  # Dramatiq's exposition server is a process of its own, up a little later
            return 0.0
        for line in text.splitlines():
            if line.startswith('dramatiq_messages_total{actor_name="ping"'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    deadline = time.monotonic() + 10
    while processed() < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert processed() >= 1


async def test_armed_fault_point_freezes_the_worker_where_named(
    client: Any, start_worker: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "fault-reached"
    worker = start_worker(IRONLOG_FAULT="after_ping", IRONLOG_FAULT_MARKER=str(marker))
    token = (await client.post("/v1/diagnostics/ping")).json()["token"]

    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert marker.exists(), worker.log()
    name, pid = marker.read_text().split()
    assert name == "after_ping"
    # The work before the point is done; the process is stuck at the point, and is killed there.
    assert (await wait_for_answer(client, token, timeout_s=2))["token"] == token
    assert worker.process.poll() is None
    assert process_running(int(pid))
    worker.kill()
    wait_until(lambda: not process_running(int(pid)), 10, f"frozen process {pid} to die")
    # The killed worker never acknowledged the ping: another worker answers it again, so no later test
    # meets it (RabbitMQ returns it at once, Redis once the dead worker's heartbeat is old).
    start_worker(IRONLOG_BROKER_MAINTENANCE_CHANCE="1000000", IRONLOG_BROKER_HEARTBEAT_TIMEOUT_MS="2000")
    deadline = time.monotonic() + 30
    while (await wait_for_answer(client, token))["answers"] < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert (await wait_for_answer(client, token))["answers"] == 2


async def test_message_of_a_killed_worker_is_redelivered_to_another(
    client: Any, start_worker: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "fault-reached"
    short_heartbeat = {"IRONLOG_BROKER_HEARTBEAT_TIMEOUT_MS": "2000"}
    doomed = start_worker(IRONLOG_FAULT="after_ping", IRONLOG_FAULT_MARKER=str(marker), **short_heartbeat)
    token = (await client.post("/v1/diagnostics/ping")).json()["token"]
    wait_until(marker.exists, 20, "the worker to reach the fault point")
    # Killed after doing the work but before acknowledging the message.
    doomed.kill()
    assert (await wait_for_answer(client, token))["answers"] == 1

    start_worker(IRONLOG_BROKER_MAINTENANCE_CHANCE="1000000", **short_heartbeat)

    deadline = time.monotonic() + 30
    while (await wait_for_answer(client, token))["answers"] < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert (await wait_for_answer(client, token))["answers"] == 2


#: Nothing listens there: a Redis broker and a RabbitMQ broker that are down.
DEAD_BROKERS = {"redis": "redis://127.0.0.1:{port}/0", "rabbitmq": "amqp://guest:guest@127.0.0.1:{port}/%2F"}


@pytest.mark.parametrize("kind", sorted(DEAD_BROKERS))
async def test_ping_with_the_broker_down_is_a_503_problem(settings: Settings, kind: str) -> None:
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    dead = DEAD_BROKERS[kind].format(port=free_port())
    broken = msgspec.structs.replace(
        settings,
        redis=msgspec.structs.replace(settings.redis, broker_url=dead),
        worker=msgspec.structs.replace(settings.worker, enqueue_timeout_s=0.3),
    )
    async with AsyncTestClient(app=create_app(broken)) as client:
        response = await client.post("/v1/diagnostics/ping", headers=access_headers(settings, role="admin"))
        ready = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert ready.status_code == 503
    assert ready.json()["checks"]["broker"] != "ok"


@pytest.mark.parametrize("kind", sorted(DEAD_BROKERS))
async def test_enqueue_to_a_dead_broker_fails_fast_without_raising(settings: Settings, kind: str) -> None:
    environ = {
        **os.environ,
        "BROKER_URL": DEAD_BROKERS[kind].format(port=free_port()),
        "IRONLOG_ENQUEUE_TIMEOUT_S": "0.3",
    }
    enqueuer = Enqueuer(load_settings(environ))
    try:
        message_id = await enqueuer.send(enqueuer.actors.ping, "nobody-listens")
    finally:
        enqueuer.close()
    assert message_id is None
