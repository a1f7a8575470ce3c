"""A whole Ironlog of the test's own: private Postgres, cache Redis and broker Redis (which the test may
stop and start), an API process and workers, and the checks every fault test ends with."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from core.embedded import EmbeddedPostgres, EmbeddedRedis
from core.processes import free_port
from core.redis import Keys, open_redis
from core.settings import Settings, get_settings
from migrations.runner import migrate
from projections.analytics import fold_counts
from projections.rebuild import Rebuild
from tests.accounts import new_identity
from tests.harness import IronlogProcess, read_model_hash, wait_until
from workers.resources import OPENED

#: The working-set volume of `workout_body`: 5 x 100 kg.
VOLUME_KG = 500.0


def workout_body(n: int) -> dict[str, Any]:
    """A small workout, distinct per `n` (its title) and on a day of its own."""
    day = 1 + n % 28
    return {
        "title": f"Workout {n}",
        "startedAt": f"2026-10-{day:02d}T18:00:00+00:00",
        "exercises": [
            {
                "exerciseId": "barbell-back-squat",
                "sets": [{"reps": 5, "weight": {"value": 100, "unit": "kg"}}],
            }
        ],
    }


@dataclass
class Lifter:
    user_id: str
    headers: dict[str, str]
    acknowledged: dict[str, int] = field(default_factory=dict)  # workout id -> stream version
    token: int = 0


@dataclass
class Ironlog:
    """Ironlog's processes on servers of the test's own (`env` points at them), and the checks."""

    root: Path
    settings: Settings
    env: dict[str, str]
    processes: list[IronlogProcess] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, args: list[str], **env: str) -> IronlogProcess:
        log = self.root / f"{args[0]}-{len(self.processes)}.log"
        process = IronlogProcess(args, {**os.environ, **self.env, **env}, log)
        self.processes.append(process)
        return process

    def start_api(self, **env: str) -> IronlogProcess:
        self.port = free_port()
        api = self.start(["api", "--port", str(self.port), "--workers", "1"], **env)

        def live() -> bool:
            try:
                return httpx.get(f"{self.base}/health/live", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(live, 60, "the API to answer")
        return api

    def start_worker(self, **env: str) -> IronlogProcess:
        env.setdefault("IRONLOG_WORKER_METRICS_PORT", str(free_port()))
        worker = self.start(["worker", "--processes", "1", "--threads", "2"], **env)
        worker.wait_for_log(OPENED)
        return worker

    async def sign_up(self, client: httpx.AsyncClient) -> Lifter:
        response = await client.post("/v1/auth/register", json=new_identity())
        assert response.status_code == 201, response.text
        body = response.json()
        return Lifter(body["user"]["id"], {"Authorization": f"Bearer {body['accessToken']}"})

    async def log_workout(self, client: httpx.AsyncClient, lifter: Lifter, n: int) -> httpx.Response:
        """PUT a new workout; an acknowledged one is remembered with its token."""
        workout_id = str(uuid.uuid4())
        response = await client.put(
            f"/v1/workouts/{workout_id}", json=workout_body(n), headers=lifter.headers
        )
        if response.status_code == 201:
            token = int(response.headers["x-consistency-token"])
            lifter.acknowledged[workout_id] = token
            lifter.token = max(lifter.token, token)
        return response

    async def wait_visible(self, client: httpx.AsyncClient, lifter: Lifter, timeout_s: float = 60) -> None:
        """Until the lifter's last acknowledged write is in their read models (not stale)."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = await client.get(
                "/v1/stats/dashboard", headers={**lifter.headers, "X-Consistency-Token": str(lifter.token)}
            )
            if response.status_code == 200 and response.headers.get("x-consistency") != "stale":
                return
            assert time.monotonic() < deadline, f"not visible: {response.status_code} {response.text[:200]}"
            await asyncio.sleep(0.2)

    async def check_nothing_lost_or_doubled_and_rebuild_equal(self, lifters: list[Lifter]) -> None:
        """Every acknowledged workout is in the write tables and the read models exactly once, the
        aggregates count each once, and rebuilding every read model from the log changes nothing."""
        url = self.settings.database.url or ""
        connection = await asyncpg.connect(url)
        try:
            for lifter in lifters:
                user = uuid.UUID(lifter.user_id)
                stored = {
                    str(row["id"])
                    for row in await connection.fetch("SELECT id FROM workouts WHERE user_id = $1", user)
                }
                projected = {
                    str(row["workout_id"])
                    for row in await connection.fetch(
                        "SELECT workout_id FROM rm_workout_summaries WHERE user_id = $1", user
                    )
                }
                assert set(lifter.acknowledged) <= stored, "an acknowledged workout was lost"
                assert projected == stored, "read models differ from the write side"
                logged = await connection.fetchval(
                    "SELECT count(*) FROM events WHERE user_id = $1 AND type = 'WorkoutLogged'", user
                )
                assert logged == len(stored), "a workout was logged twice"
                weekly = await connection.fetchval(
                    "SELECT COALESCE(sum(workouts), 0) FROM rm_weekly_totals WHERE user_id = $1", user
                )
                assert weekly == len(stored), "weekly totals count a workout twice (or miss one)"
            await fold_counts(connection)  # what the sweeper may not have folded yet
            activity = await connection.fetchval(
                "SELECT COALESCE(sum(workouts), 0) FROM analytics.daily_activity"
            )
            assert activity == await connection.fetchval("SELECT count(*) FROM rm_workout_summaries")
            before = await read_model_hash(url)
        finally:
            await connection.close()
        pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
        redis = open_redis(self.settings)
        try:
            await Rebuild(pool, redis, Keys(self.settings.redis.prefix)).run()
        finally:
            await redis.aclose()
            await pool.close()
        assert await read_model_hash(url) == before, "a rebuild from the event log differs"

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


@dataclass(kw_only=True)
class Stack(Ironlog):
    """Ironlog on embedded servers the test may stop and start."""

    postgres: EmbeddedPostgres
    cache: EmbeddedRedis
    broker: EmbeddedRedis


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    """Everything private, migrated; no process started yet. Short paths keep Redis on unix sockets,
    so a restarted server answers at the same address."""
    root = Path(tempfile.mkdtemp(prefix="ilf"))
    postgres, cache, broker = (
        EmbeddedPostgres(root / "pg"),
        EmbeddedRedis(root / "c"),
        EmbeddedRedis(root / "b"),
    )
    try:
        database_url = postgres.start()
        cache_url, broker_url = cache.start(), broker.start()
        prefix = f"faults-{uuid.uuid4().hex[:6]}:"
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": cache_url,
            "BROKER_URL": broker_url,
            "IRONLOG_REDIS_PREFIX": prefix,
            "IRONLOG_DATA_DIR": str(root / "data"),
        }
        own = msgspec.structs.replace(
            settings.with_services(database_url, cache_url),
            redis=msgspec.structs.replace(
                settings.redis, url=cache_url, broker_url=broker_url, prefix=prefix
            ),
        )
        own = msgspec.structs.replace(own, database=msgspec.structs.replace(own.database, url=database_url))
        asyncio.run(migrate(own))
        running = Stack(root, own, env, postgres=postgres, cache=cache, broker=broker)
        try:
            yield running
        finally:
            running.stop()
    finally:
        for server in (broker, cache, postgres):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
        get_settings.cache_clear()
