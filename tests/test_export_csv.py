"""The workouts export in Strong's CSV format reads back, through our own Strong parser, as logged."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import msgspec
import pytest

from commands.events import Workout
from commands.imports.parsers import parse_csv
from queries.export import STRONG_COLUMNS
from tests.accounts import bearer, sign_up
from tests.harness import read_fresh

pytestmark = pytest.mark.e2e

EXPORT = "/v1/me/export/workouts.csv"
TIMEZONE = "America/New_York"
LANDMINE = {
    "name": "Landmine Press",
    "category": "barbell",
    "equipment": "barbell",
    "measurement": "weight_reps",
    "primaryMuscles": ["shoulders"],
}


def push_day(landmine_id: str) -> dict[str, Any]:
    return {
        "title": "Push; heavy",  # the delimiter inside a cell
        "startedAt": "2026-11-20T18:00:00+01:00",  # 12:00 in New York
        "endedAt": "2026-11-20T19:10:30+01:00",
        "notes": 'Felt "strong"\nslept well',
        "exercises": [
            {
                "exerciseId": "barbell-bench-press",
                "notes": "Pause on the chest",
                "sets": [
                    {"type": "warmup", "reps": 10, "weight": {"value": 60, "unit": "kg"}},
                    {"reps": 5, "weight": {"value": 224.9, "unit": "lb"}, "rpe": 8},
                    {"reps": 5, "weight": {"value": 230, "unit": "lb"}, "completed": False},
                    {"type": "drop", "reps": 8, "weight": {"value": 80.5, "unit": "kg"}, "rpe": 9.5},
                    {"reps": 3, "weight": {"value": 102.5, "unit": "kg"}},
                ],
            },
            {
                "exerciseId": landmine_id,
                "sets": [
                    {"reps": 12, "weight": {"value": 20, "unit": "kg"}},
                    {"type": "failure", "reps": 9, "weight": {"value": 20, "unit": "kg"}},
                ],
            },
        ],
    }


LEG_DAY: dict[str, Any] = {
    "title": "Legs",
    "startedAt": "2026-11-24T07:15:00-05:00",
    "exercises": [
        {
            "exerciseId": "barbell-back-squat",
            "sets": [
                {"reps": 5, "weight": {"value": 140, "unit": "kg"}},
                {"reps": 5, "weight": {"value": 142.5, "unit": "kg"}},
            ],
        },
        {"exerciseId": "pull-up", "sets": [{"reps": 8, "weight": {"value": 0, "unit": "kg"}}, {"reps": 6}]},
        {"exerciseId": "running", "sets": [{"durationS": 1500, "distanceM": 5000}]},
    ],
}
NAMES = {
    "barbell-bench-press": "Barbell Bench Press",
    "barbell-back-squat": "Barbell Back Squat",
    "pull-up": "Pull-Up",
    "running": "Running",
}


def as_logged(body: dict[str, Any], names: dict[str, str]) -> Workout:
    """The workout as a Strong export can hold it: completed sets only, exercises by name."""
    workout = msgspec.convert(body, Workout)
    exercises = [
        msgspec.structs.replace(
            entry, exercise_id=names[entry.exercise_id], sets=[s for s in entry.sets if s.completed]
        )
        for entry in workout.exercises
    ]
    return msgspec.structs.replace(workout, exercises=exercises)


def rows_of(export: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(export.decode("utf-8-sig"), newline=""), delimiter=";"))


async def lifter_with_two_workouts(client: Any) -> tuple[dict[str, str], str, list[Workout]]:
    """A lifter in New York who prefers lb, with a custom exercise and two workouts, projected."""
    me = bearer(await sign_up(client))
    await client.patch("/v1/me", json={"timezone": TIMEZONE, "unit": "lb"}, headers=me)
    landmine_id = str(uuid.uuid4())
    defined = await client.put(f"/v1/exercises/{landmine_id}", json=LANDMINE, headers=me)
    assert defined.status_code in {200, 201}, defined.text
    names = {**NAMES, landmine_id: "Landmine Press"}
    logged: list[Workout] = []
    token = ""
    for body in (LEG_DAY, push_day(landmine_id)):  # logged newest first: the export orders them
        response = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=body, headers=me)
        assert response.status_code == 201, response.text
        token = response.headers["x-consistency-token"]
        logged.append(as_logged(body, names))
    feed = await read_fresh(client, "/v1/workouts", me, token)
    assert len(feed.json()["items"]) == 2
    return me, token, logged[::-1]


async def test_exported_workouts_read_back_as_they_were_logged(client: Any, start_worker: Any) -> None:
    start_worker()
    me, _, logged = await lifter_with_two_workouts(client)

    export = await client.get(EXPORT, headers=me)

    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    parsed = parse_csv(export.content, weight_unit=None, timezone=TIMEZONE)
    assert parsed.format == "strong_v2"
    assert (parsed.errors, parsed.warnings) == ([], [])
    assert [item.workout for item in parsed.workouts] == logged
    assert [item.exercise_names for item in parsed.workouts] == [
        ["Barbell Bench Press", "Landmine Press"],
        ["Barbell Back Squat", "Pull-Up", "Running"],
    ]
    bench = [row for row in rows_of(export.content) if row[4] == "Barbell Bench Press"]
    assert [(row[5], row[6], row[7]) for row in bench] == [
        ("W", "60", "kg"),
        ("1", "224.9", "lbs"),
        ("D", "80.5", "kg"),
        ("2", "102.5", "kg"),
    ]
    assert bench[0][1:4] == ["2026-11-20 12:00:00", "Push; heavy", "4230"]


async def test_the_export_reimports_onto_the_same_exercises(client: Any, start_worker: Any) -> None:
    start_worker()
    me, _, _ = await lifter_with_two_workouts(client)
    export = await client.get(EXPORT, headers=me)

    dry_run = await client.post(
        "/v1/imports?dryRun=true",
        files={"file": ("ironlog-workouts.csv", export.content, "text/csv")},
        headers=me,
    )

    assert dry_run.status_code == 200, dry_run.text
    result = dry_run.json()
    assert (result["format"], result["errors"], result["exercisesCreated"]) == ("strong_v2", [], [])
    assert result["setsImported"] == 11


async def test_another_users_export_holds_none_of_the_first_users_workouts(
    client: Any, start_worker: Any
) -> None:
    start_worker()
    await lifter_with_two_workouts(client)
    other = bearer(await sign_up(client))

    export = await client.get(EXPORT, headers=other)

    assert export.status_code == 200
    assert rows_of(export.content) == [list(STRONG_COLUMNS)]
    assert b"Push; heavy" not in export.content and b"Legs" not in export.content


async def test_the_export_needs_a_token(client: Any) -> None:
    response = await client.get(EXPORT)
    assert response.status_code == 401
    assert "Landmine" not in response.text
