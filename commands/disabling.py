"""Disabling an account: it signs in no more, by any means, until enabled again."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from commands.accounts import normalise_email
from commands.sessions import revoke_user_families
from core.settings import AuthSettings


async def set_disabled(
    connection: asyncpg.Connection, email: str, *, disabled: bool, now: datetime, settings: AuthSettings
) -> uuid.UUID | None:
    """Disable (or enable) the account with `email`, in the caller's transaction; its id, None when there
    is no such account. Disabling also ends every session and access token it has."""
    user_id: uuid.UUID | None = await connection.fetchval(
        """
        UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, $3) END, updated_at = $3
        WHERE email_normalised = $1 RETURNING id
        """,
        normalise_email(email),
        disabled,
        now,
    )
    if user_id is not None and disabled:
        await revoke_user_families(connection, user_id, "disabled", now, settings)
    return user_id
