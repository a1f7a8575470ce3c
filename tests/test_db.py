"""One asyncpg pool per process, shared by Piccolo and raw queries."""

from __future__ import annotations

from piccolo.apps.migrations.tables import Migration

from core.db import ENGINE, close_pool, open_pool
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
