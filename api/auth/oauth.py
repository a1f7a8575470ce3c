"""`POST /v1/auth/oauth/{provider}`: sign in with an Apple or Google ID token.

The token's identity (provider and subject) signs in to the account it is linked to. An identity not
linked yet makes a new account without a password, unless the token's verified email is an existing
account's: then it is linked to that account only when that account's password comes with it (a 409
`link-required` asks for it), so an email at a provider never takes over an account.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import asyncpg
import msgspec
import structlog
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter

from api.auth.idtokens import InvalidIdToken, VerifiedIdToken
from api.auth.jwks import KeysUnavailable
from api.auth.middleware import PUBLIC
from api.auth.routes import SignedIn, refuse_disabled, signed_in
from api.problems import problem_specs
from api.request_context import request_id_of
from api.responses import Response
from api.state import AppServices
from api.writes import announce, consistency_headers
from commands.accounts import (
    Credentials,
    DisplayName,
    credentials_by_email,
    credentials_by_identity,
    get_account,
    normalise_email,
)
from commands.identities import (
    PROVIDER_NAMES,
    claim_nonce,
    erased_after,
    link_identity,
    register_with_identity,
)
from commands.sessions import start_session
from core import clock
from core.errors import Conflict
from core.settings import PROVIDERS, Provider
from core.structs import RequestBody

log = structlog.get_logger(__name__)

T = TypeVar("T")

ProviderPath = Annotated[
    str, PathParameter(description="The identity provider", schema_extra={"enum": list(PROVIDERS)})
]


class IdToken(RequestBody):
    id_token: Annotated[
        str, msgspec.Meta(min_length=1, max_length=8192, description="The ID token the provider gave the app")
    ]
    nonce: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=256,
                description=(
                    "The nonce the app asked the token for, as the app made it (Apple's token holds its "
                    "SHA-256); usable once. A token without a nonce is refused unless the server allows "
                    "it (IRONLOG_OAUTH_REQUIRE_NONCE)"
                ),
            ),
        ]
        | None
    ) = None


class ProviderSignIn(IdToken):
    display_name: (
        Annotated[
            DisplayName,
            msgspec.Meta(
                description="For a new account: the name the provider gave the app (Apple gives it once)"
            ),
        ]
        | None
    ) = None
    password: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=256,
                description="The password of the account with the token's email, to link the identity to it",
            ),
        ]
        | None
    ) = None


class ProviderIdToken(IdToken, kw_only=True):
    provider: Annotated[Provider, msgspec.Meta(description="The provider that issued the ID token")]


def provider_of(services: AppServices, provider: str) -> Provider:
    """The provider a path names, when this API offers it (404 otherwise)."""
    for offered in PROVIDERS:
        if offered == provider and services.id_tokens.offers(offered):
            return offered
    raise NotFoundException(f"Signing in with {provider!r} is not offered here.")


async def prove(
    services: AppServices, request: Request[Any, Any, Any], provider: Provider, token: IdToken
) -> VerifiedIdToken:
    """The verified ID token; 401 for a refused one, 503 when the provider's keys cannot be had. Counted
    against the login limit of the client's address, as a password is."""
    await services.limiter.enforce(
        "login-ip",
        services.client_addresses.of(request.scope),
        services.settings.rate_limits.login_per_minute,
    )
    return await checked(provider, services.id_tokens.verify(provider, token.id_token, token.nonce))


async def checked(provider: Provider, check: Awaitable[T]) -> T:
    """What `check`, a verification of something the provider signed, answers; a 401 problem saying why
    it is refused, 503 when the provider's keys cannot be had."""
    try:
        return await check
    except InvalidIdToken as exc:
        log.info("id_token_refused", provider=provider, reason=str(exc))
        raise NotAuthorizedException(str(exc)) from None
    except KeysUnavailable as exc:
        log.warning("id_token_keys_unavailable", provider=provider, error=str(exc))
        raise ServiceUnavailableException(
            f"{provider.capitalize()}'s signing keys cannot be fetched; try again later.",
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None


async def spend_nonce(
    connection: asyncpg.Connection, services: AppServices, verified: VerifiedIdToken
) -> None:
    """In the transaction that the token allows: its nonce used, or 401 when it was used already."""
    if verified.nonce is None:
        return
    kept_until = verified.expires_at + timedelta(seconds=services.settings.auth.leeway_s)
    if not await claim_nonce(
        connection, verified.identity.provider, verified.nonce, expires_at=kept_until, now=clock.now()
    ):
        raise NotAuthorizedException("The ID token's nonce has been used already: get a new token.")


class OAuthController(Controller):
    path = "/v1/auth/oauth"
    tags = ["accounts"]

    @post(
        "/{provider:str}",
        operation_id="signInWithProvider",
        status_code=200,
        summary="Sign in with an Apple or Google ID token",
        description=(
            "The same tokens as login. The identity the token names signs in to its account. A new identity "
            "creates an account without a password (201), its handle made from the name or the email and "
            "changeable with PATCH /v1/me, unless the token's verified email is an existing account's: that "
            "is a 409 `link-required`, and the same request with that account's `password` links the "
            "identity to it. Limited like login."
        ),
        opt={PUBLIC: True},
        security=[{}],
        responses={
            200: ResponseSpec(generate_examples=False, data_container=SignedIn, description="Signed in"),
            201: ResponseSpec(
                generate_examples=False, data_container=SignedIn, description="An account was created"
            ),
            **problem_specs(401, 403, 404, 409, 429, 503),
        },
    )
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        provider: ProviderPath,
        data: JSONBody[ProviderSignIn],
        services: NamedDependency[AppServices],
    ) -> Response[SignedIn]:
        chosen = provider_of(services, provider)
        verified = await prove(services, request, chosen, data)
        identity = verified.identity
        if identity.email is not None:
            await services.limiter.enforce(
                "login-email", normalise_email(identity.email), services.settings.rate_limits.login_per_minute
            )
        credentials = await credentials_by_identity(services.pool, chosen, identity.subject)
        email = None
        if credentials is None:
            email = await self._new_identity_email(services, verified)
            credentials = await credentials_by_email(services.pool, email)
            if credentials is not None:
                await self._check_link_password(services, chosen, credentials, data.password)
        if credentials is not None:
            refuse_disabled(credentials)
        now = clock.now()
        async with services.pool.acquire() as connection, connection.transaction():
            await spend_nonce(connection, services, verified)
            registered = None
            if credentials is None:
                assert email is not None
                registered = await register_with_identity(
                    connection,
                    identity,
                    email=email,
                    display_name=data.display_name or _display_name(verified.name),
                    now=now,
                    request_id=request_id_of(request.scope),
                )
                account = registered.account
            else:
                await link_identity(connection, credentials.user_id, identity, now=now)
                found = await get_account(connection, credentials.user_id)
                assert found is not None
                account = found
            issued = await start_session(connection, account.id, account.role, services.settings.auth, now)
        body = signed_in(services.tokens, issued, account)
        if registered is None:
            log.info("signed_in_with_provider", user_id=str(account.id), provider=chosen)
            return Response(body)
        log.info("user_registered", user_id=str(account.id), provider=chosen)
        await announce(services, account.id)
        return Response(body, status_code=201, headers=consistency_headers(registered.stream_version))

    @staticmethod
    async def _new_identity_email(services: AppServices, verified: VerifiedIdToken) -> str:
        """The email a new identity is known by: verified by the provider, and not from a token issued
        before the identity's account was erased (which would bring the account back)."""
        identity = verified.identity
        leeway = timedelta(seconds=services.settings.auth.leeway_s)
        if await erased_after(services.pool, identity, verified.issued_at - leeway):
            raise NotAuthorizedException(
                "The account of this ID token was erased after it was issued: sign in again for a new one."
            )
        if identity.email is None or not verified.email_verified:
            raise PermissionDeniedException(
                f"This {PROVIDER_NAMES[identity.provider]} has no verified email, which a new account needs."
            )
        return identity.email

    @staticmethod
    async def _check_link_password(
        services: AppServices, provider: Provider, credentials: Credentials, password: str | None
    ) -> None:
        """An account with the token's email takes the identity only with its password."""
        name = PROVIDER_NAMES[provider]
        if credentials.password_hash is None:
            raise Conflict(
                f"An account with this email signs in another way: sign in to it, then link this {name} "
                f"(POST /v1/me/identities/{provider}).",
                kind="link-required",
            )
        if password is None:
            raise Conflict(
                f"An account with this email exists: send its password with the same ID token to link this "
                f"{name} to it.",
                field="password",
                kind="link-required",
            )
        if not await services.passwords.verify(credentials.password_hash, password):
            log.info("identity_link_refused", user_id=str(credentials.user_id), provider=provider)
            raise NotAuthorizedException("The password is not correct.")


def _display_name(claimed: str | None) -> str | None:
    """The token's name, cut to the length a profile holds; None when blank."""
    return (claimed or "").strip()[:60] or None
