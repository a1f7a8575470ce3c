"""Body weight and follows: write tables and read models."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bodyweights, follows, rm_bodyweights, rm_follows"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    """
    CREATE TABLE bodyweights (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        day date NOT NULL,
        weight_value numeric NOT NULL,
        weight_unit text NOT NULL CHECK (weight_unit IN ('kg', 'lb')),
        weight_kg numeric NOT NULL,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (user_id, day)
    )
    """,
    """
    CREATE TABLE follows (
        follower_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        followee_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        followed_at timestamptz NOT NULL,
        PRIMARY KEY (follower_id, followee_id)
    )
    """,
    "CREATE INDEX follows_followee ON follows (followee_id)",
    """
    CREATE TABLE rm_bodyweights (
        user_id uuid NOT NULL,
        day date NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (user_id, day)
    )
    """,
    """
    CREATE TABLE rm_follows (
        user_id uuid NOT NULL,
        followee_id uuid NOT NULL,
        followed_at timestamptz NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (user_id, followee_id)
    )
    """,
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_bodyweights_and_follows() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_bodyweights_and_follows)
    return manager
