"""The built-in exercise catalog: stable ids, a known muscle vocabulary, the names other apps export."""

from __future__ import annotations

import msgspec
import pytest

from commands.events import WorkoutExercise
from core.catalog import BUILT_IN, EXERCISES_BY_ID, MUSCLES, Exercise, check_catalog, exercise

REQUIRED = [
    "barbell-bench-press",
    "barbell-back-squat",
    "barbell-deadlift",
    "barbell-overhead-press",
    "barbell-bent-over-row",
    "pull-up",
    "dumbbell-bench-press",
    "barbell-romanian-deadlift",
    "lat-pulldown",
    "cable-triceps-pushdown",
    "dumbbell-curl",
    "leg-press",
    "plank",
    "running",
    "push-up",
]

STRONG_NAMES = {
    "Bench Press (Barbell)": "barbell-bench-press",
    "Squat (Barbell)": "barbell-back-squat",
    "Deadlift (Barbell)": "barbell-deadlift",
    "Overhead Press (Barbell)": "barbell-overhead-press",
    "Bent Over Row (Barbell)": "barbell-bent-over-row",
    "Pull Up": "pull-up",
    "Pull Up (Assisted)": "assisted-pull-up",
    "Lat Pulldown (Cable)": "lat-pulldown",
    "Bicep Curl (Dumbbell)": "dumbbell-curl",
}


def test_ids_are_unique() -> None:
    ids = [entry.id for entry in BUILT_IN]
    assert len(ids) == len(set(ids))
    assert len(EXERCISES_BY_ID) == len(BUILT_IN)


@pytest.mark.parametrize("exercise_id", REQUIRED)
def test_required_exercise_is_present(exercise_id: str) -> None:
    found = exercise(exercise_id)
    assert found is not None
    assert found.id == exercise_id


def test_unknown_id_is_none() -> None:
    assert exercise("barbell-bench-pres") is None


def test_measurements_fit_the_exercise() -> None:
    assert EXERCISES_BY_ID["pull-up"].measurement == "weighted_bodyweight"
    assert EXERCISES_BY_ID["assisted-pull-up"].measurement == "assisted_bodyweight"
    assert EXERCISES_BY_ID["push-up"].measurement == "reps_only"
    assert EXERCISES_BY_ID["plank"].measurement == "duration"
    assert EXERCISES_BY_ID["running"].measurement == "distance_duration"
    assert EXERCISES_BY_ID["barbell-deadlift"].measurement == "weight_reps"


def test_vocabulary_has_at_least_15_muscles() -> None:
    assert len(MUSCLES) >= 15
    assert {"chest", "lats", "quads", "hamstrings", "glutes", "abs"} <= MUSCLES


@pytest.mark.parametrize("entry", BUILT_IN, ids=lambda entry: entry.id)
def test_muscles_are_in_the_vocabulary(entry: Exercise) -> None:
    assert entry.primary_muscles
    assert set(entry.primary_muscles) <= MUSCLES
    assert set(entry.secondary_muscles) <= MUSCLES
    assert not set(entry.primary_muscles) & set(entry.secondary_muscles)


@pytest.mark.parametrize(("name", "exercise_id"), STRONG_NAMES.items())
def test_aliases_include_the_strong_style_name(name: str, exercise_id: str) -> None:
    assert name in EXERCISES_BY_ID[exercise_id].aliases


def test_no_name_or_alias_means_two_exercises() -> None:
    owners: dict[str, str] = {}
    for entry in BUILT_IN:
        for label in (entry.name, *entry.aliases):
            assert owners.setdefault(label.casefold(), entry.id) == entry.id, label


def test_built_in_is_sorted_by_name() -> None:
    names = [entry.name.casefold() for entry in BUILT_IN]
    assert names == sorted(names)


def test_every_id_can_be_logged_in_a_workout() -> None:
    for entry in BUILT_IN:
        raw = msgspec.json.encode({"exerciseId": entry.id, "sets": []})
        assert msgspec.json.decode(raw, type=WorkoutExercise).exercise_id == entry.id


def test_exercise_encodes_in_camel_case() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(EXERCISES_BY_ID["pull-up"]))
    assert encoded["primaryMuscles"] == ["lats"]
    assert encoded["measurement"] == "weighted_bodyweight"


def test_check_refuses_a_duplicate_id() -> None:
    bench = EXERCISES_BY_ID["barbell-bench-press"]
    copy = msgspec.structs.replace(bench, name="Another Bench", aliases=())
    with pytest.raises(ValueError, match="duplicate exercise id"):
        check_catalog([bench, copy])


def test_check_refuses_an_unknown_muscle() -> None:
    bench = EXERCISES_BY_ID["barbell-bench-press"]
    odd = msgspec.structs.replace(bench, secondary_muscles=("pecs",))
    with pytest.raises(ValueError, match="pecs"):
        check_catalog([odd])


def test_check_refuses_an_alias_shared_by_two_exercises() -> None:
    bench = EXERCISES_BY_ID["barbell-bench-press"]
    dumbbell = msgspec.structs.replace(EXERCISES_BY_ID["dumbbell-bench-press"], aliases=("bench press",))
    with pytest.raises(ValueError, match="names both"):
        check_catalog([bench, dumbbell])


def test_check_refuses_an_id_that_is_not_a_slug() -> None:
    bench = msgspec.structs.replace(EXERCISES_BY_ID["barbell-bench-press"], id="Bench Press")
    with pytest.raises(ValueError, match="slug"):
        check_catalog([bench])
