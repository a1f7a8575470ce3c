"""Custom exercises: a user's own, identified by client UUIDs so a phone can use one offline."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

import asyncpg

from commands.events import CustomExercise, ExerciseDefined, ExerciseDeleted
from commands.versioning import Deletion, IfMatch, VersionedTable, Written, delete_versioned, put_versioned
from core.catalog import Measurement

EXERCISES = VersionedTable(name="exercises", noun="exercise", per_user_limit=500)


async def put_exercise(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    exercise: CustomExercise,
    if_match: IfMatch | None,
    now: datetime,
    request_id: str | None,
) -> Written:
    """Define or change a custom exercise, in the caller's transaction; same rules as workouts."""
    return await put_versioned(
        connection,
        EXERCISES,
        thing_id=exercise_id,
        user_id=user_id,
        body=exercise,
        columns={"name": exercise.name, "measurement": exercise.measurement},
        if_match=if_match,
        event=lambda version: ExerciseDefined(
            exercise_id=exercise_id, exercise_version=version, exercise=exercise
        ),
        now=now,
        request_id=request_id,
    )


async def delete_exercise(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    now: datetime,
    request_id: str | None,
    if_match: IfMatch | None = None,
) -> Deletion:
    """Delete a custom exercise; workouts that used it keep it, by name, in their documents."""
    return await delete_versioned(
        connection,
        EXERCISES,
        thing_id=exercise_id,
        user_id=user_id,
        event=lambda version: ExerciseDeleted(exercise_id=exercise_id, exercise_version=version),
        now=now,
        request_id=request_id,
        if_match=if_match,
    )


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
