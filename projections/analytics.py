"""The `analytics` schema for analysts, kept current by the projection runner.

Each user's share is kept in public `rm_activity_days`, `rm_activity_exercises` and `rm_signups`
(rebuildable, erased with the user); the counts in `analytics.*` change by the difference between
that state and the user's read models, so they hold no user ids and outlive erased accounts.

A batch does not update the shared rows: every user's batch of the same day would queue on that
day's row, from its last statement until its commit, one after another across every worker process.
It inserts what the counts change by into `analytics.*_changes` instead, rows nobody else touches,
and the sweeper's `fold_counts` adds them into the counts every few seconds. So the counts trail the
projections by at most a sweep, and the reports (queries/analytics.py) add the changes not yet folded
to be exact. The rm_* names stay unqualified: during a rebuild the search_path points them at the
shadow tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import asyncpg
import msgspec

from projections import statements
from projections.activity import (
    DayChange,
    DayTotals,
    ExerciseChange,
    ExerciseTotals,
    ExerciseWeek,
    RetentionChange,
    day_changes,
    exercise_changes,
    merge_exercises,
    retention_changes,
    sum_days,
    utc_day,
    week_of,
    with_days,
    with_signup,
)


class _WorkoutTotals(msgspec.Struct, rename="camel"):
    """What analytics read of a stored WorkoutSummary body."""

    set_count: int
    volume_kg: Decimal


_WORKOUT_DECODER = msgspec.json.Decoder(_WorkoutTotals)


async def project_activity(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    days: set[date],
    registered_at: datetime | None,
    count: bool,
) -> None:
    """Bring the user's activity on `days` (UTC dates) up to their read models, at once: `sign_up_part`,
    `activity_reads`, then `activity_part` written."""
    recorded = recorded_sign_up(await statements.execute(connection, [sign_up_part(user_id, registered_at)]))
    row = await statements.execute(connection, [activity_reads(user_id, days)])
    part = activity_part(
        user_id, row, days=days, registered_at=registered_at, signed_up=recorded, count=count
    )
    await statements.execute(connection, [part])


def sign_up_part(user_id: uuid.UUID, registered_at: datetime | None) -> statements.Part | None:
    """Record the registration day when the batch holds it (`registered_at`), to write
    (projections/statements.py): its column `signed_up` is true when this recorded it, false when it
    was recorded already. None when the batch holds no registration."""
    if registered_at is None:
        return None
    return statements.Part(
        ctes=[
            (
                "signup",
                """
                INSERT INTO rm_signups (user_id, registered_on) VALUES ($1, $2)
                ON CONFLICT (user_id) DO NOTHING RETURNING true
                """,
            )
        ],
        args=[user_id, utc_day(registered_at)],
        columns=[("signed_up", "SELECT EXISTS (SELECT 1 FROM signup)")],
    )


def recorded_sign_up(row: Mapping[str, Any] | None) -> bool:
    """Whether the statement holding `sign_up_part` recorded the registration."""
    return row is not None and bool(row.get("signed_up"))


def activity_part(
    user_id: uuid.UUID,
    row: Mapping[str, Any] | None,
    *,
    days: set[date],
    registered_at: datetime | None,
    signed_up: bool,
    count: bool,
) -> statements.Part | None:
    """What brings the user's activity on `days` (UTC dates) up to their read models, to write
    (projections/statements.py), from the row `activity_reads` answered; None when nothing is to be
    written.

    `registered_at` is set when the batch holds the user's registration, and `signed_up` when
    `sign_up_part` recorded it. With `count` false (a rebuild into shadow tables) only the per-user state
    is written, never the shared counts.
    """
    registered_on = utc_day(registered_at) if registered_at is not None else None
    if not days and not signed_up:
        return None
    weeks = sorted({week_of(day) for day in days})
    state = _state(row, weeks, sorted(days)) if row is not None and days else _EMPTY
    stored_days, stored_exercises = state.stored_days, state.stored_exercises
    current_days = with_days(stored_days, days, state.summed_days)
    current_exercises = state.summed_exercises
    day_counts: list[DayChange] = []
    exercise_counts: list[ExerciseChange] = []
    retention_counts: list[RetentionChange] = []
    if count:
        day_counts = day_changes(stored_days, current_days)
        if signed_up and registered_on is not None:
            day_counts = with_signup(day_counts, registered_on)
        else:
            registered_on = state.registered_on
        exercise_counts = exercise_changes(stored_exercises, current_exercises)
        if registered_on is not None:
            retention_counts = retention_changes(registered_on, stored_days, current_days, weeks)
    return _save(
        user_id,
        days=days,
        current_days=current_days,
        weeks=weeks,
        current_exercises=current_exercises,
        counts=_Counts(day_counts, exercise_counts, retention_counts),
    )


def _utc_bounds(first: date, end: date) -> tuple[datetime, datetime]:
    """The instants [first 00:00 UTC, end 00:00 UTC)."""
    return datetime.combine(first, time(), UTC), datetime.combine(end, time(), UTC)


class _State(msgspec.Struct, frozen=True):
    """The user's recorded activity in a batch's weeks, and what their read models add up to now."""

    stored_days: dict[date, DayTotals]
    summed_days: dict[date, DayTotals]
    stored_exercises: dict[ExerciseWeek, ExerciseTotals]
    summed_exercises: dict[ExerciseWeek, ExerciseTotals]
    registered_on: date | None


def activity_reads(user_id: uuid.UUID, days: set[date]) -> statements.Part | None:
    """What the activity of `days` reads, as a part of a statement (projections/statements.py); None
    without days. Each column an array of rows."""
    if not days:
        return None
    weeks = sorted({week_of(day) for day in days})
    touched = sorted(days)
    # Ranges, never lists or joins with unnest(): Postgres soon plans a prepared statement once for any
    # value, and such a plan would read the user's whole history and filter it (an index scans a
    # range of its second column, not a list it does not know yet). What a range takes beyond `days`
    # and `weeks` (when a batch touches days far apart) is left out by `_state`.
    return statements.Part(
        ctes=[],
        columns=[
            (
                "activity_stored_days",
                """
                SELECT array_agg(ROW(day, workouts, sets, volume_kg)) FROM rm_activity_days
                WHERE user_id = $1 AND day >= $2::date AND day < $5::date + 7
                """,
            ),
            (
                "activity_workouts",
                """
                SELECT array_agg(ROW(started_at, body)) FROM rm_workout_summaries
                WHERE user_id = $1 AND started_at >= $3 AND started_at < $4
                """,
            ),
            (
                "activity_stored_exercises",
                """
                SELECT array_agg(ROW(week, exercise_id, sessions, sets, volume_kg)) FROM rm_activity_exercises
                WHERE user_id = $1 AND week >= $2 AND week <= $5
                """,
            ),
            (
                # through the weeks' workouts (a session starts when its workout does): the sessions'
                # own index leads with the exercise, and would read the user's whole history; summed
                # by ISO week (of the UTC date) and exercise, and Python merges custom exercises
                "activity_exercise_weeks",
                """
                SELECT array_agg(ROW(week, exercise_id, sessions, sets, volume_kg)) FROM (
                    SELECT date_trunc('week', s.started_at AT TIME ZONE 'UTC')::date AS week, x.exercise_id,
                        count(*) AS sessions, sum(x.working_sets) AS sets, sum(x.volume_kg) AS volume_kg
                    FROM rm_workout_summaries s
                    JOIN rm_exercise_sessions x ON x.user_id = $1 AND x.workout_id = s.workout_id
                    WHERE s.user_id = $1 AND s.started_at >= $6 AND s.started_at < $7
                    GROUP BY 1, 2
                ) e
                """,
            ),
            ("activity_registered_on", "SELECT registered_on FROM rm_signups WHERE user_id = $1"),
        ],
        args=[
            user_id,
            weeks[0],
            *_utc_bounds(touched[0], touched[-1] + timedelta(days=1)),
            weeks[-1],
            *_utc_bounds(weeks[0], weeks[-1] + timedelta(days=7)),
        ],
    )


_EMPTY = _State(stored_days={}, summed_days={}, stored_exercises={}, summed_exercises={}, registered_on=None)


def _state(row: Mapping[str, Any], weeks: list[date], days: list[date]) -> _State:
    """The activity state from what `activity_reads` answered."""
    wanted_days, wanted_weeks = set(days), set(weeks)
    stored_days = {
        day: DayTotals(workouts, sets, volume)
        for day, workouts, sets, volume in row["activity_stored_days"] or ()
        if week_of(day) in wanted_weeks
    }
    workouts = []
    for started_at, body in row["activity_workouts"] or ():
        if utc_day(started_at) not in wanted_days:
            continue
        totals = _WORKOUT_DECODER.decode(body)
        workouts.append((started_at, totals.set_count, totals.volume_kg))
    stored_exercises = {
        (week, exercise_id): ExerciseTotals(sessions, sets, volume)
        for week, exercise_id, sessions, sets, volume in row["activity_stored_exercises"] or ()
        if week in wanted_weeks
    }
    exercise_weeks = (
        (week, exercise_id, ExerciseTotals(sessions, sets, volume_kg))
        for week, exercise_id, sessions, sets, volume_kg in row["activity_exercise_weeks"] or ()
        if week in wanted_weeks
    )
    return _State(
        stored_days=stored_days,
        summed_days=sum_days(workouts),
        stored_exercises=stored_exercises,
        summed_exercises=merge_exercises(exercise_weeks),
        registered_on=row["activity_registered_on"],
    )


class _Counts(NamedTuple):
    """What the shared counts change by (all empty in a rebuild)."""

    days: list[DayChange]
    exercises: list[ExerciseChange]
    retention: list[RetentionChange]


def _save(
    user_id: uuid.UUID,
    *,
    days: Iterable[date],
    current_days: Mapping[date, DayTotals],
    weeks: list[date],
    current_exercises: Mapping[ExerciseWeek, ExerciseTotals],
    counts: _Counts,
) -> statements.Part:
    """The user's activity on `days` and in `weeks` as `current_*` says, and the shared counts' change
    by `counts`: rows no longer there are deleted, the others upserted (disjoint rows, so the parts
    cannot collide). The counts' change is inserted as rows of its own (`fold_counts`), so batches of
    different users never wait on each other's shared rows."""
    touched = sorted(days)
    kept_days = [(day, t) for day in touched if (t := current_days.get(day))]
    kept_exercises = sorted(current_exercises.items())
    return statements.Part(
        ctes=[
            (
                "gone_days",
                """
            DELETE FROM rm_activity_days
            WHERE user_id = $1 AND day >= $13 AND day <= $14
                AND day = ANY($2::date[]) AND NOT (day = ANY($3::date[]))
                """,
            ),
            (
                "kept_days",
                """
            INSERT INTO rm_activity_days (user_id, day, workouts, sets, volume_kg)
            SELECT $1, * FROM unnest($3::date[], $4::int[], $5::int[], $6::numeric[])
            ON CONFLICT (user_id, day) DO UPDATE
                SET workouts = EXCLUDED.workouts, sets = EXCLUDED.sets, volume_kg = EXCLUDED.volume_kg
                """,
            ),
            (
                "gone_exercises",
                """
            DELETE FROM rm_activity_exercises
            WHERE user_id = $1 AND week >= $15 AND week <= $16 AND week = ANY($7::date[])
                AND (week, exercise_id) NOT IN (SELECT * FROM unnest($8::date[], $9::text[]))
                """,
            ),
            (
                "kept_exercises",
                """
            INSERT INTO rm_activity_exercises (user_id, week, exercise_id, sessions, sets, volume_kg)
            SELECT $1, * FROM unnest($8::date[], $9::text[], $10::int[], $11::int[], $12::numeric[])
            ON CONFLICT (user_id, week, exercise_id) DO UPDATE
                SET sessions = EXCLUDED.sessions, sets = EXCLUDED.sets, volume_kg = EXCLUDED.volume_kg
                """,
            ),
            (
                "daily_counts",
                """
            INSERT INTO analytics.daily_activity_changes
                (day, active_users, workouts, sets, volume_kg, new_users)
            SELECT * FROM unnest($17::date[], $18::int[], $19::int[], $20::int[], $21::numeric[], $22::int[])
                """,
            ),
            (
                "popularity_counts",
                """
            INSERT INTO analytics.exercise_popularity_changes
                (week, exercise_id, users, sessions, sets, volume_kg)
            SELECT * FROM unnest($23::date[], $24::text[], $25::int[], $26::int[], $27::int[], $28::numeric[])
                """,
            ),
            (
                "retention_counts",
                """
            INSERT INTO analytics.retention_changes (cohort_week, weeks_since_signup, users)
            SELECT * FROM unnest($29::date[], $30::int[], $31::int[])
                """,
            ),
        ],
        args=[
            user_id,
            touched,
            [day for day, _ in kept_days],
            [t.workouts for _, t in kept_days],
            [t.sets for _, t in kept_days],
            [t.volume_kg for _, t in kept_days],
            weeks,
            [week for (week, _), _ in kept_exercises],
            [exercise_id for (_, exercise_id), _ in kept_exercises],
            [t.sessions for _, t in kept_exercises],
            [t.sets for _, t in kept_exercises],
            [t.volume_kg for _, t in kept_exercises],
            # the ranges the lists lie in, which an index scans (see _load)
            touched[0] if touched else None,
            touched[-1] if touched else None,
            weeks[0] if weeks else None,
            weeks[-1] if weeks else None,
            [c.day for c in counts.days],
            [c.active_users for c in counts.days],
            [c.workouts for c in counts.days],
            [c.sets for c in counts.days],
            [c.volume_kg for c in counts.days],
            [c.new_users for c in counts.days],
            [c.week for c in counts.exercises],
            [c.exercise_id for c in counts.exercises],
            [c.users for c in counts.exercises],
            [c.sessions for c in counts.exercises],
            [c.sets for c in counts.exercises],
            [c.volume_kg for c in counts.exercises],
            [c.cohort_week for c in counts.retention],
            [c.weeks_since_signup for c in counts.retention],
            [c.users for c in counts.retention],
        ],
    )


#: Folds each table's changes into its counts, one statement for the three; the popularity and retention
#: rows the changes left without users are answered, to be deleted by the next statement (a statement
#: cannot delete rows its own parts wrote). Shared rows are changed in key order: concurrent folds
#: (two sweepers for a moment, or a batch of the previous release, which updates the counts itself)
#: never deadlock. A change committed after the fold's snapshot stays for the next fold.
_FOLD = """
WITH days AS (
    DELETE FROM analytics.daily_activity_changes
    RETURNING day, active_users, workouts, sets, volume_kg, new_users
), folded_days AS (
    INSERT INTO analytics.daily_activity AS counts (day, active_users, workouts, sets, volume_kg, new_users)
    SELECT day, sum(active_users), sum(workouts), sum(sets), sum(volume_kg), sum(new_users)
    FROM days GROUP BY day ORDER BY day
    ON CONFLICT (day) DO UPDATE SET
        active_users = counts.active_users + EXCLUDED.active_users,
        workouts = counts.workouts + EXCLUDED.workouts,
        sets = counts.sets + EXCLUDED.sets,
        volume_kg = counts.volume_kg + EXCLUDED.volume_kg,
        new_users = counts.new_users + EXCLUDED.new_users
), exercises AS (
    DELETE FROM analytics.exercise_popularity_changes
    RETURNING week, exercise_id, users, sessions, sets, volume_kg
), folded_exercises AS (
    INSERT INTO analytics.exercise_popularity AS counts (week, exercise_id, users, sessions, sets, volume_kg)
    SELECT week, exercise_id, sum(users), sum(sessions), sum(sets), sum(volume_kg)
    FROM exercises GROUP BY week, exercise_id ORDER BY week, exercise_id
    ON CONFLICT (week, exercise_id) DO UPDATE SET
        users = counts.users + EXCLUDED.users,
        sessions = counts.sessions + EXCLUDED.sessions,
        sets = counts.sets + EXCLUDED.sets,
        volume_kg = counts.volume_kg + EXCLUDED.volume_kg
    RETURNING week, exercise_id, users
), retained AS (
    DELETE FROM analytics.retention_changes RETURNING cohort_week, weeks_since_signup, users
), folded_retention AS (
    INSERT INTO analytics.retention AS counts (cohort_week, weeks_since_signup, users)
    SELECT cohort_week, weeks_since_signup, sum(users)
    FROM retained GROUP BY cohort_week, weeks_since_signup ORDER BY cohort_week, weeks_since_signup
    ON CONFLICT (cohort_week, weeks_since_signup) DO UPDATE SET users = counts.users + EXCLUDED.users
    RETURNING cohort_week, weeks_since_signup, users
)
SELECT (SELECT count(*) FROM days) + (SELECT count(*) FROM exercises) + (SELECT count(*) FROM retained)
        AS changes,
    (SELECT array_agg(ROW(week, exercise_id)) FROM folded_exercises WHERE users = 0) AS exercises_emptied,
    (SELECT array_agg(ROW(cohort_week, weeks_since_signup)) FROM folded_retention WHERE users = 0)
        AS retention_emptied
"""


async def fold_counts(connection: asyncpg.Connection) -> int:
    """Add the counts' changes into the counts and delete the rows left without users, in one
    transaction; how many changes it folded. Safe to run at any time, and concurrently."""
    async with connection.transaction():
        row = await connection.fetchrow(_FOLD)
        popularity = [tuple(r) for r in row["exercises_emptied"] or ()]
        retention = [tuple(r) for r in row["retention_emptied"] or ()]
        if popularity or retention:
            await connection.execute(
                """
                WITH popularity AS (
                    DELETE FROM analytics.exercise_popularity
                    WHERE (week, exercise_id) IN (SELECT * FROM unnest($1::date[], $2::text[])) AND users = 0
                )
                DELETE FROM analytics.retention
                WHERE (cohort_week, weeks_since_signup) IN (SELECT * FROM unnest($3::date[], $4::int[]))
                    AND users = 0
                """,
                [week for week, _ in popularity],
                [exercise_id for _, exercise_id in popularity],
                [cohort for cohort, _ in retention],
                [offset for _, offset in retention],
            )
    changes: int = row["changes"]
    return changes
