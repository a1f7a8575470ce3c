"""The user's library read models: custom exercises, routines, body weight and follows.

Pure: `apply` folds one event into the batch's `Library`, which holds the state each row is left in
(the last event on a row wins), and answers the outbox key it changed. No SQL here:
`store.library_part` writes a whole batch's library in the batch's first statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import assert_never

from commands.events import (
    BodyweightDeleted,
    BodyweightRecorded,
    CustomExercise,
    ExerciseDefined,
    ExerciseDeleted,
    Followed,
    RoutineDefined,
    RoutineDeleted,
    Unfollowed,
)
from core.catalog import Exercise
from core.units import to_kg
from projections import outbox
from projections.documents import BodyweightEntry, FollowEntry, RoutineDocument
from projections.workouts import routine_document

LibraryEvent = (
    ExerciseDefined
    | ExerciseDeleted
    | RoutineDefined
    | RoutineDeleted
    | BodyweightRecorded
    | BodyweightDeleted
    | Followed
    | Unfollowed
)


@dataclass(frozen=True, slots=True)
class CustomRow:
    """A custom exercise's row as the batch leaves it. `view` is None when the batch only deleted it:
    then only the stored row's flag and version change (its body stays, for the workouts using it)."""

    version: int
    deleted: bool
    view: Exercise | None


@dataclass
class Library:
    """Each library row a batch changed, as it leaves it (None: deleted)."""

    exercises: dict[uuid.UUID, CustomRow] = field(default_factory=dict)
    routines: dict[uuid.UUID, RoutineDocument | None] = field(default_factory=dict)
    bodyweights: dict[date, BodyweightEntry | None] = field(default_factory=dict)
    follows: dict[uuid.UUID, FollowEntry | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.exercises or self.routines or self.bodyweights or self.follows)


def exercise_view(exercise_id: uuid.UUID, exercise: CustomExercise) -> Exercise:
    """A custom exercise as the catalog entry it shows as."""
    return Exercise(
        id=str(exercise_id),
        name=exercise.name,
        category=exercise.category,
        equipment=exercise.equipment,
        measurement=exercise.measurement,
        primary_muscles=tuple(exercise.primary_muscles),
        secondary_muscles=tuple(exercise.secondary_muscles),
        mechanic=exercise.mechanic,
        force=exercise.force,
    )


def bodyweight_entry(event: BodyweightRecorded) -> BodyweightEntry:
    kg = float(to_kg(event.weight.value, event.weight.unit).quantize(Decimal("0.01")))
    return BodyweightEntry(event.day, event.weight, kg)


def apply(library: Library, event: LibraryEvent, occurred_at: datetime, names: Callable[[str], str]) -> str:
    """Fold `event` into `library`; the outbox key of what it changed. `names` gives an exercise's
    name as of this event (a routine inlines them)."""
    match event:
        case ExerciseDefined():
            view = exercise_view(event.exercise_id, event.exercise)
            library.exercises[event.exercise_id] = CustomRow(event.exercise_version, False, view)
            changed = outbox.custom_exercise(event.exercise_id)
        case ExerciseDeleted():
            earlier = library.exercises.get(event.exercise_id)
            kept = earlier.view if earlier is not None else None  # defined earlier in the batch
            library.exercises[event.exercise_id] = CustomRow(event.exercise_version, True, kept)
            changed = outbox.custom_exercise(event.exercise_id)
        case RoutineDefined():
            library.routines[event.routine_id] = routine_document(event, names)
            changed = outbox.routine(event.routine_id)
        case RoutineDeleted():
            library.routines[event.routine_id] = None
            changed = outbox.routine(event.routine_id)
        case BodyweightRecorded():
            library.bodyweights[event.day] = bodyweight_entry(event)
            changed = outbox.BODYWEIGHTS
        case BodyweightDeleted():
            library.bodyweights[event.day] = None
            changed = outbox.BODYWEIGHTS
        case Followed():
            entry = FollowEntry(event.followee_id, event.handle, event.display_name, occurred_at)
            library.follows[event.followee_id] = entry
            changed = outbox.FOLLOWS
        case Unfollowed():
            library.follows[event.followee_id] = None
            changed = outbox.FOLLOWS
        case _:
            assert_never(event)
    return changed
