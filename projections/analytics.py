"""The `analytics` schema for analysts, kept current by the projection runner.

Each user's share is kept in public `rm_activity_days`, `rm_activity_exercises` and `rm_signups`
(rebuildable, erased with the user); the counts in `analytics.*` change by the difference between
that state and the user's read models, so they hold no user ids and outlive erased accounts.
Shared rows are changed in key order, so concurrent projections never deadlock on them. The rm_*
names stay unqualified: during a rebuild the search_path points them at the shadow tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal

import asyncpg
import msgspec

from projections.activity import (
    DayChange,
    DayTotals,
    ExerciseChange,
    ExerciseTotals,
    ExerciseWeek,
    RetentionChange,
    day_changes,
    exercise_changes,
    retention_changes,
    sum_days,
    sum_exercises,
    utc_day,
    week_of,
    with_days,
    with_signup,
)


class _WorkoutTotals(msgspec.Struct, rename="camel"):
    """What analytics read of a stored WorkoutSummary body."""

    set_count: int
    volume_kg: Decimal


class _SessionTotals(msgspec.Struct, rename="camel"):
    """What analytics read of a stored ExerciseSession body."""

    volume_kg: Decimal
    working_sets: int | None = None


_WORKOUT_DECODER = msgspec.json.Decoder(_WorkoutTotals)
_SESSION_DECODER = msgspec.json.Decoder(_SessionTotals)


async def project_activity(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    days: set[date],
    registered_at: datetime | None,
    count: bool,
) -> None:
    """Bring the user's activity on `days` (UTC dates) up to their read models.

    `registered_at` is set when the batch holds the user's registration. With `count` false (a
    rebuild into shadow tables) only the per-user state is written, never the shared counts.
    """
    registered_on = utc_day(registered_at) if registered_at is not None else None
    signed_up = registered_on is not None and await _sign_up(connection, user_id, registered_on)
    if not days and not signed_up:
        return
    weeks = sorted({week_of(day) for day in days})
    stored_days = await _stored_days(connection, user_id, weeks)
    current_days = with_days(stored_days, days, await _summed_days(connection, user_id, days))
    stored_exercises = await _stored_exercises(connection, user_id, weeks)
    current_exercises = await _summed_exercises(connection, user_id, weeks)
    await _save_days(connection, user_id, days, current_days)
    await _save_exercises(connection, user_id, weeks, current_exercises)
    if not count:
        return
    changes = day_changes(stored_days, current_days)
    if signed_up and registered_on is not None:
        changes = with_signup(changes, registered_on)
    else:
        registered_on = await connection.fetchval(
            "SELECT registered_on FROM rm_signups WHERE user_id = $1", user_id
        )
    await _count_days(connection, changes)
    await _count_exercises(connection, exercise_changes(stored_exercises, current_exercises))
    if registered_on is not None:
        await _count_retention(connection, retention_changes(registered_on, stored_days, current_days, weeks))


async def _sign_up(connection: asyncpg.Connection, user_id: uuid.UUID, registered_on: date) -> bool:
    """Record the registration day; False when it was already recorded."""
    inserted: bool | None = await connection.fetchval(
        """
        INSERT INTO rm_signups (user_id, registered_on) VALUES ($1, $2)
        ON CONFLICT (user_id) DO NOTHING RETURNING true
        """,
        user_id,
        registered_on,
    )
    return bool(inserted)


async def _stored_days(
    connection: asyncpg.Connection, user_id: uuid.UUID, weeks: list[date]
) -> dict[date, DayTotals]:
    """The user's recorded days in `weeks` (every day of them, for the weekly activity)."""
    rows = await connection.fetch(
        """
        SELECT day, workouts, sets, volume_kg FROM rm_activity_days, unnest($2::date[]) AS w(week)
        WHERE user_id = $1 AND day BETWEEN w.week AND w.week + 6
        """,
        user_id,
        weeks,
    )
    return {row["day"]: DayTotals(row["workouts"], row["sets"], row["volume_kg"]) for row in rows}


async def _summed_days(
    connection: asyncpg.Connection, user_id: uuid.UUID, days: set[date]
) -> dict[date, DayTotals]:
    """The user's workouts on `days`, added up from the feed."""
    rows = await connection.fetch(
        """
        SELECT started_at, body FROM rm_workout_summaries, unnest($2::date[]) AS d(day)
        WHERE user_id = $1 AND started_at >= d.day::timestamp AT TIME ZONE 'UTC'
            AND started_at < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
        """,
        user_id,
        sorted(days),
    )
    workouts = []
    for row in rows:
        totals = _WORKOUT_DECODER.decode(row["body"])
        workouts.append((row["started_at"], totals.set_count, totals.volume_kg))
    return sum_days(workouts)


async def _stored_exercises(
    connection: asyncpg.Connection, user_id: uuid.UUID, weeks: list[date]
) -> dict[ExerciseWeek, ExerciseTotals]:
    rows = await connection.fetch(
        """
        SELECT week, exercise_id, sessions, sets, volume_kg FROM rm_activity_exercises
        WHERE user_id = $1 AND week = ANY($2::date[])
        """,
        user_id,
        weeks,
    )
    return {
        (row["week"], row["exercise_id"]): ExerciseTotals(row["sessions"], row["sets"], row["volume_kg"])
        for row in rows
    }


async def _summed_exercises(
    connection: asyncpg.Connection, user_id: uuid.UUID, weeks: list[date]
) -> dict[ExerciseWeek, ExerciseTotals]:
    """The user's exercise sessions in `weeks`, added up from their history."""
    rows = await connection.fetch(
        """
        SELECT exercise_id, started_at, body FROM rm_exercise_sessions, unnest($2::date[]) AS w(week)
        WHERE user_id = $1 AND started_at >= w.week::timestamp AT TIME ZONE 'UTC'
            AND started_at < (w.week + 7)::timestamp AT TIME ZONE 'UTC'
        """,
        user_id,
        weeks,
    )
    sessions = []
    for row in rows:
        totals = _SESSION_DECODER.decode(row["body"])
        sessions.append((row["exercise_id"], row["started_at"], totals.working_sets or 0, totals.volume_kg))
    return sum_exercises(sessions)


async def _save_days(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    days: Iterable[date],
    current: Mapping[date, DayTotals],
) -> None:
    touched = sorted(days)
    await connection.execute(
        "DELETE FROM rm_activity_days WHERE user_id = $1 AND day = ANY($2::date[])", user_id, touched
    )
    await connection.executemany(
        "INSERT INTO rm_activity_days (user_id, day, workouts, sets, volume_kg) VALUES ($1, $2, $3, $4, $5)",
        [(user_id, day, t.workouts, t.sets, t.volume_kg) for day in touched if (t := current.get(day))],
    )


async def _save_exercises(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    weeks: list[date],
    current: Mapping[ExerciseWeek, ExerciseTotals],
) -> None:
    await connection.execute(
        "DELETE FROM rm_activity_exercises WHERE user_id = $1 AND week = ANY($2::date[])", user_id, weeks
    )
    await connection.executemany(
        """
        INSERT INTO rm_activity_exercises (user_id, week, exercise_id, sessions, sets, volume_kg)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        [
            (user_id, week, exercise_id, t.sessions, t.sets, t.volume_kg)
            for (week, exercise_id), t in sorted(current.items())
        ],
    )


async def _count_days(connection: asyncpg.Connection, changes: list[DayChange]) -> None:
    if not changes:
        return
    await connection.execute(
        """
        INSERT INTO analytics.daily_activity AS counts
            (day, active_users, workouts, sets, volume_kg, new_users)
        SELECT * FROM unnest($1::date[], $2::int[], $3::int[], $4::int[], $5::numeric[], $6::int[])
        ORDER BY 1
        ON CONFLICT (day) DO UPDATE SET
            active_users = counts.active_users + EXCLUDED.active_users,
            workouts = counts.workouts + EXCLUDED.workouts,
            sets = counts.sets + EXCLUDED.sets,
            volume_kg = counts.volume_kg + EXCLUDED.volume_kg,
            new_users = counts.new_users + EXCLUDED.new_users
        """,
        [c.day for c in changes],
        [c.active_users for c in changes],
        [c.workouts for c in changes],
        [c.sets for c in changes],
        [c.volume_kg for c in changes],
        [c.new_users for c in changes],
    )


async def _count_exercises(connection: asyncpg.Connection, changes: list[ExerciseChange]) -> None:
    if not changes:
        return
    weeks, exercise_ids = [c.week for c in changes], [c.exercise_id for c in changes]
    await connection.execute(
        """
        INSERT INTO analytics.exercise_popularity AS counts
            (week, exercise_id, users, sessions, sets, volume_kg)
        SELECT * FROM unnest($1::date[], $2::text[], $3::int[], $4::int[], $5::int[], $6::numeric[])
        ORDER BY 1, 2
        ON CONFLICT (week, exercise_id) DO UPDATE SET
            users = counts.users + EXCLUDED.users,
            sessions = counts.sessions + EXCLUDED.sessions,
            sets = counts.sets + EXCLUDED.sets,
            volume_kg = counts.volume_kg + EXCLUDED.volume_kg
        """,
        weeks,
        exercise_ids,
        [c.users for c in changes],
        [c.sessions for c in changes],
        [c.sets for c in changes],
        [c.volume_kg for c in changes],
    )
    await connection.execute(
        """
        DELETE FROM analytics.exercise_popularity
        WHERE (week, exercise_id) IN (SELECT * FROM unnest($1::date[], $2::text[])) AND users = 0
        """,
        weeks,
        exercise_ids,
    )


async def _count_retention(connection: asyncpg.Connection, changes: list[RetentionChange]) -> None:
    if not changes:
        return
    cohorts, offsets = [c.cohort_week for c in changes], [c.weeks_since_signup for c in changes]
    await connection.execute(
        """
        INSERT INTO analytics.retention AS counts (cohort_week, weeks_since_signup, users)
        SELECT * FROM unnest($1::date[], $2::int[], $3::int[]) ORDER BY 1, 2
        ON CONFLICT (cohort_week, weeks_since_signup) DO UPDATE SET users = counts.users + EXCLUDED.users
        """,
        cohorts,
        offsets,
        [c.users for c in changes],
    )
    await connection.execute(
        """
        DELETE FROM analytics.retention
        WHERE (cohort_week, weeks_since_signup) IN (SELECT * FROM unnest($1::date[], $2::int[])) AND users = 0
        """,
        cohorts,
        offsets,
    )
