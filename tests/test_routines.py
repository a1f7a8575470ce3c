"""Routines: versioned like workouts, read back from their read model, private to their owner."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.accounts import bearer, sign_up
from tests.harness import assert_problem, read_fresh

pytestmark = pytest.mark.e2e

PUSH_A = {
    "name": "Push A",
    "notes": "Heavy bench first",
    "exercises": [
        {
            "exerciseId": "barbell-bench-press",
            "sets": [
                {"type": "warmup", "reps": 10, "weight": {"value": 60, "unit": "kg"}, "restS": 60},
                {"reps": 5, "repsMax": 8, "weight": {"value": 224.9, "unit": "lb"}, "rpe": 8, "restS": 180},
            ],
        },
        {"exerciseId": "cable-triceps-pushdown", "supersetGroup": 1, "sets": [{"reps": 12, "restS": 60}]},
        {"exerciseId": "dumbbell-lateral-raise", "supersetGroup": 1, "sets": [{"reps": 15}]},
    ],
}


@pytest.fixture
async def lifter(client: Any) -> dict[str, str]:
    return bearer(await sign_up(client))


async def test_a_routine_is_defined_read_back_and_amended_with_if_match(
    client: Any, lifter: dict[str, str], start_worker: Any
) -> None:
    start_worker()
    url = f"/v1/routines/{uuid.uuid4()}"
    created = await client.put(url, json=PUSH_A, headers=lifter)
    replay = await client.put(url, json=PUSH_A, headers=lifter)

    assert created.status_code == 201, created.text
    assert replay.status_code == 200 and replay.headers["etag"] == '"1"'
    detail = await read_fresh(client, url, lifter, created.headers["x-consistency-token"])
    assert detail.status_code == 200 and detail.headers["etag"] == '"1"'
    body = detail.json()
    assert body["exercises"][0]["name"] == "Barbell Bench Press"
    assert body["exercises"][0]["sets"][1] == {
        "reps": 5,
        "repsMax": 8,
        "weight": {"value": 224.9, "unit": "lb"},
        "rpe": 8.0,
        "restS": 180,
    }
    assert [e.get("supersetGroup") for e in body["exercises"]] == [None, 1, 1]

    renamed = {**PUSH_A, "name": "Push A (deload)"}
    assert assert_problem(await client.put(url, json=renamed, headers=lifter), 409)["currentVersion"] == 1
    stale = await client.put(url, json=renamed, headers={**lifter, "If-Match": '"9"'})
    assert assert_problem(stale, 412)["currentVersion"] == 1
    amended = await client.put(url, json=renamed, headers={**lifter, "If-Match": '"1"'})
    assert amended.status_code == 200 and amended.headers["etag"] == '"2"'
    listed = await read_fresh(client, "/v1/routines", lifter, amended.headers["x-consistency-token"])
    assert [item["name"] for item in listed.json()["items"]] == ["Push A (deload)"]


async def test_a_deleted_routine_is_gone(client: Any, lifter: dict[str, str], start_worker: Any) -> None:
    start_worker()
    url = f"/v1/routines/{uuid.uuid4()}"
    await client.put(url, json=PUSH_A, headers=lifter)
    gone = await client.delete(url, headers=lifter)
    again = await client.delete(url, headers=lifter)
    assert gone.status_code == again.status_code == 204
    assert (await read_fresh(client, url, lifter, gone.headers["x-consistency-token"])).status_code == 404
    assert_problem(await client.put(url, json=PUSH_A, headers=lifter), 410)


async def test_another_users_routine_is_not_found(client: Any, lifter: dict[str, str]) -> None:
    url = f"/v1/routines/{uuid.uuid4()}"
    await client.put(url, json=PUSH_A, headers=lifter)
    intruder = bearer(await sign_up(client))
    assert_problem(await client.get(url, headers=intruder), 404)
    assert_problem(await client.put(url, json=PUSH_A, headers=intruder), 404)
    assert_problem(await client.put(url, json=PUSH_A, headers={**intruder, "If-Match": '"1"'}), 404)
    assert_problem(await client.delete(url, headers=intruder), 404)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"exercises": [{"exerciseId": "nope", "sets": []}]}, "exercises[0].exerciseId"),
        (
            {"exercises": [{"exerciseId": "barbell-bench-press", "sets": [{"reps": 8, "repsMax": 5}]}]},
            "exercises[0].sets[0].repsMax",
        ),
        (
            {"exercises": [{"exerciseId": "barbell-bench-press", "sets": [{"restS": 7200}]}]},
            "exercises[0].sets[0].restS",
        ),
        ({"userId": "x"}, "userId"),
    ],
)
async def test_invalid_routines_are_422(
    client: Any, lifter: dict[str, str], change: dict[str, Any], field: str
) -> None:
    response = await client.put(f"/v1/routines/{uuid.uuid4()}", json={**PUSH_A, **change}, headers=lifter)
    assert assert_problem(response, 422)["errors"][0]["field"] == field


async def test_a_user_has_at_most_a_hundred_routines(client: Any, lifter: dict[str, str]) -> None:
    minimal = {"name": "R", "exercises": []}
    responses = await asyncio.gather(
        *(client.put(f"/v1/routines/{uuid.uuid4()}", json=minimal, headers=lifter) for _ in range(100))
    )
    assert all(r.status_code == 201 for r in responses)
    assert_problem(await client.put(f"/v1/routines/{uuid.uuid4()}", json=minimal, headers=lifter), 422)
