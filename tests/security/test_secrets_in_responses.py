"""No response ever carries a password hash, a refresh token's digest or an internal column.

The main flows are run through the audited client; then every body it received is searched for the
caller's argon2 hash, the stored digests of every refresh token handed out, and internal column names
(the client also rejects any `$argon2` on every response of this package). JSON keys must be
camelCase: a snake_case key is a database row leaking through.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg

from core.settings import Settings
from tests.accounts import PASSWORD, access_headers, bearer, sign_up
from tests.security.conftest import Audited
from tests.test_custom_exercises import LANDMINE, using
from tests.test_routines import PUSH_A

NEW_PASSWORD = "fresh-chalk-and-plates-77"
#: Write-side columns that are nobody's business outside the database (checked to exist below).
INTERNAL_COLUMNS = {
    "users": ["password_hash", "email_normalised"],
    "refresh_tokens": ["token_hash", "parent_hash", "successor_sealed", "family_id", "access_token_id"],
    "refresh_families": ["revoked_reason", "last_refreshed_at"],
    "workouts": ["body_digest"],
    "projection_checkpoints": ["parked_error", "redis_version"],
    "events": ["event_id", "schema_version"],
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def digest_forms(token: str) -> set[str]:
    """The refresh token's SHA-256 as it is stored, in every spelling a leak could take."""
    forms: set[str] = set()
    for raw in (base64.urlsafe_b64decode(token + "="), token.encode()):
        digest = hashlib.sha256(raw).digest()
        forms |= {
            digest.hex(),
            base64.b64encode(digest).decode(),
            base64.b64encode(digest).decode().rstrip("="),
            base64.urlsafe_b64encode(digest).decode().rstrip("="),
        }
    return forms


def keys_of(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from keys_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_of(item)


async def run_main_flows(client: Any, project: Any, settings: Settings) -> tuple[dict[str, Any], list[str]]:
    """Register, sign in, refresh, use the profile, log data, read it all back; the account and every
    refresh token handed out."""
    signed_up = await sign_up(client)
    email = signed_up["sent"]["email"]
    tokens = [signed_up["refreshToken"]]
    friend = await sign_up(client)

    # Accounts and sessions, failures included.
    login = (await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})).json()
    tokens.append(login["refreshToken"])
    refreshed = (await client.post("/v1/auth/refresh", json={"refreshToken": login["refreshToken"]})).json()
    tokens.append(refreshed["refreshToken"])
    await client.post("/v1/auth/refresh", json={"refreshToken": login["refreshToken"]})  # grace replay
    await client.post("/v1/auth/login", json={"email": email, "password": "wrong-" + PASSWORD})
    await client.post("/v1/auth/refresh", json={"refreshToken": "A" * 43})
    await client.post("/v1/auth/register", json={**signed_up["sent"], "handle": "someone_else"})
    me = bearer(refreshed)
    await client.get("/v1/me", headers=me)
    await client.patch("/v1/me", json={"displayName": "Chalk Hands", "leaderboardOptIn": True}, headers=me)
    wrong = {"currentPassword": "not-" + PASSWORD, "newPassword": NEW_PASSWORD}
    await client.post("/v1/me/password", json=wrong, headers=me)
    changed = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    assert (await client.post("/v1/me/password", json=changed, headers=me)).status_code == 204
    again = (await client.post("/v1/auth/login", json={"email": email, "password": NEW_PASSWORD})).json()
    tokens.append(again["refreshToken"])
    me = bearer(again)
    await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=me)  # wrong: refused

    # Data, then every read of it.
    exercise_id, workout_id, routine_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await client.put(f"/v1/exercises/{exercise_id}", json=LANDMINE, headers=me)
    await client.put(f"/v1/workouts/{workout_id}", json=using(str(exercise_id)), headers=me)
    await client.put(
        f"/v1/workouts/{workout_id}", json=using(str(exercise_id)), headers={**me, "If-Match": '"9"'}
    )
    await client.put(f"/v1/routines/{routine_id}", json=PUSH_A, headers=me)
    await client.put("/v1/bodyweight/2026-11-20", json={"weight": {"value": 80, "unit": "kg"}}, headers=me)
    await client.put(f"/v1/follows/{friend['user']['id']}", headers=me)
    await project(again["user"]["id"])
    for path in (
        "/v1/me",
        "/v1/workouts",
        f"/v1/workouts/{workout_id}",
        "/v1/routines",
        f"/v1/routines/{routine_id}",
        f"/v1/exercises?q={LANDMINE['name']}",
        f"/v1/exercises/{exercise_id}",
        f"/v1/exercises/{exercise_id}/history",
        f"/v1/exercises/{exercise_id}/history/last",
        "/v1/records",
        f"/v1/records/{exercise_id}",
        "/v1/stats/dashboard",
        "/v1/bodyweight",
        "/v1/follows",
        f"/v1/users?handle={friend['user']['handle']}",
        "/v1/changes?since=0",
        "/v1/leaderboards/weekly-volume?period=2026-W48",
        "/v1/me/export",
        "/v1/me/export/workouts.csv",
    ):
        response = await client.get(path, headers=me)
        assert response.status_code == 200, (path, response.text)
    csv = (await client.get("/v1/me/export/workouts.csv", headers=me)).content
    await client.post(
        "/v1/imports", files={"file": ("a.csv", csv, "text/csv")}, params={"dryRun": "true"}, headers=me
    )
    admin = access_headers(settings, "admin")
    for report in ("daily", "exercises", "retention"):
        await client.get(f"/v1/analytics/{report}", headers=admin)
    await client.post("/v1/auth/logout", headers=me)
    await client.post("/v1/auth/refresh", json={"refreshToken": again["refreshToken"]})  # revoked
    return again["user"], tokens


async def test_no_response_carries_a_hash_a_token_digest_or_an_internal_column(
    client: Any, audited: Audited, project: Any, settings: Settings, db: asyncpg.Connection
) -> None:
    account, tokens = await run_main_flows(client, project, settings)
    user_id = uuid.UUID(account["id"])

    # What is stored, so that the search looks for the real thing.
    password_hash = await db.fetchval("SELECT password_hash FROM users WHERE id = $1", user_id)
    assert password_hash.startswith("$argon2")
    stored = {
        bytes(row["token_hash"]).hex()
        for row in await db.fetch(
            "SELECT t.token_hash FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id "
            "WHERE f.user_id = $1",
            user_id,
        )
    }
    digests = set().union(*(digest_forms(token) for token in tokens))
    assert stored and stored <= digests
    columns = {
        (row["table_name"], row["column_name"])
        for row in await db.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        )
    }
    internal = {column for table, names in INTERNAL_COLUMNS.items() for column in names}
    assert {(table, name) for table, names in INTERNAL_COLUMNS.items() for name in names} <= columns

    forbidden_text = {"$argon2", password_hash, password_hash.rsplit("$", 1)[-1], *digests, *internal}
    forbidden_keys = internal | {camel(name) for name in internal}
    assert len(audited.responses) > 40
    for response in audited.responses:
        where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
        text = response.text
        leaked = [secret for secret in forbidden_text if secret in text]
        assert not leaked, (where, leaked)
        assert PASSWORD not in text and NEW_PASSWORD not in text, where
        if "json" in response.headers.get("content-type", ""):
            keys = set(keys_of(response.json()))
            assert not keys & forbidden_keys, (where, keys & forbidden_keys)
            assert not [key for key in keys if "_" in key], (where, keys)
