"""The rm_* rows both sides read: the runner while it projects, queries when they serve.

The read side may import this module, never `projections.store`, `runner` or `sync` (pyproject.toml's
import contracts). The dashboard's "as of today" refresh is here so that readers run the projectors'
own code (`projections.dashboard`) rather than a copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import asyncpg
import msgspec

from commands.events import WeekStart
from core.catalog import Exercise, Muscle, exercise
from projections import statements
from projections.dashboard import (
    BODYWEIGHT_AVERAGED,
    BODYWEIGHT_CHANGES,
    WeeksRead,
    bodyweight_charted_since,
    bodyweight_trend,
    build_dashboard,
    charted_since,
    local_date,
    sets_per_muscle,
    window_bounds,
)
from projections.documents import (
    BodyweightEntry,
    CustomExercises,
    Dashboard,
    UserSettings,
    WeekTotals,
    WorkoutSummary,
)

ENCODER = msgspec.json.Encoder()
SUMMARY_DECODER = msgspec.json.Decoder(WorkoutSummary)
EXERCISE_DECODER = msgspec.json.Decoder(Exercise)
BODYWEIGHT_DECODER = msgspec.json.Decoder(BodyweightEntry)


SETTINGS_COLUMNS = tuple(UserSettings.__struct_fields__)


async def load_settings(connection: asyncpg.Connection, user_id: uuid.UUID) -> UserSettings:
    row = await connection.fetchrow(
        f"SELECT {', '.join(SETTINGS_COLUMNS)} FROM rm_user_settings WHERE user_id = $1",  # noqa: S608
        user_id,
    )
    return UserSettings() if row is None else UserSettings(**row)


def custom_of(bodies: Sequence[bytes] | None) -> CustomExercises:
    entries = (EXERCISE_DECODER.decode(body) for body in bodies or ())
    return {entry.id: entry for entry in entries}


def _totals(workouts: int, sets: int, volume_kg: Decimal, duration_s: int) -> WeekTotals:
    return WeekTotals(workouts=workouts, sets=sets, volume_kg=float(volume_kg), duration_s=duration_s)


async def custom_exercises(
    connection: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID
) -> list[Exercise]:
    """The user's live custom exercises, as catalog entries."""
    rows = await connection.fetch(
        "SELECT body FROM rm_custom_exercises WHERE user_id = $1 AND NOT deleted", user_id
    )
    return [EXERCISE_DECODER.decode(row["body"]) for row in rows]


async def dashboard_as_of(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    settings: UserSettings,
    now: datetime,
    custom: CustomExercises | None = None,
) -> Dashboard:
    """The dashboard as of the user's local date at `now`, from the rm_* tables: what the runner writes,
    and the read side's one computation, the refresh of a dashboard whose day has passed (DESIGN §3).
    One round trip; `custom`, when the caller has the user's custom exercises, spares them."""
    row = await statements.execute(connection, [dashboard_reads(user_id, settings, now, custom is None)])
    assert row is not None
    return dashboard_from(row, settings, now, custom)


def dashboard_reads(
    user_id: uuid.UUID, settings: UserSettings, now: datetime, with_custom: bool
) -> statements.Part:
    """What the dashboard reads, as a part of a statement (projections/statements.py): Postgres sums
    what it shows of the user's history (the totals of every week, the weeks with a workout, the
    charted weeks' rows, working sets per exercise in the muscle windows) and picks the body-weight
    entries the trend reads. The rest (streaks, muscles, the trend) is the projectors' own code."""
    today = local_date(now, settings.timezone)
    month_from, week_from, until = window_bounds(today, settings.timezone)
    return statements.Part(
        ctes=[
            (
                "dashboard_weeks",
                """
                SELECT coalesce(sum(workouts), 0)::bigint AS workouts,
                    coalesce(sum(sets), 0)::bigint AS sets, coalesce(sum(volume_kg), 0) AS volume_kg,
                    coalesce(sum(duration_s), 0)::bigint AS duration_s,
                    array_agg(week_start) FILTER (WHERE workouts > 0) AS active,
                    array_agg(ROW(week_start, workouts, sets, volume_kg, duration_s))
                        FILTER (WHERE week_start >= $5) AS recent
                FROM rm_weekly_totals WHERE user_id = $1
                """,
            )
        ],
        columns=[
            ("dashboard_totals", "SELECT ROW(workouts, sets, volume_kg, duration_s) FROM dashboard_weeks"),
            ("dashboard_active", "SELECT active FROM dashboard_weeks"),
            ("dashboard_recent", "SELECT recent FROM dashboard_weeks"),
            (
                "dashboard_latest",
                """
                SELECT body FROM rm_workout_summaries WHERE user_id = $1
                ORDER BY started_at DESC, workout_id DESC LIMIT 1
                """,
            ),
            (
                # through the workouts (a session starts when its workout does), whose index leads
                # with the start; the sessions' own leads with the exercise
                "dashboard_exercise_sets",
                """
                SELECT array_agg(ROW(exercise_id, last_7, last_30)) FROM (
                    SELECT x.exercise_id, sum(x.working_sets) FILTER (WHERE s.started_at >= $6) AS last_7,
                        sum(x.working_sets) AS last_30
                    FROM rm_workout_summaries s
                    JOIN rm_exercise_sessions x ON x.user_id = $1 AND x.workout_id = s.workout_id
                    WHERE s.user_id = $1 AND s.started_at >= $2 AND s.started_at < $7
                    GROUP BY x.exercise_id
                ) e
                """,
            ),
            (
                # what bodyweight_trend reads of the entries up to today (its docstring says which)
                "dashboard_bodyweights",
                """
                SELECT array_agg(body ORDER BY day) FROM (
                    SELECT day, body FROM rm_bodyweights WHERE user_id = $1 AND day <= $3 AND day >= least($8,
                        (SELECT max(day) FROM rm_bodyweights WHERE user_id = $1 AND day <= $3) - $9::int)
                    UNION
                    (SELECT day, body FROM rm_bodyweights WHERE user_id = $1 AND day < least($8,
                        (SELECT max(day) FROM rm_bodyweights WHERE user_id = $1 AND day <= $3) - $9::int)
                        ORDER BY day DESC LIMIT 1)
                    UNION
                    (SELECT day, body FROM rm_bodyweights WHERE user_id = $1 AND day <= $3
                        ORDER BY day DESC LIMIT $10)
                ) b
                """,
            ),
            (
                "dashboard_custom",
                """
                SELECT CASE WHEN $4 THEN
                    (SELECT array_agg(body) FROM rm_custom_exercises WHERE user_id = $1) END
                """,
            ),
        ],
        args=[
            user_id,
            month_from,
            today,
            with_custom,
            charted_since(today, cast(WeekStart, settings.week_start)),
            week_from,
            until,
            bodyweight_charted_since(today),
            BODYWEIGHT_CHANGES[-1],
            BODYWEIGHT_AVERAGED,
        ],
    )


def dashboard_from(
    row: Mapping[str, Any], settings: UserSettings, now: datetime, custom: CustomExercises | None
) -> Dashboard:
    """The dashboard from the row `dashboard_reads` answered; `custom` as the reads were told."""
    today = local_date(now, settings.timezone)
    known = custom_of(row["dashboard_custom"]) if custom is None else custom

    def muscles_of(exercise_id: str) -> tuple[Sequence[Muscle], Sequence[Muscle]]:
        built_in = exercise(exercise_id)
        if built_in is not None:
            return built_in.primary_muscles, built_in.secondary_muscles
        found = known.get(exercise_id)
        return (found.primary_muscles, found.secondary_muscles) if found is not None else ((), ())

    weeks = WeeksRead(
        totals=_totals(*row["dashboard_totals"]),
        active=row["dashboard_active"] or (),
        recent={week: _totals(*totals) for week, *totals in row["dashboard_recent"] or ()},
    )
    per_exercise = {
        exercise_id: (last_7 or 0, last_30)
        for exercise_id, last_7, last_30 in row["dashboard_exercise_sets"] or ()
    }
    entries = [BODYWEIGHT_DECODER.decode(body) for body in row["dashboard_bodyweights"] or ()]
    latest = row["dashboard_latest"]
    return build_dashboard(
        weeks,
        None if latest is None else SUMMARY_DECODER.decode(latest),
        today,
        settings.timezone,
        cast(WeekStart, settings.week_start),
        muscle_sets=sets_per_muscle(per_exercise, muscles_of),
        bodyweight=bodyweight_trend(entries, today),
    )
