"""Leaderboard scores: every user's standing per board, the truth Redis boards are rebuilt from."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rm_leaderboard_scores"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    """
    CREATE TABLE rm_leaderboard_scores (
        board text NOT NULL,
        board_key text NOT NULL,
        user_id uuid NOT NULL,
        score double precision,
        version bigint NOT NULL,
        PRIMARY KEY (board, board_key, user_id)
    )
    """,
    "CREATE INDEX rm_leaderboard_scores_by_user ON rm_leaderboard_scores (user_id, version)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_leaderboard_scores() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_leaderboard_scores)
    return manager
