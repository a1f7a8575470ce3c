"""Read-your-writes (promise 6), conditional reads, and reads that survive Redis and Postgres outages.

The detail, feed and dashboard are served as stored bytes; these tests hold them to their
documented structs, to the consistency token of the write they follow, and to their ETags.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from api.app import create_app
from api.workouts import WorkoutPage
from core.embedded import EmbeddedPostgres, EmbeddedRedis
from core.redis import Keys
from core.settings import Settings, derive_broker_url
from projections.documents import Dashboard, WorkoutDocument
from queries.consistency import ProjectionNotifications
from tests.accounts import bearer, sign_up
from tests.harness import IronlogProcess, assert_problem
from tests.test_custom_exercises import LANDMINE
from tests.test_routines import PUSH_A
from tests.workouts import PUSH_DAY_VOLUME_KG, workout
from workers.broker import build_broker, close, waiting_messages

pytestmark = pytest.mark.e2e


def heavier_push_day() -> dict[str, Any]:
    """Today's push day, amended: one more rep on the working set."""
    return {
        **workout(),
        "title": "Push day, one more rep",
        "exercises": [
            {
                "exerciseId": "barbell-bench-press",
                "sets": [
                    {"type": "warmup", "reps": 10, "weight": {"value": 60, "unit": "kg"}},
                    {"reps": 6, "weight": {"value": 224.9, "unit": "lb"}, "rpe": 9},
                ],
            }
        ],
    }


StartWorker = Callable[..., IronlogProcess]
FEED = "/v1/workouts"
DASHBOARD = "/v1/stats/dashboard"


def detail_path(workout_id: uuid.UUID) -> str:
    return f"/v1/workouts/{workout_id}"


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


#: Users some projection work is still due for (other tests leave some), parked users aside.
BACKLOG = """
SELECT count(*) FROM (
    SELECT p.user_id FROM projection_pending p
    LEFT JOIN projection_checkpoints c ON c.user_id = p.user_id
    WHERE c.parked_version IS NULL
    UNION
    SELECT user_id FROM projection_checkpoints WHERE redis_version < version AND parked_version IS NULL
) behind
"""


@pytest.fixture
async def worker(db: asyncpg.Connection, settings: Settings, start_worker: StartWorker) -> IronlogProcess:
    """A running worker that has worked off what earlier tests left (their users' projections and the
    sweeper's queued pokes), so that a new write is next in line."""
    started = start_worker()
    broker = build_broker(settings)
    deadline = time.monotonic() + 60
    try:
        while await db.fetchval(BACKLOG) or await asyncio.to_thread(waiting_messages, broker, settings):
            assert time.monotonic() < deadline, "the worker did not work off the backlog within 60 s"
            await asyncio.sleep(0.1)
    finally:
        close(broker)
    return started


async def lifter(client: Any) -> dict[str, Any]:
    signed_in = await sign_up(client)
    return {**signed_in, "headers": bearer(signed_in)}


async def read(client: Any, path: str, signed_in: dict[str, Any], token: int | None = None) -> httpx.Response:
    """One GET, with the consistency token when given: no retries."""
    headers = dict(signed_in["headers"])
    if token is not None:
        headers["X-Consistency-Token"] = str(token)
    response: httpx.Response = await client.get(path, headers=headers)
    return response


def fresh(response: httpx.Response, token: int) -> dict[str, Any]:
    """A 200 that reflects at least `token`; its body."""
    assert response.status_code == 200, response.text
    assert "x-consistency" not in response.headers
    assert int(response.headers["x-projection-version"]) >= token
    body: dict[str, Any] = response.json()
    return body


async def logged(
    client: Any, signed_in: dict[str, Any], body: dict[str, Any] | None = None
) -> tuple[uuid.UUID, int]:
    """A new workout (today's push day unless `body`); its id and the PUT's consistency token."""
    workout_id = uuid.uuid4()
    response = await client.put(detail_path(workout_id), json=body or workout(), headers=signed_in["headers"])
    assert response.status_code == 201, response.text
    return workout_id, int(response.headers["x-consistency-token"])


# -- read-your-writes ----------------------------------------------------------------------------


async def test_a_read_with_the_consistency_token_sees_the_write_on_the_first_try(
    client: Any, worker: IronlogProcess
) -> None:
    signed_in = await lifter(client)

    workout_id, token = await logged(client, signed_in)
    detail = fresh(await read(client, detail_path(workout_id), signed_in, token), token)
    feed = fresh(await read(client, FEED, signed_in, token), token)
    board = fresh(await read(client, DASHBOARD, signed_in, token), token)
    assert (detail["id"], detail["version"], detail["title"]) == (str(workout_id), 1, "Push day")
    assert detail["volumeKg"] == PUSH_DAY_VOLUME_KG
    assert [(item["id"], item["version"]) for item in feed["items"]] == [(str(workout_id), 1)]
    assert board["totals"]["workouts"] == 1
    assert board["totals"]["volumeKg"] == PUSH_DAY_VOLUME_KG
    assert board["lastWorkout"]["id"] == str(workout_id)

    amended = await client.put(
        detail_path(workout_id), json=heavier_push_day(), headers={**signed_in["headers"], "If-Match": '"1"'}
    )
    assert amended.status_code == 200, amended.text
    token = int(amended.headers["x-consistency-token"])
    detail = fresh(await read(client, detail_path(workout_id), signed_in, token), token)
    feed = fresh(await read(client, FEED, signed_in, token), token)
    board = fresh(await read(client, DASHBOARD, signed_in, token), token)
    assert (detail["version"], detail["title"]) == (2, heavier_push_day()["title"])
    assert detail["volumeKg"] > PUSH_DAY_VOLUME_KG
    assert [(item["id"], item["version"], item["title"]) for item in feed["items"]] == [
        (str(workout_id), 2, heavier_push_day()["title"])
    ]
    assert board["totals"]["workouts"] == 1  # amended in place, not counted twice
    assert board["totals"]["volumeKg"] == detail["volumeKg"]
    assert board["lastWorkout"]["title"] == heavier_push_day()["title"]

    deleted = await client.delete(detail_path(workout_id), headers=signed_in["headers"])
    assert deleted.status_code == 204
    token = int(deleted.headers["x-consistency-token"])
    gone = await read(client, detail_path(workout_id), signed_in, token)
    assert gone.status_code == 404, gone.text
    assert fresh(await read(client, FEED, signed_in, token), token)["items"] == []
    board = fresh(await read(client, DASHBOARD, signed_in, token), token)
    assert board["totals"]["workouts"] == 0
    assert "lastWorkout" not in board


async def test_without_a_worker_the_read_answers_stale_after_about_two_seconds(
    client: Any, settings: Settings
) -> None:
    assert settings.projection.consistency_wait_s == 2.0
    signed_in = await lifter(client)
    _, token = await logged(client, signed_in)

    started = time.monotonic()
    response = await read(client, DASHBOARD, signed_in, token)
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.text
    assert response.headers["x-consistency"] == "stale"
    assert 1.8 <= elapsed <= 4.0, elapsed
    assert int(response.headers["x-projection-version"]) < token
    assert response.json()["totals"]["workouts"] == 0


async def test_the_location_of_a_write_answers_at_once_without_the_token(
    client: Any, worker: IronlogProcess
) -> None:
    """A 201's Location is readable on the next request, token or not: a miss on the caller's own
    resource waits for the caller's writes not yet projected, as if the token had been sent."""
    signed_in = await lifter(client)
    writes = [(detail_path(uuid.uuid4()), workout()) for _ in range(8)]
    writes += [(f"/v1/routines/{uuid.uuid4()}", PUSH_A) for _ in range(4)]
    writes += [(f"/v1/exercises/{uuid.uuid4()}", LANDMINE) for _ in range(4)]
    for path, body in writes:
        written = await client.put(path, json=body, headers=signed_in["headers"])
        assert written.status_code == 201, written.text
        location = written.headers["location"]
        assert location == path

        response = await client.get(location, headers=signed_in["headers"])

        assert response.status_code == 200, (location, response.text)
        assert "x-consistency" not in response.headers
        assert int(response.headers["x-projection-version"]) >= int(written.headers["x-consistency-token"])
        assert response.json()["id"] == location.rsplit("/", 1)[-1]


async def test_a_missing_resource_of_a_caught_up_user_is_a_plain_404_at_once(
    client: Any, worker: IronlogProcess
) -> None:
    signed_in = await lifter(client)
    _, token = await logged(client, signed_in)
    fresh(await read(client, FEED, signed_in, token), token)  # everything projected

    for path in (detail_path(uuid.uuid4()), f"/v1/routines/{uuid.uuid4()}", f"/v1/exercises/{uuid.uuid4()}"):
        started = time.monotonic()
        response = await read(client, path, signed_in)
        assert time.monotonic() - started < 1.0, path
        assert_problem(response, 404)
        assert "x-consistency" not in response.headers, path


async def test_without_a_worker_a_miss_waits_for_the_write_then_says_404_stale(
    client: Any, settings: Settings
) -> None:
    signed_in = await lifter(client)
    workout_id, token = await logged(client, signed_in)

    for sent in (None, token):  # the same whether the token was sent or not
        started = time.monotonic()
        response = await read(client, detail_path(workout_id), signed_in, sent)
        elapsed = time.monotonic() - started
        assert_problem(response, 404)
        assert response.headers["x-consistency"] == "stale"
        assert settings.projection.consistency_wait_s - 0.2 <= elapsed <= 4.0, elapsed


# -- outages -------------------------------------------------------------------------------------


def _degraded(metrics: str, model: str) -> float:
    match = re.search(
        rf'^ironlog_cache_requests_total\{{model="{model}",result="degraded"\}} (\S+)$', metrics, re.MULTILINE
    )
    return float(match.group(1)) if match else 0.0


def bound_to(settings: Settings, database_url: str, redis_url: str) -> Settings:
    """The run's settings on other servers (same prefix, same JWT secret); the broker on that Redis."""
    bound = settings.with_services(database_url, redis_url)
    return msgspec.structs.replace(
        bound, redis=msgspec.structs.replace(bound.redis, broker_url=derive_broker_url(redis_url))
    )


async def test_read_models_answer_from_postgres_when_redis_is_down(
    client: Any,
    settings: Settings,
    worker: IronlogProcess,
    private_redis: EmbeddedRedis,
    private_postgres: EmbeddedPostgres,
) -> None:
    signed_in = await lifter(client)
    workout_id, token = await logged(client, signed_in)
    paths = [detail_path(workout_id), FEED, DASHBOARD]
    expected = {path: await read(client, path, signed_in, token) for path in paths}
    for response in expected.values():
        fresh(response, token)

    # Redis down: every read model is answered from Postgres, without waiting for Redis.
    assert settings.database.url and private_redis.url
    without_redis = bound_to(settings, settings.database.url, private_redis.url)
    async with AsyncTestClient(app=create_app(without_redis)) as degraded:
        before = (await degraded.get("/metrics")).text
        private_redis.stop()
        for path in paths:
            started = time.monotonic()
            response = await read(degraded, path, signed_in, token)
            assert time.monotonic() - started < 1.5, path
            fresh(response, token)
            assert response.content == expected[path].content, path
            assert response.headers["etag"] == expected[path].headers["etag"], path
        after = (await degraded.get("/metrics")).text
    for model in ("workout", "feed", "dashboard"):
        assert _degraded(after, model) == _degraded(before, model) + 1, model

    # Postgres down too: a clean 503 problem, never a stack trace.
    from migrations.runner import migrate

    assert private_postgres.url
    nothing_up = bound_to(settings, private_postgres.url, private_redis.url)
    await migrate(nothing_up)
    async with AsyncTestClient(app=create_app(nothing_up)) as broken:
        assert (await broken.get("/health/live")).status_code == 200
        private_postgres.stop()
        for path in paths:
            response = await read(broken, path, signed_in, token)
            body = assert_problem(response, 503)
            assert "Traceback" not in response.text and 'File "' not in response.text, response.text
            assert set(body) <= {
                "title",
                "status",
                "type",
                "detail",
                "instance",
                "requestId",
                "retryAfter",
            }, body


# -- conditional reads and the documented shapes -------------------------------------------------


async def test_if_none_match_gives_304_for_every_read_model(client: Any, worker: IronlogProcess) -> None:
    signed_in = await lifter(client)
    workout_id, token = await logged(client, signed_in)
    paths = [detail_path(workout_id), FEED, DASHBOARD]

    etags = {}
    for path in paths:
        first = await read(client, path, signed_in, token)
        fresh(first, token)
        etag = first.headers["etag"]
        etags[path] = etag
        assert re.fullmatch(r'"[^"]+"', etag), etag

        headers = {**signed_in["headers"], "If-None-Match": etag}
        again = await client.get(path, headers=headers)
        assert again.status_code == 304, path
        assert again.headers["etag"] == etag
        assert again.content == b""
        other = await client.get(path, headers={**signed_in["headers"], "If-None-Match": '"not-it"'})
        assert other.status_code == 200 and other.content == first.content

    # After an amendment the old ETags no longer match: each read model answers the new bytes.
    amended = await client.put(
        detail_path(workout_id), json=heavier_push_day(), headers={**signed_in["headers"], "If-Match": '"1"'}
    )
    token = int(amended.headers["x-consistency-token"])
    for path in paths:
        headers = {**signed_in["headers"], "X-Consistency-Token": str(token), "If-None-Match": etags[path]}
        changed = await client.get(path, headers=headers)
        assert changed.status_code == 200, path
        assert changed.headers["etag"] != etags[path]
        assert heavier_push_day()["title"] in changed.text


def _round_trip(body: bytes, decoded: msgspec.Struct) -> None:
    """Nothing in `body` is outside the struct: re-encoding what was decoded gives the same JSON."""
    assert msgspec.json.decode(msgspec.json.encode(decoded)) == msgspec.json.decode(body)


async def test_stored_bytes_decode_against_the_documented_structs(
    client: Any, worker: IronlogProcess
) -> None:
    signed_in = await lifter(client)
    workout_id, token = await logged(client, signed_in)

    responses = [
        await read(client, path, signed_in, token) for path in (detail_path(workout_id), FEED, DASHBOARD)
    ]
    for response in responses:
        fresh(response, token)
    detail_body, feed_body, board_body = (response.content for response in responses)

    detail = msgspec.json.decode(detail_body, type=WorkoutDocument)
    page = msgspec.json.decode(feed_body, type=WorkoutPage)
    board = msgspec.json.decode(board_body, type=Dashboard)
    assert detail.id == workout_id and detail.volume_kg == PUSH_DAY_VOLUME_KG
    assert [item.id for item in page.items] == [workout_id]
    assert board.totals.workouts == 1 and board.last_workout is not None
    for body, decoded in ((detail_body, detail), (feed_body, page), (board_body, board)):
        _round_trip(body, decoded)

    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    document = schema.json()
    operations = {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    components = document["components"]["schemas"]
    for operation_id, struct in (
        ("getWorkout", WorkoutDocument),
        ("listWorkouts", WorkoutPage),
        ("getDashboard", Dashboard),
    ):
        content = operations[operation_id]["responses"]["200"]["content"]["application/json"]
        ref = content["schema"]["$ref"]
        assert ref == f"#/components/schemas/{struct.__name__}", (operation_id, ref)
        component = components[struct.__name__]
        names = {field.encode_name for field in msgspec.structs.fields(struct)}
        assert set(component["properties"]) == names, operation_id
        required = {field.encode_name for field in msgspec.structs.fields(struct) if field.required}
        assert set(component.get("required", [])) == required, operation_id


async def test_after_redis_loses_a_user_a_token_read_answers_from_postgres_at_once(
    client: Any, worker: IronlogProcess, settings: Settings
) -> None:
    signed_in = await lifter(client)
    workout_id, token = await logged(client, signed_in)
    fresh(await read(client, DASHBOARD, signed_in, token), token)
    # The worker notes how far Redis is synced right after syncing it: let it finish that first.
    assert settings.database.url
    connection = await asyncpg.connect(settings.database.url)
    try:
        deadline = time.monotonic() + 10
        while (
            await connection.fetchval(
                "SELECT redis_version FROM projection_checkpoints WHERE user_id = $1",
                uuid.UUID(signed_in["user"]["id"]),
            )
            or 0
        ) < token:
            assert time.monotonic() < deadline, "the worker never noted its Redis sync"
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    worker.kill()  # nothing may repair Redis but the reads themselves
    assert settings.redis.url
    redis = Redis.from_url(settings.redis.url)
    user_keys = f"{settings.redis.prefix}u:{{{signed_in['user']['id']}}}:*"
    try:
        await redis.delete(*[key async for key in redis.scan_iter(match=user_keys)])

        started = time.monotonic()
        detail = fresh(await read(client, detail_path(workout_id), signed_in, token), token)
        elapsed = time.monotonic() - started

        assert detail["id"] == str(workout_id)
        # Waiting for a projection (none can come: the worker is dead) would take the whole wait.
        wait_s = settings.projection.consistency_wait_s
        assert elapsed < wait_s, "the read waited for a projection although Postgres had the write"
        assert (
            int(await redis.get(f"{settings.redis.prefix}u:{{{signed_in['user']['id']}}}:ver") or 0) >= token
        )
        feed = fresh(await read(client, FEED, signed_in, token), token)
        assert [item["id"] for item in feed["items"]] == [str(workout_id)]
    finally:
        await redis.aclose()


async def test_an_announcement_heard_while_the_version_is_checked_wakes_the_read(settings: Settings) -> None:
    """The runner announces a version while a waiting read is still checking it: the read looks
    again at once instead of sleeping until its timeout (the wake-up is not cleared after the fact)."""
    assert settings.redis.url
    redis = Redis.from_url(settings.redis.url)
    keys = Keys(settings.redis.prefix)
    notifications = ProjectionNotifications(redis, keys)
    checked: dict[uuid.UUID, int] = {}

    def second_check(user_id: uuid.UUID) -> Callable[[], Any]:
        async def reached() -> bool:
            checked[user_id] = checked.get(user_id, 0) + 1
            return checked[user_id] > 1

        return reached

    try:
        # Listening: the subscription, once live, has every waiting read check again.
        probe = uuid.uuid4()
        assert await notifications.wait(probe, second_check(probe), 30)
        user_id = uuid.uuid4()

        async def announced_during_the_check() -> bool:
            checked[user_id] = checked.get(user_id, 0) + 1
            if checked[user_id] > 1:
                return True
            await redis.publish(keys.channel("projected", str(user_id)), "7")
            for _ in range(300):  # until the listener has heard it (a wake-up is waiting)
                if all(event.is_set() for event in notifications._waiters[user_id]):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the announcement was not heard")
            return False

        waiting = asyncio.create_task(notifications.wait(user_id, announced_during_the_check, 3600))
        for _ in range(300):  # no time passes for the read but the checks' own
            if waiting.done() or checked.get(user_id, 0) > 1:
                break
            await asyncio.sleep(0.01)
        assert checked.get(user_id) == 2, "the read slept through the announcement"
        assert await waiting is True
    finally:
        await notifications.stop()
        await redis.aclose()
