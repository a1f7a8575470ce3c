"""What the runner announces, fanned out to the open event streams of one API process.

The runner announces on `<prefix>ch:projected:<user id>` (the version now visible in the user's read
models), right after `<prefix>ch:changed:<user id>` (the read-model keys that changed, for the memory
cache: projections/outbox.py), and on `<prefix>ch:lb:<board>:<key>` (a board changed). One connection
per process pattern-subscribes to all three; each stream registers the exact channel names it may see,
and a message reaches only the streams registered under its channel's name. Followers (the memory
cache, the API's copy of sign-outs) hear every message of their kind, and re-read their source
whenever some may have been lost.

Litestar's ChannelsPlugin with RedisChannelsPubSubBackend is not used because it does not survive a
lost connection: its single reader task ends at the first error that redis-py's own retries do not
absorb, after which no stream of the process hears anything again, and when redis-py does reconnect
quietly, whatever was published during the gap is lost without anyone knowing. Here the connection
never reconnects on its own (`core.redis.open_subscriber`): every drop ends in `_listen`, which
subscribes again with backoff and then tells every listener that it may have missed something.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg
import structlog
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from core.redis import Keys
from projections.outbox import parse_announcement
from queries.memory_cache import MemoryCache, board_owner

log = structlog.get_logger(__name__)

#: Unread messages a listener holds before it drops them for a gap (the stream then re-reads).
MAX_PENDING = 64
_FIRST_RETRY_S = 0.1
_LAST_RETRY_S = 5.0
_POLL_S = 1.0

OPEN_LISTENERS = Gauge(
    "ironlog_stream_listeners", "Event streams listening for announcements", multiprocess_mode="livesum"
)
SUBSCRIPTION_DROPS = Counter(
    "ironlog_announcement_subscription_drops_total", "Lost pub/sub connections of the stream listener"
)


class Follower(Protocol):
    """A process-wide copy of what is announced on `<prefix>ch:<kind>:<key>`, kept from its source."""

    kind: str

    def heard(self, key: str, data: bytes) -> None:
        """One announcement of the kind."""

    async def reread(self) -> None:
        """Catch up from the source: announcements may have been lost (raises when it cannot)."""


@dataclass(frozen=True, slots=True)
class Batch:
    """What arrived since a listener last looked; `gap`: messages may have been lost, re-read the state."""

    messages: tuple[tuple[str, bytes], ...]
    gap: bool


class Listener:
    """The announcements one stream may see, held until it looks.

    Bounded: past MAX_PENDING unread messages they are replaced by a gap, so a slow client never
    makes the process hold a backlog.
    """

    def __init__(self, hub: Announcements, channels: frozenset[str]) -> None:
        self.channels = channels
        self._hub = hub
        self._messages: list[tuple[str, bytes]] = []
        self._gap = False
        self._wake = asyncio.Event()
        #: The process is stopping: the stream ends now (its client reconnects as after any drop).
        self.ended = False

    def deliver(self, channel: str, data: bytes) -> None:
        if self._gap:
            return  # the re-read that answers the gap covers this message too
        if len(self._messages) >= MAX_PENDING:
            self.mark_gap()
            return
        self._messages.append((channel, data))
        self._wake.set()

    def mark_gap(self) -> None:
        self._messages.clear()
        self._gap = True
        self._wake.set()

    def discard(self) -> None:
        """Forget what arrived so far: the caller is about to read the state itself."""
        self._messages.clear()
        self._gap = False
        self._wake.clear()

    def end(self) -> None:
        """Wake the stream for the last time."""
        self.ended = True
        self._wake.set()

    async def next(self, timeout_s: float) -> Batch | None:
        """What arrived, waiting at most `timeout_s` for something; None if nothing did or it ended."""
        if self.ended:
            return None
        if not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(timeout_s, 0.0)):
                    await self._wake.wait()
        if not self._wake.is_set() or self.ended:
            return None
        batch = Batch(tuple(self._messages), self._gap)
        self.discard()
        return batch

    def close(self) -> None:
        self._hub.forget(self)


class Announcements:
    """One pattern subscription per process, started by the first listener (or by `start`); owns its
    Redis client. `memory`, when given, hears of every user's new version and of every drop.
    `followers` hear their kind's announcements, and re-read after every (re)subscription and while
    there is none."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        memory: MemoryCache | None = None,
        followers: Sequence[Follower] = (),
    ) -> None:
        self._redis = redis
        self._followers = {keys.channel(follower.kind, ""): follower for follower in followers}
        self._patterns = (
            keys.channel_pattern("projected"),
            keys.channel_pattern("changed"),
            keys.channel_pattern("lb"),
            *(keys.channel_pattern(follower.kind) for follower in followers),
        )
        self._projected = keys.channel("projected", "")
        self._changed = keys.channel("changed", "")
        self._boards = keys.channel("lb", "")
        self._listeners: dict[str, set[Listener]] = {}
        self._live = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._memory = memory
        self._draining = False

    def start(self) -> None:
        """Subscribe now rather than at the first listener (the memory cache needs it from the start)."""
        self._ensure_listening()

    def listen(self, channels: Iterable[str]) -> Listener:
        """Register a listener for exactly `channels`; close it when the stream ends."""
        listener = Listener(self, frozenset(channels))
        if self._draining:
            listener.end()
        for channel in listener.channels:
            self._listeners.setdefault(channel, set()).add(listener)
        OPEN_LISTENERS.inc()
        self._ensure_listening()
        return listener

    def forget(self, listener: Listener) -> None:
        removed = False
        for channel in listener.channels:
            listeners = self._listeners.get(channel)
            if listeners is not None and listener in listeners:
                removed = True
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[channel]
        if removed:
            OPEN_LISTENERS.dec()

    def drain(self) -> None:
        """The process is stopping: end every listener, and the ones registered from now on."""
        self._draining = True
        for listener in {each for listeners in self._listeners.values() for each in listeners}:
            listener.end()

    async def wait_live(self, timeout_s: float) -> bool:
        """Until the subscription is confirmed by Redis, at most `timeout_s`; whether it is."""
        self._ensure_listening()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._live.wait()
        return self._live.is_set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: a cancellation landing mid-connect must not hold up shutdown.
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 2.0)
        await self._redis.aclose()

    def _ensure_listening(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        delay = _FIRST_RETRY_S
        while True:
            pubsub = self._redis.pubsub()
            try:
                await self._subscribe(pubsub)
                # After the subscription, so whatever the re-read misses is announced from now on.
                caught_up, retry_at = await self._reread(), loop.time() + _POLL_S
                delay = _FIRST_RETRY_S
                self._live.set()
                if self._memory is not None:
                    self._memory.live()
                # Whatever was announced while no subscription was live is lost: everyone re-reads.
                for listener in {each for listeners in self._listeners.values() for each in listeners}:
                    listener.mark_gap()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=_POLL_S)
                    if message is not None and message["type"] == "pmessage":
                        self._deliver(message["channel"], message["data"])
                    if not caught_up and loop.time() >= retry_at:
                        caught_up, retry_at = await self._reread(), loop.time() + _POLL_S
            except (RedisError, OSError) as exc:
                SUBSCRIPTION_DROPS.inc()
                log.warning("announcements_lost", error=repr(exc), retry_in_s=delay)
            except Exception:
                SUBSCRIPTION_DROPS.inc()
                log.exception("announcements_failed", retry_in_s=delay)
            finally:
                self._live.clear()
                if self._memory is not None:
                    self._memory.lost()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await self._reread()  # without a subscription nothing is heard: re-read at each retry
            await asyncio.sleep(delay)
            delay = min(delay * 2, _LAST_RETRY_S)

    async def _reread(self) -> bool:
        """Every follower catches up from its source; False if one could not (retried later)."""
        caught_up = True
        for follower in self._followers.values():
            try:
                await follower.reread()
            except Exception as exc:
                log.warning("follower_reread_failed", kind=follower.kind, error=repr(exc))
                caught_up = False
        return caught_up

    async def _subscribe(self, pubsub: PubSub) -> None:
        """PSUBSCRIBE, then wait (bounded) until Redis confirms each pattern: from then on nothing is lost."""
        await pubsub.psubscribe(*self._patterns)
        confirmed = 0
        async with asyncio.timeout(_POLL_S * 5):
            while confirmed < len(self._patterns):
                message = await pubsub.get_message(timeout=_POLL_S)
                if message is None:
                    continue
                if message["type"] == "psubscribe":
                    confirmed += 1
                elif message["type"] == "pmessage":
                    self._deliver(message["channel"], message["data"])

    def _deliver(self, channel: bytes | str, data: bytes | str) -> None:
        name = channel.decode(errors="replace") if isinstance(channel, bytes) else channel
        payload = data.encode() if isinstance(data, str) else data
        if self._memory is not None:
            if name.startswith(self._changed):
                with contextlib.suppress(ValueError):
                    user_id = uuid.UUID(name[len(self._changed) :])
                    parsed = parse_announcement(payload)
                    if parsed is None:
                        self._memory.announced(user_id)
                    else:
                        self._memory.changed(user_id, *parsed)
            elif name.startswith(self._projected):
                with contextlib.suppress(ValueError):
                    user_id = uuid.UUID(name[len(self._projected) :])
                    parsed = parse_announcement(payload)
                    self._memory.projected(user_id, parsed[0] if parsed is not None else None)
            elif name.startswith(self._boards):
                self._memory.announced(board_owner(name))
        for prefix, follower in self._followers.items():
            if name.startswith(prefix):
                follower.heard(name[len(prefix) :], payload)
        for listener in self._listeners.get(name, ()):
            listener.deliver(name, payload)


async def projected_version(pool: asyncpg.Pool, user_id: uuid.UUID) -> int:
    """The user's version that the read models reflect (0 before the first projection)."""
    version = await pool.fetchval("SELECT version FROM projection_checkpoints WHERE user_id = $1", user_id)
    return int(version or 0)
