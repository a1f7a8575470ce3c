"""Identities: a provider's user (an Apple ID, a Google account) linked to one Ironlog account.

An identity is found by its provider and the provider's subject (`sub`), never by email: an email
only ever leads to an existing account through that account's password (api/auth/oauth.py).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import asyncpg
import msgspec

from commands.accounts import Registered, create_account, default_handle
from core.errors import Conflict
from core.settings import Provider
from core.structs import ResponseBody

#: ID tokens valid for longer are refused (Google's live an hour, Apple's up to a day), so what must be
#: remembered about a token, its nonce or its erased account, is needed for this long at most.
MAX_ID_TOKEN_LIFETIME = timedelta(days=1)
#: Beyond the lifetime: clock skew between the provider and us, generously.
_SKEW = timedelta(hours=1)
_HANDLE_ATTEMPTS = 5

PROVIDER_NAMES: dict[Provider, str] = {"apple": "Apple ID", "google": "Google account"}


class ProviderIdentity(msgspec.Struct, frozen=True):
    """Who a verified ID token names."""

    provider: Provider
    subject: str
    email: str | None = None


class Identity(ResponseBody):
    """An identity linked to the account, as its owner sees it."""

    provider: Provider
    subject: str
    email: str | None
    created_at: datetime


def _digest(provider: Provider, value: str) -> bytes:
    return hashlib.sha256(f"{provider}\0{value}".encode()).digest()


_IDENTITY_COLUMNS = "provider, subject, email, created_at"


async def link_identity(
    connection: asyncpg.Connection, user_id: uuid.UUID, identity: ProviderIdentity, *, now: datetime
) -> Identity:
    """Link `identity` to the account in the caller's transaction (linked already: its email follows
    the token's, when the token names one); Conflict when it is another account's, or the account has
    another identity of the provider."""
    name = PROVIDER_NAMES[identity.provider]
    taken = Conflict(f"This {name} is linked to another Ironlog account.", field="idToken")
    existing = await connection.fetchrow(
        f"SELECT user_id, {_IDENTITY_COLUMNS} FROM identities WHERE provider = $1 AND subject = $2",  # noqa: S608
        identity.provider,
        identity.subject,
    )
    if existing is not None:
        if existing["user_id"] != user_id:
            raise taken
        if identity.email is not None and identity.email != existing["email"]:
            # The provider's address changed (a new Gmail address, a relay turned off): keep the current.
            existing = await connection.fetchrow(
                f"""
                UPDATE identities SET email = $3 WHERE provider = $1 AND subject = $2
                RETURNING user_id, {_IDENTITY_COLUMNS}
                """,  # noqa: S608
                identity.provider,
                identity.subject,
                identity.email,
            )
            assert existing is not None  # the row is locked by nobody else's unlink: it is ours to change
        return Identity(**{key: existing[key] for key in Identity.__struct_fields__})
    try:
        record = await connection.fetchrow(
            f"""
            INSERT INTO identities (provider, subject, user_id, email, created_at) VALUES ($1, $2, $3, $4, $5)
            RETURNING {_IDENTITY_COLUMNS}
            """,  # noqa: S608
            identity.provider,
            identity.subject,
            user_id,
            identity.email,
            now,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "identities_pkey":
            raise taken from None  # linked meanwhile
        raise Conflict(f"The account has another {name} linked; unlink it first.", field="provider") from None
    return Identity(**record)


async def identities_of(connection: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID) -> list[Identity]:
    records = await connection.fetch(
        f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE user_id = $1 ORDER BY provider",  # noqa: S608
        user_id,
    )
    return [Identity(**record) for record in records]


async def unlink_identity(connection: asyncpg.Connection, user_id: uuid.UUID, provider: Provider) -> None:
    """Unlink the account's identity of `provider`, in the caller's transaction (none: nothing changes);
    Conflict when it is the account's last way to sign in."""
    # The user's row locked: two unlinks at once cannot each leave the other the last one.
    has_password = await connection.fetchval(
        "SELECT password_hash IS NOT NULL FROM users WHERE id = $1 FOR UPDATE", user_id
    )
    others = await connection.fetchval(
        "SELECT count(*) FROM identities WHERE user_id = $1 AND provider <> $2", user_id, provider
    )
    if not has_password and not others:
        linked = await connection.fetchval(
            "SELECT true FROM identities WHERE user_id = $1 AND provider = $2", user_id, provider
        )
        if linked:
            raise Conflict(
                f"The {PROVIDER_NAMES[provider]} is the account's only way to sign in: link another, or "
                "set a password (POST /v1/me/password), first.",
                field="provider",
                kind="last-sign-in",
            )
    await connection.execute("DELETE FROM identities WHERE user_id = $1 AND provider = $2", user_id, provider)


async def register_with_identity(
    connection: asyncpg.Connection,
    identity: ProviderIdentity,
    *,
    email: str,
    display_name: str | None,
    now: datetime,
    request_id: str | None,
) -> Registered:
    """Create an account without a password, signing in with `identity`, in the caller's transaction.

    Its handle is made from the name or the email (a random suffix when that one is taken); its owner
    changes it like any other (`PATCH /v1/me`).
    """
    handle = default_handle(display_name or email)
    for attempt in range(_HANDLE_ATTEMPTS):
        candidate = handle if attempt == 0 else f"{handle[:25]}_{secrets.randbelow(10_000):04d}"
        try:
            async with connection.transaction():  # a savepoint: a taken handle is tried again
                registered = await create_account(
                    connection,
                    email=email,
                    display_name=display_name or candidate,
                    handle=candidate,
                    password_hash=None,
                    now=now,
                    request_id=request_id,
                )
            break
        except Conflict as exc:
            if exc.kind != "handle-taken" or attempt == _HANDLE_ATTEMPTS - 1:
                raise
    await link_identity(connection, registered.account.id, identity, now=now)
    return registered


async def claim_nonce(
    connection: asyncpg.Connection, provider: Provider, nonce: str, *, expires_at: datetime, now: datetime
) -> bool:
    """Mark the nonce of an ID token used, in the caller's transaction; False when it was used already.

    Kept until `expires_at` (the token's expiry): a later token with the same nonce is refused anyway.
    The claim commits with the sign-in it allows, so a refused attempt leaves the nonce unused.
    """
    await connection.execute("DELETE FROM id_token_nonces WHERE expires_at < $1", now)
    claimed: str = await connection.execute(
        "INSERT INTO id_token_nonces (digest, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        _digest(provider, nonce),
        expires_at,
    )
    return claimed.endswith(" 1")


async def forget_identities(connection: asyncpg.Connection, user_id: uuid.UUID, *, now: datetime) -> None:
    """Before an account's erasure: remember its identities (by digest) for as long as an ID token issued
    until now may be valid, so that none brings the account back. The identities go with the user."""
    await connection.execute(
        "DELETE FROM erased_identities WHERE erased_at < $1", now - MAX_ID_TOKEN_LIFETIME - _SKEW
    )
    identities = await identities_of(connection, user_id)
    await connection.executemany(
        """
        INSERT INTO erased_identities (digest, erased_at) VALUES ($1, $2)
        ON CONFLICT (digest) DO UPDATE SET erased_at = EXCLUDED.erased_at
        """,
        [(_digest(identity.provider, identity.subject), now) for identity in identities],
    )


async def erased_after(
    connection: asyncpg.Connection | asyncpg.Pool, identity: ProviderIdentity, issued_at: datetime
) -> bool:
    """True when the identity's account was erased after `issued_at`: the token predates the erasure."""
    erased: bool = await connection.fetchval(
        "SELECT EXISTS (SELECT FROM erased_identities WHERE digest = $1 AND erased_at >= $2)",
        _digest(identity.provider, identity.subject),
        issued_at,
    )
    return erased
