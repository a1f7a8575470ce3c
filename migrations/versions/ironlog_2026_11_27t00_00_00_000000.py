"""Baseline: the schema analysts read from (filled by later migrations)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "baseline: analytics schema"
DEPLOY = "expand"  # migrations/deploy.py


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_analytics_schema() -> None:
        from piccolo.conf.apps import Finder

        await Finder().get_engine().run_ddl("CREATE SCHEMA IF NOT EXISTS analytics")

    manager.add_raw(create_analytics_schema)
    return manager
