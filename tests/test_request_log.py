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


def test_lines_written_in_one_turn_of_the_loop_all_arrive_in_order(
    production_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    async def answer_three() -> None:
        for status in (200, 404, 500):
            logs.request_log().info("request", status=status)
        await asyncio.sleep(0)  # the turn ends: the lines are written

    asyncio.run(answer_three())
    assert [line["status"] for line in _lines(capsys.readouterr().err)] == [200, 404, 500]


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
