"""projection_outbox: the read-model keys each projection transaction changed, for the Redis sync.

Replaces projection_dirty, which the runner no longer writes; that table stays for the previous
release's workers during a rolling deploy and is dropped by a later, contracting migration.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-05T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "projection_outbox"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    # One row per key until the sync has written it; a key changed again meanwhile gets a new `change`,
    # so a sync that read the older one deletes only what it wrote.
    """
    CREATE TABLE projection_outbox (
        user_id uuid NOT NULL REFERENCES streams (user_id) ON DELETE CASCADE,
        key text NOT NULL,
        version bigint NOT NULL,
        change bigserial NOT NULL,
        PRIMARY KEY (user_id, key)
    )
    """,
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_projection_outbox() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_projection_outbox)
    return manager
