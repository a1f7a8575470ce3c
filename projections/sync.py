"""Bring a user's Redis documents up to their Postgres read models, then announce it.

What to write is what the projection recorded in `projection_outbox` (projections/outbox.py); nothing
else decides which documents are stale.

Redis holds the hot set, not whole histories: the dashboard, the first feed page, and each user's
`hot_workouts` most recent workout documents are pushed. A changed workout outside them is dropped
from Redis instead (read through from Postgres when opened), and so are those the new ones pushed out
of the hot set: an import, a rebuild or a formula switch of a long history costs Redis no more than
one new workout does. When a workout leaves the hot set otherwise (deleted, or moved back in time),
the hot set's last places are pushed again, since the one that came into it in its place may not be
held.
"""

from __future__ import annotations

import uuid

import asyncpg
import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from core import clock
from core.redis import Keys, run_pipeline
from projections import leaderboards, metrics, outbox, store
from projections.cache import PAGE_TTL_S, DocumentCache, body_etag, changed_channel, projected_channel
from projections.feed import FIRST_PAGE_SIZE, page_body

log = structlog.get_logger(__name__)


#: How many of a user's most recent workout documents the sync keeps in Redis.
HOT_WORKOUTS = 10


async def sync_redis(
    connection: asyncpg.Connection,
    redis: Redis,
    keys: Keys,
    user_id: uuid.UUID,
    *,
    hot_workouts: int = HOT_WORKOUTS,
) -> bool:
    """Write the documents the outbox names, announce them, then empty the outbox of what was written;
    False (and retried later) if Redis failed.

    Safe to repeat and to race with readers filling the cache: every write is version-guarded.
    """
    # One statement: one snapshot, without a transaction around it.
    snapshot = await store.sync_snapshot(
        connection, user_id, hot_workouts=hot_workouts, page_size=FIRST_PAGE_SIZE
    )
    if snapshot is None:
        return True
    version, changes, dashboard = snapshot.version, snapshot.changes, snapshot.dashboard
    # Whoever the changed ones pushed out of the hot set goes too (a no-op when it was not held).
    cold = set(snapshot.pushed_out)
    scores = [
        leaderboards.ScoreRow(board, key, user_id, at, score) for board, key, at, score in snapshot.scores
    ]
    # Feed pages are valid only at the user's version they were read at (`ver` moves on every sync):
    # the first page, the one the app opens, is written again so that it stays a hit.
    first_page = page_body(snapshot.feed, FIRST_PAGE_SIZE) if snapshot.feed is not None else None
    cache = DocumentCache(redis, keys)
    names = cache.keys_of(user_id)

    async def queue(pipe: Pipeline) -> None:  # all of it version-guarded or idempotent: safe to repeat
        for workout_id, workout_version, present, body in snapshot.workouts:
            if not present:  # deleted: a tombstone, so a read knows without asking Postgres
                await cache.put(pipe, names.workout(workout_id), names.synced, version=version,
                                body=b"", etag="")  # fmt: skip
            elif body is not None:  # in the hot set
                await cache.put(
                    pipe,
                    names.workout(workout_id),
                    names.synced,
                    version=version,
                    body=body,  # as Postgres stores it: packed
                    etag=f'"{workout_version}"',
                    packed=True,
                )
            else:
                cold.add(workout_id)
        # One of these may have come into the hot set as a named one left it: pushed again (a no-op
        # where Redis holds it already, the puts being version-guarded).
        for workout_id, workout_version, body in snapshot.refill:
            await cache.put(
                pipe,
                names.workout(workout_id),
                names.synced,
                version=version,
                body=body,
                etag=f'"{workout_version}"',
                packed=True,
            )
        if dashboard is not None:
            dashboard_version, as_of, dashboard_body, zone = dashboard
            await cache.put(
                pipe,
                names.dashboard,
                names.synced,
                version=dashboard_version,
                stamp=as_of.toordinal(),
                zone=zone or "UTC",
                body=dashboard_body,
                etag=body_etag(dashboard_body),
            )
        if first_page is not None:
            await cache.put(
                pipe,
                names.feed_page(FIRST_PAGE_SIZE, None),
                names.synced,
                version=version,
                body=first_page,
                etag=body_etag(first_page),
                ttl_s=PAGE_TTL_S,
            )
        await leaderboards.sync_rows(redis, pipe, keys, scores, clock.now())
        await cache.put_synced(pipe, names.synced, version)
        # After `ver` moved: a reader's fill from before the change is refused from now on, and one
        # that landed before is deleted here.
        if cold:
            pipe.unlink(*(names.workout(workout_id) for workout_id in cold))
        pipe.publish(changed_channel(keys, user_id), outbox.announcement(version, frozenset(changes)))
        pipe.publish(projected_channel(keys, user_id), str(version))

    try:
        await run_pipeline(redis, queue)
    except RedisError as exc:
        metrics.REDIS_SYNC_FAILURES.inc()
        log.warning("redis_sync_failed", user_id=str(user_id), error=repr(exc))
        return False
    if not await store.mark_synced(connection, user_id, version, changes):
        await _take_back(redis, keys, user_id, scores)
    return True


async def _take_back(
    redis: Redis, keys: Keys, user_id: uuid.UUID, scores: list[leaderboards.ScoreRow]
) -> None:
    """The account was erased while this sync ran, from a snapshot read before: the erasure has cleared
    Redis already, perhaps before this sync wrote, so take back what it wrote. (The erasure commits
    before it clears Redis, and this looks after writing: one of the two always comes last.)"""
    try:
        written = [key async for key in redis.scan_iter(match=keys.user_pattern(user_id), count=500)]
        if written:
            await redis.unlink(*written)
        await leaderboards.remove_user(redis, keys, user_id, {(row.board, row.key) for row in scores})
    except RedisError as exc:  # documents expire; boards never show users without a profile
        log.warning("erased_user_cache_left", user_id=str(user_id), error=repr(exc))
    log.info("sync_taken_back_after_erasure", user_id=str(user_id))
