"""Workout commands over HTTP: create, replay, amend with If-Match, delete, limits, ownership."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from core import clock
from core.settings import Settings
from tests.accounts import bearer, sign_up
from tests.harness import assert_problem
from tests.workouts import workout


@pytest.fixture
async def lifter(client: Any) -> dict[str, Any]:
    signed_in = await sign_up(client)
    return {**signed_in, "headers": bearer(signed_in), "id": uuid.UUID(signed_in["user"]["id"])}


async def event_types(db: asyncpg.Connection, user_id: uuid.UUID) -> list[str]:
    rows = await db.fetch("SELECT type FROM events WHERE user_id = $1 ORDER BY version", user_id)
    return [row["type"] for row in rows]


async def test_first_put_creates_the_workout_and_answers_its_representation(
    client: Any, lifter: dict[str, Any], db: asyncpg.Connection
) -> None:
    workout_id = uuid.uuid4()
    response = await client.put(f"/v1/workouts/{workout_id}", json=workout(), headers=lifter["headers"])

    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/v1/workouts/{workout_id}"
    assert response.headers["x-consistency-token"] == "2"  # UserRegistered, WorkoutLogged
    body = response.json()
    assert body["id"] == str(workout_id) and body["version"] == 1
    assert body["exercises"][0]["sets"][1]["weight"] == {"value": 224.9, "unit": "lb"}
    assert await event_types(db, lifter["id"]) == ["UserRegistered", "WorkoutLogged"]


async def test_weights_are_stored_as_entered_and_in_canonical_kg(
    client: Any, lifter: dict[str, Any], db: asyncpg.Connection
) -> None:
    workout_id = uuid.uuid4()
    await client.put(f"/v1/workouts/{workout_id}", json=workout(), headers=lifter["headers"])
    row = await db.fetchrow(
        """
        SELECT weight_value, weight_unit, weight_kg FROM workout_sets
        WHERE workout_id = $1 AND position = 1
        """,
        workout_id,
    )
    assert str(row["weight_value"]) == "224.9"
    assert row["weight_unit"] == "lb"
    assert str(row["weight_kg"]) == "102.012924013"


async def test_an_identical_replay_answers_the_same_and_appends_nothing(
    client: Any, lifter: dict[str, Any], db: asyncpg.Connection
) -> None:
    url, body = f"/v1/workouts/{uuid.uuid4()}", workout()  # one body: its times are taken from now
    first = await client.put(url, json=body, headers=lifter["headers"])
    replay = await client.put(url, json=body, headers=lifter["headers"])

    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["etag"] == '"1"'
    assert replay.headers["x-consistency-token"] == first.headers["x-consistency-token"]
    assert await event_types(db, lifter["id"]) == ["UserRegistered", "WorkoutLogged"]


async def test_a_changed_body_needs_the_current_version(
    client: Any, lifter: dict[str, Any], db: asyncpg.Connection
) -> None:
    url = f"/v1/workouts/{uuid.uuid4()}"
    await client.put(url, json=workout(), headers=lifter["headers"])
    changed = workout(title="Push day, heavier")

    missing = await client.put(url, json=changed, headers=lifter["headers"])
    stale = await client.put(url, json=changed, headers={**lifter["headers"], "If-Match": '"7"'})
    current = await client.put(url, json=changed, headers={**lifter["headers"], "If-Match": '"1"'})

    assert assert_problem(missing, 409)["currentVersion"] == 1
    assert assert_problem(stale, 412)["currentVersion"] == 1
    assert current.status_code == 200
    assert current.headers["etag"] == '"2"'
    assert current.json()["title"] == "Push day, heavier"
    assert await event_types(db, lifter["id"]) == ["UserRegistered", "WorkoutLogged", "WorkoutAmended"]


async def test_delete_is_204_twice_and_a_later_put_is_gone(
    client: Any, lifter: dict[str, Any], db: asyncpg.Connection
) -> None:
    url = f"/v1/workouts/{uuid.uuid4()}"
    await client.put(url, json=workout(), headers=lifter["headers"])

    first = await client.delete(url, headers=lifter["headers"])
    again = await client.delete(url, headers=lifter["headers"])
    put_after = await client.put(url, json=workout(), headers=lifter["headers"])

    assert first.status_code == again.status_code == 204
    assert first.headers["x-consistency-token"] == again.headers["x-consistency-token"] == "3"
    assert_problem(put_after, 410)
    assert await event_types(db, lifter["id"]) == ["UserRegistered", "WorkoutLogged", "WorkoutDeleted"]
    assert (
        await db.fetchval("SELECT count(*) FROM workout_sets WHERE workout_id = $1", uuid.UUID(url[-36:]))
        == 0
    )


async def test_another_users_workout_is_not_found_and_unchanged(
    client: Any, lifter: dict[str, Any], db: asyncpg.Connection
) -> None:
    url = f"/v1/workouts/{uuid.uuid4()}"
    await client.put(url, json=workout(), headers=lifter["headers"])
    intruder = bearer(await sign_up(client))

    responses = [
        await client.get(url, headers=intruder),
        await client.put(url, json=workout(title="mine now"), headers={**intruder, "If-Match": '"1"'}),
        await client.put(url, json=workout(), headers=intruder),
        await client.delete(url, headers=intruder),
    ]

    for response in responses:
        assert_problem(response, 404)
    assert await db.fetchval("SELECT version FROM workouts WHERE id = $1", uuid.UUID(url[-36:])) == 1
    assert await db.fetchval("SELECT deleted_at FROM workouts WHERE id = $1", uuid.UUID(url[-36:])) is None


async def test_an_unknown_workout_is_not_found(client: Any, lifter: dict[str, Any]) -> None:
    url = f"/v1/workouts/{uuid.uuid4()}"
    assert_problem(await client.get(url, headers=lifter["headers"]), 404)
    assert_problem(await client.delete(url, headers=lifter["headers"]), 404)


async def test_concurrent_amends_with_one_version_let_exactly_one_win(
    client: Any, lifter: dict[str, Any], db: asyncpg.Connection
) -> None:
    url = f"/v1/workouts/{uuid.uuid4()}"
    await client.put(url, json=workout(), headers=lifter["headers"])
    headers = {**lifter["headers"], "If-Match": '"1"'}

    responses = await asyncio.gather(
        *(client.put(url, json=workout(title=f"Amend {i}"), headers=headers) for i in range(20))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 19
    versions = [
        row["version"]
        for row in await db.fetch(
            "SELECT version FROM events WHERE user_id = $1 ORDER BY version", lifter["id"]
        )
    ]
    assert versions == [1, 2, 3]
    assert await db.fetchval("SELECT version FROM streams WHERE user_id = $1", lifter["id"]) == 3


def _with_set(**fields: Any) -> dict[str, Any]:
    body = workout()
    body["exercises"][0]["sets"][1].update(fields)
    return body


def _soon(hours: float) -> str:
    return (clock.now() + timedelta(hours=hours)).isoformat()


def _after_start(hours: float) -> str:
    return (datetime.fromisoformat(workout()["startedAt"]) + timedelta(hours=hours)).isoformat()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (workout(exercises=[workout()["exercises"][0]] * 51), "exercises"),
        (
            workout(exercises=[{"exerciseId": "barbell-back-squat", "sets": [{"reps": 5}] * 51}]),
            "exercises[0].sets",
        ),
        (_with_set(reps=1001), "exercises[0].sets[1].reps"),
        (_with_set(weight={"value": 3400, "unit": "lb"}), "exercises[0].sets[1].weight.value"),
        (_with_set(weight={"value": 100, "unit": "stone"}), "exercises[0].sets[1].weight.unit"),
        (_with_set(rpe=7.3), "exercises[0].sets[1].rpe"),
        (_with_set(rir=11), "exercises[0].sets[1].rir"),
        (_with_set(type="cheat"), "exercises[0].sets[1].type"),
        (_with_set(durationS=86_401), "exercises[0].sets[1].durationS"),
        (workout(endedAt=_after_start(-1)), "endedAt"),  # before the start
        (workout(endedAt=_after_start(25)), "endedAt"),  # longer than a day
        (workout(startedAt=_soon(25), endedAt=None), "startedAt"),
        (workout(startedAt="2026-11-26T18:00:00"), "startedAt"),
        (
            workout(exercises=[{"exerciseId": "underwater-basket-weaving", "sets": []}]),
            "exercises[0].exerciseId",
        ),
        (workout(title=""), "title"),
        (workout(userId=str(uuid.uuid4())), "userId"),
        (workout(version=3), "version"),
    ],
)
async def test_invalid_workouts_are_422_naming_the_field_and_write_nothing(
    client: Any, lifter: dict[str, Any], db: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in body.items() if v is not None}
    workout_id = uuid.uuid4()
    response = await client.put(f"/v1/workouts/{workout_id}", json=body, headers=lifter["headers"])
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == field, problem
    assert await db.fetchval("SELECT count(*) FROM workouts WHERE id = $1", workout_id) == 0
    assert await event_types(db, lifter["id"]) == ["UserRegistered"]


async def test_malformed_json_is_400(client: Any, lifter: dict[str, Any]) -> None:
    response = await client.put(
        f"/v1/workouts/{uuid.uuid4()}",
        content=b'{"title": "x", ',
        headers={**lifter["headers"], "Content-Type": "application/json"},
    )
    assert_problem(response, 400)


async def test_a_dead_broker_does_not_fail_the_command(settings: Settings, db: asyncpg.Connection) -> None:
    import msgspec
    from litestar.testing import AsyncTestClient

    from api.app import create_app
    from core.processes import free_port

    dead = msgspec.structs.replace(
        settings,
        redis=msgspec.structs.replace(settings.redis, broker_url=f"redis://127.0.0.1:{free_port()}/0"),
        worker=msgspec.structs.replace(settings.worker, enqueue_timeout_s=0.2),
    )
    async with AsyncTestClient(app=create_app(dead)) as client:
        signed_in = await sign_up(client)
        response = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=bearer(signed_in))
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 201
    assert 'ironlog_enqueue_failures_total{actor="project_user"}' in metrics
    pending = await db.fetchval(
        "SELECT version FROM projection_pending WHERE user_id = $1", uuid.UUID(signed_in["user"]["id"])
    )
    assert pending == 2  # the sweeper will find the user


async def test_exercises_lists_the_built_in_catalog(client: Any, lifter: dict[str, Any]) -> None:
    ids: set[str] = set()
    params: dict[str, Any] = {"limit": 100}
    for _ in range(10):
        page = (await client.get("/v1/exercises", params=params, headers=lifter["headers"])).json()
        ids |= {item["id"] for item in page["items"]}
        if "nextCursor" not in page:
            break
        params["cursor"] = page["nextCursor"]
    assert {"barbell-bench-press", "barbell-back-squat", "barbell-deadlift", "barbell-overhead-press"} <= ids
    assert len(ids) >= 150
    bench = (await client.get("/v1/exercises/barbell-bench-press", headers=lifter["headers"])).json()
    assert bench["measurement"] == "weight_reps"
    assert "chest" in bench["primaryMuscles"]
