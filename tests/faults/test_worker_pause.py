"""A worker frozen (SIGSTOP) mid-work past the broker heartbeat, while another takes over.

It freezes at the `mid_batch` fault point (IRONLOG_FAULT=mid_batch:pause): inside a projection
transaction, holding that user's projection lock, with the batch's rows written and not committed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pytest

from tests.faults.stack import Stack
from tests.harness import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

STALL_S = 5.0
#: The broker gives a silent worker's messages to another after this; Postgres ends its transaction.
FAST_TAKEOVER = {
    "IRONLOG_BROKER_HEARTBEAT_TIMEOUT_MS": "2000",
    "IRONLOG_BROKER_MAINTENANCE_CHANCE": "1000000",
    "IRONLOG_WORKER_IDLE_IN_TRANSACTION_MS": "3000",
    "IRONLOG_WORKER_LOCK_TIMEOUT_MS": "1000",
}


async def test_a_paused_worker_never_blocks_writes_and_the_state_ends_correct(stack: Stack) -> None:
    stack.start_api()
    marker = stack.root / "paused"
    paused = stack.start_worker(
        **FAST_TAKEOVER, IRONLOG_FAULT="mid_batch:pause", IRONLOG_FAULT_MARKER=str(marker)
    )
    async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
        lifters = [await stack.sign_up(client) for _ in range(4)]
        n = 0
        for _ in range(3):  # a backlog, so the worker is busy when it freezes
            for lifter in lifters:
                assert (await stack.log_workout(client, lifter, n)).status_code == 201
                n += 1
        wait_until(marker.exists, 60, "the worker to freeze mid-batch")
        try:
            for _ in range(3):  # the frozen worker may hold a user's projection lock: writes go on
                for lifter in lifters:
                    started = time.monotonic()
                    assert (await stack.log_workout(client, lifter, n)).status_code == 201
                    assert time.monotonic() - started < STALL_S, "a write waited on the frozen worker"
                    n += 1
            await asyncio.sleep(2.5)  # past the heartbeat timeout
            assert "fault_point_reached name=mid_batch" in paused.log()
            stack.start_worker(**FAST_TAKEOVER)
            for lifter in lifters:
                await stack.wait_visible(client, lifter, timeout_s=90)
        finally:
            os.killpg(paused.process.pid, signal.SIGCONT)
        # The resumed worker finishes or abandons what it held; more writes still land once.
        for lifter in lifters:
            assert (await stack.log_workout(client, lifter, n)).status_code == 201
            n += 1
        for lifter in lifters:
            await stack.wait_visible(client, lifter, timeout_s=90)
        await asyncio.sleep(1)  # let the resumed worker's retries settle
    await stack.check_nothing_lost_or_doubled_and_rebuild_equal(lifters)
