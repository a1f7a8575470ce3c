"""Readers of the read models: Redis bytes when fresh, else the rm_* row (filling Redis), else 503.

Bodies are returned exactly as stored; nothing on the hit path is decoded or encoded.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import msgspec
import structlog
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.cursors import decode_cursor
from core.redis import Keys
from projections import store
from projections.cache import PAGE_TTL_S, Cached, DocumentCache, body_etag
from projections.dashboard import local_date, next_rollover
from projections.feed import FeedCursor, feed_page
from queries.consistency import ProjectionNotifications
from queries.memory_cache import Mark, MemoryCache

log = structlog.get_logger(__name__)

Model = Literal["dashboard", "workout", "feed"]
CACHE_REQUESTS = Counter(
    "ironlog_cache_requests_total", "Read-model reads by where they were answered from", ["model", "result"]
)
MEMORY_HITS = Counter(
    "ironlog_memory_cache_hits_total", "Read-model reads answered from the process's memory (also hits)"
)
_COUNTERS: dict[tuple[str, str], Any] = {}


def _counted(model: Model, result: str) -> Any:
    """The counter child of (model, result), looked up once."""
    child = _COUNTERS.get((model, result))
    if child is None:
        child = _COUNTERS[model, result] = CACHE_REQUESTS.labels(model, result)
    return child


def _served(cached: Cached) -> Served | None:
    if cached.is_tombstone:
        return None
    return Served(cached.body, cached.etag, max(cached.version or 0, cached.synced or 0))


@dataclass(frozen=True, slots=True)
class Served:
    """A read-model response: the body as stored, its ETag, the user's version it reflects."""

    body: bytes
    etag: str
    version: int
    stale: bool = False


@dataclass(frozen=True, slots=True)
class _Loaded:
    served: Served | None
    key: str
    stamp: int = 0
    zone: str = ""
    ttl_s: int | None = None
    synced: int | None = None  # how far Postgres says the user's Redis documents were synced
    checkpoint: int = 0  # the user's projected version, when there is no body to carry it

    @property
    def version(self) -> int:
        return self.served.version if self.served is not None else self.checkpoint


#: Per zone: today's date there (as an ordinal) and the Unix time it stops being today.
_TODAY: dict[str, tuple[int, float]] = {}


def _today_ordinal(zone: str) -> int:
    known = _TODAY.get(zone)
    if known is not None and time.time() < known[1]:
        return known[0]
    now = datetime.now(UTC)
    today = local_date(now, zone or "UTC").toordinal()
    _TODAY[zone] = (today, next_rollover(now, zone or "UTC").timestamp())
    return today


class ReadModels:
    """Serves one process's read-model requests."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        keys: Keys,
        notifications: ProjectionNotifications,
        wait_s: float,
        *,
        memory: MemoryCache | None = None,
    ) -> None:
        self.pool = pool
        self.cache = DocumentCache(redis, keys)
        self.notifications = notifications
        self.wait_s = wait_s
        self.memory = memory

    # -- the three read models -------------------------------------------------------------

    async def workout(self, user_id: uuid.UUID, workout_id: uuid.UUID, at_least: int | None) -> Served | None:
        key = self.cache.keys_of(user_id).workout(workout_id)

        async def load(connection: asyncpg.Connection) -> _Loaded:
            row = await connection.fetchrow(
                """
                SELECT d.workout_version, d.body,
                    COALESCE((SELECT version FROM projection_checkpoints WHERE user_id = $1), 0) AS version
                FROM (SELECT 1) one
                LEFT JOIN rm_workout_documents d ON d.user_id = $1 AND d.workout_id = $2
                """,
                user_id,
                workout_id,
            )
            if row["body"] is None:
                return _Loaded(None, key, checkpoint=row["version"])
            return _Loaded(Served(row["body"], f'"{row["workout_version"]}"', row["version"]), key)

        return await self._serve(
            "workout", user_id, key, at_least, fresh=lambda cached: cached.version is not None, load=load
        )

    async def dashboard(self, user_id: uuid.UUID, at_least: int | None) -> Served:
        key = self.cache.keys_of(user_id).dashboard

        def fresh(cached: Cached) -> bool:
            return cached.version is not None and cached.stamp >= _today_ordinal(cached.zone)

        async def load(connection: asyncpg.Connection) -> _Loaded:
            version = await _checkpoint(connection, user_id)
            settings = await store.load_settings(connection, user_id)
            now = datetime.now(UTC)
            today = local_date(now, settings.timezone)
            row = await connection.fetchrow(
                "SELECT as_of, body FROM rm_dashboards WHERE user_id = $1", user_id
            )
            if row is not None and row["as_of"] >= today:
                body = bytes(row["body"])
            else:
                # A new day since the last projection: the buckets are absolute, only "today" moved.
                dashboard = await store.current_dashboard(connection, user_id, settings, now)
                body = store.ENCODER.encode(dashboard)
            served = Served(body, body_etag(body), version)
            return _Loaded(served, key, stamp=today.toordinal(), zone=settings.timezone)

        served = await self._serve("dashboard", user_id, key, at_least, fresh=fresh, load=load)
        assert served is not None
        return served

    async def feed(self, user_id: uuid.UUID, cursor: str | None, limit: int, at_least: int | None) -> Served:
        after = decode_cursor(cursor, FeedCursor) if cursor else None
        key = self.cache.keys_of(user_id).feed_page(limit, cursor)

        def fresh(cached: Cached) -> bool:
            return cached.version is not None and cached.version == cached.synced

        async def load(connection: asyncpg.Connection) -> _Loaded:
            version = await _checkpoint(connection, user_id)
            body = await feed_page(connection, user_id, after, limit)
            return _Loaded(Served(body, body_etag(body), version), key, ttl_s=PAGE_TTL_S)

        served = await self._serve("feed", user_id, key, at_least, fresh=fresh, load=load)
        assert served is not None
        return served

    # -- the one serving path ------------------------------------------------------------------

    async def _serve(
        self,
        model: Model,
        user_id: uuid.UUID,
        key: str,
        at_least: int | None,
        *,
        fresh: Callable[[Cached], bool],
        load: Callable[[asyncpg.Connection], Awaitable[_Loaded]],
    ) -> Served | None:
        memory, mark = self.memory, None
        if memory is not None and memory.enabled:
            held = memory.get(key)
            if held is not None and (at_least is None or (held.synced or 0) >= at_least) and fresh(held):
                _counted(model, "hit").inc()
                MEMORY_HITS.inc()
                return _served(held)
            mark = memory.mark(user_id)
        synced_key = self.cache.keys_of(user_id).synced
        try:
            cached = await self.cache.read(synced_key, key)
        except RedisError as exc:
            CACHE_REQUESTS.labels(model, "degraded").inc()
            log.warning("cache_unavailable", model=model, error=repr(exc))
            return self._consistent((await self._load(load)).served, at_least)
        if cached.synced is None:
            # Redis lost this user's state (flushed or restarted), or never had it: answer from
            # Postgres, which also tells how far the user's documents were synced; put that back.
            loaded = await self._load(load, user_id)
            await self._fill(loaded, synced_key)
            if at_least is None or loaded.version >= at_least:
                CACHE_REQUESTS.labels(model, "miss").inc()
                return loaded.served
        if at_least is not None and (cached.synced or 0) < at_least:
            reached = await self.notifications.wait(
                user_id, lambda: self.synced_at_least(synced_key, at_least), self.wait_s
            )
            if not reached:
                # Redis may only be behind Postgres (a failed sync): Postgres has the last word.
                CACHE_REQUESTS.labels(model, "miss").inc()
                return self._consistent((await self._load(load)).served, at_least)
            cached = await self.cache.read(synced_key, key)
        if memory is not None:
            memory.seen(user_id, cached.synced)
        if fresh(cached):
            _counted(model, "hit").inc()
            if memory is not None and mark is not None:
                memory.put(user_id, key, cached, mark)
            return _served(cached)
        CACHE_REQUESTS.labels(model, "miss").inc()
        loaded = await self._load(load)
        await self._fill(loaded)
        return loaded.served

    async def _load(
        self, load: Callable[[asyncpg.Connection], Awaitable[_Loaded]], synced_of: uuid.UUID | None = None
    ) -> _Loaded:
        # One snapshot, so the version stored with a body is the version the body reflects.
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            loaded = await load(connection)
            if synced_of is not None:
                synced = await connection.fetchval(
                    "SELECT redis_version FROM projection_checkpoints WHERE user_id = $1", synced_of
                )
                loaded = replace(loaded, synced=synced)
            return loaded

    async def _fill(self, loaded: _Loaded, synced_key: str | None = None) -> None:
        served = loaded.served
        try:
            async with self.cache.redis.pipeline(transaction=False) as pipe:
                if served is not None:
                    await self.cache.put(
                        pipe,
                        loaded.key,
                        version=served.version,
                        body=served.body,
                        etag=served.etag,
                        stamp=loaded.stamp,
                        zone=loaded.zone,
                        **({"ttl_s": loaded.ttl_s} if loaded.ttl_s else {}),
                    )
                if synced_key is not None and loaded.synced:
                    await self.cache.put_synced(pipe, synced_key, loaded.synced)
                await pipe.execute()
        except RedisError as exc:
            log.warning("cache_fill_failed", error=repr(exc))

    async def synced_at_least(self, synced_key: str, at_least: int) -> bool:
        try:
            value = await self.cache.redis.get(synced_key)
        except RedisError:
            return False
        return value is not None and int(value) >= at_least

    @staticmethod
    def _consistent(served: Served | None, at_least: int | None) -> Served | None:
        if served is None or at_least is None or served.version >= at_least:
            return served
        return replace(served, stale=True)


async def _checkpoint(connection: asyncpg.Connection, user_id: uuid.UUID) -> int:
    version = await connection.fetchval(
        "SELECT version FROM projection_checkpoints WHERE user_id = $1", user_id
    )
    return int(version or 0)


class ListPage(msgspec.Struct, frozen=True):
    """A page of stored entries, spliced into `{"items": [...], "nextCursor": ...}` without decoding."""

    bodies: list[bytes]
    next_cursor: str | None


def splice_page(page: ListPage) -> bytes:
    body = b'{"items":[' + b",".join(page.bodies) + b"]"
    if page.next_cursor is not None:
        body += b',"nextCursor":"' + page.next_cursor.encode() + b'"'
    return body + b"}"


PageLoader = Callable[[asyncpg.Connection], Awaitable[ListPage]]
DocumentLoader = Callable[[asyncpg.Connection], Awaitable[tuple[bytes, str] | None]]


class ListReader:
    """Read models served straight from their rm_* table: routines, body weight, follows."""

    def __init__(self, pool: asyncpg.Pool, read_models: ReadModels) -> None:
        self.pool = pool
        self.read_models = read_models

    async def _wait(self, user_id: uuid.UUID, at_least: int | None) -> None:
        if at_least is None:
            return
        models = self.read_models
        synced_key = models.cache.keys_of(user_id).synced
        await models.notifications.wait(
            user_id, lambda: models.synced_at_least(synced_key, at_least), models.wait_s
        )

    async def one(
        self, user_id: uuid.UUID, at_least: int | None, load: DocumentLoader, *, key: str | None = None
    ) -> Served | None:
        """One stored document with its ETag (its digest, when the loader gives none), or None.

        `key` names the request (its path and query) for the memory cache; None: not cached.
        """
        held, mark = self._held(user_id, at_least, key)
        if held is not None:
            return _served(held)
        await self._wait(user_id, at_least)
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            version = await _checkpoint(connection, user_id)
            found = await load(connection)
        if found is None:
            return None
        body, etag = found
        served = Served(body, etag or body_etag(body), version)
        self._keep(user_id, key, mark, served)
        return ReadModels._consistent(served, at_least)

    async def read(
        self, user_id: uuid.UUID, at_least: int | None, load: PageLoader, *, key: str | None = None
    ) -> Served:
        """One page, spliced from stored entries; `key` as for `one`."""
        held, mark = self._held(user_id, at_least, key)
        if held is not None:
            served = _served(held)
            assert served is not None
            return served
        await self._wait(user_id, at_least)
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            version = await _checkpoint(connection, user_id)
            body = splice_page(await load(connection))
        page = Served(body, body_etag(body), version)
        self._keep(user_id, key, mark, page)
        served = ReadModels._consistent(page, at_least)
        assert served is not None
        return served

    def _held(
        self, user_id: uuid.UUID, at_least: int | None, key: str | None
    ) -> tuple[Cached | None, Mark | None]:
        """What the memory cache holds for `key`, if it will do; else the mark to keep the answer under."""
        memory = self.read_models.memory
        if key is None or memory is None or not memory.enabled:
            return None, None
        held = memory.get(_list_key(user_id, key))
        if held is not None and (at_least is None or (held.synced or 0) >= at_least):
            MEMORY_HITS.inc()
            return held, None
        return None, memory.mark(user_id)

    def _keep(self, user_id: uuid.UUID, key: str | None, mark: Mark | None, served: Served) -> None:
        memory = self.read_models.memory
        if key is None or mark is None or memory is None:
            return
        # The version is Postgres's checkpoint: an announcement follows every later change.
        memory.put(
            user_id,
            _list_key(user_id, key),
            Cached(synced=served.version, version=served.version, stamp=0, zone="", etag=served.etag,
                   body=served.body),
            mark,
        )  # fmt: skip


def _list_key(user_id: uuid.UUID, key: str) -> str:
    return f"list:{user_id}:{key}"
