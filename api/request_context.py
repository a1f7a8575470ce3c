"""Per-request context: request ids, the one log line per request, HTTP metrics, response headers."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS_IN_FLIGHT, HTTP_UNMATCHED_REQUESTS

log = structlog.get_logger("ironlog.request")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_STATE_KEY = "ironlog_request_id"
#: Authentication puts the caller's id here, so the request's log line names the user.
USER_ID_STATE_KEY = "user_id"

_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' data: https://fonts.gstatic.com https://cdn.jsdelivr.net; "
    "img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def request_id_of(scope: Scope) -> str:
    """The request's id: the client's X-Request-ID when well-formed, else a new one; fixed per request."""
    state = scope.setdefault("state", {})
    request_id = state.get(_STATE_KEY)
    if request_id is None:
        supplied = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), ""
        )
        request_id = supplied if _VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        state[_STATE_KEY] = request_id
    return str(request_id)


def _status_of(message: Message, current: int) -> int:
    return int(message["status"]) if message["type"] == "http.response.start" else current


class RequestContextMiddleware(ASGIMiddleware):
    """Binds the request id into logs, then writes one log line and one metric sample per request."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id_of(scope))
        started = time.perf_counter()
        status = 500

        async def capture_status(message: Message) -> None:
            nonlocal status
            status = _status_of(message, status)
            await send(message)

        HTTP_REQUESTS_IN_FLIGHT.inc()
        try:
            await next_app(scope, receive, capture_status)
        except Exception as exc:
            # Raised by inner middleware (authentication): the app's handler answers outside us.
            status = int(getattr(exc, "status_code", 500))
            raise
        finally:
            HTTP_REQUESTS_IN_FLIGHT.dec()
            _record(scope, status, time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()


def _record(scope: Scope, status: int, seconds: float | None) -> None:
    """One metric sample and one log line; `seconds` is None when no timing was possible."""
    method = scope.get("method", "")
    if seconds is None:
        route = "unmatched"
        HTTP_UNMATCHED_REQUESTS.labels(method, str(status)).inc()
    else:
        route = scope.get("path_template") or "unmatched"
        HTTP_REQUEST_DURATION.labels(method, route, str(status)).observe(seconds)
    user_id = scope.get("state", {}).get(USER_ID_STATE_KEY)
    log.info(
        "request",
        method=method,
        route=route,
        status=status,
        duration_ms=None if seconds is None else round(seconds * 1000, 2),
        user_id=str(user_id) if user_id else None,
        request_id=request_id_of(scope),
    )


def observe_unmatched(scope: Scope, exc: Exception) -> None:
    """Log and count requests the router rejected (404, 405): no middleware ran, so none timed them."""
    if "route_handler" in scope and scope.get("path_template"):
        return
    _record(scope, int(getattr(exc, "status_code", 500)), None)


async def add_response_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: security headers, X-Request-ID and a default no-store on every response."""
    if message["type"] != "http.response.start":
        return
    headers: list[Any] = list(message.get("headers", []))
    docs = scope.get("path", "").startswith("/schema")
    csp = _DOCS_CSP if docs else _API_CSP
    headers.extend(_SECURITY_HEADERS)
    # Nothing personal is cached by browsers or proxies unless a route sets its own policy.
    if not docs and not any(name.lower() == b"cache-control" for name, _ in headers):
        headers.append((b"cache-control", b"no-store"))
    headers.append((b"content-security-policy", csp.encode()))
    headers.append((REQUEST_ID_HEADER.encode(), request_id_of(scope).encode()))
    message["headers"] = headers
