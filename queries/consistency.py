"""Read-your-writes: wait, woken by the runner's announcements, until a user's documents reach a version."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import structlog
from prometheus_client import Counter, Histogram
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.redis import Keys

log = structlog.get_logger(__name__)

CONSISTENCY_WAITS = Counter(
    "ironlog_consistency_waits_total", "Reads that waited for their own write", ["outcome"]
)
for _outcome in ("reached", "timeout", "stopping"):  # exported from the start, at 0 until a read waits
    CONSISTENCY_WAITS.labels(_outcome)
CONSISTENCY_WAIT_SECONDS = Histogram(
    "ironlog_consistency_wait_seconds",
    "How long reads waited for their own write",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)


class ProjectionNotifications:
    """One pattern subscription per API process; waiting requests are woken by user id."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._pattern = keys.channel_pattern("projected")
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self._draining = False

    def _ensure_listening(self) -> None:
        # Started by the first wait, so processes that never wait hold no subscription.
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())

    def drain(self) -> None:
        """The process is stopping: wake every waiting read, and let none wait from now on."""
        self._draining = True
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: a cancellation landing mid-connect must not hold up shutdown.
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 2.0)

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(self._pattern)
                # Announcements made before the subscription was live are lost: re-check everyone.
                for events in self._waiters.values():
                    for event in events:
                        event.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self._wake(message["channel"])
            except (RedisError, OSError) as exc:
                # Waiters still finish: they time out and then check Postgres.
                log.warning("notifications_lost", error=repr(exc))
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _wake(self, channel: bytes | str) -> None:
        text = channel.decode() if isinstance(channel, bytes) else channel
        try:
            user_id = uuid.UUID(text.rsplit(":", 1)[-1])
        except ValueError:
            return
        for event in self._waiters.get(user_id, ()):
            event.set()

    async def wait(
        self, user_id: uuid.UUID, reached: Callable[[], Awaitable[bool]], timeout_s: float
    ) -> bool:
        """Until `reached()` is true, re-checked at each announcement for the user; False on timeout
        or when the process starts stopping."""
        started = time.monotonic()
        self._ensure_listening()
        event = asyncio.Event()
        self._waiters.setdefault(user_id, set()).add(event)
        try:
            # Registered, and cleared, before each check: an announcement heard while `reached()` is
            # in flight leaves the event set, and the next check comes at once.
            while True:
                event.clear()
                if await reached():
                    break
                remaining = timeout_s - (time.monotonic() - started)
                if remaining <= 0 or self._draining:
                    CONSISTENCY_WAITS.labels("timeout" if remaining <= 0 else "stopping").inc()
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
            CONSISTENCY_WAITS.labels("reached").inc()
            return True
        finally:
            CONSISTENCY_WAIT_SECONDS.observe(time.monotonic() - started)
            waiters = self._waiters.get(user_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[user_id]


@dataclass(frozen=True, slots=True)
class Written:
    """How far a user has written: the stream version of their newest committed write, and whether
    their projection is parked (then it waits for an operator, and no read should wait for it)."""

    version: int
    parked: bool


async def written_version(pool: asyncpg.Pool, user_id: uuid.UUID) -> Written | None:
    """The version of the user's newest committed event (the event log is the read side's to read);
    None when the user has none."""
    row = await pool.fetchrow(
        """
        SELECT (SELECT max(version) FROM events WHERE user_id = $1) AS version,
               EXISTS (SELECT 1 FROM projection_checkpoints
                       WHERE user_id = $1 AND parked_version IS NOT NULL) AS parked
        """,
        user_id,
    )
    if row is None or row["version"] is None:
        return None
    return Written(int(row["version"]), bool(row["parked"]))
