"""The rules every client-identified, versioned thing follows when it is PUT or deleted."""

from __future__ import annotations

import uuid
from typing import Literal

import asyncpg

from core.errors import Gone, NotFound, VersionMismatch

Decision = Literal["create", "amend", "unchanged"]


def decide_put(
    row: asyncpg.Record | None, *, user_id: uuid.UUID, digest: bytes, if_match: int | None, noun: str
) -> Decision:
    """What a PUT does to `row` (user_id, version, body_digest, deleted_at), or why it may not.

    Another user's id is NotFound, a deleted one Gone. An identical body changes nothing; a
    different one needs If-Match with the current version (VersionMismatch otherwise).
    """
    if row is None:
        return "create"
    if row["user_id"] != user_id:
        raise NotFound(f"No such {noun}.")
    if row["deleted_at"] is not None:
        raise Gone(f"This {noun} was deleted.")
    if row["body_digest"] == digest:
        return "unchanged"
    current: int = row["version"]
    if if_match is None:
        raise VersionMismatch(
            f"Changing a {noun} needs If-Match with its version.", current_version=current, stale=False
        )
    if if_match != current:
        raise VersionMismatch(f"The {noun} changed since that version.", current_version=current, stale=True)
    return "amend"


def check_delete(row: asyncpg.Record | None, *, user_id: uuid.UUID, noun: str) -> bool:
    """Whether a DELETE has anything to do: False when already deleted; NotFound when not the user's."""
    if row is None or row["user_id"] != user_id:
        raise NotFound(f"No such {noun}.")
    return row["deleted_at"] is None
