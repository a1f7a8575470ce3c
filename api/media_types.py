"""A request body is read only in the media type its route declares; any other is a 415 problem.

Litestar decodes a JSON body whatever its Content-Type says. Refusing the rest also keeps a browser's
"simple" cross-site requests (text/plain, form posts: no CORS preflight) away from the JSON routes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.types import Scope

_JSON = RequestEncodingType.JSON.value
#: RFC 9110 §15.5.16: the header that tells a client which media types the method takes.
_ACCEPT_HEADER = {"POST": "Accept-Post", "PATCH": "Accept-Patch"}


def declared_media_type(handler: Any) -> str | None:
    """The media type of the body `handler` reads (`data`), or None when it reads none."""
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return None
    media_type = getattr(data.kwarg_definition, "media_type", None) or RequestEncodingType.JSON
    return RequestEncodingType(media_type).value


def accepts(declared: str, content_type: str) -> bool:
    """Whether a body sent as `content_type` is one of `declared` (JSON also as `application/*+json`)."""
    mime = content_type.partition(";")[0].strip().lower()
    if declared == _JSON:
        return mime == _JSON or (mime.startswith("application/") and mime.endswith("+json"))
    return mime == declared


def has_body(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request with these headers sends a body (HTTP/1.1: a length above 0, or chunks)."""
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


def refuse_other_media_types(scope: Scope, declared: str, headers: dict[bytes, bytes]) -> None:
    """415 for a body whose Content-Type is not `declared`, the one the route reads; bodiless requests
    pass. Run by the request pipeline (api/request_context.py) on routes that read a body."""
    content_type = headers.get(b"content-type", b"").decode("latin-1")
    if has_body(headers.items()) and not accepts(declared, content_type):
        method = scope.get("method", "")
        raise HTTPException(
            status_code=415,
            detail=f"The request body must be {declared}.",
            headers={_ACCEPT_HEADER[method]: declared} if method in _ACCEPT_HEADER else None,
        )
