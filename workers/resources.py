"""Connections a worker process owns, opened and closed on the worker's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from typing import Any

import asyncpg
import structlog
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Middleware
from redis.asyncio import Redis

from core.db import close_pool, open_pool, report_pool_usage
from core.processes import settle_for_batches
from core.redis import Keys, open_redis
from core.settings import Settings

log = structlog.get_logger(__name__)

#: The line a worker process logs once its connections are open, before its threads consume: what
#: whoever starts one waits for.
OPENED = "worker_resources_opened"


class WorkerResources:
    """The Postgres pool, Redis client and key builder that actors use."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, redis: Redis) -> None:
        self.settings = settings
        self.pool = pool
        self.redis = redis
        self.keys = Keys(settings.redis.prefix)
        self.pool_usage: asyncio.Task[None] | None = None
        #: Set when the process starts stopping: long work ends at its next safe point.
        self.stopping = threading.Event()


#: The open resources of this worker process (one per process, set by OpenResources).
_open: dict[str, WorkerResources] = {}


def current_resources() -> WorkerResources:
    """The resources of this worker process; actors call this, tests pass their own."""
    try:
        return _open["current"]
    except KeyError:
        raise RuntimeError(
            "worker resources are not open (is the OpenResources middleware installed?)"
        ) from None


class OpenResources(Middleware):
    """Opens pools once the AsyncIO middleware has started the loop; closes them before it stops.

    Closed only after the worker threads are done: the messages in flight when the process is told
    to stop finish at their next safe point, and need their connections until then.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        # Before the worker threads start, so no message can run ahead of its connections.
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("the AsyncIO middleware must come before OpenResources")
        _open["current"] = loop_thread.run_coroutine(self._connect())
        settle_for_batches()
        log.info(OPENED, gc_threshold=gc.get_threshold())

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        resources = _open.get("current")
        if resources is not None:
            resources.stopping.set()

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        # Dramatiq calls after_* hooks in reverse order, so the AsyncIO loop is still running here.
        loop_thread = get_event_loop_thread()
        resources = _open.pop("current", None)
        if resources is not None and loop_thread is not None:
            loop_thread.run_coroutine(self._close(resources))

    async def _connect(self) -> WorkerResources:
        pool = await open_pool(self.settings, "worker")
        resources = WorkerResources(self.settings, pool, open_redis(self.settings))
        resources.pool_usage = report_pool_usage(pool, "worker")
        return resources

    @staticmethod
    async def _close(resources: WorkerResources) -> None:
        if resources.pool_usage is not None:
            resources.pool_usage.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resources.pool_usage
        await resources.redis.aclose()
        await close_pool(resources.pool)
