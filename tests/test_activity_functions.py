"""The pure arithmetic of the analytics counts: state before and after, as exact count changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from projections.activity import (
    CUSTOM,
    DayChange,
    DayTotals,
    ExerciseChange,
    ExerciseTotals,
    RetentionChange,
    day_changes,
    exercise_changes,
    exercise_key,
    merge_exercises,
    retention_changes,
    sum_days,
    week_of,
    with_days,
    with_signup,
)

MONDAY = date(2026, 11, 23)
CUSTOM_ID = "0b6f3f8e-6c1f-4c43-9d4e-3a1e2f6b7c8d"


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_week_of_is_the_iso_monday() -> None:
    assert [week_of(MONDAY + timedelta(days=n)) for n in range(7)] == [MONDAY] * 7
    assert week_of(MONDAY + timedelta(days=7)) == MONDAY + timedelta(days=7)
    assert week_of(date(2027, 1, 1)) == date(2026, 12, 28)  # a Friday whose ISO week began in 2026


def test_workouts_add_up_per_utc_day() -> None:
    late_evening_in_sao_paulo = datetime(2026, 11, 23, 23, 30, tzinfo=timezone(timedelta(hours=-3)))
    days = sum_days(
        [
            (at(MONDAY, 9), 3, Decimal("1220")),
            (at(MONDAY, 18), 1, Decimal("315.5")),
            (late_evening_in_sao_paulo, 2, Decimal("0.1")),
        ]
    )
    assert days == {
        MONDAY: DayTotals(2, 4, Decimal("1535.5")),
        MONDAY + timedelta(days=1): DayTotals(1, 2, Decimal("0.1")),
    }


def test_exercise_weeks_merge_custom_exercises_into_one() -> None:
    next_monday = MONDAY + timedelta(days=7)
    weeks = merge_exercises(
        [
            (MONDAY, "barbell-bench-press", ExerciseTotals(2, 3, Decimal("1535"))),
            (MONDAY, CUSTOM_ID, ExerciseTotals(1, 3, Decimal("600"))),
            (MONDAY, "8e6e2d0c-0f0b-4a53-8c53-1b2b1f0a9e11", ExerciseTotals(1, 1, Decimal("20"))),
            (next_monday, "barbell-bench-press", ExerciseTotals(1, 1, Decimal("100"))),
        ]
    )
    assert weeks == {
        (MONDAY, "barbell-bench-press"): ExerciseTotals(2, 3, Decimal("1535")),
        (MONDAY, CUSTOM): ExerciseTotals(2, 4, Decimal("620")),
        (next_monday, "barbell-bench-press"): ExerciseTotals(1, 1, Decimal("100")),
    }


def test_exercise_key_keeps_built_in_slugs() -> None:
    assert exercise_key("pull-up") == "pull-up"
    assert exercise_key(CUSTOM_ID) == CUSTOM


def test_a_first_workout_makes_the_user_active_that_day() -> None:
    assert day_changes({}, {MONDAY: DayTotals(1, 3, Decimal("1220"))}) == [
        DayChange(MONDAY, active_users=1, workouts=1, sets=3, volume_kg=Decimal("1220"))
    ]


def test_a_second_workout_on_an_active_day_adds_no_active_user() -> None:
    changes = day_changes(
        {MONDAY: DayTotals(1, 3, Decimal("1220"))}, {MONDAY: DayTotals(2, 4, Decimal("1535"))}
    )
    assert changes == [DayChange(MONDAY, active_users=0, workouts=1, sets=1, volume_kg=Decimal("315"))]


def test_moving_a_workout_to_another_day_moves_the_activity() -> None:
    tuesday = MONDAY + timedelta(days=1)
    changes = day_changes({MONDAY: DayTotals(1, 1, Decimal(5))}, {tuesday: DayTotals(1, 1, Decimal(5))})
    assert changes == [
        DayChange(MONDAY, active_users=-1, workouts=-1, sets=-1, volume_kg=Decimal(-5)),
        DayChange(tuesday, active_users=1, workouts=1, sets=1, volume_kg=Decimal(5)),
    ]


def test_an_unchanged_day_changes_nothing() -> None:
    same = {MONDAY: DayTotals(1, 2, Decimal("10.00"))}
    assert day_changes(same, {MONDAY: DayTotals(1, 2, Decimal("10"))}) == []


def test_with_days_replaces_only_the_touched_days_and_drops_empty_ones() -> None:
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    stored = {MONDAY: DayTotals(1, 1, Decimal(1)), tuesday: DayTotals(1, 1, Decimal(1))}
    fresh = {wednesday: DayTotals(2, 2, Decimal(2)), MONDAY: DayTotals(9, 9, Decimal(9))}
    assert with_days(stored, {tuesday, wednesday}, fresh) == {
        MONDAY: DayTotals(1, 1, Decimal(1)),
        wednesday: DayTotals(2, 2, Decimal(2)),
    }


def test_a_signup_adds_one_new_user_on_its_day() -> None:
    tuesday = MONDAY + timedelta(days=1)
    workout = DayChange(MONDAY, active_users=1, workouts=1, sets=1, volume_kg=Decimal(1))
    assert with_signup([workout], tuesday) == [workout, DayChange(tuesday, new_users=1)]
    assert with_signup([workout], MONDAY) == [
        DayChange(MONDAY, active_users=1, workouts=1, sets=1, volume_kg=Decimal(1), new_users=1)
    ]


def test_exercise_users_change_only_when_a_week_of_it_starts_or_ends() -> None:
    bench = (MONDAY, "barbell-bench-press")
    squat = (MONDAY, "barbell-back-squat")
    old = {bench: ExerciseTotals(1, 2, Decimal(100)), squat: ExerciseTotals(1, 1, Decimal(50))}
    new = {bench: ExerciseTotals(2, 3, Decimal(150))}
    assert exercise_changes(old, new) == [
        ExerciseChange(MONDAY, "barbell-back-squat", users=-1, sessions=-1, sets=-1, volume_kg=Decimal(-50)),
        ExerciseChange(MONDAY, "barbell-bench-press", users=0, sessions=1, sets=1, volume_kg=Decimal(50)),
    ]


def test_retention_counts_a_week_once_and_not_before_the_signup_week() -> None:
    registered_on = MONDAY + timedelta(days=3)  # a Thursday: the cohort is the week of MONDAY
    next_week = MONDAY + timedelta(days=7)
    week_before = MONDAY - timedelta(days=7)
    old = {MONDAY + timedelta(days=4): DayTotals(1, 1, Decimal(1))}
    new = {
        MONDAY + timedelta(days=4): DayTotals(1, 1, Decimal(1)),
        MONDAY + timedelta(days=5): DayTotals(1, 1, Decimal(1)),  # the same week: still one user
        next_week + timedelta(days=2): DayTotals(1, 1, Decimal(1)),
        week_before: DayTotals(1, 1, Decimal(1)),  # imported from before signing up
    }
    assert retention_changes(registered_on, old, new, [MONDAY, next_week, week_before]) == [
        RetentionChange(MONDAY, 1, 1)
    ]
    assert retention_changes(registered_on, new, {}, [MONDAY, next_week, week_before]) == [
        RetentionChange(MONDAY, 0, -1),
        RetentionChange(MONDAY, 1, -1),
    ]


totals = st.builds(
    DayTotals,
    workouts=st.integers(min_value=1, max_value=5),
    sets=st.integers(min_value=0, max_value=40),
    volume_kg=st.decimals(min_value=0, max_value=10_000, places=2),
)
day_maps = st.dictionaries(st.dates(date(2026, 11, 1), date(2026, 12, 31)), totals, max_size=8)


@given(day_maps, day_maps, day_maps)
def test_changes_through_any_path_add_up_to_the_direct_change(a: dict, b: dict, c: dict) -> None:
    """Counts built from successive differences equal counts of the final state: nothing drifts."""

    def applied(changes: list[DayChange]) -> dict[date, tuple[int, int, int, Decimal]]:
        counts: dict[date, tuple[int, int, int, Decimal]] = {}
        for change in changes:
            users, workouts, sets, volume = counts.get(change.day, (0, 0, 0, Decimal(0)))
            counts[change.day] = (
                users + change.active_users,
                workouts + change.workouts,
                sets + change.sets,
                volume + change.volume_kg,
            )
        return {day: value for day, value in counts.items() if value != (0, 0, 0, Decimal(0))}

    stepwise = applied([*day_changes({}, a), *day_changes(a, b), *day_changes(b, c)])
    assert stepwise == applied(day_changes({}, c))
    assert all(users == 1 for users, *_ in stepwise.values())
