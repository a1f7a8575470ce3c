"""Load generation against an Ironlog API on this machine: a small HTTP/1.1 keep-alive client, an open
model without coordinated omission, closed-loop saturation, and results as HdrHistograms rendered to
Markdown or to a JSON-able dict.

The generator shares the machine's cores with the server, so it is built to cost little per request:
asyncio Protocols instead of an HTTP library, request bytes encoded once when a kind's request is
static, and a response parser that reads only the status line, the framing headers and a few named
headers (`CAPTURED_HEADERS`). Loopback only: any host but 127.0.0.1, ::1 or localhost is refused.

Workload. A run is a weighted mix of named `Kind`s. Each kind gives its request, either a fixed
`Request` or a callable that builds one from a seeded `random.Random` (to pick a user, a token, a
workout per request). The kind of request i is drawn from a `random.Random` seeded with the run's
seed, so a seed always gives the same sequence of kinds (`choose_kinds` shows it). Which statuses
count as success is set per kind (`expect`, default 200-399: a 304 succeeds, a 404 is an error
unless listed). A kind may also have `on_response(response)`, called for each successful response,
and `follow_up(ctx, response)`, a coroutine started for each successful response, which may send
further requests through the same connections (`FollowUp.send`) and record into named extra
histograms (`FollowUp.record`), e.g. the lag until a write shows in a read.

Open model (`run_open`). Request i has an intended send time `start + (i + jitter * u_i) / rate`,
u_i uniform in [0, 1) from the seeded generator: constant spacing, optionally moved later by up to
`jitter` of an interval (jitter in [0, 1] keeps the order). The schedule does not wait for
responses. A request whose time has come goes out on an idle keep-alive connection; if none is idle,
a new one is opened while fewer than `max_connections` exist; past that cap the request waits its
turn (first come, first served). Latency is measured from the intended send time to the last byte
of the response, so time spent waiting behind a slow server, a full pool or a late scheduler counts
(no coordinated omission). The schedule ends at `requests` requests or at `duration_s` seconds,
whichever comes first; in-flight requests and follow-ups then get `drain_timeout_s`, and those
still running are cancelled and counted as "drain-timeout" errors. A request that has no response
`request_timeout_s` after its intended time is a "timeout" error. The event loop's timers
work in whole milliseconds, so a request never leaves before its intended time but may leave up to
a millisecond or two after it, and at rates above ~1000/s in small bursts; that lateness counts in
its latency (conservatively) and `RunResult.send_delay` reports it.

Saturation (`run_saturation`). `connections` workers, one keep-alive connection each, send back to
back. After `warmup_s`, requests sent and answered within the next `duration_s` are recorded; the
latency there is from the actual send to the last byte (a closed loop has no intended times).
Follow-ups are not started in this mode; `on_response` is called.

Results (`RunResult`). Per kind and overall: requests, successes, errors by unexpected status and
by exception, latency percentiles of successful requests (ms), and achieved against target rate.
The achieved rate counts responses of any status per second of the run: from the schedule's start to
the later of its nominal end (n / rate) and the last response, or the measuring window in saturation.
`render_markdown` and `to_dict` present them.

Run a coroutine with `run(...)`, which uses uvloop.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import time
from bisect import bisect
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar, cast

from hdrh.histogram import HdrHistogram

from core.processes import freeze_heap

__all__ = [
    "CAPTURED_HEADERS",
    "Client",
    "Disconnected",
    "FollowUp",
    "Kind",
    "KindResult",
    "Latency",
    "MeasureResult",
    "PreparedRequest",
    "ProtocolError",
    "Request",
    "Response",
    "RunResult",
    "choose_kinds",
    "loopback_address",
    "now_ns",
    "render_markdown",
    "run",
    "run_open",
    "run_saturation",
    "to_dict",
]

T = TypeVar("T")

CAPTURED_HEADERS: Final = ("x-consistency-token", "etag", "x-projection-version", "x-consistency", "location")
LOWEST_US: Final = 1
HIGHEST_US: Final = 60_000_000  # 60 s; longer latencies are recorded as 60 s
SIGNIFICANT_DIGITS: Final = 3
LOOPBACK_HOSTS: Final = {"127.0.0.1": "127.0.0.1", "::1": "::1", "localhost": "127.0.0.1"}

_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_MAX_HEAD: Final = 64 * 1024
_HEAD_END: Final = b"\r\n\r\n"
_CRLF: Final = b"\r\n"


def now_ns() -> int:
    """The clock of every time in this module: `time.perf_counter_ns()`."""
    return time.perf_counter_ns()


def loopback_address(host: str) -> str:
    """The address to connect to for `host`, which must be 127.0.0.1, ::1 or localhost (ValueError)."""
    try:
        return LOOPBACK_HOSTS[host]
    except KeyError:
        raise ValueError(
            f"the load generator only targets loopback (127.0.0.1, ::1, localhost), not {host!r}"
        ) from None


# --- requests and responses -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request; `Host` and `Content-Length` are added when it is encoded."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A request encoded for one client (`Client.prepare`), ready to be written as it is."""

    raw: bytes
    head_only: bool
    idempotent: bool


@dataclass(frozen=True, slots=True)
class Response:
    """A response read in full. `headers` holds only the captured headers, by lower-case name."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    sent_ns: int  # when the request's bytes were handed to the socket (`now_ns` clock)
    received_ns: int  # when the response's last byte was read

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class ProtocolError(Exception):
    """The server's bytes are not an HTTP/1.x response this client can read."""


class Disconnected(ConnectionError):
    """The connection closed before the response was complete."""

    def __init__(self, message: str, *, nothing_received: bool) -> None:
        super().__init__(message)
        self.nothing_received = nothing_received


def _check_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"line breaks are not allowed in a request line or header: {value!r}")
    return value


def _encode(request: Request, host_header: str) -> PreparedRequest:
    method = request.method.upper()
    lines = [f"{_check_line(method)} {_check_line(request.path)} HTTP/1.1", f"Host: {host_header}"]
    lines.extend(f"{_check_line(name)}: {_check_line(value)}" for name, value in request.headers.items())
    if request.body or method in _BODY_METHODS:
        lines.append(f"Content-Length: {len(request.body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body
    return PreparedRequest(raw=raw, head_only=method == "HEAD", idempotent=method in _IDEMPOTENT)


# --- response parser --------------------------------------------------------------------------

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER, _UNTIL_CLOSE = range(6)


class _Parser:
    """Reads one response at a time from the bytes fed to it."""

    def __init__(self, capture: frozenset[bytes]) -> None:
        self._capture = capture
        self._buf = bytearray()
        self._steps: tuple[Callable[[], bool], ...] = (
            self._read_head,
            self._read_length,
            self._read_chunk_size,
            self._read_chunk_data,
            self._read_trailer,
            self._read_until_close,
        )
        self.reset(head_only=False)

    def reset(self, *, head_only: bool) -> None:
        self._head_only = head_only
        self._state = _HEAD
        self._status = 0
        self._headers: dict[str, str] = {}
        self._size = 0  # bytes left in the body (Content-Length) or in the current chunk
        self._chunks: list[bytes] = []
        self._body: bytes | None = None
        self.received_any = False
        self.keep_alive = True

    @property
    def idle(self) -> bool:
        """Nothing left over: the connection can carry another request."""
        return not self._buf and self._state == _HEAD

    def feed(self, data: bytes) -> tuple[int, dict[str, str], bytes] | None:
        """Adds bytes; returns (status, captured headers, body) once a response is complete."""
        self.received_any = True
        self._buf += data
        while self._body is None:
            if not self._steps[self._state]():
                return None
        return self._complete()

    def feed_eof(self) -> tuple[int, dict[str, str], bytes] | None:
        """The connection closed: a body read up to the close ends here; anything else is cut short."""
        if self._state != _UNTIL_CLOSE:
            return None
        self._body = bytes(self._buf)
        self._buf.clear()
        return self._complete()

    def _complete(self) -> tuple[int, dict[str, str], bytes]:
        body = self._body if self._body is not None else b""
        result = (self._status, self._headers, body)
        self._state = _HEAD
        self._body = None
        return result

    def _read_head(self) -> bool:
        end = self._buf.find(_HEAD_END)
        if end < 0:
            if len(self._buf) > _MAX_HEAD:
                raise ProtocolError("response head larger than 64 KiB")
            return False
        lines = bytes(self._buf[:end]).split(_CRLF)
        del self._buf[: end + 4]
        status_line = lines[0]
        if not status_line.startswith(b"HTTP/1.") or len(status_line) < 12:
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        try:
            self._status = int(status_line[9:12])
        except ValueError:
            raise ProtocolError(f"bad status line: {status_line[:80]!r}") from None
        self.keep_alive = status_line[7:8] == b"1"  # HTTP/1.0 closes unless it says otherwise
        self._state = self._read_headers(lines)
        if self._state == _LENGTH and self._size == 0:
            self._body = b""
        return True

    def _read_headers(self, lines: list[bytes]) -> int:
        """Takes the header lines; returns the state that reads the body."""
        length = -1
        chunked = False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            raw_name, _, raw_value = line.partition(b":")
            name = raw_name.strip().lower()
            value = raw_value.strip()
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise ProtocolError(f"bad Content-Length: {value[:40]!r}") from None
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                token = value.lower()
                if b"close" in token:
                    self.keep_alive = False
                elif b"keep-alive" in token:
                    self.keep_alive = True
            if name in self._capture:
                headers[name.decode("latin-1")] = value.decode("latin-1")
        self._headers = headers
        if 100 <= self._status < 200:  # an interim response: the real one follows
            self._status = 0
            return _HEAD
        if self._head_only or self._status in (204, 304):
            self._size = 0
            return _LENGTH
        if chunked:
            return _CHUNK_SIZE
        if length >= 0:
            self._size = length
            return _LENGTH
        self.keep_alive = False
        return _UNTIL_CLOSE

    def _read_length(self) -> bool:
        if len(self._buf) < self._size:
            return False
        self._body = bytes(self._buf[: self._size])
        del self._buf[: self._size]
        return True

    def _read_chunk_size(self) -> bool:
        end = self._buf.find(_CRLF)
        if end < 0:
            if len(self._buf) > _MAX_HEAD:
                raise ProtocolError("chunk size line too long")
            return False
        line = bytes(self._buf[:end]).split(b";", 1)[0].strip()
        del self._buf[: end + 2]
        try:
            self._size = int(line, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size: {line[:40]!r}") from None
        self._state = _CHUNK_DATA if self._size else _TRAILER
        return True

    def _read_chunk_data(self) -> bool:
        if len(self._buf) < self._size + 2:
            return False
        if self._buf[self._size : self._size + 2] != _CRLF:
            raise ProtocolError("chunk not followed by CRLF")
        self._chunks.append(bytes(self._buf[: self._size]))
        del self._buf[: self._size + 2]
        self._state = _CHUNK_SIZE
        return True

    def _read_trailer(self) -> bool:
        end = self._buf.find(_CRLF)
        if end < 0:
            return False
        del self._buf[: end + 2]
        if end == 0:  # the empty line that ends the trailer
            self._body = b"".join(self._chunks)
            self._chunks = []
        return True

    def _read_until_close(self) -> bool:
        return False


# --- connections and the client ---------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, capture: frozenset[bytes]) -> None:
        self._loop = loop
        self._parser = _Parser(capture)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._sent_ns = 0
        self.closed = False
        self.uses = 0

    @property
    def reusable(self) -> bool:
        return not self.closed and self._waiter is None and self._parser.keep_alive and self._parser.idle

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # not TCP
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, prepared: PreparedRequest) -> asyncio.Future[Response]:
        if self._transport is None or self.closed:
            raise Disconnected("connection closed", nothing_received=True)
        waiter: asyncio.Future[Response] = self._loop.create_future()
        self._waiter = waiter
        self._parser.reset(head_only=prepared.head_only)
        self._sent_ns = time.perf_counter_ns()
        self._transport.write(prepared.raw)
        return waiter

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None:  # bytes nobody asked for: this connection can't be trusted any more
            self.close()
            return
        try:
            parsed = self._parser.feed(data)
        except ProtocolError as exc:
            self._waiter = None
            if not waiter.done():
                waiter.set_exception(exc)
            self.close()
            return
        if parsed is not None:
            self._resolve(waiter, parsed)

    def _resolve(self, waiter: asyncio.Future[Response], parsed: tuple[int, dict[str, str], bytes]) -> None:
        received = time.perf_counter_ns()
        self._waiter = None
        status, headers, body = parsed
        if not waiter.done():
            waiter.set_result(Response(status, headers, body, self._sent_ns, received))

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            self._waiter = None
            return
        parsed = self._parser.feed_eof()
        if parsed is not None:
            self._resolve(waiter, parsed)
            return
        self._waiter = None
        nothing = not self._parser.received_any
        error = Disconnected(
            f"connection closed before the response ended ({exc or 'EOF'})", nothing_received=nothing
        )
        waiter.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class Client:
    """Keep-alive HTTP/1.1 connections to one loopback server, at most `max_connections` at once.

    `send` takes an idle connection (the most recently used), else opens one while under the cap,
    else waits for one in arrival order. A connection closed by the server while idle is retried
    once on a fresh one for idempotent methods, as browsers do; everything else is raised.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_connections: int = 64,
        capture_headers: Iterable[str] = CAPTURED_HEADERS,
        connect_timeout_s: float = 5.0,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._address = loopback_address(host)
        self._port = port
        self._host_header = f"[{self._address}]:{port}" if ":" in self._address else f"{self._address}:{port}"
        self._capture = frozenset(name.lower().encode("latin-1") for name in capture_headers)
        self._max = max_connections
        self._connect_timeout_s = connect_timeout_s
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._count = 0  # open or opening
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self._closed = False
        self.connections_opened = 0

    @property
    def max_connections(self) -> int:
        return self._max

    def prepare(self, request: Request) -> PreparedRequest:
        """Encodes `request` once, for sending it many times."""
        return _encode(request, self._host_header)

    async def send(self, request: Request | PreparedRequest, *, timeout_s: float | None = None) -> Response:
        """Sends one request and reads its response in full; TimeoutError after `timeout_s`."""
        prepared = request if isinstance(request, PreparedRequest) else self.prepare(request)
        if timeout_s is None:
            return await self._send(prepared)
        async with asyncio.timeout(timeout_s):
            return await self._send(prepared)

    async def prewarm(self, connections: int) -> None:
        """Opens up to `connections` connections now, so a run doesn't pay for them."""
        wanted = min(connections, self._max) - self._count
        if wanted <= 0:
            return
        opened = await asyncio.gather(*(self._acquire() for _ in range(wanted)), return_exceptions=True)
        for conn in opened:
            if isinstance(conn, _Connection):
                self._release(conn)
        for error in opened:
            if isinstance(error, BaseException):
                raise error

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._all):
            conn.close()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectionError("client closed"))
        await asyncio.sleep(0)  # let the transports finish closing

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _send(self, prepared: PreparedRequest) -> Response:
        retried = False
        while True:
            conn = await self._acquire()
            reused = conn.uses > 0
            try:
                response = await conn.send(prepared)
            except Disconnected as exc:
                self._discard(conn)
                if reused and exc.nothing_received and prepared.idempotent and not retried:
                    retried = True
                    continue
                raise
            except BaseException:
                self._discard(conn)
                raise
            conn.uses += 1
            self._release(conn)
            return response

    async def _acquire(self) -> _Connection:
        while True:
            if self._closed:
                raise ConnectionError("client closed")
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
                self._forget(conn)
            if self._count < self._max:
                return await self._connect()
            waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    handed_late = waiter.result()  # handed over just as we gave up: pass it on
                    if handed_late is None:
                        self._wake(None)
                    else:
                        self._release(handed_late)
                elif waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
            if handed is not None and not handed.closed:
                return handed
            if handed is not None:
                self._forget(handed)

    async def _connect(self) -> _Connection:
        self._count += 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, self._capture), self._address, self._port
                )
        except BaseException:
            self._count -= 1
            self._wake(None)
            raise
        self.connections_opened += 1
        self._all.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        if self._closed or not conn.reusable:
            self._discard(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._forget(conn)
        self._wake(None)

    def _forget(self, conn: _Connection) -> None:
        if conn in self._all:
            self._all.discard(conn)
            self._count -= 1

    def _wake(self, conn: _Connection | None) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return


# --- workload ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    """What a kind's `follow_up` hook gets: the client, a seeded generator and named histograms."""

    kind: str
    intended_ns: int  # the originating request's intended send time (`now_ns` clock)
    rng: random.Random
    _client: Client = field(repr=False)
    _recorder: _Recorder = field(repr=False)
    _timeout_s: float = field(repr=False)

    async def send(self, request: Request | PreparedRequest, *, timeout_s: float | None = None) -> Response:
        """Sends through the run's connections (not recorded in the kinds' results)."""
        return await self._client.send(request, timeout_s=self._timeout_s if timeout_s is None else timeout_s)

    def record(self, name: str, latency_ns: int) -> None:
        """Adds a latency to the extra histogram `name` (reported in `RunResult.extras`)."""
        self._recorder.measure(name).record(latency_ns)

    def record_error(self, name: str, reason: str) -> None:
        """Counts a failure of the extra measure `name` under `reason`."""
        self._recorder.measure(name).errors[reason] += 1


RequestSource = Request | Callable[[random.Random], Request]


@dataclass(frozen=True)
class Kind:
    """A named kind of request in a workload.

    `request` is fixed, or built per request from a seeded `random.Random` (called in schedule
    order, so a seed gives the same requests). `expect` lists the statuses that succeed (default
    200-399). `on_response` and `follow_up` run for successful responses only; see the module doc.
    """

    name: str
    request: RequestSource
    weight: float = 1.0
    expect: Collection[int] | None = None
    on_response: Callable[[Response], None] | None = None
    follow_up: Callable[[FollowUp, Response], Awaitable[None]] | None = None

    def succeeded(self, status: int) -> bool:
        return 200 <= status < 400 if self.expect is None else status in self.expect


def choose_kinds(weights: Mapping[str, float], n: int, seed: int = 0) -> list[str]:
    """The first `n` kinds a run with these weights and seed sends, in order."""
    names = list(weights)
    picker = _Picker([weights[name] for name in names], seed)
    return [names[picker.next()] for _ in range(n)]


def _seeded(seed: int, purpose: str) -> random.Random:
    """A generator of its own for each use, so adding draws for one use moves no other."""
    return random.Random(f"{seed}:{purpose}")  # noqa: S311 - a reproducible workload, not secrets


class _Picker:
    def __init__(self, weights: Sequence[float], seed: int) -> None:
        if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("kind weights must be non-negative with a positive sum")
        self._rng = _seeded(seed, "kinds")
        self._cumulative: list[float] = []
        total = 0.0
        for weight in weights:
            total += weight
            self._cumulative.append(total)
        self._total = total
        self._last = len(weights) - 1

    def next(self) -> int:
        return min(bisect(self._cumulative, self._rng.random() * self._total), self._last)


# --- recording --------------------------------------------------------------------------------


def _histogram() -> Any:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def _record(histogram: Any, latency_ns: int) -> None:
    histogram.record_value(min(max(latency_ns // 1000, LOWEST_US), HIGHEST_US))


class _Measure:
    def __init__(self) -> None:
        self.histogram = _histogram()
        self.errors: Counter[str] = Counter()

    def record(self, latency_ns: int) -> None:
        _record(self.histogram, latency_ns)


class _KindRecorder:
    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.histogram = _histogram()
        self.service = _histogram()
        self.ok = 0
        self.statuses: Counter[int] = Counter()
        self.error_statuses: Counter[int] = Counter()
        self.exceptions: Counter[str] = Counter()

    def response(self, status: int, latency_ns: int, service_ns: int) -> bool:
        self.statuses[status] += 1
        if self.kind.succeeded(status):
            self.ok += 1
            _record(self.histogram, latency_ns)
            _record(self.service, service_ns)
            return True
        self.error_statuses[status] += 1
        return False

    def exception(self, name: str) -> None:
        self.exceptions[name] += 1


class _Recorder:
    def __init__(self, kinds: Sequence[Kind]) -> None:
        self.kinds = [_KindRecorder(kind) for kind in kinds]
        self.extras: dict[str, _Measure] = {}
        self.hook_errors: Counter[str] = Counter()
        self.send_delay = _histogram()
        self.last_response_ns = 0

    def measure(self, name: str) -> _Measure:
        measure = self.extras.get(name)
        if measure is None:
            measure = self.extras[name] = _Measure()
        return measure


def _exception_name(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Percentiles of a histogram, in milliseconds (None when it is empty)."""

    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None

    @classmethod
    def of(cls, histogram: Any) -> Latency:
        count = int(histogram.get_total_count())
        if count == 0:
            return cls(0, None, None, None, None, None)

        def ms(value: Any) -> float:
            return round(float(value) / 1000.0, 3)

        return cls(
            count=count,
            p50_ms=ms(histogram.get_value_at_percentile(50.0)),
            p95_ms=ms(histogram.get_value_at_percentile(95.0)),
            p99_ms=ms(histogram.get_value_at_percentile(99.0)),
            max_ms=ms(histogram.get_max_value()),
            mean_ms=ms(histogram.get_mean_value()),
        )


def _count_over(histogram: Any, threshold_ms: float) -> int:
    threshold_us = threshold_ms * 1000.0
    return sum(
        int(step.count_added_in_this_iter_step)
        for step in histogram.get_recorded_iterator()
        if step.value_iterated_to > threshold_us
    )


@dataclass(frozen=True)
class KindResult:
    """One kind's numbers (or all kinds together, as `RunResult.overall`)."""

    name: str
    requests: int  # every request ends as exactly one of: success, error status, exception
    ok: int
    statuses: dict[int, int]
    error_statuses: dict[int, int]
    exceptions: dict[str, int]
    target_rate: float | None
    achieved_rate: float
    latency: Latency  # of successful requests; open model: from the intended send time
    service: Latency  # of successful requests, from the actual send (the same as latency in saturation)
    histogram: Any = field(repr=False, compare=False)  # of `latency`: hdrh HdrHistogram, microseconds

    @property
    def errors(self) -> int:
        return sum(self.error_statuses.values()) + sum(self.exceptions.values())

    def count_over(self, threshold_ms: float) -> int:
        """How many successful requests took longer than `threshold_ms` (to histogram precision)."""
        return _count_over(self.histogram, threshold_ms)


@dataclass(frozen=True)
class MeasureResult:
    """An extra measure recorded by follow-ups."""

    name: str
    latency: Latency
    errors: dict[str, int]
    histogram: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class RunResult:
    mode: Literal["open", "saturation"]
    elapsed_s: float
    target_rate: float | None
    scheduled: int  # open model: the schedule's length; saturation: requests recorded
    max_connections: int
    connections_opened: int
    overall: KindResult
    kinds: tuple[KindResult, ...]
    extras: tuple[MeasureResult, ...]
    send_delay: Latency | None  # open model: how late requests were written, from their intended time
    hook_errors: dict[str, int]

    def kind(self, name: str) -> KindResult:
        for result in self.kinds:
            if result.name == name:
                return result
        raise KeyError(name)

    def extra(self, name: str) -> MeasureResult:
        for result in self.extras:
            if result.name == name:
                return result
        raise KeyError(name)


def _kind_result(
    name: str, recorders: Sequence[_KindRecorder], target_rate: float | None, elapsed_s: float
) -> KindResult:
    histogram = _histogram()
    service = _histogram()
    statuses: Counter[int] = Counter()
    error_statuses: Counter[int] = Counter()
    exceptions: Counter[str] = Counter()
    ok = 0
    for rec in recorders:
        histogram.add(rec.histogram)
        service.add(rec.service)
        statuses.update(rec.statuses)
        error_statuses.update(rec.error_statuses)
        exceptions.update(rec.exceptions)
        ok += rec.ok
    responses = sum(statuses.values())
    return KindResult(
        name=name,
        requests=responses + sum(exceptions.values()),
        ok=ok,
        statuses=dict(sorted(statuses.items())),
        error_statuses=dict(sorted(error_statuses.items())),
        exceptions=dict(sorted(exceptions.items())),
        target_rate=target_rate,
        achieved_rate=responses / elapsed_s if elapsed_s > 0 else 0.0,
        latency=Latency.of(histogram),
        service=Latency.of(service),
        histogram=histogram,
    )


def _result(
    mode: Literal["open", "saturation"],
    recorder: _Recorder,
    *,
    elapsed_s: float,
    rate: float | None,
    scheduled: int,
    client: Client,
) -> RunResult:
    total_weight = sum(rec.kind.weight for rec in recorder.kinds)
    kinds = tuple(
        _kind_result(
            rec.kind.name,
            [rec],
            None if rate is None else rate * rec.kind.weight / total_weight,
            elapsed_s,
        )
        for rec in recorder.kinds
    )
    extras = tuple(
        MeasureResult(name, Latency.of(m.histogram), dict(sorted(m.errors.items())), m.histogram)
        for name, m in sorted(recorder.extras.items())
    )
    return RunResult(
        mode=mode,
        elapsed_s=elapsed_s,
        target_rate=rate,
        scheduled=scheduled,
        max_connections=client.max_connections,
        connections_opened=client.connections_opened,
        overall=_kind_result("all", recorder.kinds, rate, elapsed_s),
        kinds=kinds,
        extras=extras,
        send_delay=Latency.of(recorder.send_delay) if mode == "open" else None,
        hook_errors=dict(sorted(recorder.hook_errors.items())),
    )


# --- open model -------------------------------------------------------------------------------


def _schedule_length(rate: float, duration_s: float | None, requests: int | None) -> int:
    if rate <= 0 or not math.isfinite(rate):
        raise ValueError("rate must be a positive number of requests per second")
    if duration_s is None and requests is None:
        raise ValueError("give requests, duration_s or both")
    limits = []
    if requests is not None:
        limits.append(max(requests, 0))
    if duration_s is not None:
        limits.append(max(math.ceil(duration_s * rate - 1e-9), 0))  # i / rate < duration_s
    return min(limits)


def _validate_kinds(kinds: Sequence[Kind]) -> None:
    names = [kind.name for kind in kinds]
    if len(set(names)) != len(names):
        raise ValueError(f"kind names must be unique: {names}")


class _OpenRun:
    def __init__(
        self, client: Client, kinds: Sequence[Kind], recorder: _Recorder, seed: int, timeout_s: float
    ):
        self.client = client
        self.kinds = kinds
        self.recorder = recorder
        self.timeout_s = timeout_s
        self.hook_rng = _seeded(seed, "follow-ups")
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def one(self, index: int, prepared: PreparedRequest, intended_ns: int) -> None:
        rec = self.recorder.kinds[index]
        kind = rec.kind
        try:
            remaining_s = self.timeout_s - (time.perf_counter_ns() - intended_ns) / 1e9
            async with asyncio.timeout(max(remaining_s, 0.0)):
                response = await self.client.send(prepared)
        except asyncio.CancelledError:
            rec.exception("drain-timeout")
            raise
        except Exception as exc:
            rec.exception(_exception_name(exc))
            return
        self.recorder.last_response_ns = max(self.recorder.last_response_ns, response.received_ns)
        _record(self.recorder.send_delay, response.sent_ns - intended_ns)
        service_ns = response.received_ns - response.sent_ns
        if rec.response(response.status, response.received_ns - intended_ns, service_ns):
            _call_on_response(kind, response, self.recorder)
            if kind.follow_up is not None:
                ctx = FollowUp(
                    kind.name, intended_ns, self.hook_rng, self.client, self.recorder, self.timeout_s
                )
                self.spawn(self.follow(kind.name, kind.follow_up(ctx, response)))

    async def follow(self, name: str, hook: Awaitable[None]) -> None:
        try:
            await hook
        except asyncio.CancelledError:
            self.recorder.hook_errors[f"{name}: drain-timeout"] += 1
            raise
        except Exception as exc:
            self.recorder.hook_errors[f"{name}: {_exception_name(exc)}"] += 1


def _call_on_response(kind: Kind, response: Response, recorder: _Recorder) -> None:
    if kind.on_response is None:
        return
    try:
        kind.on_response(response)
    except Exception as exc:
        recorder.hook_errors[f"{kind.name}: {_exception_name(exc)}"] += 1


def _prepare_all(client: Client, kinds: Sequence[Kind]) -> list[PreparedRequest | None]:
    return [client.prepare(k.request) if isinstance(k.request, Request) else None for k in kinds]


def _build(client: Client, kind: Kind, fixed: PreparedRequest | None, rng: random.Random) -> PreparedRequest:
    if fixed is not None:
        return fixed
    return client.prepare(cast(Callable[[random.Random], Request], kind.request)(rng))


async def run_open(
    host: str,
    port: int,
    kinds: Sequence[Kind],
    *,
    rate: float,
    duration_s: float | None = None,
    requests: int | None = None,
    max_connections: int = 64,
    seed: int = 0,
    jitter: float = 0.0,
    request_timeout_s: float = 30.0,
    drain_timeout_s: float = 10.0,
    prewarm_connections: int = 0,
    capture_headers: Iterable[str] = CAPTURED_HEADERS,
) -> RunResult:
    """Sends the weighted mix of `kinds` at `rate` requests/s on a fixed schedule (see the module doc).

    Stops scheduling after `requests` requests or `duration_s` seconds, whichever comes first.
    """
    _validate_kinds(kinds)
    freeze_heap()  # no pause of the generator's own collector in the measurement
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be within [0, 1]")
    n = _schedule_length(rate, duration_s, requests)
    picker = _Picker([kind.weight for kind in kinds], seed)
    jitter_rng = _seeded(seed, "jitter")
    request_rng = _seeded(seed, "requests")
    recorder = _Recorder(kinds)
    client = Client(host, port, max_connections=max_connections, capture_headers=capture_headers)
    fixed = _prepare_all(client, kinds)
    run_ = _OpenRun(client, kinds, recorder, seed, request_timeout_s)
    interval_ns = 1e9 / rate
    try:
        await client.prewarm(prewarm_connections)
        start_ns = time.perf_counter_ns()
        for i in range(n):
            offset = i + jitter * jitter_rng.random() if jitter else i
            intended_ns = start_ns + int(offset * interval_ns)
            await _sleep_until(intended_ns, i)
            index = picker.next()
            try:
                prepared = _build(client, kinds[index], fixed[index], request_rng)
            except Exception as exc:
                recorder.kinds[index].exception(f"request-builder: {_exception_name(exc)}")
                continue
            run_.spawn(run_.one(index, prepared, intended_ns))
        await _drain(run_, drain_timeout_s)
        end_ns = max(start_ns + int(n * interval_ns), recorder.last_response_ns)
    finally:
        await _cancel_all(run_.tasks)
        await client.aclose()
    return _result(
        "open", recorder, elapsed_s=(end_ns - start_ns) / 1e9, rate=rate, scheduled=n, client=client
    )


async def _sleep_until(intended_ns: int, i: int) -> None:
    """Waits until `intended_ns`, never less: timers fire in whole milliseconds (and uvloop's may fire a
    little early), so a wait is at least 1 ms and is repeated until the time has come."""
    delay_ns = intended_ns - time.perf_counter_ns()
    if delay_ns <= 0:
        if i % 64 == 0:
            await asyncio.sleep(0)  # a scheduler running late still lets responses in
        return
    while delay_ns > 0:
        await asyncio.sleep(max(delay_ns / 1e9, 0.001))
        delay_ns = intended_ns - time.perf_counter_ns()


async def _drain(run_: _OpenRun, timeout_s: float) -> None:
    """Waits for requests and follow-ups (which may start more follow-ups) until `timeout_s`."""
    deadline = time.perf_counter_ns() + int(timeout_s * 1e9)
    while run_.tasks:
        left_s = (deadline - time.perf_counter_ns()) / 1e9
        if left_s <= 0:
            break
        await asyncio.wait(set(run_.tasks), timeout=left_s)


async def _cancel_all(tasks: set[asyncio.Task[None]]) -> None:
    pending = list(tasks)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


# --- closed-loop saturation -------------------------------------------------------------------


async def run_saturation(
    host: str,
    port: int,
    kinds: Sequence[Kind],
    *,
    connections: int,
    duration_s: float,
    warmup_s: float = 1.0,
    seed: int = 0,
    request_timeout_s: float = 30.0,
    capture_headers: Iterable[str] = CAPTURED_HEADERS,
) -> RunResult:
    """`connections` workers send the mix back to back; `duration_s` after `warmup_s` is recorded."""
    _validate_kinds(kinds)
    freeze_heap()  # no pause of the generator's own collector in the measurement
    if connections < 1 or duration_s <= 0 or warmup_s < 0:
        raise ValueError("need connections >= 1, duration_s > 0 and warmup_s >= 0")
    picker = _Picker([kind.weight for kind in kinds], seed)
    request_rng = _seeded(seed, "requests")
    recorder = _Recorder(kinds)
    client = Client(host, port, max_connections=connections, capture_headers=capture_headers)
    fixed = _prepare_all(client, kinds)
    tasks: set[asyncio.Task[None]] = set()
    try:
        await client.prewarm(connections)
        window_start = time.perf_counter_ns() + int(warmup_s * 1e9)
        window_end = window_start + int(duration_s * 1e9)

        async def worker() -> None:
            while time.perf_counter_ns() < window_end:
                index = picker.next()
                rec = recorder.kinds[index]
                started = time.perf_counter_ns()
                try:
                    prepared = _build(client, kinds[index], fixed[index], request_rng)
                    response = await client.send(prepared, timeout_s=request_timeout_s)
                except Exception as exc:
                    if window_start <= started and time.perf_counter_ns() <= window_end:
                        rec.exception(_exception_name(exc))
                    await asyncio.sleep(0.01)  # a refused or broken connection: don't spin
                    continue
                in_window = window_start <= response.sent_ns and response.received_ns <= window_end
                service_ns = response.received_ns - response.sent_ns
                if in_window and rec.response(response.status, service_ns, service_ns):
                    _call_on_response(rec.kind, response, recorder)

        loop = asyncio.get_running_loop()
        tasks = {loop.create_task(worker()) for _ in range(connections)}
        await asyncio.wait(tasks, timeout=warmup_s + duration_s + request_timeout_s + 1.0)
    finally:
        await _cancel_all({task for task in tasks if not task.done()})
        await client.aclose()
    recorded = sum(sum(rec.statuses.values()) + sum(rec.exceptions.values()) for rec in recorder.kinds)
    return _result("saturation", recorder, elapsed_s=duration_s, rate=None, scheduled=recorded, client=client)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Runs `main` on a new uvloop event loop, the cheapest loop for the generator."""
    import uvloop

    return uvloop.run(main)


# --- presentation -----------------------------------------------------------------------------


def _latency_dict(latency: Latency) -> dict[str, Any]:
    return {
        "count": latency.count,
        "p50_ms": latency.p50_ms,
        "p95_ms": latency.p95_ms,
        "p99_ms": latency.p99_ms,
        "max_ms": latency.max_ms,
        "mean_ms": latency.mean_ms,
    }


def _kind_dict(result: KindResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "requests": result.requests,
        "ok": result.ok,
        "errors": result.errors,
        "statuses": {str(k): v for k, v in result.statuses.items()},
        "error_statuses": {str(k): v for k, v in result.error_statuses.items()},
        "exceptions": dict(result.exceptions),
        "target_rate": result.target_rate,
        "achieved_rate": round(result.achieved_rate, 3),
        "latency": _latency_dict(result.latency),
        "service": _latency_dict(result.service),
    }


def to_dict(result: RunResult) -> dict[str, Any]:
    """The result as plain JSON types (histograms left out)."""
    return {
        "mode": result.mode,
        "elapsed_s": round(result.elapsed_s, 3),
        "target_rate": result.target_rate,
        "scheduled": result.scheduled,
        "max_connections": result.max_connections,
        "connections_opened": result.connections_opened,
        "overall": _kind_dict(result.overall),
        "kinds": [_kind_dict(kind) for kind in result.kinds],
        "extras": [
            {"name": m.name, "latency": _latency_dict(m.latency), "errors": dict(m.errors)}
            for m in result.extras
        ],
        "send_delay": None if result.send_delay is None else _latency_dict(result.send_delay),
        "hook_errors": dict(result.hook_errors),
    }


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _error_detail(result: KindResult) -> str:
    parts = [f"{status}x{count}" for status, count in result.error_statuses.items()]
    parts += [f"{name}x{count}" for name, count in result.exceptions.items()]
    return ", ".join(parts)


def render_markdown(result: RunResult) -> str:
    """A Markdown summary: one table row per kind and one for all, then the extra measures."""
    if result.mode == "open":
        title = (
            f"Open model: {_num(result.target_rate, 1)} req/s target, {result.scheduled} scheduled, "
            f"{result.elapsed_s:.2f} s, up to {result.max_connections} connections "
            f"({result.connections_opened} opened). Latency from the intended send time; service time "
            "from the actual send."
        )
    else:
        title = (
            f"Saturation: {result.max_connections} connections, {result.elapsed_s:.2f} s measured. "
            "Latency from the actual send."
        )
    open_model = result.mode == "open"
    columns = ["kind", "target req/s", "achieved req/s", "requests", "ok", "errors"]
    columns += ["p50 ms", "p95 ms", "p99 ms", "max ms"]
    columns += ["service p50 ms", "service p99 ms"] if open_model else []
    columns += ["error detail"]
    aligns = ["---"] + ["---:"] * (len(columns) - 2) + ["---"]
    lines = [title, "", "| " + " | ".join(columns) + " |", "|" + "|".join(aligns) + "|"]
    for kind in (*result.kinds, result.overall):
        lat, svc = kind.latency, kind.service
        cells = [f"**{kind.name}**" if kind is result.overall else kind.name, _num(kind.target_rate, 1)]
        cells += [f"{kind.achieved_rate:.1f}", str(kind.requests), str(kind.ok), str(kind.errors)]
        cells += [_num(lat.p50_ms), _num(lat.p95_ms), _num(lat.p99_ms), _num(lat.max_ms)]
        cells += [_num(svc.p50_ms), _num(svc.p99_ms)] if open_model else []
        cells += [_error_detail(kind)]
        lines.append("| " + " | ".join(cells) + " |")
    if result.extras:
        lines += [
            "",
            "| measure | count | errors | p50 ms | p95 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for m in result.extras:
            lat = m.latency
            errors = ", ".join(f"{reason}x{count}" for reason, count in m.errors.items()) or "0"
            lines.append(
                f"| {m.name} | {lat.count} | {errors} | {_num(lat.p50_ms)} | {_num(lat.p95_ms)} "
                f"| {_num(lat.p99_ms)} | {_num(lat.max_ms)} |"
            )
    if result.send_delay is not None and result.send_delay.count:
        delay = result.send_delay
        lines += [
            "",
            f"Send delay behind schedule: p50 {_num(delay.p50_ms)} ms, p99 {_num(delay.p99_ms)} ms, "
            f"max {_num(delay.max_ms)} ms.",
        ]
    if result.hook_errors:
        lines += ["", "Hook errors: " + ", ".join(f"{k}x{v}" for k, v in result.hook_errors.items()) + "."]
    return "\n".join(lines) + "\n"
