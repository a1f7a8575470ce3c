"""The worker runs its async actors on uvloop (core/loops.py), not on asyncio's default loop."""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop
from dramatiq.asyncio import get_event_loop_thread

from workers.broker import AsyncIOOnUvloop


def test_the_worker_event_loop_thread_runs_uvloop() -> None:
    middleware = AsyncIOOnUvloop()
    broker: Any = None  # neither hook reads the broker nor the worker
    middleware.before_worker_boot(broker, None)  # type: ignore[arg-type]
    try:
        thread = get_event_loop_thread()
        assert thread is not None and isinstance(thread.loop, uvloop.Loop)

        async def running_loop() -> asyncio.AbstractEventLoop:
            return asyncio.get_running_loop()

        assert thread.run_coroutine(running_loop()) is thread.loop
    finally:
        middleware.after_worker_shutdown(broker, None)  # type: ignore[no-untyped-call]
    assert get_event_loop_thread() is None
