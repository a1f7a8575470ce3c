"""Routines: plans of ordered exercises with target sets, versioned like workouts."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

import asyncpg
import msgspec

from commands.events import EVENT_ENCODER, Routine, RoutineDefined, RoutineDeleted
from commands.eventstore import append, lock_stream
from commands.exercises import custom_measurements
from commands.versioning import check_delete, decide_put
from core.catalog import exercise
from core.errors import InvalidInput

MAX_ROUTINES = 100


class RoutineWritten(msgspec.Struct, frozen=True):
    outcome: str  # created | amended | unchanged
    routine_version: int
    stream_version: int


class RoutineDeletion(msgspec.Struct, frozen=True):
    deleted: bool
    stream_version: int


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
    if_match: int | None,
    now: datetime,
    request_id: str | None,
) -> RoutineWritten:
    """Define or change a routine, in the caller's transaction; the same rules as workouts."""
    await _validate(connection, user_id, routine)
    stream_version = await lock_stream(connection, user_id)
    row = await connection.fetchrow(
        "SELECT user_id, version, body_digest, deleted_at FROM routines WHERE id = $1 FOR UPDATE", routine_id
    )
    digest = hashlib.sha256(EVENT_ENCODER.encode(routine)).digest()
    decision = decide_put(row, user_id=user_id, digest=digest, if_match=if_match, noun="routine")
    if decision == "unchanged":
        assert row is not None
        return RoutineWritten("unchanged", row["version"], stream_version)
    if decision == "create":
        count = await connection.fetchval(
            "SELECT count(*) FROM routines WHERE user_id = $1 AND deleted_at IS NULL", user_id
        )
        if count >= MAX_ROUTINES:
            raise InvalidInput(f"At most {MAX_ROUTINES} routines.", field="body")
    version = 1 if row is None else row["version"] + 1
    await connection.execute(
        """
        INSERT INTO routines (id, user_id, version, body_digest, name, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $6)
        ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, body_digest = EXCLUDED.body_digest,
            name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
        """,
        routine_id,
        user_id,
        version,
        digest,
        routine.name,
        now,
    )
    event = RoutineDefined(routine_id=routine_id, routine_version=version, routine=routine)
    stream_version = await append(connection, user_id, [event], occurred_at=now, request_id=request_id)
    return RoutineWritten("created" if row is None else "amended", version, stream_version)


async def delete_routine(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    routine_id: uuid.UUID,
    now: datetime,
    request_id: str | None,
) -> RoutineDeletion:
    """Delete a routine; a second delete changes nothing. NotFound for another user's id."""
    stream_version = await lock_stream(connection, user_id)
    row = await connection.fetchrow(
        "SELECT user_id, version, deleted_at FROM routines WHERE id = $1 FOR UPDATE", routine_id
    )
    if not check_delete(row, user_id=user_id, noun="routine"):
        return RoutineDeletion(False, stream_version)
    assert row is not None
    version = row["version"] + 1
    await connection.execute(
        """
        UPDATE routines SET version = $2, deleted_at = $3, updated_at = $3, body_digest = NULL, name = NULL
        WHERE id = $1
        """,
        routine_id,
        version,
        now,
    )
    event = RoutineDeleted(routine_id=routine_id, routine_version=version)
    stream_version = await append(connection, user_id, [event], occurred_at=now, request_id=request_id)
    return RoutineDeletion(True, stream_version)
