"""Pure dashboard logic: weeks are keyed by the local date they begin on in the user's timezone."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo

from commands.events import WeekStart as WeekStart  # noqa: PLC0414 - re-exported for readers
from core.catalog import Muscle
from projections.documents import (
    BodyweightEntry,
    BodyweightPoint,
    BodyweightTrend,
    Dashboard,
    MuscleCount,
    MuscleSets,
    Streaks,
    WeekPoint,
    WeekTotals,
    WeekView,
    WorkoutSummary,
)
from projections.workouts import ZERO, add, contribution

WEEKS_CHARTED = 12
MUSCLE_DAYS = (7, 30)  # the windows of muscle_sets, today included
BODYWEIGHT_AVERAGED = 7  # entries in the moving average

# An exercise's primary and secondary muscles, from the catalog or the user's custom exercises.
MusclesOf = Callable[[str], tuple[Sequence[Muscle], Sequence[Muscle]]]


class WorkingSets(Protocol):
    """What `muscle_sets` reads of a session: an ExerciseSession, or the columns of its row."""

    @property
    def exercise_id(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def working_sets(self) -> int | None: ...


_FIRST_WEEKDAY: Mapping[WeekStart, int] = {"monday": 0, "sunday": 6, "saturday": 5}  # date.weekday()
_WEEK = timedelta(days=7)


@cache
def zone_named(timezone: str) -> ZoneInfo:
    """The zone, loaded once per process: ZoneInfo's own cache keeps only a few alive, and loading one
    reads its file."""
    return ZoneInfo(timezone)


def _require_aware(instant: datetime) -> None:
    # A naive datetime would silently be read in the server's zone, which is not the user's.
    if instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: an offset is required")


def local_date(instant: datetime, timezone: str) -> date:
    """The calendar date `instant` falls on in `timezone`."""
    _require_aware(instant)
    return instant.astimezone(zone_named(timezone)).date()


def week_start_of(day: date, week_start: WeekStart) -> date:
    """The first day of the week containing `day`."""
    return day - timedelta(days=(day.weekday() - _FIRST_WEEKDAY[week_start]) % 7)


def week_of(instant: datetime, timezone: str, week_start: WeekStart) -> date:
    """The week bucket of a workout starting at `instant`, as the lifter's own calendar has it."""
    return week_start_of(local_date(instant, timezone), week_start)


def next_rollover(now: datetime, timezone: str) -> datetime:
    """The first instant of the next local day after `now`, in UTC."""
    _require_aware(now)
    zone = zone_named(timezone)
    day = now.astimezone(zone).date()
    while True:
        day += timedelta(days=1)
        # fold=0 maps a midnight skipped by DST to the first instant of that day, and picks the
        # first of a repeated midnight; the loop guards zones whose clocks go back over midnight.
        rollover = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        if rollover > now:
            return rollover


def _point(week: date, totals: WeekTotals) -> WeekPoint:
    return WeekPoint(week_start=week, workouts=totals.workouts, volume_kg=totals.volume_kg)


def _active(weeks: Mapping[date, WeekTotals]) -> set[date]:
    return {week for week, totals in weeks.items() if totals.workouts > 0}


def _current_streak(active: set[date], this_week: date) -> int:
    # This week is not over, so an empty one does not yet break the run ending last week.
    week = this_week if this_week in active else this_week - _WEEK
    streak = 0
    while week in active:
        streak += 1
        week -= _WEEK
    return streak


def _longest_streak(active: set[date]) -> int:
    longest = run = 0
    previous: date | None = None
    for week in sorted(active):
        run = run + 1 if previous is not None and week - previous == _WEEK else 1
        longest = max(longest, run)
        previous = week
    return longest


def build_dashboard(
    weeks: Mapping[date, WeekTotals],
    last_workout: WorkoutSummary | None,
    today: date,
    timezone: str,
    week_start: WeekStart,
    *,
    muscle_sets: MuscleSets | None = None,
    bodyweight: BodyweightTrend | None = None,
) -> Dashboard:
    """The home screen as of the local date `today`, from week totals keyed by week start."""
    this_week = week_start_of(today, week_start)
    last_week = this_week - _WEEK
    totals = ZERO
    for week in sorted(weeks):
        totals = add(totals, weeks[week])
    charted = (this_week - _WEEK * back for back in range(WEEKS_CHARTED - 1, -1, -1))
    active = _active(weeks)
    streaks = Streaks(current_weeks=_current_streak(active, this_week), longest_weeks=_longest_streak(active))
    return Dashboard(
        as_of=today,
        timezone=timezone,
        week_start=week_start,
        totals=totals,
        this_week=WeekView(week_start=this_week, totals=weeks.get(this_week, ZERO)),
        last_week=WeekView(week_start=last_week, totals=weeks.get(last_week, ZERO)),
        weekly_volume=[_point(week, weeks.get(week, ZERO)) for week in charted],
        streaks=streaks,
        last_workout=last_workout,
        muscle_sets=muscle_sets,
        bodyweight=bodyweight,
    )


def rebucket(
    summaries: Iterable[WorkoutSummary], timezone: str, week_start: WeekStart
) -> dict[date, WeekTotals]:
    """Week totals recomputed from every workout, for a new timezone or week start."""
    weeks: dict[date, WeekTotals] = {}
    for summary in summaries:
        week = week_of(summary.started_at, timezone, week_start)
        weeks[week] = add(weeks.get(week, ZERO), contribution(summary))
    return dict(sorted(weeks.items()))


def muscle_sets(
    sessions: Iterable[WorkingSets], today: date, timezone: str, muscles_of: MusclesOf
) -> MuscleSets:
    """Working sets per muscle on the local days today-6..today and today-29..today.

    Each working set counts 1 for every primary muscle of its exercise and 0.5 for every secondary one.
    """
    short, long = MUSCLE_DAYS
    recent: dict[Muscle, float] = {}
    month: dict[Muscle, float] = {}
    for session in sessions:
        age = (today - local_date(session.started_at, timezone)).days
        if not 0 <= age < long or not session.working_sets:
            continue
        primary, secondary = muscles_of(session.exercise_id)
        # A muscle listed as both counts once, as primary.
        shares = {muscle: 0.5 for muscle in secondary} | {muscle: 1.0 for muscle in primary}
        for muscle, share in shares.items():
            sets = share * session.working_sets
            month[muscle] = month.get(muscle, 0.0) + sets
            if age < short:
                recent[muscle] = recent.get(muscle, 0.0) + sets
    return MuscleSets(last_7_days=_ranked(recent), last_30_days=_ranked(month))


def _ranked(counts: Mapping[Muscle, float]) -> list[MuscleCount]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [MuscleCount(muscle=muscle, sets=sets) for muscle, sets in ranked]


def _decimal(kg: float) -> Decimal:
    return Decimal(repr(kg))  # the stored 2-decimal value, without float noise


def _rounded(kg: Decimal) -> float:
    return float(kg.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) + 0.0


def _change(ordered: Sequence[BodyweightEntry], days: int) -> float | None:
    """The latest entry minus the last one dated at least `days` before it."""
    latest = ordered[-1]
    index = bisect_right([entry.date for entry in ordered], latest.date - timedelta(days=days))
    if index == 0:
        return None
    return _rounded(_decimal(latest.kg) - _decimal(ordered[index - 1].kg))


def _weekly(ordered: Sequence[BodyweightEntry], today: date) -> list[BodyweightPoint]:
    first = today - timedelta(days=today.weekday()) - _WEEK * (WEEKS_CHARTED - 1)  # a Monday: ISO weeks
    last_of_week: dict[date, BodyweightEntry] = {}
    for entry in ordered:
        if entry.date >= first:
            last_of_week[entry.date - timedelta(days=entry.date.weekday())] = entry
    return [BodyweightPoint(date=entry.date, kg=entry.kg) for entry in last_of_week.values()]


def bodyweight_trend(entries: Iterable[BodyweightEntry], today: date) -> BodyweightTrend | None:
    """The body-weight card as of the local date `today` (later entries wait for their day); None
    without any entry. Changes compare with the last entry at least 7 and 30 days before the latest."""
    ordered = sorted((entry for entry in entries if entry.date <= today), key=lambda entry: entry.date)
    if not ordered:
        return None
    averaged = ordered[-BODYWEIGHT_AVERAGED:]
    average = sum((_decimal(entry.kg) for entry in averaged), Decimal(0)) / len(averaged)
    return BodyweightTrend(
        latest=ordered[-1],
        moving_average_kg=_rounded(average),
        weekly=_weekly(ordered, today),
        change_7_days_kg=_change(ordered, 7),
        change_30_days_kg=_change(ordered, 30),
    )
