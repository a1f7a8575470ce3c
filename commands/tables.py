"""Write tables as Piccolo sees them; the migrations create them, a test keeps both in step."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    BigSerial,
    Boolean,
    Bytea,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
)
from piccolo.table import Table

from core.db import ENGINE


class Users(Table, db=ENGINE, tablename="users"):
    id = UUID(primary_key=True)
    email = Text()
    email_normalised = Text(unique=True)
    password_hash = Text(secret=True, null=True, default=None)  # None: signs in with a provider only
    display_name = Text()
    handle = Text(unique=True)
    role = Text(default="user")
    unit = Text(default="kg")
    e1rm_formula = Text(default="epley")
    timezone = Text(default="UTC")
    week_start = Text(default="monday")
    leaderboard_opt_in = Boolean(default=False)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    disabled_at = Timestamptz(null=True, default=None)


class RefreshFamilies(Table, db=ENGINE, tablename="refresh_families"):
    id = UUID(primary_key=True)
    user_id = ForeignKey(Users, null=False)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    last_refreshed_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    revoked_reason = Text(null=True, default=None)


class RefreshTokens(Table, db=ENGINE, tablename="refresh_tokens"):
    token_hash = Bytea(primary_key=True, secret=True)
    family_id = ForeignKey(RefreshFamilies, null=False)
    parent_hash = Bytea(null=True, default=None, unique=True)
    issued_at = Timestamptz()
    expires_at = Timestamptz()
    access_token_id = UUID()
    used_at = Timestamptz(null=True, default=None)
    successor_sealed = Bytea(null=True, default=None, secret=True)


class IdTokenNonces(Table, db=ENGINE, tablename="id_token_nonces"):
    digest = Bytea(primary_key=True)
    expires_at = Timestamptz()


class ErasedIdentities(Table, db=ENGINE, tablename="erased_identities"):
    digest = Bytea(primary_key=True)
    erased_at = Timestamptz()


class Streams(Table, db=ENGINE, tablename="streams"):
    user_id = UUID(primary_key=True)
    version = BigInt(default=0)


class Events(Table, db=ENGINE, tablename="events"):
    position = BigSerial(primary_key=True)
    event_id = UUID(unique=True)
    user_id = UUID()
    version = BigInt()
    type = Text()
    schema_version = Integer()
    payload = JSONB()
    occurred_at = Timestamptz()
    recorded_at = Timestamptz()
    request_id = Text(null=True, default=None)


class Workouts(Table, db=ENGINE, tablename="workouts"):
    id = UUID(primary_key=True)
    user_id = ForeignKey(Users, null=False)
    version = Integer()
    body_digest = Bytea(null=True, default=None)
    title = Text(null=True, default=None)
    started_at = Timestamptz(null=True, default=None)
    ended_at = Timestamptz(null=True, default=None)
    routine_id = UUID(null=True, default=None)
    notes = Text(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    deleted_at = Timestamptz(null=True, default=None)


class AccessTokenCutoffs(Table, db=ENGINE, tablename="access_token_cutoffs"):
    subject = Bytea(primary_key=True)
    not_before = Timestamptz()


# identities, workout_exercises and workout_sets have composite keys, which Piccolo tables cannot declare;
# they are written with SQL in commands/identities.py and commands/workouts.py.
WRITE_TABLES: tuple[type[Table], ...] = (
    Users,
    RefreshFamilies,
    RefreshTokens,
    AccessTokenCutoffs,
    IdTokenNonces,
    ErasedIdentities,
    Streams,
    Events,
    Workouts,
)
