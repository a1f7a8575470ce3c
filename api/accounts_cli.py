"""What `ironlog createuser` does: create an account with a role, or grant the role."""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

from api.auth.routes import enforce_password_policy
from commands.accounts import Account, RegisterUser, Role, register_user, set_role
from commands.passwords import PasswordHasher
from core import clock
from core.db import close_pool, open_pool
from core.errors import DomainError
from core.settings import Settings


def default_handle(email: str) -> str:
    """A handle from the email's local part: letters, digits and underscores, 3 to 30 of them."""
    local = re.sub(r"[^a-z0-9_]", "_", email.partition("@")[0].lower())[:30]
    return local if len(local) >= 3 else (local + "_user")[:30]


async def create_or_promote(
    settings: Settings,
    *,
    email: str,
    role: Role,
    handle: str,
    display_name: str,
    ask_password: Callable[[], str],
) -> tuple[Account, bool]:
    """Grant `role` to the account with `email`, creating it when there is none; (account, created)."""
    pool = await open_pool(settings.with_pool_size(1, 2), "cli")
    hasher = PasswordHasher(settings.auth)
    try:
        existing = await set_role(pool, email, role, now=clock.now())
        if existing is not None:
            return existing, False
        password = ask_password()
        body = {"email": email, "password": password, "displayName": display_name, "handle": handle}
        try:
            command = msgspec.convert(body, RegisterUser)
            enforce_password_policy(password, field="password", email=email, handle=handle)
        except msgspec.ValidationError as exc:
            raise ValueError(f"invalid account: {exc}") from exc
        except DomainError as exc:
            raise ValueError(f"{exc.field}: {exc.message}") from exc
        password_hash = await hasher.hash(password)
        async with pool.acquire() as connection, connection.transaction():
            try:
                registered = await register_user(
                    connection, command, password_hash, now=clock.now(), request_id=None, role=role
                )
            except DomainError as exc:
                raise ValueError(f"{exc.field}: {exc.message}") from exc
        return registered.account, True
    finally:
        hasher.close()
        await close_pool(pool)
