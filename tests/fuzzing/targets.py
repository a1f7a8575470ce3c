"""The fuzz targets: each takes the fuzzer's bytes, feeds them to one parser of untrusted input, and
raises only when the parser breaks its contract (an exception other than the one it documents, or a
result it promises never to return). The parsers' own modules are listed for instrumentation.

`python -m tests.fuzzing TARGET` runs one under atheris; tests/test_parser_fuzzing.py replays the
seeds and every input that ever broke a target.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date

import msgspec
from litestar.exceptions import ClientException

from api.changes import MAX_VERSION
from api.conditions import parse_consistency_token, parse_if_match, parse_if_none_match
from commands.events import Workout
from commands.imports.parsers import ParsedFile, parse_csv
from core.cursors import decode_cursor, encode_cursor
from core.errors import InvalidInput
from projections.feed import FeedCursor
from queries.history import HistoryCursor
from queries.people import FollowCursor
from queries.routines import RoutineCursor

_UNITS = (None, "kg", "lb")
_ZONES = ("UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Kiritimati", "Nowhere/Else")
_CURSOR_TYPES: tuple[type, ...] = (FeedCursor, HistoryCursor, RoutineCursor, FollowCursor, str, int, date)
_WORKOUT = msgspec.json.Decoder(Workout)
_CURSOR_LENGTH = 512  # the longest cursor a list takes (api/reads.py)


class ContractBroken(AssertionError):
    """The parser answered in a way its contract rules out."""


def import_csv(data: bytes) -> None:
    """A Strong or Hevy export: the first byte picks the unit the user said and their zone."""
    choice, csv = (data[0], data[1:]) if data else (0, b"")
    try:
        parsed = parse_csv(csv, weight_unit=_UNITS[choice % 3], timezone=_ZONES[(choice // 3) % len(_ZONES)])
    except InvalidInput:
        return
    if not isinstance(parsed, ParsedFile):
        raise ContractBroken(f"parse_csv returned {parsed!r}")
    for problem in (*parsed.errors, *parsed.warnings):
        if problem.line < 1:
            raise ContractBroken(f"a problem on line {problem.line}")
    for item in parsed.workouts:
        # What the import then writes must be a workout the API itself would accept.
        _WORKOUT.decode(msgspec.json.encode(item.workout))
        if len(item.exercise_names) != len(item.workout.exercises):
            raise ContractBroken("exercise names and exercises differ in number")


def cursor(data: bytes) -> None:
    """A list cursor from the query string: the first byte picks the type the list reads and whether
    the rest is sent as it is or base64url-encoded (so that the fuzzer reaches the JSON inside)."""
    choice, rest = (data[0], data[1:]) if data else (0, b"")
    type_ = _CURSOR_TYPES[(choice >> 1) % len(_CURSOR_TYPES)]
    raw = base64.urlsafe_b64encode(rest).rstrip(b"=") if choice & 1 else rest
    text = raw.decode("utf-8", errors="replace")[:_CURSOR_LENGTH]
    try:
        value = decode_cursor(text, type_)
    except InvalidInput as refused:
        if refused.field != "cursor":
            raise ContractBroken(f"refused naming {refused.field!r}") from None
        return
    if decode_cursor(encode_cursor(value), type_) != value:
        raise ContractBroken(f"{value!r} does not survive a round trip")


def consistency_token(data: bytes) -> None:
    """An X-Consistency-Token header value, as Litestar hands it over (latin-1)."""
    text = data.decode("latin-1")
    try:
        version = parse_consistency_token(text)
    except InvalidInput:
        return
    if not 0 <= version <= MAX_VERSION or str(version) != (text.strip().lstrip("0") or "0"):
        raise ContractBroken(f"{text!r} read as {version}")


def conditional_headers(data: bytes) -> None:
    """An If-Match or If-None-Match value (latin-1, as Litestar hands it over): refused only with a
    ClientException (400); what is read is what a re-written list of the same tags reads as again."""
    text = data.decode("latin-1")
    try:
        wanted = parse_if_match(text)
        none_match = parse_if_none_match(text)
    except ClientException:
        return
    if wanted.any != none_match.any or (wanted.any and (wanted.versions or none_match.tags)):
        raise ContractBroken(f"{text!r}: `*` read as {wanted!r} and {none_match!r}")
    if any(not 0 <= version < 10**9 for version in wanted.versions):
        raise ContractBroken(f"{text!r} names version(s) {sorted(wanted.versions)}")
    if not wanted.any:
        rewritten = ", ".join(sorted(none_match.tags))
        if parse_if_none_match(rewritten) != none_match:
            raise ContractBroken(f"{text!r}: its tags {rewritten!r} read otherwise")
        strong = ", ".join(f'"{version}"' for version in sorted(wanted.versions))
        if strong and parse_if_match(strong) != wanted:
            raise ContractBroken(f"{text!r}: its versions {strong!r} read otherwise")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "import_csv": import_csv,
    "cursor": cursor,
    "consistency_token": consistency_token,
    "conditional_headers": conditional_headers,
}
