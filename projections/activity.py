"""Pure arithmetic of the analytics counts: one user's activity before and after, as count changes.

Days are UTC dates and weeks ISO weeks starting Monday (UTC). A user is active on a day with a
workout, active in a week with a workout on one of its days, and a user of an exercise in a week
with a session of it. The changes are differences of state, so projecting twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

#: Every user-defined exercise counts under this one id: their ids and names belong to one person.
CUSTOM = "custom"
#: Custom exercises have client UUIDs (as workouts name them); built-in ones have slugs.
CUSTOM_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

ExerciseWeek = tuple[date, str]


class DayTotals(NamedTuple):
    """One user's day: workouts, working sets and their volume in kg."""

    workouts: int = 0
    sets: int = 0
    volume_kg: Decimal = Decimal(0)


class ExerciseTotals(NamedTuple):
    """One user's week of one exercise: sessions, working sets and their volume in kg."""

    sessions: int = 0
    sets: int = 0
    volume_kg: Decimal = Decimal(0)


class DayChange(NamedTuple):
    day: date
    active_users: int = 0
    workouts: int = 0
    sets: int = 0
    volume_kg: Decimal = Decimal(0)
    new_users: int = 0


class ExerciseChange(NamedTuple):
    week: date
    exercise_id: str
    users: int
    sessions: int
    sets: int
    volume_kg: Decimal


class RetentionChange(NamedTuple):
    cohort_week: date
    weeks_since_signup: int
    users: int


def utc_day(instant: datetime) -> date:
    return instant.astimezone(UTC).date()


def week_of(day: date) -> date:
    """The Monday of the ISO week holding `day`."""
    return day - timedelta(days=day.weekday())


def exercise_key(exercise_id: str) -> str:
    """The id an exercise is counted under: built-in ids (slugs) as they are, custom ones (UUIDs) as one."""
    return CUSTOM if CUSTOM_ID.match(exercise_id) else exercise_id


def sum_days(workouts: Iterable[tuple[datetime, int, Decimal]]) -> dict[date, DayTotals]:
    """Day totals of (started_at, working sets, volume kg) workouts."""
    days: dict[date, DayTotals] = {}
    for started_at, sets, volume_kg in workouts:
        day = utc_day(started_at)
        current = days.get(day, DayTotals())
        days[day] = DayTotals(current.workouts + 1, current.sets + sets, current.volume_kg + volume_kg)
    return days


def merge_exercises(totals: Iterable[tuple[date, str, ExerciseTotals]]) -> dict[ExerciseWeek, ExerciseTotals]:
    """Week totals per counted exercise of (week, exercise_id, totals): custom exercises add up as one."""
    weeks: dict[ExerciseWeek, ExerciseTotals] = {}
    for week, exercise_id, part in totals:
        key = (week, exercise_key(exercise_id))
        current = weeks.get(key)
        weeks[key] = (
            part
            if current is None
            else ExerciseTotals(
                current.sessions + part.sessions, current.sets + part.sets, current.volume_kg + part.volume_kg
            )
        )
    return weeks


def with_days(
    stored: Mapping[date, DayTotals], days: Iterable[date], fresh: Mapping[date, DayTotals]
) -> dict[date, DayTotals]:
    """The stored days with `days` replaced by their fresh totals; days without workouts drop out."""
    replaced = set(days)
    kept = {day: totals for day, totals in stored.items() if day not in replaced}
    return kept | {day: totals for day, totals in fresh.items() if day in replaced and totals.workouts > 0}


def _active(count: int) -> int:
    return 1 if count > 0 else 0


def day_changes(old: Mapping[date, DayTotals], new: Mapping[date, DayTotals]) -> list[DayChange]:
    """What the daily counts change by when a user's days go from `old` to `new`; by day."""
    changes = []
    for day in sorted(old.keys() | new.keys()):
        before, after = old.get(day, DayTotals()), new.get(day, DayTotals())
        if before == after:
            continue
        changes.append(
            DayChange(
                day=day,
                active_users=_active(after.workouts) - _active(before.workouts),
                workouts=after.workouts - before.workouts,
                sets=after.sets - before.sets,
                volume_kg=after.volume_kg - before.volume_kg,
            )
        )
    return changes


def with_signup(changes: list[DayChange], registered_on: date) -> list[DayChange]:
    """The day changes plus one new user on the day of registration; by day."""
    others = [change for change in changes if change.day != registered_on]
    same = next((change for change in changes if change.day == registered_on), DayChange(registered_on))
    signup = DayChange(
        day=registered_on,
        active_users=same.active_users,
        workouts=same.workouts,
        sets=same.sets,
        volume_kg=same.volume_kg,
        new_users=same.new_users + 1,
    )
    return sorted([*others, signup], key=lambda change: change.day)


def exercise_changes(
    old: Mapping[ExerciseWeek, ExerciseTotals], new: Mapping[ExerciseWeek, ExerciseTotals]
) -> list[ExerciseChange]:
    """What the weekly exercise counts change by; by week, then exercise."""
    changes = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key, ExerciseTotals()), new.get(key, ExerciseTotals())
        if before == after:
            continue
        week, exercise_id = key
        changes.append(
            ExerciseChange(
                week=week,
                exercise_id=exercise_id,
                users=_active(after.sessions) - _active(before.sessions),
                sessions=after.sessions - before.sessions,
                sets=after.sets - before.sets,
                volume_kg=after.volume_kg - before.volume_kg,
            )
        )
    return changes


def active_weeks(days: Mapping[date, DayTotals]) -> set[date]:
    return {week_of(day) for day, totals in days.items() if totals.workouts > 0}


def retention_changes(
    registered_on: date,
    old: Mapping[date, DayTotals],
    new: Mapping[date, DayTotals],
    weeks: Iterable[date],
) -> list[RetentionChange]:
    """How the user's cohort row changes in `weeks`: a week counts once it has a workout.

    Weeks before the signup week (workouts imported from before) belong to no cohort column.
    """
    cohort = week_of(registered_on)
    before, after = active_weeks(old), active_weeks(new)
    changes = []
    for week in sorted(set(weeks)):
        change = (week in after) - (week in before)
        if week >= cohort and change:
            changes.append(RetentionChange(cohort, (week - cohort).days // 7, change))
    return changes
