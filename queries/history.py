"""Readers of exercise history and personal records."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from core.cursors import decode_cursor, encode_cursor
from projections import outbox
from projections.packing import unpack
from queries.readmodels import DocumentLoader, ListPage, PageLoader


class HistoryCursor(msgspec.Struct, array_like=True, frozen=True):
    started_at: datetime
    workout_id: uuid.UUID


def history_page(user_id: uuid.UUID, exercise_id: str, cursor: str | None, limit: int) -> PageLoader:
    """A loader of one page of an exercise's sessions, newest first."""
    after = decode_cursor(cursor, HistoryCursor) if cursor else None

    async def load(connection: asyncpg.Connection) -> ListPage:
        rows = await connection.fetch(
            """
            SELECT workout_id, started_at, body FROM rm_exercise_sessions
            WHERE user_id = $1 AND exercise_id = $2
              AND ($3::timestamptz IS NULL OR (started_at, workout_id) < ($3, $4))
            ORDER BY started_at DESC, workout_id DESC LIMIT $5
            """,
            user_id,
            exercise_id,
            after.started_at if after else None,
            after.workout_id if after else None,
            limit + 1,
        )
        page = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor(HistoryCursor(page[-1]["started_at"], page[-1]["workout_id"]))
        return ListPage([unpack(row["body"]) for row in page], next_cursor)

    return PageLoader(outbox.sessions(exercise_id), load)


def last_session(user_id: uuid.UUID, exercise_id: str) -> DocumentLoader:
    """A loader of the exercise's latest session, for the app's pre-fill."""

    async def load(connection: asyncpg.Connection) -> tuple[bytes, str] | None:
        body = await connection.fetchval(
            """
            SELECT body FROM rm_exercise_sessions WHERE user_id = $1 AND exercise_id = $2
            ORDER BY started_at DESC, workout_id DESC LIMIT 1
            """,
            user_id,
            exercise_id,
        )
        return None if body is None else (unpack(body), "")

    return DocumentLoader(outbox.sessions(exercise_id), load)


def records_page(user_id: uuid.UUID, cursor: str | None, limit: int) -> PageLoader:
    """A loader of one page of the user's records, one entry per exercise, by exercise id."""
    after = decode_cursor(cursor, str) if cursor else None

    async def load(connection: asyncpg.Connection) -> ListPage:
        rows = await connection.fetch(
            """
            SELECT exercise_id, summary FROM rm_records
            WHERE user_id = $1 AND ($2::text IS NULL OR exercise_id > $2) ORDER BY exercise_id LIMIT $3
            """,
            user_id,
            after,
            limit + 1,
        )
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1]["exercise_id"]) if len(rows) > limit else None
        return ListPage([bytes(row["summary"]) for row in page], next_cursor)

    return PageLoader(outbox.RECORDS, load)


def exercise_records(user_id: uuid.UUID, exercise_id: str) -> DocumentLoader:
    async def load(connection: asyncpg.Connection) -> tuple[bytes, str] | None:
        body = await connection.fetchval(
            "SELECT detail FROM rm_records WHERE user_id = $1 AND exercise_id = $2", user_id, exercise_id
        )
        return None if body is None else (bytes(body), "")

    return DocumentLoader(outbox.records(exercise_id), load)
