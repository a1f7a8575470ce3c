"""Accounts: users, refresh-token families and their rotating tokens."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "accounts: users, refresh_families, refresh_tokens"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    """
    CREATE TABLE users (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        email_normalised text NOT NULL UNIQUE,
        password_hash text NOT NULL,
        display_name text NOT NULL,
        handle text COLLATE "C" NOT NULL UNIQUE CHECK (handle ~ '^[a-z0-9_]{3,30}$'),
        role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'analyst', 'admin')),
        unit text NOT NULL DEFAULT 'kg' CHECK (unit IN ('kg', 'lb')),
        e1rm_formula text NOT NULL DEFAULT 'epley' CHECK (e1rm_formula IN ('epley', 'brzycki')),
        timezone text NOT NULL DEFAULT 'UTC',
        week_start text NOT NULL DEFAULT 'monday' CHECK (week_start IN ('monday', 'sunday', 'saturday')),
        leaderboard_opt_in boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    # One row per login: the unit that logout, reuse detection and password changes revoke.
    """
    CREATE TABLE refresh_families (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        last_refreshed_at timestamptz NOT NULL,
        revoked_at timestamptz,
        revoked_reason text
    )
    """,
    "CREATE INDEX refresh_families_live_by_user ON refresh_families (user_id) WHERE revoked_at IS NULL",
    # Tokens are stored as SHA-256 digests only; `successor_sealed` is the next token encrypted
    # with a key derived from this one, so only its holder can replay the grace window.
    """
    CREATE TABLE refresh_tokens (
        token_hash bytea PRIMARY KEY,
        family_id uuid NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
        parent_hash bytea UNIQUE,
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        access_token_id uuid NOT NULL,
        used_at timestamptz,
        successor_sealed bytea
    )
    """,
    "CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_account_tables() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_account_tables)
    return manager
