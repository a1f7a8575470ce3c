"""Erasing an account leaves nothing of the user anywhere; the export holds everything they own."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from core import clock
from core.redis import Keys
from core.settings import Settings
from projections.packing import unpack
from tests.accounts import PASSWORD, bearer, sign_up
from tests.harness import assert_problem, read_fresh
from tests.identity_provider import Provider, apple_nonce, proof
from tests.test_oauth_sign_in import sign_in
from tests.workouts import workout

pytestmark = pytest.mark.e2e


async def busy_user(client: Any) -> tuple[dict[str, Any], dict[str, str], str]:
    """A user with a bit of everything, projected; their body, headers and last token."""
    signed_in = await sign_up(client)
    me = bearer(signed_in)
    await client.patch("/v1/me", json={"leaderboardOptIn": True}, headers=me)
    exercise_id = str(uuid.uuid4())
    await client.put(
        f"/v1/exercises/{exercise_id}",
        json={
            "name": "Landmine Press",
            "category": "barbell",
            "equipment": "barbell",
            "measurement": "weight_reps",
            "primaryMuscles": ["shoulders"],
        },
        headers=me,
    )
    await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=me)
    await client.put(
        f"/v1/routines/{uuid.uuid4()}",
        json={"name": "Push", "exercises": [{"exerciseId": exercise_id, "sets": []}]},
        headers=me,
    )
    last = await client.put(
        "/v1/bodyweight/2026-11-20", json={"weight": {"value": 80, "unit": "kg"}}, headers=me
    )
    return signed_in, me, last.headers["x-consistency-token"]


async def traces(db: asyncpg.Connection, user_id: uuid.UUID, handle: str) -> list[str]:
    """Every table row that mentions the user's id or handle, as `table: row`."""
    found: list[str] = []
    tables = await db.fetch(
        """
        SELECT table_schema, table_name FROM information_schema.tables
        WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'
        """
    )
    assert {table["table_schema"] for table in tables} >= {"public", "analytics"}
    for table in tables:
        name = f'"{table["table_schema"]}"."{table["table_name"]}"'
        rows = await db.fetch(
            f"SELECT t::text AS row FROM {name} t WHERE t::text LIKE $1 OR t::text LIKE $2",
            f"%{user_id}%",
            f"%{handle}%",
        )
        found += [f"{name}: {row['row'][:200]}" for row in rows]
    for name in ("rm_workout_documents", "rm_workout_summaries", "rm_custom_exercises", "rm_routines"):
        rows = await db.fetch(f"SELECT body FROM {name}")
        found += [f"{name} body" for row in rows if str(user_id).encode() in bytes(row["body"])]
    return found


async def redis_traces(redis: Redis, prefix: str, user_id: uuid.UUID) -> list[str]:
    """Every key under the prefix whose name, members, fields or value mention the user."""
    needle = str(user_id).encode()
    found: list[str] = []
    async for key in redis.scan_iter(match=Keys(prefix).pattern(), count=500):
        kind = (await redis.type(key)).decode()
        if kind == "string":
            content = [await redis.get(key) or b""]
        elif kind == "hash":
            # a document's body is stored packed (projections/packing.py): look at what it holds
            content = [
                part
                for field, value in (await redis.hgetall(key)).items()
                for part in (field, unpack(value) if field == b"b" else value)
            ]
        elif kind == "zset":
            content = await redis.zrange(key, 0, -1)
        elif kind == "set":
            content = list(await redis.smembers(key))
        elif kind == "list":
            content = await redis.lrange(key, 0, -1)
        else:
            content = []
        if needle in key or any(needle in bytes(part) for part in content):
            found.append(f"{key.decode()} ({kind})")
    return found


async def test_erasing_an_account_leaves_nothing_of_it(
    client: Any, settings: Settings, start_worker: Any
) -> None:
    start_worker()
    signed_in, me, token = await busy_user(client)
    user_id, handle = uuid.UUID(signed_in["user"]["id"]), signed_in["user"]["handle"]
    friend = await sign_up(client)
    follower = await sign_up(client)
    await client.put(f"/v1/follows/{friend['user']['id']}", headers=me)
    followed = await client.put(f"/v1/follows/{user_id}", headers=bearer(follower))
    await read_fresh(client, "/v1/follows", bearer(follower), followed.headers["x-consistency-token"])
    await read_fresh(client, "/v1/stats/dashboard", me, token)
    assert settings.database.url and settings.redis.url
    db = await asyncpg.connect(settings.database.url)
    redis = Redis.from_url(settings.redis.url)
    try:
        assert await traces(db, user_id, handle)
        assert [key async for key in redis.scan_iter(match=Keys(settings.redis.prefix).user_pattern(user_id))]
        board = await client.get("/v1/leaderboards/e1rm?exerciseId=barbell-bench-press", headers=me)
        assert board.json()["me"]["userId"] == str(user_id)
        assert any(":lb:" in trace for trace in await redis_traces(redis, settings.redis.prefix, user_id))

        wrong = await client.request("DELETE", "/v1/me", json={"password": "not-the-password"}, headers=me)
        assert_problem(wrong, 403)
        assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", user_id) == 1

        erased = await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=me)

        assert erased.status_code == 204
        assert await traces(db, user_id, handle) == []
        assert await redis_traces(redis, settings.redis.prefix, user_id) == []
    finally:
        await db.close()
        await redis.aclose()
    assert_problem(await client.get("/v1/me", headers=me), 401)  # its access tokens ended with it
    login = {"email": signed_in["sent"]["email"], "password": PASSWORD}
    assert_problem(await client.post("/v1/auth/login", json=login), 401)
    unfollowed = (await client.get("/v1/changes", headers=bearer(follower))).json()["changes"][-1]
    assert unfollowed["type"] == "Unfollowed"
    follows = await read_fresh(client, "/v1/follows", bearer(follower), str(unfollowed["version"]))
    assert follows.json()["items"] == []


async def test_the_export_holds_everything_the_user_owns(client: Any, start_worker: Any) -> None:
    start_worker()
    signed_in, me, token = await busy_user(client)
    await read_fresh(client, "/v1/bodyweight", me, token)

    export = await client.get("/v1/me/export", headers=me)

    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    body = export.json()
    assert body["account"]["id"] == signed_in["user"]["id"]
    assert [
        len(body[part])
        for part in ("identities", "workouts", "routines", "exercises", "bodyweight", "follows")
    ] == [0, 1, 1, 1, 1, 0]
    assert "passwordHash" not in export.text and "password" not in export.text


async def test_an_account_without_a_password_is_erased_with_an_id_token_and_stays_erased(
    oauth_client: Any, settings: Settings, apple: Provider, google: Provider, travel: Any
) -> None:
    subject = "apple-" + uuid.uuid4().hex
    first_token = apple.token(sub=subject)
    signed_in = (await sign_in(oauth_client, "apple", first_token)).json()
    me, user_id, handle = bearer(signed_in), uuid.UUID(signed_in["user"]["id"]), signed_in["user"]["handle"]
    await oauth_client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=me)
    nonce = "n-" + uuid.uuid4().hex
    owners = {
        "provider": "apple",
        "idToken": apple.token(sub=subject, nonce=apple_nonce(nonce)),
        "nonce": nonce,
    }
    stranger = {"provider": "google", **proof(google.token())}

    unproven = await oauth_client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=me)
    not_its_own = await oauth_client.request("DELETE", "/v1/me", json={"identity": stranger}, headers=me)
    assert assert_problem(unproven, 422)["errors"][0]["field"] == "identity"
    assert "not of an identity linked" in assert_problem(not_its_own, 403)["detail"]

    erased = await oauth_client.request("DELETE", "/v1/me", json={"identity": owners}, headers=me)

    assert erased.status_code == 204, erased.text
    assert settings.database.url
    db = await asyncpg.connect(settings.database.url)
    try:
        assert await traces(db, user_id, handle) == []
        assert await traces(db, user_id, subject) == []  # the identity went with the account
    finally:
        await db.close()
    # A token issued before the erasure would bring the account back: refused.
    assert "erased" in assert_problem(await sign_in(oauth_client, "apple", first_token), 401)["detail"]
    travel(clock.now() + timedelta(seconds=settings.auth.leeway_s + 2))
    anew = await sign_in(oauth_client, "apple", apple.token(sub=subject))
    assert anew.status_code == 201, anew.text  # signing in again afterwards makes a new account
    assert anew.json()["user"]["id"] != str(user_id)


async def test_the_export_lists_the_identities(oauth_client: Any, google: Provider) -> None:
    signed_in = await sign_up(oauth_client)
    me = bearer(signed_in)
    token = google.token(email="relay-address@example.com")
    linked = await oauth_client.post("/v1/me/identities/google", json=proof(token), headers=me)
    assert linked.status_code == 201, linked.text

    export = await oauth_client.get("/v1/me/export", headers=me)

    assert export.status_code == 200
    assert export.json()["identities"] == [linked.json()]
    assert linked.json()["email"] == "relay-address@example.com"


async def test_a_sync_that_read_before_the_erasure_takes_back_what_it_wrote(
    client: Any, settings: Settings, resources: tuple[Any, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Redis sync reads a snapshot, then writes: an erasure that commits and clears Redis between
    the two must not find the user's documents and scores back in Redis afterwards."""
    from projections import store
    from projections.runner import project_user

    pool, redis, keys = resources
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
    assert (await client.patch("/v1/me", json={"leaderboardOptIn": True}, headers=me)).status_code == 200
    assert (await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=me)).status_code == 201
    await project_user(pool, redis, keys, user_id)
    board = await client.get("/v1/leaderboards/weekly-volume", headers=me)  # Redis holds it whole now
    assert board.json()["me"]["userId"] == str(user_id), board.text
    heavier = workout(title="Second session")
    assert (await client.put(f"/v1/workouts/{uuid.uuid4()}", json=heavier, headers=me)).status_code == 201

    read, go_on = asyncio.Event(), asyncio.Event()
    snapshot = store.sync_snapshot

    async def slow_snapshot(*args: Any, **kwargs: Any) -> store.SyncSnapshot | None:
        """The sync's snapshot: once read, stop there until the erasure is done."""
        read_now = await snapshot(*args, **kwargs)
        read.set()
        await go_on.wait()
        return read_now

    monkeypatch.setattr(store, "sync_snapshot", slow_snapshot)
    projecting = asyncio.create_task(project_user(pool, redis, keys, user_id))
    await asyncio.wait_for(read.wait(), 10)
    erased = await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=me)
    assert erased.status_code == 204, erased.text
    go_on.set()
    outcome = await asyncio.wait_for(projecting, 10)

    assert outcome.synced and outcome.applied > 0
    assert await redis_traces(redis, settings.redis.prefix, user_id) == []
