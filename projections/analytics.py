"""The `analytics` schema for analysts, kept current by the projection runner."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg


async def project_activity(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    days: set[date],
    registered_at: datetime | None,
    count: bool,
) -> None:
    """Bring the user's activity on `days` (UTC dates) up to their read models.

    `registered_at` is set when the batch holds the user's registration. With `count` false (a
    rebuild into shadow tables) only the per-user state is written, never the shared counts.
    """
