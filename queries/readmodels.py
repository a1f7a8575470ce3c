"""Readers of the read models: Redis bytes when fresh, else the rm_* row (filling Redis), else 503.

Bodies are returned exactly as stored; nothing on the hit path is decoded or encoded.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal

import asyncpg
import msgspec
import structlog
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from core import clock
from core.cursors import decode_cursor
from core.metrics import HTTP_METRICS
from core.redis import Keys, run_pipeline
from core.replicas import ReadPools
from projections import outbox, readers
from projections.cache import (
    DOCUMENT_TTL_S,
    PAGE_TTL_S,
    READ_THROUGH_TTL_S,
    Cached,
    DocumentCache,
    body_etag,
)
from projections.dashboard import local_date, next_rollover
from projections.feed import FeedCursor, feed_page
from projections.packing import unpack
from queries.consistency import ProjectionNotifications, written_version
from queries.memory_cache import Mark, MemoryCache

log = structlog.get_logger(__name__)

Model = Literal["dashboard", "workout", "feed"]
CACHE_REQUESTS = Counter(
    "ironlog_cache_requests_total", "Read-model reads by where they were answered from", ["model", "result"]
)
MEMORY_HITS = Counter(
    "ironlog_memory_cache_hits_total", "Read-model reads answered from the process's memory (also hits)"
)
#: Hits are counted on every cached read: in memory first, written out with the request metrics.
_HITS = HTTP_METRICS.defer(CACHE_REQUESTS)
_MEMORY_HITS = HTTP_METRICS.defer(MEMORY_HITS)


def _served(cached: Cached) -> Served | Absent:
    version = max(cached.version or 0, cached.synced or 0)
    if cached.is_tombstone:
        return Absent(version, deleted=True)
    return Served(cached.body, cached.etag, version)


@dataclass(frozen=True, slots=True)
class Served:
    """A read-model response: the body as stored, its ETag, the user's version it reflects."""

    body: bytes
    etag: str
    version: int
    stale: bool = False


@dataclass(frozen=True, slots=True)
class Absent:
    """Not in the read models as of the user's `version`; `stale`: the user's writes up to the version
    asked for were not all projected in time, so it may yet appear. `deleted`: it never will."""

    version: int
    stale: bool = False
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class _Loaded:
    served: Served | None
    key: str
    stamp: int = 0
    zone: str = ""
    ttl_s: int | None = None
    synced: int | None = None  # how far Postgres says the user's Redis documents were synced
    checkpoint: int = 0  # the user's projected version, when there is no body to carry it
    stored: bytes | None = None  # the body as Postgres stores it (packed), to go to Redis as it is

    @property
    def version(self) -> int:
        return self.served.version if self.served is not None else self.checkpoint

    @property
    def answer(self) -> Served | Absent:
        return self.served if self.served is not None else Absent(self.checkpoint)


#: Per zone: today's date there (as an ordinal) and the Unix times it was found at and stops being
#: today. A clock set back before the first (a corrected machine clock, a test) looks again.
_TODAY: dict[str, tuple[int, float, float]] = {}


def _today_ordinal(zone: str) -> int:
    known = _TODAY.get(zone)
    now_s = clock.timestamp()
    if known is not None and known[1] <= now_s < known[2]:
        return known[0]
    now = clock.now()
    today = local_date(now, zone or "UTC").toordinal()
    _TODAY[zone] = (today, now.timestamp(), next_rollover(now, zone or "UTC").timestamp())
    return today


class ReadModels:
    """Serves one process's read-model requests."""

    def __init__(
        self,
        reads: ReadPools,
        redis: Redis,
        keys: Keys,
        notifications: ProjectionNotifications,
        wait_s: float,
        *,
        memory: MemoryCache | None = None,
    ) -> None:
        self.reads = reads
        self.pool = reads.primary  # what the user wrote is asked of the primary (`own_miss`)
        self.cache = DocumentCache(redis, keys)
        self.notifications = notifications
        self.wait_s = wait_s
        self.memory = memory

    # -- the three read models -------------------------------------------------------------

    async def workout(
        self, user_id: uuid.UUID, workout_id: uuid.UUID, at_least: int | None
    ) -> Served | Absent:
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
            # Only the hot set is pushed (projections/sync.py): a workout read through stays a while.
            stored = bytes(row["body"])
            served = Served(unpack(stored), f'"{row["workout_version"]}"', row["version"])
            return _Loaded(served, key, ttl_s=READ_THROUGH_TTL_S, stored=stored)

        def serve(at_least: int | None) -> Awaitable[Served | Absent]:
            return self._serve(
                "workout",
                user_id,
                key,
                at_least,
                shows=outbox.workout(workout_id),
                fresh=lambda cached: cached.version is not None,
                load=load,
                one_statement=True,
            )

        answer = await serve(at_least)
        if isinstance(answer, Absent) and at_least is None:
            return await self.own_miss(user_id, answer, serve)
        return answer

    async def dashboard(self, user_id: uuid.UUID, at_least: int | None) -> Served:
        key = self.cache.keys_of(user_id).dashboard

        def fresh(cached: Cached) -> bool:
            return cached.version is not None and cached.stamp >= _today_ordinal(cached.zone)

        async def load(connection: asyncpg.Connection) -> _Loaded:
            version = await _checkpoint(connection, user_id)
            settings = await readers.load_settings(connection, user_id)
            now = clock.now()
            today = local_date(now, settings.timezone)
            row = await connection.fetchrow(
                "SELECT as_of, body FROM rm_dashboards WHERE user_id = $1", user_id
            )
            if row is not None and row["as_of"] >= today:
                body = bytes(row["body"])
            else:
                # A new day since the last projection: the buckets are absolute, only "today" moved.
                dashboard = await readers.dashboard_as_of(connection, user_id, settings, now)
                body = readers.ENCODER.encode(dashboard)
            served = Served(body, body_etag(body), version)
            return _Loaded(served, key, stamp=today.toordinal(), zone=settings.timezone)

        served = await self._serve(
            "dashboard", user_id, key, at_least, shows=outbox.DASHBOARD, fresh=fresh, load=load
        )
        assert isinstance(served, Served)
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

        served = await self._serve("feed", user_id, key, at_least, shows=outbox.FEED, fresh=fresh, load=load)
        assert isinstance(served, Served)
        return served

    async def own_miss(
        self, user_id: uuid.UUID, absent: Absent, again: Callable[[int], Awaitable[Served | Absent]]
    ) -> Served | Absent:
        """A read of the user's own resource missed without a token: if the user has written more than
        the miss reflects, read `again` as if that version had been sent as the token. A parked user's
        writes wait for an operator: answered stale at once, never waited for."""
        if absent.deleted:
            return absent
        written = await written_version(self.pool, user_id)
        if written is None or written.version <= absent.version:
            return absent
        if written.parked:
            return replace(absent, stale=True)
        return await again(written.version)

    # -- the one serving path ------------------------------------------------------------------

    async def _serve(
        self,
        model: Model,
        user_id: uuid.UUID,
        key: str,
        at_least: int | None,
        *,
        shows: str,
        fresh: Callable[[Cached], bool],
        load: Callable[[asyncpg.Connection], Awaitable[_Loaded]],
        one_statement: bool = False,
    ) -> Served | Absent:
        """The document under `key`: from memory, Redis, or `load` (one statement when `one_statement`)
        in a snapshot of Postgres, put back in Redis."""
        memory, mark = self.memory, None
        if memory is not None and memory.enabled:
            held = memory.get(key)
            if held is not None and (at_least is None or (held.synced or 0) >= at_least) and fresh(held):
                _HITS.inc(model, "hit")
                _MEMORY_HITS.inc()
                return _served(held)
            mark = memory.mark(user_id)
        synced_key = self.cache.keys_of(user_id).synced
        try:
            cached = await self.cache.read(synced_key, key)
        except RedisError as exc:
            CACHE_REQUESTS.labels(model, "degraded").inc()
            log.warning("cache_unavailable", model=model, error=repr(exc))
            return self._consistent((await self._load(load, at_least=at_least)).answer, at_least)
        if cached.synced is None:
            # Redis lost this user's state (flushed or restarted), or never had it: answer from
            # Postgres, which also tells how far the user's documents were synced; put that back.
            loaded = await self._load(load, user_id)
            await self._fill(loaded, synced_key, restore=True)
            if at_least is None or loaded.version >= at_least:
                CACHE_REQUESTS.labels(model, "miss").inc()
                return loaded.answer
        if at_least is not None and (cached.synced or 0) < at_least:
            reached = await self.notifications.wait(
                user_id, lambda: self.synced_at_least(synced_key, at_least), self.wait_s
            )
            if not reached:
                # Redis may only be behind Postgres (a failed sync): Postgres has the last word.
                CACHE_REQUESTS.labels(model, "miss").inc()
                return self._consistent((await self._load(load, at_least=at_least)).answer, at_least)
            cached = await self.cache.read(synced_key, key)
        if memory is not None:
            memory.seen(user_id, cached.synced)
        if fresh(cached):
            _HITS.inc(model, "hit")
            if memory is not None and mark is not None:
                memory.put(user_id, key, cached, mark, shows=shows)
            return _served(cached)
        CACHE_REQUESTS.labels(model, "miss").inc()
        # Never older than what Redis knew was synced: a lagging replica's answer would go back in time.
        loaded = await self._load(
            load, at_least=max(at_least or 0, cached.synced or 0) or None, one_statement=one_statement
        )
        await self._fill(loaded, synced_key)
        return loaded.answer

    async def _load(
        self,
        load: Callable[[asyncpg.Connection], Awaitable[_Loaded]],
        synced_of: uuid.UUID | None = None,
        at_least: int | None = None,
        one_statement: bool = False,
    ) -> _Loaded:
        """One snapshot, so the version stored with a body is the version the body reflects; on a
        replica only if that version reached `at_least` (core/replicas.py)."""

        async def read(connection: asyncpg.Connection) -> _Loaded:
            loaded = await load(connection)
            if synced_of is not None:
                synced = await connection.fetchval(
                    "SELECT redis_version FROM projection_checkpoints WHERE user_id = $1", synced_of
                )
                loaded = replace(loaded, synced=synced)
            return loaded

        if synced_of is not None:  # how far Redis was synced is the primary's to say
            return await self.reads.snapshot(read, primary=True)
        return await self.reads.snapshot(
            read, version=lambda loaded: loaded.version, at_least=at_least, one_statement=one_statement
        )

    async def _fill(self, loaded: _Loaded, synced_key: str, *, restore: bool = False) -> None:
        """Put what was read into Redis (refused there if the user's documents were synced past it);
        `restore`: Redis had lost the user's `ver`, put back the one Postgres knows too."""
        served = loaded.served

        async def queue(pipe: Pipeline) -> None:
            if served is not None:
                await self.cache.put(
                    pipe,
                    loaded.key,
                    synced_key,
                    version=served.version,
                    body=served.body if loaded.stored is None else loaded.stored,
                    etag=served.etag,
                    stamp=loaded.stamp,
                    zone=loaded.zone,
                    ttl_s=loaded.ttl_s or DOCUMENT_TTL_S,
                    packed=loaded.stored is not None,
                )
            if restore and loaded.synced:
                await self.cache.put_synced(pipe, synced_key, loaded.synced)

        try:
            await run_pipeline(self.cache.redis, queue)
        except RedisError as exc:
            log.warning("cache_fill_failed", error=repr(exc))

    async def synced_at_least(self, synced_key: str, at_least: int) -> bool:
        try:
            value = await self.cache.redis.get(synced_key)
        except RedisError:
            return False
        return value is not None and int(value) >= at_least

    @staticmethod
    def _consistent(answer: Served | Absent, at_least: int | None) -> Served | Absent:
        if at_least is None or answer.version >= at_least:
            return answer
        return replace(answer, stale=True)


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


@dataclass(frozen=True, slots=True)
class PageLoader:
    """Reads one page from an rm_* table; `shows` is the read-model key whose change makes it stale."""

    shows: str
    load: Callable[[asyncpg.Connection], Awaitable[ListPage]]


@dataclass(frozen=True, slots=True)
class DocumentLoader:
    """Reads one document and its ETag ("": its digest) from an rm_* table, or None; `shows` as above."""

    shows: str
    load: Callable[[asyncpg.Connection], Awaitable[tuple[bytes, str] | None]]


class ListReader:
    """Read models served straight from their rm_* table: routines, body weight, follows."""

    def __init__(self, read_models: ReadModels) -> None:
        self.reads = read_models.reads
        self.read_models = read_models

    async def _floor(self, user_id: uuid.UUID, at_least: int | None) -> int | None:
        """The least version a replica's answer must reflect: the token, else (with replicas) what Redis
        says was synced, so an answer never goes back behind one served before, nor is kept in the
        memory cache after the announcement that should have replaced it."""
        if at_least is not None or not self.reads.replicas:
            return at_least
        try:
            synced = await self.read_models.cache.redis.get(self.read_models.cache.keys_of(user_id).synced)
        except RedisError:
            return None
        return int(synced) if synced is not None else None

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
    ) -> Served | Absent:
        """One stored document with its ETag (its digest, when the loader gives none), or Absent.

        `key` names the request (its path and query) for the memory cache; None: not cached.
        """
        held, mark = self._held(user_id, at_least, key)
        if held is not None:
            return _served(held)
        await self._wait(user_id, at_least)

        async def read(connection: asyncpg.Connection) -> tuple[int, tuple[bytes, str] | None]:
            return await _checkpoint(connection, user_id), await load.load(connection)

        floor = await self._floor(user_id, at_least)
        version, found = await self.reads.snapshot(read, version=lambda answer: answer[0], at_least=floor)
        if found is None:
            if at_least is None:
                return await self.read_models.own_miss(
                    user_id, Absent(version), lambda written: self.one(user_id, written, load, key=key)
                )
            return ReadModels._consistent(Absent(version), at_least)
        body, etag = found
        served = Served(body, etag or body_etag(body), version)
        self._keep(user_id, key, mark, served, load.shows)
        return ReadModels._consistent(served, at_least)

    async def read(
        self, user_id: uuid.UUID, at_least: int | None, load: PageLoader, *, key: str | None = None
    ) -> Served:
        """One page, spliced from stored entries; `key` as for `one`."""
        held, mark = self._held(user_id, at_least, key)
        if held is not None:
            served = _served(held)
            assert isinstance(served, Served)
            return served
        await self._wait(user_id, at_least)

        async def read(connection: asyncpg.Connection) -> tuple[int, bytes]:
            return await _checkpoint(connection, user_id), splice_page(await load.load(connection))

        floor = await self._floor(user_id, at_least)
        version, body = await self.reads.snapshot(read, version=lambda answer: answer[0], at_least=floor)
        page = Served(body, body_etag(body), version)
        self._keep(user_id, key, mark, page, load.shows)
        served = ReadModels._consistent(page, at_least)
        assert isinstance(served, Served)
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
            _MEMORY_HITS.inc()
            return held, None
        return None, memory.mark(user_id)

    def _keep(
        self, user_id: uuid.UUID, key: str | None, mark: Mark | None, served: Served, shows: str
    ) -> None:
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
            shows=shows,
        )  # fmt: skip


def _list_key(user_id: uuid.UUID, key: str) -> str:
    return f"list:{user_id}:{key}"
