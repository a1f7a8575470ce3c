"""The built-in exercise catalog as a table, for analysts' SQL joins against workout_exercises.

Only the shape lives here; rows are synced from core.catalog after every migrate
(migrations.catalog.sync_catalog), so the table follows the code without a migration per edit.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "exercise_catalog"
DEPLOY = "expand"  # migrations/deploy.py

# No CHECKs on the vocabulary columns: core.catalog owns them and may grow them between migrations.
# Retired ids stay, because logged workouts keep referring to them.
STATEMENT = """
CREATE TABLE exercise_catalog (
    id text PRIMARY KEY,
    name text NOT NULL,
    category text NOT NULL,
    equipment text NOT NULL,
    measurement text NOT NULL,
    mechanic text,
    force text,
    primary_muscles text[] NOT NULL,
    secondary_muscles text[] NOT NULL,
    aliases text[] NOT NULL,
    retired boolean NOT NULL DEFAULT false
)
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_exercise_catalog() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        if engine is None:
            raise RuntimeError("no Piccolo engine is configured")
        await engine.run_ddl(STATEMENT)

    manager.add_raw(create_exercise_catalog)
    return manager
