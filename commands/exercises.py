"""Custom exercises: a user's own, identified by client UUIDs so a phone can use one offline."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

import asyncpg
import msgspec

from commands.events import EVENT_ENCODER, CustomExercise, ExerciseDefined, ExerciseDeleted
from commands.eventstore import append, lock_stream
from commands.versioning import check_delete, decide_put
from core.catalog import Measurement
from core.errors import InvalidInput

MAX_CUSTOM_EXERCISES = 500


class ExerciseWritten(msgspec.Struct, frozen=True):
    outcome: str  # created | amended | unchanged
    exercise_version: int
    stream_version: int


class ExerciseDeletion(msgspec.Struct, frozen=True):
    deleted: bool
    stream_version: int


async def put_exercise(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    exercise: CustomExercise,
    if_match: int | None,
    now: datetime,
    request_id: str | None,
) -> ExerciseWritten:
    """Define or change a custom exercise, in the caller's transaction; same rules as workouts."""
    stream_version = await lock_stream(connection, user_id)
    row = await connection.fetchrow(
        "SELECT user_id, version, body_digest, deleted_at FROM exercises WHERE id = $1 FOR UPDATE",
        exercise_id,
    )
    digest = hashlib.sha256(EVENT_ENCODER.encode(exercise)).digest()
    decision = decide_put(row, user_id=user_id, digest=digest, if_match=if_match, noun="exercise")
    if decision == "unchanged":
        assert row is not None
        return ExerciseWritten("unchanged", row["version"], stream_version)
    if decision == "create":
        count = await connection.fetchval(
            "SELECT count(*) FROM exercises WHERE user_id = $1 AND deleted_at IS NULL", user_id
        )
        if count >= MAX_CUSTOM_EXERCISES:
            raise InvalidInput(f"At most {MAX_CUSTOM_EXERCISES} custom exercises.", field="body")
    version = 1 if row is None else row["version"] + 1
    await connection.execute(
        """
        INSERT INTO exercises (id, user_id, version, body_digest, name, measurement, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
        ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, body_digest = EXCLUDED.body_digest,
            name = EXCLUDED.name, measurement = EXCLUDED.measurement, updated_at = EXCLUDED.updated_at
        """,
        exercise_id,
        user_id,
        version,
        digest,
        exercise.name,
        exercise.measurement,
        now,
    )
    event = ExerciseDefined(exercise_id=exercise_id, exercise_version=version, exercise=exercise)
    stream_version = await append(connection, user_id, [event], occurred_at=now, request_id=request_id)
    return ExerciseWritten("created" if row is None else "amended", version, stream_version)


async def delete_exercise(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    now: datetime,
    request_id: str | None,
) -> ExerciseDeletion:
    """Delete a custom exercise; workouts that used it keep it, by name, in their documents."""
    stream_version = await lock_stream(connection, user_id)
    row = await connection.fetchrow(
        "SELECT user_id, version, deleted_at FROM exercises WHERE id = $1 FOR UPDATE", exercise_id
    )
    if not check_delete(row, user_id=user_id, noun="exercise"):
        return ExerciseDeletion(False, stream_version)
    assert row is not None
    version = row["version"] + 1
    await connection.execute(
        """
        UPDATE exercises SET version = $2, deleted_at = $3, updated_at = $3, body_digest = NULL
        WHERE id = $1
        """,
        exercise_id,
        version,
        now,
    )
    event = ExerciseDeleted(exercise_id=exercise_id, exercise_version=version)
    stream_version = await append(connection, user_id, [event], occurred_at=now, request_id=request_id)
    return ExerciseDeletion(True, stream_version)


async def custom_measurements(
    connection: asyncpg.Connection, user_id: uuid.UUID, exercise_ids: Iterable[str]
) -> Mapping[str, Measurement]:
    """The measurement kind of each of the user's live custom exercises among `exercise_ids`."""
    wanted = []
    for exercise_id in exercise_ids:
        try:
            wanted.append(uuid.UUID(exercise_id))
        except ValueError:
            continue  # a slug: a built-in, never a custom exercise
    if not wanted:
        return {}
    rows = await connection.fetch(
        """
        SELECT id, measurement FROM exercises
        WHERE user_id = $1 AND id = ANY($2::uuid[]) AND deleted_at IS NULL
        """,
        user_id,
        wanted,
    )
    return {str(row["id"]): row["measurement"] for row in rows}
