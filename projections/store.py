"""The rm_* tables: reads and writes the runner makes inside its transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import cast

import asyncpg
import msgspec

from commands.events import CustomExercise, WeekStart
from core.catalog import Exercise, Muscle, exercise
from projections.dashboard import MUSCLE_DAYS, bodyweight_trend, build_dashboard, local_date, muscle_sets
from projections.documents import (
    BodyweightEntry,
    Dashboard,
    FollowEntry,
    RecordMark,
    RoutineDocument,
    WeekTotals,
    WorkoutDocument,
    WorkoutSummary,
)
from projections.records import RECORD_NAMES, ExerciseSession, RecordsDetail, summary_of

ENCODER = msgspec.json.Encoder()
SUMMARY_DECODER = msgspec.json.Decoder(WorkoutSummary)
DOCUMENT_DECODER = msgspec.json.Decoder(WorkoutDocument)
DASHBOARD_DECODER = msgspec.json.Decoder(Dashboard)
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


_SETTINGS_COLUMNS = tuple(UserSettings.__struct_fields__)


async def load_settings(connection: asyncpg.Connection, user_id: uuid.UUID) -> UserSettings:
    row = await connection.fetchrow(
        f"SELECT {', '.join(_SETTINGS_COLUMNS)} FROM rm_user_settings WHERE user_id = $1",  # noqa: S608
        user_id,
    )
    return UserSettings() if row is None else UserSettings(**row)


async def save_settings(connection: asyncpg.Connection, user_id: uuid.UUID, settings: UserSettings) -> None:
    values = [getattr(settings, name) for name in _SETTINGS_COLUMNS]
    placeholders = ", ".join(f"${i}" for i in range(2, len(values) + 2))
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in _SETTINGS_COLUMNS)
    await connection.execute(
        f"""
        INSERT INTO rm_user_settings (user_id, {", ".join(_SETTINGS_COLUMNS)}) VALUES ($1, {placeholders})
        ON CONFLICT (user_id) DO UPDATE SET {updates}
        """,  # noqa: S608
        user_id,
        *values,
    )


async def load_summary(
    connection: asyncpg.Connection, user_id: uuid.UUID, workout_id: uuid.UUID
) -> WorkoutSummary | None:
    body = await connection.fetchval(
        "SELECT body FROM rm_workout_summaries WHERE user_id = $1 AND workout_id = $2", user_id, workout_id
    )
    return None if body is None else SUMMARY_DECODER.decode(body)


async def load_summaries(connection: asyncpg.Connection, user_id: uuid.UUID) -> list[WorkoutSummary]:
    rows = await connection.fetch("SELECT body FROM rm_workout_summaries WHERE user_id = $1", user_id)
    return [SUMMARY_DECODER.decode(row["body"]) for row in rows]


async def latest_summary(connection: asyncpg.Connection, user_id: uuid.UUID) -> WorkoutSummary | None:
    body = await connection.fetchval(
        """
        SELECT body FROM rm_workout_summaries WHERE user_id = $1
        ORDER BY started_at DESC, workout_id DESC LIMIT 1
        """,
        user_id,
    )
    return None if body is None else SUMMARY_DECODER.decode(body)


async def save_workout(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    summary: WorkoutSummary,
    document: WorkoutDocument,
    source: bytes,
) -> None:
    await connection.execute(
        """
        INSERT INTO rm_workout_summaries (user_id, workout_id, started_at, body) VALUES ($1, $2, $3, $4)
        ON CONFLICT (user_id, workout_id) DO UPDATE SET started_at = EXCLUDED.started_at, body = EXCLUDED.body
        """,
        user_id,
        summary.id,
        summary.started_at,
        ENCODER.encode(summary),
    )
    await connection.execute(
        """
        INSERT INTO rm_workout_documents (user_id, workout_id, workout_version, source, body)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (user_id, workout_id) DO UPDATE SET workout_version = EXCLUDED.workout_version,
            source = EXCLUDED.source, body = EXCLUDED.body
        """,
        user_id,
        document.id,
        document.version,
        source,
        ENCODER.encode(document),
    )


async def delete_workout(connection: asyncpg.Connection, user_id: uuid.UUID, workout_id: uuid.UUID) -> None:
    await connection.execute(
        "DELETE FROM rm_workout_summaries WHERE user_id = $1 AND workout_id = $2", user_id, workout_id
    )
    await connection.execute(
        "DELETE FROM rm_workout_documents WHERE user_id = $1 AND workout_id = $2", user_id, workout_id
    )


async def workout_sources(
    connection: asyncpg.Connection, user_id: uuid.UUID
) -> list[tuple[uuid.UUID, int, bytes]]:
    """Every workout's id, version and body as logged: what documents are derived from."""
    rows = await connection.fetch(
        "SELECT workout_id, workout_version, source FROM rm_workout_documents WHERE user_id = $1", user_id
    )
    return [(row["workout_id"], row["workout_version"], row["source"]) for row in rows]


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


async def save_weeks(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    weeks: Mapping[date, WeekTotals],
    *,
    replace: bool = False,
) -> None:
    """Write weekly totals; weeks with no workouts left are removed. `replace` drops all others first."""
    if replace:
        await connection.execute("DELETE FROM rm_weekly_totals WHERE user_id = $1", user_id)
    empty = [week for week, totals in weeks.items() if totals.workouts <= 0]
    if empty:
        await connection.execute(
            "DELETE FROM rm_weekly_totals WHERE user_id = $1 AND week_start = ANY($2::date[])", user_id, empty
        )
    await connection.executemany(
        """
        INSERT INTO rm_weekly_totals (user_id, week_start, workouts, sets, volume_kg, duration_s)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (user_id, week_start) DO UPDATE SET workouts = EXCLUDED.workouts, sets = EXCLUDED.sets,
            volume_kg = EXCLUDED.volume_kg, duration_s = EXCLUDED.duration_s
        """,
        [
            (user_id, week, t.workouts, t.sets, Decimal(repr(t.volume_kg)), t.duration_s)
            for week, t in weeks.items()
            if t.workouts > 0
        ],
    )


async def save_dashboard(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    dashboard: Dashboard,
    *,
    version: int,
    rollover_at: datetime,
) -> bytes:
    body = ENCODER.encode(dashboard)
    await connection.execute(
        """
        INSERT INTO rm_dashboards (user_id, version, as_of, rollover_at, body) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version, as_of = EXCLUDED.as_of,
            rollover_at = EXCLUDED.rollover_at, body = EXCLUDED.body
        """,
        user_id,
        version,
        dashboard.as_of,
        rollover_at,
        body,
    )
    return body


async def save_custom_exercise(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    version: int,
    exercise: CustomExercise,
) -> None:
    view = Exercise(
        id=str(exercise_id),
        name=exercise.name,
        category=exercise.category,
        equipment=exercise.equipment,
        measurement=exercise.measurement,
        primary_muscles=tuple(exercise.primary_muscles),
        secondary_muscles=tuple(exercise.secondary_muscles),
        mechanic=exercise.mechanic,
        force=exercise.force,
    )
    await connection.execute(
        """
        INSERT INTO rm_custom_exercises (user_id, exercise_id, version, deleted, body)
        VALUES ($1, $2, $3, false, $4)
        ON CONFLICT (user_id, exercise_id) DO UPDATE SET version = EXCLUDED.version, deleted = false,
            body = EXCLUDED.body
        """,
        user_id,
        exercise_id,
        version,
        ENCODER.encode(view),
    )


async def delete_custom_exercise(
    connection: asyncpg.Connection, user_id: uuid.UUID, exercise_id: uuid.UUID, version: int
) -> None:
    """Mark it deleted; its row stays so workouts that used it keep its name."""
    await connection.execute(
        "UPDATE rm_custom_exercises SET deleted = true, version = $3 WHERE user_id = $1 AND exercise_id = $2",
        user_id,
        exercise_id,
        version,
    )


async def custom_exercise_names(connection: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, str]:
    rows = await connection.fetch(
        "SELECT exercise_id, body FROM rm_custom_exercises WHERE user_id = $1", user_id
    )
    return {str(row["exercise_id"]): EXERCISE_DECODER.decode(row["body"]).name for row in rows}


async def custom_exercise_measurements(connection: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, str]:
    rows = await connection.fetch(
        "SELECT exercise_id, body FROM rm_custom_exercises WHERE user_id = $1", user_id
    )
    return {str(row["exercise_id"]): EXERCISE_DECODER.decode(row["body"]).measurement for row in rows}


async def custom_exercises(
    connection: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID
) -> list[Exercise]:
    """The user's live custom exercises, as catalog entries."""
    rows = await connection.fetch(
        "SELECT body FROM rm_custom_exercises WHERE user_id = $1 AND NOT deleted", user_id
    )
    return [EXERCISE_DECODER.decode(row["body"]) for row in rows]


async def save_bodyweight(connection: asyncpg.Connection, user_id: uuid.UUID, entry: BodyweightEntry) -> None:
    await connection.execute(
        """
        INSERT INTO rm_bodyweights (user_id, day, body) VALUES ($1, $2, $3)
        ON CONFLICT (user_id, day) DO UPDATE SET body = EXCLUDED.body
        """,
        user_id,
        entry.date,
        ENCODER.encode(entry),
    )


async def delete_bodyweight(connection: asyncpg.Connection, user_id: uuid.UUID, day: date) -> None:
    await connection.execute("DELETE FROM rm_bodyweights WHERE user_id = $1 AND day = $2", user_id, day)


async def save_follow(connection: asyncpg.Connection, user_id: uuid.UUID, entry: FollowEntry) -> None:
    await connection.execute(
        """
        INSERT INTO rm_follows (user_id, followee_id, followed_at, body) VALUES ($1, $2, $3, $4)
        ON CONFLICT (user_id, followee_id) DO UPDATE SET followed_at = EXCLUDED.followed_at,
            body = EXCLUDED.body
        """,
        user_id,
        entry.user_id,
        entry.followed_at,
        ENCODER.encode(entry),
    )


async def delete_follow(connection: asyncpg.Connection, user_id: uuid.UUID, followee_id: uuid.UUID) -> None:
    await connection.execute(
        "DELETE FROM rm_follows WHERE user_id = $1 AND followee_id = $2", user_id, followee_id
    )


async def save_routine(connection: asyncpg.Connection, user_id: uuid.UUID, routine: RoutineDocument) -> None:
    await connection.execute(
        """
        INSERT INTO rm_routines (user_id, routine_id, version, name, body) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (user_id, routine_id) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name,
            body = EXCLUDED.body
        """,
        user_id,
        routine.id,
        routine.version,
        routine.name,
        ENCODER.encode(routine),
    )


async def delete_routine(connection: asyncpg.Connection, user_id: uuid.UUID, routine_id: uuid.UUID) -> None:
    await connection.execute(
        "DELETE FROM rm_routines WHERE user_id = $1 AND routine_id = $2", user_id, routine_id
    )


async def replace_sessions(
    connection: asyncpg.Connection, user_id: uuid.UUID, workout_id: uuid.UUID, sessions: list[ExerciseSession]
) -> set[str]:
    """Swap a workout's exercise sessions; the exercises whose history changed."""
    removed = await connection.fetch(
        "DELETE FROM rm_exercise_sessions WHERE user_id = $1 AND workout_id = $2 RETURNING exercise_id",
        user_id,
        workout_id,
    )
    await connection.executemany(
        """
        INSERT INTO rm_exercise_sessions (user_id, exercise_id, workout_id, started_at, body)
        VALUES ($1, $2, $3, $4, $5)
        """,
        [(user_id, s.exercise_id, workout_id, s.started_at, ENCODER.encode(s)) for s in sessions],
    )
    return {row["exercise_id"] for row in removed} | {s.exercise_id for s in sessions}


async def exercise_sessions(
    connection: asyncpg.Connection, user_id: uuid.UUID, exercise_id: str
) -> list[ExerciseSession]:
    rows = await connection.fetch(
        "SELECT body FROM rm_exercise_sessions WHERE user_id = $1 AND exercise_id = $2", user_id, exercise_id
    )
    return [SESSION_DECODER.decode(row["body"]) for row in rows]


async def save_records(
    connection: asyncpg.Connection, user_id: uuid.UUID, exercise_id: str, detail: RecordsDetail | None
) -> None:
    """Write an exercise's records; None (no sessions left) removes them."""
    if detail is None:
        await connection.execute(
            "DELETE FROM rm_records WHERE user_id = $1 AND exercise_id = $2", user_id, exercise_id
        )
        return
    await connection.execute(
        """
        INSERT INTO rm_records (user_id, exercise_id, summary, detail) VALUES ($1, $2, $3, $4)
        ON CONFLICT (user_id, exercise_id) DO UPDATE SET summary = EXCLUDED.summary, detail = EXCLUDED.detail
        """,
        user_id,
        exercise_id,
        ENCODER.encode(summary_of(detail)),
        ENCODER.encode(detail),
    )


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


async def current_dashboard(
    connection: asyncpg.Connection, user_id: uuid.UUID, settings: UserSettings, now: datetime
) -> Dashboard:
    """The dashboard as of the user's local date at `now`, from the rm_* tables."""
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


async def save_session_records(
    connection: asyncpg.Connection, user_id: uuid.UUID, session: ExerciseSession
) -> None:
    await connection.execute(
        """
        UPDATE rm_exercise_sessions SET body = $4 WHERE user_id = $1 AND exercise_id = $2 AND workout_id = $3
        """,
        user_id,
        session.exercise_id,
        session.workout_id,
        ENCODER.encode(session),
    )


async def mark_workout_records(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    workout_id: uuid.UUID,
    marks: Mapping[str, list[RecordMark]],
    version: int,
) -> None:
    """Put the records the workout set in `marks`' exercises into its feed entry and document; a
    workout changed this way (not by its own event) is noted for the Redis sync."""
    row = await connection.fetchrow(
        """
        SELECT s.body AS summary, d.body AS document FROM rm_workout_summaries s
        JOIN rm_workout_documents d ON d.user_id = s.user_id AND d.workout_id = s.workout_id
        WHERE s.user_id = $1 AND s.workout_id = $2
        """,
        user_id,
        workout_id,
    )
    if row is None:
        return
    summary = SUMMARY_DECODER.decode(row["summary"])
    document = DOCUMENT_DECODER.decode(row["document"])
    order = {entry.exercise_id: i for i, entry in reversed(list(enumerate(document.exercises)))}
    kept = [mark for mark in summary.records if mark.exercise_id not in marks]
    merged = sorted(
        [*kept, *(mark for listed in marks.values() for mark in listed)],
        key=lambda m: (order.get(m.exercise_id, len(order)), m.exercise_id, RECORD_NAMES.index(m.record)),
    )
    if merged == summary.records:
        return
    await connection.execute(
        "UPDATE rm_workout_summaries SET body = $3 WHERE user_id = $1 AND workout_id = $2",
        user_id,
        workout_id,
        ENCODER.encode(msgspec.structs.replace(summary, records=merged)),
    )
    await connection.execute(
        "UPDATE rm_workout_documents SET body = $3 WHERE user_id = $1 AND workout_id = $2",
        user_id,
        workout_id,
        ENCODER.encode(msgspec.structs.replace(document, records=merged)),
    )
    await connection.execute(
        """
        INSERT INTO projection_dirty (user_id, workout_id, version) VALUES ($1, $2, $3)
        ON CONFLICT (user_id, workout_id) DO UPDATE SET version = EXCLUDED.version
        """,
        user_id,
        workout_id,
        version,
    )
