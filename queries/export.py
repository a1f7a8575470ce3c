"""The account export: everything a user owns, spliced from the stored read-model bodies."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec

from projections.documents import BodyweightEntry, FollowEntry, RoutineDocument, WorkoutDocument

_PARTS = (
    ("workouts", "SELECT body FROM rm_workout_documents WHERE user_id = $1 ORDER BY workout_id"),
    ("routines", "SELECT body FROM rm_routines WHERE user_id = $1 ORDER BY routine_id"),
    (
        "exercises",
        "SELECT body FROM rm_custom_exercises WHERE user_id = $1 AND NOT deleted ORDER BY exercise_id",
    ),
    ("bodyweight", "SELECT body FROM rm_bodyweights WHERE user_id = $1 ORDER BY day"),
    ("follows", "SELECT body FROM rm_follows WHERE user_id = $1 ORDER BY followee_id"),
)


class AccountExport(msgspec.Struct, rename="camel"):
    """The shape of the export (documentation: the body is assembled from stored bytes)."""

    account: dict[str, Any]
    workouts: list[WorkoutDocument]
    routines: list[RoutineDocument]
    exercises: list[dict[str, Any]]
    bodyweight: list[BodyweightEntry]
    follows: list[FollowEntry]


async def export_account(pool: asyncpg.Pool, user_id: uuid.UUID, account: bytes) -> bytes:
    """`{"account": …, "workouts": […], …}` from one consistent snapshot."""
    body = b'{"account":' + account
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        for name, query in _PARTS:
            rows = await connection.fetch(query, user_id)
            body += b',"' + name.encode() + b'":[' + b",".join(bytes(row["body"]) for row in rows) + b"]"
    return body + b"}"
