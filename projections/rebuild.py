"""Rebuilding read models from the event log while writes and live projection go on
(docs/architecture.md#rebuilding-read-models).


1. Shadow tables: schema `ironlog_rebuild` gets an empty copy of every `rm_*` table and of the
   projection bookkeeping. The runner projects into it in shadow mode (`SET LOCAL search_path`), so the
   projectors are the very code live projection runs.
2. Catch-up: users are replayed from version 0 while live projection goes on.
3. Swap: one transaction takes the rebuild gate exclusively (every live batch holds it shared, so the
   swap waits for running batches and pauses new ones), replays what arrived meanwhile, then renames
   the tables (all users) or copies the user's rows (one user) and moves the checkpoints. Readers
   see the old read models until the commit and the new ones after it.

Only one rebuild runs at a time (a session advisory lock). After the swap the rebuilt users' Redis
documents and the leaderboards are dropped; reads refill them from the new tables.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import clock
from core.db import session_changed
from core.locks import REBUILD_GATE_KEY, REBUILD_RUNNING_KEY
from core.redis import Keys
from projections import analytics_rebuild
from projections.cache import projected_channel
from projections.runner import SHADOW_SCHEMA, RunnerSettings, project_user

log = structlog.get_logger(__name__)

SHADOW = SHADOW_SCHEMA
RETIRED = "ironlog_retired"
#: What the runner writes besides rm_* tables; shadowed too, but never renamed into place. The shadow
#: projects under leases of its own: a live worker holding a user's lease while it waits on the
#: rebuild gate (held by the rebuild's swap) would otherwise keep the rebuild waiting on it.
BOOKKEEPING = ("projection_checkpoints", "projection_pending", "projection_outbox", "projection_leases")

#: Each projector's version. Bump one when its output changes for the same events: the next deploy
#: (`ironlog migrate`, or `ironlog projections rebuild --if-stale`) rebuilds every read model.
PROJECTOR_VERSIONS: dict[str, int] = {
    "settings": 1,
    "workouts": 2,  # 2: bodies stored deflated (projections/packing.py)
    "weekly-totals": 1,
    "dashboard": 1,
    "history-and-records": 3,  # 2: sessions stored deflated; 3: their bests as columns (measured)
    "library": 1,
    "leaderboards": 1,
    "activity": 1,
}


class RebuildRunning(Exception):
    """Another rebuild holds the lock."""


@dataclass
class Progress:
    """Events replayed so far out of `total`, for a progress bar."""

    total: int
    done: int = 0
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.rate
        return max(self.total - self.done, 0) / rate if rate > 0 else None


@dataclass(frozen=True)
class RebuildResult:
    users: int
    events: int
    seconds: float


async def stale_projectors(
    connection: asyncpg.Connection | asyncpg.Pool,
) -> dict[str, tuple[int, int | None]]:
    """Projectors whose deployed version differs from the code's: name -> (code, deployed)."""
    rows = await connection.fetch("SELECT projector, version FROM projector_versions")
    deployed = {row["projector"]: row["version"] for row in rows}
    return {
        name: (version, deployed.get(name))
        for name, version in PROJECTOR_VERSIONS.items()
        if deployed.get(name) != version
    }


async def record_versions(connection: asyncpg.Connection | asyncpg.Pool) -> None:
    """Note that the read models are what the code's projectors make (after a full rebuild, or when
    there is no event to project yet)."""
    await connection.executemany(
        """
        INSERT INTO projector_versions (projector, version, rebuilt_at) VALUES ($1, $2, $3)
        ON CONFLICT (projector) DO UPDATE SET version = EXCLUDED.version, rebuilt_at = EXCLUDED.rebuilt_at
        """,
        [(name, version, clock.now()) for name, version in sorted(PROJECTOR_VERSIONS.items())],
    )


async def _rm_tables(connection: asyncpg.Connection) -> list[str]:
    rows = await connection.fetch(
        """
        SELECT table_name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name LIKE 'rm\\_%'
        ORDER BY table_name
        """
    )
    return [row["table_name"] for row in rows]


async def _prepare_shadow(connection: asyncpg.Connection, tables: list[str]) -> None:
    await connection.execute(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE")
    await connection.execute(f"CREATE SCHEMA {SHADOW}")
    for table in [*tables, *BOOKKEEPING]:
        await connection.execute(f"CREATE TABLE {SHADOW}.{table} (LIKE public.{table} INCLUDING ALL)")


async def _behind(connection: asyncpg.Connection | asyncpg.Pool, only: uuid.UUID | None) -> list[uuid.UUID]:
    """Users whose shadow read models are behind their stream."""
    rows = await connection.fetch(
        f"""
        SELECT s.user_id FROM streams s LEFT JOIN {SHADOW}.projection_checkpoints c ON c.user_id = s.user_id
        WHERE s.version > COALESCE(c.version, 0) AND ($1::uuid IS NULL OR s.user_id = $1)
        ORDER BY s.user_id
        """,  # noqa: S608
        only,
    )
    return [row["user_id"] for row in rows]


class Rebuild:
    """One rebuild, of every user or of one."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        keys: Keys,
        *,
        user_id: uuid.UUID | None = None,
        batch_size: int = 1000,
        clock: Callable[[], datetime] = clock.now,
        on_progress: Callable[[Progress], None] = lambda _: None,
    ) -> None:
        self.pool = pool
        self.redis = redis
        self.keys = keys
        self.user_id = user_id
        self.settings = RunnerSettings(batch_size=batch_size)
        self.clock = clock
        self.on_progress = on_progress
        self.progress = Progress(total=0)

    async def run(self) -> RebuildResult:
        """Rebuild; RebuildRunning if another rebuild is under way."""
        started = time.monotonic()
        async with self.pool.acquire() as holder:
            session_changed(holder)  # a session lock: released below, and by the reset if that failed
            if not await holder.fetchval("SELECT pg_try_advisory_lock($1)", REBUILD_RUNNING_KEY):
                raise RebuildRunning("another rebuild is running; try again when it has finished")
            try:
                tables = await _rm_tables(holder)
                await _prepare_shadow(holder, tables)
                self.progress = Progress(
                    total=await holder.fetchval(
                        "SELECT count(*) FROM events WHERE $1::uuid IS NULL OR user_id = $1", self.user_id
                    )
                )
                users = await _behind(holder, self.user_id)
                await self._catch_up(users)
                swapped = await self._swap(tables)
                await holder.execute(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE")
            finally:
                await holder.execute("SELECT pg_advisory_unlock($1)", REBUILD_RUNNING_KEY)
        await self._forget_cache(swapped)
        result = RebuildResult(len(swapped), self.progress.done, time.monotonic() - started)
        log.info("projections_rebuilt", users=result.users, events=result.events, seconds=result.seconds)
        return result

    async def _catch_up(self, users: list[uuid.UUID]) -> None:
        for user in users:
            outcome = await project_user(
                self.pool, self.redis, self.keys, user, settings=self.settings, clock=self.clock, shadow=True
            )
            self.progress.done += outcome.applied
            self.on_progress(self.progress)

    async def _swap(self, tables: list[str]) -> list[uuid.UUID]:
        """Catch up what arrived meanwhile and put the shadow in place, in one transaction."""
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", REBUILD_GATE_KEY)
            self.progress.total = self.progress.done + await connection.fetchval(
                f"""
                SELECT COALESCE(sum(s.version - COALESCE(c.version, 0)), 0)::bigint FROM streams s
                LEFT JOIN {SHADOW}.projection_checkpoints c ON c.user_id = s.user_id
                WHERE $1::uuid IS NULL OR s.user_id = $1
                """,  # noqa: S608
                self.user_id,
            )
            await self._catch_up(await _behind(self.pool, self.user_id))
            # Accounts erased since they were replayed (erasure holds the gate shared, so none now).
            for table in tables:
                if await _has_user_id(connection, table):
                    await connection.execute(
                        f"DELETE FROM {SHADOW}.{table} WHERE user_id NOT IN (SELECT user_id FROM streams)"  # noqa: S608
                    )
            # The shared analytics counts follow the difference between rebuilt and live state.
            await analytics_rebuild.reconcile_rebuilt(connection, SHADOW, self.user_id)
            if self.user_id is None:
                await _rename_into_place(connection, tables)
            else:
                await _copy_user_into_place(connection, tables, self.user_id)
            swapped = await connection.fetch(
                f"""
                INSERT INTO projection_checkpoints AS p (user_id, version, redis_version)
                SELECT c.user_id, c.version, c.version FROM {SHADOW}.projection_checkpoints c
                JOIN streams s ON s.user_id = c.user_id
                ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version,
                    redis_version = EXCLUDED.version, failures = 0, parked_version = NULL,
                    parked_error = NULL, parked_at = NULL
                RETURNING p.user_id
                """  # noqa: S608
            )
            await connection.execute(
                """
                DELETE FROM projection_pending p USING projection_checkpoints c
                WHERE c.user_id = p.user_id AND p.version <= c.version
                """
            )
            if self.user_id is None:
                await record_versions(connection)
            return [row["user_id"] for row in swapped]

    async def _forget_cache(self, users: list[uuid.UUID]) -> None:
        """Drop what Redis holds from the old read models; reads refill it from the new ones."""
        try:
            patterns = [self.keys.user_pattern(user) for user in users] if self.user_id else []
            if self.user_id is None:
                patterns = [self.keys.pattern_of("u:*"), self.keys.pattern_of("lb:*")]
            for pattern in patterns:
                batch = [key async for key in self.redis.scan_iter(match=pattern, count=1000)]
                for start in range(0, len(batch), 1000):
                    await self.redis.unlink(*batch[start : start + 1000])
            if self.user_id is not None:  # the user's boards: rebuilt from Postgres on the next read
                ready = [key async for key in self.redis.scan_iter(match=self.keys.pattern_of("lb:*:ready"))]
                if ready:
                    await self.redis.unlink(*ready)
            # The API processes' memory caches drop every read model of the rebuilt users.
            for start in range(0, len(users), 1000):
                async with self.redis.pipeline(transaction=False) as pipe:
                    for user in users[start : start + 1000]:
                        pipe.publish(projected_channel(self.keys, user), "0")
                    await pipe.execute()
        except RedisError as exc:
            log.warning("rebuild_cache_left", error=repr(exc))


async def _has_user_id(connection: asyncpg.Connection, table: str) -> bool:
    found: bool = await connection.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'user_id')
        """,
        table,
    )
    return found


async def _index_names(connection: asyncpg.Connection, schema: str, table: str) -> dict[str, str]:
    """Index definition (name and table left out) -> index name."""
    rows = await connection.fetch(
        """
        SELECT i.relname AS name,
               regexp_replace(pg_get_indexdef(i.oid), '^CREATE (UNIQUE )?INDEX \\S+ ON \\S+ ', '\\1') AS shape
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = $1 AND t.relname = $2
        """,
        schema,
        table,
    )
    return {row["shape"]: row["name"] for row in rows}


async def _rename_into_place(connection: asyncpg.Connection, tables: list[str]) -> None:
    """Retire the live tables and move the shadow ones in, under the names migrations know."""
    await connection.execute(f"DROP SCHEMA IF EXISTS {RETIRED} CASCADE")
    await connection.execute(f"CREATE SCHEMA {RETIRED}")
    for table in tables:
        names = await _index_names(connection, "public", table)
        await connection.execute(f"ALTER TABLE public.{table} SET SCHEMA {RETIRED}")
        await connection.execute(f"ALTER TABLE {SHADOW}.{table} SET SCHEMA public")
        for shape, shadow_name in (await _index_names(connection, "public", table)).items():
            live_name = names.get(shape)
            if live_name and live_name != shadow_name:
                await connection.execute(f'ALTER INDEX public."{shadow_name}" RENAME TO "{live_name}"')
    await connection.execute(f"DROP SCHEMA {RETIRED} CASCADE")


async def _copy_user_into_place(
    connection: asyncpg.Connection, tables: list[str], user_id: uuid.UUID
) -> None:
    for table in tables:
        if not await _has_user_id(connection, table):
            continue
        await connection.execute(f"DELETE FROM public.{table} WHERE user_id = $1", user_id)  # noqa: S608
        await connection.execute(
            f"INSERT INTO public.{table} SELECT * FROM {SHADOW}.{table} WHERE user_id = $1",  # noqa: S608
            user_id,
        )
