"""RFC 9457 problem details: the one exception handler every error goes through."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from api.request_context import observe_unmatched, request_id_of
from core.errors import Conflict, DomainError, Gone, InvalidInput, NotFound, VersionMismatch
from core.structs import ResponseBody

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
_MSGSPEC_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED_FIELD = re.compile(r"^Object (?:contains unknown|missing required) field `(?P<name>[^`]+)`$")
_MISSING_PARAMETER = re.compile(r"^Missing required \w+ parameter '(?P<name>[^']+)'")


class FieldError(ResponseBody):
    field: str
    message: str


class Problem(ResponseBody):
    title: str
    status: int
    type: str = "about:blank"
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


def problem_spec(status: int) -> ResponseSpec:
    """The OpenAPI entry of a problem answered with `status`."""
    return ResponseSpec(
        generate_examples=False,
        data_container=Problem,
        media_type=PROBLEM_JSON,
        description=HTTPStatus(status).phrase,
    )


def problem_specs(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems a route answers with (400 always: malformed input)."""
    return {status: problem_spec(status) for status in sorted({400, *statuses})}


def document_common_problems(
    handler: HTTPRouteHandler, *, authenticated: bool, takes_input: bool, reads_body: bool, in_path: bool
) -> None:
    """Add to `handler`'s OpenAPI responses the problems the shared machinery answers with: 401 from
    authentication, 403 from role guards, 400 and 422 from parsing and validation, 404 for a path whose
    parameter is not of its type, 413 and 415 for bodies. Responses the handler documents are kept."""
    statuses = {401} if authenticated else set()
    if handler.resolve_guards():
        statuses.add(403)
    if takes_input or reads_body or in_path:
        statuses |= {400, 422}
    if in_path:
        statuses.add(404)
    if reads_body:
        statuses |= {413, 415}
    if statuses:
        common = {status: problem_spec(status) for status in sorted(statuses)}
        handler.responses = {**common, **(handler.responses or {})}


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    *,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[bytes]:
    """Render a problem+json response for `request`."""
    problem = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=request_id_of(request.scope),
        errors=errors,
    )
    body = msgspec.json.encode(problem)
    if extra:
        body = body[:-1] + b"," + msgspec.json.encode(extra)[1:]
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_errors_of(exc: ValidationException) -> list[FieldError]:
    """The fields at fault, as dotted paths into the body (`exercises[2].sets[0].reps`) or param names."""
    cause = exc.__cause__
    if isinstance(cause, msgspec.ValidationError):
        match = _MSGSPEC_PATH.match(str(cause))
        if match:
            message, path = match["message"], match["path"] or ""
            if path.startswith(".data"):
                path = path[len(".data") :]
            named = _NAMED_FIELD.match(message)
            if named:
                path = f"{path}.{named['name']}"
            field = path.lstrip(".") or "body"
            if field == "data":  # no body at all: Litestar names its own parameter
                return [FieldError(field="body", message="A JSON body is required.")]
            return [FieldError(field=field, message=message)]
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append(FieldError(field=str(item.get("key") or "body"), message=str(item.get("message"))))
    if not errors and (missing := _MISSING_PARAMETER.match(str(exc.detail))):
        return [FieldError(field=missing["name"], message=f"{missing['name']} is required.")]
    return errors or [FieldError(field="body", message=str(exc.detail))]


def _is_malformed_body(exc: HTTPException) -> bool:
    return exc.status_code == 400 and (
        type(exc.__cause__).__name__ == "SerializationException"
        or str(exc.detail).startswith("JSON is malformed")
    )


_DOMAIN_STATUS: dict[type[DomainError], int] = {InvalidInput: 422, Conflict: 409, NotFound: 404, Gone: 410}
#: Postgres unreachable or its connection lost: a fast 503, never a stack trace.
_UNAVAILABLE = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionFailureError,
)


#: Postgres refusing text it cannot store (a NUL character in `text` or `jsonb`): bad input, not a fault.
_UNSTORABLE_TEXT = (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)


def _domain_problem(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    if isinstance(exc, VersionMismatch):
        return problem_response(
            request,
            412 if exc.stale else 409,
            detail=exc.message,
            extra={"currentVersion": exc.current_version},
            headers={"ETag": f'"{exc.current_version}"'},
        )
    status = next((s for kind, s in _DOMAIN_STATUS.items() if isinstance(exc, kind)), 400)
    errors = [FieldError(field=exc.field, message=exc.message)] if exc.field else None
    return problem_response(request, status, detail=exc.message, errors=errors)


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Map every exception to a problem; never leak a stack trace to the client."""
    observe_unmatched(request.scope, exc)
    if isinstance(exc, DomainError):
        return _domain_problem(request, exc)
    if isinstance(exc, ValidationException):
        return problem_response(request, 422, detail="The request is not valid.", errors=field_errors_of(exc))
    if isinstance(exc, HTTPException):
        if _is_malformed_body(exc):
            return problem_response(request, 400, detail="The request body is not valid JSON.")
        status = exc.status_code
        detail = exc.detail if exc.detail and exc.detail != HTTPStatus(status).phrase else None
        headers = dict(exc.headers or {})
        return problem_response(request, status, detail=detail, headers=headers or None)
    return _unexpected_problem(request, exc)


def _unexpected_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Errors from below the HTTP layer: text Postgres refuses, a backing service away, or a bug."""
    if isinstance(exc, _UNSTORABLE_TEXT):
        # The inputs are checked at the edge (api/inputs.py); this catches text that got in another way.
        log.warning("unstorable_text", error=repr(exc))
        return problem_response(request, 422, detail="Text must not contain the NUL character (U+0000).")
    if isinstance(exc, _UNAVAILABLE):
        log.warning("service_unavailable", error=repr(exc))
        return problem_response(
            request,
            503,
            detail="A backing service is unavailable; retry shortly.",
            headers={"Retry-After": "1"},
        )
    log.exception("unhandled_exception", error=repr(exc))
    return problem_response(request, 500, detail="An unexpected error occurred.")
