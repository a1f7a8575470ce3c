"""A killed test run's databases and Redis keys are removed by a later run; a live run's never."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import asyncpg
from redis.asyncio import Redis

from core.settings import Settings
from tests.harness import create_database, delete_prefix, drop_database, with_database
from tests.leftovers import database_of, lock_key, prefix_of, remove_leftovers


async def _exists(admin: asyncpg.Connection, database: str) -> bool:
    return bool(await admin.fetchval("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", database))


async def test_a_gone_run_is_cleaned_up_and_a_live_one_left_alone(
    server_settings: Settings, settings: Settings
) -> None:
    admin_url, redis_url = server_settings.database.url, server_settings.redis.url
    assert admin_url and redis_url and settings.database.url
    own = urlsplit(settings.database.url).path.removeprefix("/ironlog_test_")  # this run's id
    killed, locked, connected = (uuid.uuid4().hex[:10] for _ in range(3))
    redis = Redis.from_url(redis_url)
    admin = await asyncpg.connect(admin_url)
    holder = await asyncpg.connect(admin_url)
    user = None
    try:
        for run_id in (killed, locked, connected):
            await create_database(admin_url, database_of(run_id))
            await redis.set(prefix_of(run_id) + "left", b"1")
        await create_database(admin_url, database_of(killed) + "_0a1b2c")
        await holder.execute("SELECT pg_advisory_lock($1)", lock_key(locked))  # a live run's lock
        user = await asyncpg.connect(with_database(admin_url, database_of(connected)))  # in use

        removed = await remove_leftovers(server_settings, own)

        assert killed in removed and locked not in removed and connected not in removed
        assert own not in removed  # this run's own
        assert not await _exists(admin, database_of(killed))
        assert not await _exists(admin, database_of(killed) + "_0a1b2c")
        assert await redis.get(prefix_of(killed) + "left") is None
        for alive in (locked, connected):
            assert await _exists(admin, database_of(alive))
            assert await redis.get(prefix_of(alive) + "left") == b"1"
        assert await _exists(admin, database_of(own))
    finally:
        if user is not None:
            await user.close()
        await holder.close()
        await admin.close()
        for run_id in (killed, locked, connected):
            await drop_database(admin_url, database_of(run_id))
            await delete_prefix(redis_url, prefix_of(run_id))
        await drop_database(admin_url, database_of(killed) + "_0a1b2c")
        await redis.aclose()
