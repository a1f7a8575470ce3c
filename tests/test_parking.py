"""A poison event: retried with backoff, then its user is parked until an operator retries them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import asyncpg
import msgspec
import pytest
from redis.asyncio import Redis

from commands.events import AnyEvent, Event
from core import clock
from core.redis import Keys
from core.settings import Settings
from projections import runner
from projections.runner import ProjectionFailed, RunnerSettings, project_user
from tests.accounts import bearer, sign_up
from tests.workouts import workout

pytestmark = pytest.mark.e2e


async def append_poison(db: asyncpg.Connection, user_id: uuid.UUID) -> int:
    """An event no projector understands, appended the way a command would."""
    return await append_event(db, user_id, "FutureThing", {"type": "FutureThing"}, schema_version=9)


async def append_event(
    db: asyncpg.Connection, user_id: uuid.UUID, kind: str, payload: dict[str, Any], *, schema_version: int = 1
) -> int:
    """An event of type `kind`, appended the way a command would; its version."""
    async with db.transaction():
        version: int = await db.fetchval(
            "UPDATE streams SET version = version + 1 WHERE user_id = $1 RETURNING version", user_id
        )
        await db.execute(
            """
            INSERT INTO events (event_id, user_id, version, type, schema_version, payload, occurred_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            uuid.uuid4(),
            user_id,
            version,
            kind,
            schema_version,
            json.dumps(payload),
            clock.now(),
        )
        await db.execute(
            """
            INSERT INTO projection_pending (user_id, version) VALUES ($1, $2)
            ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version
            """,
            user_id,
            version,
        )
    return version


async def checkpoint(db: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record:
    row: asyncpg.Record = await db.fetchrow(
        """
        SELECT version, failures, parked_version, parked_error FROM projection_checkpoints
        WHERE user_id = $1
        """,
        user_id,
    )
    return row


async def test_a_failing_projection_is_retried_then_parked_in_place(
    client: Any, settings: Settings, db: asyncpg.Connection
) -> None:
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    poison = await append_poison(db, user_id)
    assert settings.database.url and settings.redis.url
    pool = await asyncpg.create_pool(settings.database.url, min_size=1, max_size=2)
    redis = Redis.from_url(settings.redis.url)
    keys = Keys(settings.redis.prefix)
    runner = RunnerSettings(max_failures=3)
    try:
        for attempt in (1, 2):
            with pytest.raises(ProjectionFailed):
                await project_user(pool, redis, keys, user_id, settings=runner)
            assert (await checkpoint(db, user_id))["failures"] == attempt
        outcome = await project_user(pool, redis, keys, user_id, settings=runner)
        again = await project_user(pool, redis, keys, user_id, settings=runner)
    finally:
        await pool.close()
        await redis.aclose()

    assert outcome.parked and again.parked
    row = await checkpoint(db, user_id)
    assert row["parked_version"] == poison
    assert "event 2" in row["parked_error"]
    assert row["version"] == 0  # the whole batch rolled back: nothing half-applied


async def test_a_parked_user_waits_for_projections_retry_after_the_fix(
    client: Any, settings: Settings, db: asyncpg.Connection, start_worker: Any
) -> None:
    worker = start_worker()
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    poison = await append_poison(db, user_id)
    workout_id = uuid.uuid4()
    put = await client.put(f"/v1/workouts/{workout_id}", json=workout(), headers=bearer(signed_in))
    assert put.status_code == 201

    async def parked() -> bool:
        row = await checkpoint(db, user_id)
        return row is not None and row["parked_version"] is not None

    for _ in range(200):
        if await parked():
            break
        await asyncio.sleep(0.1)
    assert await parked(), worker.log()[-3000:]
    assert (await checkpoint(db, user_id))["version"] < poison
    worker.wait_for_log("projection_parked", timeout_s=5)
    failures_logged = worker.log().count("projection_failed")
    await asyncio.sleep(2)  # four sweeps: a parked user is left alone
    assert worker.log().count("projection_failed") == failures_logged
    # Not projected, and it will not be before an operator acts: a 404 at once, saying it may exist.
    started = time.monotonic()
    missing = await client.get(f"/v1/workouts/{workout_id}", headers=bearer(signed_in))
    assert time.monotonic() - started < settings.projection.consistency_wait_s / 2
    assert missing.status_code == 404 and missing.headers["x-consistency"] == "stale"

    # The fix: here, the event becomes one the projectors understand.
    await db.execute(
        """
        UPDATE events SET type = 'ProfileChanged', schema_version = 1, payload = '{"type": "ProfileChanged"}'
        WHERE user_id = $1 AND version = $2
        """,
        user_id,
        poison,
    )
    result = subprocess.run(
        [sys.executable, "-m", "api", "projections", "retry", "--user", str(user_id)],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"retried 1 user(s)\n  {user_id}" in result.stdout

    detail = await client.get(
        f"/v1/workouts/{workout_id}",
        headers={**bearer(signed_in), "X-Consistency-Token": put.headers["x-consistency-token"]},
    )
    assert detail.status_code == 200, detail.text
    row = await checkpoint(db, user_id)
    assert row["parked_version"] is None and row["failures"] == 0


class WorkoutShared(Event, frozen=True):
    """An event type a newer contract might add before the runner learns to apply it."""

    workout_id: uuid.UUID


async def test_an_event_the_runner_cannot_apply_parks_the_user_before_it(
    client: Any, settings: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    assert settings.database.url and settings.redis.url
    pool = await asyncpg.create_pool(settings.database.url, min_size=1, max_size=2)
    redis = Redis.from_url(settings.redis.url)
    keys = Keys(settings.redis.prefix)
    try:
        await project_user(pool, redis, keys, user_id)
        projected = (await checkpoint(db, user_id))["version"]
        # The event decodes (the contract knows it), but no projector applies it.
        monkeypatch.setattr(runner, "EVENT_DECODER", msgspec.json.Decoder(AnyEvent | WorkoutShared))
        unknown = await append_event(
            db, user_id, "WorkoutShared", {"type": "WorkoutShared", "workoutId": str(uuid.uuid4())}
        )
        put = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=bearer(signed_in))
        assert put.status_code == 201
        outcome = await project_user(pool, redis, keys, user_id, settings=RunnerSettings(max_failures=1))
    finally:
        await pool.close()
        await redis.aclose()

    assert outcome.parked and outcome.applied == 0
    row = await checkpoint(db, user_id)
    assert row["parked_version"] == unknown and f"event {unknown}" in row["parked_error"]
    assert row["version"] == projected  # never past it, and nothing after it applied


SOME_ID = str(uuid.uuid4())


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "WorkoutLogged", "workoutId": "not-a-uuid", "workoutVersion": 1, "workout": {}},
        {
            "type": "WorkoutLogged",
            "workoutId": str(uuid.uuid4()),
            "workoutVersion": 1,
            "workout": {"exercises": "x"},
        },
        {"type": "WorkoutAmended", "workoutId": 5, "workout": 7},
        {
            "type": "WorkoutAmended",
            "workoutId": str(uuid.uuid4()),
            "workout": {"exercises": [{"exerciseId": {}}]},
        },
        {"type": "WorkoutDeleted", "workoutId": "0" * 36},
        [1, 2],
    ],
)
async def test_a_malformed_workout_event_parks_the_user_and_never_breaks_the_batch_start(
    client: Any, settings: Settings, db: asyncpg.Connection, payload: Any
) -> None:
    """The batch's first statement picks the workouts and exercises an event names out of its JSON:
    whatever that JSON holds, it reads, and the event fails where it is decoded."""
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    kind = payload["type"] if isinstance(payload, dict) else "WorkoutLogged"
    assert settings.database.url and settings.redis.url
    pool = await asyncpg.create_pool(settings.database.url, min_size=1, max_size=2)
    redis = Redis.from_url(settings.redis.url)
    try:
        poison = await append_event(db, user_id, kind, payload)
        outcome = await project_user(
            pool, redis, Keys(settings.redis.prefix), user_id, settings=RunnerSettings(max_failures=1)
        )
    finally:
        await pool.close()
        await redis.aclose()
    assert outcome.parked
    row = await checkpoint(db, user_id)
    assert row["parked_version"] == poison and f"event {poison}" in row["parked_error"]
