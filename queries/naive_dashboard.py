"""The dashboard the naive way: computed by SQL from the write tables on every request.

A benchmark baseline only (`/bench/naive-dashboard`, mounted with IRONLOG_BENCH=1). It answers with
the same document as `/v1/stats/dashboard` except the records a workout set (the write tables do not
hold them), and its cost grows with the user's history, which is what the read models avoid.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

import asyncpg
import msgspec

from core.catalog import Muscle, exercise
from projections.dashboard import (
    MUSCLE_DAYS,
    WeekStart,
    bodyweight_trend,
    build_dashboard,
    local_date,
    muscle_sets,
)
from projections.documents import BodyweightEntry, Dashboard, WeekTotals, WorkoutSummary
from projections.records import ExerciseSession

#: ISO day of week (Monday 1) each week start begins on.
_ISO_FIRST_DAY = {"monday": 1, "sunday": 7, "saturday": 6}

_PER_WORKOUT = """
    SELECT w.id, w.version, w.title, w.started_at, w.ended_at,
        (SELECT count(*) FROM workout_exercises e WHERE e.workout_id = w.id) AS exercises,
        count(s.workout_id) FILTER (WHERE s.completed AND s.type <> 'warmup') AS sets,
        round(coalesce(sum(s.reps * s.weight_kg) FILTER (WHERE s.completed AND s.type <> 'warmup'), 0), 2)
            AS volume
    FROM workouts w LEFT JOIN workout_sets s ON s.workout_id = w.id
    WHERE w.user_id = $1 AND w.deleted_at IS NULL
    GROUP BY w.id
"""

_WEEKS = f"""
    WITH per_workout AS ({_PER_WORKOUT}), local AS (
        SELECT (started_at AT TIME ZONE $2)::date AS day, sets, volume,
            CASE WHEN ended_at > started_at THEN extract(epoch FROM ended_at - started_at)::bigint END
                AS duration
        FROM per_workout
    )
    SELECT day - ((extract(isodow FROM day)::int - $3 + 7) % 7) AS week, count(*) AS workouts,
        sum(sets)::bigint AS sets, sum(volume) AS volume, coalesce(sum(duration), 0)::bigint AS duration
    FROM local GROUP BY 1
"""  # noqa: S608 - constant text

_LAST = f"""
    SELECT * FROM ({_PER_WORKOUT}) per_workout ORDER BY started_at DESC, id DESC LIMIT 1
"""  # noqa: S608 - constant text

_RECENT_SESSIONS = """
    SELECT w.id, w.started_at, e.exercise_id,
        count(*) FILTER (WHERE s.completed AND s.type <> 'warmup') AS working_sets
    FROM workouts w
    JOIN workout_exercises e ON e.workout_id = w.id
    JOIN workout_sets s ON s.workout_id = w.id AND s.exercise_position = e.position
    WHERE w.user_id = $1 AND w.deleted_at IS NULL AND w.started_at >= $2
    GROUP BY w.id, e.position, e.exercise_id
"""


_BODYWEIGHTS = """
    SELECT json_agg(json_build_object('date', day, 'kg', round(weight_kg, 2),
        'weight', json_build_object('value', weight_value, 'unit', weight_unit)) ORDER BY day)
    FROM bodyweights WHERE user_id = $1 AND day <= $2
"""
_ENTRIES = msgspec.json.Decoder(list[BodyweightEntry])


def _muscles(exercise_id: str) -> tuple[Sequence[Muscle], Sequence[Muscle]]:
    built_in = exercise(exercise_id)
    return (built_in.primary_muscles, built_in.secondary_muscles) if built_in else ((), ())


async def naive_dashboard(connection: asyncpg.Connection, user_id: uuid.UUID, now: datetime) -> Dashboard:
    """The user's dashboard as of `now`, from workouts, workout_sets and bodyweights alone."""
    user = await connection.fetchrow("SELECT timezone, week_start FROM users WHERE id = $1", user_id)
    if user is None:
        raise LookupError(f"no user {user_id}")
    timezone, week_start = user["timezone"], cast(WeekStart, user["week_start"])
    today = local_date(now, timezone)
    weeks = {
        row["week"]: WeekTotals(
            workouts=row["workouts"],
            sets=row["sets"],
            volume_kg=float(row["volume"]),
            duration_s=row["duration"],
        )
        for row in await connection.fetch(_WEEKS, user_id, timezone, _ISO_FIRST_DAY[week_start])
    }
    last = await connection.fetchrow(_LAST, user_id)
    summary = None
    if last is not None:
        ended = last["ended_at"]
        summary = WorkoutSummary(
            id=last["id"],
            version=last["version"],
            title=last["title"],
            started_at=last["started_at"],
            exercise_count=last["exercises"],
            set_count=last["sets"],
            volume_kg=float(last["volume"]),
            ended_at=ended,
            duration_s=int((ended - last["started_at"]).total_seconds())
            if ended and ended > last["started_at"]
            else None,
        )
    since = now - timedelta(days=MUSCLE_DAYS[-1] + 1)
    sessions = _sessions(await connection.fetch(_RECENT_SESSIONS, user_id, since))
    weights = await connection.fetchval(_BODYWEIGHTS, user_id, today)
    entries = _ENTRIES.decode(weights) if weights is not None else []
    return build_dashboard(
        weeks,
        summary,
        today,
        timezone,
        week_start,
        muscle_sets=muscle_sets(sessions, today, timezone, _muscles),
        bodyweight=bodyweight_trend(entries, today),
    )


def _sessions(rows: Sequence[asyncpg.Record]) -> list[ExerciseSession]:
    """The sessions muscle_sets counts: only their working sets matter to it."""
    return [
        ExerciseSession(
            exercise_id=row["exercise_id"],
            workout_id=row["id"],
            started_at=row["started_at"],
            sets=[],
            volume_kg=0.0,
            total_reps=0,
            working_sets=row["working_sets"],
        )
        for row in rows
    ]
