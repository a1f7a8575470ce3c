"""A cache Redis that evicts under a small `maxmemory` (`volatile-lru`, as docs/operations.md says to
run it): every read stays what Postgres holds; an evicted document is a miss, refilled."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from api.app import create_app
from core import clock
from core.embedded import EmbeddedRedis
from core.redis import Keys
from core.settings import Settings
from projections.dashboard import iso_week
from projections.leaderboards import WEEKLY, BoardKeys
from projections.packing import unpack
from projections.runner import project_user
from tests.accounts import bearer, sign_up
from tests.test_read_your_writes import bound_to

WORKOUTS = 24  # per lifter: more than the hot set, so reads go through Postgres too
HEADROOM = 120_000  # bytes of (packed) documents the Redis may hold above what it uses empty
SESSION_AGO = timedelta(hours=3)  # the newest session started this long ago


def session(days_ago: int, kg: float) -> dict[str, Any]:
    """A long session (about 4 KB as a document), `days_ago` days back."""
    started = (clock.now() - timedelta(days=days_ago) - SESSION_AGO).replace(microsecond=0)
    sets = [{"reps": 5, "weight": {"value": kg + n, "unit": "kg"}} for n in range(8)]
    return {
        "title": f"Volume {days_ago}",
        "startedAt": started.isoformat(),
        "endedAt": (started + timedelta(hours=1)).isoformat(),
        "exercises": [
            {"exerciseId": exercise, "sets": sets}
            for exercise in (
                "barbell-back-squat",
                "barbell-bench-press",
                "barbell-deadlift",
                "barbell-bent-over-row",
            )
        ],
    }


@pytest.fixture
async def small_redis(private_redis: EmbeddedRedis) -> AsyncIterator[Redis]:
    assert private_redis.url
    redis = Redis.from_url(private_redis.url)
    used = int((await redis.info("memory"))["used_memory"])
    await redis.config_set("maxmemory-policy", "volatile-lru")
    await redis.config_set("maxmemory", str(used + HEADROOM))
    yield redis
    await redis.aclose()


async def _evicted(redis: Redis) -> int:
    return int((await redis.info("stats"))["evicted_keys"])


def _misses(metrics: str) -> float:
    found = re.search(
        r'^ironlog_cache_requests_total\{model="workout",result="miss"\} (\S+)$', metrics, re.MULTILINE
    )
    return float(found.group(1)) if found else 0.0


async def test_reads_stay_correct_while_redis_evicts(
    settings: Settings,
    small_redis: Redis,
    private_redis: EmbeddedRedis,
    resources: tuple[Any, Any, Any],
) -> None:
    pool = resources[0]
    assert settings.database.url and private_redis.url
    bound = bound_to(settings, settings.database.url, private_redis.url)
    # The broker stays the run's (it never evicts, and is never this small); no memory cache in the
    # process: every read asks the small Redis.
    bound = msgspec.structs.replace(
        bound,
        redis=msgspec.structs.replace(bound.redis, broker_url=settings.redis.broker_url),
        api=msgspec.structs.replace(bound.api, memory_cache_mb=0),
    )
    keys = Keys(bound.redis.prefix)
    async with AsyncTestClient(app=create_app(bound)) as client:
        lifters = []
        for n in range(3):
            signed_in = await sign_up(client)
            me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
            opted = await client.patch("/v1/me", json={"leaderboardOptIn": True}, headers=me)
            assert opted.status_code == 200, opted.text
            workouts = [uuid.uuid4() for _ in range(WORKOUTS)]
            for days_ago, workout_id in enumerate(workouts):
                written = await client.put(
                    f"/v1/workouts/{workout_id}", json=session(days_ago, 60.0 + n), headers=me
                )
                assert written.status_code == 201, written.text
            await project_user(pool, small_redis, keys, user_id)
            lifters.append((user_id, me, workouts))

        week = iso_week(clock.now() - SESSION_AGO)  # the newest session's week, on a Monday at 01:00 too
        board = await client.get(f"/v1/leaderboards/{WEEKLY}", params={"period": week}, headers=lifters[0][1])
        ours = {str(user_id) for user_id, _, _ in lifters}  # the run's database has other lifters too
        assert board.status_code == 200, board.text
        assert len([entry for entry in board.json()["top"] if entry["userId"] in ours]) == 3, board.text
        misses_before = _misses((await client.get("/metrics")).text)

        for _ in range(2):  # the second pass reads what the first one filled, or refills it
            for user_id, me, workouts in lifters:
                stored = {
                    row["workout_id"]: unpack(row["body"])
                    for row in await pool.fetch(
                        "SELECT workout_id, body FROM rm_workout_documents WHERE user_id = $1", user_id
                    )
                }
                for workout_id in workouts:
                    read = await client.get(f"/v1/workouts/{workout_id}", headers=me)
                    assert read.status_code == 200, read.text
                    assert read.content == stored[workout_id], workout_id
                dashboard = await client.get("/v1/stats/dashboard", headers=me)
                stored_dashboard = await pool.fetchval(
                    "SELECT body FROM rm_dashboards WHERE user_id = $1", user_id
                )
                assert dashboard.status_code == 200 and dashboard.content == bytes(stored_dashboard)

        assert await _evicted(small_redis) > 0, "the Redis never had to evict: raise WORKOUTS"
        assert _misses((await client.get("/metrics")).text) > misses_before

        # Eviction takes a board's keys one at a time: without its sorted set, the board is rebuilt.
        names = BoardKeys(keys, WEEKLY, week)
        await small_redis.unlink(names.scores)
        await small_redis.set(names.ready, b"1", ex=600)  # the marker stayed, the set went
        again = await client.get(f"/v1/leaderboards/{WEEKLY}", params={"period": week}, headers=lifters[0][1])
        assert again.status_code == 200 and again.json()["top"] == board.json()["top"]
        # The friends scope reads the same set: the caller's own score comes back, not nothing.
        mine = [board.json()["me"]["score"]]
        await small_redis.unlink(names.scores)
        friends = await client.get(
            f"/v1/leaderboards/{WEEKLY}", params={"period": week, "scope": "friends"}, headers=lifters[0][1]
        )
        assert friends.status_code == 200, friends.text
        assert [entry["score"] for entry in friends.json()["top"]] == mine
        assert await small_redis.exists(names.scores)
