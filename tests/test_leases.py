"""Projection leases (projections/leases.py): one holder per user, taken over only once expired, the
holder's backend ended by the taker, and a batch whose lease was taken commits nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from core import clock
from core.settings import Settings
from projections import leases, runner
from projections.rebuild import Rebuild
from projections.runner import RunnerSettings, project_user
from tests.accounts import bearer, sign_up
from tests.workouts import workout


async def lifter_with_a_workout(client: Any) -> uuid.UUID:
    signed_in = await sign_up(client)
    written = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=bearer(signed_in))
    assert written.status_code == 201, written.text
    return uuid.UUID(signed_in["user"]["id"])


async def test_a_held_lease_keeps_another_owner_waiting_until_it_gives_up(
    client: Any, resources: tuple[Any, Any, Any]
) -> None:
    pool = resources[0]
    user_id = await lifter_with_a_workout(client)
    async with pool.acquire() as first, pool.acquire() as second:
        held = await leases.acquire(first, user_id, leases.new_owner(), ttl_s=30, wait_s=0)
        assert held is not None
        assert await leases.acquire(second, user_id, leases.new_owner(), ttl_s=30, wait_s=0.2) is None
        await leases.release(first, held)
        taken = await leases.acquire(second, user_id, leases.new_owner(), ttl_s=30, wait_s=0)
        assert taken is not None and taken.token == held.token + 1
        await leases.release(second, taken)


async def test_an_expired_lease_is_taken_over_and_its_holders_transaction_ended(
    client: Any, resources: tuple[Any, Any, Any], settings: Settings
) -> None:
    pool = resources[0]
    user_id = await lifter_with_a_workout(client)
    frozen = await asyncpg.connect(settings.database.url or "")
    try:
        held = await leases.acquire(frozen, user_id, leases.new_owner(), ttl_s=0.2, wait_s=0)
        assert held is not None
        frozen_pid = frozen.get_server_pid()
        await frozen.execute("BEGIN")
        await leases.hold(frozen, held)  # its open transaction locks the lease row
        await asyncio.sleep(0.3)
        async with pool.acquire() as taker:
            taken = await leases.acquire(taker, user_id, leases.new_owner(), ttl_s=30, wait_s=5)
            assert taken is not None and taken.token == held.token + 1
            # Its backend was ended: nothing the frozen transaction held can commit.
            for _ in range(100):
                if not await taker.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", frozen_pid
                ):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the frozen holder's backend is still there")
            await leases.release(taker, taken)
    finally:
        frozen.terminate()


async def test_a_lease_whose_holder_died_is_taken_at_once(
    client: Any, resources: tuple[Any, Any, Any], settings: Settings
) -> None:
    pool = resources[0]
    user_id = await lifter_with_a_workout(client)
    died = await asyncpg.connect(settings.database.url or "")
    held = await leases.acquire(died, user_id, leases.new_owner(), ttl_s=60, wait_s=0)
    assert held is not None
    await died.close()  # its process is gone: nothing of it holds the user any more
    async with pool.acquire() as taker:
        taken = await leases.acquire(taker, user_id, leases.new_owner(), ttl_s=30, wait_s=5)
        assert taken is not None and taken.token == held.token + 1
        await leases.release(taker, taken)


async def test_a_batch_whose_lease_was_taken_commits_nothing(
    client: Any, resources: tuple[Any, Any, Any]
) -> None:
    pool = resources[0]
    user_id = await lifter_with_a_workout(client)
    async with pool.acquire() as connection:
        lease = await leases.acquire(connection, user_id, leases.new_owner(), ttl_s=30, wait_s=0)
        assert lease is not None
        # Another owner took it meanwhile (its holder's backend was not this one's to end).
        await connection.execute(
            "UPDATE projection_leases SET owner = 'another', token = token + 1 WHERE user_id = $1", user_id
        )
        with pytest.raises(leases.LeaseLost):
            await runner._project_leased(
                connection, lease, RunnerSettings(), clock.now(), refresh_dashboard=False, shadow=False
            )
    version = await pool.fetchval("SELECT version FROM projection_checkpoints WHERE user_id = $1", user_id)
    assert (version or 0) == 0
    assert await pool.fetchval("SELECT count(*) FROM rm_workout_summaries WHERE user_id = $1", user_id) == 0


async def rows_of(pool: asyncpg.Pool, user_id: uuid.UUID) -> dict[str, list[str]]:
    """Every rm_* row of the user, as text (leaderboard rows by score, as read_model_hash compares them)."""
    tables = [
        row["table_name"]
        for row in await pool.fetch(
            """
            SELECT table_name FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name LIKE 'rm\\_%' AND column_name = 'user_id'
            """
        )
    ]
    found = {}
    for table in sorted(tables):
        source = (
            "(SELECT board, board_key, user_id, score FROM rm_leaderboard_scores WHERE score IS NOT NULL)"
            if table == "rm_leaderboard_scores"
            else table
        )
        found[table] = [
            row["t"]
            for row in await pool.fetch(
                f"SELECT t::text AS t FROM {source} t WHERE user_id = $1 ORDER BY 1",
                user_id,
            )
        ]
    return found


async def test_eight_users_projected_at_once_in_one_process_equal_each_rebuilt_alone(
    client: Any, resources: tuple[Any, Any, Any], settings: Settings
) -> None:
    _, redis, keys = resources
    users = []
    for n in range(8):
        signed_in = await sign_up(client)
        me = bearer(signed_in)
        for _ in range(3):
            written = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=me)
            assert written.status_code == 201, written.text
        if n % 2:
            changed = await client.patch("/v1/me", json={"e1rmFormula": "brzycki"}, headers=me)
            assert changed.status_code == 200, changed.text
        users.append(uuid.UUID(signed_in["user"]["id"]))
    pool = await asyncpg.create_pool(settings.database.url or "", min_size=8, max_size=8)
    try:
        outcomes = await asyncio.gather(*(project_user(pool, redis, keys, user) for user in users))
        assert all(outcome.synced and not outcome.parked for outcome in outcomes)
        concurrently = {user: await rows_of(pool, user) for user in users}
        for user in users:
            await Rebuild(pool, redis, keys, user_id=user).run()
        alone = {user: await rows_of(pool, user) for user in users}
    finally:
        await pool.close()
    assert all(concurrently[user]["rm_workout_summaries"] for user in users)
    assert concurrently == alone


async def test_a_rebuild_never_waits_for_a_live_projection_lease(
    client: Any, resources: tuple[Any, Any, Any], settings: Settings
) -> None:
    """A live worker that took a user's lease and then waits on the rebuild gate (which the rebuild
    holds while it catches up and swaps) must not stop the rebuild: the shadow projects under leases
    of its own."""
    pool, redis, keys = resources
    user_id = await lifter_with_a_workout(client)
    worker = await asyncpg.connect(settings.database.url or "")
    try:
        held = await leases.acquire(worker, user_id, leases.new_owner(), ttl_s=60, wait_s=0)
        assert held is not None
        rebuilt = await asyncio.wait_for(Rebuild(pool, redis, keys, user_id=user_id).run(), timeout=4)
        assert rebuilt.users == 1 and rebuilt.events > 0
        still = await worker.fetchval("SELECT token FROM projection_leases WHERE user_id = $1", user_id)
        assert still == held.token  # the live lease was left alone
        await leases.release(worker, held)
    finally:
        await worker.close()
