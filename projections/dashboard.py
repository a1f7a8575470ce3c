"""Pure dashboard logic: weeks are keyed by the local date they begin on in the user's timezone."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from commands.events import WeekStart as WeekStart  # noqa: PLC0414 - re-exported for readers
from core.catalog import Muscle
from core.units import as_entered
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
BODYWEIGHT_CHANGES = (7, 30)  # days between the latest entry and the one each change compares it with

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


def iso_week(instant: datetime) -> str:
    """The ISO week of an instant in UTC, as `2026-W48` (a weekly leaderboard's key)."""
    year, week, _ = instant.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def week_of(instant: datetime, timezone: str, week_start: WeekStart) -> date:
    """The week bucket of a workout starting at `instant`, as the lifter's own calendar has it."""
    return week_start_of(local_date(instant, timezone), week_start)


def day_start(day: date, timezone: str) -> datetime:
    """The first instant of the local `day`, in UTC. fold=0 maps a midnight skipped by DST to the first
    instant of that day, and picks the first of a repeated midnight."""
    return datetime.combine(day, time(0), tzinfo=zone_named(timezone)).astimezone(UTC)


def next_rollover(now: datetime, timezone: str) -> datetime:
    """The first instant of the next local day after `now`, in UTC."""
    _require_aware(now)
    day = local_date(now, timezone)
    while True:
        day += timedelta(days=1)
        # the loop guards zones whose clocks go back over midnight
        rollover = day_start(day, timezone)
        if rollover > now:
            return rollover


def _point(week: date, totals: WeekTotals) -> WeekPoint:
    return WeekPoint(week_start=week, workouts=totals.workouts, volume_kg=totals.volume_kg)


def _current_streak(active: set[date], this_week: date) -> int:
    # This week is not over, so an empty one does not yet break the run ending last week.
    week = this_week if this_week in active else this_week - _WEEK
    streak = 0
    while week in active:
        streak += 1
        week -= _WEEK
    return streak


def _longest_streak(active: Iterable[date]) -> int:
    longest = run = 0
    previous: date | None = None
    for week in sorted(active):
        run = run + 1 if previous is not None and week - previous == _WEEK else 1
        longest = max(longest, run)
        previous = week
    return longest


def charted_since(today: date, week_start: WeekStart) -> date:
    """The first week the dashboard charts: the weeks before it only count in totals and streaks."""
    return week_start_of(today, week_start) - _WEEK * (WEEKS_CHARTED - 1)


class WeeksRead(NamedTuple):
    """What the dashboard reads of the weekly totals, which Postgres can sum for it."""

    totals: WeekTotals  # of every week
    active: Iterable[date]  # the weeks with a workout
    recent: Mapping[date, WeekTotals]  # the weeks from `charted_since` on (others may be there too)


def weeks_read(weeks: Mapping[date, WeekTotals]) -> WeeksRead:
    """The dashboard's reading of every week's totals."""
    totals = ZERO
    for week in sorted(weeks):
        totals = add(totals, weeks[week])
    return WeeksRead(totals, [week for week, t in weeks.items() if t.workouts > 0], weeks)


def build_dashboard(
    weeks: Mapping[date, WeekTotals] | WeeksRead,
    last_workout: WorkoutSummary | None,
    today: date,
    timezone: str,
    week_start: WeekStart,
    *,
    muscle_sets: MuscleSets | None = None,
    bodyweight: BodyweightTrend | None = None,
) -> Dashboard:
    """The home screen as of the local date `today`, from week totals keyed by week start (every
    week's, or their reading)."""
    read = weeks if isinstance(weeks, WeeksRead) else weeks_read(weeks)
    recent = read.recent
    this_week = week_start_of(today, week_start)
    last_week = this_week - _WEEK
    charted = (this_week - _WEEK * back for back in range(WEEKS_CHARTED - 1, -1, -1))
    active = set(read.active)
    streaks = Streaks(current_weeks=_current_streak(active, this_week), longest_weeks=_longest_streak(active))
    return Dashboard(
        as_of=today,
        timezone=timezone,
        week_start=week_start,
        totals=read.totals,
        this_week=WeekView(week_start=this_week, totals=recent.get(this_week, ZERO)),
        last_week=WeekView(week_start=last_week, totals=recent.get(last_week, ZERO)),
        weekly_volume=[_point(week, recent.get(week, ZERO)) for week in charted],
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


#: Working sets of one exercise on the last 7 and the last 30 local days, today included.
WindowSets = tuple[int, int]


def window_bounds(today: date, timezone: str) -> tuple[datetime, datetime, datetime]:
    """The instants the muscle windows run between: the first of the local days today-29 and today-6,
    and the first after today. (A local day is one range of instants unless clocks go back over
    midnight, which no zone does today.)"""
    short, long = MUSCLE_DAYS
    return (
        day_start(today - timedelta(days=long - 1), timezone),
        day_start(today - timedelta(days=short - 1), timezone),
        day_start(today + timedelta(days=1), timezone),
    )


def exercise_sets(sessions: Iterable[WorkingSets], today: date, timezone: str) -> dict[str, WindowSets]:
    """Working sets per exercise in the two windows, from the sessions themselves; Postgres sums the
    same per exercise between `window_bounds` (projections.readers)."""
    short, long = MUSCLE_DAYS
    counted: dict[str, WindowSets] = {}
    for session in sessions:
        age = (today - local_date(session.started_at, timezone)).days
        if not 0 <= age < long or not session.working_sets:
            continue
        recent, month = counted.get(session.exercise_id, (0, 0))
        counted[session.exercise_id] = (
            recent + (session.working_sets if age < short else 0),
            month + session.working_sets,
        )
    return counted


def muscle_sets(
    sessions: Iterable[WorkingSets], today: date, timezone: str, muscles_of: MusclesOf
) -> MuscleSets:
    """Working sets per muscle on the local days today-6..today and today-29..today."""
    return sets_per_muscle(exercise_sets(sessions, today, timezone), muscles_of)


def sets_per_muscle(per_exercise: Mapping[str, WindowSets], muscles_of: MusclesOf) -> MuscleSets:
    """Each exercise's working sets count 1 for every primary muscle and 0.5 for every secondary one
    (halves and whole numbers: their float sums are exact in any order)."""
    recent: dict[Muscle, float] = {}
    month: dict[Muscle, float] = {}
    for exercise_id, (last_7, last_30) in per_exercise.items():
        if not last_30:
            continue
        primary, secondary = muscles_of(exercise_id)
        # A muscle listed as both counts once, as primary.
        shares = {muscle: 0.5 for muscle in secondary} | {muscle: 1.0 for muscle in primary}
        for muscle, share in shares.items():
            month[muscle] = month.get(muscle, 0.0) + share * last_30
            if last_7:
                recent[muscle] = recent.get(muscle, 0.0) + share * last_7
    return MuscleSets(last_7_days=_ranked(recent), last_30_days=_ranked(month))


def _ranked(counts: Mapping[Muscle, float]) -> list[MuscleCount]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [MuscleCount(muscle=muscle, sets=sets) for muscle, sets in ranked]


def _rounded(kg: Decimal) -> float:
    return float(kg.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) + 0.0


def _change(ordered: Sequence[BodyweightEntry], days: int) -> float | None:
    """The latest entry minus the last one dated at least `days` before it."""
    latest = ordered[-1]
    index = bisect_right([entry.date for entry in ordered], latest.date - timedelta(days=days))
    if index == 0:
        return None
    return _rounded(as_entered(latest.kg) - as_entered(ordered[index - 1].kg))


def bodyweight_charted_since(today: date) -> date:
    """The first day of the body-weight chart: a Monday (its weeks are ISO weeks)."""
    return today - timedelta(days=today.weekday()) - _WEEK * (WEEKS_CHARTED - 1)


def _weekly(ordered: Sequence[BodyweightEntry], today: date) -> list[BodyweightPoint]:
    first = bodyweight_charted_since(today)
    last_of_week: dict[date, BodyweightEntry] = {}
    for entry in ordered:
        if entry.date >= first:
            last_of_week[entry.date - timedelta(days=entry.date.weekday())] = entry
    return [BodyweightPoint(date=entry.date, kg=entry.kg) for entry in last_of_week.values()]


def bodyweight_trend(entries: Iterable[BodyweightEntry], today: date) -> BodyweightTrend | None:
    """The body-weight card as of the local date `today` (later entries wait for their day); None
    without any entry. Changes compare with the last entry at least 7 and 30 days before the latest.

    What it reads of the entries: the last BODYWEIGHT_AVERAGED, those from `bodyweight_charted_since`
    or from the longest change before the latest on, whichever is earlier, and the one before those
    (projections.readers reads no others)."""
    ordered = sorted((entry for entry in entries if entry.date <= today), key=lambda entry: entry.date)
    if not ordered:
        return None
    averaged = ordered[-BODYWEIGHT_AVERAGED:]
    average = sum((as_entered(entry.kg) for entry in averaged), Decimal(0)) / len(averaged)
    return BodyweightTrend(
        latest=ordered[-1],
        moving_average_kg=_rounded(average),
        weekly=_weekly(ordered, today),
        change_7_days_kg=_change(ordered, BODYWEIGHT_CHANGES[0]),
        change_30_days_kg=_change(ordered, BODYWEIGHT_CHANGES[1]),
    )
