"""Dashboards depend on the user's today: a new local day refreshes them, by the sweeper or on read."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import msgspec
from redis.asyncio import Redis

from core import clock
from core.redis import Keys
from projections.cache import DocumentCache
from projections.documents import Dashboard
from projections.runner import project_user
from projections.sweeper import SweepSettings, sweep
from tests.accounts import bearer, sign_up
from tests.workouts import workout


async def projected_user(client: Any, resources: tuple[asyncpg.Pool, Redis, Keys]) -> tuple[uuid.UUID, Any]:
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    response = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=bearer(signed_in))
    assert response.status_code == 201
    await project_user(*resources, user_id)
    return user_id, signed_in


async def age_dashboard(pool: asyncpg.Pool, redis: Redis, keys: Keys, user_id: uuid.UUID) -> date:
    """Make the stored dashboard look as if it was computed yesterday; yesterday's date."""
    yesterday = clock.now().date() - timedelta(days=1)
    cache = DocumentCache(redis, keys)
    names = cache.keys_of(user_id)
    stale = msgspec.structs.replace(
        msgspec.json.decode(
            await pool.fetchval("SELECT body FROM rm_dashboards WHERE user_id = $1", user_id), type=Dashboard
        ),
        as_of=yesterday,
    )
    body = msgspec.json.encode(stale)
    await pool.execute(
        """
        UPDATE rm_dashboards SET as_of = $2, rollover_at = $4, body = $3
        WHERE user_id = $1
        """,
        user_id,
        yesterday,
        body,
        clock.now() - timedelta(minutes=1),
    )
    await redis.delete(names.dashboard)
    await redis.hset(
        names.dashboard, mapping={"v": 1, "s": yesterday.toordinal(), "z": "UTC", "e": '"old"', "b": body}
    )
    return yesterday


async def test_the_sweeper_refreshes_a_dashboard_whose_day_has_passed(
    client: Any, resources: tuple[asyncpg.Pool, Redis, Keys]
) -> None:
    pool, redis, keys = resources
    user_id, _ = await projected_user(client, resources)
    await age_dashboard(pool, redis, keys, user_id)
    poked: list[tuple[uuid.UUID, bool]] = []

    async def poke(poked_user: uuid.UUID, refresh_dashboard: bool) -> None:
        poked.append((poked_user, refresh_dashboard))
        if poked_user == user_id:
            await project_user(pool, redis, keys, poked_user, refresh_dashboard=refresh_dashboard)

    async with pool.acquire() as connection:
        await sweep(connection, poke, SweepSettings(grace_s=3600))

    assert (user_id, True) in poked
    today = clock.now().date()
    row = await pool.fetchrow(
        "SELECT as_of, rollover_at, body FROM rm_dashboards WHERE user_id = $1", user_id
    )
    assert row["as_of"] == today and row["rollover_at"] > clock.now()
    cached = await DocumentCache(redis, keys).read(keys.user(user_id, "ver"), keys.user(user_id, "dash"))
    assert cached.stamp == today.toordinal()
    assert msgspec.json.decode(cached.body, type=Dashboard).as_of == today


async def test_a_dashboard_read_after_midnight_is_recomputed_for_today(
    client: Any, resources: tuple[asyncpg.Pool, Redis, Keys]
) -> None:
    pool, redis, keys = resources
    user_id, signed_in = await projected_user(client, resources)
    await age_dashboard(pool, redis, keys, user_id)

    response = await client.get("/v1/stats/dashboard", headers=bearer(signed_in))

    assert response.status_code == 200
    dashboard = msgspec.json.decode(response.content, type=Dashboard)
    assert dashboard.as_of == clock.now().date()
    assert dashboard.totals.workouts == 1
