"""The app's responses send what Litestar's would: the same status, headers (in order) and body."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Response as LitestarResponse
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.exceptions import ImproperlyConfiguredException
from litestar.response.base import ASGIResponse

from api.responses import EncodedResponse, Response, StoredResponse


class Body(msgspec.Struct):
    name: str
    reps: int


def sent(response: ASGIResponse) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return response.status_code, response.encode_headers(), response.body


CASES: list[dict[str, Any]] = [
    {},
    {"body": b'{"a":1}'},
    {"body": "text as str", "media_type": "text/plain"},
    {"body": b"<p>", "media_type": MediaType.HTML, "encoding": "latin-1"},
    {"body": b"{}", "media_type": "application/problem+json", "status_code": 422},
    {"body": b"{}", "headers": {"ETag": '"3"', "Cache-Control": "no-store"}},
    {"body": b"{}", "headers": [("X-A", "1"), ("x-a", "2"), ("Content-Type", "application/x-custom")]},
    {"body": b"{}", "headers": {"Content-Length": "99"}},
    {"body": b"abc", "content_length": 2},
    {"status_code": 204},
    {"body": b"null", "status_code": 204},
    {"status_code": 304, "headers": {"ETag": '"7"'}},
    {"body": b"", "is_head_response": True, "headers": {"X-Projection-Version": "4"}},
    {"body": b"{}", "cookies": [Cookie(key="a", value="b"), Cookie(key="doc", documentation_only=True)]},
]


@pytest.mark.parametrize("arguments", CASES)
def test_an_encoded_response_is_what_litestar_would_send(arguments: dict[str, Any]) -> None:
    assert sent(EncodedResponse(**arguments)) == sent(ASGIResponse(**arguments))


@pytest.mark.parametrize(
    "arguments",
    [
        {"body": b"x", "status_code": 204},
        {"body": b"x", "status_code": 304},
        {"body": b"x", "is_head_response": True},
        {"body": b"{}", "status_code": 101},
    ],
)
def test_a_body_where_none_may_be_is_refused_as_litestar_refuses_it(arguments: dict[str, Any]) -> None:
    with pytest.raises(ImproperlyConfiguredException):
        ASGIResponse(**arguments)
    with pytest.raises(ImproperlyConfiguredException):
        EncodedResponse(**arguments)


RESPONSES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"content": Body("squat", 5)}, {}),
    ({"content": b'{"status":"ok"}', "media_type": "application/json"}, {}),
    ({"content": "plain", "media_type": MediaType.TEXT}, {}),
    ({"content": None, "status_code": 204}, {}),
    (
        {"content": {"a": 1}, "status_code": 201, "headers": {"Location": "/v1/x", "ETag": '"1"'}},
        {"headers": {"Location": "/layer", "X-Layer": "y"}, "status_code": 200},
    ),
    ({"content": [1, 2]}, {"media_type": "application/problem+json", "status_code": 400}),
    (
        {"content": {"a": 1}, "cookies": [Cookie(key="c", value="1")]},
        {"cookies": [Cookie(key="d", value="2")]},
    ),
    ({"content": None}, {"is_head_response": True}),
    ({"content": b"x", "media_type": "text/csv; charset=utf-8"}, {}),
]


@pytest.mark.parametrize(("made", "sending"), RESPONSES)
def test_the_apps_response_sends_what_litestars_sends(made: dict[str, Any], sending: dict[str, Any]) -> None:
    ours = Response(**made).to_asgi_response(None, None, **sending)  # type: ignore[arg-type]
    theirs = LitestarResponse(**made).to_asgi_response(None, None, **sending)  # type: ignore[arg-type]
    assert isinstance(ours, EncodedResponse)
    assert sent(ours) == sent(theirs)


@pytest.mark.parametrize("status", [200, 304])
def test_a_stored_read_sends_what_an_asgi_response_would(status: int) -> None:
    headers = [
        (b"etag", b'"abc"'),
        (b"x-projection-version", b"12"),
        (b"cache-control", b"private, no-cache"),
    ]
    body = b'{"weeks":[]}' if status == 200 else b""
    theirs = ASGIResponse(
        body=body,
        status_code=status,
        media_type="application/json",
        headers=[(name.decode(), value.decode()) for name, value in headers],
    )
    assert sent(StoredResponse(b'{"weeks":[]}', list(headers), status_code=status)) == sent(theirs)
