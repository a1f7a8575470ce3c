"""The app's responses: Litestar's, with their headers encoded in one pass.

Litestar's `ASGIResponse` adds its default Content-Type and Content-Length through a case-insensitive
multidict, each a scan of the headers that decodes and lower-cases every name, twice; on a cheap route
that was a tenth of the process's own time per request. `EncodedResponse` builds the same headers in
the same order with one pass, and `Response` (the app's `response_class`, and what handlers that
answer a `Response` construct) turns into one. tests/test_responses.py holds both to Litestar's output.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from litestar import Request
from litestar import Response as LitestarResponse
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import MediaType
from litestar.exceptions import ImproperlyConfiguredException
from litestar.response.base import ASGIResponse
from litestar.serialization import get_serializer
from litestar.types import TypeEncodersMap
from litestar.utils.helpers import get_enum_string_value

T = TypeVar("T")

#: Statuses that carry no body (RFC 9110 §15.3.5, §15.4.5), as ASGIResponse has them.
_NO_BODY = frozenset({204, 304})
_CONTENT_TYPE = b"content-type"
_CONTENT_LENGTH = b"content-length"
_JSON = MediaType.JSON.value.encode()


class EncodedResponse(ASGIResponse):
    """An ASGIResponse whose headers are encoded as they are given: the same status, body and headers
    as ASGIResponse's constructor gives for the same arguments (its deprecated `encoded_headers` aside)."""

    __slots__ = ()

    def __init__(
        self,
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        body: bytes | str = b"",
        content_length: int | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoding: str = "utf-8",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
    ) -> None:
        body = body.encode() if isinstance(body, str) else body
        status_code = status_code or 200
        pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
        encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs]
        if content_length is None:
            content_length = len(body)
        if status_code in _NO_BODY or status_code < 200 or is_head_response:
            if body and body != b"null":
                raise ImproperlyConfiguredException(
                    "response content is not supported for HEAD responses and responses with a status code "
                    "that does not allow content (304, 204, < 200)"
                )
            body = b""
        else:
            names = {name for name, _ in encoded} if encoded else ()
            if _CONTENT_TYPE not in names:
                kind = get_enum_string_value(media_type or MediaType.JSON)
                if kind.startswith("text/"):
                    kind = f"{kind}; charset={encoding}"
                encoded.append((_CONTENT_TYPE, kind.encode("latin-1")))
            if self._should_set_content_length and _CONTENT_LENGTH not in names:
                encoded.append((_CONTENT_LENGTH, str(content_length).encode()))
        self._assign(
            encoded,
            body,
            status_code,
            content_length=content_length,
            background=background,
            cookies=tuple(
                cookie.to_encoded_header() for cookie in (cookies or ()) if not cookie.documentation_only
            ),
            encoding=encoding,
            is_head_response=is_head_response,
        )

    def _assign(
        self,
        encoded: list[tuple[bytes, bytes]],
        body: bytes,
        status_code: int,
        *,
        content_length: int,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: tuple[tuple[bytes, bytes], ...] = (),
        encoding: str = "utf-8",
        is_head_response: bool = False,
    ) -> None:
        """What ASGIResponse's constructor sets, from headers already encoded."""
        self.headers = MutableScopeHeaders({"headers": encoded})
        self.background = background
        self.body = body
        self.content_length = content_length
        self._encoded_cookies = cookies
        self.encoding = encoding
        self.is_head_response = is_head_response
        self.status_code = status_code


class StoredResponse(EncodedResponse):
    """Stored JSON bytes whose headers come encoded (names in lower case): what EncodedResponse gives
    for them with the JSON media type (a Content-Type and Content-Length, neither on a 304)."""

    __slots__ = ()

    def __init__(self, body: bytes, headers: list[tuple[bytes, bytes]], status_code: int = 200) -> None:
        if status_code in _NO_BODY:
            body = b""
        else:
            headers += ((_CONTENT_TYPE, _JSON), (_CONTENT_LENGTH, str(len(body)).encode()))
        self._assign(headers, body, status_code, content_length=len(body))


class Response(LitestarResponse[T]):
    """Litestar's Response, sent as an `EncodedResponse`."""

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        if app is not None or encoded_headers is not None:  # Litestar's deprecated arguments
            return super().to_asgi_response(
                app,
                request,
                background=background,
                cookies=cookies,
                encoded_headers=encoded_headers,
                headers=headers,
                is_head_response=is_head_response,
                media_type=media_type,
                status_code=status_code,
                type_encoders=type_encoders,
            )
        # The response's own headers, cookies and encoders win over the layers', as in Litestar.
        merged = {**headers, **self.headers} if headers is not None else self.headers
        every_cookie = self.cookies if cookies is None else itertools.chain(self.cookies, cookies)
        if type_encoders:
            type_encoders = {**type_encoders, **(self.response_type_encoders or {})}
        else:
            type_encoders = self.response_type_encoders
        kind = get_enum_string_value(self.media_type or media_type or MediaType.JSON)
        return EncodedResponse(
            background=self.background or background,
            body=self.render(self.content, kind, get_serializer(type_encoders)),
            cookies=every_cookie,
            encoding=self.encoding,
            headers=merged,
            is_head_response=is_head_response,
            media_type=kind,
            status_code=self.status_code or status_code,
        )
