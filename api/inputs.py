"""Text Postgres cannot store: a NUL character (U+0000) anywhere in a request is a 422 naming where.

JSON may carry `\\u0000` and URLs `%00`, but Postgres refuses NUL in `text` and in `jsonb`; checked here,
at the edge, every route refuses it alike instead of failing in whatever query first meets it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import SerializationException, ValidationException

from api.media_types import declared_media_type

NUL = "\x00"
MESSAGE = "must not contain the NUL character (U+0000)"


def nul_fields(value: Any, path: str = "") -> Iterator[str]:
    """The paths (`exercises[2].notes`) of the strings holding a NUL in decoded JSON."""
    if isinstance(value, str):
        if NUL in value:
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                yield where
            else:
                yield from nul_fields(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nul_fields(item, f"{path}[{index}]")


async def refuse_nul_characters(request: Request[Any, Any, Any]) -> None:
    """`before_request` hook: a 422 for a NUL in a path parameter, a query parameter or a JSON body."""
    fields = [name for name, value in request.path_params.items() if isinstance(value, str) and NUL in value]
    fields += [name for name, value in request.query_params.multi_items() if NUL in name or NUL in value]
    if declared_media_type(request.route_handler) == RequestEncodingType.JSON.value and await request.body():
        with contextlib.suppress(SerializationException):  # malformed: the body's parsing answers 400
            fields += nul_fields(await request.json())
    if fields:
        raise ValidationException(
            f"The request {MESSAGE}.", extra=[{"key": field, "message": MESSAGE} for field in fields]
        )
