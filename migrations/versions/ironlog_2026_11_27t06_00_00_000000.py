"""Exercise history and personal records: read models."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rm_exercise_sessions, rm_records"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    """
    CREATE TABLE rm_exercise_sessions (
        user_id uuid NOT NULL,
        exercise_id text NOT NULL,
        workout_id uuid NOT NULL,
        started_at timestamptz NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (user_id, exercise_id, workout_id)
    )
    """,
    """
    CREATE INDEX rm_exercise_sessions_history
    ON rm_exercise_sessions (user_id, exercise_id, started_at DESC, workout_id DESC)
    """,
    "CREATE INDEX rm_exercise_sessions_by_workout ON rm_exercise_sessions (user_id, workout_id)",
    """
    CREATE TABLE rm_records (
        user_id uuid NOT NULL,
        exercise_id text NOT NULL,
        summary bytea NOT NULL,
        detail bytea NOT NULL,
        PRIMARY KEY (user_id, exercise_id)
    )
    """,
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_history_and_records() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_history_and_records)
    return manager
