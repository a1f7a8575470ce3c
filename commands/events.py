"""The event contract: what happened to a user's data, as tagged msgspec Structs.

Events are appended by commands and read by projections and the sync feed. They are never
changed once written: a new shape gets a new schema version and an upcaster here.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from core.catalog import Category, Equipment, Force, Measurement, Mechanic, Muscle

SCHEMA_VERSION = 1

SetType = Literal["warmup", "normal", "drop", "failure"]
WeightUnit = Literal["kg", "lb"]
E1rmFormula = Literal["epley", "brzycki"]
WeekStart = Literal["monday", "sunday", "saturday"]

MAX_EXERCISES = 50
MAX_SETS = 50


class Weight(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    """A load as the lifter entered it; `value` round-trips exactly (224.9 lb stays 224.9 lb)."""

    value: Annotated[float, msgspec.Meta(ge=0, le=3500, examples=[102.5])]
    unit: WeightUnit


class WorkoutSet(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    type: SetType = "normal"
    reps: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None
    weight: Weight | None = None
    duration_s: Annotated[int, msgspec.Meta(ge=0, le=86_400)] | None = None
    distance_m: Annotated[float, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    rpe: Annotated[float, msgspec.Meta(ge=1, le=10, multiple_of=0.5)] | None = None
    rir: Annotated[int, msgspec.Meta(ge=0, le=10)] | None = None
    completed: bool = True


class WorkoutExercise(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, omit_defaults=True
):
    exercise_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["barbell-bench-press"])]
    sets: Annotated[list[WorkoutSet], msgspec.Meta(max_length=MAX_SETS)]
    notes: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    superset_group: Annotated[int, msgspec.Meta(ge=1, le=50)] | None = None


class Workout(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """A workout as the client sends it in `PUT /v1/workouts/{id}` and as events carry it."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Push day"])]
    started_at: Annotated[datetime, msgspec.Meta(tz=True, examples=["2026-11-27T18:30:00+01:00"])]
    exercises: Annotated[list[WorkoutExercise], msgspec.Meta(max_length=MAX_EXERCISES)]
    ended_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    routine_id: uuid.UUID | None = None
    notes: Annotated[str, msgspec.Meta(max_length=5000)] | None = None


class RoutineSet(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """A target set: reps or a rep range (reps to repsMax), load, effort and rest."""

    type: SetType = "normal"
    reps: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    reps_max: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    weight: Weight | None = None
    rpe: Annotated[float, msgspec.Meta(ge=1, le=10, multiple_of=0.5)] | None = None
    duration_s: Annotated[int, msgspec.Meta(ge=0, le=86_400)] | None = None
    rest_s: Annotated[int, msgspec.Meta(ge=0, le=3600)] | None = None


class RoutineExercise(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, omit_defaults=True
):
    exercise_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    sets: Annotated[list[RoutineSet], msgspec.Meta(max_length=MAX_SETS)]
    notes: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    superset_group: Annotated[int, msgspec.Meta(ge=1, le=50)] | None = None


class Routine(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """A routine as the client sends it to `PUT /v1/routines/{id}`: ordered exercises with targets."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["Push A"])]
    exercises: Annotated[list[RoutineExercise], msgspec.Meta(max_length=MAX_EXERCISES)]
    notes: Annotated[str, msgspec.Meta(max_length=5000)] | None = None


class Event(msgspec.Struct, tag_field="type", rename="camel", frozen=True):
    """Base of every event; the tag is the event's type name."""


class UserRegistered(Event, frozen=True):
    handle: str
    display_name: str
    timezone: str = "UTC"
    week_start: WeekStart = "monday"
    e1rm_formula: E1rmFormula = "epley"
    unit: WeightUnit = "kg"
    leaderboard_opt_in: bool = False


class ProfileChanged(Event, frozen=True, omit_defaults=True):
    """The preferences and public fields that changed, and only those."""

    handle: str | None = None
    display_name: str | None = None
    timezone: str | None = None
    week_start: WeekStart | None = None
    e1rm_formula: E1rmFormula | None = None
    unit: WeightUnit | None = None
    leaderboard_opt_in: bool | None = None


class WorkoutLogged(Event, frozen=True):
    workout_id: uuid.UUID
    workout_version: int
    workout: Workout


class WorkoutAmended(Event, frozen=True):
    workout_id: uuid.UUID
    workout_version: int
    workout: Workout


class WorkoutDeleted(Event, frozen=True):
    workout_id: uuid.UUID
    workout_version: int


class CustomExercise(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, omit_defaults=True
):
    """A user's own exercise, as the client sends it to `PUT /v1/exercises/{id}`."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["Landmine Press"])]
    category: Category
    equipment: Equipment
    measurement: Measurement
    primary_muscles: Annotated[list[Muscle], msgspec.Meta(max_length=5)]
    secondary_muscles: Annotated[list[Muscle], msgspec.Meta(max_length=10)] = msgspec.field(
        default_factory=list
    )
    mechanic: Mechanic | None = None
    force: Force | None = None


class ExerciseDefined(Event, frozen=True):
    exercise_id: uuid.UUID
    exercise_version: int
    exercise: CustomExercise


class ExerciseDeleted(Event, frozen=True):
    exercise_id: uuid.UUID
    exercise_version: int


class RoutineDefined(Event, frozen=True):
    routine_id: uuid.UUID
    routine_version: int
    routine: Routine


class RoutineDeleted(Event, frozen=True):
    routine_id: uuid.UUID
    routine_version: int


class BodyweightRecorded(Event, frozen=True):
    day: date
    weight: Weight


class BodyweightDeleted(Event, frozen=True):
    day: date


class Followed(Event, frozen=True):
    followee_id: uuid.UUID
    handle: str
    display_name: str


class Unfollowed(Event, frozen=True):
    followee_id: uuid.UUID


AnyEvent = (
    UserRegistered
    | ProfileChanged
    | WorkoutLogged
    | WorkoutAmended
    | WorkoutDeleted
    | ExerciseDefined
    | ExerciseDeleted
    | RoutineDefined
    | RoutineDeleted
    | BodyweightRecorded
    | BodyweightDeleted
    | Followed
    | Unfollowed
)


class RecordedEvent(msgspec.Struct, frozen=True):
    """An event as stored: its place in the user's stream and where it came from."""

    event_id: uuid.UUID
    user_id: uuid.UUID
    version: int
    event: AnyEvent
    occurred_at: datetime
    request_id: str | None = None


EVENT_ENCODER = msgspec.json.Encoder()
EVENT_DECODER: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


def event_type(event: Event) -> str:
    return type(event).__name__


def exercise_of(event: AnyEvent) -> uuid.UUID | None:
    """The custom exercise an event is about, if any."""
    return getattr(event, "exercise_id", None)


def workout_of(event: AnyEvent) -> uuid.UUID | None:
    """The workout an event is about, if any."""
    return getattr(event, "workout_id", None)
