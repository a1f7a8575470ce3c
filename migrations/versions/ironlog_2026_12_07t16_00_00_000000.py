"""What each exercise session is the best of, as columns of rm_exercise_sessions: Postgres finds the
records held before a point of an exercise's history, so a batch that changes an older session (or a
record holder) replays only the sessions from that point on, not the whole history.

Rows written before (`measured` false) have no such columns yet (their bodies are packed: no SQL can
read them): an exercise with one of them is replayed whole, as before, until a rebuild rewrites them.
The release bumps the history-and-records projector's version, so `ironlog migrate` rebuilds them
(projections/rebuild.py). The previous release writes rows without them, which the new one reads the
same way.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rm_exercise_sessions: each session's bests"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    """
    ALTER TABLE rm_exercise_sessions
        ADD COLUMN heaviest_kg double precision,
        ADD COLUMN e1rm_kg double precision,
        ADD COLUMN most_reps integer,
        ADD COLUMN best_set_volume_kg double precision,
        ADD COLUMN measured boolean NOT NULL DEFAULT false
    """,
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def add_bests() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(add_bests)
    return manager
