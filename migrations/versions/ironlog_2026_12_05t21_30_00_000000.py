"""rm_exercise_sessions ordered by its primary key: (user, exercise, start, workout) is unique and is
the history's order, so the separate history index goes; one index fewer on the largest read model.
Its working sets and volume as columns: the dashboard and analytics read those of every recent session
in each projection batch, and no longer decode (and unpack) the bodies for them.

Ships with read-model bodies stored deflated (projections/packing.py) and the projector versions
that rebuild every read model into that form during `ironlog migrate`.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-05T21:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rm_exercise_sessions keyed in history order"
DEPLOY = "lock"  # migrations/deploy.py
DEPLOY_NOTE = (
    "Builds a unique index on rm_exercise_sessions, which blocks the projection's writes to it while it "
    "builds; and the previous release cannot read the deflated bodies this release writes to "
    "rm_exercise_sessions and rm_workout_documents: stop its API and workers before this release's start."
)

STATEMENTS = [
    """
    CREATE UNIQUE INDEX rm_exercise_sessions_order
    ON rm_exercise_sessions (user_id, exercise_id, started_at, workout_id)
    """,
    "ALTER TABLE rm_exercise_sessions DROP CONSTRAINT rm_exercise_sessions_pkey",
    """
    ALTER TABLE rm_exercise_sessions
    ADD CONSTRAINT rm_exercise_sessions_pkey PRIMARY KEY USING INDEX rm_exercise_sessions_order
    """,
    "DROP INDEX rm_exercise_sessions_history",
    # Filled by the rebuild this release's projector versions call for (NULL until then).
    "ALTER TABLE rm_exercise_sessions ADD COLUMN working_sets integer, ADD COLUMN volume_kg numeric",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def key_sessions_in_history_order() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(key_sessions_in_history_order)
    return manager
