"""Readers of the `analytics` schema: daily activity, weekly exercise popularity, cohort retention.

Only anonymous counts live there; nothing here reads another schema. Each count is read to the moment:
its row plus the changes the sweeper has not yet folded into it (projections/analytics.py).
"""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
import msgspec

from core.catalog import exercise
from core.structs import ResponseBody
from projections.activity import CUSTOM, week_of

CUSTOM_NAME = "Custom exercises"


def _counted(table: str, keys: tuple[str, ...], values: tuple[str, ...], where: str) -> str:
    """The rows of `analytics.<table>` where `where` holds, with the changes not yet folded in added:
    a subquery of the same columns (whole numbers as bigint; `volume_kg` stays numeric)."""
    columns = ", ".join((*keys, *values))
    sums = ", ".join(
        (*keys, *(f"sum({value}){'' if value == 'volume_kg' else '::bigint'} AS {value}" for value in values))
    )
    return f"""(
        SELECT {sums} FROM (
            SELECT {columns} FROM analytics.{table} WHERE {where}
            UNION ALL SELECT {columns} FROM analytics.{table}_changes WHERE {where}
        ) AS changed GROUP BY {", ".join(keys)}
    )"""  # noqa: S608 - names of this module's own


_DAILY = _counted(
    "daily_activity",
    ("day",),
    ("active_users", "workouts", "sets", "volume_kg", "new_users"),
    "day BETWEEN $1 AND $2",
)
_POPULARITY = _counted(
    "exercise_popularity", ("week", "exercise_id"), ("users", "sessions", "sets", "volume_kg"), "week = $1"
)
_RETENTION = _counted(
    "retention", ("cohort_week", "weeks_since_signup"), ("users",), "cohort_week BETWEEN $1 AND $2"
)


class DailyActivity(ResponseBody):
    date: date
    active_users: int
    workouts: int
    sets: int
    volume_kg: float
    new_users: int


class DailyReport(ResponseBody):
    """Every UTC day from `from` to `to`, both included; days without activity are zeros."""

    start: date = msgspec.field(name="from")
    end: date = msgspec.field(name="to")
    items: list[DailyActivity]


class ExercisePopularity(ResponseBody):
    exercise_id: str
    name: str
    users: int
    sessions: int
    sets: int
    volume_kg: float


class PopularityReport(ResponseBody):
    """One ISO week's exercises, most users first; custom exercises are counted together."""

    week: str
    week_start: date
    items: list[ExercisePopularity]


class Cohort(ResponseBody):
    """Users who signed up in one ISO week, and how many had a workout 0, 1, 2, … weeks later."""

    cohort_week: str
    week_start: date
    users: int
    active_users: list[int]


class RetentionReport(ResponseBody):
    """The latest cohorts, oldest first, each followed up to the current week."""

    current_week: str
    items: list[Cohort]


def iso_week(monday: date) -> str:
    """The ISO week of a Monday, as `2026-W48`."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def parse_iso_week(text: str) -> date:
    """The Monday of an ISO week `YYYY-Www`; ValueError if there is no such week."""
    year, separator, week = text.partition("-W")
    if not separator or len(year) != 4 or len(week) != 2 or not (year + week).isdigit():
        raise ValueError(f"not an ISO week: {text!r}")
    return date.fromisocalendar(int(year), int(week), 1)


async def daily_activity(pool: asyncpg.Pool, start: date, end: date) -> DailyReport:
    rows = await pool.fetch(
        f"""
        SELECT g.day::date AS day, coalesce(a.active_users, 0) AS active_users,
               coalesce(a.workouts, 0) AS workouts, coalesce(a.sets, 0) AS sets,
               coalesce(a.volume_kg, 0) AS volume_kg, coalesce(a.new_users, 0) AS new_users
        FROM generate_series($1::date, $2::date, interval '1 day') AS g(day)
        LEFT JOIN {_DAILY} a ON a.day = g.day::date
        ORDER BY 1
        """,  # noqa: S608 - this module's own subqueries
        start,
        end,
    )
    items = [
        DailyActivity(
            date=row["day"],
            active_users=row["active_users"],
            workouts=row["workouts"],
            sets=row["sets"],
            volume_kg=float(row["volume_kg"]),
            new_users=row["new_users"],
        )
        for row in rows
    ]
    return DailyReport(start=start, end=end, items=items)


def exercise_name(exercise_id: str) -> str:
    if exercise_id == CUSTOM:
        return CUSTOM_NAME
    found = exercise(exercise_id)
    return found.name if found else exercise_id


async def exercise_popularity(pool: asyncpg.Pool, week_start: date) -> PopularityReport:
    rows = await pool.fetch(
        f"""
        SELECT exercise_id, users, sessions, sets, volume_kg FROM {_POPULARITY} AS counts
        WHERE users > 0 ORDER BY users DESC, sessions DESC, exercise_id
        """,  # noqa: S608 - this module's own subqueries
        week_start,
    )
    items = [
        ExercisePopularity(
            exercise_id=row["exercise_id"],
            name=exercise_name(row["exercise_id"]),
            users=row["users"],
            sessions=row["sessions"],
            sets=row["sets"],
            volume_kg=float(row["volume_kg"]),
        )
        for row in rows
    ]
    return PopularityReport(week=iso_week(week_start), week_start=week_start, items=items)


async def retention(pool: asyncpg.Pool, today: date, cohorts: int) -> RetentionReport:
    """The `cohorts` signup weeks up to today's; cohort sizes are the registrations of their days."""
    current = week_of(today)
    first = current - timedelta(weeks=cohorts - 1)
    sizes = await pool.fetch(
        f"""
        SELECT date_trunc('week', day::timestamp)::date AS week, sum(new_users)::bigint AS users
        FROM {_DAILY} AS counts GROUP BY 1
        """,  # noqa: S608 - this module's own subqueries
        first,
        current + timedelta(days=6),
    )
    active = await pool.fetch(
        f"""
        SELECT cohort_week, weeks_since_signup, users FROM {_RETENTION} AS counts WHERE users <> 0
        """,  # noqa: S608 - this module's own subqueries
        first,
        current,
    )
    size_of = {row["week"]: row["users"] for row in sizes}
    active_of = {(row["cohort_week"], row["weeks_since_signup"]): row["users"] for row in active}
    items = []
    for index in range(cohorts):
        week = first + timedelta(weeks=index)
        followed = (current - week).days // 7 + 1
        items.append(
            Cohort(
                cohort_week=iso_week(week),
                week_start=week,
                users=size_of.get(week, 0),
                active_users=[active_of.get((week, offset), 0) for offset in range(followed)],
            )
        )
    return RetentionReport(current_week=iso_week(current), items=items)
