"""Workout commands: log or amend (`put_workout`) and delete, each one transaction with its events."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Literal

import asyncpg
import msgspec

from commands.events import EVENT_ENCODER, Workout, WorkoutAmended, WorkoutDeleted, WorkoutLogged, WorkoutSet
from commands.eventstore import append, lock_stream
from commands.exercises import custom_measurements
from commands.versioning import IfMatch, check_delete, decide_put
from core.catalog import Measurement, exercise
from core.errors import InvalidInput
from core.measurements import missing_fields
from core.units import as_entered, to_kg

MAX_WEIGHT_KG = 1500
MAX_DURATION = timedelta(hours=24)
MAX_START_AHEAD = timedelta(hours=24)
#: The first and last days a time may fall on: earlier is a typo, and times of year 1 or 9999 do not
#: survive the conversions to UTC and ISO weeks that validation and the projections make.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9998, 12, 31)

Outcome = Literal["created", "amended", "unchanged"]


class WorkoutWritten(msgspec.Struct, frozen=True):
    """What a PUT did: the workout's version after it and the user's stream version."""

    outcome: Outcome
    workout_version: int
    stream_version: int


def validate_workout(
    workout: Workout, now: datetime, custom: Mapping[str, Measurement] | None = None
) -> None:
    """The rules a Struct cannot express; InvalidInput names the field path at fault.

    `custom` maps the user's own exercises (by id) to their measurement kind.
    """
    custom = custom or {}
    for field, moment in (("startedAt", workout.started_at), ("endedAt", workout.ended_at)):
        if moment is not None and not EARLIEST_DAY <= moment.date() <= LATEST_DAY:
            raise InvalidInput(f"A time falls between {EARLIEST_DAY} and {LATEST_DAY}.", field=field)
    if workout.started_at > now + MAX_START_AHEAD:
        raise InvalidInput("The workout cannot start more than 24 hours from now.", field="startedAt")
    if workout.ended_at is not None:
        if workout.ended_at <= workout.started_at:
            raise InvalidInput("The workout must end after it starts.", field="endedAt")
        if workout.ended_at - workout.started_at > MAX_DURATION:
            raise InvalidInput("A workout lasts at most 24 hours.", field="endedAt")
    for i, entry in enumerate(workout.exercises):
        built_in = exercise(entry.exercise_id)
        measurement = built_in.measurement if built_in is not None else custom.get(entry.exercise_id)
        if measurement is None:
            raise InvalidInput("Unknown exercise.", field=f"exercises[{i}].exerciseId")
        for j, workout_set in enumerate(entry.sets):
            _check_fields(workout_set, measurement, f"exercises[{i}].sets[{j}]")
            weight = workout_set.weight
            if weight is not None and to_kg(weight.value, weight.unit) > MAX_WEIGHT_KG:
                raise InvalidInput(
                    f"A set's weight is at most {MAX_WEIGHT_KG} kg.",
                    field=f"exercises[{i}].sets[{j}].weight.value",
                )


def _check_fields(workout_set: WorkoutSet, measurement: Measurement, path: str) -> None:
    """A set carries what its exercise is measured by: reps and weight, a duration, a distance."""
    missing = missing_fields(
        measurement,
        reps=workout_set.reps,
        has_weight=workout_set.weight is not None,
        duration_s=workout_set.duration_s,
        distance_m=workout_set.distance_m,
    )
    if missing:
        raise InvalidInput(
            f"A set of a {measurement.replace('_', ' ')} exercise needs {missing[0]}.",
            field=f"{path}.{missing[0]}",
        )


def _digest(workout: Workout) -> bytes:
    return hashlib.sha256(EVENT_ENCODER.encode(workout)).digest()


def set_rows(workout_id: uuid.UUID, workout: Workout) -> list[tuple[object, ...]]:
    """The workout's `workout_sets` rows: weights as entered and in kg, in the table's column order."""
    return [
        (
            workout_id,
            i,
            j,
            s.type,
            s.reps,
            as_entered(s.weight.value) if s.weight else None,
            s.weight.unit if s.weight else None,
            to_kg(s.weight.value, s.weight.unit) if s.weight else None,
            s.duration_s,
            as_entered(s.distance_m) if s.distance_m is not None else None,
            as_entered(s.rpe) if s.rpe is not None else None,
            s.rir,
            s.completed,
        )
        for i, e in enumerate(workout.exercises)
        for j, s in enumerate(e.sets)
    ]


async def _write_rows(connection: asyncpg.Connection, workout_id: uuid.UUID, workout: Workout) -> None:
    await connection.execute("DELETE FROM workout_exercises WHERE workout_id = $1", workout_id)
    await connection.executemany(
        """
        INSERT INTO workout_exercises (workout_id, position, exercise_id, notes, superset_group)
        VALUES ($1, $2, $3, $4, $5)
        """,
        [(workout_id, i, e.exercise_id, e.notes, e.superset_group) for i, e in enumerate(workout.exercises)],
    )
    await connection.executemany(
        """
        INSERT INTO workout_sets (workout_id, exercise_position, position, type, reps, weight_value,
            weight_unit, weight_kg, duration_s, distance_m, rpe, rir, completed)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        """,
        set_rows(workout_id, workout),
    )


async def put_workout(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    workout_id: uuid.UUID,
    workout: Workout,
    if_match: IfMatch | None,
    now: datetime,
    request_id: str | None,
) -> WorkoutWritten:
    """Log a new workout or amend one; an identical replay changes nothing and appends nothing.

    Runs in the caller's transaction. NotFound for another user's id, Gone once deleted,
    VersionMismatch when an amendment names no version or a stale one.
    """
    custom = await custom_measurements(connection, user_id, (e.exercise_id for e in workout.exercises))
    validate_workout(workout, now, custom)
    stream_version = await lock_stream(connection, user_id)
    row = await connection.fetchrow(
        "SELECT user_id, version, body_digest, deleted_at FROM workouts WHERE id = $1 FOR UPDATE", workout_id
    )
    digest = _digest(workout)
    decision = decide_put(row, user_id=user_id, digest=digest, if_match=if_match, noun="workout")
    if decision == "unchanged":
        assert row is not None
        return WorkoutWritten("unchanged", row["version"], stream_version)

    version = 1 if row is None else row["version"] + 1
    await connection.execute(
        """
        INSERT INTO workouts (id, user_id, version, body_digest, title, started_at, ended_at, routine_id,
            notes, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
        ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, body_digest = EXCLUDED.body_digest,
            title = EXCLUDED.title, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,
            routine_id = EXCLUDED.routine_id, notes = EXCLUDED.notes, updated_at = EXCLUDED.updated_at
        """,
        workout_id,
        user_id,
        version,
        digest,
        workout.title,
        workout.started_at,
        workout.ended_at,
        workout.routine_id,
        workout.notes,
        now,
    )
    await _write_rows(connection, workout_id, workout)
    event = (
        WorkoutLogged(workout_id=workout_id, workout_version=version, workout=workout)
        if row is None
        else WorkoutAmended(workout_id=workout_id, workout_version=version, workout=workout)
    )
    stream_version = await append(connection, user_id, [event], occurred_at=now, request_id=request_id)
    return WorkoutWritten("created" if row is None else "amended", version, stream_version)


class WorkoutDeletion(msgspec.Struct, frozen=True):
    deleted: bool  # False when it already was: nothing appended
    stream_version: int


async def delete_workout(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    workout_id: uuid.UUID,
    now: datetime,
    request_id: str | None,
    if_match: IfMatch | None = None,
) -> WorkoutDeletion:
    """Delete the workout: its sets go, a tombstone stays for 410s.

    Deleting again appends nothing. NotFound for an unknown id or another user's; VersionMismatch
    when `if_match` names another version.
    """
    stream_version = await lock_stream(connection, user_id)
    row = await connection.fetchrow(
        "SELECT user_id, version, deleted_at FROM workouts WHERE id = $1 FOR UPDATE", workout_id
    )
    if not check_delete(row, user_id=user_id, noun="workout", if_match=if_match):
        return WorkoutDeletion(False, stream_version)
    version = row["version"] + 1
    await connection.execute("DELETE FROM workout_exercises WHERE workout_id = $1", workout_id)
    await connection.execute(
        """
        UPDATE workouts SET version = $2, deleted_at = $3, updated_at = $3, body_digest = NULL,
            title = NULL, notes = NULL
        WHERE id = $1
        """,
        workout_id,
        version,
        now,
    )
    event = WorkoutDeleted(workout_id=workout_id, workout_version=version)
    stream_version = await append(connection, user_id, [event], occurred_at=now, request_id=request_id)
    return WorkoutDeletion(True, stream_version)
