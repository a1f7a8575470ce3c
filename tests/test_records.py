"""Exercise history and personal records, with hand-computed numbers, retraction and formula changes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from projections import store
from projections.runner import project_user
from tests.accounts import bearer, sign_up
from tests.harness import assert_problem, read_fresh

pytestmark = pytest.mark.e2e

BENCH = "barbell-bench-press"


def kg(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "kg"}


DAY_ONE = {
    "title": "Day one",
    "startedAt": "2026-11-02T18:00:00+00:00",
    "exercises": [
        {
            "exerciseId": BENCH,
            "sets": [
                {"type": "warmup", "reps": 10, "weight": kg(140)},  # heavier, but a warm-up never counts
                {"reps": 5, "weight": kg(100)},  # Epley 116.67, set volume 500
                {"reps": 8, "weight": kg(90)},  # Epley 114.0, set volume 720
                {"reps": 12, "weight": kg(95), "completed": False},  # not done: never counts
            ],
        },
        {"exerciseId": "pull-up", "sets": [{"reps": 12}, {"reps": 9, "weight": kg(10)}]},
    ],
}
DAY_TWO = {
    "title": "Day two",
    "startedAt": "2026-11-05T18:00:00+00:00",
    "exercises": [{"exerciseId": BENCH, "sets": [{"reps": 3, "weight": kg(105)}]}],  # Epley 115.5
}


def value(records: dict[str, Any], name: str) -> float | None:
    record = records.get(name)
    return None if record is None else record["value"]


async def test_records_follow_the_best_working_sets_and_hand_on_when_a_workout_goes(
    client: Any, start_worker: Any
) -> None:
    start_worker()
    me = bearer(await sign_up(client))
    one, two = uuid.uuid4(), uuid.uuid4()
    await client.put(f"/v1/workouts/{one}", json=DAY_ONE, headers=me)
    written = await client.put(f"/v1/workouts/{two}", json=DAY_TWO, headers=me)
    token = written.headers["x-consistency-token"]

    bench = (await read_fresh(client, f"/v1/records/{BENCH}", me, token)).json()
    assert value(bench, "heaviestWeightKg") == 105.0 and bench["heaviestWeightKg"]["workoutId"] == str(two)
    assert value(bench, "bestE1rmKg") == 116.67 and bench["bestE1rmKg"]["workoutId"] == str(one)
    assert value(bench, "bestSetVolumeKg") == 720.0
    assert value(bench, "bestSessionVolumeKg") == 1220.0
    assert "mostReps" not in bench  # counted for reps-only and bodyweight kinds only
    assert [point["workoutId"] for point in bench["timeline"]] == [str(one), str(two)]
    pull_up = (await read_fresh(client, "/v1/records/pull-up", me, token)).json()
    assert value(pull_up, "mostReps") == 12.0

    history = (await read_fresh(client, f"/v1/exercises/{BENCH}/history", me, token)).json()["items"]
    assert [session["workoutId"] for session in history] == [str(two), str(one)]
    assert history[1]["bestSet"] == {"reps": 5, "weight": kg(100.0), "e1rmKg": 116.67}
    assert history[1]["volumeKg"] == 1220.0 and history[1]["totalReps"] == 13
    last = (await read_fresh(client, f"/v1/exercises/{BENCH}/history/last", me, token)).json()
    assert last["workoutId"] == str(two) and last["sets"][0]["reps"] == 3

    listed = (await read_fresh(client, "/v1/records", me, token)).json()["items"]
    assert {item["exerciseId"] for item in listed} == {BENCH, "pull-up"}
    assert all("timeline" not in item for item in listed)

    deleted = await client.delete(f"/v1/workouts/{one}", headers=me)
    bench = (
        await read_fresh(client, f"/v1/records/{BENCH}", me, deleted.headers["x-consistency-token"])
    ).json()
    assert value(bench, "bestE1rmKg") == 115.5 and bench["bestE1rmKg"]["workoutId"] == str(two)
    assert value(bench, "bestSessionVolumeKg") == 315.0
    gone = await read_fresh(client, "/v1/records/pull-up", me, deleted.headers["x-consistency-token"])
    assert_problem(gone, 404)


async def test_changing_the_formula_re_derives_the_records(client: Any, start_worker: Any) -> None:
    start_worker()
    me = bearer(await sign_up(client))
    await client.put(f"/v1/workouts/{uuid.uuid4()}", json=DAY_TWO, headers=me)
    changed = await client.patch("/v1/me", json={"e1rmFormula": "brzycki"}, headers=me)
    token = changed.headers["x-consistency-token"]

    bench = (await read_fresh(client, f"/v1/records/{BENCH}", me, token)).json()

    assert value(bench, "bestE1rmKg") == 111.18  # 105 x 36 / (37 - 3)


async def test_history_and_records_are_the_callers_own(client: Any, start_worker: Any) -> None:
    start_worker()
    me = bearer(await sign_up(client))
    written = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=DAY_TWO, headers=me)
    await read_fresh(client, f"/v1/records/{BENCH}", me, written.headers["x-consistency-token"])
    other = bearer(await sign_up(client))
    assert_problem(await client.get(f"/v1/records/{BENCH}", headers=other), 404)
    assert_problem(await client.get(f"/v1/exercises/{BENCH}/history/last", headers=other), 404)
    assert (await client.get(f"/v1/exercises/{BENCH}/history", headers=other)).json()["items"] == []
    assert (await client.get("/v1/records", headers=other)).json()["items"] == []


def marks(body: dict[str, Any]) -> list[tuple[str, str, float]]:
    return [(mark["exerciseId"], mark["record"], mark["value"]) for mark in body.get("records", [])]


async def test_workouts_and_feed_entries_show_the_records_they_set_and_hand_them_on(
    client: Any, start_worker: Any
) -> None:
    start_worker()
    me = bearer(await sign_up(client))
    one, two = uuid.uuid4(), uuid.uuid4()
    await client.put(f"/v1/workouts/{one}", json=DAY_ONE, headers=me)
    written = await client.put(f"/v1/workouts/{two}", json=DAY_TWO, headers=me)
    token = written.headers["x-consistency-token"]

    first = (await read_fresh(client, f"/v1/workouts/{one}", me, token)).json()
    # The first session of each exercise sets every record it can; warm-ups and undone sets never count.
    assert marks(first) == [
        (BENCH, "heaviestWeightKg", 100.0),
        (BENCH, "bestE1rmKg", 116.67),
        (BENCH, "bestSetVolumeKg", 720.0),
        (BENCH, "bestSessionVolumeKg", 1220.0),
        ("pull-up", "heaviestWeightKg", 10.0),
        ("pull-up", "bestE1rmKg", 13.0),  # 10 x (1 + 9/30) on the added weight
        ("pull-up", "mostReps", 12.0),
        ("pull-up", "bestSetVolumeKg", 90.0),
        ("pull-up", "bestSessionVolumeKg", 90.0),
    ]
    second = (await read_fresh(client, f"/v1/workouts/{two}", me, token)).json()
    assert marks(second) == [(BENCH, "heaviestWeightKg", 105.0)]  # 105 x 3: only the heaviest weight
    feed = (await read_fresh(client, "/v1/workouts", me, token)).json()["items"]
    assert [marks(entry) for entry in feed] == [marks(second), marks(first)]
    history = (await read_fresh(client, f"/v1/exercises/{BENCH}/history", me, token)).json()["items"]
    assert history[0]["records"] == ["heaviestWeightKg"]

    # Deleting the first workout makes the second the first bench session: it now holds every record,
    # though no event of its own changed it (the cached document is replaced too).
    deleted = await client.delete(f"/v1/workouts/{one}", headers=me)
    token = deleted.headers["x-consistency-token"]
    second = (await read_fresh(client, f"/v1/workouts/{two}", me, token)).json()
    assert marks(second) == [
        (BENCH, "heaviestWeightKg", 105.0),
        (BENCH, "bestE1rmKg", 115.5),
        (BENCH, "bestSetVolumeKg", 315.0),
        (BENCH, "bestSessionVolumeKg", 315.0),
    ]
    feed = (await read_fresh(client, "/v1/workouts", me, token)).json()["items"]
    assert [marks(entry) for entry in feed] == [marks(second)]


async def test_logging_the_latest_session_updates_records_without_reading_the_history(
    client: Any, resources: tuple[Any, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool, redis, keys = resources
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
    one, two = uuid.uuid4(), uuid.uuid4()
    assert (await client.put(f"/v1/workouts/{one}", json=DAY_ONE, headers=me)).status_code == 201
    await project_user(pool, redis, keys, user_id)

    async def no_history(*_: object) -> None:
        raise AssertionError("the exercise's whole history was read")

    monkeypatch.setattr(store, "exercise_sessions", no_history)
    written = await client.put(f"/v1/workouts/{two}", json=DAY_TWO, headers=me)
    assert written.status_code == 201
    outcome = await project_user(pool, redis, keys, user_id)
    assert outcome.applied == 1 and not outcome.parked

    token = written.headers["x-consistency-token"]
    bench = (await read_fresh(client, f"/v1/records/{BENCH}", me, token)).json()
    assert value(bench, "heaviestWeightKg") == 105.0 and bench["heaviestWeightKg"]["workoutId"] == str(two)
    assert value(bench, "bestE1rmKg") == 116.67 and bench["bestE1rmKg"]["workoutId"] == str(one)
    assert bench["sessions"] == 2
    assert [point["workoutId"] for point in bench["timeline"]] == [str(one), str(two)]
    marked = (await read_fresh(client, f"/v1/workouts/{two}", me, token)).json()["records"]
    assert [(mark["exerciseId"], mark["record"]) for mark in marked] == [(BENCH, "heaviestWeightKg")]
