"""Feed pages, spliced from the stored summaries: read by the API, and the first page written to Redis
by the sync so that a user's next look at their feed after a change is already cached."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from core.cursors import encode_cursor

#: The page size the app asks for (and the API's default): the page the sync keeps in Redis.
FIRST_PAGE_SIZE = 20


class FeedCursor(msgspec.Struct, array_like=True, frozen=True):
    started_at: datetime
    workout_id: uuid.UUID


async def feed_page(
    connection: asyncpg.Connection, user_id: uuid.UUID, after: FeedCursor | None, limit: int
) -> bytes:
    """One page of the user's feed, newest first, after `after`: `{"items": [...], "nextCursor"?}`."""
    rows = await connection.fetch(
        """
        SELECT workout_id, started_at, body FROM rm_workout_summaries
        WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (started_at, workout_id) < ($2, $3))
        ORDER BY started_at DESC, workout_id DESC LIMIT $4
        """,
        user_id,
        after.started_at if after else None,
        after.workout_id if after else None,
        limit + 1,
    )
    return page_body([(row["workout_id"], row["started_at"], row["body"]) for row in rows], limit)


def page_body(rows: Sequence[tuple[uuid.UUID, datetime, bytes]], limit: int) -> bytes:
    """A page of `limit` from the summaries that follow the cursor, newest first, read one more than
    the page to know whether another comes (workout id, start, summary)."""
    page = rows[:limit]
    body = b'{"items":[' + b",".join(bytes(summary) for _, _, summary in page) + b"]"
    if len(rows) > limit:
        workout_id, started_at, _ = page[-1]
        next_cursor = encode_cursor(FeedCursor(started_at, workout_id))
        body += b',"nextCursor":"' + next_cursor.encode() + b'"'
    return body + b"}"
