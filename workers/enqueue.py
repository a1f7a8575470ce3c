"""Enqueueing from the API: off the event loop, with a short timeout, never retried.

A message is only a poke ("project user U"); if a send fails, the sweeper finds the work
from Postgres. So a dead broker costs a log line, never a stalled or failed request.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from dramatiq import Actor
from prometheus_client import Counter

from core.settings import Settings
from workers.actors import Actors
from workers.broker import build_broker, close, ping
from workers.context import REQUEST_ID_OPTION

log = structlog.get_logger(__name__)

ENQUEUE_FAILURES = Counter(
    "ironlog_enqueue_failures_total", "Messages the API could not hand to the broker", ["actor"]
)


class Enqueuer:
    """Sends messages from async code through a small thread pool."""

    def __init__(self, settings: Settings) -> None:
        self.broker = build_broker(settings)
        self.actors = Actors(self.broker, settings)
        for actor_name in self.broker.get_declared_actors():
            ENQUEUE_FAILURES.labels(actor_name)  # exported as 0 from the start, so rates see no gap
        self._timeout_s = settings.worker.enqueue_timeout_s * 2
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="enqueue")

    async def send(self, actor: Actor[Any, Any], *args: Any) -> str | None:
        """Enqueue `actor(*args)` carrying the current request id; the message id, or None if it failed."""
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        message = actor.message_with_options(args=args, **{REQUEST_ID_OPTION: request_id})
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.run_in_executor(self._executor, self.broker.enqueue, message),
                timeout=self._timeout_s,
            )
        except Exception as exc:  # the broker is down or slow: the sweeper will recover
            log.warning("enqueue_failed", actor=actor.actor_name, error=repr(exc))
            ENQUEUE_FAILURES.labels(actor.actor_name).inc()
            return None
        return message.message_id

    async def ping_broker(self) -> None:
        """Raise if the broker does not answer within the enqueue timeout."""
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(
            loop.run_in_executor(self._executor, ping, self.broker), timeout=self._timeout_s
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        close(self.broker)
