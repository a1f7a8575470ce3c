"""The read-model documents: what queries serve, stored already encoded as JSON bytes.

Weights inside a workout are as entered; every aggregate is in kg.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import msgspec

from commands.events import RoutineSet, SetType, Weight
from core.catalog import Exercise, Muscle


class UserSettings(msgspec.Struct, frozen=True):
    """The preferences projections depend on."""

    handle: str = ""
    display_name: str = ""
    timezone: str = "UTC"
    week_start: str = "monday"
    e1rm_formula: str = "epley"
    unit: str = "kg"
    leaderboard_opt_in: bool = False


#: A user's custom exercises by id, as the catalog entries they show as.
CustomExercises = dict[str, Exercise]


class Document(msgspec.Struct, rename="camel", omit_defaults=True, frozen=True):
    """Base of every stored document; fields without a value are left out, zeros never are."""


class RecordMark(Document, frozen=True):
    """A personal record a workout set when it was logged: a best no earlier session had reached."""

    exercise_id: str
    name: str
    record: str  # heaviestWeightKg, bestE1rmKg, mostReps, bestSetVolumeKg or bestSessionVolumeKg
    value: float


class WorkoutSummary(Document, frozen=True):
    """A feed entry."""

    id: uuid.UUID
    version: int
    title: str
    started_at: datetime
    exercise_count: int
    set_count: int  # working sets: completed, not warm-ups
    volume_kg: float  # sum of reps x kg over working sets, 2 decimals
    ended_at: datetime | None = None
    duration_s: int | None = None
    records: list[RecordMark] = msgspec.field(default_factory=list)


class SetView(Document, frozen=True):
    type: SetType
    completed: bool
    reps: int | None = None
    weight: Weight | None = None
    duration_s: int | None = None
    distance_m: float | None = None
    rpe: float | None = None
    rir: int | None = None
    e1rm_kg: float | None = None  # by the user's formula, 1 <= reps <= 12 with a weight, 2 decimals


class ExerciseView(Document, frozen=True):
    exercise_id: str
    name: str
    sets: list[SetView]
    notes: str | None = None
    superset_group: int | None = None


class WorkoutDocument(Document, frozen=True):
    """The workout detail: everything the lifter logged, names inlined, each set's e1RM."""

    id: uuid.UUID
    version: int
    title: str
    started_at: datetime
    exercises: list[ExerciseView]
    set_count: int
    volume_kg: float
    ended_at: datetime | None = None
    duration_s: int | None = None
    routine_id: uuid.UUID | None = None
    notes: str | None = None
    records: list[RecordMark] = msgspec.field(default_factory=list)


class WeekTotals(Document, frozen=True):
    """What one week (or all time) adds up to."""

    workouts: int
    sets: int
    volume_kg: float
    duration_s: int


class WeekPoint(Document, frozen=True):
    week_start: date
    workouts: int
    volume_kg: float


class WeekView(Document, frozen=True):
    week_start: date
    totals: WeekTotals


class Streaks(Document, frozen=True):
    current_weeks: int
    longest_weeks: int


class MuscleCount(Document, frozen=True):
    muscle: Muscle
    sets: float  # working sets: 1 where the muscle is primary, 0.5 where secondary


class MuscleSets(Document, frozen=True):
    """Working sets per muscle over the last 7 and 30 local days up to today; most sets first."""

    last_7_days: list[MuscleCount]
    last_30_days: list[MuscleCount]


class BodyweightEntry(Document, frozen=True):
    date: date
    weight: Weight
    kg: float


class BodyweightPoint(Document, frozen=True):
    date: date
    kg: float


class BodyweightTrend(Document, frozen=True):
    """Body weight as of today, in kg; changes are None when no entry is old enough to compare with."""

    latest: BodyweightEntry
    moving_average_kg: float  # the mean of the last 7 entries (all of them when there are fewer)
    weekly: list[BodyweightPoint]  # each ISO week's last entry over the last 12 weeks, oldest first
    change_7_days_kg: float | None = None  # latest minus the last entry at least 7 days older
    change_30_days_kg: float | None = None  # latest minus the last entry at least 30 days older


class Dashboard(Document, frozen=True):
    """The home screen, as of the user's local date `as_of`."""

    as_of: date
    timezone: str
    week_start: str
    totals: WeekTotals
    this_week: WeekView
    last_week: WeekView
    weekly_volume: list[WeekPoint]  # the last 12 weeks, oldest first, this week last
    streaks: Streaks
    last_workout: WorkoutSummary | None = None
    muscle_sets: MuscleSets | None = None
    bodyweight: BodyweightTrend | None = None


class FollowEntry(Document, frozen=True):
    user_id: uuid.UUID
    handle: str
    display_name: str
    followed_at: datetime


class RoutineExerciseView(Document, frozen=True):
    exercise_id: str
    name: str
    sets: list[RoutineSet]
    notes: str | None = None
    superset_group: int | None = None


class RoutineDocument(Document, frozen=True):
    """A routine with exercise names inlined."""

    id: uuid.UUID
    version: int
    name: str
    exercises: list[RoutineExerciseView]
    notes: str | None = None
