"""Custom exercises: the write table and their read model."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T04:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "custom exercises: exercises, rm_custom_exercises"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    """
    CREATE TABLE exercises (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        version integer NOT NULL,
        body_digest bytea,
        name text,
        measurement text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        deleted_at timestamptz
    )
    """,
    "CREATE INDEX exercises_by_user ON exercises (user_id) WHERE deleted_at IS NULL",
    """
    CREATE TABLE rm_custom_exercises (
        user_id uuid NOT NULL,
        exercise_id uuid NOT NULL,
        version integer NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        body bytea NOT NULL,
        PRIMARY KEY (user_id, exercise_id)
    )
    """,
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_custom_exercises() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_custom_exercises)
    return manager
