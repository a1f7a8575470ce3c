"""The rm_* rows both sides read: the runner while it projects, queries when they serve.

The read side may import this module, never `projections.store`, `runner` or `sync` (pyproject.toml's
import contracts). The dashboard's "as of today" refresh is here so that readers run the projectors'
own code (`projections.dashboard`) rather than a copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple, cast

import asyncpg
import msgspec

from commands.events import WeekStart
from core.catalog import Exercise, Muscle, exercise
from projections.dashboard import MUSCLE_DAYS, bodyweight_trend, build_dashboard, local_date, muscle_sets
from projections.documents import BodyweightEntry, Dashboard, WeekTotals, WorkoutSummary

ENCODER = msgspec.json.Encoder()
SUMMARY_DECODER = msgspec.json.Decoder(WorkoutSummary)
EXERCISE_DECODER = msgspec.json.Decoder(Exercise)
BODYWEIGHT_DECODER = msgspec.json.Decoder(BodyweightEntry)


class _WorkingSets(NamedTuple):
    """A session as the dashboard's muscle sets read it: rm_exercise_sessions' columns, not its body."""

    exercise_id: str
    started_at: datetime
    working_sets: int | None


class UserSettings(msgspec.Struct, frozen=True):
    """The preferences projections depend on."""

    handle: str = ""
    display_name: str = ""
    timezone: str = "UTC"
    week_start: str = "monday"
    e1rm_formula: str = "epley"
    unit: str = "kg"
    leaderboard_opt_in: bool = False


SETTINGS_COLUMNS = tuple(UserSettings.__struct_fields__)


async def load_settings(connection: asyncpg.Connection, user_id: uuid.UUID) -> UserSettings:
    row = await connection.fetchrow(
        f"SELECT {', '.join(SETTINGS_COLUMNS)} FROM rm_user_settings WHERE user_id = $1",  # noqa: S608
        user_id,
    )
    return UserSettings() if row is None else UserSettings(**row)


CustomExercises = dict[str, Exercise]


def custom_of(bodies: Sequence[bytes] | None) -> CustomExercises:
    entries = (EXERCISE_DECODER.decode(body) for body in bodies or ())
    return {entry.id: entry for entry in entries}


def _totals(row: Mapping[str, object]) -> WeekTotals:
    return WeekTotals(
        workouts=int(row["workouts"]),  # type: ignore[call-overload]
        sets=int(row["sets"]),  # type: ignore[call-overload]
        volume_kg=float(row["volume_kg"]),  # type: ignore[arg-type]
        duration_s=int(row["duration_s"]),  # type: ignore[call-overload]
    )


async def load_weeks(
    connection: asyncpg.Connection, user_id: uuid.UUID, weeks: Iterable[date] | None = None
) -> dict[date, WeekTotals]:
    """The user's weekly totals (only `weeks` when given)."""
    rows = await connection.fetch(
        """
        SELECT week_start, workouts, sets, volume_kg, duration_s FROM rm_weekly_totals
        WHERE user_id = $1 AND ($2::date[] IS NULL OR week_start = ANY($2::date[]))
        """,
        user_id,
        None if weeks is None else list(weeks),
    )
    return {row["week_start"]: _totals(row) for row in rows}


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
    today = local_date(now, settings.timezone)
    # A day of slack covers every zone's offset; muscle_sets keeps the exact local days.
    since = now - timedelta(days=MUSCLE_DAYS[-1] + 1)
    row = await connection.fetchrow(
        """
        SELECT w.*,
            (SELECT body FROM rm_workout_summaries WHERE user_id = $1
                ORDER BY started_at DESC, workout_id DESC LIMIT 1) AS latest,
            -- through the workouts (a session starts when its workout does), whose index leads
            -- with the start; the sessions' own leads with the exercise
            (SELECT array_agg(ROW(x.exercise_id, x.started_at, x.working_sets)) FROM rm_workout_summaries s
                JOIN rm_exercise_sessions x ON x.user_id = $1 AND x.workout_id = s.workout_id
                WHERE s.user_id = $1 AND s.started_at >= $2) AS sessions,
            (SELECT array_agg(body ORDER BY day) FROM rm_bodyweights WHERE user_id = $1 AND day <= $3)
                AS bodyweights,
            CASE WHEN $4 THEN (SELECT array_agg(body) FROM rm_custom_exercises WHERE user_id = $1) END
                AS custom
        FROM (
            SELECT array_agg(week_start ORDER BY week_start) AS week_starts,
                array_agg(workouts ORDER BY week_start) AS workouts,
                array_agg(sets ORDER BY week_start) AS sets,
                array_agg(volume_kg ORDER BY week_start) AS volumes,
                array_agg(duration_s ORDER BY week_start) AS durations
            FROM rm_weekly_totals WHERE user_id = $1
        ) w
        """,
        user_id,
        since,
        today,
        custom is None,
    )
    known = custom_of(row["custom"]) if custom is None else custom

    def muscles_of(exercise_id: str) -> tuple[Sequence[Muscle], Sequence[Muscle]]:
        built_in = exercise(exercise_id)
        if built_in is not None:
            return built_in.primary_muscles, built_in.secondary_muscles
        found = known.get(exercise_id)
        return (found.primary_muscles, found.secondary_muscles) if found is not None else ((), ())

    weeks = {
        week: WeekTotals(workouts=workouts, sets=sets, volume_kg=float(volume), duration_s=duration)
        for week, workouts, sets, volume, duration in zip(
            row["week_starts"] or (),
            row["workouts"] or (),
            row["sets"] or (),
            row["volumes"] or (),
            row["durations"] or (),
            strict=True,
        )
    }
    sessions = [_WorkingSets(*session) for session in row["sessions"] or ()]
    entries = [BODYWEIGHT_DECODER.decode(body) for body in row["bodyweights"] or ()]
    latest = None if row["latest"] is None else SUMMARY_DECODER.decode(row["latest"])
    return build_dashboard(
        weeks,
        latest,
        today,
        settings.timezone,
        cast(WeekStart, settings.week_start),
        muscle_sets=muscle_sets(sessions, today, settings.timezone, muscles_of),
        bodyweight=bodyweight_trend(entries, today),
    )
