"""Routines: plans of ordered exercises with target sets, versioned like workouts."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from commands.events import Routine, RoutineDefined, RoutineDeleted
from commands.exercises import custom_measurements
from commands.versioning import Deletion, IfMatch, VersionedTable, Written, delete_versioned, put_versioned
from core.catalog import exercise
from core.errors import InvalidInput

ROUTINES = VersionedTable(name="routines", noun="routine", per_user_limit=100)


async def _validate(connection: asyncpg.Connection, user_id: uuid.UUID, routine: Routine) -> None:
    custom = await custom_measurements(connection, user_id, (e.exercise_id for e in routine.exercises))
    for i, entry in enumerate(routine.exercises):
        if exercise(entry.exercise_id) is None and entry.exercise_id not in custom:
            raise InvalidInput("Unknown exercise.", field=f"exercises[{i}].exerciseId")
        for j, target in enumerate(entry.sets):
            if target.reps is not None and target.reps_max is not None and target.reps_max < target.reps:
                raise InvalidInput(
                    "A rep range ends at or above where it starts.", field=f"exercises[{i}].sets[{j}].repsMax"
                )


async def put_routine(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    routine_id: uuid.UUID,
    routine: Routine,
    if_match: IfMatch | None,
    now: datetime,
    request_id: str | None,
) -> Written:
    """Define or change a routine, in the caller's transaction; the same rules as workouts."""
    await _validate(connection, user_id, routine)
    return await put_versioned(
        connection,
        ROUTINES,
        thing_id=routine_id,
        user_id=user_id,
        body=routine,
        columns={"name": routine.name},
        if_match=if_match,
        event=lambda version: RoutineDefined(routine_id=routine_id, routine_version=version, routine=routine),
        now=now,
        request_id=request_id,
    )


async def delete_routine(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    routine_id: uuid.UUID,
    now: datetime,
    request_id: str | None,
    if_match: IfMatch | None = None,
) -> Deletion:
    """Delete a routine; a second delete changes nothing. NotFound for another user's id."""
    return await delete_versioned(
        connection,
        ROUTINES,
        thing_id=routine_id,
        user_id=user_id,
        event=lambda version: RoutineDeleted(routine_id=routine_id, routine_version=version),
        now=now,
        request_id=request_id,
        if_match=if_match,
    )
