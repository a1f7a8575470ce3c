"""Readers of the routines read model."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from core.cursors import decode_cursor, encode_cursor
from projections import outbox
from queries.readmodels import DocumentLoader, ListPage, PageLoader


class RoutineCursor(msgspec.Struct, array_like=True, frozen=True):
    name: str
    routine_id: uuid.UUID


def routines_page(user_id: uuid.UUID, cursor: str | None, limit: int) -> PageLoader:
    """A loader of one page of the user's routines, by name."""
    after = decode_cursor(cursor, RoutineCursor) if cursor else None

    async def load(connection: asyncpg.Connection) -> ListPage:
        rows = await connection.fetch(
            """
            SELECT routine_id, name, body FROM rm_routines
            WHERE user_id = $1 AND ($2::text IS NULL OR (name, routine_id) > ($2, $3))
            ORDER BY name, routine_id LIMIT $4
            """,
            user_id,
            after.name if after else None,
            after.routine_id if after else None,
            limit + 1,
        )
        page = rows[:limit]
        last = page[-1] if page else None
        more = len(rows) > limit and last is not None
        next_cursor = (
            encode_cursor(RoutineCursor(last["name"], last["routine_id"])) if more and last else None
        )
        return ListPage([bytes(row["body"]) for row in page], next_cursor)

    return PageLoader(outbox.ROUTINES, load)


def routine(user_id: uuid.UUID, routine_id: uuid.UUID) -> DocumentLoader:
    """A loader of one routine and its ETag (its version)."""

    async def load(connection: asyncpg.Connection) -> tuple[bytes, str] | None:
        row = await connection.fetchrow(
            "SELECT version, body FROM rm_routines WHERE user_id = $1 AND routine_id = $2",
            user_id,
            routine_id,
        )
        return None if row is None else (bytes(row["body"]), f'"{row["version"]}"')

    return DocumentLoader(outbox.routine(routine_id), load)
