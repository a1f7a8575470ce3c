"""Rebuilding read models: a rebuild equals incremental projection, even while writes go on.

These tests run on a database and Redis prefix of their own: a full rebuild swaps every user's
tables, and the comparison hashes every rm_* table, so other tests' users must not be in it.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.projections_cli import rebuild
from core.db import session_changed
from core.locks import REBUILD_RUNNING_KEY
from core.redis import Keys, open_redis
from core.settings import Settings
from migrations.runner import migrate
from projections.rebuild import PROJECTOR_VERSIONS, Rebuild, RebuildRunning, stale_projectors
from tests.accounts import bearer, sign_up
from tests.harness import delete_prefix, empty_broker, read_fresh, read_model_hash

pytestmark = pytest.mark.e2e

EXERCISES = ("barbell-bench-press", "barbell-back-squat", "barbell-deadlift", "pull-up")


@dataclass
class Isolated:
    settings: Settings
    env: dict[str, str]


@pytest.fixture
async def isolated(settings: Settings, fresh_database: str) -> AsyncIterator[Isolated]:
    prefix = f"{settings.redis.prefix}rebuild-{uuid.uuid4().hex[:6]}:"
    own = settings.with_services(fresh_database, settings.redis.url or "")
    own = msgspec.structs.replace(own, redis=msgspec.structs.replace(own.redis, prefix=prefix))
    await migrate(own)
    try:
        yield Isolated(own, {"DATABASE_URL": fresh_database, "IRONLOG_REDIS_PREFIX": prefix})
    finally:
        await delete_prefix(settings.redis.url or "", prefix)
        await empty_broker(own, delete=True)


class Writer:
    """One user writing a varied history through the API, remembering their last token."""

    def __init__(self, client: Any, signed_in: dict[str, Any], rng: random.Random) -> None:
        self.client = client
        self.id = signed_in["user"]["id"]
        self.headers = bearer(signed_in)
        self.rng = rng
        self.token = "0"
        self.workouts: dict[str, str] = {}  # id -> ETag
        self.writes = 0

    async def _send(self, method: str, path: str, body: Any = None, if_match: str | None = None) -> Any:
        headers = {**self.headers, **({"If-Match": if_match} if if_match else {})}
        response = await self.client.request(method, path, json=body, headers=headers)
        assert response.status_code < 300, response.text
        self.token = response.headers.get("x-consistency-token", self.token)
        self.writes += 1
        return response

    def _workout(self) -> dict[str, Any]:
        day = datetime(2026, 10, 1, 17, tzinfo=UTC) + timedelta(days=self.rng.randrange(50))
        return {
            "title": "Session",
            "startedAt": day.isoformat(),
            "exercises": [
                {
                    "exerciseId": exercise,
                    "sets": [
                        {"type": "warmup", "reps": 8, "weight": {"value": 40, "unit": "kg"}},
                        *(
                            {
                                "reps": self.rng.randint(1, 12),
                                "weight": {"value": self.rng.randint(40, 180), "unit": "kg"},
                            }
                            for _ in range(self.rng.randint(1, 4))
                        ),
                    ]
                    if exercise != "pull-up"
                    else [{"reps": self.rng.randint(3, 15)}],
                }
                for exercise in self.rng.sample(EXERCISES, self.rng.randint(1, 3))
            ],
        }

    async def step(self, others: list[str]) -> None:
        choice = self.rng.random()
        if choice < 0.45 or not self.workouts:
            workout_id = str(uuid.uuid4())
            written = await self._send("PUT", f"/v1/workouts/{workout_id}", self._workout())
            self.workouts[workout_id] = written.headers["etag"]
        elif choice < 0.6:
            workout_id = self.rng.choice(sorted(self.workouts))
            path = f"/v1/workouts/{workout_id}"
            written = await self._send("PUT", path, self._workout(), if_match=self.workouts[workout_id])
            self.workouts[workout_id] = written.headers["etag"]
        elif choice < 0.7:
            workout_id = self.rng.choice(sorted(self.workouts))
            await self._send("DELETE", f"/v1/workouts/{workout_id}", if_match=self.workouts.pop(workout_id))
        elif choice < 0.8:
            day = f"2026-10-{self.rng.randint(1, 28):02d}"
            await self._send(
                "PUT", f"/v1/bodyweight/{day}", {"weight": {"value": self.rng.randint(60, 100), "unit": "kg"}}
            )
        elif choice < 0.9:
            profile = self.rng.choice(
                [
                    {"e1rmFormula": self.rng.choice(["epley", "brzycki"])},
                    {"timezone": self.rng.choice(["UTC", "Europe/Berlin", "America/New_York"])},
                    {"leaderboardOptIn": self.rng.random() < 0.7},
                    {"weekStart": self.rng.choice(["monday", "sunday"])},
                ]
            )
            await self._send("PATCH", "/v1/me", profile)
        elif others:
            verb = "PUT" if self.rng.random() < 0.7 else "DELETE"
            await self._send(verb, f"/v1/follows/{self.rng.choice(others)}")

    async def settle(self) -> None:
        fresh = await read_fresh(self.client, "/v1/stats/dashboard", self.headers, self.token, timeout_s=60)
        assert fresh.headers.get("x-consistency") != "stale"


async def _writers(client: Any, count: int, seed: int) -> list[Writer]:
    rng = random.Random(seed)
    return [Writer(client, await sign_up(client), random.Random(rng.random())) for _ in range(count)]


async def test_rebuild_while_writes_go_on_equals_incremental_projection(
    isolated: Isolated, start_worker: Any
) -> None:
    start_worker(**isolated.env)
    own = isolated.settings
    url = own.database.url or ""
    async with AsyncTestClient(app=create_app(own)) as client:
        writers = await _writers(client, 4, seed=48)
        ids = [w.id for w in writers]
        for _ in range(12):
            for writer in writers:
                await writer.step([i for i in ids if i != writer.id])
        for writer in writers:
            await writer.settle()
        incremental = await read_model_hash(url)
        assert int(incremental["rm_workout_documents"].split(":")[0]) > 0

        pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
        redis = open_redis(own)
        keys = Keys(own.redis.prefix)
        try:
            # A quiet rebuild lands exactly where incremental projection did.
            quiet = await Rebuild(pool, redis, keys).run()
            assert quiet.users == 4 and quiet.events > 0
            assert await read_model_hash(url) == incremental
            assert await stale_projectors(pool) == {}

            # Now rebuild while the users keep writing, then let live projection catch up.
            done = asyncio.Event()
            during = 0

            async def keep_writing() -> None:
                nonlocal during
                while not done.is_set():
                    for writer in writers:
                        await writer.step([i for i in ids if i != writer.id])
                        during += 1
                    await asyncio.sleep(0.01)

            async def rebuild_then_stop() -> str:
                # Another process, as in production: the test client's requests block this loop.
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "api",
                    "projections",
                    "rebuild",
                    "--all",
                    env={**os.environ, **isolated.env},
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                try:
                    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
                finally:
                    done.set()
                assert process.returncode == 0, err.decode()
                return out.decode() + err.decode()

            _, output = await asyncio.gather(keep_writing(), rebuild_then_stop())
            assert during > 0 and "events/s" in output and "rebuilt 4 user(s)" in output
            for writer in writers:
                await writer.settle()
            after_concurrent = await read_model_hash(url)
            # ... and a quiet rebuild of the final log agrees with it.
            await Rebuild(pool, redis, keys).run()
            assert await read_model_hash(url) == after_concurrent
            # The app still answers from the swapped tables.
            feed = await client.get("/v1/workouts", headers=writers[0].headers)
            assert feed.status_code == 200
        finally:
            await redis.aclose()
            await pool.close()


async def test_one_user_rebuild_repairs_only_that_user_and_refuses_a_second_rebuild(
    isolated: Isolated, start_worker: Any
) -> None:
    start_worker(**isolated.env)
    own = isolated.settings
    url = own.database.url or ""
    async with AsyncTestClient(app=create_app(own)) as client:
        writers = await _writers(client, 2, seed=7)
        for _ in range(8):
            for writer in writers:
                await writer.step([])
        for writer in writers:
            await writer.settle()
    before = await read_model_hash(url)
    victim = uuid.UUID(writers[0].id)
    pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
    redis = open_redis(own)
    try:
        await pool.execute("DELETE FROM rm_records WHERE user_id = $1", victim)
        await pool.execute("UPDATE rm_weekly_totals SET workouts = 99 WHERE user_id = $1", victim)
        assert await read_model_hash(url) != before
        result = await Rebuild(pool, redis, Keys(own.redis.prefix), user_id=victim).run()
        assert result.users == 1
        assert await read_model_hash(url) == before
        assert await pool.fetchval("SELECT count(*) FROM projector_versions") == 0  # only --all records them

        async with pool.acquire() as holder:
            session_changed(holder)
            await holder.execute("SELECT pg_advisory_lock($1)", REBUILD_RUNNING_KEY)
            try:
                with pytest.raises(RebuildRunning):
                    await Rebuild(pool, redis, Keys(own.redis.prefix)).run()
                refused = subprocess.run(
                    [sys.executable, "-m", "api", "projections", "rebuild", "--all"],
                    env={**os.environ, **isolated.env},
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
            finally:
                await holder.execute("SELECT pg_advisory_unlock($1)", REBUILD_RUNNING_KEY)
        assert refused.returncode == 1 and "another rebuild is running" in refused.stderr
    finally:
        await redis.aclose()
        await pool.close()


async def test_a_bumped_projector_version_rebuilds_on_deploy(isolated: Isolated, start_worker: Any) -> None:
    start_worker(**isolated.env)
    own = isolated.settings
    url = own.database.url or ""
    async with AsyncTestClient(app=create_app(own)) as client:
        (writer,) = await _writers(client, 1, seed=3)
        for _ in range(5):
            await writer.step([])
        await writer.settle()
    assert await rebuild(own, None, only_if_stale=True) is not None  # never rebuilt: stale
    assert await rebuild(own, None, only_if_stale=True) is None
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("UPDATE projector_versions SET version = 0 WHERE projector = 'leaderboards'")
    finally:
        await connection.close()
    status = subprocess.run(
        [sys.executable, "-m", "api", "projections", "status"],
        env={**os.environ, **isolated.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert f"leaderboards: {PROJECTOR_VERSIONS['leaderboards']} / 0  <- stale" in status.stdout
    deployed = subprocess.run(
        [sys.executable, "-m", "api", "migrate"],
        env={**os.environ, **isolated.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "rebuilt read models: 1 user(s)" in deployed.stdout
    assert "events/s" in deployed.stderr and "ETA" in deployed.stderr
    assert await rebuild(own, None, only_if_stale=True) is None
