"""structlog configuration: JSON lines in production, a readable console in development.

Everything goes through the standard library's logging (so third-party loggers and Sentry see it),
except the API's one line per request (`request_log`): the hottest log line is written straight to
stderr, in the same format and with the same context; in JSON by `_JsonRequestLines` without
structlog's bound logger, on the console by structlog alone. JSON is encoded by msgspec.
"""

from __future__ import annotations

import asyncio
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


class _LineWriter:
    """The sink of `request_log`: rendered lines go to stderr together, once per turn of the event loop
    (so requests answered in the same turn cost one write), or at once outside a loop."""

    def __init__(self, name: str) -> None:
        self.name = name  # for structlog.stdlib.add_logger_name
        self._lines: list[str] = []

    def write(self, line: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            sys.stderr.write(line + "\n")
            return
        if not self._lines:
            loop.call_soon(self.flush)
        self._lines.append(line)

    def flush(self) -> None:
        lines, self._lines = self._lines, []
        if lines:
            sys.stderr.write("\n".join(lines) + "\n")

    debug = info = warning = error = critical = exception = msg = write


def _request_line_fields(process: str) -> Any:
    """The fields `_SHARED_PROCESSORS` and `add_process` give every line, in one step for the line per
    request: its context, level, logger, the time (formatted once per second) and the process."""
    second = [-1, ""]

    def add_fields(
        logger: Any, method_name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event = structlog.contextvars.merge_contextvars(logger, method_name, event)
        event["level"] = method_name
        event["logger"] = logger.name
        now = time.time()
        whole = int(now)
        if whole != second[0]:
            second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
        event["timestamp"] = f"{second[1]}.{int((now - whole) * 1_000_000):06d}Z"
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
        self._add_fields = _request_line_fields(process)
        self.info = self._info if level <= logging.INFO else _drop
        self.warning = self._warning if level <= logging.WARNING else _drop

    def _write(self, method_name: str, event: str, fields: dict[str, Any]) -> None:
        fields["event"] = event
        self._writer.write(_json_line(self._add_fields(self._writer, method_name, fields)))

    def _info(self, event: str, **fields: Any) -> None:
        self._write("info", event, fields)

    def _warning(self, event: str, **fields: Any) -> None:
        self._write("warning", event, fields)


#: Set by `configure_logging`; until then (tests), the request line goes through the ordinary loggers.
_request_logs: dict[str, Any] = {}


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
    if settings.log_format == "json":
        _request_logs[REQUEST_LOGGER] = _JsonRequestLines(_LineWriter(REQUEST_LOGGER), process, level)
    else:
        _request_logs[REQUEST_LOGGER] = structlog.wrap_logger(
            _LineWriter(REQUEST_LOGGER),
            processors=[_request_line_fields(process), *exception_processors, renderer],
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
