"""`/v1/me/identities`: the Apple and Google identities linked to the account, linked and unlinked."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody

from api.auth.middleware import principal_of
from api.auth.oauth import IdToken, ProviderPath, prove, provider_of, spend_nonce
from api.problems import problem_specs
from api.state import AppServices
from commands.accounts import credentials_by_id
from commands.identities import Identity, identities_of, link_identity, unlink_identity
from core import clock
from core.settings import PROVIDERS
from core.structs import ResponseBody

_GONE = "This account no longer exists."


class IdentityList(ResponseBody):
    items: list[Identity]
    has_password: Annotated[
        bool,
        msgspec.Meta(description="Whether the account has a password; without one, its last identity stays"),
    ]


class IdentitiesController(Controller):
    path = "/v1/me/identities"
    tags = ["accounts"]

    @get(
        operation_id="listIdentities",
        summary="The identities the account signs in with",
        responses=problem_specs(404),
    )
    async def list_identities(
        self, request: Request[Any, Any, Any], services: NamedDependency[AppServices]
    ) -> IdentityList:
        user_id = principal_of(request).user_id
        credentials = await credentials_by_id(services.pool, user_id)
        if credentials is None:
            raise NotFoundException(_GONE)
        items = await identities_of(services.pool, user_id)
        return IdentityList(items=items, has_password=credentials.password_hash is not None)

    @post(
        "/{provider:str}",
        operation_id="linkIdentity",
        status_code=201,
        summary="Link the identity of an ID token to the account (again: nothing changes)",
        responses=problem_specs(401, 404, 409, 429, 503),
    )
    async def link(
        self,
        request: Request[Any, Any, Any],
        provider: ProviderPath,
        data: JSONBody[IdToken],
        services: NamedDependency[AppServices],
    ) -> Identity:
        user_id = principal_of(request).user_id
        verified = await prove(services, request, provider_of(services, provider), data)
        async with services.pool.acquire() as connection, connection.transaction():
            await spend_nonce(connection, services, verified)
            return await link_identity(connection, user_id, verified.identity, now=clock.now())

    @delete(
        "/{provider:str}",
        operation_id="unlinkIdentity",
        status_code=204,
        summary="Unlink the account's identity of a provider, unless it is the only way left to sign in",
        responses=problem_specs(404, 409),
    )
    async def unlink(
        self, request: Request[Any, Any, Any], provider: ProviderPath, services: NamedDependency[AppServices]
    ) -> None:
        user_id = principal_of(request).user_id
        # Whether or not the provider is still offered: an identity of it may be linked.
        chosen = next((name for name in PROVIDERS if name == provider), None)
        if chosen is None:
            raise NotFoundException(f"There is no identity provider {provider!r}.")
        async with services.pool.acquire() as connection, connection.transaction():
            await unlink_identity(connection, user_id, chosen)
