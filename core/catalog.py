"""The built-in exercise catalog: reference data with stable slug ids, shared by both sides.

Aliases carry the names other apps export (Strong, Hevy), so imports can find the exercise.
The rows themselves live in core.catalog_data; this module is the API over them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal, get_args

import msgspec

from core.catalog_data import SECTIONS, Row

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
Category = Literal[
    "barbell", "dumbbell", "kettlebell", "bodyweight", "cable", "machine", "band", "cardio", "other"
]
Equipment = Literal[
    "barbell", "dumbbell", "kettlebell", "cable", "machine", "pull_up_bar", "band", "none", "other"
]
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

# The vocabularies are closed: a value outside them is refused, never stored.
MUSCLES: frozenset[str] = frozenset(get_args(Muscle))
CATEGORIES: frozenset[str] = frozenset(get_args(Category))
EQUIPMENT: frozenset[str] = frozenset(get_args(Equipment))
MEASUREMENTS: frozenset[str] = frozenset(get_args(Measurement))
_MECHANICS: frozenset[str | None] = frozenset({None, *get_args(Mechanic)})
_FORCES: frozenset[str | None] = frozenset({None, *get_args(Force)})

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


def label_key(label: str) -> str:
    """How names are compared: case-insensitively, with runs of whitespace as one space."""
    return " ".join(label.split()).casefold()


def _check_vocabulary(entry: Exercise) -> None:
    # Struct construction does not validate Literals, so an entry built in code is checked here.
    unknown = set(entry.primary_muscles + entry.secondary_muscles) - MUSCLES
    if unknown or not entry.primary_muscles:
        raise ValueError(f"{entry.id}: primary muscles required, unknown muscles {sorted(unknown)}")
    if set(entry.primary_muscles) & set(entry.secondary_muscles):
        raise ValueError(f"{entry.id}: a muscle is both primary and secondary")
    for value, known in (
        (entry.category, CATEGORIES),
        (entry.equipment, EQUIPMENT),
        (entry.measurement, MEASUREMENTS),
        (entry.mechanic, _MECHANICS),
        (entry.force, _FORCES),
    ):
        if value not in known:
            raise ValueError(f"{entry.id}: unknown value {value!r}")


def check_catalog(entries: Iterable[Exercise]) -> None:
    """Raise ValueError unless ids are unique slugs, names and aliases unambiguous, values known."""
    ids: set[str] = set()
    labels: dict[str, str] = {}
    for entry in entries:
        if not _SLUG.fullmatch(entry.id) or len(entry.id) > MAX_ID_LENGTH:
            raise ValueError(f"{entry.id!r} is not a slug of at most {MAX_ID_LENGTH} characters")
        if entry.id in ids:
            raise ValueError(f"duplicate exercise id {entry.id!r}")
        ids.add(entry.id)
        _check_vocabulary(entry)
        # An import matches names by label_key, so one label must mean one exercise.
        for label in (entry.name, *entry.aliases):
            owner = labels.setdefault(label_key(label), entry.id)
            if owner != entry.id:
                raise ValueError(f"{label!r} names both {owner} and {entry.id}")


def _muscles(cell: str) -> list[str]:
    return [] if cell == "-" else cell.split()


def _exercise(category: str, row: Row) -> Exercise:
    """One entry from its table row; msgspec refuses any value outside the vocabularies."""
    mechanic, _, force = row.mechanics.partition(" ")
    fields = {
        "id": row.id,
        "name": row.name,
        "category": category,
        "equipment": row.equipment,
        "measurement": row.measurement,
        "primaryMuscles": _muscles(row.primary),
        "secondaryMuscles": _muscles(row.secondary),
        "aliases": row.aliases,
        "mechanic": None if mechanic in {"", "-"} else mechanic,
        "force": None if force in {"", "-"} else force,
    }
    try:
        return msgspec.convert(fields, Exercise)
    except msgspec.ValidationError as error:
        raise ValueError(f"catalog row {row.id}: {error}") from None


_ENTRIES = tuple(_exercise(category, row) for category, rows in SECTIONS.items() for row in rows)
check_catalog(_ENTRIES)

BUILT_IN: tuple[Exercise, ...] = tuple(sorted(_ENTRIES, key=lambda entry: entry.name.casefold()))
EXERCISES_BY_ID: Mapping[str, Exercise] = MappingProxyType({entry.id: entry for entry in BUILT_IN})
_BY_LABEL: Mapping[str, Exercise] = MappingProxyType(
    {label_key(label): entry for entry in BUILT_IN for label in (entry.name, *entry.aliases)}
)


def exercise(exercise_id: str) -> Exercise | None:
    """The built-in exercise with this id, or None."""
    return EXERCISES_BY_ID.get(exercise_id)


def find_by_name(name: str) -> Exercise | None:
    """The built-in exercise whose name or alias matches exactly (ignoring case and spacing), or None.

    Exact on purpose: CSV imports must never attach a lifter's history to a merely similar exercise.
    """
    return _BY_LABEL.get(label_key(name))
