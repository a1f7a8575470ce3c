"""The account export: everything a user owns, spliced from the stored read-model bodies; and the
workouts alone as a Strong CSV export, for other apps (and our own import) to read."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from projections.documents import (
    BodyweightEntry,
    ExerciseView,
    FollowEntry,
    RoutineDocument,
    SetView,
    WorkoutDocument,
)
from projections.packing import unpack

_WORKOUTS = "SELECT body FROM rm_workout_documents WHERE user_id = $1 ORDER BY workout_id"
_PARTS = (
    ("workouts", _WORKOUTS),
    ("routines", "SELECT body FROM rm_routines WHERE user_id = $1 ORDER BY routine_id"),
    (
        "exercises",
        "SELECT body FROM rm_custom_exercises WHERE user_id = $1 AND NOT deleted ORDER BY exercise_id",
    ),
    ("bodyweight", "SELECT body FROM rm_bodyweights WHERE user_id = $1 ORDER BY day"),
    ("follows", "SELECT body FROM rm_follows WHERE user_id = $1 ORDER BY followee_id"),
)
_DOCUMENT_DECODER = msgspec.json.Decoder(WorkoutDocument)

# Strong's semicolon export, column for column.
STRONG_COLUMNS = (
    "Workout #",
    "Date",
    "Workout Name",
    "Duration (sec)",
    "Exercise Name",
    "Set Order",
    "Weight",
    "Weight Unit",
    "Reps",
    "RPE",
    "Distance",
    "Distance Unit",
    "Seconds",
    "Notes",
    "Workout Notes",
)
_SET_LETTERS = {"warmup": "W", "drop": "D", "failure": "F"}
_STRONG_UNITS = {"kg": "kg", "lb": "lbs"}
_METRES_PER = {"km": 1000.0, "mi": 1609.344}

DistanceUnit = Literal["km", "mi"]


class AccountExport(msgspec.Struct, rename="camel"):
    """The shape of the export (documentation: the body is assembled from stored bytes)."""

    account: dict[str, Any]
    identities: list[dict[str, Any]]
    workouts: list[WorkoutDocument]
    routines: list[RoutineDocument]
    exercises: list[dict[str, Any]]
    bodyweight: list[BodyweightEntry]
    follows: list[FollowEntry]


async def export_account(pool: asyncpg.Pool, user_id: uuid.UUID, account: bytes, identities: bytes) -> bytes:
    """`{"account": …, "identities": […], "workouts": […], …}`, the read models from one consistent snapshot;
    the account and its identities (JSON) are the write side's, read by the caller."""
    body = b'{"account":' + account + b',"identities":' + identities
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        for name, query in _PARTS:
            rows = await connection.fetch(query, user_id)
            body += b',"' + name.encode() + b'":[' + b",".join(unpack(row["body"]) for row in rows) + b"]"
    return body + b"}"


async def export_workouts_csv(
    pool: asyncpg.Pool, user_id: uuid.UUID, *, timezone: str, distance_unit: DistanceUnit
) -> bytes:
    """The user's workouts as Strong's CSV export, from the same documents the JSON export holds."""
    rows = await pool.fetch(_WORKOUTS, user_id)
    documents = (_DOCUMENT_DECODER.decode(unpack(row["body"])) for row in rows)
    return strong_csv(documents, timezone, distance_unit)


def strong_csv(workouts: Iterable[WorkoutDocument], timezone: str, distance_unit: DistanceUnit) -> bytes:
    """Strong's semicolon CSV: one row per completed set, oldest workout first, times as wall time in
    `timezone`, weights in the unit they were entered. Strong has no place for sets left uncompleted,
    supersets or RIR, so they are left out; a workout without a completed set has no row."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(STRONG_COLUMNS)
    zone = ZoneInfo(timezone)
    ordered = sorted(workouts, key=lambda workout: (workout.started_at, str(workout.id)))
    number = 0
    for workout in ordered:
        rows = list(_workout_rows(workout, distance_unit))
        if not rows:
            continue
        number += 1
        started = workout.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        duration = str(workout.duration_s or 0)
        for row in rows:
            writer.writerow([number, started, workout.title, duration, *row, workout.notes or ""])
    return ("\ufeff" + out.getvalue()).encode()


def _workout_rows(workout: WorkoutDocument, distance_unit: DistanceUnit) -> Iterator[list[str]]:
    """For each completed set: the cells from its exercise's name to its notes."""
    for exercise in workout.exercises:
        yield from _exercise_rows(exercise, distance_unit)


def _exercise_rows(exercise: ExerciseView, distance_unit: DistanceUnit) -> Iterator[list[str]]:
    numbered = 0
    first = True
    for s in exercise.sets:
        if not s.completed:
            continue
        letter = _SET_LETTERS.get(s.type)
        if letter is None:
            numbered += 1
        notes = (exercise.notes or "") if first else ""  # Strong's importers gather notes by exercise
        first = False
        yield [exercise.name, letter or str(numbered), *_set_cells(s, distance_unit), notes]


def _set_cells(s: SetView, distance_unit: DistanceUnit) -> list[str]:
    """Weight, weight unit, reps, RPE, distance, distance unit and seconds of one set."""
    weight, unit = (_number(s.weight.value), _STRONG_UNITS[s.weight.unit]) if s.weight else ("", "")
    distance = _number(s.distance_m / _METRES_PER[distance_unit]) if s.distance_m is not None else ""
    return [
        weight,
        unit,
        "" if s.reps is None else str(s.reps),
        "" if s.rpe is None else _number(s.rpe),
        distance,
        distance_unit if distance else "",
        "" if s.duration_s is None else str(s.duration_s),
    ]


def _number(value: float) -> str:
    """The shortest text that reads back as the same float, without a trailing `.0`."""
    text = repr(float(value))
    return text.removesuffix(".0")
