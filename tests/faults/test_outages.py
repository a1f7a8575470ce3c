"""Outages of the broker Redis, the cache Redis and Postgres, injected for real on private servers.

Each test ends with the same checks: nothing acknowledged lost, nothing counted twice, and every read
model equal to a rebuild from the event log.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.faults.stack import Lifter, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

#: A write that answers later than this counts as stalled (generous: the point is "not hanging").
STALL_S = 5.0


async def test_writes_go_on_while_the_broker_is_down_and_the_backlog_drains_after(stack: Stack) -> None:
    stack.start_api()
    stack.start_worker()
    async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
        lifters = [await stack.sign_up(client) for _ in range(3)]
        for lifter in lifters:
            assert (await stack.log_workout(client, lifter, 0)).status_code == 201
            await stack.wait_visible(client, lifter)

        stack.broker.stop()
        n = 1
        for _ in range(4):
            for lifter in lifters:
                started = time.monotonic()
                response = await stack.log_workout(client, lifter, n)
                assert response.status_code == 201, response.text
                assert time.monotonic() - started < STALL_S, "a write stalled on the dead broker"
                n += 1
        stale = await client.get(
            "/v1/stats/dashboard",
            headers={**lifters[0].headers, "X-Consistency-Token": str(lifters[0].token)},
        )
        assert stale.headers.get("x-consistency") == "stale"  # nothing projects the backlog yet

        stack.broker.start()  # the sweeper finds the users whose pokes were lost
        for lifter in lifters:
            await stack.wait_visible(client, lifter)
    await stack.check_nothing_lost_or_doubled_and_rebuild_equal(lifters)


async def test_a_cache_redis_restarted_empty_answers_correctly_and_refills(stack: Stack) -> None:
    stack.start_api()
    stack.start_worker()
    async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
        lifter = await stack.sign_up(client)
        for n in range(3):
            assert (await stack.log_workout(client, lifter, n)).status_code == 201
        await stack.wait_visible(client, lifter)
        before = (await client.get("/v1/workouts", headers=lifter.headers)).json()
        dashboard = (await client.get("/v1/stats/dashboard", headers=lifter.headers)).json()

        stack.cache.stop()
        (stack.cache.data_dir / "dump.rdb").unlink(missing_ok=True)  # restarted empty
        stack.cache.start()

        await _until_answers(client, lifter)
        assert (await client.get("/v1/workouts", headers=lifter.headers)).json() == before
        assert (await client.get("/v1/stats/dashboard", headers=lifter.headers)).json() == dashboard
        assert await _cache_keys(stack) > 0  # the reads refilled it
        assert (await stack.log_workout(client, lifter, 9)).status_code == 201
        await stack.wait_visible(client, lifter)
    await stack.check_nothing_lost_or_doubled_and_rebuild_equal([lifter])


async def test_postgres_down_gives_fast_problems_then_everything_recovers(stack: Stack) -> None:
    stack.start_api()
    stack.start_worker()
    async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
        lifter = await stack.sign_up(client)
        assert (await stack.log_workout(client, lifter, 0)).status_code == 201
        await stack.wait_visible(client, lifter)

        stack.postgres.stop()
        refused = 0
        for n in range(1, 6):
            started = time.monotonic()
            response = await stack.log_workout(client, lifter, n)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "Traceback" not in response.text and "asyncpg" not in response.text
            assert elapsed < STALL_S, "a write hung on the dead database"
            refused += 1
        ready = await client.get("/health/ready")
        assert ready.status_code == 503

        stack.postgres.start()
        deadline = time.monotonic() + 60
        while (await client.get("/health/ready")).status_code != 200:  # the pools recover by themselves
            assert time.monotonic() < deadline, "the API did not recover"
            await asyncio.sleep(0.5)
        for n in range(10, 14):
            response = await stack.log_workout(client, lifter, n)
            assert response.status_code == 201, response.text
        await stack.wait_visible(client, lifter)
    assert refused == 5 and len(lifter.acknowledged) == 5  # the refused writes left nothing behind
    await stack.check_nothing_lost_or_doubled_and_rebuild_equal([lifter])


async def _until_answers(client: httpx.AsyncClient, lifter: Lifter, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while (await client.get("/v1/workouts", headers=lifter.headers)).status_code != 200:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)


async def _cache_keys(stack: Stack) -> int:
    from redis.asyncio import Redis

    from core.redis import Keys

    client = Redis.from_url(stack.cache.url or "")
    try:
        return len([key async for key in client.scan_iter(match=Keys(stack.settings.redis.prefix).pattern())])
    finally:
        await client.aclose()
