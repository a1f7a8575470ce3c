"""Pure projection functions: e1RM formulas, unit conversion, workout summaries, documents, week totals.

Every expected number is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.events import Weight, Workout, WorkoutExercise, WorkoutSet
from core.units import KG_PER_LB, as_entered, to_kg
from projections.documents import SetView, WeekTotals
from projections.formulas import E1rmFormula, e1rm
from projections.workouts import (
    ZERO,
    Figures,
    add,
    contribution,
    document,
    is_working_set,
    subtract,
    summarize,
)

WORKOUT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
ROUTINE_ID = uuid.UUID("00000000-0000-4000-8000-000000000002")


def kg(value: float) -> Weight:
    return Weight(value=value, unit="kg")


def lb(value: float) -> Weight:
    return Weight(value=value, unit="lb")


# Bench: a warm-up, one working set, one set not completed. Squat: two working sets in lb.
PUSH_AND_SQUAT = Workout(
    title="Bench and squat",
    started_at=datetime(2026, 11, 29, 17, 0, tzinfo=UTC),
    ended_at=datetime(2026, 11, 29, 18, 15, 30, 500_000, tzinfo=UTC),
    routine_id=ROUTINE_ID,
    notes="felt strong",
    exercises=[
        WorkoutExercise(
            exercise_id="barbell-bench-press",
            notes="pause reps",
            superset_group=1,
            sets=[
                WorkoutSet(type="warmup", reps=10, weight=kg(60)),
                WorkoutSet(reps=5, weight=kg(100), rpe=8.5),
                WorkoutSet(reps=5, weight=kg(100), completed=False),
            ],
        ),
        WorkoutExercise(
            exercise_id="barbell-back-squat",
            sets=[
                WorkoutSet(reps=5, weight=lb(224.9), rir=2),
                WorkoutSet(type="failure", reps=3, weight=lb(225)),
            ],
        ),
    ],
)


def names(exercise_id: str) -> str:
    return {"barbell-bench-press": "Barbell Bench Press"}.get(exercise_id, exercise_id)


# e1RM


def test_epley_100kg_for_5_is_116_67() -> None:
    assert e1rm(100, 5, "epley") == 116.67  # 100 x (1 + 5/30) = 116.666...


def test_brzycki_100kg_for_5_is_112_5() -> None:
    assert e1rm(100, 5, "brzycki") == 112.5  # 100 x 36 / 32


@pytest.mark.parametrize("formula", ["epley", "brzycki"])
def test_a_single_is_its_own_max(formula: E1rmFormula) -> None:
    assert e1rm(142.5, 1, formula) == 142.5


@pytest.mark.parametrize("reps", [0, 13, 20])
@pytest.mark.parametrize("formula", ["epley", "brzycki"])
def test_no_estimate_outside_1_to_12_reps(formula: E1rmFormula, reps: int) -> None:
    assert e1rm(100, reps, formula) is None


@pytest.mark.parametrize("formula", ["epley", "brzycki"])
def test_no_estimate_without_a_load(formula: E1rmFormula) -> None:
    assert e1rm(0, 5, formula) is None


def test_twelve_reps_still_estimates() -> None:
    assert e1rm(100, 12, "epley") == 140.0  # 100 x (1 + 12/30)
    assert e1rm(100, 12, "brzycki") == 144.0  # 100 x 36 / 25


# Units


def test_224_9_lb_is_exactly_102_0129240130_kg() -> None:
    converted = to_kg(224.9, "lb")
    assert isinstance(converted, Decimal)
    assert converted == Decimal("102.0129240130")  # 224.9 x 0.45359237, no rounding


def test_kg_is_kept_as_entered() -> None:
    assert to_kg(102.5, "kg") == Decimal("102.5")
    assert as_entered(224.9) == Decimal("224.9")  # not 224.900000000000005684...


def test_conversion_is_exact_under_a_narrow_decimal_context() -> None:
    import decimal

    with decimal.localcontext(decimal.Context(prec=5)):
        assert to_kg(224.9, "lb") == Decimal("102.012924013")


@given(st.floats(min_value=0, max_value=3500, allow_nan=False))
def test_lb_conversion_is_the_exact_product(value: float) -> None:
    assert to_kg(value, "lb") == Decimal(repr(value)) * KG_PER_LB


# Working sets and volume


def test_warmups_and_uncompleted_sets_are_not_working_sets() -> None:
    assert is_working_set(WorkoutSet(reps=5, weight=kg(100)))
    assert is_working_set(WorkoutSet(type="drop", reps=8, weight=kg(80)))
    assert is_working_set(WorkoutSet(type="failure", reps=3, weight=kg(100)))
    assert not is_working_set(WorkoutSet(type="warmup", reps=10, weight=kg(60)))
    assert not is_working_set(WorkoutSet(reps=5, weight=kg(100), completed=False))


def volume_of(*sets: WorkoutSet) -> float:
    """The working-set volume of a workout of one exercise, as every projection derives it."""
    workout = Workout(
        title="One exercise",
        started_at=datetime(2026, 11, 29, 17, 0, tzinfo=UTC),
        exercises=[WorkoutExercise(exercise_id="barbell-bench-press", sets=list(sets))],
    )
    return Figures(workout, "epley").volume_kg


def test_set_volume_is_reps_times_kg() -> None:
    assert volume_of(WorkoutSet(reps=5, weight=kg(100))) == 500.0
    assert volume_of(WorkoutSet(reps=5, weight=lb(224.9))) == 510.06  # 5 x 102.012924013, in cents
    assert volume_of(WorkoutSet(reps=5, weight=kg(100)), WorkoutSet(reps=3, weight=lb(225))) == 806.17


def test_set_without_reps_or_weight_has_no_volume() -> None:
    assert volume_of(WorkoutSet(reps=20)) == 0.0
    assert volume_of(WorkoutSet(weight=kg(100), duration_s=60)) == 0.0
    assert volume_of(WorkoutSet(duration_s=60)) == 0.0


def test_volume_ignores_warmups_and_uncompleted_sets() -> None:
    workout = Workout(
        title="t",
        started_at=datetime(2026, 1, 5, tzinfo=UTC),
        exercises=[
            WorkoutExercise(
                exercise_id="barbell-deadlift",
                sets=[
                    WorkoutSet(type="warmup", reps=5, weight=kg(100)),
                    WorkoutSet(reps=5, weight=kg(180), completed=False),
                    WorkoutSet(reps=3, weight=kg(200)),
                ],
            )
        ],
    )
    summary = summarize(WORKOUT_ID, 1, workout)
    assert summary.volume_kg == 600.0  # only 3 x 200
    assert summary.set_count == 1


# Summary and document of a two-exercise workout


def test_summary_of_a_workout_with_a_lb_set() -> None:
    summary = summarize(WORKOUT_ID, 3, PUSH_AND_SQUAT)
    assert summary.id == WORKOUT_ID
    assert summary.version == 3
    assert summary.title == "Bench and squat"
    assert summary.started_at == PUSH_AND_SQUAT.started_at
    assert summary.ended_at == PUSH_AND_SQUAT.ended_at
    assert summary.exercise_count == 2
    assert summary.set_count == 3  # bench 100x5, squat 224.9lb x5, squat 225lb x3
    # 500 + 5 x 102.012924013 + 3 x 102.05828325 = 500 + 510.064620065 + 306.17484975 = 1316.239469815
    assert summary.volume_kg == 1316.24
    assert summary.duration_s == 4530  # 1 h 15 min 30.5 s, whole seconds


def test_summary_of_an_unfinished_workout_has_no_duration() -> None:
    unfinished = Workout(title="t", started_at=datetime(2026, 1, 5, tzinfo=UTC), exercises=[])
    summary = summarize(WORKOUT_ID, 1, unfinished)
    assert summary.duration_s is None
    assert (summary.exercise_count, summary.set_count, summary.volume_kg) == (0, 0, 0.0)


def test_an_end_before_the_start_gives_no_duration() -> None:
    backwards = Workout(
        title="t",
        started_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
        ended_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        exercises=[],
    )
    assert summarize(WORKOUT_ID, 1, backwards).duration_s is None


def test_document_of_a_workout_with_a_lb_set() -> None:
    doc = document(WORKOUT_ID, 3, PUSH_AND_SQUAT, "epley", names)
    assert (doc.id, doc.version, doc.title) == (WORKOUT_ID, 3, "Bench and squat")
    assert (doc.started_at, doc.ended_at, doc.duration_s) == (
        PUSH_AND_SQUAT.started_at,
        PUSH_AND_SQUAT.ended_at,
        4530,
    )
    assert (doc.routine_id, doc.notes) == (ROUTINE_ID, "felt strong")
    assert (doc.set_count, doc.volume_kg) == (3, 1316.24)

    bench, squat = doc.exercises
    assert (bench.exercise_id, bench.name, bench.notes, bench.superset_group) == (
        "barbell-bench-press",
        "Barbell Bench Press",
        "pause reps",
        1,
    )
    assert squat.name == "barbell-back-squat"  # the lookup's own fallback
    assert squat.notes is None
    assert bench.sets == [
        SetView(type="warmup", completed=True, reps=10, weight=kg(60), e1rm_kg=80.0),  # 60 x (1 + 10/30)
        SetView(type="normal", completed=True, reps=5, weight=kg(100), rpe=8.5, e1rm_kg=116.67),
        SetView(type="normal", completed=False, reps=5, weight=kg(100), e1rm_kg=116.67),
    ]
    assert squat.sets == [
        # 102.012924013 x 7/6 = 119.0150780...
        SetView(type="normal", completed=True, reps=5, weight=lb(224.9), rir=2, e1rm_kg=119.02),
        # 102.05828325 x 1.1 = 112.2641115...
        SetView(type="failure", completed=True, reps=3, weight=lb(225), e1rm_kg=112.26),
    ]


def test_document_uses_the_users_formula() -> None:
    doc = document(WORKOUT_ID, 3, PUSH_AND_SQUAT, "brzycki", names)
    assert [s.e1rm_kg for s in doc.exercises[0].sets] == [80.0, 112.5, 112.5]  # 60 x 36/27, 100 x 36/32
    # 102.012924013 x 36/32 = 114.7645..., 102.05828325 x 36/34 = 108.0617...
    assert [s.e1rm_kg for s in doc.exercises[1].sets] == [114.76, 108.06]


def test_document_sets_without_weight_or_reps_have_no_e1rm() -> None:
    workout = Workout(
        title="t",
        started_at=datetime(2026, 1, 5, tzinfo=UTC),
        exercises=[
            WorkoutExercise(
                exercise_id="plank",
                sets=[WorkoutSet(duration_s=60), WorkoutSet(reps=20), WorkoutSet(reps=15, weight=kg(20))],
            )
        ],
    )
    sets = document(WORKOUT_ID, 1, workout, "epley", names).exercises[0].sets
    assert sets[0] == SetView(type="normal", completed=True, duration_s=60)
    assert [s.e1rm_kg for s in sets] == [None, None, None]  # the last has 15 reps: beyond 12


def test_document_keeps_weights_as_entered() -> None:
    import msgspec

    doc = document(WORKOUT_ID, 3, PUSH_AND_SQUAT, "epley", names)
    encoded = msgspec.json.encode(doc.exercises[1].sets[0])
    assert b'"weight":{"value":224.9,"unit":"lb"}' in encoded


# Week totals


def test_contribution_is_one_workout_of_the_summary() -> None:
    summary = summarize(WORKOUT_ID, 3, PUSH_AND_SQUAT)
    assert contribution(summary) == WeekTotals(workouts=1, sets=3, volume_kg=1316.24, duration_s=4530)


def test_contribution_of_an_unfinished_workout_counts_no_time() -> None:
    unfinished = Workout(title="t", started_at=datetime(2026, 1, 5, tzinfo=UTC), exercises=[])
    assert contribution(summarize(WORKOUT_ID, 1, unfinished)).duration_s == 0


def test_add_and_subtract_week_totals() -> None:
    a = WeekTotals(workouts=2, sets=30, volume_kg=0.1, duration_s=7200)
    b = WeekTotals(workouts=1, sets=12, volume_kg=0.2, duration_s=3000)
    # 0.3 exactly, not the float sum 0.30000000000000004.
    assert add(a, b) == WeekTotals(workouts=3, sets=42, volume_kg=0.3, duration_s=10200)
    assert subtract(add(a, b), b) == a
    assert subtract(a, a) == ZERO


def test_subtracting_everything_leaves_no_negative_zero() -> None:
    a = WeekTotals(workouts=1, sets=1, volume_kg=0.3, duration_s=1)
    remainder = subtract(add(ZERO, a), a)
    assert str(remainder.volume_kg) == "0.0"


def test_zero_is_the_identity() -> None:
    a = WeekTotals(workouts=4, sets=40, volume_kg=12345.67, duration_s=14400)
    assert add(ZERO, a) == a
    assert add(a, ZERO) == a


totals = st.builds(
    WeekTotals,
    workouts=st.integers(0, 1000),
    sets=st.integers(0, 50_000),
    volume_kg=st.integers(0, 10**9).map(lambda cents: cents / 100),
    duration_s=st.integers(0, 10**8),
)


@given(totals, totals)
def test_subtract_undoes_add(a: WeekTotals, b: WeekTotals) -> None:
    assert subtract(add(a, b), b) == a


@given(totals, totals, totals)
def test_add_is_order_independent(a: WeekTotals, b: WeekTotals, c: WeekTotals) -> None:
    assert add(add(a, b), c) == add(a, add(b, c)) == add(add(c, a), b)
