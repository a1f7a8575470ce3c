"""The API's line per request as production writes it (core/logs.py, `request_log`): rendered by
structlog alone and written straight to stderr, in the format and with the context of every other line."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime

import msgspec
import pytest
import structlog

from api.request_context import configure_request_logging
from core import logs
from core.settings import Settings, load_settings


@pytest.fixture
def production_logging() -> Iterator[None]:
    """JSON logging at INFO for the test, then the configuration the other tests had."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    settings = msgspec.structs.replace(load_settings({}), log_format="json", log_level="INFO")
    logs.configure_logging(settings, process="api")
    try:
        yield
    finally:
        logs._request_logs.clear()
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.contextvars.clear_contextvars()


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_request_line_is_json_with_the_context_of_the_request(
    production_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-7")
    logs.request_log().info("request", method="GET", route="/v1/x", status=200, duration_ms=0.4)
    (line,) = _lines(capsys.readouterr().err)
    assert line["event"] == "request" and line["status"] == 200 and line["route"] == "/v1/x"
    assert line["request_id"] == "req-7"
    assert line["level"] == "info" and line["logger"] == "ironlog.request" and line["process"] == "api"
    stamped = datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00"))
    assert abs(time.time() - stamped.timestamp()) < 60


def test_info_lines_wait_together_and_arrive_in_order(
    production_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    async def answer_three() -> list[str]:
        for status in (200, 404, 201):
            logs.request_log().info("request", status=status)
        await asyncio.sleep(0)
        waiting = capsys.readouterr().err  # the turn ended, the lines wait
        await asyncio.sleep(logs.FLUSH_AFTER_S * 2)
        return [waiting, capsys.readouterr().err]

    waiting, written = asyncio.run(answer_three())
    assert _lines(waiting) == []
    assert [line["status"] for line in _lines(written)] == [200, 404, 201]


def test_a_warning_line_is_written_at_the_end_of_the_turn_with_those_before_it(
    production_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    async def answer() -> str:
        logs.request_log().info("request", status=200)
        logs.request_log().warning("request", status=500)
        await asyncio.sleep(0)
        return capsys.readouterr().err

    assert [line["status"] for line in _lines(asyncio.run(answer()))] == [200, 500]


def test_many_lines_are_written_without_waiting(
    production_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    async def answer_many() -> str:
        for status in range(logs.LINES_HELD):
            logs.request_log().info("request", status=status)
        return capsys.readouterr().err  # no turn of the loop has ended yet

    assert len(_lines(asyncio.run(answer_many()))) == logs.LINES_HELD


def test_lines_still_waiting_are_written_when_the_api_stops(
    production_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    async def answer_and_stop() -> str:
        logs.request_log().info("request", status=200)
        logs.flush_request_lines()
        return capsys.readouterr().err

    assert [line["status"] for line in _lines(asyncio.run(answer_and_stop()))] == [200]


@pytest.mark.parametrize(
    ("level", "fields"),
    [
        ("info", {"method": "GET", "route": "/v1/x", "status": 200, "duration_ms": 0.4, "user_id": "u-1"}),
        (
            "warning",
            {"method": "PUT", "route": "unmatched", "status": 500, "duration_ms": None, "user_id": None},
        ),
        (
            "warning",
            {"method": "GET", "route": "/v1/y", "status": 200, "duration_ms": 612.5, "user_id": "u-2"},
        ),
    ],
)
def test_the_pipelines_line_is_the_line_the_request_logger_writes(
    production_logging: None, capsys: pytest.CaptureFixture[str], level: str, fields: dict[str, object]
) -> None:
    slow = level == "warning" and fields["status"] == 200
    structlog.contextvars.bind_contextvars(request_id="req-9", user_id=fields["user_id"])
    getattr(logs.request_log(), level)(
        "request", **fields, request_id="req-9", **({"slow": True} if slow else {})
    )
    logs.log_request(level, **fields, request_id="req-9", slow=slow)  # type: ignore[arg-type]
    logged, fast = capsys.readouterr().err.splitlines()
    assert fast.split('"timestamp":')[0] == logged.split('"timestamp":')[0]
    assert json.loads(fast).keys() == json.loads(logged).keys()
    assert json.loads(fast)["process"] == json.loads(logged)["process"] == "api"


def test_below_the_configured_level_nothing_is_written(capsys: pytest.CaptureFixture[str]) -> None:
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    settings = msgspec.structs.replace(load_settings({}), log_format="json", log_level="WARNING")
    logs.configure_logging(settings, process="api")
    try:
        logs.request_log().info("request", status=200)
        logs.request_log().warning("request", status=500)
    finally:
        logs._request_logs.clear()
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
    assert [line["status"] for line in _lines(capsys.readouterr().err)] == [500]


async def _request_lines(settings: Settings, *paths: str) -> list[tuple[str, int, str, bool]]:
    """(route, status, level, slow) of the request lines an app with `settings` writes for `paths`."""
    from litestar.testing import AsyncTestClient

    from api.app import create_app
    from tests.probes import PROBES

    try:
        async with AsyncTestClient(app=create_app(settings, extra_handlers=PROBES)) as client:
            with structlog.testing.capture_logs() as captured:
                for path in paths:
                    await client.get(path)
    finally:
        configure_request_logging(access_log=True, slow_ms=500.0)  # as every other test's app has it
    return [
        (str(e["route"]), int(e["status"]), str(e["log_level"]), bool(e.get("slow")))
        for e in captured
        if e["event"] == "request"
    ]


async def test_without_the_access_log_only_server_errors_are_logged(settings: Settings) -> None:
    quiet = msgspec.structs.replace(settings, api=msgspec.structs.replace(settings.api, access_log=False))
    lines = await _request_lines(quiet, "/health/live", "/probe/items/1?limit=x", "/probe/crash")
    assert lines == [("/probe/crash", 500, "warning", False)]


async def test_a_slow_request_is_logged_at_warning_with_or_without_the_access_log(settings: Settings) -> None:
    for access_log in (True, False):
        api = msgspec.structs.replace(settings.api, access_log=access_log, slow_request_ms=0.0)
        lines = await _request_lines(msgspec.structs.replace(settings, api=api), "/health/live")
        assert lines == [("/health/live", 200, "warning", True)], access_log


async def test_with_the_access_log_every_request_is_logged_at_info(settings: Settings) -> None:
    lines = await _request_lines(settings, "/health/live", "/probe/items/1?limit=x")
    assert lines == [("/health/live", 200, "info", False), ("/probe/items/{item_id}", 422, "info", False)]
