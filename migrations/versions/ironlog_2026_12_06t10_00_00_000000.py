"""Signing in with Apple and Google: identities (a provider's user, linked to one account), the ID-token
nonces already used, and the identities of erased accounts (digests only). Accounts may have no
password (those made by signing in with a provider) and may be disabled.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-06T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "identities"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    # The previous release reads a missing password as a wrong one: it refuses such accounts' logins.
    "ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL",
    "ALTER TABLE users ADD COLUMN disabled_at timestamptz",
    # One identity per provider and account; `email` as the provider gave it (an Apple relay address too).
    """
    CREATE TABLE identities (
        provider text NOT NULL CHECK (provider IN ('apple', 'google')),
        subject text NOT NULL,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        email text,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (provider, subject),
        UNIQUE (user_id, provider)
    )
    """,
    # A nonce signs in once: kept until the ID token that carried it has expired.
    """
    CREATE TABLE id_token_nonces (
        digest bytea PRIMARY KEY,
        expires_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX id_token_nonces_expiry ON id_token_nonces (expires_at)",
    # An ID token issued before its account was erased never signs in again (it would bring the account
    # back); kept while such a token may still be valid, and by digest, so no provider id is left.
    """
    CREATE TABLE erased_identities (
        digest bytea PRIMARY KEY,
        erased_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX erased_identities_age ON erased_identities (erased_at)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_identities() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_identities)
    return manager
