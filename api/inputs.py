"""What every request's input must be before a handler sees it, checked in one place at the edge.

- Text Postgres cannot store: a NUL character (U+0000) anywhere is a 422 naming where. JSON may carry
  `\\u0000` and URLs `%00`, but Postgres refuses NUL in `text` and in `jsonb`; every route refuses it alike
  instead of failing in whatever query first meets it.
- JSON bodies are decoded strictly: a string where the schema declares a number or a boolean is a 422
  naming the field. (Litestar converts its handlers' arguments with msgspec's `strict=False`, which
  would store `"5"` as 5; the body is converted here first, and Litestar keeps what it is given.)
- Query and path parameters are text by nature: each takes only the canonical text of its type
  (`limit=20`, not `20.0` or `1e1`; `dryRun=true`, not `1`; a UUID as 8-4-4-4-12 hex digits).
"""

from __future__ import annotations

import re
import types
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Union, get_args, get_origin

import msgspec
from litestar import Request
from litestar.constants import RESERVED_KWARGS
from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    ClientException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.params import CookieParameter, HeaderParameter, ParameterKwarg, PathParameter

from api.media_types import declared_media_type

NUL = "\x00"
MESSAGE = "must not contain the NUL character (U+0000)"


def nul_fields(value: Any) -> Iterator[str]:
    """The paths (`exercises[2].notes`) of the strings holding a NUL in decoded JSON, in document order.

    Walked with a stack of its own, not by recursion: a body may be nested as deeply as the decoder
    allows, and recursing as deep again from further down the call stack would overflow it."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                yield path or "body"
            continue
        if isinstance(item, dict):
            # A key holding a NUL is reported as its field, without looking inside the value.
            children = [
                (f"{path}.{key}" if path else str(key), NUL if NUL in str(key) else child)
                for key, child in item.items()
            ]
        elif isinstance(item, list):
            children = [(f"{path}[{index}]", child) for index, child in enumerate(item)]
        else:
            continue
        pending.extend(reversed(children))


async def decoded_json(request: Request[Any, Any, Any]) -> Any:
    """The JSON body, decoded once for this hook and the handler (Litestar keeps the value); None when it
    is malformed, which the handler's parsing answers with a 400.

    msgspec raises two errors of its own past its syntax errors: RecursionError for nesting deeper than
    the interpreter's recursion limit, UnicodeDecodeError for invalid UTF-8 inside a string. Both are the
    client's, so both are a 400 naming what was wrong, logged as a request like any other."""
    try:
        return await request.json()
    except SerializationException:
        return None
    except RecursionError:
        raise ClientException("The request body is nested too deeply to be read.") from None
    except UnicodeDecodeError:
        raise ClientException("The request body is not valid UTF-8: a string holds other bytes.") from None


async def refuse_unreadable_input(request: Request[Any, Any, Any]) -> None:
    """`before_request` hook: a 400 for a query string of raw bytes, a 422 for a NUL in a path parameter,
    a query parameter or a JSON body, for a body not of its declared types, or for a query parameter
    that is not the canonical text of its type; a 404 for a path parameter that is not."""
    scope = request.scope
    if (
        not scope["query_string"]
        and not scope["path_params"]
        and declared_media_type(scope["route_handler"]) is None
    ):
        return  # no query, no path parameter and no body read: nothing to check (the hot reads)
    if not scope["query_string"].isascii():
        # A URI is ASCII (RFC 3986); Litestar decodes the query as UTF-8 to name it in its own errors.
        raise ClientException("The query string must be ASCII: percent-encode anything else as UTF-8.")
    refuse_uncanonical_path(request)
    fields = [name for name, value in request.path_params.items() if isinstance(value, str) and NUL in value]
    fields += [name for name, value in request.query_params.multi_items() if NUL in name or NUL in value]
    decoded: Any = None
    json_body = declared_media_type(request.route_handler) == RequestEncodingType.JSON.value
    if json_body and await request.body():
        decoded = await decoded_json(request)
        fields += nul_fields(decoded)
    if fields:
        raise ValidationException(
            f"The request {MESSAGE}.", extra=[{"key": field, "message": MESSAGE} for field in fields]
        )
    refuse_uncanonical_query(request)
    if decoded is not None:
        await convert_strictly(request, decoded)


_INTEGER_AS_FLOAT = re.compile(r"Expected `int[^`]*`, got `float`")


async def convert_strictly(request: Request[Any, Any, Any], decoded: Any) -> None:
    """Convert the decoded JSON body to the type the handler declares, as strictly as msgspec decodes
    JSON; Litestar's own conversion then passes the result through unchanged."""
    data = request.route_handler.parsed_fn_signature.parameters["data"]
    try:
        body = msgspec.convert(decoded, data.annotation, strict=True)
    except msgspec.ValidationError as refused:
        if not _INTEGER_AS_FLOAT.match(str(refused)):
            raise ValidationException("The request body is not of its declared types.") from refused
        # JSON has numbers, not integers and floats: 5.0 is the integer 5 (JSON Schema says so too).
        try:
            body = msgspec.convert(integral_floats_as_ints(decoded), data.annotation, strict=True)
        except RecursionError:
            raise ClientException("The request body is nested too deeply to be read.") from None
        except msgspec.ValidationError as still:
            raise ValidationException("The request body is not of its declared types.") from still
    # What Request.json() returns from now on, for this request's handler (Litestar keeps it per request).
    request._json = request._connection_state.json = body


def integral_floats_as_ints(value: Any) -> Any:
    """`value` (decoded JSON) with every float that is a whole number, such as 5.0, as an int."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral_floats_as_ints(item) for item in value]
    return value


# Canonical text of query and path parameters.

#: The canonical text of each scalar type a query parameter may have; other types parse their own text.
_CANONICAL = {
    bool: (re.compile(r"true|false"), "true or false"),
    int: (re.compile(r"-?(?:0|[1-9][0-9]*)"), "a whole number in decimal digits, such as 20"),
    float: (
        re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"),
        "a number in decimal digits, such as 2.5",
    ),
}
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: Per route handler, its query parameters of a scalar type: (name in the query, type).
_SCALAR_QUERIES: dict[object, list[tuple[str, type]]] = {}


def _scalar_type(annotation: Any) -> type | None:
    members = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    scalars = [member for member in members if member in _CANONICAL]
    return scalars[0] if scalars else None


def _scalar_queries(handler: Any, path_names: Iterable[str]) -> list[tuple[str, type]]:
    known = _SCALAR_QUERIES.get(handler)
    if known is None:
        dependencies = handler.resolve_dependencies()
        known = []
        for name, field in handler.parsed_fn_signature.parameters.items():
            kwarg = field.kwarg_definition
            if name in RESERVED_KWARGS or name in dependencies:
                continue
            if isinstance(kwarg, HeaderParameter | CookieParameter | PathParameter) or (
                isinstance(kwarg, ParameterKwarg) and (kwarg.header or kwarg.cookie)
            ):
                continue
            scalar = _scalar_type(field.annotation)
            if scalar is not None and name not in path_names:
                query = (kwarg.name if isinstance(kwarg, ParameterKwarg) else None) or name
                known.append((query, scalar))
        _SCALAR_QUERIES[handler] = known
    return known


def refuse_uncanonical_query(request: Request[Any, Any, Any]) -> None:
    """A 422 naming each query parameter of a number or boolean type whose text is not canonical."""
    errors = []
    for name, scalar in _scalar_queries(request.route_handler, request.path_params):
        pattern, expected = _CANONICAL[scalar]
        for value in request.query_params.getall(name, ()):
            if not pattern.fullmatch(value):
                errors.append({"key": name, "message": f"must be {expected}"})
    if errors:
        raise ValidationException("A query parameter is not written as its type is.", extra=errors)


def refuse_uncanonical_path(request: Request[Any, Any, Any]) -> None:
    """A 404 (no such path) when a number or UUID in the path is not written canonically: the router reads
    them with Python's int() and UUID(), which also take `+5`, `5_0`, 32 bare hex digits, braces and a
    `urn:uuid:` prefix. (Dates it reads strictly already.)"""
    kinds = {
        name: kind
        for name, value in request.path_params.items()
        if (kind := "uuid" if isinstance(value, uuid.UUID) else "int" if type(value) is int else None)
    }
    if not kinds:
        return
    template = request.scope.get("path_template", "").split("/")
    for part, segment in zip(template, request.scope["path"].split("/"), strict=False):
        kind = kinds.get(part.strip("{}")) if part.startswith("{") else None
        if kind == "int" and not _CANONICAL[int][0].fullmatch(segment):
            expected = _CANONICAL[int][1]
        elif kind == "uuid" and not _UUID.fullmatch(segment):
            expected = "a UUID written as 8-4-4-4-12 hexadecimal digits"
        else:
            continue
        raise NotFoundException(f"Nothing is served at this path: {part.strip('{}')} must be {expected}.")
