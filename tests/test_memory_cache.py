"""The API process's memory cache of read-model documents (queries/memory_cache.py): what it keeps,
when it forgets, and that a read never goes back in time because of it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from core.db import close_pool, open_pool
from core.metrics import HTTP_METRICS
from core.redis import Keys
from core.settings import Settings
from projections.cache import Cached, DocumentCache
from projections.runner import project_user
from queries import memory_cache
from queries.memory_cache import ENTRY_OVERHEAD_BYTES, MemoryCache
from tests.accounts import bearer, sign_up
from tests.workouts import workout

ALICE, BOB = uuid.UUID(int=1), uuid.UUID(int=2)


def doc(synced: int, body: bytes = b'{"a":1}') -> Cached:
    return Cached(synced=synced, version=synced, stamp=0, zone="UTC", etag='"x"', body=body)


def live_cache(max_bytes: int = 1 << 20) -> MemoryCache:
    cache = MemoryCache(max_bytes)
    cache.live()
    return cache


def test_nothing_is_kept_before_the_subscription_is_confirmed_or_after_it_drops() -> None:
    cache = MemoryCache(1 << 20)
    cache.put(ALICE, "k", doc(1), cache.mark(ALICE))
    assert cache.get("k") is None and not cache.enabled
    cache.live()
    mark = cache.mark(ALICE)
    cache.put(ALICE, "k", doc(1), mark)
    assert cache.get("k") == doc(1)
    cache.lost()
    assert cache.get("k") is None and cache.size == 0
    cache.live()
    cache.put(ALICE, "k", doc(1), mark)  # read before the drop: announcements may have been missed
    assert cache.get("k") is None


def test_an_announcement_forgets_the_users_documents_and_any_read_under_way() -> None:
    cache = live_cache()
    cache.put(ALICE, "a1", doc(1), cache.mark(ALICE))
    cache.put(ALICE, "a2", doc(1), cache.mark(ALICE))
    cache.put(BOB, "b1", doc(4), cache.mark(BOB))
    under_way = cache.mark(ALICE)
    cache.announced(ALICE)
    assert cache.get("a1") is None and cache.get("a2") is None
    assert cache.get("b1") == doc(4)
    cache.put(ALICE, "a1", doc(1), under_way)  # read from Redis before the announcement arrived
    assert cache.get("a1") is None
    cache.put(ALICE, "a1", doc(2), cache.mark(ALICE))
    assert cache.get("a1") == doc(2)
    assert cache.size == 2 * (len(doc(1).body) + ENTRY_OVERHEAD_BYTES)


def test_a_newer_version_seen_in_redis_forgets_the_older_documents() -> None:
    cache = live_cache()
    cache.put(ALICE, "a1", doc(3), cache.mark(ALICE))
    cache.seen(ALICE, 3)
    assert cache.get("a1") == doc(3)
    cache.seen(ALICE, 4)
    assert cache.get("a1") is None and cache.size == 0


def test_it_holds_at_most_its_bytes_and_drops_the_least_recently_used() -> None:
    body = b"x" * 600
    cost = len(body) + ENTRY_OVERHEAD_BYTES
    cache = live_cache(max_bytes=10 * cost)
    for n in range(10):
        cache.put(ALICE, f"k{n}", doc(1, body), cache.mark(ALICE))
    assert cache.get("k0") is not None  # now the most recently used
    cache.put(BOB, "b", doc(1, body), cache.mark(BOB))
    assert cache.size <= cache.max_bytes
    assert cache.get("k1") is None and cache.get("k0") is not None and cache.get("b") is not None
    cache.put(BOB, "huge", doc(1, b"x" * (cache.max_bytes // 4)), cache.mark(BOB))
    assert cache.get("huge") is None  # one document may not push out the rest


def test_a_user_whose_count_is_forgotten_loses_their_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_cache, "USERS_TRACKED", 2)
    cache = live_cache()
    cache.put(ALICE, "a", doc(1), cache.mark(ALICE))
    cache.announced(ALICE)
    cache.put(ALICE, "a", doc(2), cache.mark(ALICE))
    cache.announced(uuid.UUID(int=3))
    cache.announced(uuid.UUID(int=4))  # ALICE's count is forgotten: so are her documents
    assert cache.get("a") is None


# --- in the running app, with Redis, Postgres and the runner's announcements --------------------


def memory_hits() -> float:
    HTTP_METRICS.flush()  # hits are gathered in memory between flushes
    return REGISTRY.get_sample_value("ironlog_memory_cache_hits_total") or 0.0


@pytest.fixture
async def project(settings: Settings) -> AsyncIterator[Any]:
    pool = await open_pool(settings.with_pool_size(1, 2), "test")
    redis = Redis.from_url(settings.redis.url or "")

    async def run(user_id: str) -> None:
        await project_user(pool, redis, Keys(settings.redis.prefix), uuid.UUID(user_id))

    yield run
    await close_pool(pool)
    await redis.aclose()


async def until(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_dashboard_comes_from_memory_until_its_user_changes(client: Any, project: Any) -> None:
    memory: MemoryCache = client.app.state.services.memory
    await until(lambda: memory.enabled)
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), signed_in["user"]["id"]
    assert (await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=me)).status_code == 201
    await project(user_id)
    first = await client.get("/v1/stats/dashboard", headers=me)
    assert first.json()["totals"]["workouts"] == 1
    hits = memory_hits()
    again = await client.get("/v1/stats/dashboard", headers=me)
    assert again.content == first.content and memory_hits() == hits + 1

    written = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=me)
    token = written.headers["x-consistency-token"]
    await project(user_id)  # announces the new version
    fresh = await client.get("/v1/stats/dashboard", headers={**me, "X-Consistency-Token": token})
    assert fresh.json()["totals"]["workouts"] == 2
    # Without the token right after, whether or not the announcement has arrived yet: never older.
    after = await client.get("/v1/stats/dashboard", headers=me)
    assert after.json()["totals"]["workouts"] == 2


async def test_nothing_comes_from_memory_across_a_lost_subscription(
    client: Any, project: Any, settings: Settings
) -> None:
    services = client.app.state.services
    memory: MemoryCache = services.memory
    await until(lambda: memory.enabled)
    signed_in = await sign_up(client)
    me = bearer(signed_in)
    assert (await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=me)).status_code == 201
    await project(signed_in["user"]["id"])
    await client.get("/v1/stats/dashboard", headers=me)
    assert memory.size > 0
    epoch = memory.mark(uuid.UUID(signed_in["user"]["id"]))[0]

    redis = Redis.from_url(settings.redis.url or "")
    try:
        name = settings.redis.prefix + "subscriber"
        subscribers = [c["id"] for c in await redis.client_list(_type="pubsub") if c["name"] == name]
        assert subscribers
        for client_id in subscribers:
            await redis.client_kill_filter(_id=client_id)
    finally:
        await redis.aclose()
    # Dropped (forget everything, serve nothing), then subscribed again (forget again, serve anew).
    await until(lambda: memory.mark(uuid.UUID(signed_in["user"]["id"]))[0] >= epoch + 2 and memory.enabled)
    assert memory.size == 0
    hits = memory_hits()
    await client.get("/v1/stats/dashboard", headers=me)  # from Redis, and kept again
    assert memory_hits() == hits
    await client.get("/v1/stats/dashboard", headers=me)
    assert memory_hits() == hits + 1


async def two_on_the_weekly_board(client: Any, project: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ann and Bob, opted in, with one projected workout each this week, once memory serves."""
    memory: MemoryCache = client.app.state.services.memory
    await until(lambda: memory.enabled)
    ann, bob = await sign_up(client), await sign_up(client)
    for lifter in (ann, bob):
        opted = await client.patch("/v1/me", json={"leaderboardOptIn": True}, headers=bearer(lifter))
        assert opted.status_code == 200
        logged = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=bearer(lifter))
        assert logged.status_code == 201
        await project(lifter["user"]["id"])
    return ann, bob


async def standing_of(client: Any, viewer: dict[str, Any], lifter: dict[str, Any]) -> dict[str, Any]:
    """The lifter's entry on this week's board, as the viewer is served it."""
    board = "/v1/leaderboards/weekly-volume"
    response = await client.get(board, params={"limit": 100}, headers=bearer(viewer))
    assert response.status_code == 200, response.text
    entries = {entry["userId"]: entry for entry in response.json()["top"]}
    found: dict[str, Any] = entries[lifter["user"]["id"]]
    return found


async def test_a_board_comes_from_memory_until_the_board_changes(client: Any, project: Any) -> None:
    memory: MemoryCache = client.app.state.services.memory
    ann, bob = await two_on_the_weekly_board(client, project)

    async def bobs_score() -> float:
        return float((await standing_of(client, ann, bob))["score"])

    first = await bobs_score()
    # Kept once no announcement of the board lands during the read (the projections' may still be).
    deadline = time.monotonic() + 10
    while not any(key.startswith("lb:weekly-volume:") for key in memory._entries):
        assert time.monotonic() < deadline, "the ranking was never kept"
        assert await bobs_score() == first
    logged = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=bearer(bob))
    assert logged.status_code == 201
    await project(bob["user"]["id"])  # announces the board's change
    deadline = time.monotonic() + 10
    while (score := await bobs_score()) == first:
        assert time.monotonic() < deadline, "the board never changed"
        await asyncio.sleep(0.05)
    assert score == 2 * first


async def test_whom_a_lifter_follows_comes_from_memory_until_their_follows_change(
    client: Any, project: Any, db: asyncpg.Connection
) -> None:
    ann, bob = await two_on_the_weekly_board(client, project)

    async def friends_of_ann() -> set[str]:
        board = "/v1/leaderboards/weekly-volume"
        response = await client.get(board, params={"scope": "friends"}, headers=bearer(ann))
        assert response.status_code == 200, response.text
        return {entry["userId"] for entry in response.json()["top"]}

    followed = await client.put(f"/v1/follows/{bob['user']['id']}", headers=bearer(ann))
    assert followed.status_code == 204, followed.text
    await project(ann["user"]["id"])
    memory: MemoryCache = client.app.state.services.memory
    deadline = time.monotonic() + 10
    while f"follows:{ann['user']['id']}" not in memory._entries:
        assert time.monotonic() < deadline, "the follows were never kept"
        assert await friends_of_ann() == {ann["user"]["id"], bob["user"]["id"]}
    # A change no projection announced (the row deleted behind the API's back) is not seen: memory
    # answers. Unfollowing is projected and announced as a change of `follows`: then Postgres answers.
    await db.execute("DELETE FROM rm_follows WHERE user_id = $1", uuid.UUID(ann["user"]["id"]))
    assert await friends_of_ann() == {ann["user"]["id"], bob["user"]["id"]}
    unfollowed = await client.delete(f"/v1/follows/{bob['user']['id']}", headers=bearer(ann))
    assert unfollowed.status_code == 204, unfollowed.text
    await project(ann["user"]["id"])
    deadline = time.monotonic() + 10
    while (friends := await friends_of_ann()) != {ann["user"]["id"]}:
        assert time.monotonic() < deadline, f"the unfollow was never seen: {friends}"
        await asyncio.sleep(0.05)


async def test_a_board_as_answered_is_served_again_until_a_name_it_shows_changes(
    client: Any, project: Any
) -> None:
    views = client.app.state.services.leaderboards._views
    ann, bob = await two_on_the_weekly_board(client, project)

    async def bobs_name() -> str:
        return str((await standing_of(client, ann, bob))["displayName"])

    first = await bobs_name()
    deadline = time.monotonic() + 10
    while not any(f":{ann['user']['id']}:100" in key for key in views):
        assert time.monotonic() < deadline, "the answer was never kept"
        assert await bobs_name() == first
    assert await bobs_name() == first  # served as it was answered
    renamed = await client.patch("/v1/me", json={"displayName": "Bob Renamed"}, headers=bearer(bob))
    assert renamed.status_code == 200
    await project(bob["user"]["id"])  # announces the profile's change; the board's scores are unchanged
    deadline = time.monotonic() + 10
    while (name := await bobs_name()) == first:
        assert time.monotonic() < deadline, "the board kept the old name"
        await asyncio.sleep(0.05)
    assert name == "Bob Renamed"


async def test_the_sync_writes_the_first_feed_page_so_the_next_look_is_a_hit(
    client: Any, project: Any, settings: Settings
) -> None:
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), signed_in["user"]["id"]
    for _ in range(2):
        assert (
            await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=me)
        ).status_code == 201
    await project(user_id)  # projects and syncs Redis; no read has filled anything yet
    redis = Redis.from_url(settings.redis.url or "")
    try:
        cache = DocumentCache(redis, Keys(settings.redis.prefix))
        names = cache.keys_of(uuid.UUID(user_id))
        page = await cache.read(names.synced, names.feed_page(20, None))
    finally:
        await redis.aclose()
    assert page.version == page.synced and page.synced is not None
    served = await client.get("/v1/workouts", headers=me)
    assert served.content == page.body and len(served.json()["items"]) == 2
