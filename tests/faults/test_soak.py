"""Soak: distinct workouts written by concurrent clients while faults are injected in a loop."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

import httpx
import pytest

from tests.faults.stack import Lifter, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

CLIENTS = 3
SOAK_S = 60.0


async def _write(
    stack: Stack, client: httpx.AsyncClient, lifter: Lifter, stop: asyncio.Event, delays: list[float]
) -> None:
    n = 0
    probes: set[asyncio.Task[None]] = set()
    while not stop.is_set():
        try:
            response = await stack.log_workout(client, lifter, n)
        except httpx.HTTPError:
            response = None  # the API itself is fine; a refused connection counts as not acknowledged
        n += 1
        if response is not None and response.status_code == 201 and n % 4 == 0:
            task = asyncio.create_task(
                _time_to_visible(client, lifter, int(response.headers["x-consistency-token"]), delays)
            )
            probes.add(task)
            task.add_done_callback(probes.discard)
        await asyncio.sleep(0.05)
    for task in list(probes):
        with contextlib.suppress(Exception):
            await task


async def _time_to_visible(
    client: httpx.AsyncClient, lifter: Lifter, token: int, delays: list[float]
) -> None:
    """Write acknowledged to read-with-its-token answering fresh."""
    started = time.monotonic()
    while time.monotonic() - started < 120:
        with contextlib.suppress(httpx.HTTPError):
            response = await client.get(
                "/v1/stats/dashboard", headers={**lifter.headers, "X-Consistency-Token": str(token)}
            )
            if response.status_code == 200 and response.headers.get("x-consistency") != "stale":
                delays.append(time.monotonic() - started)
                return
        await asyncio.sleep(0.05)


async def _faults(stack: Stack, stop: asyncio.Event) -> list[str]:
    injected: list[str] = []
    worker = stack.processes[-1]
    step = 0
    while not stop.is_set():
        kind = ("worker", "broker", "cache", "postgres")[step % 4]
        step += 1
        if kind == "worker":
            worker.kill()
            await asyncio.sleep(1)
            worker = await asyncio.to_thread(stack.start_worker)
        elif kind == "broker":
            await asyncio.to_thread(stack.broker.stop)
            await asyncio.sleep(2)
            await asyncio.to_thread(stack.broker.start)
        elif kind == "cache":
            await asyncio.to_thread(stack.cache.stop)
            (stack.cache.data_dir / "dump.rdb").unlink(missing_ok=True)
            await asyncio.to_thread(stack.cache.start)
        else:
            await asyncio.to_thread(stack.postgres.stop)
            await asyncio.sleep(2)
            await asyncio.to_thread(stack.postgres.start)
        injected.append(kind)
        await asyncio.sleep(3)
    return injected


async def test_soak_with_faults_loses_nothing_and_counts_nothing_twice(stack: Stack) -> None:
    stack.start_api()
    stack.start_worker()
    delays: list[float] = []
    async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
        lifters = [await stack.sign_up(client) for _ in range(CLIENTS)]
        stop = asyncio.Event()
        writers = [asyncio.create_task(_write(stack, client, lifter, stop, delays)) for lifter in lifters]
        faults = asyncio.create_task(_faults(stack, stop))
        await asyncio.sleep(SOAK_S)
        stop.set()
        injected = await faults
        await asyncio.gather(*writers)
        for lifter in lifters:
            await stack.wait_visible(client, lifter, timeout_s=120)
    written = sum(len(lifter.acknowledged) for lifter in lifters)
    assert written > 100 and set(injected) == {"worker", "broker", "cache", "postgres"}
    await stack.check_nothing_lost_or_doubled_and_rebuild_equal(lifters)
    p95 = statistics.quantiles(delays, n=20)[-1] if len(delays) >= 20 else max(delays)
    print(
        f"soak: {written} workouts acknowledged, faults {injected}, write-to-visible "
        f"p50 {statistics.median(delays) * 1000:.0f} ms p95 {p95 * 1000:.0f} ms over {len(delays)} probes"
    )
