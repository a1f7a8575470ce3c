"""The analytics counts' changes: a projection batch inserts what the counts change by as rows of its own
(no batch waits on another's shared rows any more) and the sweeper folds them into the counts. The
previous release keeps updating the counts directly; both add up.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics counts' changes"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    """
    CREATE TABLE analytics.daily_activity_changes (
        day date NOT NULL,
        active_users integer NOT NULL,
        workouts integer NOT NULL,
        sets bigint NOT NULL,
        volume_kg numeric NOT NULL,
        new_users integer NOT NULL
    )
    """,
    """
    CREATE TABLE analytics.exercise_popularity_changes (
        week date NOT NULL,
        exercise_id text NOT NULL,
        users integer NOT NULL,
        sessions integer NOT NULL,
        sets bigint NOT NULL,
        volume_kg numeric NOT NULL
    )
    """,
    """
    CREATE TABLE analytics.retention_changes (
        cohort_week date NOT NULL,
        weeks_since_signup integer NOT NULL,
        users integer NOT NULL
    )
    """,
    "COMMENT ON TABLE analytics.daily_activity_changes IS 'Changes of daily_activity not yet added into "
    "it (every few seconds); add them up with it for counts to the moment'",
    "COMMENT ON TABLE analytics.exercise_popularity_changes IS 'Changes of exercise_popularity not yet "
    "added into it (every few seconds)'",
    "COMMENT ON TABLE analytics.retention_changes IS 'Changes of retention not yet added into it (every "
    "few seconds)'",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_changes() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_changes)
    return manager
