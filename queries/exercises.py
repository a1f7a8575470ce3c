"""Readers of the user's own exercises (the built-in catalog is `core.catalog`)."""

from __future__ import annotations

import uuid

import asyncpg

from projections import outbox
from queries.readmodels import DocumentLoader


def custom_exercise(user_id: uuid.UUID, exercise_id: uuid.UUID) -> DocumentLoader:
    """A loader of one of the user's live custom exercises and its ETag (its version)."""

    async def load(connection: asyncpg.Connection) -> tuple[bytes, str] | None:
        row = await connection.fetchrow(
            """
            SELECT version, body FROM rm_custom_exercises
            WHERE user_id = $1 AND exercise_id = $2 AND NOT deleted
            """,
            user_id,
            exercise_id,
        )
        return None if row is None else (bytes(row["body"]), f'"{row["version"]}"')

    return DocumentLoader(outbox.custom_exercise(exercise_id), load)
