"""What `ironlog createuser` and `ironlog disableuser` do: create an account with a role, or grant the
role; disable an account, or enable it again."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import msgspec

from api.auth.routes import enforce_password_policy
from api.auth.signouts import publish_sign_out
from commands.accounts import Account, RegisterUser, Role, register_user, set_role
from commands.disabling import set_disabled
from commands.passwords import PasswordHasher
from core import clock
from core.db import close_pool, open_pool
from core.errors import DomainError
from core.redis import Keys, open_redis
from core.settings import Settings


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


async def disable_or_enable(settings: Settings, *, email: str, disabled: bool) -> uuid.UUID | None:
    """Disable (or enable) the account with `email`; its id, None when there is none. A disabled
    account's access tokens end at once on every API process."""
    pool = await open_pool(settings.with_pool_size(1, 2), "cli")
    redis = open_redis(settings)
    try:
        now = clock.now()
        async with pool.acquire() as connection, connection.transaction():
            user_id = await set_disabled(
                connection, email, disabled=disabled, now=now, settings=settings.auth
            )
        if user_id is not None and disabled:
            await publish_sign_out(redis, Keys(settings.redis.prefix), user_id, now)
        return user_id
    finally:
        await redis.aclose()
        await close_pool(pool)
