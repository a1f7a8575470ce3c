"""The request headers that make a request conditional (RFC 9110 §13) or name a version of the read
models: If-Match, If-None-Match, X-Consistency-Token, and Last-Event-ID on the event stream. Parsed
here and nowhere else, declared in the OpenAPI schema from here too.

A malformed If-Match or If-None-Match is a 400 problem saying what was expected; a well-formed one that
names no current version fails its precondition (412 on writes, an ordinary 200 on reads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException
from litestar.openapi.spec import Parameter, Schema

from api.changes import MAX_VERSION
from commands.versioning import IfMatch
from core.errors import InvalidInput

IF_MATCH = "If-Match"
IF_NONE_MATCH = "If-None-Match"
CONSISTENCY_TOKEN = "X-Consistency-Token"  # noqa: S105 - a header name
LAST_EVENT_ID = "Last-Event-ID"

#: RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E (obs-text left out:
#: no tag of ours holds it); lists are comma-separated with optional whitespace (§5.6.1).
_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
_TAG_LIST = rf"(?:\*|{_TAG}(?:[ \t]*,[ \t]*{_TAG})*)"
#: `$(?!\n)`: see the patterns of commands/accounts.py (Python's `$` also matches before a final newline).
TAG_LIST_PATTERN = rf"^[ \t]*{_TAG_LIST}[ \t]*$(?!\n)"
_TAGS = re.compile(TAG_LIST_PATTERN)
_ONE_TAG = re.compile(r"(W/)?\"([\x21\x23-\x7e]*)\"")
#: Our ETags are versions: "<n>", n a whole number of at most 9 digits (api/writes.py, queries).
_VERSION = re.compile(r"[1-9][0-9]{0,8}|0")
#: ASCII digits only (`str.isdigit` takes "²" too), and few enough that int() is cheap and always allowed.
_STREAM_VERSION = re.compile(r"[0-9]{1,16}")
CONSISTENCY_TOKEN_PATTERN = r"^[ \t]*[0-9]{1,16}[ \t]*$(?!\n)"  # noqa: S105 - a pattern


def parse_entity_tags(raw: str, header: str) -> list[tuple[bool, str]] | None:
    """The tags `raw` lists, each (weak, the tag in its quotes), or None for `*`; a 400 problem when it is
    neither."""
    if not _TAGS.match(raw):
        raise ClientException(
            f'{header} must be "*" or a comma-separated list of entity tags such as "3" or W/"3".'
        )
    if raw.strip() == "*":
        return None
    return [(weak == "W/", f'"{opaque}"') for weak, opaque in _ONE_TAG.findall(raw)]


def parse_if_match(raw: str) -> IfMatch:
    """If-Match as a precondition on a version: weak tags and tags that are not versions match none."""
    tags = parse_entity_tags(raw, IF_MATCH)
    if tags is None:
        return IfMatch(any=True)
    versions = frozenset(int(tag[1:-1]) for weak, tag in tags if not weak and _VERSION.fullmatch(tag[1:-1]))
    return IfMatch(versions=versions)


@dataclass(frozen=True)
class IfNoneMatch:
    """If-None-Match on a read: `*` (any current representation) or tags, compared weakly (§13.1.2)."""

    any: bool = False
    tags: frozenset[str] = frozenset()

    def matches(self, etag: str) -> bool:
        return self.any or etag.removeprefix("W/") in self.tags


def parse_if_none_match(raw: str) -> IfNoneMatch:
    tags = parse_entity_tags(raw, IF_NONE_MATCH)
    if tags is None:
        return IfNoneMatch(any=True)
    return IfNoneMatch(tags=frozenset(tag for _, tag in tags))


def parse_consistency_token(raw: str) -> int:
    """The stream version an X-Consistency-Token names; InvalidInput (422) when it names none."""
    return _stream_version(raw, CONSISTENCY_TOKEN)


def parse_last_event_id(raw: str) -> int:
    """The stream version a Last-Event-ID names (the `id:` of the stream's events); InvalidInput (422)
    when it names none."""
    return _stream_version(raw, LAST_EVENT_ID)


def _stream_version(raw: str, header: str) -> int:
    text = raw.strip()
    if _STREAM_VERSION.fullmatch(text) and (version := int(text)) <= MAX_VERSION:
        return version
    raise InvalidInput(
        f"{header} must be a stream version: a whole number from 0 to {MAX_VERSION}.", field=header
    )


def _header(request: Request[Any, Any, Any], name: bytes) -> str | None:
    """The first value of a request header (ASGI names are lower case), read from the scope as sent:
    every read asks for two of these headers, and Litestar's `request.headers` would first build a
    multidict of all of them."""
    for key, value in request.scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


_IF_MATCH = IF_MATCH.lower().encode()
_IF_NONE_MATCH = IF_NONE_MATCH.lower().encode()
_CONSISTENCY_TOKEN = CONSISTENCY_TOKEN.lower().encode()
_LAST_EVENT_ID = LAST_EVENT_ID.lower().encode()


def if_match(request: Request[Any, Any, Any]) -> IfMatch | None:
    """The request's If-Match precondition, or None without one."""
    raw = _header(request, _IF_MATCH)
    return None if raw is None else parse_if_match(raw)


def if_none_match(request: Request[Any, Any, Any]) -> IfNoneMatch | None:
    raw = _header(request, _IF_NONE_MATCH)
    return None if raw is None else parse_if_none_match(raw)


def consistency_token(request: Request[Any, Any, Any]) -> int | None:
    """The version a client wants to read at least, from X-Consistency-Token."""
    raw = _header(request, _CONSISTENCY_TOKEN)
    return None if raw is None else parse_consistency_token(raw)


def last_event_id(request: Request[Any, Any, Any]) -> int | None:
    """The version a reconnecting event stream last heard of, from Last-Event-ID."""
    raw = _header(request, _LAST_EVENT_ID)
    return None if raw is None else parse_last_event_id(raw)


# The OpenAPI declarations: routes name the headers they read in `opt` (CONDITIONAL_HEADERS), and the
# plugin adds them to each operation (api/plugin.py, api/schema_rules.py).

#: The key of a route's `opt` listing the headers of this module it reads.
CONDITIONAL_HEADERS = "conditional_headers"
#: Reads of read models: a 304 for a current copy, and the token of the caller's own writes.
READ_HEADERS = {CONDITIONAL_HEADERS: (IF_NONE_MATCH, CONSISTENCY_TOKEN)}
#: PUTs of versioned things.
WRITE_HEADERS = {CONDITIONAL_HEADERS: (IF_MATCH,)}


def _declared(name: str, pattern: str, description: str) -> Parameter:
    """An optional request header as the schema declares it: a string matching `pattern`."""
    schema = Schema(type="string", pattern=pattern)  # type: ignore[arg-type]
    return Parameter(name=name, param_in="header", required=False, description=description, schema=schema)


#: The headers as the OpenAPI schema declares them (api/schema_rules.py).
DECLARED_HEADERS = {
    IF_MATCH: _declared(
        IF_MATCH,
        TAG_LIST_PATTERN,
        'Change or delete only this version: its ETag (`"3"`), or `*` for whatever version is current. '
        "Needed to change a thing that exists, optional on DELETE (a thing already deleted stays a 204); "
        "a weak tag never matches; 412 when none matches.",
    ),
    IF_NONE_MATCH: _declared(
        IF_NONE_MATCH,
        TAG_LIST_PATTERN,
        "ETags of copies the client holds, or `*`: 304 without a body when one is current.",
    ),
    CONSISTENCY_TOKEN: _declared(
        CONSISTENCY_TOKEN,
        CONSISTENCY_TOKEN_PATTERN,
        "The X-Consistency-Token of a write of the caller's: the answer includes that write, waiting "
        "briefly for it, or says `X-Consistency: stale`.",
    ),
    LAST_EVENT_ID: _declared(
        LAST_EVENT_ID,
        CONSISTENCY_TOKEN_PATTERN,
        "On reconnecting, the `id:` of the last event heard: the stream then says what changed since "
        "(`ready` with `resumed`, then `projected` and `leaderboard` events) instead of asking for "
        "everything to be fetched again.",
    ),
}
