"""Kill tests of the write -> project -> cache pipeline: promises 1, 2, 3 and 5 under crashes.

Each test freezes a real process at a named fault point (IRONLOG_FAULT), kills it there and checks
that the events are applied to the read models exactly once and that every read answers correctly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from core import clock
from core.processes import free_port
from core.redis import Keys
from core.settings import Settings
from projections.cache import DocumentKeys
from projections.documents import Dashboard
from projections.packing import unpack
from projections.runner import lock_key
from tests.accounts import bearer, sign_up
from tests.harness import IronlogProcess, empty_broker, wait_until
from tests.workouts import PUSH_DAY_VOLUME_KG, workout
from workers.broker import broker_namespace

pytestmark = pytest.mark.e2e

PULL_DAY: dict[str, Any] = {
    "title": "Pull day",
    "startedAt": "2026-11-25T07:30:00+00:00",
    "exercises": [
        {"exerciseId": "barbell-bent-over-row", "sets": [{"reps": 8, "weight": {"value": 70, "unit": "kg"}}]},
    ],
}

StartWorker = Callable[..., IronlogProcess]

#: Enough for a cold worker to consume, project and sync; still a bound.
PROJECTION_TIMEOUT_S = 20.0


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    assert settings.redis.url
    client = Redis.from_url(settings.redis.url)
    yield client
    await client.aclose()


@pytest.fixture
def start_worker(start_worker: Any) -> Iterator[StartWorker]:
    """Workers of this module are killed at the end of each test: a crash is what they must survive,
    and it spares the 15 s the harness's group-wide SIGTERM takes to end a Dramatiq worker."""
    started: list[IronlogProcess] = []

    def start(**env: str) -> IronlogProcess:
        worker: IronlogProcess = start_worker(**env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    """Poll `check` until true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.1)


def log_records(process: IronlogProcess, event: str) -> list[dict[str, Any]]:
    """The JSON log records of `process` whose event is `event`."""
    records = []
    for line in process.log().splitlines():
        if not line.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("event") == event:
                records.append(record)
    return records


async def stream_version(db: asyncpg.Connection, user_id: uuid.UUID) -> int:
    version: int = await db.fetchval("SELECT version FROM streams WHERE user_id = $1", user_id)
    return version


async def checkpoint(db: asyncpg.Connection, user_id: uuid.UUID) -> tuple[int, int]:
    """(version, redis_version) of the user's projection checkpoint; (0, 0) before the first."""
    row = await db.fetchrow(
        "SELECT version, redis_version FROM projection_checkpoints WHERE user_id = $1", user_id
    )
    return (0, 0) if row is None else (row["version"], row["redis_version"])


async def weekly_workouts(db: asyncpg.Connection, user_id: uuid.UUID) -> int:
    count: int = await db.fetchval(
        "SELECT COALESCE(sum(workouts), 0) FROM rm_weekly_totals WHERE user_id = $1", user_id
    )
    return count


async def workout_rows(db: asyncpg.Connection, user_id: uuid.UUID, workout_id: uuid.UUID) -> int:
    """How many rm_* rows mention the workout."""
    count: int = await db.fetchval(
        """
        SELECT (SELECT count(*) FROM rm_workout_documents WHERE user_id = $1 AND workout_id = $2)
             + (SELECT count(*) FROM rm_workout_summaries WHERE user_id = $1 AND workout_id = $2)
        """,
        user_id,
        workout_id,
    )
    return count


BACKLOG = """
SELECT count(*) FROM (
    SELECT p.user_id FROM projection_pending p
    LEFT JOIN projection_checkpoints c ON c.user_id = p.user_id
    WHERE c.parked_version IS NULL
    UNION
    SELECT user_id FROM projection_checkpoints WHERE redis_version < version AND parked_version IS NULL
    UNION
    SELECT d.user_id FROM rm_dashboards d JOIN projection_checkpoints c ON c.user_id = d.user_id
    WHERE d.rollover_at <= $1 AND c.parked_version IS NULL
) behind
"""


async def settle(db: asyncpg.Connection, settings: Settings, start_worker: StartWorker) -> None:
    """Project every user's backlog (other tests leave some) and empty this run's broker namespace.

    A faulted worker freezes at the first batch it meets, and the sweeper tests need to know that
    no message is queued: afterwards the only projection work is what the test itself creates.
    """
    if await db.fetchval(BACKLOG, clock.now()):
        worker = start_worker()

        async def caught_up() -> bool:
            return int(await db.fetchval(BACKLOG, clock.now())) == 0

        await eventually(caught_up, 60, "every user's backlog to be projected")
        worker.kill()
    await empty_broker(settings)


async def advisory_lock_held(db: asyncpg.Connection, key: int) -> bool:
    """Whether another session holds the bigint advisory lock `key` (as pg_advisory_xact_lock takes it)."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    held: bool = await db.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
            AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
        """,
        unsigned >> 32,
        unsigned & 0xFFFFFFFF,
    )
    return held


async def put(client: Any, signed_in: dict[str, Any], workout_id: uuid.UUID, body: dict[str, Any]) -> int:
    """PUT a new workout through the in-process app; its consistency token."""
    response = await client.put(f"/v1/workouts/{workout_id}", json=body, headers=bearer(signed_in))
    assert response.status_code == 201, response.text
    return int(response.headers["x-consistency-token"])


async def read_at_least(client: Any, path: str, signed_in: dict[str, Any], token: int) -> httpx.Response:
    """GET `path` with the token until it answers 200 and not stale (bounded)."""
    headers = {**bearer(signed_in), "X-Consistency-Token": str(token)}
    deadline = time.monotonic() + PROJECTION_TIMEOUT_S
    while True:
        response: httpx.Response = await client.get(path, headers=headers)
        if response.status_code == 200 and "x-consistency" not in response.headers:
            return response
        assert response.status_code in (200, 404), response.text
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not reach version {token}: {response.status_code}")
        await asyncio.sleep(0.1)


async def dashboard(client: Any, signed_in: dict[str, Any]) -> Dashboard:
    response = await client.get("/v1/stats/dashboard", headers=bearer(signed_in))
    assert response.status_code == 200, response.text
    return msgspec.json.decode(response.content, type=Dashboard)


# -- the API killed between its commit and its enqueue ------------------------------------------


async def test_api_killed_after_commit_before_enqueue_is_recovered_by_the_sweeper(
    client: Any, settings: Settings, db: asyncpg.Connection, start_ironlog: Any, start_worker: StartWorker
) -> None:
    signed_in = await sign_up(client)  # registration passes the fault point too: not through the victim
    user_id = uuid.UUID(signed_in["user"]["id"])
    port = free_port()
    api = start_ironlog(["api", "--port", str(port), "--workers", "1"], IRONLOG_FAULT="after_commit")

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, 60, "the faulted API to answer")
    workout_id = uuid.uuid4()
    outcome: dict[str, Any] = {}

    def send() -> None:
        try:
            outcome["response"] = httpx.put(
                f"http://127.0.0.1:{port}/v1/workouts/{workout_id}",
                json=workout(),
                headers=bearer(signed_in),
                timeout=20,
            )
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    api.wait_for_log("fault_point_reached name=after_commit", timeout_s=20)
    api.kill()
    sender.join(20)
    assert not sender.is_alive()
    # The client never got its answer: the process died after the commit.
    assert "response" not in outcome, outcome

    events = await db.fetch(
        "SELECT version, type FROM events WHERE user_id = $1 AND payload->>'workoutId' = $2",
        user_id,
        str(workout_id),
    )
    assert [(row["version"], row["type"]) for row in events] == [(2, "WorkoutLogged")]
    assert await stream_version(db, user_id) == 2
    assert (await checkpoint(db, user_id))[0] < 2

    # No message was ever enqueued for the workout (and the registration's poke is dropped too):
    # only the sweeper can find it.
    await empty_broker(settings)
    worker = start_worker()
    detail = await read_at_least(client, f"/v1/workouts/{workout_id}", signed_in, 2)

    assert detail.json()["id"] == str(workout_id)
    assert detail.json()["volumeKg"] == PUSH_DAY_VOLUME_KG
    assert any(record["lagging"] >= 1 for record in log_records(worker, "swept")), worker.log()[-3000:]
    board = await dashboard(client, signed_in)
    assert board.totals.workouts == 1
    assert board.totals.volume_kg == PUSH_DAY_VOLUME_KG
    assert await weekly_workouts(db, user_id) == 1


# -- the worker killed inside and just after its projection transaction --------------------------


async def test_worker_killed_mid_batch_applies_the_events_once(
    client: Any, settings: Settings, db: asyncpg.Connection, start_worker: StartWorker
) -> None:
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    await settle(db, settings, start_worker)  # projects this user's registration too
    assert await checkpoint(db, user_id) == (1, 1)
    doomed = start_worker(IRONLOG_FAULT="mid_batch")

    workout_id = uuid.uuid4()
    token = await put(client, signed_in, workout_id, workout())
    assert token == 2
    doomed.wait_for_log("fault_point_reached name=mid_batch", timeout_s=PROJECTION_TIMEOUT_S)
    # Frozen inside this user's projection transaction (it holds the user's lock), not someone else's.
    assert await advisory_lock_held(db, lock_key(user_id))
    doomed.kill()

    async def lock_released() -> bool:
        return not await advisory_lock_held(db, lock_key(user_id))

    await eventually(lock_released, 10, "the killed worker's transaction to end")
    assert (await checkpoint(db, user_id))[0] == 1 < token
    assert await workout_rows(db, user_id, workout_id) == 0
    assert await weekly_workouts(db, user_id) == 0

    start_worker()
    detail = await read_at_least(client, f"/v1/workouts/{workout_id}", signed_in, token)

    assert detail.json()["version"] == 1
    assert (await checkpoint(db, user_id))[0] == token
    assert await weekly_workouts(db, user_id) == 1
    assert await workout_rows(db, user_id, workout_id) == 2
    board = await dashboard(client, signed_in)
    assert board.totals.workouts == 1
    assert board.totals.sets == 1
    assert board.totals.volume_kg == PUSH_DAY_VOLUME_KG


async def test_worker_killed_after_its_commit_applies_once_and_redis_catches_up(
    client: Any, settings: Settings, db: asyncpg.Connection, redis: Redis, start_worker: StartWorker
) -> None:
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    await settle(db, settings, start_worker)
    assert await checkpoint(db, user_id) == (1, 1)
    dash_key = Keys(settings.redis.prefix).user(user_id, "dash")
    assert await redis.hget(dash_key, "v") == b"1"
    doomed = start_worker(IRONLOG_FAULT="after_batch_commit")

    workout_id = uuid.uuid4()
    token = await put(client, signed_in, workout_id, workout())
    doomed.wait_for_log("fault_point_reached name=after_batch_commit", timeout_s=PROJECTION_TIMEOUT_S)
    doomed.kill()

    # Postgres has it all, exactly once; Redis never heard of it.
    version, redis_version = await checkpoint(db, user_id)
    assert version == token == await stream_version(db, user_id)
    assert redis_version < version
    assert await weekly_workouts(db, user_id) == 1
    assert await redis.get(Keys(settings.redis.prefix).user(user_id, "ver")) == b"1"
    assert await redis.hget(dash_key, "v") == b"1"

    repairer = start_worker()

    async def redis_repaired() -> bool:
        return (await checkpoint(db, user_id))[1] >= token

    await eventually(redis_repaired, PROJECTION_TIMEOUT_S, "Redis to be re-synced")
    # Dramatiq's Redis broker gives a dead worker's messages back only once its heartbeat has timed
    # out, so the sweeper repairs Redis; RabbitMQ hands the unacknowledged poke to the repairer at
    # once, and that redelivery may re-sync Redis before the sweeper's first pass.
    if not (settings.redis.broker_url or "").startswith("amqp"):
        assert any(record["redis_behind"] >= 1 for record in log_records(repairer, "swept"))
    assert await checkpoint(db, user_id) == (token, token)
    stored = await redis.hgetall(dash_key)
    assert stored[b"v"] == str(token).encode()
    assert msgspec.json.decode(unpack(stored[b"b"]), type=Dashboard).totals.workouts == 1
    assert await redis.hget(Keys(settings.redis.prefix).user(user_id, "w", str(workout_id)), "v") == (
        str(token).encode()
    )
    assert await weekly_workouts(db, user_id) == 1
    board = await dashboard(client, signed_in)
    assert board.totals.workouts == 1
    assert board.totals.volume_kg == PUSH_DAY_VOLUME_KG


# -- Redis holds no truth ------------------------------------------------------------------------


@pytest.fixture
async def redis_only_client(settings: Settings) -> AsyncIterator[Any]:
    """The app without its memory cache, so that every read goes to Redis (and refills it)."""
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    api = msgspec.structs.replace(settings.api, memory_cache_mb=0)
    async with AsyncTestClient(app=create_app(msgspec.structs.replace(settings, api=api))) as test_client:
        yield test_client


async def test_deleting_the_cache_prefix_keeps_every_read_correct_and_refills_it(
    redis_only_client: Any,
    settings: Settings,
    db: asyncpg.Connection,
    redis: Redis,
    start_worker: StartWorker,
) -> None:
    client = redis_only_client
    worker = start_worker()
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    first, second = uuid.uuid4(), uuid.uuid4()
    await put(client, signed_in, first, workout())
    token = await put(client, signed_in, second, PULL_DAY)
    paths = [f"/v1/workouts/{first}", f"/v1/workouts/{second}", "/v1/workouts", "/v1/stats/dashboard"]
    before = {path: await read_at_least(client, path, signed_in, token) for path in paths}
    assert [item["id"] for item in before["/v1/workouts"].json()["items"]] == [str(first), str(second)]
    assert before["/v1/stats/dashboard"].json()["totals"]["workouts"] == 2

    async def synced() -> bool:
        return await checkpoint(db, user_id) == (token, token)

    await eventually(synced, PROJECTION_TIMEOUT_S, "the worker to finish syncing Redis")
    worker.kill()  # from here on only the reads themselves can put documents back

    keys = Keys(settings.redis.prefix)
    user_keys = [
        keys.user(user_id, "ver"),
        keys.user(user_id, "dash"),
        keys.user(user_id, "w", str(first)),
        keys.user(user_id, "w", str(second)),
    ]
    assert await redis.exists(*user_keys) == len(user_keys)
    dramatiq_prefix = broker_namespace(settings).encode()
    deleted = 0
    async for key in redis.scan_iter(match=keys.pattern(), count=500):
        if not key.startswith(dramatiq_prefix):
            deleted += await redis.unlink(key)
    assert deleted >= len(user_keys)
    assert await redis.exists(*user_keys) == 0

    for path in paths:
        again = await client.get(path, headers=bearer(signed_in))
        assert again.status_code == 200, again.text
        assert again.content == before[path].content, path
        assert again.headers["etag"] == before[path].headers["etag"], path
        assert int(again.headers["x-projection-version"]) >= token
    # Each read put back what it served, at the version it reflects.
    refilled = {
        keys.user(user_id, "w", str(first)): f"/v1/workouts/{first}",
        keys.user(user_id, "w", str(second)): f"/v1/workouts/{second}",
        DocumentKeys(keys, user_id).feed_page(20, None): "/v1/workouts",
        keys.user(user_id, "dash"): "/v1/stats/dashboard",
    }
    for key, path in refilled.items():
        document = await redis.hgetall(key)
        assert document, f"{key} was not refilled by GET {path}"
        assert unpack(document[b"b"]) == before[path].content, path
        assert document[b"v"] == str(token).encode(), path


# -- one sweeper ---------------------------------------------------------------------------------


def test_one_sweeper_is_active_across_worker_processes(start_worker: StartWorker) -> None:
    workers: list[IronlogProcess] = [start_worker(), start_worker()]

    def active() -> list[IronlogProcess]:
        return [worker for worker in workers if "sweeper_active" in worker.log()]

    wait_until(lambda: len(active()) >= 1, 10, "a worker to become the active sweeper")
    time.sleep(2)  # four sweep intervals: time enough for a second one to (wrongly) take over
    assert len(active()) == 1, [worker.log()[-2000:] for worker in workers]
    [leader] = active()
    follower = next(worker for worker in workers if worker is not leader)
    leader.kill()

    follower.wait_for_log("sweeper_active", timeout_s=10)
    assert follower.process.poll() is None


def test_a_frozen_sweeper_is_replaced_and_stands_down_when_it_thaws(start_worker: StartWorker) -> None:
    workers: list[IronlogProcess] = [start_worker(), start_worker()]

    def active() -> list[IronlogProcess]:
        return [worker for worker in workers if "sweeper_active" in worker.log()]

    wait_until(lambda: len(active()) >= 1, 10, "a worker to become the active sweeper")
    [leader] = active()
    follower = next(worker for worker in workers if worker is not leader)
    os.killpg(leader.process.pid, signal.SIGSTOP)  # frozen: its connections stay open
    try:
        follower.wait_for_log("sweeper_active", timeout_s=10)
    finally:
        os.killpg(leader.process.pid, signal.SIGCONT)
    leader.wait_for_log("sweeper_inactive", timeout_s=10)
