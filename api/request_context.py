"""The request pipeline: request ids, authentication, body checks, the one log line per request, HTTP
metrics and response headers, in one middleware and one `before_send` hook."""

from __future__ import annotations

import os
import re
import time
from typing import Any, NamedTuple

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.middleware import PUBLIC, USER_ID_STATE_KEY, authenticate
from api.auth.tokens import AccessTokens
from api.body_deadline import receive_within
from api.head import answer_head
from api.media_types import declared_media_type, has_body, refuse_other_media_types
from core.logs import log_request
from core.metrics import HTTP_METRICS, HTTP_UNMATCHED_REQUESTS

#: Paths the pipeline does not authenticate, as it does routes with `opt={PUBLIC: True}`.
UNAUTHENTICATED_PATHS = "^/schema"

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_STATE_KEY = "ironlog_request_id"

_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' data: https://fonts.gstatic.com https://cdn.jsdelivr.net; "
    "img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = (
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
#: Encoded once: what every API response gets, and every page of the docs.
_API_HEADERS = (*_SECURITY_HEADERS, (b"content-security-policy", _API_CSP.encode()))
_DOCS_HEADERS = (*_SECURITY_HEADERS, (b"content-security-policy", _DOCS_CSP.encode()))
_NO_STORE = (b"cache-control", b"no-store")
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.encode()
#: Where `add_response_headers` notes the response's status, for the request's line and metrics.
_STATUS_KEY = "ironlog_status"
#: Paths that need no sign-in whatever their routes say (the OpenAPI documents), as `opt={PUBLIC: True}`.
_UNAUTHENTICATED = re.compile(UNAUTHENTICATED_PATHS)


def request_id_of(scope: Scope) -> str:
    """The request's id: the client's X-Request-ID when well-formed, else a new one; fixed per request."""
    state = scope.setdefault("state", {})
    request_id = state.get(_STATE_KEY)
    if request_id is None:
        supplied = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                supplied = value.decode("latin-1")
                break
        request_id = supplied if _VALID_REQUEST_ID.match(supplied) else os.urandom(16).hex()
        state[_STATE_KEY] = request_id
    return str(request_id)


class _RouteNeeds(NamedTuple):
    """What the pipeline does for one route handler, worked out on its first request."""

    authenticated: bool
    media_type: str | None  # of the body it reads


class RequestPipelineMiddleware:
    """Everything Ironlog does around a handler, in one layer and in this order:

    1. the request id, bound into every log line of the request (and sent back by `add_response_headers`);
    2. authentication (api/auth/middleware.py) on every route that does not opt out;
    3. a body only in the media type the route reads (api/media_types.py), and whole within the body
       deadline (api/body_deadline.py);
    4. HEAD answered by the GET handler without its body (api/head.py);
    5. after the answer: one metric sample per request and the request's log line (`_record`).

    Refusals raise Litestar's HTTP exceptions, answered as problems by the app's exception handler
    (outside this layer, whose `add_response_headers` still adds the headers).
    """

    def __init__(self, app: ASGIApp, tokens: AccessTokens, body_timeout_s: float) -> None:
        self.app = app
        self.tokens = tokens
        self.body_timeout_s = body_timeout_s
        self._needs: dict[int, _RouteNeeds] = {}

    def _needs_of(self, scope: Scope) -> _RouteNeeds:
        handler = scope["route_handler"]
        needs = self._needs.get(id(handler))
        if needs is None:
            public = bool(handler.opt.get(PUBLIC))
            needs = _RouteNeeds(authenticated=not public, media_type=declared_media_type(handler))
            self._needs[id(handler)] = needs
        return needs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        # Bound for the request and reset after it (`...` is structlog's "unset": no user until the
        # authentication binds one). Cheaper than clearing every context variable twice.
        request_id = request_id_of(scope)
        bound = structlog.contextvars.bind_contextvars(request_id=request_id, user_id=...)
        started = time.perf_counter()
        status = 500
        HTTP_METRICS.in_flight += 1
        try:
            needs = self._needs_of(scope)
            if (
                needs.authenticated
                and scope["method"] != "OPTIONS"
                and not _UNAUTHENTICATED.match(scope["path"])
            ):
                authenticate(scope, self.tokens)
            if has_body(scope["headers"]):
                if needs.media_type is not None:
                    refuse_other_media_types(scope, needs.media_type, dict(scope["headers"]))
                receive = receive_within(receive, self.body_timeout_s)
            if scope["method"] == "HEAD":
                await answer_head(self.app, scope, receive, send)
            else:
                await self.app(scope, receive, send)
            status = scope["state"].get(_STATUS_KEY, status)
        except Exception as exc:
            # Refused here or raised inside: the app's handler answers outside this layer.
            status = int(getattr(exc, "status_code", 500))
            raise
        finally:
            HTTP_METRICS.in_flight -= 1
            _record(scope, status, time.perf_counter() - started, request_id)
            structlog.contextvars.reset_contextvars(**bound)


def _record(scope: Scope, status: int, seconds: float | None, request_id: str | None = None) -> None:
    """One metric sample and the request's log line; `seconds` is None when no timing was possible.
    The line is at INFO (the access log, off with IRONLOG_ACCESS_LOG=0), and at WARNING for a server
    error or a request slower than IRONLOG_SLOW_REQUEST_MS, which are logged either way."""
    method = str(scope.get("method", ""))
    if seconds is None:
        route = "unmatched"
        HTTP_UNMATCHED_REQUESTS.labels(method, str(status)).inc()
    else:
        route = scope.get("path_template") or "unmatched"
        HTTP_METRICS.observe(method, route, status, seconds)
    duration_ms = None if seconds is None else round(seconds * 1000, 2)
    slow = duration_ms is not None and duration_ms >= _LOGGING.slow_ms
    if status >= 500 or slow:
        level = "warning"
    elif _LOGGING.access_log:
        level = "info"
    else:
        return
    user_id = scope.get("state", {}).get(USER_ID_STATE_KEY)
    log_request(
        level,
        method=method,
        route=route,
        status=status,
        duration_ms=duration_ms,
        user_id=str(user_id) if user_id else None,
        request_id=request_id or request_id_of(scope),
        slow=slow,
    )


class _RequestLogging:
    """Which request lines are written: settable per app (`configure_request_logging`)."""

    def __init__(self) -> None:
        self.access_log = True
        self.slow_ms = 500.0


_LOGGING = _RequestLogging()


def configure_request_logging(*, access_log: bool, slow_ms: float) -> None:
    _LOGGING.access_log = access_log
    _LOGGING.slow_ms = slow_ms


def observe_unmatched(scope: Scope, exc: Exception) -> None:
    """Log and count requests the router rejected (404, 405): no middleware ran, so none timed them."""
    if "route_handler" in scope and scope.get("path_template"):
        return
    _record(scope, int(getattr(exc, "status_code", 500)), None)


async def add_response_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: security headers, X-Request-ID and a default no-store on every response; it
    also notes the status for the request's log line and metrics."""
    if message["type"] != "http.response.start":
        return
    state = scope.setdefault("state", {})
    state[_STATUS_KEY] = message["status"]
    headers: list[Any] = list(message.get("headers", ()))
    docs = scope.get("path", "").startswith("/schema")
    if docs:
        headers.extend(_DOCS_HEADERS)
    else:
        # Nothing personal is cached by browsers or proxies unless a route sets its own policy.
        if not any(name.lower() == b"cache-control" for name, _ in headers):
            headers.append(_NO_STORE)
        headers.extend(_API_HEADERS)
    headers.append((_REQUEST_ID_HEADER, request_id_of(scope).encode("latin-1")))
    message["headers"] = headers
