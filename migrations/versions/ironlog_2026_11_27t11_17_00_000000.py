"""access_token_cutoffs: per user, the instant before which every access token is refused."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T11:17:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "access_token_cutoffs"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    # Keyed by a digest of the user id, not the id, and not tied to `users`: an erased account's
    # tokens must stay refused, and erasure leaves no id behind.
    """
    CREATE TABLE access_token_cutoffs (
        subject bytea PRIMARY KEY,
        not_before timestamptz NOT NULL
    )
    """,
    "CREATE INDEX access_token_cutoffs_by_time ON access_token_cutoffs (not_before)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_access_token_cutoffs() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_access_token_cutoffs)
    return manager
