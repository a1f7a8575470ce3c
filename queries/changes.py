"""The sync feed: a user's events after a stream version, as the event log holds them (the published
contract).

Each change is `{"version": n, "type": "WorkoutLogged", "occurredAt": "...", "event": {...}}`, the
event's fields and values exactly as stored; replaying them in order rebuilds the user's data. Postgres
renders JSON with spaces (`{"version" : 1, …}`, and jsonb's text too); each change is compacted here,
so the feed is in the one JSON style of every other answer.
"""

from __future__ import annotations

import uuid

import asyncpg
import msgspec


async def changes_since(
    connection: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID, since: int, limit: int
) -> bytes:
    """`{"changes": [...], "nextSince": v, "hasMore": b}` for up to `limit` events after `since`."""
    rows = await connection.fetch(
        """
        SELECT version,
               json_build_object('version', version, 'type', type, 'occurredAt', occurred_at,
                                 'event', payload)::text AS change
        FROM events WHERE user_id = $1 AND version > $2 ORDER BY version LIMIT $3
        """,
        user_id,
        since,
        limit + 1,
    )
    page = rows[:limit]
    next_since = page[-1]["version"] if page else since
    more = b"true" if len(rows) > limit else b"false"
    changes = b",".join(msgspec.json.format(row["change"].encode(), indent=-1) for row in page)
    body = b'{"changes":[' + changes + b"]"
    return body + b',"nextSince":' + str(next_since).encode() + b',"hasMore":' + more + b"}"
