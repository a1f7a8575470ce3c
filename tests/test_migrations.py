"""`ironlog migrate`: idempotent, and safe when two processes run it at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from urllib.parse import urlsplit

import asyncpg

from core.settings import Settings
from migrations.runner import known_migrations, migrate
from tests.harness import analyst_role_of


async def _applied(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT name FROM migration ORDER BY name")
        return [row["name"] for row in rows]
    finally:
        await connection.close()


async def test_second_migrate_applies_nothing(settings: Settings, fresh_database: str) -> None:
    bound = settings.with_services(fresh_database, settings.redis.url or "")
    first = await migrate(bound)
    second = await migrate(bound)
    assert first == known_migrations()
    assert second == []
    assert await _applied(fresh_database) == known_migrations()


async def test_migrations_create_the_analytics_schema(settings: Settings, fresh_database: str) -> None:
    await migrate(settings.with_services(fresh_database, settings.redis.url or ""))
    connection = await asyncpg.connect(fresh_database)
    try:
        assert await connection.fetchval("SELECT to_regnamespace('analytics') IS NOT NULL")
    finally:
        await connection.close()


async def test_two_processes_migrating_at_once_apply_each_migration_once(
    fresh_database: str,
) -> None:
    database = urlsplit(fresh_database).path.lstrip("/")
    env = {**os.environ, "DATABASE_URL": fresh_database, "IRONLOG_ANALYST_ROLE": analyst_role_of(database)}

    def run_migrate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    results = await asyncio.gather(asyncio.to_thread(run_migrate), asyncio.to_thread(run_migrate))
    for result in results:
        assert result.returncode == 0, result.stderr
    outputs = sorted(result.stdout.strip() for result in results)
    assert outputs == [f"applied {len(known_migrations())} migration(s)", "migrations are current"]
    assert await _applied(fresh_database) == known_migrations()
