"""RFC 9457 problem details: the one exception handler every error goes through."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Annotated, Any, Literal, cast, get_args

import asyncpg
import msgspec
import structlog
from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from api.request_context import observe_unmatched, request_id_of
from api.responses import Response
from core.errors import Conflict, DomainError, Gone, InvalidInput, NotFound, VersionMismatch
from core.structs import ResponseBody

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
_MSGSPEC_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED_FIELD = re.compile(r"^Object (?:contains unknown|missing required) field `(?P<name>[^`]+)`$")
_MISSING_PARAMETER = re.compile(r"^Missing required \w+ parameter '(?P<name>[^']+)'")


#: Every problem's `type` is one of these URIs, one per kind of problem, so a program can switch on it
#: (RFC 9457 §3.1.1: absolute, and not meant to be dereferenced). The kinds are stable: a new kind is
#: added, none is renamed. `about:blank` only for a status no kind covers.
PROBLEM_TYPE_PREFIX = "urn:ironlog:problem:"
ProblemType = Literal[
    "urn:ironlog:problem:malformed",
    "urn:ironlog:problem:unauthorized",
    "urn:ironlog:problem:forbidden",
    "urn:ironlog:problem:not-found",
    "urn:ironlog:problem:method-not-allowed",
    "urn:ironlog:problem:request-timeout",
    "urn:ironlog:problem:conflict",
    "urn:ironlog:problem:email-taken",
    "urn:ironlog:problem:handle-taken",
    "urn:ironlog:problem:link-required",
    "urn:ironlog:problem:last-sign-in",
    "urn:ironlog:problem:version-mismatch",
    "urn:ironlog:problem:gone",
    "urn:ironlog:problem:too-large",
    "urn:ironlog:problem:unsupported-media-type",
    "urn:ironlog:problem:validation",
    "urn:ironlog:problem:rate-limited",
    "urn:ironlog:problem:internal",
    "urn:ironlog:problem:unavailable",
    "about:blank",
]
PROBLEM_TYPES: frozenset[str] = frozenset(get_args(ProblemType))
#: The kind a status has unless the error names a narrower one.
_STATUS_KIND = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    408: "request-timeout",
    409: "conflict",
    410: "gone",
    412: "version-mismatch",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}
_TYPE_DESCRIPTION = (
    "The kind of problem, a stable URI to switch on: `urn:ironlog:problem:` and `malformed` (400: "
    "unreadable JSON or header), `unauthorized` (401), `forbidden` (403), `not-found` (404), "
    "`method-not-allowed` (405), `request-timeout` (408), `conflict` (409), `email-taken` and "
    "`handle-taken` (409, registration or profile), `link-required` (409: an account has the email of an "
    "ID token; its password links them), `last-sign-in` (409: unlinking the account's only way to sign in), "
    "`version-mismatch` (409 without If-Match, 412 with "
    "a stale one; `currentVersion`), `gone` (410: deleted), `too-large` (413), `unsupported-media-type` "
    "(415), `validation` (422; `errors` names the fields), `rate-limited` (429; `retryAfter`), "
    "`internal` (500), `unavailable` (503; `retryAfter`). `about:blank` for any other status."
)


def problem_type(status: int, kind: str | None = None) -> ProblemType:
    """The `type` of a problem: `kind` when given, else the status's kind, else `about:blank`."""
    kind = kind or _STATUS_KIND.get(status)
    uri = "about:blank" if kind is None else f"{PROBLEM_TYPE_PREFIX}{kind}"
    if uri not in PROBLEM_TYPES:
        raise ValueError(f"{uri} is not a documented problem type: add it to ProblemType")
    return cast(ProblemType, uri)


class FieldError(ResponseBody):
    field: str
    message: str


class Problem(ResponseBody):
    title: str
    status: int
    type: Annotated[ProblemType, msgspec.Meta(description=_TYPE_DESCRIPTION)] = "about:blank"
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class VersionProblem(Problem):
    """A 409 or 412 of a versioned thing: its current version (null when it does not exist)."""

    current_version: int | None = None


class RetryProblem(Problem):
    """A 429 or 503: the seconds to wait before trying again, as the Retry-After header says."""

    retry_after: int | None = None


def problem_spec(status: int) -> ResponseSpec:
    """The OpenAPI entry of a problem answered with `status`."""
    container: type[Problem] = Problem
    if status in (409, 412):
        container = VersionProblem
    elif status in (429, 503):
        container = RetryProblem
    return ResponseSpec(
        generate_examples=False,
        data_container=container,
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
    kind: str | None = None,
) -> Response[bytes]:
    """Render a problem+json response for `request`; its `type` from `kind` or the status. A Retry-After
    header in whole seconds is repeated as the member `retryAfter`."""
    retry_after = (headers or {}).get("Retry-After", "")
    if retry_after.isascii() and retry_after.isdigit():
        extra = {"retryAfter": int(retry_after), **(extra or {})}
    problem = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        type=problem_type(status, kind),
        detail=detail,
        instance=request.scope["path"],
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
#: Postgres unreachable, its connection lost, shut down under the request, or (during a failover) no
#: longer the primary: a fast 503 the client may retry with the same ids, never a stack trace.
_UNAVAILABLE = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # among them: no listed host is the primary (target_session_attrs)
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # shutting down, crashed, starting up
    asyncpg.ReadOnlySQLTransactionError,  # a host that is a standby now
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
            headers=None if exc.current_version is None else {"ETag": f'"{exc.current_version}"'},
            kind="version-mismatch",
        )
    status = next((s for kind, s in _DOMAIN_STATUS.items() if isinstance(exc, kind)), 400)
    errors = [FieldError(field=exc.field, message=exc.message)] if exc.field else None
    return problem_response(request, status, detail=exc.message, errors=errors, kind=exc.kind)


#: What a problem raised without a detail of its own says.
_DEFAULT_DETAIL = {
    404: "Nothing is served at this path: check it, and that each parameter in it has its documented form.",
    405: "{method} is not one of the methods this path takes (Allow lists them).",
    413: "The request body is larger than this route accepts.",
}


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
        if detail is None:  # the router's and the body limit's, which say no more than their title
            detail = _DEFAULT_DETAIL.get(status, "").format(method=request.method) or None
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
