"""The event loop Ironlog's own processes run coroutines on: uvloop, the loop the API already runs on
under uvicorn. asyncpg's and redis-py's round trips cost about a third less CPU on it than on
asyncio's default loop (a `SELECT 1`: 110-117 µs against 164 µs here), and a projection batch is
mostly round trips."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop for a thread of its own (the worker's, see workers/broker.py)."""
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop."""
    return uvloop.run(main)
