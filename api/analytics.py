"""Analytics (`/v1/analytics/...`) for the analyst and admin roles: JSON, or CSV with `Accept: text/csv`.

Anonymous counts only, from schema `analytics`; days are UTC dates and weeks ISO weeks (UTC).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from api.auth.middleware import requires_role
from api.problems import problem_specs
from api.responses import Response
from api.state import AppServices
from commands.workouts import EARLIEST_DAY, LATEST_DAY
from core import clock
from projections.activity import week_of
from queries.analytics import (
    DailyReport,
    PopularityReport,
    RetentionReport,
    daily_activity,
    exercise_popularity,
    parse_iso_week,
    retention,
)

JSON = "application/json"
CSV = "text/csv"
MAX_DAYS = 366
DEFAULT_DAYS = 30

# Parsed here rather than by Litestar, so that a bad value's problem names `from` or `to`.
From = Annotated[
    str | None,
    QueryParameter(name="from", format="date", description="First UTC day; default 29 days before `to`"),
]
To = Annotated[
    str | None, QueryParameter(name="to", format="date", description="Last UTC day, included; default today")
]
Week = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^[0-9]{4}-W[0-9]{2}$(?!\n)",  # `(?!\n)`: see the patterns of commands/accounts.py
        description="ISO week (UTC), e.g. 2026-W48; default this week",
    ),
]
Cohorts = Annotated[
    int, QueryParameter(ge=1, le=104, description="How many signup weeks, this one the last; at most 104")
]

_ENCODER = msgspec.json.Encoder()
_FORMATS = "JSON, or CSV (a header row, then one row per line) when the request sends `Accept: text/csv`."


def _invalid(field: str, message: str) -> ValidationException:
    return ValidationException(f"{field} {message}", extra=[{"key": field, "message": message}])


def _respond(
    request: Request[Any, Any, Any],
    report: msgspec.Struct,
    name: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> Response[bytes]:
    """The report as JSON, or as CSV when the client prefers it."""
    headers = {"Vary": "Accept"}
    if request.accept.best_match([JSON, CSV], default=JSON) != CSV:
        return Response(content=_ENCODER.encode(report), media_type=JSON, headers=headers)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return Response(content=text.getvalue().encode(), media_type=CSV, headers=headers)


def _day(field: str, text: str | None) -> date | None:
    try:
        day = None if text is None else date.fromisoformat(text)
    except ValueError:
        raise _invalid(field, "must be a date, e.g. 2026-11-27") from None
    if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
        raise _invalid(field, f"must be a day from {EARLIEST_DAY} to {LATEST_DAY}")
    return day


def _range(first: str | None, last: str | None) -> tuple[date, date]:
    end = _day("to", last) or clock.now().date()
    start = _day("from", first) or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise _invalid("from", "must not be after to")
    if (end - start).days + 1 > MAX_DAYS:
        raise _invalid("to", f"must be at most {MAX_DAYS} days from `from`, both included")
    return start, end


class AnalyticsController(Controller):
    path = "/v1/analytics"
    tags = ["analytics"]
    guards = [requires_role("analyst", "admin")]

    @get(
        "/daily",
        operation_id="analyticsDaily",
        summary="Per UTC day: active users, workouts, working sets, volume (kg), new users",
        description=f"At most {MAX_DAYS} days, each listed; days without activity are zeros. {_FORMATS}",
        responses={
            200: ResponseSpec(generate_examples=False, data_container=DailyReport, description="The days"),
            **problem_specs(403, 422),
        },
    )
    async def daily(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[AppServices],
        *,
        start: From = None,
        end: To = None,
    ) -> Response[bytes]:
        first, last = _range(start, end)
        report = await daily_activity(services.reads, first, last)
        rows = [
            (d.date.isoformat(), d.active_users, d.workouts, d.sets, d.volume_kg, d.new_users)
            for d in report.items
        ]
        header = ("date", "active_users", "workouts", "sets", "volume_kg", "new_users")
        return _respond(request, report, f"daily-activity-{first}-{last}", header, rows)

    @get(
        "/exercises",
        operation_id="analyticsExercises",
        summary="Exercise popularity in an ISO week: users, sessions, working sets, volume (kg)",
        description=f"Most users first; custom exercises are counted together as `custom`. {_FORMATS}",
        responses={
            200: ResponseSpec(
                generate_examples=False, data_container=PopularityReport, description="The week's exercises"
            ),
            **problem_specs(403, 422),
        },
    )
    async def exercises(
        self, request: Request[Any, Any, Any], services: NamedDependency[AppServices], *, week: Week = None
    ) -> Response[bytes]:
        try:
            monday = parse_iso_week(week) if week else week_of(clock.now().date())
        except ValueError:
            raise _invalid("week", "is not an ISO week") from None
        if not EARLIEST_DAY <= monday <= LATEST_DAY:
            raise _invalid("week", f"must be a week from {EARLIEST_DAY} to {LATEST_DAY}")
        report = await exercise_popularity(services.reads, monday)
        rows = [
            (report.week, e.exercise_id, e.name, e.users, e.sessions, e.sets, e.volume_kg)
            for e in report.items
        ]
        header = ("week", "exercise_id", "name", "users", "sessions", "sets", "volume_kg")
        return _respond(request, report, f"exercise-popularity-{report.week}", header, rows)

    @get(
        "/retention",
        operation_id="analyticsRetention",
        summary="Signup cohorts by ISO week: their size and how many had a workout each week since",
        description=(
            "`activeUsers[n]` counts the cohort's users with a workout in the n-th week after their signup "
            f"week (0: the signup week itself). As CSV, one row per cohort and week. {_FORMATS}"
        ),
        responses={
            200: ResponseSpec(
                generate_examples=False, data_container=RetentionReport, description="The cohorts"
            ),
            **problem_specs(403, 422),
        },
    )
    async def signup_cohorts(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[AppServices],
        *,
        cohorts: Cohorts = 12,
    ) -> Response[bytes]:
        report = await retention(services.reads, clock.now().date(), cohorts)
        rows = [
            (c.cohort_week, c.week_start.isoformat(), c.users, offset, active)
            for c in report.items
            for offset, active in enumerate(c.active_users)
        ]
        header = ("cohort_week", "week_start", "cohort_users", "weeks_since_signup", "active_users")
        return _respond(request, report, f"retention-{report.current_week}", header, rows)
