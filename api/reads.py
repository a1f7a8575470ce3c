"""Serving read-model bytes: ETag and 304, the consistency token, the projection version."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter
from litestar.response.base import ASGIResponse

from api.conditions import if_none_match
from api.responses import StoredResponse
from queries.readmodels import Absent, Served

#: The paging parameters every list takes: an opaque cursor and a page size of at most 100.
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, at most 100")]
Cursor = Annotated[str | None, QueryParameter(max_length=512, description="From the previous page")]

PROJECTION_VERSION = "X-Projection-Version"
CONSISTENCY = "X-Consistency"
_CACHE_POLICY = "private, no-cache"

#: The headers of every stored read, encoded once (ASGI header names are lower case).
_ETAG = b"etag"
_VERSION = PROJECTION_VERSION.lower().encode()
_CACHE_CONTROL = (b"cache-control", _CACHE_POLICY.encode())
_STALE = (CONSISTENCY.lower().encode(), b"stale")


def memory_key(request: Request[Any, Any, Any]) -> str:
    """What names a list read in the memory cache: its path and query, as sent."""
    query = request.scope.get("query_string", b"")
    return request.scope["path"] + ("?" + query.decode("latin-1") if query else "")


def found(answer: Served | Absent, detail: str) -> Served:
    """The document read, or the 404 problem saying `detail`: stale when the caller's writes were not
    all projected in time, so the thing may exist after all."""
    if isinstance(answer, Absent):
        raise NotFoundException(detail, headers={CONSISTENCY: "stale"} if answer.stale else None)
    return answer


def serve(request: Request[Any, Any, Any], served: Served) -> ASGIResponse:
    """The stored bytes as the body, or 304 when the client already has them.

    An ASGIResponse, not a Response: the body is bytes already and no layer adds headers or cookies,
    so Litestar's conversion of a Response into one would only cost time on every read."""
    headers = [
        (_ETAG, served.etag.encode("latin-1")),
        (_VERSION, str(served.version).encode()),
        _CACHE_CONTROL,
    ]
    if served.stale:
        headers.append(_STALE)
    if (wanted := if_none_match(request)) is not None and wanted.matches(served.etag):
        return StoredResponse(b"", headers, status_code=304)
    return StoredResponse(served.body, headers)
