"""Object-level authorization: another user's ids answer 404 (or nothing) everywhere and change nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.accounts import bearer, sign_up
from tests.harness import read_fresh
from tests.test_custom_exercises import LANDMINE, using
from tests.test_routines import PUSH_A

pytestmark = pytest.mark.e2e


async def test_another_users_ids_reveal_and_change_nothing(client: Any, start_worker: Any) -> None:
    start_worker()
    owner = bearer(await sign_up(client))
    exercise_id, workout_id, routine_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await client.put(f"/v1/exercises/{exercise_id}", json=LANDMINE, headers=owner)
    await client.put(f"/v1/workouts/{workout_id}", json=using(str(exercise_id)), headers=owner)
    await client.put(f"/v1/routines/{routine_id}", json=PUSH_A, headers=owner)
    written = await client.put(
        "/v1/bodyweight/2026-11-20", json={"weight": {"value": 80, "unit": "kg"}}, headers=owner
    )
    token = written.headers["x-consistency-token"]
    owned = [
        f"/v1/workouts/{workout_id}",
        f"/v1/routines/{routine_id}",
        f"/v1/exercises/{exercise_id}",
        f"/v1/exercises/{exercise_id}/history/last",
        f"/v1/records/{exercise_id}",
    ]
    before = {path: (await read_fresh(client, path, owner, token)).json() for path in owned}

    intruder = bearer(await sign_up(client))
    for path in owned:
        response = await client.get(path, headers=intruder)
        assert response.status_code == 404, (path, response.text)
        assert str(exercise_id) not in response.text or path.endswith(response.json().get("instance", "-"))
    for path, body in (
        (f"/v1/workouts/{workout_id}", using("barbell-bench-press")),
        (f"/v1/routines/{routine_id}", PUSH_A),
        (f"/v1/exercises/{exercise_id}", LANDMINE),
    ):
        for headers in (intruder, {**intruder, "If-Match": '"1"'}):
            changed = await client.put(path, json=body, headers=headers)
            assert changed.status_code == 404, (path, changed.text)
            removed = await client.delete(path, headers=headers)
            assert removed.status_code in {204, 404}, (path, removed.text)
    lists = {
        "/v1/workouts": "items",
        "/v1/routines": "items",
        "/v1/bodyweight": "items",
        f"/v1/exercises/{exercise_id}/history": "items",
        "/v1/records": "items",
        "/v1/changes?since=0": "changes",
    }
    for path, field in lists.items():
        response = await client.get(path, headers=intruder)
        assert response.status_code == 200, (path, response.text)
        assert str(workout_id) not in response.text and str(routine_id) not in response.text, path
        assert all(str(exercise_id) not in str(item) for item in response.json()[field]), path
    csv = await client.get("/v1/me/export/workouts.csv", headers=intruder)
    assert csv.status_code == 200 and "Landmine" not in csv.text

    # The owner's things are exactly as they were.
    check = await client.put(
        "/v1/bodyweight/2026-11-21", json={"weight": {"value": 81, "unit": "kg"}}, headers=owner
    )
    token = check.headers["x-consistency-token"]
    for path, body in before.items():
        assert (await read_fresh(client, path, owner, token)).json() == body, path
