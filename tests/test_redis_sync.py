"""The Redis sync writes what the projection recorded in its outbox, and only that; the memory cache
drops exactly what an announcement names (projections/outbox.py)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

from core import clock
from projections import outbox, statements, store
from projections.cache import READ_THROUGH_TTL_S, Cached, DocumentCache
from projections.runner import project_user
from projections.sync import HOT_WORKOUTS, sync_redis
from queries.memory_cache import MemoryCache
from tests.accounts import bearer, sign_up

ALICE = uuid.UUID(int=1)
BENCH = "barbell-bench-press"


def bench_session(kg: float, days_ago: int) -> dict[str, Any]:
    """One bench-press session of 5 reps at `kg`, `days_ago` days back."""
    started = (clock.now() - timedelta(days=days_ago, hours=2)).replace(microsecond=0)
    return {
        "title": f"Bench {kg}",
        "startedAt": started.isoformat(),
        "endedAt": (started + timedelta(hours=1)).isoformat(),
        "exercises": [{"exerciseId": BENCH, "sets": [{"reps": 5, "weight": {"value": kg, "unit": "kg"}}]}],
    }


def e1rm_of(document: dict[str, Any]) -> float:
    return float(document["exercises"][0]["sets"][0]["e1rmKg"])


async def until(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_formula_change_reaches_every_workout_in_redis_and_memory(
    client: Any, resources: tuple[Any, Any, Any]
) -> None:
    pool, redis, keys = resources
    memory: MemoryCache = client.app.state.services.memory
    await until(lambda: memory.enabled)
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
    ids = {kg: uuid.uuid4() for kg in (100.0, 80.0, 60.0)}
    # Oldest first: the 100 kg session holds every record, the later ones set none.
    for days_ago, (kg, workout_id) in zip((3, 2, 1), ids.items(), strict=True):
        written = await client.put(f"/v1/workouts/{workout_id}", json=bench_session(kg, days_ago), headers=me)
        assert written.status_code == 201, written.text
    await project_user(pool, redis, keys, user_id)
    token = written.headers["x-consistency-token"]
    for kg, workout_id in ids.items():  # Epley, read into Redis and the memory cache
        before = await client.get(f"/v1/workouts/{workout_id}", headers={**me, "X-Consistency-Token": token})
        assert before.status_code == 200 and e1rm_of(before.json()) == round(kg * (1 + 5 / 30), 2)

    changed = await client.patch("/v1/me", json={"e1rmFormula": "brzycki"}, headers=me)
    assert changed.status_code == 200, changed.text
    await project_user(pool, redis, keys, user_id)
    token = changed.headers["x-consistency-token"]

    shown = {}
    for kg, workout_id in ids.items():
        after = await client.get(f"/v1/workouts/{workout_id}", headers={**me, "X-Consistency-Token": token})
        assert after.status_code == 200, after.text
        shown[kg] = e1rm_of(after.json())
    assert shown == {100.0: 112.5, 80.0: 90.0, 60.0: 67.5}


async def test_the_sync_writes_only_what_the_outbox_names_and_then_empties_it(
    client: Any, resources: tuple[Any, Any, Any]
) -> None:
    pool, redis, keys = resources
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
    kept, amended = uuid.uuid4(), uuid.uuid4()
    for workout_id, kg in ((kept, 60.0), (amended, 50.0)):
        assert (
            await client.put(f"/v1/workouts/{workout_id}", json=bench_session(kg, 3), headers=me)
        ).status_code == 201
    await project_user(pool, redis, keys, user_id)
    async with pool.acquire() as connection:
        assert await store.pending_changes(connection, user_id) == {}
    workout_key = keys.user(user_id, "w", str(kept))
    await redis.hset(workout_key, "b", b"untouched")  # what a sync that rewrote it would replace

    amend = await client.put(
        f"/v1/workouts/{amended}", json=bench_session(55.0, 3), headers={**me, "If-Match": '"1"'}
    )
    assert amend.status_code == 200, amend.text
    listener = redis.pubsub()
    await listener.subscribe(keys.channel("changed", str(user_id)), keys.channel("projected", str(user_id)))
    for _ in range(2):  # the subscriptions' confirmations
        await listener.get_message(timeout=1.0)
    await project_user(pool, redis, keys, user_id)
    message = await listener.get_message(ignore_subscribe_messages=True, timeout=5.0)
    projected = await listener.get_message(ignore_subscribe_messages=True, timeout=5.0)
    await listener.aclose()

    assert await redis.hget(workout_key, "b") == b"untouched"
    assert message is not None and projected is not None
    assert message["channel"] == keys.channel("changed", str(user_id)).encode()  # the keys come first
    assert projected["data"] == amend.headers["x-consistency-token"].encode()
    version, changed = outbox.parse_announcement(message["data"]) or (0, None)
    assert version == int(amend.headers["x-consistency-token"])
    assert changed is not None and outbox.workout(amended) in changed
    assert outbox.workout(kept) not in changed
    assert {outbox.FEED, outbox.DASHBOARD, outbox.records(BENCH), outbox.sessions(BENCH)} <= changed


async def test_a_key_changed_again_after_the_sync_read_it_stays_in_the_outbox(
    client: Any, resources: tuple[Any, Any, Any]
) -> None:
    pool = resources[0]
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    no_lease = ("nobody", 0)  # outside a batch: the outbox is written, the checkpoint left alone
    async with pool.acquire() as connection:
        first = {outbox.DASHBOARD, outbox.FEED}
        await statements.execute(
            connection, [store.advance_part(user_id, 1, first, fence=no_lease, move=False)]
        )
        read = await store.pending_changes(connection, user_id)
        await statements.execute(
            connection, [store.advance_part(user_id, 2, {outbox.FEED}, fence=no_lease, move=False)]
        )
        await store.mark_synced(connection, user_id, 1, read)  # no checkpoint here: the outbox alone
        assert set(await store.pending_changes(connection, user_id)) == {outbox.FEED}


async def test_a_failed_sync_leaves_the_outbox_for_the_next(
    client: Any, resources: tuple[Any, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool, redis, keys = resources
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
    workout_id = uuid.uuid4()
    assert (
        await client.put(f"/v1/workouts/{workout_id}", json=bench_session(70.0, 1), headers=me)
    ).status_code == 201

    async def refused(*_: Any, **__: Any) -> None:
        raise RedisConnectionError("down")

    with monkeypatch.context() as patched:
        patched.setattr("redis.asyncio.client.Pipeline.execute", refused)
        outcome = await project_user(pool, redis, keys, user_id)
    assert not outcome.synced
    async with pool.acquire() as connection:
        assert outbox.workout(workout_id) in await store.pending_changes(connection, user_id)
    async with pool.acquire() as connection:
        assert await sync_redis(connection, redis, keys, user_id)
    async with pool.acquire() as connection:
        assert await store.pending_changes(connection, user_id) == {}
    assert await redis.hget(keys.user(user_id, "w", str(workout_id)), "b")


# -- the memory cache -----------------------------------------------------------------------------


def doc(synced: int) -> Cached:
    return Cached(synced=synced, version=synced, stamp=0, zone="UTC", etag='"x"', body=b"{}")


def test_an_announcement_drops_exactly_the_entries_showing_what_it_names() -> None:
    cache = MemoryCache(1 << 20)
    cache.live()
    one, two = uuid.UUID(int=10), uuid.UUID(int=11)
    cache.put(ALICE, "w1", doc(3), cache.mark(ALICE), shows=outbox.workout(one))
    cache.put(ALICE, "w2", doc(3), cache.mark(ALICE), shows=outbox.workout(two))
    cache.put(ALICE, "records-page", doc(3), cache.mark(ALICE), shows=outbox.RECORDS)
    cache.put(ALICE, "squat", doc(3), cache.mark(ALICE), shows=outbox.records("squat"))
    cache.put(ALICE, "bench", doc(3), cache.mark(ALICE), shows=outbox.records("bench"))
    cache.put(ALICE, "names", doc(3), cache.mark(ALICE))

    cache.announced(ALICE, 5, frozenset({outbox.workout(one), outbox.records("squat")}))

    assert cache.get("w1") is None and cache.get("squat") is None
    assert cache.get("records-page") is None  # the list shows every exercise's records
    assert cache.get("names") is None  # kept without saying what it shows: dropped every time
    kept = cache.get("w2")
    assert kept is not None and kept.synced == 5 and kept.version == 3  # unchanged as of version 5
    cache.seen(ALICE, 5)  # Redis at 5 is no newer than what is kept
    assert cache.get("w2") is not None and cache.get("bench") is not None

    cache.announced(ALICE, 6, None)  # names nothing: everything of the user changed
    assert cache.get("w2") is None and cache.get("bench") is None and cache.size == 0


def test_a_projected_announcement_drops_everything_unless_the_changes_were_named_right_before() -> None:
    cache = MemoryCache(1 << 20)
    cache.live()
    one = uuid.UUID(int=10)
    cache.put(ALICE, "w1", doc(3), cache.mark(ALICE), shows=outbox.workout(one))
    cache.put(ALICE, "dash", doc(3), cache.mark(ALICE), shows=outbox.DASHBOARD)

    cache.changed(ALICE, 4, frozenset({outbox.DASHBOARD}))
    cache.projected(ALICE, 4)
    assert cache.get("dash") is None and cache.get("w1") is not None

    cache.projected(ALICE, 5)  # no named changes came first (an erasure, a previous release's worker)
    assert cache.get("w1") is None


async def _workouts_in_redis(redis: Any, keys: Any, user_id: uuid.UUID) -> set[uuid.UUID]:
    """The workouts whose documents (not tombstones) Redis holds for the user."""
    held = set()
    async for key in redis.scan_iter(match=keys.pattern_of(f"u:{{{user_id}}}", "w", "*"), count=500):
        if await redis.hget(key, "b"):
            held.add(uuid.UUID(key.decode().rsplit(":", 1)[1]))
    return held


async def test_redis_holds_the_most_recent_workouts_and_reads_the_rest_through(
    client: Any, resources: tuple[Any, Any, Any]
) -> None:
    """A long history, then a formula switch that rewrites all of it: Redis keeps the hot set
    (HOT_WORKOUTS most recent), and an old workout is read through from Postgres, current."""
    pool, redis, keys = resources
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
    by_age = [uuid.uuid4() for _ in range(HOT_WORKOUTS + 4)]  # newest first
    for days_ago, workout_id in reversed(list(enumerate(by_age, start=1))):
        written = await client.put(
            f"/v1/workouts/{workout_id}", json=bench_session(60.0, days_ago), headers=me
        )
        assert written.status_code == 201, written.text
    await project_user(pool, redis, keys, user_id)
    assert await _workouts_in_redis(redis, keys, user_id) == set(by_age[:HOT_WORKOUTS])

    oldest = by_age[-1]
    read = await client.get(f"/v1/workouts/{oldest}", headers=me)  # read through, kept a while
    assert read.status_code == 200 and e1rm_of(read.json()) == 70.0
    ttl = await redis.ttl(keys.user(user_id, "w", str(oldest)))
    assert 0 < ttl <= READ_THROUGH_TTL_S
    # It went to Redis packed, the bytes Postgres stores.
    stored = await pool.fetchval(
        "SELECT body FROM rm_workout_documents WHERE user_id = $1 AND workout_id = $2", user_id, oldest
    )
    assert await redis.hget(keys.user(user_id, "w", str(oldest)), "b") == bytes(stored) != read.content

    changed = await client.patch("/v1/me", json={"e1rmFormula": "brzycki"}, headers=me)
    assert changed.status_code == 200, changed.text
    await project_user(pool, redis, keys, user_id)
    assert await _workouts_in_redis(redis, keys, user_id) == set(by_age[:HOT_WORKOUTS])
    token = {**me, "X-Consistency-Token": changed.headers["x-consistency-token"]}
    for workout_id in (by_age[0], oldest):
        after = await client.get(f"/v1/workouts/{workout_id}", headers=token)
        assert after.status_code == 200 and e1rm_of(after.json()) == 67.5, workout_id

    # A new workout pushes the least recent of the hot set out (the oldest, read just now, stays a while).
    newest = uuid.uuid4()
    assert (
        await client.put(f"/v1/workouts/{newest}", json=bench_session(62.5, 0), headers=me)
    ).status_code == 201
    await project_user(pool, redis, keys, user_id)
    held = await _workouts_in_redis(redis, keys, user_id)
    assert held == {newest, *by_age[: HOT_WORKOUTS - 1], oldest}

    # Deleted, it leaves the hot set, and the one it had pushed out comes back into Redis.
    assert (await client.delete(f"/v1/workouts/{newest}", headers=me)).status_code == 204
    await project_user(pool, redis, keys, user_id)
    assert await _workouts_in_redis(redis, keys, user_id) == {*by_age[:HOT_WORKOUTS], oldest}
    back = keys.user(user_id, "w", str(by_age[HOT_WORKOUTS - 1]))
    assert await redis.hget(back, "e") == b'"1"' and await redis.ttl(back) > READ_THROUGH_TTL_S
    # Moved back in time out of the hot set: the next most recent comes in.
    moved = await client.put(
        f"/v1/workouts/{by_age[0]}", json=bench_session(60.0, 30), headers={**me, "If-Match": '"1"'}
    )
    assert moved.status_code == 200, moved.text
    await project_user(pool, redis, keys, user_id)
    assert set(by_age[1 : HOT_WORKOUTS + 1]) <= await _workouts_in_redis(redis, keys, user_id)


class CountedConnection(AbstractConnection):
    """Counts what a Redis connection sends: one write per round trip."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountedConnection.sent += 1
        await super().send_packed_command(command, check_health)


def counted_redis(url: str) -> Redis:
    """A client of `url` whose connections, over TCP or a unix socket alike, are counted."""
    pool = ConnectionPool.from_url(url)
    pool.connection_class = type("Counted", (CountedConnection, pool.connection_class), {})
    return Redis(connection_pool=pool)


async def test_a_sync_is_one_round_trip_to_redis_and_survives_redis_forgetting_its_scripts(
    client: Any, resources: tuple[Any, Any, Any], private_redis: Any
) -> None:
    # A Redis of its own: forgetting the scripts of the shared one would cost every other run on it
    # the round trips that reload them.
    pool, _, keys = resources
    counted = counted_redis(private_redis.url)
    redis = Redis.from_url(private_redis.url)
    try:
        await counted.ping()  # connected (and introduced) before counting
        signed_in = await sign_up(client)
        me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
        names = DocumentCache(redis, keys).keys_of(user_id)

        async def logged_and_synced(kg: float, days_ago: int) -> int:
            workout_id = uuid.uuid4()
            put = await client.put(f"/v1/workouts/{workout_id}", json=bench_session(kg, days_ago), headers=me)
            assert put.status_code == 201, put.text
            CountedConnection.sent = 0
            assert (await project_user(pool, counted, keys, user_id)).synced
            stored = await DocumentCache(redis, keys).read(names.synced, names.workout(workout_id))
            assert stored.version == int(put.headers["x-consistency-token"]) and stored.body
            return CountedConnection.sent

        assert await logged_and_synced(57.5, 4) > 1  # a new server: the scripts are loaded first
        assert await logged_and_synced(60.0, 3) == 1
        # Redis lost its scripts (a restart, a failover, a flush): loaded again, the writes done again.
        await redis.script_flush()
        assert await logged_and_synced(62.5, 2) > 1
        assert await logged_and_synced(65.0, 1) == 1
    finally:
        await counted.aclose()
        await redis.aclose()
