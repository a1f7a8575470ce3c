"""Accounts: registration rules, sign-in, profile and preferences, finding people, password change."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from commands.passwords import PasswordHasher
from core.settings import AuthSettings, Settings
from tests.accounts import PASSWORD, bearer, new_identity, sign_up
from tests.harness import assert_problem

ACCOUNT_FIELDS = {
    "id",
    "email",
    "displayName",
    "handle",
    "role",
    "unit",
    "e1rmFormula",
    "timezone",
    "weekStart",
    "leaderboardOptIn",
    "createdAt",
}


async def login(client: Any, email: str, password: str = PASSWORD) -> Any:
    return await client.post("/v1/auth/login", json={"email": email, "password": password})


async def test_registration_signs_in_and_returns_the_profile_without_secrets(client: Any) -> None:
    body = new_identity(handle="Sam_Lifts_" + uuid.uuid4().hex[:6])
    response = await client.post("/v1/auth/register", json=body)

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    signed_in = response.json()
    assert signed_in["tokenType"] == "Bearer"
    assert signed_in["expiresIn"] == 900
    assert set(signed_in["user"]) == ACCOUNT_FIELDS
    assert signed_in["user"]["handle"] == body["handle"].lower()
    assert signed_in["user"]["role"] == "user"
    assert body["password"] not in response.text
    assert "hash" not in response.text.lower()
    me = await client.get("/v1/me", headers=bearer(signed_in))
    assert me.status_code == 200
    assert me.json() == signed_in["user"]


async def test_passwords_are_stored_as_argon2id_hashes(client: Any, db: asyncpg.Connection) -> None:
    signed_in = await sign_up(client)
    stored = await db.fetchval(
        "SELECT password_hash FROM users WHERE id = $1", uuid.UUID(signed_in["user"]["id"])
    )
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_emails_are_unique_case_insensitively(client: Any, db: asyncpg.Connection) -> None:
    tag = uuid.uuid4().hex[:8]
    await sign_up(client, email=f"Sam.{tag}@Example.com")
    again = await client.post("/v1/auth/register", json=new_identity(email=f"  sam.{tag}@EXAMPLE.com "))
    body = assert_problem(again, 409)
    assert body["errors"] == [{"field": "email", "message": "An account with this email exists."}]
    assert (
        await db.fetchval("SELECT count(*) FROM users WHERE email_normalised = $1", f"sam.{tag}@example.com")
        == 1
    )


async def test_handles_are_unique_case_insensitively(client: Any) -> None:
    handle = "Lifter_" + uuid.uuid4().hex[:8]
    await sign_up(client, handle=handle)
    again = await client.post("/v1/auth/register", json=new_identity(handle=handle.upper()))
    assert assert_problem(again, 409)["errors"][0]["field"] == "handle"


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-pw", "10"),
        ("qwertyuiop", "common"),
        ("Password123", "common"),
        ("1q2w3e4r5t6y", "common"),
    ],
)
async def test_weak_passwords_are_refused(client: Any, password: str, why: str) -> None:
    response = await client.post("/v1/auth/register", json=new_identity(password=password))
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "password"
    assert why in body["errors"][0]["message"] or why in body.get("detail", "")


async def test_a_password_equal_to_the_handle_is_refused(client: Any) -> None:
    handle = "deadlift_" + uuid.uuid4().hex[:6]
    response = await client.post("/v1/auth/register", json=new_identity(handle=handle, password=handle))
    assert assert_problem(response, 422)["errors"][0]["field"] == "password"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("role", "admin"),
        ("id", str(uuid.uuid4())),
        ("createdAt", "2026-01-01T00:00:00Z"),
        ("passwordHash", "x"),
    ],
)
async def test_registration_rejects_unknown_fields_and_writes_nothing(
    client: Any, db: asyncpg.Connection, field: str, value: str
) -> None:
    body = new_identity(**{field: value})
    response = await client.post("/v1/auth/register", json=body)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == field
    assert await db.fetchval("SELECT count(*) FROM users WHERE handle = $1", body["handle"]) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("handle", "no spaces allowed"), ("handle", "ab"), ("displayName", "")],
)
async def test_registration_validates_each_field(client: Any, field: str, value: str) -> None:
    response = await client.post("/v1/auth/register", json=new_identity(**{field: value}))
    assert assert_problem(response, 422)["errors"][0]["field"] == field


async def test_login_checks_the_password_and_ignores_email_case(client: Any) -> None:
    signed_in = await sign_up(client)
    email = signed_in["sent"]["email"]

    ok = await login(client, email.upper())
    wrong = await login(client, email, "wrong-password-123")
    unknown = await login(client, "nobody-" + email)

    assert ok.status_code == 200
    assert ok.headers["cache-control"] == "no-store"
    assert ok.json()["user"]["id"] == signed_in["user"]["id"]
    assert ok.json()["refreshToken"] != signed_in["refreshToken"]
    # A wrong password and an unknown email are indistinguishable.
    assert assert_problem(wrong, 401)["detail"] == assert_problem(unknown, 401)["detail"]


async def test_login_rehashes_a_password_hashed_with_older_parameters(
    client: Any, settings: Settings, db: asyncpg.Connection
) -> None:
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    older = PasswordHasher(AuthSettings(argon2_time_cost=2, argon2_memory_kib=16, argon2_parallelism=1))
    try:
        await db.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1", user_id, await older.hash(PASSWORD)
        )
    finally:
        older.close()

    assert (await login(client, signed_in["sent"]["email"])).status_code == 200

    stored = await db.fetchval("SELECT password_hash FROM users WHERE id = $1", user_id)
    assert f"m={settings.auth.argon2_memory_kib},t={settings.auth.argon2_time_cost}," in stored


async def test_profile_changes_only_the_fields_sent(client: Any) -> None:
    signed_in = await sign_up(client)
    headers = bearer(signed_in)
    changes = {
        "displayName": "  Sam   the  Ox ",
        "unit": "lb",
        "e1rmFormula": "brzycki",
        "timezone": "America/New_York",
        "weekStart": "sunday",
        "leaderboardOptIn": True,
    }
    response = await client.patch("/v1/me", json=changes, headers=headers)
    assert response.status_code == 200, response.text
    account = response.json()
    assert account == {**signed_in["user"], **changes, "displayName": "Sam the Ox"}

    handle = "renamed_" + uuid.uuid4().hex[:8]
    renamed = await client.patch("/v1/me", json={"handle": handle.upper()}, headers=headers)
    assert renamed.json() == {**account, "handle": handle}
    assert (await client.get("/v1/me", headers=headers)).json() == renamed.json()


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"role": "admin"}, 422, "role"),
        ({"email": "new@example.com"}, 422, "email"),
        ({"id": str(uuid.uuid4())}, 422, "id"),
        ({"timezone": "Mars/Olympus_Mons"}, 422, "timezone"),
        ({"unit": "stone"}, 422, "unit"),
        ({"weekStart": "friday"}, 422, "weekStart"),
        ({"displayName": None}, 422, "displayName"),
        ({"displayName": "   "}, 422, "displayName"),
        ({"leaderboardOptIn": "yes"}, 422, "leaderboardOptIn"),
    ],
)
async def test_profile_refuses_bad_or_forbidden_changes(
    client: Any, change: dict[str, Any], status: int, field: str
) -> None:
    signed_in = await sign_up(client)
    response = await client.patch("/v1/me", json=change, headers=bearer(signed_in))
    assert assert_problem(response, status)["errors"][0]["field"] == field
    assert (await client.get("/v1/me", headers=bearer(signed_in))).json() == signed_in["user"]


async def test_taking_someone_elses_handle_is_a_conflict(client: Any) -> None:
    first = await sign_up(client)
    second = await sign_up(client)
    response = await client.patch("/v1/me", json={"handle": first["user"]["handle"]}, headers=bearer(second))
    assert assert_problem(response, 409)["errors"][0]["field"] == "handle"


async def test_users_are_found_by_exact_or_prefix_handle_with_public_fields_only(client: Any) -> None:
    stem = "squat" + uuid.uuid4().hex[:6]
    handles = [stem, stem + "_a", stem + "_b", stem + "b"]
    for handle in handles:
        await sign_up(client, handle=handle)
    caller = bearer(await sign_up(client))

    found = await client.get("/v1/users", params={"handle": stem.upper()}, headers=caller)
    assert found.status_code == 200
    items = found.json()["items"]
    assert [item["handle"] for item in items] == sorted(handles)
    assert all(set(item) == {"id", "handle", "displayName"} for item in items)
    exact = await client.get("/v1/users", params={"handle": stem + "_a"}, headers=caller)
    assert [item["handle"] for item in exact.json()["items"]] == [stem + "_a"]


async def test_user_search_pages_with_an_opaque_cursor(client: Any) -> None:
    stem = "bench" + uuid.uuid4().hex[:6]
    handles = sorted(f"{stem}_{i}" for i in range(5))
    for handle in handles:
        await sign_up(client, handle=handle)
    caller = bearer(await sign_up(client))

    seen: list[str] = []
    params: dict[str, Any] = {"handle": stem, "limit": 2}
    for _ in range(5):
        page = (await client.get("/v1/users", params=params, headers=caller)).json()
        seen += [item["handle"] for item in page["items"]]
        if "nextCursor" not in page:
            break
        params["cursor"] = page["nextCursor"]
    assert seen == handles


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"handle": "abc", "limit": 101}, "limit"),
        ({"handle": "abc", "limit": 0}, "limit"),
        ({"handle": "a b"}, "handle"),
        ({"handle": "abc", "cursor": "%%%not-a-cursor"}, "cursor"),
        ({}, "handle"),
    ],
)
async def test_user_search_refuses_bad_parameters(client: Any, params: dict[str, Any], field: str) -> None:
    caller = bearer(await sign_up(client))
    response = await client.get("/v1/users", params=params, headers=caller)
    body = assert_problem(response, 422)
    assert any(field in error["field"] for error in body["errors"])


async def test_changing_the_password_keeps_this_session_and_ends_the_others(client: Any) -> None:
    here = await sign_up(client)
    email = here["sent"]["email"]
    elsewhere = (await login(client, email)).json()
    new_password = "new-squat-rack-77"

    response = await client.post(
        "/v1/me/password",
        json={"currentPassword": PASSWORD, "newPassword": new_password},
        headers=bearer(here),
    )

    assert response.status_code == 204, response.text
    assert (
        await client.post("/v1/auth/refresh", json={"refreshToken": here["refreshToken"]})
    ).status_code == 200
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refreshToken": elsewhere["refreshToken"]}), 401
    )
    assert_problem(await login(client, email), 401)
    assert (await login(client, email, new_password)).status_code == 200


async def test_password_change_needs_the_current_password_and_a_strong_new_one(client: Any) -> None:
    signed_in = await sign_up(client)
    headers = bearer(signed_in)
    wrong = await client.post(
        "/v1/me/password",
        json={"currentPassword": "not-my-password", "newPassword": "brand-new-pass-1"},
        headers=headers,
    )
    weak = await client.post(
        "/v1/me/password", json={"currentPassword": PASSWORD, "newPassword": "qwertyuiop"}, headers=headers
    )
    assert_problem(wrong, 403)
    assert assert_problem(weak, 422)["errors"][0]["field"] == "newPassword"
    assert (await login(client, signed_in["sent"]["email"])).status_code == 200
