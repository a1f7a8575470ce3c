"""The sweeper: finds users whose projection fell behind and pokes the workers for them, and folds the
analytics counts' changes into the counts (projections/analytics.py).

Three cheap queries, each on an index of just the users concerned: events not projected
(the pending table), Redis documents behind Postgres, dashboards whose local day has passed.
Parked users are left alone until an operator retries them. How long a user has been pending is
Postgres's own reckoning (its clock both stamps and reads it); a dashboard's rollover is a time of
the product, compared with core.clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from core import clock
from projections import analytics, metrics


@dataclass(frozen=True)
class SweepSettings:
    grace_s: float = 2.0  # a write this recent is still being projected from its own poke
    repoke_s: float = 30.0  # a poke not acted on by then is taken as lost
    limit: int = 1000


@dataclass
class Sweep:
    lagging: int = 0
    redis_behind: int = 0
    rolled_over: int = 0
    parked: int = 0
    folded: int = 0  # analytics counts' changes


Poke = Callable[[uuid.UUID, bool], Awaitable[None]]


async def sweep(connection: asyncpg.Connection, poke: Poke, settings: SweepSettings | None = None) -> Sweep:
    """Poke every user that needs projecting; `poke(user_id, refresh_dashboard)` enqueues the work."""
    settings = settings or SweepSettings()
    result = Sweep()
    # A user poked recently is not poked again: that poke is still queued or running.
    lagging = await connection.fetch(
        """
        UPDATE projection_pending SET poked_at = clock_timestamp()
        WHERE user_id IN (
            SELECT p.user_id FROM projection_pending p
            LEFT JOIN projection_checkpoints c ON c.user_id = p.user_id
            WHERE p.since < clock_timestamp() - make_interval(secs => $1)
              AND (p.poked_at IS NULL OR p.poked_at < clock_timestamp() - make_interval(secs => $3))
              AND c.parked_version IS NULL
            ORDER BY p.since LIMIT $2
        )
        RETURNING user_id
        """,
        settings.grace_s,
        settings.limit,
        settings.repoke_s,
    )
    behind = await connection.fetch(
        """
        SELECT user_id FROM projection_checkpoints
        WHERE redis_version < version AND parked_version IS NULL LIMIT $1
        """,
        settings.limit,
    )
    rolled = await connection.fetch(
        "SELECT user_id FROM rm_dashboards WHERE rollover_at <= $2 LIMIT $1", settings.limit, clock.now()
    )
    result.parked = await connection.fetchval(
        "SELECT count(*) FROM projection_checkpoints WHERE parked_version IS NOT NULL"
    )
    lagging_ids = {row["user_id"] for row in lagging}
    for user_id in lagging_ids | {row["user_id"] for row in behind}:
        await poke(user_id, False)
    for row in rolled:
        if row["user_id"] not in lagging_ids:
            await poke(row["user_id"], True)
    result.lagging, result.redis_behind, result.rolled_over = len(lagging), len(behind), len(rolled)
    result.folded = await analytics.fold_counts(connection)
    metrics.LAGGING_USERS.set(result.lagging)
    metrics.PARKED_USERS.set(result.parked)
    return result


async def retry_parked(connection: asyncpg.Connection, user_id: uuid.UUID | None) -> list[uuid.UUID]:
    """Unpark one user (or all); the users unparked, for the caller to poke."""
    rows = await connection.fetch(
        """
        UPDATE projection_checkpoints
        SET parked_version = NULL, parked_error = NULL, parked_at = NULL, failures = 0
        WHERE parked_version IS NOT NULL AND ($1::uuid IS NULL OR user_id = $1)
        RETURNING user_id
        """,
        user_id,
    )
    return [row["user_id"] for row in rows]
