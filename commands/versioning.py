"""The rules every client-identified, versioned thing follows when it is PUT or deleted."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

from commands.events import EVENT_ENCODER, AnyEvent
from commands.eventstore import append, lock_stream
from core.errors import Gone, InvalidInput, NotFound, VersionMismatch

Decision = Literal["create", "amend", "unchanged"]


class IfMatch(msgspec.Struct, frozen=True):
    """An If-Match precondition (RFC 9110 §13.1.1): `*` (whatever version is current) or the versions its
    strong entity tags name. A weak tag names no version: under If-Match it never matches."""

    any: bool = False
    versions: frozenset[int] = frozenset()

    def matches(self, current: int) -> bool:
        return self.any or current in self.versions


def decide_put(
    row: asyncpg.Record | None, *, user_id: uuid.UUID, digest: bytes, if_match: IfMatch | None, noun: str
) -> Decision:
    """What a PUT does to `row` (user_id, version, body_digest, deleted_at), or why it may not.

    Another user's id is NotFound, a deleted one Gone, whatever the precondition (RFC 9110 §13.2.1: it is
    not evaluated when the answer would be another 4xx anyway). An identical body changes nothing; a
    different one needs If-Match naming the current version (VersionMismatch otherwise). If-Match on an
    id that does not exist fails (VersionMismatch with no current version): nothing is created.
    """
    if row is None:
        if if_match is not None:
            raise VersionMismatch(f"No such {noun}: If-Match names no version of it.", current_version=None)
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
    if not if_match.matches(current):
        raise VersionMismatch(f"The {noun} changed since that version.", current_version=current)
    return "amend"


def check_delete(
    row: asyncpg.Record | None, *, user_id: uuid.UUID, noun: str, if_match: IfMatch | None = None
) -> bool:
    """Whether a DELETE has anything to do: False when already deleted (whatever If-Match says: what
    it asked for is done, and a retried delete stays a 204); NotFound when not the user's;
    VersionMismatch when If-Match names another version than the current one."""
    if row is None or row["user_id"] != user_id:
        raise NotFound(f"No such {noun}.")
    if row["deleted_at"] is not None:
        return False
    if if_match is not None and not if_match.matches(row["version"]):
        raise VersionMismatch(f"The {noun} changed since that version.", current_version=row["version"])
    return True


class Written(msgspec.Struct, frozen=True):
    """What a PUT of a versioned thing did: created | amended | unchanged, its version, the stream's."""

    outcome: str
    version: int
    stream_version: int


class Deletion(msgspec.Struct, frozen=True):
    deleted: bool  # False when it already was: nothing appended
    stream_version: int


class VersionedTable(msgspec.Struct, frozen=True):
    """A write table of client-identified things.

    Its common columns: id, user_id, version, body_digest, created_at, updated_at, deleted_at.
    """

    name: str
    noun: str
    per_user_limit: int


async def put_versioned(
    connection: asyncpg.Connection,
    table: VersionedTable,
    *,
    thing_id: uuid.UUID,
    user_id: uuid.UUID,
    body: msgspec.Struct,
    columns: dict[str, object],
    if_match: IfMatch | None,
    event: Callable[[int], AnyEvent],
    now: datetime,
    request_id: str | None,
) -> Written:
    """Create or amend one row of `table` and append `event(version)`, in the caller's transaction.

    `columns` are the table's own fields besides the common ones.
    """
    stream_version = await lock_stream(connection, user_id)
    row = await connection.fetchrow(
        f"SELECT user_id, version, body_digest, deleted_at FROM {table.name} WHERE id = $1 FOR UPDATE",  # noqa: S608
        thing_id,
    )
    digest = hashlib.sha256(EVENT_ENCODER.encode(body)).digest()
    decision = decide_put(row, user_id=user_id, digest=digest, if_match=if_match, noun=table.noun)
    if decision == "unchanged":
        assert row is not None
        return Written("unchanged", row["version"], stream_version)
    if decision == "create":
        count = await connection.fetchval(
            f"SELECT count(*) FROM {table.name} WHERE user_id = $1 AND deleted_at IS NULL",  # noqa: S608
            user_id,
        )
        if count >= table.per_user_limit:
            raise InvalidInput(f"At most {table.per_user_limit} of these per user.", field="body")
    version = 1 if row is None else row["version"] + 1
    names = list(columns)
    placeholders = ", ".join(f"${i}" for i in range(6, 6 + len(names)))
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in names)
    await connection.execute(
        f"""
        INSERT INTO {table.name}
            (id, user_id, version, body_digest, created_at, updated_at, {", ".join(names)})
        VALUES ($1, $2, $3, $4, $5, $5, {placeholders})
        ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, body_digest = EXCLUDED.body_digest,
            updated_at = EXCLUDED.updated_at, {updates}
        """,  # noqa: S608
        thing_id,
        user_id,
        version,
        digest,
        now,
        *columns.values(),
    )
    stream_version = await append(
        connection, user_id, [event(version)], occurred_at=now, request_id=request_id
    )
    return Written("created" if row is None else "amended", version, stream_version)


async def delete_versioned(
    connection: asyncpg.Connection,
    table: VersionedTable,
    *,
    thing_id: uuid.UUID,
    user_id: uuid.UUID,
    event: Callable[[int], AnyEvent],
    now: datetime,
    request_id: str | None,
    if_match: IfMatch | None = None,
) -> Deletion:
    """Mark one row of `table` deleted and append `event(version)`; a repeat changes nothing."""
    stream_version = await lock_stream(connection, user_id)
    row = await connection.fetchrow(
        f"SELECT user_id, version, deleted_at FROM {table.name} WHERE id = $1 FOR UPDATE",  # noqa: S608
        thing_id,
    )
    if not check_delete(row, user_id=user_id, noun=table.noun, if_match=if_match):
        return Deletion(False, stream_version)
    assert row is not None
    version = row["version"] + 1
    await connection.execute(
        f"""
        UPDATE {table.name} SET version = $2, deleted_at = $3, updated_at = $3, body_digest = NULL
        WHERE id = $1
        """,  # noqa: S608
        thing_id,
        version,
        now,
    )
    stream_version = await append(
        connection, user_id, [event(version)], occurred_at=now, request_id=request_id
    )
    return Deletion(True, stream_version)
