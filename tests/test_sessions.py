"""Refresh tokens: rotation, single use, the retry grace window, reuse detection, expiry, logout."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
import structlog.testing

from commands.sessions import IssuedTokens, Rejection, rotate
from core import clock
from core.settings import Settings
from tests.accounts import PASSWORD, bearer, sign_up
from tests.harness import assert_problem


async def refresh(client: Any, token: str) -> Any:
    return await client.post("/v1/auth/refresh", json={"refreshToken": token})


async def rotate_at(
    db: asyncpg.Connection, settings: Settings, token: str, now: datetime
) -> IssuedTokens | Rejection:
    """Refresh through the command itself, with the clock pinned to `now`."""
    async with db.transaction():
        return await rotate(db, token, settings.auth, now)


async def test_refresh_rotates_the_pair_and_the_new_access_token_works(client: Any) -> None:
    signed_in = await sign_up(client)
    response = await refresh(client, signed_in["refreshToken"])

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    pair = response.json()
    assert set(pair) == {
        "tokenType",
        "accessToken",
        "expiresIn",
        "accessTokenExpiresAt",
        "refreshToken",
        "refreshTokenExpiresAt",
    }
    assert pair["refreshToken"] != signed_in["refreshToken"]
    assert pair["accessToken"] != signed_in["accessToken"]
    me = await client.get("/v1/me", headers=bearer(pair))
    assert me.json()["id"] == signed_in["user"]["id"]


async def test_only_digests_of_refresh_tokens_are_stored(client: Any, db: asyncpg.Connection) -> None:
    signed_in = await sign_up(client)
    pair = (await refresh(client, signed_in["refreshToken"])).json()
    rows = await db.fetch(
        """
        SELECT t.token_hash, t.successor_sealed FROM refresh_tokens t
        JOIN refresh_families f ON f.id = t.family_id WHERE f.user_id = $1
        """,
        uuid.UUID(signed_in["user"]["id"]),
    )
    stored = b"".join(bytes(r["token_hash"]) + bytes(r["successor_sealed"] or b"") for r in rows)
    for token in (signed_in["refreshToken"], pair["refreshToken"]):
        assert token.encode() not in stored
        raw = base64.urlsafe_b64decode(token + "=")
        assert raw not in stored
        assert hashlib.sha256(raw).digest() in {bytes(r["token_hash"]) for r in rows}


async def test_a_retry_within_the_grace_window_gets_the_same_successor_pair(client: Any) -> None:
    signed_in = await sign_up(client)
    first = await refresh(client, signed_in["refreshToken"])
    retry = await refresh(client, signed_in["refreshToken"])

    assert retry.status_code == 200
    assert retry.json() == first.json()
    # The phone goes on with the pair it finally received.
    assert (await refresh(client, retry.json()["refreshToken"])).status_code == 200


async def test_concurrent_refreshes_with_one_token_get_one_successor(client: Any) -> None:
    signed_in = await sign_up(client)
    responses = await asyncio.gather(*(refresh(client, signed_in["refreshToken"]) for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert len({r.json()["refreshToken"] for r in responses}) == 1


async def test_a_refresh_that_waited_for_another_of_the_same_token_replays_its_successor(
    client: Any, settings: Settings
) -> None:
    """Two connections, as two API processes: the second refresh blocks on the first's locks and, once
    that commits, must see the token used and hand out the same successor (not mint a second one)."""
    assert settings.database.url
    signed_in = await sign_up(client)
    now = clock.now()
    first = await asyncpg.connect(settings.database.url)
    second = await asyncpg.connect(settings.database.url)
    try:
        async with first.transaction():
            issued = await rotate(first, signed_in["refreshToken"], settings.auth, now)
            waiting = asyncio.create_task(rotate_at(second, settings, signed_in["refreshToken"], now))
            await asyncio.sleep(0.2)
            assert not waiting.done(), "the second refresh should wait for the first's lock"
        replayed = await asyncio.wait_for(waiting, 10)
    finally:
        await first.close()
        await second.close()
    assert isinstance(issued, IssuedTokens) and isinstance(replayed, IssuedTokens)
    assert replayed.refresh_token == issued.refresh_token


async def test_reuse_outside_the_grace_window_revokes_the_whole_family(
    client: Any, settings: Settings, db: asyncpg.Connection
) -> None:
    signed_in = await sign_up(client)
    stolen = signed_in["refreshToken"]
    users_pair = (await refresh(client, stolen)).json()

    later = clock.now() + timedelta(seconds=settings.auth.refresh_grace_s + 1)
    outcome = await rotate_at(db, settings, stolen, later)

    assert isinstance(outcome, Rejection)
    assert outcome.reason == "reused"
    # Both the attacker's replay and the user's legitimate next refresh now fail.
    assert_problem(await refresh(client, stolen), 401)
    assert_problem(await refresh(client, users_pair["refreshToken"]), 401)
    reason = await db.fetchval(
        "SELECT revoked_reason FROM refresh_families WHERE user_id = $1", uuid.UUID(signed_in["user"]["id"])
    )
    assert reason == "reuse"


async def test_reuse_after_the_successor_was_used_revokes_the_family_and_logs_it(client: Any) -> None:
    signed_in = await sign_up(client)
    second = (await refresh(client, signed_in["refreshToken"])).json()
    third = (await refresh(client, second["refreshToken"])).json()

    with structlog.testing.capture_logs() as logs:
        replay = await refresh(client, signed_in["refreshToken"])

    assert_problem(replay, 401)
    assert_problem(await refresh(client, third["refreshToken"]), 401)
    security = [e for e in logs if e["event"] == "security_event"]
    assert len(security) == 1, logs
    assert security[0]["kind"] == "refresh_token_reuse"
    assert security[0]["user_id"] == signed_in["user"]["id"]
    assert security[0]["log_level"] == "warning"


async def test_a_token_left_idle_past_its_lifetime_is_refused(
    client: Any, settings: Settings, db: asyncpg.Connection
) -> None:
    signed_in = await sign_up(client)
    idle_end = clock.now() + timedelta(seconds=settings.auth.refresh_idle_ttl_s + 1)

    outcome = await rotate_at(db, settings, signed_in["refreshToken"], idle_end)

    assert outcome == Rejection("expired", uuid.UUID(signed_in["user"]["id"]), outcome.family_id)  # type: ignore[union-attr]
    assert datetime.fromisoformat(signed_in["refreshTokenExpiresAt"]) < idle_end


async def test_a_family_ends_at_its_absolute_lifetime_however_often_it_refreshes(
    client: Any, settings: Settings, db: asyncpg.Connection
) -> None:
    signed_in = await sign_up(client)
    start = clock.now()
    token = signed_in["refreshToken"]
    step = timedelta(seconds=settings.auth.refresh_idle_ttl_s - 3600)
    now = start
    while now + step < start + timedelta(seconds=settings.auth.refresh_absolute_ttl_s):
        now += step
        issued = await rotate_at(db, settings, token, now)
        assert isinstance(issued, IssuedTokens), issued
        assert issued.refresh_expires_at <= start + timedelta(
            seconds=settings.auth.refresh_absolute_ttl_s, minutes=1
        )
        token = issued.refresh_token

    past_the_end = start + timedelta(seconds=settings.auth.refresh_absolute_ttl_s + 60)
    outcome = await rotate_at(db, settings, token, past_the_end)
    assert isinstance(outcome, Rejection)
    assert outcome.reason == "expired"


@pytest.mark.parametrize("token", ["", "nonsense", "A" * 43, "A" * 500])
async def test_unknown_or_malformed_refresh_tokens_are_401(client: Any, token: str) -> None:
    response = await refresh(client, token)
    assert response.status_code in (401, 422)
    assert_problem(response, response.status_code)


async def test_logout_revokes_only_this_session(client: Any) -> None:
    phone = await sign_up(client)
    tablet = (
        await client.post("/v1/auth/login", json={"email": phone["sent"]["email"], "password": PASSWORD})
    ).json()

    response = await client.post("/v1/auth/logout", headers=bearer(phone))

    assert response.status_code == 204
    assert response.headers["cache-control"] == "no-store"
    assert_problem(await refresh(client, phone["refreshToken"]), 401)
    assert (await refresh(client, tablet["refreshToken"])).status_code == 200


async def test_logout_all_revokes_every_session_of_the_user_only(client: Any) -> None:
    phone = await sign_up(client)
    tablet = (
        await client.post("/v1/auth/login", json={"email": phone["sent"]["email"], "password": PASSWORD})
    ).json()
    someone_else = await sign_up(client)

    assert (await client.post("/v1/auth/logout-all", headers=bearer(tablet))).status_code == 204

    assert_problem(await refresh(client, phone["refreshToken"]), 401)
    assert_problem(await refresh(client, tablet["refreshToken"]), 401)
    assert (await refresh(client, someone_else["refreshToken"])).status_code == 200


async def test_logout_needs_an_access_token(client: Any) -> None:
    assert_problem(await client.post("/v1/auth/logout"), 401)
    assert_problem(await client.post("/v1/auth/logout-all"), 401)


async def test_signing_in_prunes_families_that_ended_over_a_week_ago(
    client: Any, db: asyncpg.Connection
) -> None:
    first = await sign_up(client)
    user_id = uuid.UUID(first["user"]["id"])
    second = await refresh(client, first["refreshToken"])
    assert second.status_code == 200
    await client.post("/v1/auth/logout", headers=bearer(first))
    live = (
        await client.post("/v1/auth/login", json={"email": first["sent"]["email"], "password": PASSWORD})
    ).json()
    await db.execute(
        """
        UPDATE refresh_families SET revoked_at = $2
        WHERE user_id = $1 AND revoked_at IS NOT NULL
        """,
        user_id,
        clock.now() - timedelta(days=8),
    )
    families_before = await db.fetchval("SELECT count(*) FROM refresh_families WHERE user_id = $1", user_id)

    await client.post("/v1/auth/login", json={"email": first["sent"]["email"], "password": PASSWORD})

    assert families_before == 2
    rows = await db.fetch("SELECT revoked_at FROM refresh_families WHERE user_id = $1", user_id)
    assert len(rows) == 2 and all(row["revoked_at"] is None for row in rows)  # the live one and the new one
    tokens = await db.fetchval(
        """
        SELECT count(*) FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
        WHERE f.user_id = $1
        """,
        user_id,
    )
    assert tokens == 2
    assert (await refresh(client, live["refreshToken"])).status_code == 200
