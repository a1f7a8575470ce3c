"""Serving read-model bytes: ETag and 304, the consistency token, the projection version."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter

from api.writes import CONSISTENCY_TOKEN
from queries.readmodels import Served

#: The paging parameters every list takes: an opaque cursor and a page size of at most 100.
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, at most 100")]
Cursor = Annotated[str | None, QueryParameter(max_length=512, description="From the previous page")]

PROJECTION_VERSION = "X-Projection-Version"
CONSISTENCY = "X-Consistency"
_CACHE_POLICY = "private, no-cache"


def consistency_token(request: Request[Any, Any, Any]) -> int | None:
    """The version a client wants to read at least, from X-Consistency-Token."""
    raw = request.headers.get(CONSISTENCY_TOKEN)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise ValidationException(
            "X-Consistency-Token must be a stream version",
            extra=[{"key": CONSISTENCY_TOKEN, "message": "must be a whole number"}],
        )
    return int(raw.strip())


def memory_key(request: Request[Any, Any, Any]) -> str:
    """What names a list read in the memory cache: its path and query, as sent."""
    query = request.scope.get("query_string", b"")
    return request.scope["path"] + ("?" + query.decode("latin-1") if query else "")


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def serve(request: Request[Any, Any, Any], served: Served) -> Response[bytes]:
    """The stored bytes as the body, or 304 when the client already has them."""
    headers = {
        "ETag": served.etag,
        PROJECTION_VERSION: str(served.version),
        "Cache-Control": _CACHE_POLICY,
    }
    if served.stale:
        headers[CONSISTENCY] = "stale"
    if _matches(request.headers.get("if-none-match"), served.etag):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=served.body, media_type="application/json", headers=headers)
