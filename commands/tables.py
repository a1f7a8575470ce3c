"""Write tables as Piccolo sees them; the migrations create them, a test keeps both in step."""

from __future__ import annotations

from piccolo.columns import UUID, Boolean, Bytea, ForeignKey, Text, Timestamptz
from piccolo.table import Table

from core.db import ENGINE


class Users(Table, db=ENGINE, tablename="users"):
    id = UUID(primary_key=True)
    email = Text()
    email_normalised = Text(unique=True)
    password_hash = Text(secret=True)
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


WRITE_TABLES: tuple[type[Table], ...] = (Users, RefreshFamilies, RefreshTokens)
