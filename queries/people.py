"""Readers of the body-weight log and the follow list."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
import msgspec

from core.cursors import decode_cursor, encode_cursor
from projections import outbox
from queries.readmodels import ListPage, PageLoader


class FollowCursor(msgspec.Struct, array_like=True, frozen=True):
    followed_at: datetime
    user_id: uuid.UUID


def bodyweight_page(user_id: uuid.UUID, cursor: str | None, limit: int) -> PageLoader:
    """A loader of one page of the body-weight log, newest day first."""
    before = decode_cursor(cursor, date) if cursor else None

    async def load(connection: asyncpg.Connection) -> ListPage:
        rows = await connection.fetch(
            """
            SELECT day, body FROM rm_bodyweights
            WHERE user_id = $1 AND ($2::date IS NULL OR day < $2) ORDER BY day DESC LIMIT $3
            """,
            user_id,
            before,
            limit + 1,
        )
        page = rows[:limit]
        more = len(rows) > limit
        return ListPage([bytes(r["body"]) for r in page], encode_cursor(page[-1]["day"]) if more else None)

    return PageLoader(outbox.BODYWEIGHTS, load)


def follows_page(user_id: uuid.UUID, cursor: str | None, limit: int) -> PageLoader:
    """A loader of one page of the people the user follows, most recent first."""
    after = decode_cursor(cursor, FollowCursor) if cursor else None

    async def load(connection: asyncpg.Connection) -> ListPage:
        rows = await connection.fetch(
            """
            SELECT followee_id, followed_at, body FROM rm_follows
            WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (followed_at, followee_id) < ($2, $3))
            ORDER BY followed_at DESC, followee_id DESC LIMIT $4
            """,
            user_id,
            after.followed_at if after else None,
            after.user_id if after else None,
            limit + 1,
        )
        page = rows[:limit]
        more = len(rows) > limit
        last = page[-1] if page else None
        next_cursor = (
            encode_cursor(FollowCursor(last["followed_at"], last["followee_id"])) if more and last else None
        )
        return ListPage([bytes(r["body"]) for r in page], next_cursor)

    return PageLoader(outbox.FOLLOWS, load)
