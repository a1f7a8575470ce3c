"""`/v1/auth`: register, log in, refresh, log out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
import structlog
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.params import JSONBody

from api.auth.middleware import PUBLIC, principal_of
from api.auth.tokens import AccessTokens
from api.problems import problem_specs
from api.request_context import request_id_of
from api.responses import Response
from api.state import AppServices
from api.writes import announce, consistency_headers
from commands.accounts import (
    Account,
    Credentials,
    RegisterUser,
    credentials_by_email,
    get_account,
    normalise_email,
    register_user,
    set_password_hash,
)
from commands.passwords import WeakPassword, check_password_policy
from commands.sessions import (
    IssuedTokens,
    Rejection,
    family_of,
    revoke_family,
    revoke_user_families,
    rotate,
    start_session,
)
from core import clock
from core.errors import InvalidInput
from core.structs import RequestBody, ResponseBody

log = structlog.get_logger(__name__)
security_log = structlog.get_logger("ironlog.security")


class Login(RequestBody):
    email: Annotated[str, msgspec.Meta(max_length=254, examples=["sam@example.com"])]
    password: Annotated[str, msgspec.Meta(max_length=256)]


class Refresh(RequestBody):
    refresh_token: Annotated[str, msgspec.Meta(max_length=128)]


class TokenPair(ResponseBody):
    token_type: Annotated[str, msgspec.Meta(examples=["Bearer"])]
    access_token: str
    expires_in: Annotated[int, msgspec.Meta(description="Seconds the access token is valid", examples=[900])]
    access_token_expires_at: datetime
    refresh_token: Annotated[str, msgspec.Meta(description="Single use: each refresh returns a new one")]
    refresh_token_expires_at: datetime


class SignedIn(TokenPair):
    user: Account


def token_pair(tokens: AccessTokens, issued: IssuedTokens) -> TokenPair:
    return TokenPair(
        token_type="Bearer",  # noqa: S106
        access_token=tokens.mint(issued),
        expires_in=tokens.ttl_s,
        access_token_expires_at=tokens.expires_at(issued),
        refresh_token=issued.refresh_token,
        refresh_token_expires_at=issued.refresh_expires_at,
    )


def signed_in(tokens: AccessTokens, issued: IssuedTokens, account: Account) -> SignedIn:
    pair = token_pair(tokens, issued)
    return SignedIn(**msgspec.structs.asdict(pair), user=account)


def enforce_password_policy(password: str, *, field: str, email: str = "", handle: str = "") -> None:
    try:
        check_password_policy(password, email=email, handle=handle)
    except WeakPassword as exc:
        raise InvalidInput(str(exc), field=field) from None


def refuse_disabled(credentials: Credentials) -> None:
    """A disabled account signs in by no means (401)."""
    if credentials.disabled:
        log.info("disabled_account_refused", user_id=str(credentials.user_id))
        raise NotAuthorizedException("This account is disabled.")


_INVALID_REFRESH = "The refresh token is invalid, expired or revoked."


class AuthController(Controller):
    path = "/v1/auth"
    tags = ["accounts"]

    @post(
        "/register",
        operation_id="register",
        status_code=201,
        summary="Create an account and sign in",
        opt={PUBLIC: True},
        security=[{}],
        responses=problem_specs(409, 429),
    )
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RegisterUser],
        services: NamedDependency[AppServices],
    ) -> Response[SignedIn]:
        limits = services.settings.rate_limits
        await services.limiter.enforce(
            "register-ip", services.client_addresses.of(request.scope), limits.register_per_minute
        )
        await services.limiter.enforce(
            "register-email", normalise_email(data.email), limits.register_per_minute
        )
        enforce_password_policy(data.password, field="password", email=data.email, handle=data.handle)
        password_hash = await services.passwords.hash(data.password)
        now = clock.now()
        async with services.pool.acquire() as connection, connection.transaction():
            registered = await register_user(
                connection, data, password_hash, now=now, request_id=request_id_of(request.scope)
            )
            account = registered.account
            issued = await start_session(connection, account.id, account.role, services.settings.auth, now)
        log.info("user_registered", user_id=str(account.id))
        await announce(services, account.id)
        return Response(
            signed_in(services.tokens, issued, account),
            status_code=201,
            headers=consistency_headers(registered.stream_version),
        )

    @post(
        "/login",
        operation_id="login",
        status_code=200,
        summary="Sign in",
        opt={PUBLIC: True},
        security=[{}],
        responses=problem_specs(401, 429),
    )
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[Login], services: NamedDependency[AppServices]
    ) -> SignedIn:
        limits = services.settings.rate_limits
        await services.limiter.enforce(
            "login-ip", services.client_addresses.of(request.scope), limits.login_per_minute
        )
        await services.limiter.enforce("login-email", normalise_email(data.email), limits.login_per_minute)
        credentials = await credentials_by_email(services.pool, data.email)
        password_hash = credentials.password_hash if credentials else None
        matches = await services.passwords.verify(password_hash, data.password)
        if credentials is not None and credentials.password_hash is None:
            # After the time a wrong password takes; that an email has an account is no secret (register).
            log.info("login_failed", user_id=str(credentials.user_id), reason="no password")
            raise NotAuthorizedException(
                "This account has no password: it signs in with Apple or Google "
                "(POST /v1/auth/oauth/{provider})."
            )
        if credentials is None or credentials.password_hash is None or not matches:
            log.info("login_failed", user_id=str(credentials.user_id) if credentials else None)
            raise NotAuthorizedException("The email or password is not correct.")
        refuse_disabled(credentials)
        # Hashes made with older parameters are upgraded while the password is at hand.
        rehashed = None
        if services.passwords.needs_rehash(credentials.password_hash):
            rehashed = await services.passwords.hash(data.password)
        async with services.pool.acquire() as connection, connection.transaction():
            if rehashed is not None:
                await set_password_hash(connection, credentials.user_id, rehashed, now=clock.now())
            account = await get_account(connection, credentials.user_id)
            assert account is not None
            issued = await start_session(
                connection, account.id, account.role, services.settings.auth, clock.now()
            )
        log.info("logged_in", user_id=str(account.id))
        return signed_in(services.tokens, issued, account)

    @post(
        "/refresh",
        operation_id="refresh",
        status_code=200,
        summary="Exchange a refresh token for a new pair",
        opt={PUBLIC: True},
        security=[{}],
        responses=problem_specs(401, 429),
    )
    async def refresh(
        self, request: Request[Any, Any, Any], data: JSONBody[Refresh], services: NamedDependency[AppServices]
    ) -> TokenPair:
        family_id = await family_of(services.pool, data.refresh_token)
        if family_id is not None:
            await services.limiter.enforce(
                "refresh-family", str(family_id), services.settings.rate_limits.refresh_per_minute
            )
        now = clock.now()
        async with services.pool.acquire() as connection, connection.transaction():
            outcome = await rotate(connection, data.refresh_token, services.settings.auth, now)
        if isinstance(outcome, Rejection):
            _log_rejection(outcome, services.client_addresses.of(request.scope))
            if outcome.reason == "reused" and outcome.user_id is not None:
                await services.sign_outs.announce(outcome.user_id, now)  # rotate ended the access tokens
            raise NotAuthorizedException(_INVALID_REFRESH)
        return token_pair(services.tokens, outcome)

    @post("/logout", operation_id="logout", status_code=204, summary="Revoke this session's refresh tokens")
    async def logout(self, request: Request[Any, Any, Any], services: NamedDependency[AppServices]) -> None:
        principal = principal_of(request)
        await revoke_family(
            services.pool, principal.session_id, "logout", clock.now(), user_id=principal.user_id
        )

    @post(
        "/logout-all",
        operation_id="logoutAll",
        status_code=204,
        summary="Revoke every session of the user and end every access token issued so far",
    )
    async def logout_all(
        self, request: Request[Any, Any, Any], services: NamedDependency[AppServices]
    ) -> None:
        principal = principal_of(request)
        now = clock.now()
        async with services.pool.acquire() as connection, connection.transaction():
            revoked = await revoke_user_families(
                connection, principal.user_id, "logout_all", now, services.settings.auth
            )
        await services.sign_outs.announce(principal.user_id, now)
        log.info("logged_out_everywhere", sessions=revoked)


def _log_rejection(rejection: Rejection, client_ip: str) -> None:
    fields = {
        "client_ip": client_ip,
        "reason": rejection.reason,
        "user_id": str(rejection.user_id) if rejection.user_id else None,
        "family_id": str(rejection.family_id) if rejection.family_id else None,
    }
    if rejection.reason == "reused":
        security_log.warning("security_event", kind="refresh_token_reuse", action="family_revoked", **fields)
    else:
        log.info("refresh_rejected", **fields)
