"""What `ironlog projections retry|status` do."""

from __future__ import annotations

import uuid

from core.db import close_pool, open_pool
from core.settings import Settings
from projections.sweeper import retry_parked
from workers.enqueue import Enqueuer


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
        parked = await pool.fetch(
            """
            SELECT user_id, parked_version, parked_at, parked_error FROM projection_checkpoints
            WHERE parked_version IS NOT NULL ORDER BY parked_at
            """
        )
    finally:
        await close_pool(pool)
    lines = [f"lagging users: {lagging}", f"redis behind: {behind}", f"parked users: {len(parked)}"]
    lines += [
        f"  {row['user_id']} at version {row['parked_version']} since {row['parked_at']:%Y-%m-%d %H:%M:%S}: "
        f"{row['parked_error']}"
        for row in parked
    ]
    return "\n".join(lines)
