"""projection_dirty: workouts a projection changed without an event of their own, for the Redis sync."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "projection_dirty"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    """
    CREATE TABLE projection_dirty (
        user_id uuid NOT NULL REFERENCES streams (user_id) ON DELETE CASCADE,
        workout_id uuid NOT NULL,
        version bigint NOT NULL,
        PRIMARY KEY (user_id, workout_id)
    )
    """,
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_projection_dirty() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_projection_dirty)
    return manager
