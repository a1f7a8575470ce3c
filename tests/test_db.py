"""One asyncpg pool per process, shared by Piccolo and raw queries."""

from __future__ import annotations

from piccolo.apps.migrations.tables import Migration

from core.db import ENGINE, close_pool, open_pool, session_changed
from core.settings import Settings
from migrations.runner import known_migrations


async def test_piccolo_queries_run_on_the_process_pool(settings: Settings) -> None:
    pool = await open_pool(settings, "api")
    try:
        assert ENGINE.pool is pool
        names = await Migration.select(Migration.name).output(as_list=True)
        assert sorted(names) == known_migrations()
        # A connection Piccolo opened itself would not carry the pool's application_name.
        rows = await Migration.raw("SELECT current_setting('application_name') AS name")
        assert rows == [{"name": "ironlog-api"}]
    finally:
        await close_pool(pool)
    assert ENGINE.pool is None


async def test_a_connection_goes_back_to_the_pool_without_a_round_trip_unless_its_session_changed(
    settings: Settings,
) -> None:
    pool = await open_pool(settings.with_pool_size(1, 1), "api")  # one connection: the same each time
    try:
        async with pool.acquire() as connection:
            backend = await connection.fetchval("SELECT pg_backend_pid()")
            sent = connection._con._protocol.queries_count  # what asyncpg counts
        async with pool.acquire() as connection:
            assert connection._con._protocol.queries_count == sent  # no reset was sent
            assert await connection.fetchval("SELECT pg_backend_pid()") == backend
            # A transaction left open is rolled back all the same (asyncpg's rule).
            await connection.execute("BEGIN; SET LOCAL application_name = 'left-open'")
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction()
            assert await connection.fetchval("SHOW application_name") == "ironlog-api"
            session_changed(connection)
            await connection.execute("SET search_path = nowhere; SELECT pg_advisory_lock(804113977)")
        async with pool.acquire() as connection:  # reset: the setting and the session lock are gone
            assert await connection.fetchval("SELECT pg_backend_pid()") == backend
            assert await connection.fetchval("SHOW search_path") == '"$user", public'
            assert not await connection.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
    finally:
        await close_pool(pool)
