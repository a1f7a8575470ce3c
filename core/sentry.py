"""Optional error tracking with Sentry: off unless SENTRY_DSN is set, and never sends personal data.

Events carry the request id and the user id (as a tag and as the user's only field). Request bodies,
cookies, query strings and credentials are dropped; email addresses, bearer tokens and JWTs are
masked wherever they appear in an event, such as an exception's message or a log breadcrumb.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sentry_sdk
import structlog
from sentry_sdk.integrations import Integration
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.transport import Transport
from sentry_sdk.types import Event, Hint

from core.errors import DomainError
from core.settings import Settings

FILTERED = "[Filtered]"
REQUEST_ID_TAG = "request_id"
USER_ID_TAG = "user_id"

# Keys (lowercased, '-' as '_') whose values are dropped wherever they appear in an event.
_SENSITIVE_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "credential",
    "api_key",
)
_SENSITIVE_KEYS = frozenset(
    {
        "email",
        "handle",
        "display_name",
        "displayname",
        "ip_address",
        "remote_addr",
        "x_forwarded_for",
        "x_real_ip",
        "forwarded",
        "dsn",
    }
)
# Parts of an event's request that may hold what a user sent: never kept.
_DROPPED_REQUEST_PARTS = ("data", "cookies", "query_string", "env")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _sensitive(key: str) -> bool:
    normalised = key.lower().replace("-", "_")
    return normalised in _SENSITIVE_KEYS or any(part in normalised for part in _SENSITIVE_PARTS)


def _mask(text: str) -> str:
    text = _JWT.sub(FILTERED, text)
    text = _BEARER.sub(rf"\1 {FILTERED}", text)
    return _EMAIL.sub(FILTERED, text)


def scrub(value: Any) -> Any:
    """`value` without sensitive keys, and with emails, bearer tokens and JWTs masked in its strings."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not (isinstance(k, str) and _sensitive(k))}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return _mask(value)
    return value


def _context_ids(event: dict[str, Any]) -> tuple[str | None, str | None]:
    """The request and user ids: from the log context (bound per request and per message) or the scope."""
    bound = structlog.contextvars.get_contextvars()
    tags = event.get("tags") or {}
    user = event.get("user") or {}
    request_id = bound.get("request_id") or tags.get(REQUEST_ID_TAG)
    user_id = bound.get("user_id") or tags.get(USER_ID_TAG) or user.get("id")
    return (str(request_id) if request_id else None), (str(user_id) if user_id else None)


def before_send(event: Event, hint: Hint) -> Event | None:
    """Tag the event with the request and user ids, then strip everything personal from it.

    Domain errors are refusals answered with a 4xx problem, not faults: they are not reported.
    """
    exc_info = hint.get("exc_info")
    if exc_info and isinstance(exc_info[1], DomainError):
        return None
    raw: dict[str, Any] = dict(event)
    request_id, user_id = _context_ids(raw)
    request = raw.get("request")
    if isinstance(request, dict):
        raw["request"] = {k: v for k, v in request.items() if k not in _DROPPED_REQUEST_PARTS}
    cleaned: dict[str, Any] = scrub(raw)
    tags = dict(cleaned.get("tags") or {})
    if request_id:
        tags[REQUEST_ID_TAG] = request_id
    if user_id:
        tags[USER_ID_TAG] = user_id
        cleaned["user"] = {"id": user_id}
    else:
        cleaned.pop("user", None)
    cleaned["tags"] = tags
    return cleaned  # type: ignore[return-value]


def init_error_tracking(
    settings: Settings,
    *,
    integrations: Sequence[Integration],
    ignore_loggers: Sequence[str] = (),
    transport: Transport | None = None,
) -> bool:
    """Start Sentry in this process when SENTRY_DSN is set; True when it is (or already was) running.

    Call before the framework objects the integrations hook into are built (the Litestar app,
    the Dramatiq broker). Without a DSN nothing is initialised at all. `transport` is for tests.
    `ignore_loggers` name loggers whose errors are already reported as exceptions.
    """
    config = settings.sentry
    if config.dsn is None:
        return False
    if sentry_sdk.get_client().is_active():
        return True
    sentry_sdk.init(
        dsn=config.dsn,
        environment=config.environment or settings.env,
        traces_sample_rate=config.traces_sample_rate or None,
        # send_default_pii is left unset, which means False (sentry-sdk 2.75 deprecates passing it).
        include_local_variables=False,
        max_request_body_size="never",
        integrations=list(integrations),
        auto_enabling_integrations=False,
        before_send=before_send,
        before_send_transaction=before_send,
        transport=transport,
    )
    for name in ignore_loggers:
        ignore_logger(name)
    return True


def tag_scope(*, request_id: str | None, user_id: str | None) -> None:
    """Put the ids of what this thread is working on (a worker's message) on its Sentry scope."""
    if not sentry_sdk.get_client().is_active():
        return
    scope = sentry_sdk.get_isolation_scope()
    for tag, value in ((REQUEST_ID_TAG, request_id), (USER_ID_TAG, user_id)):
        if value:
            scope.set_tag(tag, value)
        else:
            scope.remove_tag(tag)
    scope.set_user({"id": user_id} if user_id else None)
