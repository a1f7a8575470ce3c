"""The sweeper remembers when it last poked a lagging user, so a queued poke is not repeated."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "projection_pending.poked_at"
DEPLOY = "expand"  # migrations/deploy.py


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def add_poked_at() -> None:
        from piccolo.conf.apps import Finder

        await Finder().get_engine().run_ddl("ALTER TABLE projection_pending ADD COLUMN poked_at timestamptz")

    manager.add_raw(add_poked_at)
    return manager
