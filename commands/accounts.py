"""Accounts: register, read, update the profile, change password and role."""

from __future__ import annotations

import functools
import re
import unicodedata
import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Literal

import asyncpg
import msgspec

from commands.events import E1rmFormula, ProfileChanged, UserRegistered, WeekStart, WeightUnit
from commands.eventstore import append, create_stream, lock_stream
from core.errors import Conflict, InvalidInput
from core.structs import RequestBody, ResponseBody

Role = Literal["user", "analyst", "admin"]
ROLES: tuple[Role, ...] = ("user", "analyst", "admin")
Unit = WeightUnit

# Patterns are checked by msgspec with Python's `re`, and by clients and schema fuzzers as ECMA-262 regular
# expressions (OpenAPI): they must mean the same in both. Python's `\s` also covers \x1c-\x1f and \x85,
# ECMA-262's also \ufeff, so whitespace is spelled out; Python's `$` also matches before a final newline,
# so `$(?!\n)` ends a pattern (for ECMA-262 the lookahead is a no-op).
_SPACE = r"[\s\x1c-\x1f\x85\ufeff]"
_NOT_SPACE_OR_AT = r"[^@\s\x1c-\x1f\x85\ufeff\x00]"
Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=254,
        pattern=rf"^{_SPACE}*{_NOT_SPACE_OR_AT}+@{_NOT_SPACE_OR_AT}+\.{_NOT_SPACE_OR_AT}+{_SPACE}*$",
        examples=["sam@example.com"],
    ),
]
Handle = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9_]{3,30}$(?!\n)",
        description="3-30 letters, digits or underscores; unique, compared case-insensitively",
        examples=["sam_lifts"],
    ),
]
DisplayName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=60,
        # Not blank: something besides whitespace; no NUL (api/inputs.py).
        pattern=r"^[^\x00]*[^\s\x1c-\x1f\x85\ufeff\x00][^\x00]*$",
        description="Shown to other lifters; runs of whitespace are stored as one space",
        examples=["Sam"],
    ),
]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=256, examples=["correct horse battery"])]
Timezone = Annotated[
    str,
    msgspec.Meta(
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*$(?!\n)",
        description=(
            "An IANA time zone name (the tz database), such as Europe/Berlin or UTC; it sets the user's "
            "days and weeks"
        ),
        examples=["Europe/Berlin"],
    ),
]


class RegisterUser(RequestBody):
    email: Email
    password: Password
    display_name: DisplayName
    handle: Handle


class UpdateProfile(RequestBody):
    """Only the fields present change."""

    display_name: DisplayName | msgspec.UnsetType = msgspec.UNSET
    handle: Handle | msgspec.UnsetType = msgspec.UNSET
    unit: Unit | msgspec.UnsetType = msgspec.UNSET
    e1rm_formula: E1rmFormula | msgspec.UnsetType = msgspec.UNSET
    timezone: Timezone | msgspec.UnsetType = msgspec.UNSET
    week_start: WeekStart | msgspec.UnsetType = msgspec.UNSET
    leaderboard_opt_in: bool | msgspec.UnsetType = msgspec.UNSET


class Account(ResponseBody):
    """The account as its owner sees it."""

    id: uuid.UUID
    email: str
    display_name: str
    handle: str
    role: Role
    unit: Unit
    e1rm_formula: E1rmFormula
    timezone: str
    week_start: WeekStart
    leaderboard_opt_in: bool
    created_at: datetime


class PublicUser(ResponseBody):
    """What anyone signed in may see of another user."""

    id: uuid.UUID
    handle: str
    display_name: str


class Credentials(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    password_hash: str | None  # None: the account signs in with a provider only
    role: Role
    disabled: bool


# SQL below is assembled only from these constant column names, never from input.
_ACCOUNT_COLUMNS = ", ".join(Account.__struct_fields__)
_PROFILE_COLUMNS = frozenset(UpdateProfile.__struct_fields__)
_SELECT_ACCOUNT = f"SELECT {_ACCOUNT_COLUMNS} FROM users"  # noqa: S608
_SELECT_CREDENTIALS = (
    "SELECT id AS user_id, password_hash, role, disabled_at IS NOT NULL AS disabled FROM users"
)
_OF_IDENTITY = " WHERE id = (SELECT user_id FROM identities WHERE provider = $1 AND subject = $2)"
_SET_ROLE = f"""
    UPDATE users SET role = $2, updated_at = $3 WHERE email_normalised = $1 RETURNING {_ACCOUNT_COLUMNS}
"""  # noqa: S608


def normalise_email(email: str) -> str:
    """The form emails are compared in: Unicode-normalised, trimmed, lower case."""
    return unicodedata.normalize("NFKC", email).strip().lower()


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _display_name(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidInput("The display name must not be blank.", field="displayName")
    return cleaned


def default_handle(text: str) -> str:
    """A handle from an email's local part or a name: letters, digits and underscores, 3 to 30 of them."""
    folded = unicodedata.normalize("NFKD", text.partition("@")[0]).encode("ascii", "ignore").decode()
    local = re.sub(r"[^a-z0-9_]+", "_", folded.lower())[:30]
    return local if len(local) >= 3 else (local + "_user")[:30]


def _conflict(exc: asyncpg.UniqueViolationError) -> Conflict:
    if exc.constraint_name == "users_handle_key":
        return Conflict("This handle is taken.", field="handle", kind="handle-taken")
    return Conflict("An account with this email exists.", field="email", kind="email-taken")


class Registered(msgspec.Struct, frozen=True):
    account: Account
    stream_version: int


async def register_user(
    connection: asyncpg.Connection,
    command: RegisterUser,
    password_hash: str,
    *,
    now: datetime,
    request_id: str | None,
    role: Role = "user",
) -> Registered:
    """Create the account, its stream and its UserRegistered event; Conflict when email or handle is taken.

    Runs inside the caller's transaction, so the session it starts commits with it.
    """
    return await create_account(
        connection,
        email=command.email,
        display_name=command.display_name,
        handle=command.handle,
        password_hash=password_hash,
        now=now,
        request_id=request_id,
        role=role,
    )


async def create_account(
    connection: asyncpg.Connection,
    *,
    email: str,
    display_name: str,
    handle: str,
    password_hash: str | None,
    now: datetime,
    request_id: str | None,
    role: Role = "user",
) -> Registered:
    """`register_user` for any origin of the account: without a password, it signs in with a provider."""
    try:
        record = await connection.fetchrow(
            f"""
            INSERT INTO users (id, email, email_normalised, password_hash, display_name, handle, role,
                created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
            RETURNING {_ACCOUNT_COLUMNS}
            """,  # noqa: S608
            uuid.uuid4(),
            email.strip(),
            normalise_email(email),
            password_hash,
            _display_name(display_name),
            handle.lower(),
            role,
            now,
        )
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from None
    assert record is not None
    account = Account(**record)
    await create_stream(connection, account.id)
    event = UserRegistered(
        handle=account.handle,
        display_name=account.display_name,
        timezone=account.timezone,
        week_start=account.week_start,
        e1rm_formula=account.e1rm_formula,
        unit=account.unit,
        leaderboard_opt_in=account.leaderboard_opt_in,
    )
    version = await append(connection, account.id, [event], occurred_at=now, request_id=request_id)
    return Registered(account, version)


async def get_account(connection: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID) -> Account | None:
    record = await connection.fetchrow(_SELECT_ACCOUNT + " WHERE id = $1", user_id)
    return None if record is None else Account(**record)


async def credentials_by_email(
    connection: asyncpg.Connection | asyncpg.Pool, email: str
) -> Credentials | None:
    record = await connection.fetchrow(
        _SELECT_CREDENTIALS + " WHERE email_normalised = $1", normalise_email(email)
    )
    return None if record is None else Credentials(**record)


async def credentials_by_id(
    connection: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID
) -> Credentials | None:
    record = await connection.fetchrow(_SELECT_CREDENTIALS + " WHERE id = $1", user_id)
    return None if record is None else Credentials(**record)


async def credentials_by_identity(
    connection: asyncpg.Connection | asyncpg.Pool, provider: str, subject: str
) -> Credentials | None:
    """The credentials of the account a provider's user (commands/identities.py) is linked to."""
    record = await connection.fetchrow(
        _SELECT_CREDENTIALS + _OF_IDENTITY,
        provider,
        subject,
    )
    return None if record is None else Credentials(**record)


class ProfileUpdated(msgspec.Struct, frozen=True):
    account: Account
    stream_version: int | None  # None when nothing changed (and nothing was appended)


async def update_profile(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    command: UpdateProfile,
    *,
    now: datetime,
    request_id: str | None,
) -> ProfileUpdated | None:
    """Apply the fields that differ, appending ProfileChanged; None when the account is gone.

    Runs in the caller's transaction. Conflict when the handle is taken.
    """
    wanted: dict[str, object] = {
        name: getattr(command, name)
        for name in _PROFILE_COLUMNS
        if getattr(command, name) is not msgspec.UNSET
    }
    if "timezone" in wanted and wanted["timezone"] not in _timezones():
        raise InvalidInput("Unknown IANA time zone.", field="timezone")
    if "display_name" in wanted:
        wanted["display_name"] = _display_name(str(wanted["display_name"]))
    if "handle" in wanted:
        wanted["handle"] = str(wanted["handle"]).lower()
    try:
        await lock_stream(connection, user_id)
    except LookupError:
        return None
    current = await get_account(connection, user_id)
    if current is None:
        return None
    changes = {name: value for name, value in wanted.items() if getattr(current, name) != value}
    if not changes:
        return ProfileUpdated(current, None)
    names = sorted(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate([*names, "updated_at"], start=2))
    try:
        record = await connection.fetchrow(
            f"UPDATE users SET {assignments} WHERE id = $1 RETURNING {_ACCOUNT_COLUMNS}",  # noqa: S608
            user_id,
            *(changes[name] for name in names),
            now,
        )
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from None
    assert record is not None
    event = ProfileChanged(**changes)  # type: ignore[arg-type]
    version = await append(connection, user_id, [event], occurred_at=now, request_id=request_id)
    return ProfileUpdated(Account(**record), version)


async def set_password_hash(
    connection: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID, password_hash: str, *, now: datetime
) -> None:
    await connection.execute(
        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1", user_id, password_hash, now
    )


async def set_role(
    connection: asyncpg.Connection | asyncpg.Pool, email: str, role: Role, *, now: datetime
) -> Account | None:
    record = await connection.fetchrow(_SET_ROLE, normalise_email(email), role, now)
    return None if record is None else Account(**record)


async def find_users(
    connection: asyncpg.Connection | asyncpg.Pool, handle: str, *, after: str | None, limit: int
) -> list[PublicUser]:
    """Users whose handle is `handle` or starts with it, the exact match first, then by handle."""
    prefix = handle.lower()
    pattern = prefix.replace("_", "\\_") + "%"
    records = await connection.fetch(
        """
        SELECT id, handle, display_name FROM users
        WHERE handle LIKE $1 AND ($2::text IS NULL OR handle > $2)
        ORDER BY handle
        LIMIT $3
        """,
        pattern,
        after,
        limit,
    )
    return [PublicUser(**record) for record in records]
