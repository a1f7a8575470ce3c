"""`/v1/me` (profile, preferences, password) and `/v1/users` (finding people by handle)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
import structlog
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import JSONBody, QueryParameter
from redis.exceptions import RedisError

from api.auth.idtokens import VerifiedIdToken
from api.auth.middleware import principal_of
from api.auth.oauth import ProviderIdToken, prove, provider_of, spend_nonce
from api.auth.routes import enforce_password_policy
from api.problems import problem_specs
from api.reads import Cursor, Limit
from api.request_context import request_id_of
from api.responses import Response
from api.state import AppServices
from api.writes import announce, consistency_headers
from commands.accounts import (
    Account,
    Credentials,
    Password,
    PublicUser,
    UpdateProfile,
    credentials_by_id,
    credentials_by_identity,
    find_users,
    get_account,
    set_password_hash,
    update_profile,
)
from commands.erasure import erase_account
from commands.identities import identities_of
from commands.sessions import revoke_user_families
from core import clock
from core.cursors import decode_cursor, encode_cursor
from core.errors import InvalidInput
from core.structs import RequestBody, ResponseBody
from projections.cache import projected_channel
from projections.leaderboards import remove_user
from queries.export import AccountExport, export_account, export_workouts_csv
from queries.leaderboards import boards_of

_GONE = "This account no longer exists."
_CSV_EXAMPLE = (
    '"Workout #";"Date";"Workout Name";"Duration (sec)";"Exercise Name";"Set Order";"Weight";"Weight Unit";'
    '"Reps";"RPE";"Distance";"Distance Unit";"Seconds";"Notes";"Workout Notes"\n'
    '"1";"2026-11-20 18:00:00";"Push day";"4200";"Barbell Bench Press";"1";"224.9";"lbs";"5";"8";'
    '"";"";"";"";""\n'
)
log = structlog.get_logger(__name__)


class ChangePassword(RequestBody):
    """The new password, with the current one; an account without a password (made by signing in with
    Apple or Google) sets its first with an ID token of an identity linked to it instead."""

    new_password: Password
    current_password: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    identity: ProviderIdToken | None = None


class EraseAccount(RequestBody):
    """The account's password; or, for an account without one, an ID token of an identity linked to it."""

    password: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    identity: ProviderIdToken | None = None


class UserPage(ResponseBody):
    items: list[PublicUser]
    next_cursor: str | None = None


class MeController(Controller):
    path = "/v1/me"
    tags = ["accounts"]

    @get(operation_id="getMe", summary="The caller's profile and preferences", responses=problem_specs(404))
    async def get_me(
        self, request: Request[Any, Any, Any], services: NamedDependency[AppServices]
    ) -> Account:
        account = await get_account(services.pool, principal_of(request).user_id)
        if account is None:
            raise NotFoundException(_GONE)
        return account

    @patch(
        operation_id="updateMe",
        summary="Change profile fields and preferences (only those sent)",
        responses=problem_specs(404, 409),
    )
    async def update_me(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[UpdateProfile],
        services: NamedDependency[AppServices],
    ) -> Response[Account]:
        user_id = principal_of(request).user_id
        async with services.pool.acquire() as connection, connection.transaction():
            updated = await update_profile(
                connection, user_id, data, now=clock.now(), request_id=request_id_of(request.scope)
            )
        if updated is None:
            raise NotFoundException(_GONE)
        if updated.stream_version is None:
            return Response(updated.account)
        await announce(services, user_id)
        return Response(updated.account, headers=consistency_headers(updated.stream_version))

    @post(
        "/password",
        operation_id="changePassword",
        status_code=204,
        summary="Change the password, or set a first one; every other session is signed out, every access "
        "token ended",
        description=(
            "Takes the `currentPassword`; an account without one (made by signing in with Apple or Google) "
            "sets its first password with an `identity`: a fresh ID token of an identity linked to it."
        ),
        responses=problem_specs(401, 403, 404, 429, 503),
    )
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChangePassword],
        services: NamedDependency[AppServices],
    ) -> None:
        principal = principal_of(request)
        await services.limiter.enforce(
            "password-user", str(principal.user_id), services.settings.rate_limits.password_per_minute
        )
        credentials = await credentials_by_id(services.pool, principal.user_id)
        account = await get_account(services.pool, principal.user_id)
        if credentials is None or account is None:
            raise NotFoundException(_GONE)
        verified = await _prove_owner(
            request, services, credentials, data.current_password, data.identity, field="currentPassword"
        )
        enforce_password_policy(
            data.new_password, field="newPassword", email=account.email, handle=account.handle
        )
        new_hash = await services.passwords.hash(data.new_password)
        now = clock.now()
        async with services.pool.acquire() as connection, connection.transaction():
            if verified is not None:
                await spend_nonce(connection, services, verified)
            await set_password_hash(connection, principal.user_id, new_hash, now=now)
            await revoke_user_families(
                connection,
                principal.user_id,
                "password_changed",
                now,
                services.settings.auth,
                keep=principal.session_id,
            )
        await services.sign_outs.announce(principal.user_id, now)

    @delete(
        operation_id="eraseMe",
        summary="Erase the account: everything the user owns, at once (the password is asked again)",
        description=(
            "Takes the account's `password`; an account without one takes an `identity`: a fresh ID token "
            "of an identity linked to it."
        ),
        status_code=204,
        responses=problem_specs(401, 403, 404, 429, 503),
    )
    async def erase_me(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[EraseAccount],
        services: NamedDependency[AppServices],
    ) -> None:
        principal = principal_of(request)
        credentials = await credentials_by_id(services.pool, principal.user_id)
        if credentials is None:
            raise NotFoundException(_GONE)
        verified = await _prove_owner(request, services, credentials, data.password, data.identity)
        now = clock.now()
        async with services.pool.acquire() as connection, connection.transaction():
            if verified is not None:
                await spend_nonce(connection, services, verified)
            boards = await boards_of(connection, principal.user_id)
            followers = await erase_account(
                connection,
                principal.user_id,
                now=now,
                request_id=request_id_of(request.scope),
                settings=services.settings.auth,
            )
        await services.sign_outs.announce(principal.user_id, now)
        await _forget_cache(services, principal.user_id, boards)
        # Their follow lists changed without an event of theirs: tell every process's memory cache.
        await _changed_without_projection(services, [principal.user_id, *followers])
        for follower in followers:
            await announce(services, follower)
        log.info("account_erased", followers=len(followers))

    @get(
        "/export",
        operation_id="exportMe",
        summary="Everything the user owns, as JSON",
        responses={
            200: ResponseSpec(
                generate_examples=False, data_container=AccountExport, description="The export"
            ),
            **problem_specs(404),
        },
    )
    async def export_me(
        self, request: Request[Any, Any, Any], services: NamedDependency[AppServices]
    ) -> Response[bytes]:
        user_id = principal_of(request).user_id
        account = await get_account(services.pool, user_id)
        if account is None:
            raise NotFoundException(_GONE)
        identities = msgspec.json.encode(await identities_of(services.pool, user_id))
        body = await export_account(services.pool, user_id, msgspec.json.encode(account), identities)
        headers = {"Content-Disposition": 'attachment; filename="ironlog-export.json"'}
        return Response(content=body, media_type="application/json", headers=headers)

    @get(
        "/export/workouts.csv",
        operation_id="exportMyWorkoutsCsv",
        summary="Every workout as a Strong CSV export, for other apps or a re-import here",
        responses={
            200: ResponseSpec(
                data_container=str,
                media_type="text/csv",
                description="Strong's semicolon CSV export",
                generate_examples=False,
                examples=[Example(summary="One set", value=_CSV_EXAMPLE)],
            ),
            **problem_specs(404),
        },
    )
    async def export_workouts(
        self, request: Request[Any, Any, Any], services: NamedDependency[AppServices]
    ) -> Response[bytes]:
        """The workouts of `GET /v1/me/export` in Strong's semicolon CSV format: one row per completed set,
        times as wall time in the user's timezone, weights in the unit entered, distances in km or miles
        after the user's unit. `POST /v1/imports` reads it back."""
        user_id = principal_of(request).user_id
        account = await get_account(services.pool, user_id)
        if account is None:
            raise NotFoundException(_GONE)
        body = await export_workouts_csv(
            services.pool,
            user_id,
            timezone=account.timezone,
            distance_unit="km" if account.unit == "kg" else "mi",
        )
        headers = {"Content-Disposition": 'attachment; filename="ironlog-workouts.csv"'}
        return Response(content=body, media_type="text/csv; charset=utf-8", headers=headers)


async def _prove_owner(
    request: Request[Any, Any, Any],
    services: AppServices,
    credentials: Credentials,
    password: str | None,
    identity: ProviderIdToken | None,
    *,
    field: str = "password",
) -> VerifiedIdToken | None:
    """That the caller holds the account: its password (sent as `field`), or for an account without one
    an ID token of an identity linked to it (returned, its nonce to be spent with what it allows)."""
    if credentials.password_hash is not None:
        if password is None:
            raise InvalidInput("The account's password is required.", field=field)
        if not await services.passwords.verify(credentials.password_hash, password):
            raise PermissionDeniedException("The password is not correct.")
        return None
    if identity is None:
        raise InvalidInput(
            "This account has no password: send an ID token of an identity linked to it.", field="identity"
        )
    verified = await prove(services, request, provider_of(services, identity.provider), identity)
    owner = await credentials_by_identity(
        services.pool, verified.identity.provider, verified.identity.subject
    )
    if owner is None or owner.user_id != credentials.user_id:
        raise PermissionDeniedException("The ID token is not of an identity linked to this account.")
    return verified


async def _forget_cache(services: AppServices, user_id: uuid.UUID, boards: list[tuple[str, str]]) -> None:
    """Delete the user's Redis documents and board entries; failing that, documents expire (Redis
    holds no truth) and boards never show users without a profile."""
    try:
        await remove_user(services.redis, services.keys, user_id, boards)
        keys = [key async for key in services.redis.scan_iter(match=services.keys.user_pattern(user_id))]
        if keys:
            await services.redis.unlink(*keys)
    except RedisError as exc:
        log.warning("erased_user_cache_left", error=repr(exc))


async def _changed_without_projection(services: AppServices, users: list[uuid.UUID]) -> None:
    """Announce on each user's projected channel that their read models changed; version 0, so event
    streams (which only ever report progress) say nothing, while memory caches forget the users."""
    try:
        async with services.redis.pipeline(transaction=False) as pipe:
            for user_id in users:
                pipe.publish(projected_channel(services.keys, user_id), "0")
            await pipe.execute()
    except RedisError as exc:
        log.warning("erasure_announcement_failed", error=repr(exc))


HandleQuery = Annotated[
    str,
    QueryParameter(
        pattern=r"^[A-Za-z0-9_]{1,30}$(?!\n)",  # `(?!\n)`: see the patterns of commands/accounts.py
        description="A handle or the start of one",
    ),
]


class UsersController(Controller):
    path = "/v1/users"
    tags = ["people"]

    @get(operation_id="findUsers", summary="Find people by handle (exact or prefix); public fields only")
    async def find(
        self,
        handle: HandleQuery,
        services: NamedDependency[AppServices],
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> UserPage:
        after = decode_cursor(cursor, str) if cursor else None
        users = await find_users(services.reads, handle, after=after, limit=limit + 1)
        page = users[:limit]
        next_cursor = encode_cursor(page[-1].handle) if len(users) > limit else None
        return UserPage(items=page, next_cursor=next_cursor)
