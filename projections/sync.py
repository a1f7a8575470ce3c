"""Bring a user's Redis documents up to their Postgres read models, then announce it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.redis import Keys
from projections import leaderboards, metrics
from projections.cache import PAGE_TTL_S, DocumentCache, body_etag, projected_channel
from projections.feed import FIRST_PAGE_SIZE, feed_page

log = structlog.get_logger(__name__)


async def sync_redis(pool: asyncpg.Pool, redis: Redis, keys: Keys, user_id: uuid.UUID) -> bool:
    """Write every document changed since the last sync; False (and retried later) if Redis failed.

    Safe to repeat and to race with readers filling the cache: every write is version-guarded.
    """
    async with pool.acquire() as connection:
        checkpoint = await connection.fetchrow(
            "SELECT version, redis_version FROM projection_checkpoints WHERE user_id = $1", user_id
        )
        if checkpoint is None:
            return True
        version, synced = checkpoint["version"], checkpoint["redis_version"]
        workouts = await connection.fetch(
            """
            SELECT w.workout_id, d.workout_version, d.body
            FROM (SELECT (payload->>'workoutId')::uuid AS workout_id FROM events
                  WHERE user_id = $1 AND version > $2 AND version <= $3 AND payload ? 'workoutId'
                  UNION
                  SELECT workout_id FROM projection_dirty WHERE user_id = $1 AND version > $2) w
            LEFT JOIN rm_workout_documents d ON d.user_id = $1 AND d.workout_id = w.workout_id
            """,
            user_id,
            synced,
            version,
        )
        dashboard = await connection.fetchrow(
            "SELECT version, as_of, body, (SELECT timezone FROM rm_user_settings WHERE user_id = $1) AS zone "
            "FROM rm_dashboards WHERE user_id = $1",
            user_id,
        )
        scores = await leaderboards.changed_rows(connection, user_id, synced)
        # Every change makes the cached feed pages stale (they carry the version they were read at):
        # the first page, the one the app opens, is written again so that it stays a hit.
        first_page = await feed_page(connection, user_id, None, FIRST_PAGE_SIZE) if version > synced else None
    cache = DocumentCache(redis, keys)
    names = cache.keys_of(user_id)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for row in workouts:
                body = row["body"] or b""
                etag = f'"{row["workout_version"]}"' if row["body"] else ""
                await cache.put(pipe, names.workout(row["workout_id"]), version=version, body=body, etag=etag)
            if dashboard is not None:
                await cache.put(
                    pipe,
                    names.dashboard,
                    version=dashboard["version"],
                    stamp=dashboard["as_of"].toordinal(),
                    zone=dashboard["zone"] or "UTC",
                    body=dashboard["body"],
                    etag=body_etag(dashboard["body"]),
                )
            if first_page is not None:
                await cache.put(
                    pipe,
                    names.feed_page(FIRST_PAGE_SIZE, None),
                    version=version,
                    body=first_page,
                    etag=body_etag(first_page),
                    ttl_s=PAGE_TTL_S,
                )
            await leaderboards.sync_rows(redis, pipe, keys, scores, datetime.now(UTC))
            await cache.put_synced(pipe, names.synced, version)
            pipe.publish(projected_channel(keys, user_id), str(version))
            await pipe.execute()
    except RedisError as exc:
        metrics.REDIS_SYNC_FAILURES.inc()
        log.warning("redis_sync_failed", user_id=str(user_id), error=repr(exc))
        return False
    await pool.execute("DELETE FROM projection_dirty WHERE user_id = $1 AND version <= $2", user_id, version)
    if version > synced:
        await pool.execute(
            """
            UPDATE projection_checkpoints SET redis_version = GREATEST(redis_version, $2) WHERE user_id = $1
            """,
            user_id,
            version,
        )
    return True
