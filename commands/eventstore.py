"""The event store: per-user streams whose version bump and events commit with the domain rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from commands.events import EVENT_ENCODER, SCHEMA_VERSION, AnyEvent, event_type


async def create_stream(connection: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await connection.execute("INSERT INTO streams (user_id, version) VALUES ($1, 0)", user_id)


async def lock_stream(connection: asyncpg.Connection, user_id: uuid.UUID) -> int:
    """Take the user's write lock for this transaction; the stream's current version.

    FOR NO KEY UPDATE: writers exclude each other, but not the key-share locks the projection's
    foreign keys (checkpoints, pending, dirty) take on the same row. A worker frozen in the middle of
    a projection must never stall the user's writes (RELIABILITY.md).
    """
    version: int | None = await connection.fetchval(
        "SELECT version FROM streams WHERE user_id = $1 FOR NO KEY UPDATE", user_id
    )
    if version is None:
        raise LookupError(f"user {user_id} has no stream")
    return version


async def append(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    events: Sequence[AnyEvent],
    *,
    occurred_at: datetime,
    request_id: str | None,
) -> int:
    """Append `events` to the user's stream inside the caller's transaction; the new stream version.

    Also marks the user as pending projection up to that version, so the sweeper finds the
    user if the poke to the workers is lost.
    """
    if not events:
        raise ValueError("nothing to append")
    version: int = await connection.fetchval(
        "UPDATE streams SET version = version + $2 WHERE user_id = $1 RETURNING version", user_id, len(events)
    )
    first = version - len(events) + 1
    await connection.executemany(
        """
        INSERT INTO events
            (event_id, user_id, version, type, schema_version, payload, occurred_at, request_id)
        VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
        """,
        [
            (
                uuid.uuid4(),
                user_id,
                first + offset,
                event_type(event),
                SCHEMA_VERSION,
                EVENT_ENCODER.encode(event).decode(),
                occurred_at,
                request_id,
            )
            for offset, event in enumerate(events)
        ],
    )
    await connection.execute(
        """
        INSERT INTO projection_pending (user_id, version) VALUES ($1, $2)
        ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version, poked_at = NULL
        """,
        user_id,
        version,
    )
    return version
