"""Authentication on every route that is not public, role guards, and the analysts' database role.

tests/test_access_tokens.py covers how tokens are checked (signature, expiry, audience, …) and
tests/test_analytics.py the analyst role's grants on named tables; here every route and every table
of the migrated database are covered, so that a new one cannot slip through.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import jwt
import pytest

from core.settings import Settings
from tests.accounts import access_headers
from tests.harness import assert_problem
from tests.security.inventory import OPERATIONS, ROLE_PREFIXES, Operation, concrete

PROTECTED = [op for op in OPERATIONS if not op.public]
ROLE_ONLY = [op for op in OPERATIONS if op.path.startswith(ROLE_PREFIXES)]
ADMIN_ONLY = [op for op in ROLE_ONLY if op.path.startswith("/v1/diagnostics/")]


def _ids(operations: list[Operation]) -> list[str]:
    return [op.label for op in operations]


def test_only_the_documented_routes_are_public() -> None:
    # docs/architecture.md#the-api-contract: register, login, refresh, signing in with a provider,
    # Apple's notifications, /health/*, /metrics and the docs.
    public = {op.label for op in OPERATIONS if op.public}
    assert public == {
        "POST /v1/auth/register",
        "POST /v1/auth/login",
        "POST /v1/auth/refresh",
        "POST /v1/auth/oauth/{provider}",
        "POST /v1/auth/oauth/apple/notifications",  # Apple's own signature is its credential
        "GET /health/live",
        "GET /health/ready",
        "GET /metrics",
        "GET /schema",
        "GET /schema/openapi.json",
        "GET /schema/scalar",
        "GET /schema/{path}",
    }


def _signed_with_another_key(settings: Settings) -> dict[str, str]:
    """An admin's token as the app would mint it, but signed with another key (other forgeries:
    tests/test_access_tokens.py)."""
    token = access_headers(settings, "admin")["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    header = jwt.get_unverified_header(token)
    return {
        "Authorization": "Bearer " + jwt.encode(claims, "another-key-" * 4, algorithm="HS256", headers=header)
    }


@pytest.mark.parametrize("op", PROTECTED, ids=_ids(PROTECTED))
async def test_a_protected_route_is_a_401_without_a_valid_token(
    client: Any, settings: Settings, op: Operation
) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic c2FtOnNlY3JldA=="},
        {"Authorization": "Bearer not-a-jwt"},
        _signed_with_another_key(settings),
    ):
        response = await client.request(op.method, concrete(op.path), headers=headers)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer"), headers


def test_role_guards_are_exactly_on_the_analyst_and_admin_routes() -> None:
    guarded = {op.label for op in OPERATIONS if op.guarded}
    assert guarded == {op.label for op in ROLE_ONLY}
    assert ROLE_ONLY and ADMIN_ONLY


@pytest.mark.parametrize("op", ROLE_ONLY, ids=_ids(ROLE_ONLY))
async def test_a_user_token_on_an_analyst_or_admin_route_is_a_403(
    client: Any, settings: Settings, op: Operation
) -> None:
    assert_problem(await client.request(op.method, concrete(op.path), headers=access_headers(settings)), 403)


@pytest.mark.parametrize("op", ADMIN_ONLY, ids=_ids(ADMIN_ONLY))
async def test_an_analyst_token_on_an_admin_route_is_a_403(
    client: Any, settings: Settings, op: Operation
) -> None:
    headers = access_headers(settings, "analyst")
    assert_problem(await client.request(op.method, concrete(op.path), headers=headers), 403)


async def test_the_analyst_role_cannot_touch_any_table_outside_analytics(
    settings: Settings, db: asyncpg.Connection
) -> None:
    role = settings.database.analyst_role
    rows = await db.fetch(
        """
        SELECT c.oid::regclass::text AS name, n.nspname AS schema,
               has_table_privilege($1, c.oid, 'SELECT') AS can_select,
               has_table_privilege($1, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                 AS can_write
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
        """,
        role,
    )
    tables = {row["name"]: row for row in rows}
    assert {"users", "refresh_tokens", "events", "workouts", "streams"} <= set(tables)
    readable_elsewhere = [
        name for name, row in tables.items() if row["schema"] != "analytics" and row["can_select"]
    ]
    assert readable_elsewhere == []
    assert [name for name, row in tables.items() if row["can_write"]] == []
    assert [
        row["name"] for row in tables.values() if row["schema"] == "analytics" and not row["can_select"]
    ] == []
    schemas = await db.fetch(
        "SELECT nspname FROM pg_namespace WHERE has_schema_privilege($1, oid, 'CREATE')", role
    )
    assert schemas == []
    sequences = await db.fetch(
        """
        SELECT c.oid::regclass::text FROM pg_class c
        WHERE CASE WHEN c.relkind = 'S' THEN has_sequence_privilege($1, c.oid, 'USAGE, SELECT, UPDATE') END
        """,
        role,
    )
    assert sequences == []
