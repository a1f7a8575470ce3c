"""Bearer authentication on every route that does not opt out, and role guards."""

from __future__ import annotations

from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Guard

from api.auth.tokens import AccessTokens, InvalidToken, Principal
from api.request_context import USER_ID_STATE_KEY
from commands.accounts import Role

log = structlog.get_logger(__name__)

#: Route option that makes a route public: `opt={PUBLIC: True}`.
PUBLIC = "exclude_from_auth"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ironlog"'}


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Verifies `Authorization: Bearer <access token>`; a missing or bad token is a 401 problem."""

    def __init__(self, app: ASGIApp, tokens: AccessTokens, exclude: list[str] | None = None) -> None:
        super().__init__(app, exclude=exclude, exclude_from_auth_key=PUBLIC)
        self.tokens = tokens

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("A bearer access token is required.", headers=_CHALLENGE)
        try:
            principal = self.tokens.verify(token.strip())
        except InvalidToken as exc:
            log.info("access_token_rejected", reason=str(exc))
            raise NotAuthorizedException(
                "The access token is invalid or expired.",
                headers={"WWW-Authenticate": 'Bearer realm="ironlog", error="invalid_token"'},
            ) from None
        connection.scope.setdefault("state", {})[USER_ID_STATE_KEY] = str(principal.user_id)
        structlog.contextvars.bind_contextvars(user_id=str(principal.user_id))
        return AuthenticationResult(user=principal, auth=principal)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The authenticated caller; routes behind the middleware always have one."""
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException("A bearer access token is required.", headers=_CHALLENGE)
    return user


def requires_role(*roles: Role) -> Guard:
    """A guard that admits callers holding one of `roles` (403 otherwise)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        # OPTIONS (the Allow list, CORS preflights) is answered unauthenticated on every route.
        if connection.scope.get("method") == "OPTIONS":
            return
        if principal_of(connection).role not in roles:
            raise PermissionDeniedException("This needs the " + " or ".join(roles) + " role.")

    return guard
