"""The benchmark baselines (api/bench.py): mounted only with IRONLOG_BENCH=1, never in production, and
the naive dashboard is the same document the read models serve."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from api.app import create_app
from core import clock
from core.db import close_pool, open_pool
from core.redis import Keys
from core.settings import Settings, SettingsError, load_settings
from projections.runner import project_user
from tests.accounts import bearer, sign_up


@pytest.fixture
async def bench_client(settings: Settings) -> AsyncIterator[Any]:
    app = create_app(msgspec.structs.replace(settings, api=msgspec.structs.replace(settings.api, bench=True)))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def test_bench_routes_are_refused_in_production() -> None:
    with pytest.raises(SettingsError, match="IRONLOG_BENCH"):
        load_settings({"IRONLOG_ENV": "production", "IRONLOG_BENCH": "1", "IRONLOG_JWT_SECRET": "x" * 64})


async def test_bench_routes_exist_only_when_enabled(client: Any, bench_client: Any) -> None:
    assert (await client.get("/bench/ceiling")).status_code == 404
    ceiling = await bench_client.get("/bench/ceiling")  # no token
    assert ceiling.status_code == 200
    assert ceiling.json() == {"status": "ok", "service": "ironlog"}
    assert (await bench_client.get("/bench/naive-dashboard")).status_code == 401
    schema = (await bench_client.get("/schema/openapi.json")).json()
    assert not [path for path in schema["paths"] if path.startswith("/bench")]


def _workout(started: datetime, reps: int, kg: float, *, minutes: int = 60) -> dict[str, Any]:
    return {
        "title": "Session",
        "startedAt": started.isoformat(),
        "endedAt": (started + timedelta(minutes=minutes)).isoformat(),
        "exercises": [
            {
                "exerciseId": "barbell-back-squat",
                "sets": [
                    {"type": "warmup", "reps": 8, "weight": {"value": 60, "unit": "kg"}},
                    {"reps": reps, "weight": {"value": kg, "unit": "kg"}, "rpe": 8},
                    {"reps": reps, "weight": {"value": kg, "unit": "kg"}, "completed": False},
                ],
            },
            {
                "exerciseId": "barbell-bench-press",
                "sets": [{"reps": reps + 2, "weight": {"value": kg * 2.2, "unit": "lb"}}],
            },
        ],
    }


async def test_the_naive_dashboard_equals_the_projected_one(bench_client: Any, settings: Settings) -> None:
    signed_in = await sign_up(bench_client)
    me = bearer(signed_in)
    user_id = uuid.UUID(signed_in["user"]["id"])
    changed = await bench_client.patch(
        "/v1/me", json={"timezone": "America/Los_Angeles", "weekStart": "sunday"}, headers=me
    )
    assert changed.status_code == 200, changed.text
    now = clock.now()
    ids = []
    for days_ago in (0, 1, 3, 9, 12, 20, 40, 75, 200):
        workout_id = uuid.uuid4()
        ids.append(workout_id)
        body = _workout(now - timedelta(days=days_ago, hours=3), 5 + days_ago % 4, 80.5 + days_ago / 4)
        logged = await bench_client.put(f"/v1/workouts/{workout_id}", json=body, headers=me)
        assert logged.status_code == 201
    assert (await bench_client.delete(f"/v1/workouts/{ids[3]}", headers=me)).status_code == 204
    for days_ago in (2, 10, 33):
        day = (now - timedelta(days=days_ago)).date()
        weight = {"weight": {"value": 180 + days_ago / 10, "unit": "lb"}}
        assert (await bench_client.put(f"/v1/bodyweight/{day}", json=weight, headers=me)).status_code == 204

    pool = await open_pool(settings.with_pool_size(1, 2), "test")
    redis = Redis.from_url(settings.redis.url or "")
    try:
        await project_user(pool, redis, Keys(settings.redis.prefix), user_id)
    finally:
        await close_pool(pool)
        await redis.aclose()

    projected = (await bench_client.get("/v1/stats/dashboard", headers=me)).json()
    naive = (await bench_client.get("/bench/naive-dashboard", headers=me)).json()
    # The write tables do not know which records a workout set; everything else must agree.
    projected["lastWorkout"].pop("records", None)
    assert projected["totals"]["workouts"] == 8
    assert projected["bodyweight"] and projected["muscleSets"]["last7Days"]
    assert naive == projected
