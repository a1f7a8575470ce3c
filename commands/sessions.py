"""Sessions: refresh-token families that rotate on every use and are revoked as a whole.

A refresh token is 32 random bytes, given out base64url-encoded and stored only as its SHA-256
digest. Each use marks it used and issues a successor. Presenting a used token again is reuse:
within the grace window, and only while its successor is still unused, the same successor is
returned (a phone retrying a refresh whose answer it lost); otherwise the family is revoked.

Access tokens are not stored: they end when they expire, or earlier at the user's "not before"
instant, which signing out everywhere, a password change, reuse of a refresh token, disabling and
erasure set.
Every API process keeps a copy of the recent instants and refuses the tokens issued until them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
import msgspec

from commands.accounts import Role
from core.settings import AuthSettings

_TOKEN_BYTES = 32
PRUNE_AFTER = timedelta(days=7)
_SEAL_CONTEXT = b"ironlog refresh successor"

RevokeReason = Literal["logout", "logout_all", "reuse", "password_changed", "disabled", "provider_revoked"]
RejectReason = Literal["unknown", "revoked", "expired", "reused"]


class IssuedTokens(msgspec.Struct, frozen=True):
    """What a sign-in or refresh hands out; the API turns `access_token_id` into a JWT."""

    user_id: uuid.UUID
    role: Role
    family_id: uuid.UUID
    refresh_token: str
    refresh_expires_at: datetime
    access_token_id: uuid.UUID
    issued_at: datetime


class Rejection(msgspec.Struct, frozen=True):
    """Why a refresh token was refused; user and family are known unless the token was unknown."""

    reason: RejectReason
    user_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(token: str) -> bytes | None:
    if len(token) != 43:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=")
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _TOKEN_BYTES else None


def _digest(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


def _seal(key: bytes, raw: bytes) -> bytes:
    """XOR with a pad derived from `key`; each key seals exactly one value, so the pad is never reused."""
    pad = hmac.new(key, _SEAL_CONTEXT, hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(raw, pad, strict=True))


def token_digest(token: str) -> bytes | None:
    """The stored form of a presented token; None when it cannot be one of ours."""
    raw = _decode(token)
    return None if raw is None else _digest(raw)


async def _insert_token(
    connection: asyncpg.Connection,
    family_id: uuid.UUID,
    parent_hash: bytes | None,
    now: datetime,
    expires_at: datetime,
) -> tuple[bytes, uuid.UUID]:
    raw = secrets.token_bytes(_TOKEN_BYTES)
    access_token_id = uuid.uuid4()
    await connection.execute(
        """
        INSERT INTO refresh_tokens
            (token_hash, family_id, parent_hash, issued_at, expires_at, access_token_id)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        _digest(raw),
        family_id,
        parent_hash,
        now,
        expires_at,
        access_token_id,
    )
    return raw, access_token_id


async def start_session(
    connection: asyncpg.Connection, user_id: uuid.UUID, role: Role, settings: AuthSettings, now: datetime
) -> IssuedTokens:
    """Open a new family for a sign-in and issue its first refresh token.

    Families that ended (revoked or expired) over a week ago are pruned on the way: every refresh
    adds a row, and only live families need their old tokens for reuse detection.
    """
    await connection.execute(
        """
        DELETE FROM refresh_families
        WHERE user_id = $1 AND (revoked_at < $2 OR expires_at < $2)
        """,
        user_id,
        now - PRUNE_AFTER,
    )
    family_id = uuid.uuid4()
    family_expires = now + timedelta(seconds=settings.refresh_absolute_ttl_s)
    await connection.execute(
        """
        INSERT INTO refresh_families (id, user_id, created_at, expires_at, last_refreshed_at)
        VALUES ($1, $2, $3, $4, $3)
        """,
        family_id,
        user_id,
        now,
        family_expires,
    )
    expires_at = min(now + timedelta(seconds=settings.refresh_idle_ttl_s), family_expires)
    raw, access_token_id = await _insert_token(connection, family_id, None, now, expires_at)
    return IssuedTokens(user_id, role, family_id, _encode(raw), expires_at, access_token_id, now)


async def family_of(connection: asyncpg.Connection | asyncpg.Pool, token: str) -> uuid.UUID | None:
    """The family a presented token belongs to, without locking anything (for rate limits)."""
    digest = token_digest(token)
    if digest is None:
        return None
    family_id: uuid.UUID | None = await connection.fetchval(
        "SELECT family_id FROM refresh_tokens WHERE token_hash = $1", digest
    )
    return family_id


async def rotate(
    connection: asyncpg.Connection, token: str, settings: AuthSettings, now: datetime
) -> IssuedTokens | Rejection:
    """Exchange a refresh token for its successor, inside the caller's transaction.

    A Rejection for reuse has already revoked the family: the caller must commit, not roll back.
    """
    raw = _decode(token)
    if raw is None:
        return Rejection("unknown")
    digest = _digest(raw)
    # Locking the family row serialises every refresh, logout and revocation of the family. The token's
    # row is locked too: a refresh that waited for another's lock then reads the token as that one
    # left it (used, with its successor), where Postgres would otherwise hand it the version it saw
    # before waiting, and it would issue a second successor.
    row = await connection.fetchrow(
        """
        SELECT t.family_id, t.expires_at, t.used_at, t.successor_sealed,
               f.user_id, f.expires_at AS family_expires_at, f.revoked_at, u.role
        FROM refresh_tokens t
        JOIN refresh_families f ON f.id = t.family_id
        JOIN users u ON u.id = f.user_id
        WHERE t.token_hash = $1
        FOR UPDATE OF t, f
        """,
        digest,
    )
    if row is None:
        return Rejection("unknown")
    user_id, family_id, role = row["user_id"], row["family_id"], row["role"]
    refusal = _refusal(row, now)
    if refusal == "reused":
        replay = await _replay_successor(
            connection, raw=raw, digest=digest, row=row, settings=settings, now=now
        )
        if replay is not None:
            return replay
        # Someone else may hold the family's tokens: end the access tokens they got from it too.
        await revoke_family(connection, family_id, "reuse", now)
        await end_access_tokens(connection, user_id, now, settings)
    if refusal is not None:
        return Rejection(refusal, user_id, family_id)

    expires_at = min(now + timedelta(seconds=settings.refresh_idle_ttl_s), row["family_expires_at"])
    successor, access_token_id = await _insert_token(connection, family_id, digest, now, expires_at)
    await connection.execute(
        "UPDATE refresh_tokens SET used_at = $2, successor_sealed = $3 WHERE token_hash = $1",
        digest,
        now,
        _seal(raw, successor),
    )
    await connection.execute(
        "UPDATE refresh_families SET last_refreshed_at = $2 WHERE id = $1", family_id, now
    )
    return IssuedTokens(user_id, role, family_id, _encode(successor), expires_at, access_token_id, now)


def _refusal(row: asyncpg.Record, now: datetime) -> RejectReason | None:
    if row["revoked_at"] is not None:
        return "revoked"
    if row["used_at"] is not None:
        return "reused"
    if now >= row["expires_at"] or now >= row["family_expires_at"]:
        return "expired"
    return None


async def _replay_successor(
    connection: asyncpg.Connection,
    *,
    raw: bytes,
    digest: bytes,
    row: asyncpg.Record,
    settings: AuthSettings,
    now: datetime,
) -> IssuedTokens | None:
    """The successor already issued for `raw`, when the grace window allows handing it out again."""
    if row["successor_sealed"] is None or now - row["used_at"] > timedelta(seconds=settings.refresh_grace_s):
        return None
    successor = await connection.fetchrow(
        """
        SELECT token_hash, issued_at, expires_at, access_token_id, used_at
        FROM refresh_tokens WHERE parent_hash = $1
        """,
        digest,
    )
    if successor is None or successor["used_at"] is not None:
        return None
    successor_raw = _seal(raw, row["successor_sealed"])
    if not hmac.compare_digest(_digest(successor_raw), successor["token_hash"]):
        return None
    return IssuedTokens(
        row["user_id"],
        row["role"],
        row["family_id"],
        _encode(successor_raw),
        successor["expires_at"],
        successor["access_token_id"],
        successor["issued_at"],
    )


async def revoke_family(
    connection: asyncpg.Connection | asyncpg.Pool,
    family_id: uuid.UUID,
    reason: RevokeReason,
    now: datetime,
    *,
    user_id: uuid.UUID | None = None,
) -> bool:
    """Revoke one family (of `user_id`, when given); False when it was not live."""
    result: str = await connection.execute(
        """
        UPDATE refresh_families SET revoked_at = $2, revoked_reason = $3
        WHERE id = $1 AND revoked_at IS NULL AND ($4::uuid IS NULL OR user_id = $4)
        """,
        family_id,
        now,
        reason,
        user_id,
    )
    return result.endswith(" 1")


async def revoke_user_families(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    reason: RevokeReason,
    now: datetime,
    settings: AuthSettings,
    *,
    keep: uuid.UUID | None = None,
) -> int:
    """Revoke every live family of the user except `keep`, and end every access token of the user
    issued until `now` (`keep`'s too: it refreshes for a new one), in the caller's transaction; how
    many families were revoked."""
    await end_access_tokens(connection, user_id, now, settings)
    result: str = await connection.execute(
        """
        UPDATE refresh_families SET revoked_at = $2, revoked_reason = $3
        WHERE user_id = $1 AND revoked_at IS NULL AND ($4::uuid IS NULL OR id <> $4)
        """,
        user_id,
        now,
        reason,
        keep,
    )
    return int(result.rsplit(" ", 1)[-1])


def token_subject(user_id: uuid.UUID) -> bytes:
    """What `access_token_cutoffs` knows a user by: a digest of the id, so an erased user leaves no id."""
    return hashlib.sha256(user_id.bytes).digest()


def _cutoff_horizon(now: datetime, settings: AuthSettings) -> datetime:
    """Tokens issued before this have expired (leeway included): older instants refuse nothing more."""
    return now - timedelta(seconds=settings.access_ttl_s + settings.leeway_s)


async def end_access_tokens(
    connection: asyncpg.Connection, user_id: uuid.UUID, now: datetime, settings: AuthSettings
) -> None:
    """Refuse every access token of the user issued until `now`, in the caller's transaction.

    Instants that can refuse nothing more are deleted on the way, so the table holds only the users
    signed out within one access-token lifetime.
    """
    await connection.execute(
        """
        INSERT INTO access_token_cutoffs (subject, not_before) VALUES ($1, $2)
        ON CONFLICT (subject) DO UPDATE
        SET not_before = GREATEST(access_token_cutoffs.not_before, EXCLUDED.not_before)
        """,
        token_subject(user_id),
        now,
    )
    await connection.execute(
        "DELETE FROM access_token_cutoffs WHERE not_before < $1", _cutoff_horizon(now, settings)
    )


async def access_token_cutoffs(
    connection: asyncpg.Connection | asyncpg.Pool, now: datetime, settings: AuthSettings
) -> dict[bytes, datetime]:
    """The "not before" instants that still refuse unexpired tokens, by token subject."""
    rows = await connection.fetch(
        "SELECT subject, not_before FROM access_token_cutoffs WHERE not_before >= $1",
        _cutoff_horizon(now, settings),
    )
    return {bytes(row["subject"]): row["not_before"] for row in rows}
