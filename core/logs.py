"""structlog configuration: JSON lines in production, a readable console in development.

Everything goes through the standard library's logging (so third-party loggers and Sentry see it),
except the API's one line per request (`request_log`, `log_request`): the hottest log line is
written straight to stderr, many lines at a time (`_LineWriter`), in the same format and with the same
context; in JSON by `_JsonRequestLines` without structlog's bound logger, on the console by structlog
alone. JSON is encoded by msgspec.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import msgspec
import structlog

from core.settings import Settings

#: JSON lines are encoded by msgspec (a tenth of the standard library's cost per line); what it cannot
#: encode is written as its repr, as structlog's own renderer does.
_JSON_LINE = msgspec.json.Encoder(enc_hook=repr)


def _json_line(event: Any, **_: Any) -> str:
    return _JSON_LINE.encode(event).decode()


_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


#: The request lines wait at most this long to be written, and at most this many (nginx's access log
#: does the same with `buffer=` and `flush=`): one write to stderr for many requests, not one per turn
#: of the event loop. Lines at WARNING (server errors, slow requests) go out at the end of the turn.
FLUSH_AFTER_S = 0.05
LINES_HELD = 256


class _LineWriter:
    """The sink of `request_log`: rendered lines go to stderr together (`FLUSH_AFTER_S`, `LINES_HELD`),
    and whatever waits when the API stops (`flush_request_lines`) or the process exits; outside an
    event loop, at once."""

    def __init__(self, name: str) -> None:
        self.name = name  # for structlog.stdlib.add_logger_name
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None

    def write(self, line: str, *, urgent: bool = False) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            sys.stderr.write(line + "\n")
            return
        self._lines.append(line)
        if len(self._lines) >= LINES_HELD:
            self.flush()
        elif urgent:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_soon(self.flush)
        elif self._timer is None:
            self._timer = loop.call_later(FLUSH_AFTER_S, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        lines, self._lines = self._lines, []
        if lines:
            sys.stderr.write("\n".join(lines) + "\n")

    def _urgent(self, line: str) -> None:
        self.write(line, urgent=True)

    debug = info = msg = write
    warning = error = critical = exception = _urgent


class _Timestamps:
    """ISO 8601 UTC times to the microsecond, as structlog's TimeStamper writes them; the date and
    time of day are formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        now = time.time()
        whole = int(now)
        if whole != self._second:
            self._second, self._text = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        return f"{self._text}.{int((now - whole) * 1_000_000):06d}Z"


def _request_line_fields(process: str, timestamps: _Timestamps) -> Any:
    """The fields `_SHARED_PROCESSORS` and `add_process` give every line, in one step for the line per
    request: its context, level, logger, the time and the process."""

    def add_fields(
        logger: Any, method_name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event = structlog.contextvars.merge_contextvars(logger, method_name, event)
        event["level"] = method_name
        event["logger"] = logger.name
        event["timestamp"] = timestamps.now()
        event.setdefault("process", process)
        return event

    return add_fields


def _drop(*_: Any, **__: Any) -> None:
    """A level the logger filters out."""


class _JsonRequestLines:
    """The line per request as JSON, without structlog's bound logger: the fields, their order and
    the level filter are those of the structlog pipeline it replaces (`_request_line_fields`, then the
    JSON renderer), at a fraction of its cost per line."""

    def __init__(self, writer: _LineWriter, process: str, level: int) -> None:
        self._writer = writer
        self._process = process
        self._timestamps = _Timestamps()
        self._add_fields = _request_line_fields(process, self._timestamps)
        self.info = self._info if level <= logging.INFO else _drop
        self.warning = self._warning if level <= logging.WARNING else _drop

    def request(self, level: str, **fields: Any) -> None:
        """The request pipeline's line (`log_request`), as `_info` or `_warning` would write it."""
        if getattr(self, level) is not _drop:
            line = _RequestLine(
                **fields,
                event="request",
                level=level,
                logger=self._writer.name,
                timestamp=self._timestamps.now(),
                process=self._process,
            )
            self._writer.write(_REQUEST_LINE.encode(line).decode(), urgent=level == "warning")

    def _write(self, method_name: str, event: str, fields: dict[str, Any]) -> None:
        fields["event"] = event
        line = _json_line(self._add_fields(self._writer, method_name, fields))
        self._writer.write(line, urgent=method_name != "info")

    def _info(self, event: str, **fields: Any) -> None:
        self._write("info", event, fields)

    def _warning(self, event: str, **fields: Any) -> None:
        self._write("warning", event, fields)


class _RequestLine(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The request line's fields in the order `_JsonRequestLines._info` writes them (`slow` only when
    true)."""

    method: str
    route: str
    status: int
    duration_ms: float | None
    user_id: str | None
    request_id: str
    slow: bool = False
    event: str
    level: str
    logger: str
    timestamp: str
    process: str


_REQUEST_LINE = msgspec.json.Encoder()


def log_request(
    level: str,
    *,
    method: str,
    route: str,
    status: int,
    duration_ms: float | None,
    user_id: str | None,
    request_id: str,
    slow: bool,
) -> None:
    """The API's line for one request, at `level` ("info" or "warning"). In JSON it is encoded from a
    struct, without looking up the log context: the request's context, its id and user, are fields
    of the line itself (api/request_context.py binds nothing else)."""
    fields = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
        "user_id": user_id,
        "request_id": request_id,
    }
    lines = _request_logs.get(REQUEST_LOGGER)
    if type(lines) is _JsonRequestLines:
        lines.request(level, slow=slow, **fields)
    else:
        getattr(request_log(), level)("request", **fields, **({"slow": True} if slow else {}))


#: The sinks `configure_logging` made, so that what they hold is written when the API stops.
_writers: list[_LineWriter] = []

#: Set by `configure_logging`; until then (tests), the request line goes through the ordinary loggers.
_request_logs: dict[str, Any] = {}


def flush_request_lines() -> None:
    """Write the request lines still waiting (the API's lifespan calls this when it stops)."""
    for writer in _writers:
        writer.flush()


atexit.register(flush_request_lines)


def request_log() -> Any:
    """The logger of the API's line per request."""
    return _request_logs.get(REQUEST_LOGGER) or structlog.get_logger(REQUEST_LOGGER)


REQUEST_LOGGER = "ironlog.request"


def configure_logging(settings: Settings, *, process: str) -> None:
    """Route structlog and the standard library's loggers through one renderer."""

    def add_process(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("process", process)
        return event

    shared = [*_SHARED_PROCESSORS, add_process]
    renderer: Any
    if settings.log_format == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_json_line)
        exception_processors: list[Any] = [structlog.processors.format_exc_info]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        exception_processors = []

    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exception_processors,
            renderer,
        ],
    )
    level = logging.getLevelName(settings.log_level)
    flush_request_lines()  # a sink replaced writes what it holds first
    writer = _LineWriter(REQUEST_LOGGER)
    _writers[:] = [writer]
    if settings.log_format == "json":
        _request_logs[REQUEST_LOGGER] = _JsonRequestLines(writer, process, level)
    else:
        _request_logs[REQUEST_LOGGER] = structlog.wrap_logger(
            writer,
            processors=[_request_line_fields(process, _Timestamps()), *exception_processors, renderer],
            wrapper_class=structlog.make_filtering_bound_logger(level),
            cache_logger_on_first_use=True,
        )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # uvicorn's own access log is replaced by our one line per request.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("asyncio", "pgserver", "piccolo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
