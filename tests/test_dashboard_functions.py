"""Dashboard logic: week buckets in the lifter's own calendar, rollovers, totals, the chart and streaks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.events import Weight, Workout
from core.catalog import Muscle
from projections.dashboard import (
    WeekStart,
    bodyweight_trend,
    build_dashboard,
    local_date,
    muscle_sets,
    next_rollover,
    rebucket,
    week_of,
    week_start_of,
)
from projections.documents import (
    BodyweightEntry,
    BodyweightPoint,
    BodyweightTrend,
    MuscleCount,
    MuscleSets,
    WeekPoint,
    WeekTotals,
    WeekView,
    WorkoutSummary,
)
from projections.records import ExerciseSession, sessions_of
from projections.workouts import ZERO

# 2026-11-29 is a Sunday, 2026-11-30 a Monday.
SUNDAY_LATE_UTC = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
TODAY = date(2026, 12, 2)  # a Wednesday
THIS_WEEK = date(2026, 11, 30)
LAST_WEEK = date(2026, 11, 23)
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "America/Santiago",
]
WEEK_STARTS: list[WeekStart] = ["monday", "sunday", "saturday"]
FIRST_WEEKDAY = {"monday": 0, "sunday": 6, "saturday": 5}


def week(workouts: int, volume_kg: float = 0.0, sets: int = 0, duration_s: int = 0) -> WeekTotals:
    return WeekTotals(workouts=workouts, sets=sets, volume_kg=volume_kg, duration_s=duration_s)


def weeks_back(n: int) -> date:
    return THIS_WEEK - timedelta(weeks=n)


def active(*back: int) -> dict[date, WeekTotals]:
    return {weeks_back(n): week(1, 100.0) for n in back}


# Week buckets


def test_late_sunday_utc_is_monday_in_berlin_and_starts_a_new_week() -> None:
    assert local_date(SUNDAY_LATE_UTC, "Europe/Berlin") == date(2026, 11, 30)
    assert week_of(SUNDAY_LATE_UTC, "Europe/Berlin", "monday") == date(2026, 11, 30)
    assert week_of(SUNDAY_LATE_UTC, "UTC", "monday") == date(2026, 11, 23)


def test_early_monday_utc_is_still_sunday_in_los_angeles() -> None:
    monday_early_utc = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # 21:00 PST on Sunday
    assert local_date(monday_early_utc, "America/Los_Angeles") == date(2026, 11, 29)
    assert week_of(monday_early_utc, "America/Los_Angeles", "monday") == date(2026, 11, 23)
    assert week_of(monday_early_utc, "UTC", "monday") == date(2026, 11, 30)
    assert week_of(monday_early_utc, "America/Los_Angeles", "sunday") == date(2026, 11, 29)


def test_sunday_weeks_begin_on_sunday() -> None:
    assert week_of(SUNDAY_LATE_UTC, "UTC", "sunday") == date(2026, 11, 29)
    # Berlin has already reached Monday, still in the week that began on Sunday 29th.
    assert week_of(SUNDAY_LATE_UTC, "Europe/Berlin", "sunday") == date(2026, 11, 29)
    assert week_start_of(date(2026, 11, 28), "sunday") == date(2026, 11, 22)  # Saturday: last day


def test_saturday_weeks_begin_on_saturday() -> None:
    assert week_start_of(date(2026, 11, 28), "saturday") == date(2026, 11, 28)  # Saturday itself
    assert week_start_of(date(2026, 11, 27), "saturday") == date(2026, 11, 21)  # Friday: last day
    friday_late_la = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # Friday 19:00 in Los Angeles
    assert week_of(friday_late_la, "America/Los_Angeles", "saturday") == date(2026, 11, 21)
    assert week_of(friday_late_la, "UTC", "saturday") == date(2026, 11, 28)


def test_offsets_of_the_instant_do_not_matter_only_the_users_zone() -> None:
    same_instant = SUNDAY_LATE_UTC.astimezone(ZoneInfo("Asia/Tokyo"))
    assert week_of(same_instant, "UTC", "monday") == week_of(SUNDAY_LATE_UTC, "UTC", "monday")


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        week_of(datetime(2026, 11, 29, 23, 30), "UTC", "monday")


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(instants, st.sampled_from(ZONES), st.sampled_from(WEEK_STARTS))
def test_a_week_begins_on_the_chosen_weekday_and_holds_the_local_day(
    instant: datetime, zone: str, week_start: WeekStart
) -> None:
    bucket = week_of(instant, zone, week_start)
    day = local_date(instant, zone)
    assert bucket.weekday() == FIRST_WEEKDAY[week_start]
    assert bucket <= day < bucket + timedelta(days=7)


# Rollover


def test_rollover_on_the_night_berlin_leaves_summer_time() -> None:
    # 2026-10-25 00:30 CEST; that day lasts 25 hours, so the next midnight is 00:00 CET = 23:00 UTC.
    now = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)
    rollover = next_rollover(now, "Europe/Berlin")
    assert rollover == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert rollover.tzinfo is UTC


def test_rollover_the_evening_before_berlin_leaves_summer_time() -> None:
    now = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)  # 14:00 CEST
    assert next_rollover(now, "Europe/Berlin") == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 CEST


def test_rollover_on_the_day_berlin_enters_summer_time() -> None:
    now = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST, a 23-hour day
    assert next_rollover(now, "Europe/Berlin") == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)


def test_rollover_when_dst_skips_midnight_is_the_first_instant_of_the_day() -> None:
    # Santiago springs forward at 00:00 on 2026-09-06: the day begins at 01:00 -03, 04:00 UTC.
    now = datetime(2026, 9, 5, 16, 0, tzinfo=UTC)
    assert next_rollover(now, "America/Santiago") == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)


def test_rollover_at_midnight_is_the_next_midnight() -> None:
    midnight = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    assert next_rollover(midnight, "UTC") == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


@given(instants, st.sampled_from(ZONES))
def test_rollover_is_the_next_local_midnight(now: datetime, zone: str) -> None:
    rollover = next_rollover(now, zone)
    local = rollover.astimezone(ZoneInfo(zone))
    assert now < rollover <= now + timedelta(hours=26)
    assert local.date() == local_date(now, zone) + timedelta(days=1)
    assert local.time() < time(1, 1)  # midnight, or the first instant after a skipped one
    assert local_date(rollover - timedelta(microseconds=1), zone) == local_date(now, zone)


# The dashboard


def test_dashboard_totals_and_this_and_last_week() -> None:
    weeks = {
        THIS_WEEK: week(1, 1000.55, sets=10, duration_s=3600),
        LAST_WEEK: week(2, 2000.25, sets=20, duration_s=7200),
        date(2026, 6, 1): week(1, 300.1, sets=5, duration_s=1800),  # too old to chart, still counted
    }
    dashboard = build_dashboard(weeks, None, TODAY, "Europe/Berlin", "monday")
    assert dashboard.as_of == TODAY
    assert (dashboard.timezone, dashboard.week_start) == ("Europe/Berlin", "monday")
    assert dashboard.totals == week(4, 3300.9, sets=35, duration_s=12600)  # 1000.55 + 2000.25 + 300.1
    assert dashboard.this_week == WeekView(week_start=THIS_WEEK, totals=weeks[THIS_WEEK])
    assert dashboard.last_week == WeekView(week_start=LAST_WEEK, totals=weeks[LAST_WEEK])
    assert dashboard.last_workout is None


def test_empty_weeks_are_zero() -> None:
    dashboard = build_dashboard({}, None, TODAY, "UTC", "monday")
    assert dashboard.totals == ZERO
    assert dashboard.this_week == WeekView(week_start=THIS_WEEK, totals=ZERO)
    assert dashboard.last_week == WeekView(week_start=LAST_WEEK, totals=ZERO)
    assert (dashboard.streaks.current_weeks, dashboard.streaks.longest_weeks) == (0, 0)


def test_weekly_volume_is_12_weeks_oldest_first_zero_filled() -> None:
    weeks = {THIS_WEEK: week(1, 500.0), weeks_back(3): week(2, 750.5), weeks_back(11): week(1, 80.0)}
    weeks[weeks_back(12)] = week(5, 9999.0)  # 13 weeks ago: off the chart
    points = build_dashboard(weeks, None, TODAY, "UTC", "monday").weekly_volume
    assert len(points) == 12
    assert points[0] == WeekPoint(week_start=date(2026, 9, 14), workouts=1, volume_kg=80.0)
    assert points[8] == WeekPoint(week_start=date(2026, 11, 9), workouts=2, volume_kg=750.5)
    assert points[-1] == WeekPoint(week_start=THIS_WEEK, workouts=1, volume_kg=500.0)
    assert [p.week_start for p in points] == [weeks_back(n) for n in range(11, -1, -1)]
    assert [p.workouts for p in points] == [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1]


def test_sunday_weeks_put_today_in_the_week_that_began_on_sunday() -> None:
    sunday_week = date(2026, 11, 29)
    weeks = {sunday_week: week(1, 100.0), date(2026, 11, 22): week(2, 200.0)}
    dashboard = build_dashboard(weeks, None, TODAY, "UTC", "sunday")
    assert dashboard.this_week.week_start == sunday_week
    assert dashboard.last_week.totals.workouts == 2
    assert dashboard.weekly_volume[-1].week_start == sunday_week
    assert dashboard.streaks.current_weeks == 2


def test_last_workout_is_passed_through() -> None:
    summary = WorkoutSummary(
        id=uuid.uuid4(),
        version=1,
        title="t",
        started_at=SUNDAY_LATE_UTC,
        exercise_count=0,
        set_count=0,
        volume_kg=0.0,
    )
    assert build_dashboard({}, summary, TODAY, "UTC", "monday").last_workout == summary


def test_current_streak_counts_back_from_this_week() -> None:
    streaks = build_dashboard(active(0, 1, 2, 4), None, TODAY, "UTC", "monday").streaks
    assert streaks.current_weeks == 3


def test_empty_this_week_does_not_break_the_streak_yet() -> None:
    streaks = build_dashboard(active(1, 2), None, TODAY, "UTC", "monday").streaks
    assert streaks.current_weeks == 2


def test_a_missed_week_breaks_the_streak() -> None:
    streaks = build_dashboard(active(2, 3, 4), None, TODAY, "UTC", "monday").streaks
    assert streaks.current_weeks == 0
    assert streaks.longest_weeks == 3


def test_this_week_alone_is_a_streak_of_one() -> None:
    assert build_dashboard(active(0, 2), None, TODAY, "UTC", "monday").streaks.current_weeks == 1


def test_a_week_emptied_by_deletions_does_not_count() -> None:
    weeks = active(0, 2) | {weeks_back(1): ZERO}
    assert build_dashboard(weeks, None, TODAY, "UTC", "monday").streaks.current_weeks == 1


def test_longest_streak_is_the_longest_run_anywhere() -> None:
    weeks = active(0, 1, 2, 20, 21, 22, 23, 30)
    streaks = build_dashboard(weeks, None, TODAY, "UTC", "monday").streaks
    assert (streaks.current_weeks, streaks.longest_weeks) == (3, 4)


def test_longest_streak_includes_the_current_one() -> None:
    streaks = build_dashboard(active(0, 1, 2, 3, 4, 10), None, TODAY, "UTC", "monday").streaks
    assert (streaks.current_weeks, streaks.longest_weeks) == (5, 5)


# Rebucketing


def summary_at(started_at: datetime, volume_kg: float, duration_s: int | None) -> WorkoutSummary:
    return WorkoutSummary(
        id=uuid.uuid4(),
        version=1,
        title="t",
        started_at=started_at,
        exercise_count=1,
        set_count=3,
        volume_kg=volume_kg,
        duration_s=duration_s,
    )


def test_rebucket_moves_workouts_to_the_new_zones_weeks() -> None:
    late_sunday = summary_at(SUNDAY_LATE_UTC, 100.1, 3600)
    sunday_noon = summary_at(datetime(2026, 11, 29, 12, 0, tzinfo=UTC), 200.2, None)

    assert rebucket([late_sunday, sunday_noon], "UTC", "monday") == {
        LAST_WEEK: week(2, 300.3, sets=6, duration_s=3600),
    }
    assert rebucket([late_sunday, sunday_noon], "Europe/Berlin", "monday") == {
        LAST_WEEK: week(1, 200.2, sets=3, duration_s=0),
        THIS_WEEK: week(1, 100.1, sets=3, duration_s=3600),
    }
    assert rebucket([late_sunday, sunday_noon], "Europe/Berlin", "sunday") == {
        date(2026, 11, 29): week(2, 300.3, sets=6, duration_s=3600),
    }


def test_rebucket_of_nothing_is_empty() -> None:
    assert rebucket([], "UTC", "monday") == {}


# Sets per muscle

MUSCLES: dict[str, tuple[tuple[Muscle, ...], tuple[Muscle, ...]]] = {
    "bench": (("chest",), ("triceps", "shoulders")),
    "squat": (("quads", "glutes"), ("hamstrings",)),
    "odd": (("abs",), ("abs", "obliques")),
}
LA = "America/Los_Angeles"


def muscles_of(exercise_id: str) -> tuple[tuple[Muscle, ...], tuple[Muscle, ...]]:
    return MUSCLES.get(exercise_id, ((), ()))


def lift(reps: int = 5, **extra: object) -> dict[str, object]:
    return {"reps": reps, "weight": {"value": 60, "unit": "kg"}, **extra}


def sessions_at(started_at: str, exercise_id: str, *sets: dict[str, object]) -> list[ExerciseSession]:
    body = {"title": "t", "startedAt": started_at, "exercises": [{"exerciseId": exercise_id, "sets": sets}]}
    return sessions_of(uuid.uuid4(), msgspec.convert(body, Workout), "epley")


def counts(*pairs: tuple[Muscle, float]) -> list[MuscleCount]:
    return [MuscleCount(muscle=muscle, sets=sets) for muscle, sets in pairs]


def month_of_training() -> list[ExerciseSession]:
    # TODAY is Wednesday 2026-12-02; in Los Angeles these offsets are PST (-08:00).
    return [
        # today-1: warm-up and uncompleted sets do not count, a failure set does: 4 working sets.
        *sessions_at(
            "2026-12-01T18:00:00-08:00",
            "bench",
            lift(10, type="warmup"),
            lift(),
            lift(),
            lift(completed=False),
            lift(),
            lift(3, type="failure"),
        ),
        # today-7 at 23:30 local (07:30 UTC on today-6): outside the 7 days, inside the 30.
        *sessions_at("2026-11-25T23:30:00-08:00", "squat", lift(type="warmup"), lift(), lift(), lift()),
        *sessions_at("2026-11-03T00:10:00-08:00", "bench", lift(), lift()),  # today-29: the 30 days' first
        *sessions_at("2026-11-02T23:50:00-08:00", "bench", lift(), lift(), lift()),  # today-30: too old
        *sessions_at("2026-12-03T09:00:00-08:00", "bench", lift()),  # tomorrow: not yet
    ]


def test_sets_per_muscle_over_7_and_30_local_days() -> None:
    sessions = month_of_training()
    assert sessions[0].working_sets == 4

    counted = muscle_sets(sessions, TODAY, LA, muscles_of)

    assert counted == MuscleSets(
        last_7_days=counts(("chest", 4.0), ("shoulders", 2.0), ("triceps", 2.0)),
        last_30_days=counts(
            ("chest", 6.0),  # 4 + 2
            ("glutes", 3.0),
            ("quads", 3.0),
            ("shoulders", 3.0),  # (4 + 2) x 0.5
            ("triceps", 3.0),
            ("hamstrings", 1.5),  # 3 x 0.5
        ),
    )


def test_the_day_a_late_set_falls_on_is_the_lifters_own() -> None:
    in_utc = muscle_sets(month_of_training(), TODAY, "UTC", muscles_of)
    # Read in UTC the late squat is on today-6, inside the 7 days; the today-29 bench (08:10 UTC)
    # still counts, and the today-30 one (07:50 UTC on today-29) now does too.
    assert counts(("glutes", 3.0), ("quads", 3.0), ("hamstrings", 1.5)) == [
        count for count in in_utc.last_7_days if count.muscle in {"glutes", "quads", "hamstrings"}
    ]
    assert in_utc.last_30_days[0] == MuscleCount(muscle="chest", sets=9.0)


def test_a_muscle_listed_as_primary_and_secondary_counts_once_as_primary() -> None:
    sessions = sessions_at("2026-12-02T10:00:00-08:00", "odd", lift(), lift())
    counted = muscle_sets(sessions, TODAY, LA, muscles_of)
    assert counted.last_7_days == counts(("abs", 2.0), ("obliques", 1.0))


def test_unknown_exercises_and_uncounted_sessions_add_nothing() -> None:
    sessions = [
        *sessions_at("2026-12-02T10:00:00-08:00", "gone", lift()),
        *sessions_at("2026-12-02T10:00:00-08:00", "bench", lift(type="warmup"), lift(completed=False)),
    ]
    projected_before_counting = msgspec.structs.replace(
        sessions_at("2026-12-02T10:00:00-08:00", "bench", lift())[0], working_sets=None
    )
    assert sessions[1].working_sets == 0
    counted = muscle_sets([*sessions, projected_before_counting], TODAY, LA, muscles_of)
    assert counted == MuscleSets(last_7_days=[], last_30_days=[])


# Body weight


def weighed(day: str, kg: float) -> BodyweightEntry:
    return BodyweightEntry(date=date.fromisoformat(day), weight=Weight(kg, "kg"), kg=kg)


WEIGH_INS = [
    weighed("2026-09-13", 84.0),  # the Sunday before the 12 charted ISO weeks
    weighed("2026-09-14", 83.5),  # their first Monday
    weighed("2026-10-31", 82.0),
    weighed("2026-11-02", 81.8),
    weighed("2026-11-20", 81.0),
    weighed("2026-11-24", 80.6),
    weighed("2026-11-25", 80.4),
    weighed("2026-11-26", 80.5),
    weighed("2026-11-28", 80.2),
    weighed("2026-11-29", 80.0),
    weighed("2026-11-30", 79.9),
    weighed("2026-12-01", 79.75),
    weighed("2026-12-03", 70.0),  # after today: not yet counted
]


def test_bodyweight_trend_as_of_today() -> None:
    trend = bodyweight_trend(reversed(WEIGH_INS), TODAY)

    assert trend == BodyweightTrend(
        latest=weighed("2026-12-01", 79.75),
        # (79.75 + 79.9 + 80.0 + 80.2 + 80.5 + 80.4 + 80.6) / 7 = 561.35 / 7 = 80.1928...
        moving_average_kg=80.19,
        change_7_days_kg=-0.85,  # against 2026-11-24, exactly 7 days before
        change_30_days_kg=-2.25,  # against 2026-10-31, the last entry on or before 2026-11-01
        weekly=[
            BodyweightPoint(date=date(2026, 9, 14), kg=83.5),
            BodyweightPoint(date=date(2026, 10, 31), kg=82.0),
            BodyweightPoint(date=date(2026, 11, 2), kg=81.8),
            BodyweightPoint(date=date(2026, 11, 20), kg=81.0),
            BodyweightPoint(date=date(2026, 11, 29), kg=80.0),  # the last of the week of the 23rd
            BodyweightPoint(date=date(2026, 12, 1), kg=79.75),
        ],
    )


def test_a_single_weigh_in_has_no_change_yet() -> None:
    trend = bodyweight_trend([weighed("2026-11-30", 80.0)], TODAY)
    assert trend is not None
    assert (trend.change_7_days_kg, trend.change_30_days_kg) == (None, None)
    assert trend.moving_average_kg == 80.0
    assert trend.weekly == [BodyweightPoint(date=date(2026, 11, 30), kg=80.0)]


def test_a_change_needs_an_entry_at_least_that_old() -> None:
    trend = bodyweight_trend([weighed("2026-11-25", 81.0), weighed("2026-12-01", 80.0)], TODAY)
    assert trend is not None
    assert (trend.change_7_days_kg, trend.change_30_days_kg) == (None, None)  # 6 days apart
    trend = bodyweight_trend([weighed("2026-11-24", 81.0), weighed("2026-12-01", 80.0)], TODAY)
    assert trend is not None and trend.change_7_days_kg == -1.0


def test_no_weigh_ins_up_to_today_is_no_trend() -> None:
    assert bodyweight_trend([], TODAY) is None
    assert bodyweight_trend([weighed("2026-12-03", 80.0)], TODAY) is None


# The dashboard's optional cards


def test_dashboard_carries_muscle_sets_and_bodyweight_when_given() -> None:
    sets = muscle_sets(month_of_training(), TODAY, LA, muscles_of)
    trend = bodyweight_trend(WEIGH_INS, TODAY)
    dashboard = build_dashboard({}, None, TODAY, LA, "monday", muscle_sets=sets, bodyweight=trend)
    body = msgspec.json.decode(msgspec.json.encode(dashboard))
    assert body["muscleSets"]["last7Days"][0] == {"muscle": "chest", "sets": 4.0}
    assert body["bodyweight"]["change7DaysKg"] == -0.85
    assert body["bodyweight"]["latest"]["weight"] == {"value": 79.75, "unit": "kg"}


def test_dashboard_without_the_cards_leaves_them_out() -> None:
    body = msgspec.json.decode(msgspec.json.encode(build_dashboard({}, None, TODAY, "UTC", "monday")))
    assert "muscleSets" not in body and "bodyweight" not in body
