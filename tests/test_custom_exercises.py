"""Custom exercises: private to their owner, usable in workouts, deletable without breaking history."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.accounts import bearer, sign_up
from tests.harness import assert_problem, read_fresh
from tests.workouts import workout

LANDMINE = {
    "name": "Landmine Press",
    "category": "barbell",
    "equipment": "barbell",
    "measurement": "weight_reps",
    "primaryMuscles": ["shoulders"],
    "secondaryMuscles": ["triceps", "chest"],
    "mechanic": "compound",
    "force": "push",
}


def using(exercise_id: str) -> dict[str, Any]:
    return workout(
        exercises=[{"exerciseId": exercise_id, "sets": [{"reps": 8, "weight": {"value": 25, "unit": "kg"}}]}]
    )


@pytest.fixture
async def lifter(client: Any) -> dict[str, str]:
    return bearer(await sign_up(client))


async def test_an_exercise_defined_offline_is_usable_once_it_syncs(
    client: Any, lifter: dict[str, str], start_worker: Any
) -> None:
    start_worker()
    exercise_id = str(uuid.uuid4())
    workout_id = uuid.uuid4()
    # The phone syncs the workout before the exercise it uses: refused, nothing written.
    early = await client.put(f"/v1/workouts/{workout_id}", json=using(exercise_id), headers=lifter)
    assert assert_problem(early, 422)["errors"][0]["field"] == "exercises[0].exerciseId"

    defined = await client.put(f"/v1/exercises/{exercise_id}", json=LANDMINE, headers=lifter)
    logged = await client.put(f"/v1/workouts/{workout_id}", json=using(exercise_id), headers=lifter)

    assert defined.status_code == 201 and defined.headers["etag"] == '"1"'
    assert logged.status_code == 201, logged.text
    detail = await read_fresh(
        client, f"/v1/workouts/{workout_id}", lifter, logged.headers["x-consistency-token"]
    )
    assert detail.json()["exercises"][0]["name"] == "Landmine Press"
    own = await client.get(f"/v1/exercises/{exercise_id}", headers=lifter)
    assert own.status_code == 200 and own.json()["name"] == "Landmine Press"


async def test_deleting_a_used_exercise_keeps_the_workouts_readable(
    client: Any, lifter: dict[str, str], start_worker: Any
) -> None:
    start_worker()
    exercise_id = str(uuid.uuid4())
    workout_id = uuid.uuid4()
    await client.put(f"/v1/exercises/{exercise_id}", json=LANDMINE, headers=lifter)
    await client.put(f"/v1/workouts/{workout_id}", json=using(exercise_id), headers=lifter)

    gone = await client.delete(f"/v1/exercises/{exercise_id}", headers=lifter)
    again = await client.delete(f"/v1/exercises/{exercise_id}", headers=lifter)

    assert gone.status_code == again.status_code == 204
    token = {"X-Consistency-Token": gone.headers["x-consistency-token"]}
    detail = await read_fresh(
        client, f"/v1/workouts/{workout_id}", lifter, gone.headers["x-consistency-token"]
    )
    assert detail.status_code == 200
    assert detail.json()["exercises"][0]["name"] == "Landmine Press"
    assert_problem(await client.get(f"/v1/exercises/{exercise_id}", headers={**lifter, **token}), 404)
    new_workout = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=using(exercise_id), headers=lifter)
    assert_problem(new_workout, 422)
    assert_problem(await client.put(f"/v1/exercises/{exercise_id}", json=LANDMINE, headers=lifter), 410)


async def test_changing_an_exercise_follows_the_if_match_rules(client: Any, lifter: dict[str, str]) -> None:
    url = f"/v1/exercises/{uuid.uuid4()}"
    await client.put(url, json=LANDMINE, headers=lifter)
    renamed = {**LANDMINE, "name": "Landmine Press (one arm)"}

    replay = await client.put(url, json=LANDMINE, headers=lifter)
    missing = await client.put(url, json=renamed, headers=lifter)
    stale = await client.put(url, json=renamed, headers={**lifter, "If-Match": '"5"'})
    current = await client.put(url, json=renamed, headers={**lifter, "If-Match": '"1"'})

    assert replay.status_code == 200 and replay.headers["etag"] == '"1"'
    assert assert_problem(missing, 409)["currentVersion"] == 1
    assert assert_problem(stale, 412)["currentVersion"] == 1
    assert current.status_code == 200 and current.headers["etag"] == '"2"'


async def test_another_users_exercise_is_invisible_and_untouchable(
    client: Any, lifter: dict[str, str]
) -> None:
    exercise_id = str(uuid.uuid4())
    await client.put(f"/v1/exercises/{exercise_id}", json=LANDMINE, headers=lifter)
    intruder = bearer(await sign_up(client))

    assert_problem(await client.get(f"/v1/exercises/{exercise_id}", headers=intruder), 404)
    assert_problem(await client.put(f"/v1/exercises/{exercise_id}", json=LANDMINE, headers=intruder), 404)
    assert_problem(await client.delete(f"/v1/exercises/{exercise_id}", headers=intruder), 404)
    assert_problem(
        await client.put(f"/v1/workouts/{uuid.uuid4()}", json=using(exercise_id), headers=intruder), 422
    )
    found = await client.get("/v1/exercises", params={"q": "landmine"}, headers=intruder)
    assert exercise_id not in {item["id"] for item in found.json()["items"]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"primaryMuscles": ["chest"] * 6}, "primaryMuscles"),
        ({"primaryMuscles": ["spleen"]}, "primaryMuscles[0]"),
        ({"measurement": "vibes"}, "measurement"),
        ({"name": ""}, "name"),
        ({"userId": str(uuid.uuid4())}, "userId"),
    ],
)
async def test_invalid_custom_exercises_are_422(
    client: Any, lifter: dict[str, str], change: dict[str, Any], field: str
) -> None:
    response = await client.put(f"/v1/exercises/{uuid.uuid4()}", json={**LANDMINE, **change}, headers=lifter)
    assert assert_problem(response, 422)["errors"][0]["field"] == field


async def test_search_is_typo_tolerant_and_filters(client: Any, lifter: dict[str, str]) -> None:
    typo = await client.get("/v1/exercises", params={"q": "bnech pres"}, headers=lifter)
    assert typo.status_code == 200
    assert typo.json()["items"][0]["id"] == "barbell-bench-press"
    chest = await client.get(
        "/v1/exercises", params={"muscle": "chest", "equipment": "dumbbell"}, headers=lifter
    )
    items = chest.json()["items"]
    assert items and all(
        "chest" in {*i["primaryMuscles"], *i.get("secondaryMuscles", [])} and i["equipment"] == "dumbbell"
        for i in items
    )
    assert (await client.get("/v1/exercises", params={"q": "xqzzyv"}, headers=lifter)).json()["items"] == []


@pytest.mark.parametrize(
    ("exercise_id", "a_set", "field"),
    [
        ("barbell-bench-press", {"reps": 5}, "weight"),
        ("barbell-bench-press", {"weight": {"value": 100, "unit": "kg"}}, "reps"),
        ("plank", {"reps": 1}, "durationS"),
        ("running", {"reps": 1}, "distanceM"),
        ("push-up", {"weight": {"value": 10, "unit": "kg"}}, "reps"),
    ],
)
async def test_a_set_must_carry_what_its_exercise_is_measured_by(
    client: Any, lifter: dict[str, str], exercise_id: str, a_set: dict[str, Any], field: str
) -> None:
    body = workout(exercises=[{"exerciseId": exercise_id, "sets": [a_set]}])
    response = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=body, headers=lifter)
    assert assert_problem(response, 422)["errors"][0]["field"] == f"exercises[0].sets[0].{field}"
