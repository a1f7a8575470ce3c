"""Stopping: Ctrl-C ends `ironlog run` within 5 s, whatever is in flight, and leaves nothing behind.

A projection stops between two batches and is handed back; an API process told to stop ends its event
streams and the reads waiting for their write at once, instead of waiting out its graceful timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from api.draining import on_stop_signal
from core.processes import free_port, process_running
from core.redis import Keys
from core.settings import Settings
from projections.runner import RunnerSettings, project_user
from queries.consistency import ProjectionNotifications
from tests.accounts import bearer, new_identity, sign_up
from tests.harness import IronlogProcess, wait_until
from tests.workouts import workout

#: The promise: from Ctrl-C to the last process gone.
STOP_BUDGET_S = 5.0
#: Far beyond any stop: a read that waited this long would show that nothing interrupted it.
LONG_WAIT_S = 60
#: A console log line at warning level or above, a Python warning, or a traceback.
COMPLAINT = re.compile(r"\[(warning|error|critical)\s*\]|\w+Warning: |Traceback", re.IGNORECASE)


async def test_a_stopping_worker_ends_a_projection_between_batches_and_the_next_one_finishes_it(
    client: Any, settings: Settings
) -> None:
    signed_in = await sign_up(client)
    user_id = uuid.UUID(signed_in["user"]["id"])
    for title in ("Push", "Pull", "Legs", "Push again"):
        put = await client.put(
            f"/v1/workouts/{uuid.uuid4()}", json=workout(title=title), headers=bearer(signed_in)
        )
        assert put.status_code == 201, put.text
    written = int(put.headers["x-consistency-token"])  # registration + 4 workouts
    assert written == 5
    assert settings.database.url and settings.redis.url
    pool = await asyncpg.create_pool(settings.database.url, min_size=1, max_size=2)
    redis = Redis.from_url(settings.redis.url)
    keys = Keys(settings.redis.prefix)
    try:
        first = await project_user(
            pool, redis, keys, user_id, settings=RunnerSettings(batch_size=2), stopping=lambda: True
        )
        checkpoint = await pool.fetchval(
            "SELECT version FROM projection_checkpoints WHERE user_id = $1", user_id
        )
        rest = await project_user(pool, redis, keys, user_id, settings=RunnerSettings(batch_size=2))
        final = await pool.fetchval("SELECT version FROM projection_checkpoints WHERE user_id = $1", user_id)
    finally:
        await pool.close()
        await redis.aclose()
    assert first.interrupted and first.applied == 2
    assert checkpoint == 2  # the batch in hand committed with its checkpoint, and no more
    assert not rest.interrupted and rest.applied == 3
    assert final == written


async def test_a_stop_signal_reaches_the_app_and_then_the_servers_own_handler() -> None:
    heard: list[str] = []

    def server_handler(signum: int, frame: Any) -> None:
        heard.append("server")

    before = signal.signal(signal.SIGTERM, server_handler)
    try:
        drained = asyncio.Event()

        def drain() -> None:
            heard.append("app")
            drained.set()

        undo = on_stop_signal(drain)
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(drained.wait(), 2)
        undo()
        assert sorted(heard) == ["app", "server"]
        assert signal.getsignal(signal.SIGTERM) is server_handler
    finally:
        signal.signal(signal.SIGTERM, before)


async def test_a_draining_process_wakes_the_reads_waiting_for_their_write(settings: Settings) -> None:
    assert settings.redis.url
    redis = Redis.from_url(settings.redis.url)
    notifications = ProjectionNotifications(redis, Keys(settings.redis.prefix))

    async def never() -> bool:
        return False

    try:
        started = time.monotonic()
        waiting = asyncio.create_task(notifications.wait(uuid.uuid4(), never, LONG_WAIT_S))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        notifications.drain()
        assert await asyncio.wait_for(waiting, 2) is False
        assert await notifications.wait(uuid.uuid4(), never, LONG_WAIT_S) is False  # none waits from now on
        assert time.monotonic() - started < 3
    finally:
        await notifications.stop()
        await redis.aclose()


# --- whole processes -------------------------------------------------------------------------------


async def _read_stream(response: httpx.Response) -> list[str]:
    """The event names of a stream, until it ends."""
    events = []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            events.append(line.removeprefix("event:").strip())
    return events


@contextlib.asynccontextmanager
async def _open_stream(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> AsyncIterator[asyncio.Task[list[str]]]:
    async with http.stream("GET", "/v1/stream", headers=headers) as response:
        assert response.status_code == 200
        yield asyncio.create_task(_read_stream(response))


async def _waiting_read(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    """A read asking for a version far ahead of the user's: it waits as long as it may."""
    return await http.get("/v1/stats/dashboard", headers={**headers, "X-Consistency-Token": "1000000"})


@pytest.mark.e2e
async def test_an_api_process_told_to_stop_ends_its_streams_and_waiting_reads_at_once(
    client: Any, tmp_path: Path
) -> None:
    signed_in = await sign_up(client)
    port = free_port()
    environ = {
        **os.environ,
        "IRONLOG_DATA_DIR": str(tmp_path / "data"),
        "IRONLOG_CONSISTENCY_WAIT_S": str(LONG_WAIT_S),
    }
    api = IronlogProcess(["api", "--port", str(port)], environ, tmp_path / "api.log")
    try:
        api.wait_for_log("Application startup complete", timeout_s=60)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=LONG_WAIT_S + 10) as http,
            _open_stream(http, bearer(signed_in)) as stream,
        ):
            read = asyncio.create_task(_waiting_read(http, bearer(signed_in)))
            await asyncio.sleep(0.5)
            assert not read.done()
            started = time.monotonic()
            api.process.send_signal(signal.SIGTERM)
            response = await asyncio.wait_for(read, 5)
            events = await asyncio.wait_for(stream, 5)
            exit_code = await asyncio.to_thread(api.process.wait, 10)
            stopped_in = time.monotonic() - started
    finally:
        api.stop()
    assert response.status_code == 200 and response.headers["x-consistency"] == "stale"
    assert events[0] == "ready" and "expired" not in events
    assert exit_code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has stopped
    assert stopped_in < 3, api.log()[-3000:]  # uvicorn's graceful timeout is 10 s
    assert "timeout graceful shutdown exceeded" not in api.log()


def _ours(marker: str, data_dir: Path) -> list[str]:
    """Live processes started by the launcher: they carry `marker` in their environment or run in
    `data_dir` (the embedded servers)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == os.getpid() or not process_running(pid):
            continue
        with contextlib.suppress(OSError):
            carries = marker.encode() in (proc / "environ").read_bytes()
            inside = Path(os.readlink(proc / "cwd")).is_relative_to(data_dir)
            if carries or inside:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{pid} {command}")
    return found


@pytest.mark.e2e
async def test_ctrl_c_stops_ironlog_run_within_five_seconds_right_after_writes(tmp_path: Path) -> None:
    """`make run` as a newcomer runs it (embedded servers), stopped with writes still being projected,
    an event stream open and a read waiting for its write."""
    marker = uuid.uuid4().hex
    data_dir = tmp_path / "data"
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "BROKER_URL", "IRONLOG_LOG_FORMAT"}
    }
    environ.update(
        {
            "IRONLOG_DATA_DIR": str(data_dir),
            "IRONLOG_PORT": str(free_port()),
            "IRONLOG_WORKER_METRICS_PORT": str(free_port()),
            "IRONLOG_CONSISTENCY_WAIT_S": str(LONG_WAIT_S),
            "IRONLOG_STOP_TEST_MARK": marker,
        }
    )
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "api", "run"],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        api_line = re.compile(r"API: +(http://[0-9.]+:[0-9]+)")

        def ready() -> bool:
            assert launcher.poll() is None, log_path.read_text()
            return api_line.search(log_path.read_text()) is not None

        wait_until(ready, 120, "ironlog run to be ready")
        match = api_line.search(log_path.read_text())
        assert match
        async with httpx.AsyncClient(base_url=match.group(1), timeout=LONG_WAIT_S + 10) as http:
            registered = await http.post("/v1/auth/register", json=new_identity())
            assert registered.status_code == 201, registered.text
            headers = bearer(registered.json())
            for day in range(20):
                put = await http.put(
                    f"/v1/workouts/{uuid.uuid4()}", json=workout(title=f"Day {day}"), headers=headers
                )
                assert put.status_code == 201, put.text
            async with _open_stream(http, headers) as stream:
                read = asyncio.create_task(_waiting_read(http, headers))
                await asyncio.sleep(0.3)
                assert not read.done()
                started = time.monotonic()
                os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C does
                exit_code = await asyncio.to_thread(launcher.wait, 30)
                stopped_in = time.monotonic() - started
                response = await asyncio.wait_for(read, 1)
                events = await asyncio.wait_for(stream, 1)
        output = log_path.read_text()
        assert exit_code == 0, output[-3000:]
        assert stopped_in < STOP_BUDGET_S, output[-3000:]
        assert response.headers.get("x-consistency") == "stale"
        assert events[0] == "ready" and "expired" not in events
        assert _ours(marker, data_dir) == [], output[-3000:]
        complaints = [line for line in output.splitlines() if COMPLAINT.search(line)]
        assert complaints == [], output[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait(10)
