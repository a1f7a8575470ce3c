"""Projector versions: what the read models were last rebuilt with, so a bumped projector rebuilds on deploy."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "projector_versions"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    """
    CREATE TABLE projector_versions (
        projector text PRIMARY KEY,
        version integer NOT NULL,
        rebuilt_at timestamptz NOT NULL
    )
    """,
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_projector_versions() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_projector_versions)
    return manager
