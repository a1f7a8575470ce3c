"""Apply and inspect migrations; safe when several processes migrate at once."""

from __future__ import annotations

import contextlib
import io

import asyncpg
import structlog
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import run_forwards

from core.db import close_pool, open_pool, session_changed
from core.settings import Settings
from migrations.analyst_role import ensure_analyst_role
from migrations.catalog import sync_catalog
from migrations.piccolo_app import APP_CONFIG

log = structlog.get_logger(__name__)

#: pg_advisory_lock key held while migrating ("ironlog" in ASCII, as a bigint).
MIGRATION_LOCK_KEY = 0x69726F6E6C6F67


class MigrationError(RuntimeError):
    """Migrations failed; the message carries Piccolo's report."""


def known_migrations() -> list[str]:
    """Ids of the migrations shipped with this code, in order."""
    manager = BaseMigrationManager()
    modules = manager.get_migration_modules(APP_CONFIG.resolved_migrations_folder_path)
    return sorted(manager.get_migration_ids(modules))


async def applied_migrations(pool: asyncpg.Pool) -> list[str]:
    """Ids recorded as applied; empty when nothing was ever migrated."""
    exists = await pool.fetchval("SELECT to_regclass('public.migration') IS NOT NULL")
    if not exists:
        return []
    rows = await pool.fetch(
        "SELECT name FROM migration WHERE app_name = $1 ORDER BY name", APP_CONFIG.app_name
    )
    return [row["name"] for row in rows]


async def pending_migrations(pool: asyncpg.Pool) -> list[str]:
    applied = set(await applied_migrations(pool))
    return [m for m in known_migrations() if m not in applied]


async def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations under an advisory lock; return the ids applied by this call."""
    pool = await open_pool(settings.with_pool_size(2, 3), "cli")
    try:
        async with pool.acquire() as lock_connection:
            session_changed(lock_connection)
            await lock_connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
            try:
                todo = await pending_migrations(pool)
                if todo:
                    report = io.StringIO()
                    with contextlib.redirect_stdout(report):
                        result = await run_forwards(app_name=APP_CONFIG.app_name)
                    if not result.success:
                        raise MigrationError(f"{result.message}\n{report.getvalue()}")
                # Reference data and the analyst role follow the code on every run, not only when a migration
                # is pending.
                changed = await sync_catalog(lock_connection)
                await ensure_analyst_role(
                    lock_connection, settings.database.analyst_role, settings.database.analyst_password
                )
                log.info("migrated", applied=todo, catalog_rows_changed=changed)
                return todo
            finally:
                await lock_connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await close_pool(pool)
