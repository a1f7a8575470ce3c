"""Erasing an account: its rows, events and read models, in one transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from commands.events import Unfollowed
from commands.eventstore import append, lock_stream
from commands.identities import forget_identities
from commands.sessions import end_access_tokens
from core.locks import REBUILD_GATE_KEY, projection_lock_key
from core.settings import AuthSettings

#: Stands in for an erased user in other users' events, so their logs still replay consistently.
ERASED_USER = uuid.UUID(int=0)


async def erase_account(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    now: datetime,
    request_id: str | None,
    settings: AuthSettings,
) -> list[uuid.UUID]:
    """Erase the user in the caller's transaction; the followers whose streams changed (to poke).

    Every read model keyed by the user goes (any `rm_*` table with a `user_id` column, so new
    ones are covered). Followers get an Unfollowed event, and in their earlier follow events the
    erased user's id and name give way to ERASED_USER: personal data that others' logs held.
    """
    # The rebuild gate, so a rebuild's swap never brings back rows erased while it replayed; and the
    # projection lock, so no runner writes the user's read models back while we erase them.
    await connection.execute("SELECT pg_advisory_xact_lock_shared($1)", REBUILD_GATE_KEY)
    await connection.execute("SELECT pg_advisory_xact_lock($1)", projection_lock_key(user_id))
    await lock_stream(connection, user_id)
    followers = [
        row["follower_id"]
        for row in await connection.fetch(
            "SELECT follower_id FROM follows WHERE followee_id = $1 ORDER BY follower_id", user_id
        )
    ]
    for follower in followers:
        await lock_stream(connection, follower)
        await connection.execute(
            "DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2", follower, user_id
        )
        await connection.execute(
            """
            UPDATE events SET payload = payload || jsonb_build_object(
                'followeeId', $3::text, 'handle', '', 'displayName', '')
            WHERE user_id = $1 AND type IN ('Followed', 'Unfollowed') AND payload->>'followeeId' = $2
            """,
            follower,
            str(user_id),
            str(ERASED_USER),
        )
        await append(
            connection,
            follower,
            [Unfollowed(followee_id=ERASED_USER)],
            occurred_at=now,
            request_id=request_id,
        )
    tables = await connection.fetch(
        """
        SELECT table_name FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name = 'user_id' AND table_name LIKE 'rm\\_%'
        ORDER BY table_name
        """
    )
    for table in tables:
        await connection.execute(f'DELETE FROM "{table["table_name"]}" WHERE user_id = $1', user_id)  # noqa: S608
    await connection.execute("DELETE FROM rm_follows WHERE followee_id = $1", user_id)
    await forget_identities(connection, user_id, now=now)
    # Cascades to streams, events, checkpoints, workouts, exercises, routines, body weights,
    # follows, sessions and identities.
    await connection.execute("DELETE FROM users WHERE id = $1", user_id)
    await end_access_tokens(connection, user_id, now, settings)
    return followers
