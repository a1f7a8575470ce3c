"""A worker frozen (SIGSTOP) mid-work past the broker heartbeat, while another takes over.

It freezes at the `mid_batch` fault point (IRONLOG_FAULT=mid_batch:pause): inside a projection
transaction, holding that user's projection lock, with the batch's rows written and not committed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

import asyncpg
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


#: Postgres' own timeout never ends the frozen transaction here: only the lease takeover can.
LEASED_TAKEOVER = {
    "IRONLOG_BROKER_HEARTBEAT_TIMEOUT_MS": "2000",
    "IRONLOG_BROKER_MAINTENANCE_CHANCE": "1000000",
    "IRONLOG_WORKER_IDLE_IN_TRANSACTION_MS": "600000",
    "IRONLOG_PROJECTION_LEASE_S": "2",
    "IRONLOG_WORKER_LOCK_TIMEOUT_MS": "5000",
}


async def test_a_worker_frozen_holding_a_lease_is_taken_over_and_its_late_commit_refused(
    stack: Stack,
) -> None:
    stack.start_api()
    marker = stack.root / "paused"
    paused = stack.start_worker(
        **LEASED_TAKEOVER, IRONLOG_FAULT="mid_batch:pause", IRONLOG_FAULT_MARKER=str(marker)
    )
    database = await asyncpg.connect(stack.settings.database.url or "")
    try:
        async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
            lifter = await stack.sign_up(client)
            user_id = uuid.UUID(lifter.user_id)
            assert (await stack.log_workout(client, lifter, 0)).status_code == 201
            wait_until(marker.exists, 60, "the worker to freeze mid-batch")
            # Frozen inside its batch transaction, the lease recorded with its backend.
            held = await database.fetchrow(
                "SELECT owner, token, backend_pid FROM projection_leases WHERE user_id = $1", user_id
            )
            assert held is not None and held["backend_pid"] is not None
            frozen_checkpoint = await database.fetchval(
                "SELECT version FROM projection_checkpoints WHERE user_id = $1", user_id
            )
            try:
                stack.start_worker(**LEASED_TAKEOVER)
                assert (await stack.log_workout(client, lifter, 1)).status_code == 201
                await stack.wait_visible(client, lifter, timeout_s=90)
                taken = await database.fetchrow(
                    "SELECT owner, token FROM projection_leases WHERE user_id = $1", user_id
                )
                assert taken["owner"] != held["owner"] and taken["token"] > held["token"]
                # The taker ended the frozen backend: its transaction, locks and commit are gone.
                assert not await database.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", held["backend_pid"]
                )
            finally:
                os.killpg(paused.process.pid, signal.SIGCONT)
            await asyncio.sleep(2)  # the resumed worker tries to commit what it held, and cannot
            assert (await stack.log_workout(client, lifter, 2)).status_code == 201
            await stack.wait_visible(client, lifter, timeout_s=90)
        projected = await database.fetchval(
            "SELECT version FROM projection_checkpoints WHERE user_id = $1", user_id
        )
        assert projected > (frozen_checkpoint or 0)
    finally:
        await database.close()
    await stack.check_nothing_lost_or_doubled_and_rebuild_equal([lifter])
