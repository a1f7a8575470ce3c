"""Signing out everywhere ends access tokens too: logout-all, a password change, a reused refresh token
and erasure set the user's "not before" instant, and every API process refuses tokens issued until it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from api.auth.tokens import AccessTokens, InvalidToken
from commands.sessions import IssuedTokens, end_access_tokens, token_subject
from core import clock
from core.processes import free_port
from core.settings import Settings
from tests.accounts import PASSWORD, bearer, sign_up
from tests.harness import IronlogProcess, assert_problem


async def log_in(client: Any, signed_in: dict[str, Any]) -> dict[str, Any]:
    """Another session of the same user."""
    response = await client.post(
        "/v1/auth/login", json={"email": signed_in["sent"]["email"], "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {**response.json(), "sent": signed_in["sent"]}


async def me(client: Any, session: dict[str, Any]) -> int:
    status: int = (await client.get("/v1/me", headers=bearer(session))).status_code
    return status


async def test_logout_all_ends_every_access_token_of_the_user_only(client: Any) -> None:
    phone = await sign_up(client)
    tablet = await log_in(client, phone)
    someone_else = await sign_up(client)
    assert [await me(client, s) for s in (phone, tablet, someone_else)] == [200, 200, 200]

    assert (await client.post("/v1/auth/logout-all", headers=bearer(tablet))).status_code == 204

    refused = await client.get("/v1/me", headers=bearer(phone))
    assert_problem(refused, 401)
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert await me(client, tablet) == 401
    assert await me(client, someone_else) == 200
    # A sign-in afterwards is a new start.
    assert await me(client, await log_in(client, phone)) == 200


async def test_a_password_change_ends_every_access_token_and_this_session_refreshes(client: Any) -> None:
    phone = await sign_up(client)
    tablet = await log_in(client, phone)

    changed = await client.post(
        "/v1/me/password",
        json={"currentPassword": PASSWORD, "newPassword": "a-brand-new-passphrase-7"},
        headers=bearer(phone),
    )

    assert changed.status_code == 204, changed.text
    assert await me(client, phone) == 401
    assert await me(client, tablet) == 401
    assert_problem(await client.post("/v1/auth/refresh", json={"refreshToken": tablet["refreshToken"]}), 401)
    refreshed = await client.post("/v1/auth/refresh", json={"refreshToken": phone["refreshToken"]})
    assert refreshed.status_code == 200, refreshed.text
    assert await me(client, refreshed.json()) == 200


async def test_a_reused_refresh_token_ends_the_users_access_tokens(
    client: Any, settings: Settings, travel: Callable[[Any], None]
) -> None:
    phone = await sign_up(client)
    tablet = await log_in(client, phone)
    first = await client.post("/v1/auth/refresh", json={"refreshToken": phone["refreshToken"]})
    assert first.status_code == 200
    # Past the retry grace, the old refresh token is reuse: a thief may hold the family.
    travel(clock.now() + timedelta(seconds=settings.auth.refresh_grace_s + 1))
    pair = (await client.post("/v1/auth/refresh", json={"refreshToken": tablet["refreshToken"]})).json()
    assert await me(client, pair) == 200

    reused = await client.post("/v1/auth/refresh", json={"refreshToken": phone["refreshToken"]})

    assert_problem(reused, 401)
    assert await me(client, first.json()) == 401
    assert await me(client, pair) == 401  # every session's: the thief may have signed in elsewhere


def issued(user_id: uuid.UUID, at: float) -> IssuedTokens:
    moment = datetime.fromtimestamp(at, UTC)
    return IssuedTokens(user_id, "user", uuid.uuid4(), "", moment, uuid.uuid4(), moment)


def test_tokens_are_refused_to_the_millisecond_of_the_sign_out(settings: Settings) -> None:
    """Tokens carry their issue time to the millisecond: within the same second, those issued before the
    instant are refused and those issued after it are not."""
    tokens = AccessTokens(settings)
    user_id = uuid.uuid4()
    second = float(int(clock.timestamp()))
    before, after = tokens.mint(issued(user_id, second + 0.2)), tokens.mint(issued(user_id, second + 0.7))
    assert tokens.verify(before).user_id == tokens.verify(after).user_id == user_id  # both remembered

    tokens.sign_out(token_subject(user_id), second + 0.5)

    with pytest.raises(InvalidToken, match="signed out"):
        tokens.verify(before)
    assert tokens.verify(after).user_id == user_id
    tokens.sign_out(token_subject(user_id), second + 0.1)  # an earlier instant changes nothing
    assert tokens.verify(after).user_id == user_id
    # What Postgres holds replaces the copy, except newer instants heard meanwhile and old ones.
    tokens.signed_out({}, horizon=second)
    with pytest.raises(InvalidToken):
        tokens.verify(tokens.mint(issued(user_id, second + 0.3)))
    tokens.signed_out({}, horizon=second + 1)
    assert tokens.verify(tokens.mint(issued(user_id, second + 0.3))).user_id == user_id


# -- across real API processes ---------------------------------------------------------------------


def api_process(start_ironlog: Any) -> tuple[IronlogProcess, httpx.AsyncClient]:
    """A real `ironlog api` process of its own, ready, and a client of it."""
    port = free_port()
    process: IronlogProcess = start_ironlog(["api", "--port", str(port)])
    process.wait_for_log("Application startup complete", timeout_s=60)
    return process, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    """Await `check` until true, at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def drop_subscriptions(settings: Settings) -> int:
    """Kill every API process's announcement subscription, as tests/test_memory_cache.py does."""
    redis = Redis.from_url(settings.redis.url or "")
    try:
        name = settings.redis.prefix + "subscriber"
        subscribers = [c["id"] for c in await redis.client_list(_type="pubsub") if c["name"] == name]
        for client_id in subscribers:
            await redis.client_kill_filter(_id=client_id)
        return len(subscribers)
    finally:
        await redis.aclose()


@pytest.mark.e2e
async def test_every_api_process_refuses_tokens_of_users_signed_out_elsewhere(
    start_ironlog: Any, settings: Settings, resources: tuple[asyncpg.Pool, Any, Any]
) -> None:
    _, first = api_process(start_ironlog)
    _, second = api_process(start_ironlog)
    async with first, second:
        phone = await sign_up(first)
        tablet = await log_in(second, phone)
        for client in (first, second):  # each process has verified (and remembered) both tokens
            assert [await me(client, s) for s in (phone, tablet)] == [200, 200]

        assert (await first.post("/v1/auth/logout-all", headers=bearer(phone))).status_code == 204

        assert await me(first, phone) == 401 and await me(first, tablet) == 401
        await until(lambda: _refused(second, tablet), 5, "the other process to hear of it")
        assert await me(second, phone) == 401

        # Signed out again while no process hears of it (an announcement lost while its publisher's
        # Redis was away): nothing tells the processes, until their subscription drops and they re-read.
        laptop = await log_in(first, phone)
        assert await me(second, laptop) == 200
        pool = resources[0]
        async with pool.acquire() as connection, connection.transaction():
            await end_access_tokens(connection, uuid.UUID(phone["user"]["id"]), clock.now(), settings.auth)
        await asyncio.sleep(1.0)
        assert await me(second, laptop) == 200  # pub/sub only: no process polls Postgres
        assert await drop_subscriptions(settings) >= 2
        await until(lambda: _refused(second, laptop), 10, "a re-read after resubscribing")
        assert await me(first, laptop) == 401

    # A process started afterwards knows it from the start.
    _, third = api_process(start_ironlog)
    async with third:
        assert await me(third, laptop) == 401
        assert await me(third, await log_in(third, phone)) == 200


async def _refused(client: httpx.AsyncClient, session: dict[str, Any]) -> bool:
    return await me(client, session) == 401
