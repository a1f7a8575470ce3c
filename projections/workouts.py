"""Pure projections of one workout: its feed summary, its detail document, its weekly contribution."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from commands.events import E1rmFormula, RoutineDefined, Workout, WorkoutExercise, WorkoutSet
from core.units import as_entered, to_kg
from projections.documents import (
    ExerciseView,
    RoutineDocument,
    RoutineExerciseView,
    SetView,
    WeekTotals,
    WorkoutDocument,
    WorkoutSummary,
)
from projections.formulas import e1rm

_CENTS = Decimal("0.01")

ZERO = WeekTotals(workouts=0, sets=0, volume_kg=0.0, duration_s=0)


def _kg(amount: Decimal) -> float:
    """An aggregate in kg as stored: 2 decimals, half up, and never -0.0."""
    return float(amount.quantize(_CENTS, rounding=ROUND_HALF_UP)) + 0.0


def is_working_set(s: WorkoutSet) -> bool:
    """A set that counts towards totals: completed and not a warm-up."""
    return s.completed and s.type != "warmup"


_UNLOADED: tuple[None, None] = (None, None)


class Figures:
    """What every projection of one workout derives from its sets, derived once: each set's load in kg
    (exact) and e1RM by the user's formula, in the order of the workout's exercises and their sets; and
    the working sets' count and volume."""

    __slots__ = ("loads", "set_count", "volume_kg")

    def __init__(self, workout: Workout, formula: E1rmFormula) -> None:
        self.loads: list[list[tuple[Decimal | None, float | None]]] = []
        count, volume = 0, Decimal(0)
        # A lifter repeats a load: sets of the same weight and reps are derived once.
        derived: dict[tuple[float, str, int | None], tuple[Decimal, float | None]] = {}
        for exercise in workout.exercises:
            loads: list[tuple[Decimal | None, float | None]] = []
            for s in exercise.sets:
                weight, reps, working = s.weight, s.reps, is_working_set(s)
                if weight is None:
                    loads.append(_UNLOADED)
                else:
                    key = (weight.value, weight.unit, reps)
                    load = derived.get(key)
                    if load is None:
                        kg = to_kg(weight.value, weight.unit)
                        load = derived[key] = (
                            kg,
                            e1rm(float(kg), reps, formula) if reps is not None else None,
                        )
                    loads.append(load)
                    if reps is not None and working:
                        volume += reps * load[0]
                if working:
                    count += 1
            self.loads.append(loads)
        self.set_count = count
        self.volume_kg = _kg(volume)


def _duration_s(workout: Workout) -> int | None:
    if workout.ended_at is None:
        return None
    elapsed = workout.ended_at - workout.started_at
    # An end before the start is a client clock error, not a negative workout.
    if elapsed < timedelta(0):
        return None
    return elapsed // timedelta(seconds=1)


def summarize(
    workout_id: UUID, version: int, workout: Workout, figures: Figures | None = None
) -> WorkoutSummary:
    """The feed entry of a workout: counts, working-set volume in kg, duration when it has ended.
    `figures`: the workout's, when the caller has them (the formula does not matter here)."""
    figures = figures or Figures(workout, "epley")
    return WorkoutSummary(
        id=workout_id,
        version=version,
        title=workout.title,
        started_at=workout.started_at,
        exercise_count=len(workout.exercises),
        set_count=figures.set_count,
        volume_kg=figures.volume_kg,
        ended_at=workout.ended_at,
        duration_s=_duration_s(workout),
    )


def _set_view(s: WorkoutSet, estimate: float | None) -> SetView:
    # Positional, in SetView's field order: a third cheaper than by keyword, twenty times a workout.
    return SetView(s.type, s.completed, s.reps, s.weight, s.duration_s, s.distance_m, s.rpe, s.rir, estimate)


def _exercise_view(
    exercise: WorkoutExercise,
    loads: list[tuple[Decimal | None, float | None]],
    names: Callable[[str], str],
) -> ExerciseView:
    return ExerciseView(
        exercise_id=exercise.exercise_id,
        name=names(exercise.exercise_id),
        sets=[_set_view(s, estimate) for s, (_, estimate) in zip(exercise.sets, loads, strict=True)],
        notes=exercise.notes,
        superset_group=exercise.superset_group,
    )


def document(
    workout_id: UUID,
    version: int,
    workout: Workout,
    formula: E1rmFormula,
    names: Callable[[str], str],
    *,
    figures: Figures | None = None,
) -> WorkoutDocument:
    """The workout detail: every set as entered with its e1RM, exercise names from `names`.
    `figures`: the workout's by `formula`, when the caller has them."""
    figures = figures or Figures(workout, formula)
    return WorkoutDocument(
        id=workout_id,
        version=version,
        title=workout.title,
        started_at=workout.started_at,
        exercises=[
            _exercise_view(exercise, loads, names)
            for exercise, loads in zip(workout.exercises, figures.loads, strict=True)
        ],
        set_count=figures.set_count,
        volume_kg=figures.volume_kg,
        ended_at=workout.ended_at,
        duration_s=_duration_s(workout),
        routine_id=workout.routine_id,
        notes=workout.notes,
    )


def contribution(summary: WorkoutSummary) -> WeekTotals:
    """What one workout adds to its week: one workout, its sets, volume and known duration."""
    return WeekTotals(
        workouts=1,
        sets=summary.set_count,
        volume_kg=summary.volume_kg,
        duration_s=summary.duration_s or 0,
    )


def add(a: WeekTotals, b: WeekTotals) -> WeekTotals:
    """The totals of both."""
    return WeekTotals(
        workouts=a.workouts + b.workouts,
        sets=a.sets + b.sets,
        # Via the values' reprs, so 2-decimal volumes add without float noise.
        volume_kg=_kg(as_entered(a.volume_kg) + as_entered(b.volume_kg)),
        duration_s=a.duration_s + b.duration_s,
    )


def subtract(a: WeekTotals, b: WeekTotals) -> WeekTotals:
    """`a` without `b`, e.g. a week without an amended or deleted workout's old contribution."""
    return WeekTotals(
        workouts=a.workouts - b.workouts,
        sets=a.sets - b.sets,
        volume_kg=_kg(as_entered(a.volume_kg) - as_entered(b.volume_kg)),
        duration_s=a.duration_s - b.duration_s,
    )


def routine_document(event: RoutineDefined, names: Callable[[str], str]) -> RoutineDocument:
    """A routine as served: its exercises with their names inlined."""
    routine = event.routine
    return RoutineDocument(
        id=event.routine_id,
        version=event.routine_version,
        name=routine.name,
        notes=routine.notes,
        exercises=[
            RoutineExerciseView(
                exercise_id=entry.exercise_id,
                name=names(entry.exercise_id),
                sets=list(entry.sets),
                notes=entry.notes,
                superset_group=entry.superset_group,
            )
            for entry in routine.exercises
        ],
    )
