"""The rm_* rows both sides read: the runner while it projects, queries when they serve.

The read side may import this module, never `projections.store`, `runner` or `sync` (pyproject.toml's
import contracts). The dashboard's "as of today" refresh is here so that readers run the projectors'
own code (`projections.dashboard`) rather than a copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import cast

import asyncpg
import msgspec

from commands.events import WeekStart
from core.catalog import Exercise, Muscle, exercise
from projections.dashboard import MUSCLE_DAYS, bodyweight_trend, build_dashboard, local_date, muscle_sets
from projections.documents import BodyweightEntry, Dashboard, WeekTotals, WorkoutSummary
from projections.records import ExerciseSession

ENCODER = msgspec.json.Encoder()
SUMMARY_DECODER = msgspec.json.Decoder(WorkoutSummary)
EXERCISE_DECODER = msgspec.json.Decoder(Exercise)
SESSION_DECODER = msgspec.json.Decoder(ExerciseSession)
BODYWEIGHT_DECODER = msgspec.json.Decoder(BodyweightEntry)


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


async def latest_summary(connection: asyncpg.Connection, user_id: uuid.UUID) -> WorkoutSummary | None:
    body = await connection.fetchval(
        """
        SELECT body FROM rm_workout_summaries WHERE user_id = $1
        ORDER BY started_at DESC, workout_id DESC LIMIT 1
        """,
        user_id,
    )
    return None if body is None else SUMMARY_DECODER.decode(body)


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


async def recent_sessions(
    connection: asyncpg.Connection, user_id: uuid.UUID, since: datetime
) -> list[ExerciseSession]:
    """The user's exercise sessions that started at or after `since`, of every exercise."""
    rows = await connection.fetch(
        "SELECT body FROM rm_exercise_sessions WHERE user_id = $1 AND started_at >= $2", user_id, since
    )
    return [SESSION_DECODER.decode(row["body"]) for row in rows]


async def bodyweights(
    connection: asyncpg.Connection, user_id: uuid.UUID, until: date
) -> list[BodyweightEntry]:
    """The user's body weights dated `until` or earlier, oldest first."""
    rows = await connection.fetch(
        "SELECT body FROM rm_bodyweights WHERE user_id = $1 AND day <= $2 ORDER BY day", user_id, until
    )
    return [BODYWEIGHT_DECODER.decode(row["body"]) for row in rows]


async def custom_exercise_muscles(
    connection: asyncpg.Connection, user_id: uuid.UUID
) -> dict[str, tuple[Sequence[Muscle], Sequence[Muscle]]]:
    """Primary and secondary muscles of the user's custom exercises, deleted ones too (their sets remain)."""
    rows = await connection.fetch(
        "SELECT exercise_id, body FROM rm_custom_exercises WHERE user_id = $1", user_id
    )
    found = {str(row["exercise_id"]): EXERCISE_DECODER.decode(row["body"]) for row in rows}
    return {key: (entry.primary_muscles, entry.secondary_muscles) for key, entry in found.items()}


async def dashboard_as_of(
    connection: asyncpg.Connection, user_id: uuid.UUID, settings: UserSettings, now: datetime
) -> Dashboard:
    """The dashboard as of the user's local date at `now`, from the rm_* tables: what the runner writes,
    and the read side's one computation, the refresh of a dashboard whose day has passed (DESIGN §3)."""
    today = local_date(now, settings.timezone)
    custom = await custom_exercise_muscles(connection, user_id)

    def muscles_of(exercise_id: str) -> tuple[Sequence[Muscle], Sequence[Muscle]]:
        built_in = exercise(exercise_id)
        if built_in is not None:
            return built_in.primary_muscles, built_in.secondary_muscles
        return custom.get(exercise_id, ((), ()))

    # A day of slack covers every zone's offset; muscle_sets keeps the exact local days.
    since = now - timedelta(days=MUSCLE_DAYS[-1] + 1)
    sessions = await recent_sessions(connection, user_id, since)
    return build_dashboard(
        await load_weeks(connection, user_id),
        await latest_summary(connection, user_id),
        today,
        settings.timezone,
        cast(WeekStart, settings.week_start),
        muscle_sets=muscle_sets(sessions, today, settings.timezone, muscles_of),
        bodyweight=bodyweight_trend(await bodyweights(connection, user_id, today), today),
    )
