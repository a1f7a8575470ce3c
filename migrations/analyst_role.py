"""The analysts' Postgres role: reads schema `analytics` and nothing else, 30 s per statement.

Roles belong to the whole server, so this runs after every migrate (like the catalog sync): it
creates the role when missing and brings its settings and grants up to date in this database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import asyncpg
import structlog

log = structlog.get_logger(__name__)

STATEMENT_TIMEOUT = "30s"
_ATTEMPTS = 3
_SCRAM_ITERATIONS = 4096

# format() quotes names (%I) and literals (%L) on the server; utility statements take no parameters.
_GRANTS = [
    f"SELECT format('ALTER ROLE %I SET statement_timeout = ''{STATEMENT_TIMEOUT}''', $1::text)",
    "SELECT format('ALTER ROLE %I SET default_transaction_read_only = on', $1::text)",
    "SELECT format('ALTER ROLE %I SET search_path = analytics', $1::text)",
    "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1::text)",
    "SELECT format('GRANT USAGE ON SCHEMA analytics TO %I', $1::text)",
    "SELECT format('GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO %I', $1::text)",
    "SELECT format('ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO %I', $1::text)",
    # Only grants to the role itself can be revoked here; PUBLIC holds no grants on our tables.
    "SELECT format('REVOKE ALL ON SCHEMA public FROM %I', $1::text)",
    "SELECT format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', $1::text)",
    "SELECT format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', $1::text)",
    "SELECT format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM %I', $1::text)",
]


class AnalystRoleError(RuntimeError):
    """The configured analyst role cannot be made read-only (it is the migrating or a superuser role)."""


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """A SCRAM-SHA-256 verifier for `password`, so the password itself never reaches server logs."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _SCRAM_ITERATIONS)
    stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${_SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


async def _run(connection: asyncpg.Connection, builder: str, *args: str) -> None:
    statement: str = await connection.fetchval(builder, *args)
    await connection.execute(statement)


async def _ensure(connection: asyncpg.Connection, role: str, password: str | None) -> bool:
    """One attempt in one transaction; True when the role was created."""
    async with connection.transaction():
        found = await connection.fetchrow(
            "SELECT rolsuper, rolname = current_user AS is_me FROM pg_roles WHERE rolname = $1", role
        )
        if found is not None and (found["rolsuper"] or found["is_me"]):
            raise AnalystRoleError(f"the analyst role {role!r} must not be a superuser or the migrating role")
        if found is None and password is None:
            await _run(connection, "SELECT format('CREATE ROLE %I NOLOGIN', $1::text)", role)
        elif password is not None:
            verb = "CREATE" if found is None else "ALTER"
            builder = f"SELECT format('{verb} ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)"
            await _run(connection, builder, role, scram_verifier(password))
        for builder in _GRANTS:
            await _run(connection, builder, role)
    return found is None


async def ensure_analyst_role(connection: asyncpg.Connection, role: str, password: str | None) -> None:
    """Create or update the read-only analyst role; with a password it may log in, else NOLOGIN.

    Another database's migrate may change the same role at the same moment; that attempt is retried.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            created = await _ensure(connection, role, password)
        except (
            asyncpg.DuplicateObjectError,
            asyncpg.UniqueViolationError,
            asyncpg.InternalServerError,
        ) as exc:
            raced = not isinstance(exc, asyncpg.InternalServerError) or "concurrently" in str(exc)
            if not raced or attempt == _ATTEMPTS:
                raise
            continue
        log.info("analyst_role_ready", role=role, created=created, login=password is not None)
        return
