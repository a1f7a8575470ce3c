"""What `ironlog projections retry|status|rebuild` do."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import structlog

from core.db import close_pool, open_pool
from core.redis import Keys, open_redis
from core.settings import Settings
from projections.rebuild import (
    PROJECTOR_VERSIONS,
    Progress,
    Rebuild,
    RebuildResult,
    RebuildRunning,
    record_versions,
    stale_projectors,
)
from projections.sweeper import retry_parked
from workers.enqueue import Enqueuer

log = structlog.get_logger(__name__)


async def retry(settings: Settings, user_id: uuid.UUID | None) -> list[uuid.UUID]:
    """Unpark `user_id` (or every parked user) and enqueue their projection."""
    pool = await open_pool(settings.with_pool_size(1, 2), "cli")
    enqueuer = Enqueuer(settings)
    try:
        async with pool.acquire() as connection:
            retried = await retry_parked(connection, user_id)
        for retried_id in retried:
            # If this poke is lost, the sweeper finds the user again now that it is unparked.
            await enqueuer.send(enqueuer.actors.project_user, str(retried_id))
        return retried
    finally:
        enqueuer.close()
        await close_pool(pool)


async def status(settings: Settings) -> str:
    pool = await open_pool(settings.with_pool_size(1, 2), "cli")
    try:
        lagging = await pool.fetchval("SELECT count(*) FROM projection_pending")
        behind = await pool.fetchval(
            "SELECT count(*) FROM projection_checkpoints WHERE redis_version < version"
        )
        stale = await stale_projectors(pool)
        parked = await pool.fetch(
            """
            SELECT user_id, parked_version, parked_at, parked_error FROM projection_checkpoints
            WHERE parked_version IS NOT NULL ORDER BY parked_at
            """
        )
    finally:
        await close_pool(pool)
    lines = ["projectors (code version / deployed):"]
    for name, version in PROJECTOR_VERSIONS.items():
        deployed = stale[name][1] if name in stale else version
        mark = "" if name not in stale else "  <- stale: `ironlog projections rebuild --all`"
        lines.append(f"  {name}: {version} / {'-' if deployed is None else deployed}{mark}")
    lines += [f"lagging users: {lagging}", f"redis behind: {behind}", f"parked users: {len(parked)}"]
    lines += [
        f"  {row['user_id']} at version {row['parked_version']} since {row['parked_at']:%Y-%m-%d %H:%M:%S}: "
        f"{row['parked_error']}"
        for row in parked
    ]
    return "\n".join(lines)


async def rebuild(
    settings: Settings,
    user_id: uuid.UUID | None,
    *,
    only_if_stale: bool = False,
    on_progress: Callable[[Progress], None] = lambda _: None,
) -> RebuildResult | None:
    """Rebuild one user's or every user's read models; with `only_if_stale`, only when a projector's
    version changed since the last full rebuild (None when nothing was stale)."""
    pool = await open_pool(settings.with_pool_size(2, 4), "cli")
    redis = open_redis(settings)
    try:
        if only_if_stale and not await stale_projectors(pool):
            return None
        if only_if_stale and not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM events)"):
            await record_versions(pool)  # nothing to rebuild yet
            return None
        job = Rebuild(pool, redis, Keys(settings.redis.prefix), user_id=user_id, on_progress=on_progress)
        try:
            return await job.run()
        except RebuildRunning:
            if not only_if_stale:
                raise
            # Another deploying process is already rebuilding; live projection serves meanwhile.
            log.info("rebuild_left_to_another_process")
            return None
    finally:
        await redis.aclose()
        await close_pool(pool)
