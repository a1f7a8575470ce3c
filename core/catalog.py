"""The built-in exercise catalog: reference data with stable slug ids, shared by both sides.

Aliases carry the names other apps export (Strong, Hevy), so imports can find the exercise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal, get_args

import msgspec

Muscle = Literal[
    "chest",
    "shoulders",
    "triceps",
    "biceps",
    "forearms",
    "lats",
    "upper_back",
    "lower_back",
    "traps",
    "abs",
    "obliques",
    "quads",
    "hamstrings",
    "glutes",
    "calves",
    "adductors",
    "abductors",
]
MUSCLES: frozenset[str] = frozenset(get_args(Muscle))

Category = Literal["barbell", "dumbbell", "kettlebell", "bodyweight", "cable", "machine", "cardio", "other"]
Equipment = Literal["barbell", "dumbbell", "kettlebell", "cable", "machine", "pull_up_bar", "band", "none"]
Mechanic = Literal["compound", "isolation"]
Force = Literal["push", "pull", "static"]
Measurement = Literal[
    "weight_reps",
    "reps_only",
    "weighted_bodyweight",
    "assisted_bodyweight",
    "duration",
    "distance_duration",
]

# The same bound as WorkoutExercise.exercise_id, so every catalog id can be logged.
MAX_ID_LENGTH = 64
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class Exercise(msgspec.Struct, frozen=True, rename="camel"):
    """One catalog exercise; new descriptive fields get defaults so existing entries stay valid."""

    id: str
    name: str
    category: Category
    equipment: Equipment
    measurement: Measurement
    primary_muscles: tuple[Muscle, ...]
    secondary_muscles: tuple[Muscle, ...] = ()
    aliases: tuple[str, ...] = ()
    # None where the label does not apply, e.g. running is neither a push nor a pull.
    mechanic: Mechanic | None = None
    force: Force | None = None


_ENTRIES = (
    Exercise(
        id="barbell-bench-press",
        name="Barbell Bench Press",
        category="barbell",
        equipment="barbell",
        measurement="weight_reps",
        primary_muscles=("chest",),
        secondary_muscles=("shoulders", "triceps"),
        aliases=("Bench Press (Barbell)", "Bench Press", "Flat Bench Press"),
        mechanic="compound",
        force="push",
    ),
    Exercise(
        id="barbell-back-squat",
        name="Barbell Back Squat",
        category="barbell",
        equipment="barbell",
        measurement="weight_reps",
        primary_muscles=("quads", "glutes"),
        secondary_muscles=("hamstrings", "adductors", "lower_back"),
        aliases=("Squat (Barbell)", "Back Squat", "Squat"),
        mechanic="compound",
        force="push",
    ),
    Exercise(
        id="barbell-deadlift",
        name="Barbell Deadlift",
        category="barbell",
        equipment="barbell",
        measurement="weight_reps",
        primary_muscles=("hamstrings", "glutes", "lower_back"),
        secondary_muscles=("quads", "traps", "forearms", "lats"),
        aliases=("Deadlift (Barbell)", "Deadlift", "Conventional Deadlift"),
        mechanic="compound",
        force="pull",
    ),
    Exercise(
        id="barbell-overhead-press",
        name="Barbell Overhead Press",
        category="barbell",
        equipment="barbell",
        measurement="weight_reps",
        primary_muscles=("shoulders",),
        secondary_muscles=("triceps", "upper_back"),
        aliases=("Overhead Press (Barbell)", "Strict Military Press (Barbell)", "Overhead Press", "OHP"),
        mechanic="compound",
        force="push",
    ),
    Exercise(
        id="barbell-bent-over-row",
        name="Barbell Bent Over Row",
        category="barbell",
        equipment="barbell",
        measurement="weight_reps",
        primary_muscles=("lats", "upper_back"),
        secondary_muscles=("biceps", "lower_back", "forearms"),
        aliases=("Bent Over Row (Barbell)", "Barbell Row", "Bent Over Row"),
        mechanic="compound",
        force="pull",
    ),
    Exercise(
        id="pull-up",
        name="Pull-Up",
        category="bodyweight",
        equipment="pull_up_bar",
        measurement="weighted_bodyweight",
        primary_muscles=("lats",),
        secondary_muscles=("biceps", "upper_back", "forearms"),
        aliases=("Pull Up", "Pull Up (Weighted)", "Weighted Pull Up", "Pullup"),
        mechanic="compound",
        force="pull",
    ),
    Exercise(
        id="assisted-pull-up",
        name="Assisted Pull-Up",
        category="machine",
        equipment="machine",
        measurement="assisted_bodyweight",
        primary_muscles=("lats",),
        secondary_muscles=("biceps", "upper_back"),
        aliases=("Pull Up (Assisted)", "Assisted Pull Up"),
        mechanic="compound",
        force="pull",
    ),
    Exercise(
        id="push-up",
        name="Push-Up",
        category="bodyweight",
        equipment="none",
        measurement="reps_only",
        primary_muscles=("chest",),
        secondary_muscles=("shoulders", "triceps", "abs"),
        aliases=("Push Up", "Pushup"),
        mechanic="compound",
        force="push",
    ),
    Exercise(
        id="dumbbell-bench-press",
        name="Dumbbell Bench Press",
        category="dumbbell",
        equipment="dumbbell",
        measurement="weight_reps",
        primary_muscles=("chest",),
        secondary_muscles=("shoulders", "triceps"),
        aliases=("Bench Press (Dumbbell)",),
        mechanic="compound",
        force="push",
    ),
    Exercise(
        id="barbell-romanian-deadlift",
        name="Barbell Romanian Deadlift",
        category="barbell",
        equipment="barbell",
        measurement="weight_reps",
        primary_muscles=("hamstrings", "glutes"),
        secondary_muscles=("lower_back", "forearms"),
        aliases=("Romanian Deadlift (Barbell)", "Romanian Deadlift", "RDL"),
        mechanic="compound",
        force="pull",
    ),
    Exercise(
        id="lat-pulldown",
        name="Lat Pulldown",
        category="cable",
        equipment="cable",
        measurement="weight_reps",
        primary_muscles=("lats",),
        secondary_muscles=("biceps", "upper_back"),
        aliases=("Lat Pulldown (Cable)", "Lat Pulldown (Machine)", "Lat Pull Down"),
        mechanic="compound",
        force="pull",
    ),
    Exercise(
        id="cable-triceps-pushdown",
        name="Cable Triceps Pushdown",
        category="cable",
        equipment="cable",
        measurement="weight_reps",
        primary_muscles=("triceps",),
        aliases=("Triceps Pushdown (Cable - Straight Bar)", "Triceps Pushdown", "Tricep Pushdown"),
        mechanic="isolation",
        force="push",
    ),
    Exercise(
        id="dumbbell-curl",
        name="Dumbbell Curl",
        category="dumbbell",
        equipment="dumbbell",
        measurement="weight_reps",
        primary_muscles=("biceps",),
        secondary_muscles=("forearms",),
        aliases=("Bicep Curl (Dumbbell)", "Biceps Curl (Dumbbell)", "Dumbbell Bicep Curl"),
        mechanic="isolation",
        force="pull",
    ),
    Exercise(
        id="leg-press",
        name="Leg Press",
        category="machine",
        equipment="machine",
        measurement="weight_reps",
        primary_muscles=("quads", "glutes"),
        secondary_muscles=("hamstrings", "adductors", "calves"),
        aliases=("Leg Press (Machine)",),
        mechanic="compound",
        force="push",
    ),
    Exercise(
        id="plank",
        name="Plank",
        category="bodyweight",
        equipment="none",
        measurement="duration",
        primary_muscles=("abs",),
        secondary_muscles=("obliques", "shoulders", "lower_back"),
        aliases=("Front Plank",),
        mechanic="isolation",
        force="static",
    ),
    Exercise(
        id="running",
        name="Running",
        category="cardio",
        equipment="none",
        measurement="distance_duration",
        primary_muscles=("quads", "hamstrings", "calves"),
        secondary_muscles=("glutes",),
        aliases=("Running (Outdoor)", "Running (Treadmill)", "Run"),
    ),
)


def check_catalog(entries: Iterable[Exercise]) -> None:
    """Raise ValueError unless ids are unique slugs, names and aliases unambiguous, muscles known."""
    ids: set[str] = set()
    labels: dict[str, str] = {}
    for entry in entries:
        if not _SLUG.fullmatch(entry.id) or len(entry.id) > MAX_ID_LENGTH:
            raise ValueError(f"{entry.id!r} is not a slug of at most {MAX_ID_LENGTH} characters")
        if entry.id in ids:
            raise ValueError(f"duplicate exercise id {entry.id!r}")
        ids.add(entry.id)
        unknown = set(entry.primary_muscles + entry.secondary_muscles) - MUSCLES
        if unknown or not entry.primary_muscles:
            raise ValueError(f"{entry.id}: primary muscles required, unknown muscles {sorted(unknown)}")
        # An import matches names case-insensitively, so one label must mean one exercise.
        for label in (entry.name, *entry.aliases):
            owner = labels.setdefault(label.casefold(), entry.id)
            if owner != entry.id:
                raise ValueError(f"{label!r} names both {owner} and {entry.id}")


check_catalog(_ENTRIES)

BUILT_IN: tuple[Exercise, ...] = tuple(sorted(_ENTRIES, key=lambda entry: entry.name.casefold()))
EXERCISES_BY_ID: Mapping[str, Exercise] = MappingProxyType({entry.id: entry for entry in BUILT_IN})


def exercise(exercise_id: str) -> Exercise | None:
    """The built-in exercise with this id, or None."""
    return EXERCISES_BY_ID.get(exercise_id)
