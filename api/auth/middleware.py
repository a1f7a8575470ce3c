"""Bearer authentication on every route that does not opt out, and role guards."""

from __future__ import annotations

from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard, Scope

from api.auth.tokens import AccessTokens, InvalidToken, Principal
from commands.accounts import Role

log = structlog.get_logger(__name__)

#: Authentication puts the caller's id here, so the request's log line names the user.
USER_ID_STATE_KEY = "user_id"

#: Route option that makes a route public: `opt={PUBLIC: True}`.
PUBLIC = "exclude_from_auth"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ironlog"'}


def authenticate(scope: Scope, tokens: AccessTokens) -> None:
    """Verify `Authorization: Bearer <access token>` and put the caller in the scope (`user`, `auth`,
    and its id for the request's log line); a missing or bad token is a 401 problem. Run by the request
    pipeline (api/request_context.py) on every route that does not opt out."""
    header = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            header = value
            break
    scheme, _, token = header.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise NotAuthorizedException("A bearer access token is required.", headers=_CHALLENGE)
    try:
        principal = tokens.verify(token)
    except InvalidToken as exc:
        log.info("access_token_rejected", reason=str(exc))
        raise NotAuthorizedException(
            "The access token is invalid or expired.",
            headers={"WWW-Authenticate": 'Bearer realm="ironlog", error="invalid_token"'},
        ) from None
    user_id = str(principal.user_id)
    scope.setdefault("state", {})[USER_ID_STATE_KEY] = user_id
    structlog.contextvars.bind_contextvars(user_id=user_id)
    scope["user"] = scope["auth"] = principal


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
