"""Routines: the write table and their read model."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T05:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "routines, rm_routines"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    """
    CREATE TABLE routines (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        version integer NOT NULL,
        body_digest bytea,
        name text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        deleted_at timestamptz
    )
    """,
    "CREATE INDEX routines_by_user ON routines (user_id) WHERE deleted_at IS NULL",
    """
    CREATE TABLE rm_routines (
        user_id uuid NOT NULL,
        routine_id uuid NOT NULL,
        version integer NOT NULL,
        name text NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (user_id, routine_id)
    )
    """,
    "CREATE INDEX rm_routines_by_name ON rm_routines (user_id, name, routine_id)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_routines() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_routines)
    return manager
