"""projection_leases: per user, who projects them, until when, from which Postgres backend;
worker_leases: who runs a process-wide duty (the sweeper), until when."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-05T07:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "projection_leases"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    # `token` grows with every taking: the fencing token checked where the checkpoint is written.
    # `backend_pid` is NULL once handed back: nobody's backend to end.
    """
    CREATE TABLE projection_leases (
        user_id uuid PRIMARY KEY REFERENCES streams (user_id) ON DELETE CASCADE,
        owner text NOT NULL,
        token bigint NOT NULL,
        deadline timestamptz NOT NULL,
        backend_pid integer
    )
    """,
    """
    CREATE TABLE worker_leases (
        name text PRIMARY KEY,
        owner text NOT NULL,
        deadline timestamptz NOT NULL
    )
    """,
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_projection_leases() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_projection_leases)
    return manager
