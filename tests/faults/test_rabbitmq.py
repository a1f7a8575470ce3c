"""The RabbitMQ broker (the machine's server, queues named after the test's prefix): its connections
closed under the API and the worker while users write. No write stalls or fails, the sweeper re-pokes
what a lost connection dropped, redelivered messages are applied once, and the read models equal a
rebuild."""

from __future__ import annotations

import os
import re
import subprocess
import time

import httpx
import msgspec
import pytest

from tests.faults.stack import Stack
from tests.harness import delete_queues

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

RABBITMQ_URL = os.environ.get("IRONLOG_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
STALL_S = 5.0


def close_connections(prefix: str) -> int:
    """Close every RabbitMQ connection Ironlog opened under `prefix` (rabbitmqctl); how many."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    closed = 0
    for line in listed.stdout.splitlines():
        pid, _, properties = line.partition("\t")
        if re.search(rf'\{{"connection_name","ironlog-\w+ {re.escape(prefix)}"\}}', properties):
            subprocess.run(
                ["rabbitmqctl", "-q", "close_connection", pid, "closed by the fault test"],
                capture_output=True,
                check=True,
                timeout=60,
            )
            closed += 1
    return closed


async def test_closed_broker_connections_lose_nothing_and_apply_nothing_twice(stack: Stack) -> None:
    prefix = stack.settings.redis.prefix
    amqp = {"BROKER_URL": RABBITMQ_URL}
    try:
        stack.start_api(**amqp)
        stack.start_worker(**amqp)
        async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
            lifters = [await stack.sign_up(client) for _ in range(3)]
            n = 0
            for round_ in range(3):
                for _ in range(3):
                    for lifter in lifters:
                        started = time.monotonic()
                        response = await stack.log_workout(client, lifter, n)
                        assert response.status_code == 201, response.text
                        assert time.monotonic() - started < STALL_S, "a write stalled on the broker"
                        n += 1
                # The worker's and the API's connections go, with whatever was unacknowledged on them.
                assert close_connections(prefix) >= 1 or round_ > 0
            for lifter in lifters:
                await stack.wait_visible(client, lifter, timeout_s=90)
        await stack.check_nothing_lost_or_doubled_and_rebuild_equal(lifters)
    finally:
        stack.stop()
        delete_queues(
            msgspec.structs.replace(
                stack.settings, redis=msgspec.structs.replace(stack.settings.redis, broker_url=RABBITMQ_URL)
            )
        )
