"""The hostile-input corpus: malformed bodies, headers, query strings and path segments, made into raw
requests for every operation the app serves (tests/security/inventory.py), so a new route is swept as
soon as it exists.

A case is one kind of malformation; applied to an operation it gives a `RawRequest` (bytes as sent on
the wire), or None where it does not apply (a body case on a route that reads no body). The contract
every answer is held to is in `violation`: a 4xx problem with a detail, or the normal answer, never a
5xx. RELIABILITY.md lists the corpus.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.security.conftest import RawResponse
from tests.security.inventory import OPERATIONS, UNAUTHENTICATED_PREFIXES, Operation, concrete
from tests.security.raw_http import RawRequest
from tests.security.test_http_protocol import _with_nul_in_first_string
from tests.security.test_mass_assignment import BODIES

#: JSON bodies safe to send again and again with a hostile header, query or path: idempotent writes and
#: reads. The others (password change, erasure, refresh) get `{}`, which their validation refuses.
REPEATABLE = {
    "POST /v1/auth/register",
    "POST /v1/auth/login",
    "PATCH /v1/me",
    "PUT /v1/workouts/{workout_id}",
    "PUT /v1/routines/{routine_id}",
    "PUT /v1/exercises/{exercise_id}",
    "PUT /v1/bodyweight/{day}",
}
CSV = (
    b"Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,"
    b"Workout Notes,RPE\n"
    b'2024-11-26 18:05:00,"Push Day",1h 5m,"Bench Press (Barbell)",1,100,5,0,0,,,8\n'
)
BOUNDARY = b"hostile-boundary-7c1f"
LONG = 8000  # a header line just under nginx's 8 KiB buffers (ops/nginx.conf, RELIABILITY.md)


@dataclass(frozen=True)
class Caller:
    """Who sends the corpus: a signed-in account (`me`, as tests/accounts.py's sign_up returns it) with
    an access token that also holds the admin role, so that guarded routes are reached too."""

    me: dict[str, Any]
    #: A new access token each time: a corpus request may sign the account out everywhere (logout-all,
    #: a password change), which ends every token issued before it.
    mint: Callable[[], bytes]
    max_body_bytes: int

    @property
    def authorization(self) -> bytes:
        return self.mint()

    def valid_json(self, op: Operation) -> Any:
        return BODIES[op.label](self.me)

    def body(self, op: Operation) -> tuple[bytes, bytes] | None:
        """The Content-Type and body of a normal request on `op`."""
        if op.body == "application/json":
            value = self.valid_json(op) if op.label in REPEATABLE else {}
            return b"application/json", json.dumps(value).encode()
        if op.body == "multipart/form-data":
            return multipart(CSV)
        return None


def multipart(csv: bytes, *, boundary: bytes = BOUNDARY) -> tuple[bytes, bytes]:
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="strong.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + csv + b"\r\n--" + boundary + b"--\r\n"
    )
    return b"multipart/form-data; boundary=" + boundary, body


def target_of(op: Operation, query: bytes = b"", **path_values: object) -> bytes:
    """The request target of `op`: its path filled (by values already encoded), and `query`. The import
    route is a dry run, so that the corpus writes nothing there."""
    path = concrete(op.path, **path_values).encode("latin-1")
    if op.path == "/v1/imports":
        query = b"dryRun=true" + (b"&" + query if query else b"")
    if op.path == "/v1/leaderboards/{board}" and not query:
        query = b"period=2026-W48"
    return path + (b"?" + query if query else b"")


def request(
    op: Operation,
    caller: Caller,
    *,
    target: bytes | None = None,
    headers: dict[bytes, bytes] | None = None,
    body: tuple[bytes, bytes] | bool | None = True,
) -> RawRequest:
    """A normal request on `op` by `caller`, with what the case changes: `headers` replace or add
    (lower-case names), `body` is (Content-Type, bytes), or True for the normal body, or None."""
    sent = caller.body(op) if body is True else body or None
    fields: dict[bytes, bytes] = {b"authorization": caller.authorization}
    if sent is not None:
        fields[b"content-type"] = sent[0]
    fields.update(headers or {})
    return RawRequest(
        op.method,
        target if target is not None else target_of(op),
        tuple((name, value) for name, value in fields.items()),
        sent[1] if sent is not None else None,
    )


Build = Callable[[Operation, Caller], RawRequest | None]


@dataclass(frozen=True)
class Case:
    family: str  # body | header | query | path
    name: str
    build: Build

    @property
    def id(self) -> str:
        return f"{self.family}: {self.name}"

    def requests(self, caller: Caller) -> list[tuple[Operation, RawRequest]]:
        built = [(op, self.build(op, caller)) for op in OPERATIONS]
        return [(op, raw) for op, raw in built if raw is not None]


# --- bodies ---------------------------------------------------------------------------------------------


def _json_body(mutate: Callable[[bytes, Any, Caller], bytes | None]) -> Build:
    """A body case for the JSON routes: `mutate(valid bytes, valid value, caller)` gives the bytes sent."""

    def build(op: Operation, caller: Caller) -> RawRequest | None:
        if op.body != "application/json":
            return None
        value = caller.valid_json(op)
        sent = mutate(json.dumps(value).encode(), value, caller)
        return None if sent is None else request(op, caller, body=(b"application/json", sent))

    return build


def _in_first_string(raw: bytes) -> Callable[[bytes, Any, Caller], bytes | None]:
    """`raw` bytes put inside the body's first string value, as they are (no JSON escaping)."""

    def mutate(_: bytes, value: Any, __: Caller) -> bytes | None:
        changed = _with_nul_in_first_string(value)
        return None if changed is None else json.dumps(changed[0]).encode().replace(b"\\u0000", raw, 1)

    return mutate


_STRING_WITH_MARK = re.compile(rb'"(?:[^"\\]|\\.)*\\u0000(?:[^"\\]|\\.)*"')
_FIRST_NUMBER = re.compile(rb"(?<=[:\[,] )-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _instead_of_first_string(token: bytes) -> Callable[[bytes, Any, Caller], bytes | None]:
    def mutate(_: bytes, value: Any, __: Caller) -> bytes | None:
        changed = _with_nul_in_first_string(value)
        if changed is None:
            return None
        return _STRING_WITH_MARK.sub(lambda _: token, json.dumps(changed[0]).encode(), count=1)

    return mutate


def _instead_of_first_number(token: bytes) -> Callable[[bytes, Any, Caller], bytes | None]:
    def mutate(sent: bytes, _: Any, __: Caller) -> bytes | None:
        return _FIRST_NUMBER.sub(lambda _: token, sent, count=1) if _FIRST_NUMBER.search(sent) else None

    return mutate


def _with_field(raw: bytes) -> Callable[[bytes, Any, Caller], bytes | None]:
    """The body with one more member, written as `raw` (`"key": value`)."""
    return lambda sent, _, __: sent[:-1] + b", " + raw + b"}" if sent.endswith(b"}") else None


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _longest_string(sent: bytes, value: Any, caller: Caller) -> bytes | None:
    """The first string as long as the body limit allows: the body is then exactly the limit."""
    changed = _with_nul_in_first_string(value)
    if changed is None:
        return None
    skeleton = json.dumps(changed[0]).encode()
    room = caller.max_body_bytes - (len(skeleton) - len(b"\\u0000"))
    return skeleton.replace(b"\\u0000", b"a" * room, 1)


def _duplicate_first_key(sent: bytes, value: Any, _: Caller) -> bytes | None:
    if not isinstance(value, dict) or not value:
        return None
    key = next(iter(value))
    return sent[:-1] + b", " + json.dumps(key).encode() + b': {"other": [1]}}'


NUMBER_LITERALS = {
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "1e400": b"1e400",
    "-1e400": b"-1e400",
    "1e-400": b"1e-400",
    "a 400-digit integer": b"9" * 400,
    "a 5,000-digit integer": b"9" * 5000,
    "-0": b"-0",
    "hexadecimal": b"0x10",
    "a leading zero": b"012",
    "a leading plus": b"+1",
    "a bare fraction": b".5",
}

BODY_CASES = [
    Case("body", "nested 100,000 deep (arrays)", _json_body(lambda *_: _nested(100_000, "array"))),
    Case("body", "nested 100,000 deep (objects)", _json_body(lambda *_: _nested(100_000, "object"))),
    Case(
        "body",
        "nested 100,000 deep in a field",
        _json_body(_with_field(b'"x": ' + _nested(100_000, "array"))),
    ),
    Case("body", "nested 900 deep in a field", _json_body(_with_field(b'"x": ' + _nested(900, "object")))),
    Case("body", "nested 500 deep", _json_body(lambda *_: _nested(500, "array"))),
    Case("body", "invalid UTF-8 in a string", _json_body(_in_first_string(b"\xff\xfe"))),
    Case("body", "truncated UTF-8 sequence in a string", _json_body(_in_first_string(b"ab\xc3"))),
    Case("body", "overlong UTF-8 encoding in a string", _json_body(_in_first_string(b"\xc0\xaf"))),
    Case("body", "UTF-8 encoded surrogate in a string", _json_body(_in_first_string(b"\xed\xa0\x80"))),
    Case("body", "a lone surrogate escape", _json_body(_in_first_string(b"\\ud800"))),
    Case("body", "a raw control character in a string", _json_body(_in_first_string(b"\x01\x1f"))),
    Case("body", "invalid UTF-8 in a key", _json_body(_with_field(b'"\xff\xfe": 1'))),
    Case("body", "invalid UTF-8 outside strings", _json_body(lambda sent, *_: b"\xff" + sent)),
    Case("body", "a UTF-8 byte order mark", _json_body(lambda sent, *_: b"\xef\xbb\xbf" + sent)),
    Case(
        "body", "UTF-16 with a byte order mark", _json_body(lambda sent, *_: sent.decode().encode("utf-16"))
    ),
    Case("body", "truncated", _json_body(lambda sent, *_: sent[: len(sent) // 2])),
    Case("body", "empty", _json_body(lambda *_: b"")),
    Case("body", "only whitespace", _json_body(lambda *_: b" \r\n\t ")),
    Case("body", "a string as long as the body limit allows", _json_body(_longest_string)),
    *(
        Case("body", f"{name} as a number", _json_body(_instead_of_first_number(token)))
        for name, token in NUMBER_LITERALS.items()
    ),
    *(
        Case("body", f"{name} instead of a string", _json_body(_instead_of_first_string(token)))
        for name, token in NUMBER_LITERALS.items()
        if name in {"NaN", "1e400", "a 400-digit integer"}
    ),
    Case("body", "a duplicate key", _json_body(_duplicate_first_key)),
    *(
        Case("body", f"top level {name}", _json_body(lambda *_, raw=raw: raw))
        for name, raw in {
            "array": b"[]",
            "string": b'"text"',
            "number": b"1",
            "null": b"null",
            "true": b"true",
        }.items()
    ),
    Case("body", "top level array of the body", _json_body(lambda sent, *_: b"[" + sent + b"]")),
    Case("body", "trailing garbage", _json_body(lambda sent, *_: sent + b"x")),
    Case("body", "two documents", _json_body(lambda sent, *_: sent + sent)),
    Case("body", "single quotes", _json_body(lambda sent, *_: sent.replace(b'"', b"'"))),
    Case("body", "a comment", _json_body(lambda sent, *_: b"/* hi */" + sent)),
]


def _import_body(
    csv: Callable[[], bytes] | None = None,
    *,
    content_type: bytes | None = None,
    prefix: bytes = b"",
    cut: int | None = None,
) -> Build:
    """A body case for the import route (multipart): another CSV, or broken framing."""

    def build(op: Operation, caller: Caller) -> RawRequest | None:
        if op.body != "multipart/form-data":
            return None
        normal_type, body = multipart(csv() if csv else CSV)
        return request(op, caller, body=(content_type or normal_type, prefix + body[:cut]))

    return build


_TEN_MB_FIELD = 10 * 1024 * 1024

BODY_CASES += [
    Case("body", "import: invalid UTF-8 in the CSV", _import_body(lambda: CSV.replace(b"Push", b"\xff\xfe"))),
    Case("body", "import: a UTF-16 CSV", _import_body(lambda: CSV.decode().encode("utf-16"))),
    Case("body", "import: a CSV with a BOM", _import_body(lambda: b"\xef\xbb\xbf" + CSV)),
    Case(
        "body",
        "import: a 10 MB field within the limit",
        _import_body(lambda: CSV.replace(b"Push Day", b"P" * _TEN_MB_FIELD)),
    ),
    Case("body", "import: only a header line", _import_body(lambda: CSV.split(b"\n")[0] + b"\n")),
    Case("body", "import: no CSV at all", _import_body(lambda: b"\x00\x01\x02" * 100)),
    Case(
        "body",
        "import: a boundary that never comes",
        _import_body(content_type=b"multipart/form-data; boundary=nope"),
    ),
    Case("body", "import: no boundary", _import_body(content_type=b"multipart/form-data")),
    Case("body", "import: truncated", _import_body(cut=120)),
    Case("body", "import: garbage before the first part", _import_body(prefix=b"\xff" * 1000)),
]


# --- headers --------------------------------------------------------------------------------------------


def _header(name: bytes, value: bytes, *, body_only: bool = False) -> Build:
    def build(op: Operation, caller: Caller) -> RawRequest | None:
        if body_only and op.body is None:
            return None
        return request(op, caller, headers={name: value})

    return build


def _with_body(content_type: bytes, body: Callable[[Operation, Caller], bytes] | None = None) -> Build:
    """The normal body (or `body`) sent with another Content-Type."""

    def build(op: Operation, caller: Caller) -> RawRequest | None:
        normal = caller.body(op)
        if normal is None:
            return None
        return request(op, caller, body=(content_type, body(op, caller) if body else normal[1]))

    return build


def _latin1(op: Operation, caller: Caller) -> bytes:
    normal = caller.body(op)
    assert normal is not None
    return normal[1].replace(b"Lifter", b"L\xe9fter").replace(b"Push", b"P\xfcsh")


def _many_headers(count: int) -> Build:
    def build(op: Operation, caller: Caller) -> RawRequest | None:
        extra = {f"x-hostile-{n}".encode(): b"v" * 60 for n in range(count)}
        return request(op, caller, headers=extra)

    return build


_JWT_PART = b"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"
HEADER_VALUES: dict[bytes, dict[str, bytes]] = {
    b"authorization": {
        "over-long": b"Bearer " + b"a" * LONG,
        "three over-long segments": b"Bearer " + b".".join([b"e" * 2600] * 3),
        "non-ASCII bytes": b"Bearer \xff\xfe\xfd",
        "the scheme alone": b"Bearer",
        "an empty token": b"Bearer     ",
        "another scheme": b"Basic dXNlcjpwYXNzd29yZA==",
        "an unsigned token (alg none)": b"Bearer " + _JWT_PART + b".eyJzdWIiOiIxIn0.",
        "not base64": b"Bearer !!!.???.***",
    },
    b"if-match": {
        "over-long": b'"' + b"9" * LONG + b'"',
        "a 20-digit version": b'"99999999999999999999"',
        "a wildcard": b"*",
        "a weak tag": b'W/"1"',
        "a list": b'"1", "2"',
        "a negative version": b'"-1"',
        "non-ASCII bytes": b'"\xff"',
        "unterminated": b'"1',
    },
    b"if-none-match": {
        "over-long": b'"' + b"a" * LONG + b'"',
        "a thousand tags": b", ".join(b'"%d"' % n for n in range(1000)),
        "a wildcard": b"*",
        "non-ASCII bytes": b'"\xff"',
        "commas only": b",,,,",
    },
    b"x-consistency-token": {
        "20,000 digits": b"9" * 20_000,
        "2**53": str(2**53).encode(),
        "negative": b"-1",
        "a fraction": b"1.5",
        "an exponent": b"1e3",
        "hexadecimal": b"0x10",
        "a superscript digit": "\u00b2".encode("latin-1"),
        "over-long text": b"a" * LONG,
        "empty": b"",
    },
    b"x-forwarded-for": {
        "a thousand hops": b", ".join(b"10.0.%d.%d" % (n // 250, n % 250) for n in range(700)),
        "over-long": b"1" * LONG,
        "not addresses": b"unknown, [::1]:80, , ,",
        "non-ASCII bytes": b"\xff\xfe",
    },
    b"last-event-id": {
        "over-long": b"9" * LONG,
        "non-ASCII bytes": b"\xff",
        "negative": b"-1",
    },
    b"x-request-id": {
        "over-long": b"r" * LONG,
        "non-ASCII bytes": b"\xff\xfe",
        "spaces": b"a b c",
    },
    b"content-type": {
        "a charset of UTF-16": b"application/json; charset=utf-16",
        "an unterminated quoted parameter": b'application/json; charset="',
        "empty parameters": b"application/json;;;;",
        "an over-long parameter": b"application/json; x=" + b"y" * LONG,
        "a list of types": b"application/json, text/plain",
        "upper case": b"APPLICATION/JSON",
        "non-ASCII bytes": b"application/json; charset=\xff",
        "empty": b"",
    },
}

HEADER_CASES = [
    Case("header", f"{name.decode()}: {variant}", _header(name, value, body_only=name == b"content-type"))
    for name, variants in HEADER_VALUES.items()
    for variant, value in variants.items()
]
HEADER_CASES += [
    Case(
        "header",
        "content-type: latin-1 said and sent",
        _with_body(b"application/json; charset=latin-1", _latin1),
    ),
    Case(
        "header",
        "content-type: multipart with an over-long boundary",
        _with_body(b"multipart/form-data; boundary=" + b"b" * LONG),
    ),
    Case(
        "header",
        "authorization: twice",
        lambda op, caller: RawRequest(
            op.method,
            target_of(op),
            ((b"authorization", caller.authorization), (b"authorization", b"Bearer x")),
        ),
    ),
    Case("header", "60 more headers", _many_headers(60)),
]


# --- query strings --------------------------------------------------------------------------------------


def _query(make: Callable[[str], bytes]) -> Build:
    """The query `make(name)` builds, for each of the operation's parameters and a stray `q`, at once."""

    def build(op: Operation, caller: Caller) -> RawRequest | None:
        names = [*op.query_params, *(["q"] if "q" not in op.query_params else [])]
        query = b"&".join(make(name) for name in names)
        return request(op, caller, target=target_of(op, query, **_path_defaults(op)))

    return build


def _path_defaults(op: Operation) -> dict[str, object]:
    return {"board": "weekly-volume"} if "board" in op.path_params else {}


QUERY_VALUES: dict[str, bytes] = {
    "60,000 characters": b"a" * 60_000,
    "8,000 characters": b"a" * LONG,
    "a lone percent sign": b"%",
    "a bad percent escape": b"%zz",
    "a short percent escape": b"%2",
    "percent-encoded invalid UTF-8": b"%ff%fe",
    "a truncated percent-encoded sequence": b"%c3",
    "a percent-encoded surrogate": b"%ed%a0%80",
    "a percent-encoded NUL": b"%00",
    "raw non-ASCII bytes": b"\xff\xfe",
    "a plus and spaces": b"+%20+",
    "empty": b"",
    "a superscript digit": b"%C2%B2",
    "a huge integer": b"9" * 400,
    "a cursor of deep JSON": b"W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tb",
    # Well-formed cursors (core/cursors.py) of values no page ever ends on.
    "a cursor of a negative offset": b"LTE",
    "a cursor of a 22-digit offset": b"MTE4MDU5MTYyMDcxNzQxMTMwMzQyNA",
    "a cursor of a time without an offset": b"IjIwMjYtMDEtMDFUMDA6MDA6MDAi",
    "a cursor of a naive time and an id": (
        b"WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIl0"
    ),
    "a cursor at the calendar's first instant": (
        b"WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiwiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIl0"
    ),
}

QUERY_CASES = [
    Case("query", f"value: {name}", _query(lambda key, raw=raw: key.encode() + b"=" + raw))
    for name, raw in QUERY_VALUES.items()
]
QUERY_CASES += [
    Case("query", "a name without a value", _query(lambda key: key.encode())),
    Case("query", "each parameter twice", _query(lambda key: key.encode() + b"=1&" + key.encode() + b"=2")),
    Case(
        "query",
        "3,000 parameters",
        _query(lambda key: b"&".join(b"%s=%d" % (key.encode(), n) for n in range(3000))),
    ),
    Case("query", "3,000 distinct names", _query(lambda key: b"&".join(b"k%d=1" % n for n in range(3000)))),
    Case("query", "separators only", _query(lambda key: b"&&&;;;==&")),
    Case("query", "an encoded name", _query(lambda key: b"%ff%00=" + key.encode())),
]


# --- path segments --------------------------------------------------------------------------------------


def _segment(value: bytes) -> Build:
    """`value` as every path parameter of the operation at once (already percent-encoded)."""

    def build(op: Operation, caller: Caller) -> RawRequest | None:
        if not op.path_params:
            return None
        marker = uuid.uuid4().hex
        filled = target_of(op, **{name: marker for name in op.path_params})
        return request(op, caller, target=filled.replace(marker.encode(), value))

    return build


def _whole_path(change: Callable[[bytes], bytes]) -> Build:
    def build(op: Operation, caller: Caller) -> RawRequest | None:
        path, _, query = target_of(op, **_path_defaults(op)).partition(b"?")
        return request(op, caller, target=change(path) + (b"?" + query if query else b""))

    return build


PATH_VALUES: dict[str, bytes] = {
    "10,000 characters": b"a" * 10_000,
    "an encoded slash": b"a%2Fb",
    "encoded dot segments": b"..%2F..%2Fmetrics",
    "dot segments": b"..",
    "a lone percent sign": b"%",
    "a bad percent escape": b"%zz",
    "percent-encoded invalid UTF-8": b"%ff%fe",
    "a truncated percent-encoded sequence": b"%c3%28",
    "a right-to-left override": b"%E2%80%AE",
    "spaces": b"%20%20",
    "empty": b"",
    "an impossible date": b"2026-02-30",
    "a five-digit year": b"99999-01-01",
    "year 0": b"0000-01-01",
    "an almost-UUID": b"00000000-0000-0000-0000-00000000000g",
    "an upper-case UUID": str(uuid.uuid4()).upper().encode(),
}

PATH_CASES = [Case("path", f"segment: {name}", _segment(raw)) for name, raw in PATH_VALUES.items()]
PATH_CASES += [
    Case("path", "a trailing slash", _whole_path(lambda path: path + b"/")),
    Case("path", "doubled slashes", _whole_path(lambda path: path.replace(b"/", b"//"))),
    Case(
        "path", "an encoded slash in place of one", _whole_path(lambda path: path.replace(b"/v1/", b"/v1%2F"))
    ),
    Case("path", "a 60,000-character suffix", _whole_path(lambda path: path + b"/" + b"z" * 60_000)),
]

CASES = [*BODY_CASES, *HEADER_CASES, *QUERY_CASES, *PATH_CASES]


def violation(op: Operation, response: RawResponse) -> str | None:
    """What is wrong with an answer to hostile input, or None: a 5xx is, and so is a 4xx that is not
    an RFC 9457 problem with a detail (the documentation pages under /schema, Litestar's own, answer
    their 404 in HTML: there only a 5xx is wrong)."""
    status = response.status_code
    if status >= 500:
        return f"{status}: {response.text[:300]}"
    if status < 400 or op.path.startswith(UNAUTHENTICATED_PREFIXES):
        return None
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"{status} is not a problem: {response.headers.get('content-type')} {response.text[:200]}"
    detail = response.json().get("detail")
    if not isinstance(detail, str) or not detail.strip():
        return f"{status} problem without a detail: {response.text[:300]}"
    return None
