"""The built-in exercise catalog: stable ids, a known muscle vocabulary, the names other apps export."""

from __future__ import annotations

import re

import msgspec
import pytest

from commands.events import WorkoutExercise
from core.catalog import (
    BUILT_IN,
    CATEGORIES,
    EQUIPMENT,
    EXERCISES_BY_ID,
    MEASUREMENTS,
    MUSCLES,
    Exercise,
    check_catalog,
    exercise,
    find_by_name,
    label_key,
)
from core.catalog_data import row

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
    "assisted-pull-up",
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

# Names as Strong and Hevy write them in their CSV exports; an import must find each one.
EXPORTED_NAMES = {
    "Bench Press (Barbell)": "barbell-bench-press",
    "Bench Press (Dumbbell)": "dumbbell-bench-press",
    "Triceps Pushdown (Cable - Straight Bar)": "cable-triceps-pushdown",
    "Pull Up": "pull-up",
    "Lat Pulldown (Cable)": "lat-pulldown",
    "Squat (Barbell)": "barbell-back-squat",
    "Deadlift (Barbell)": "barbell-deadlift",
    "Running": "running",
    "Plank": "plank",
    "Incline Bench Press (Barbell)": "barbell-incline-bench-press",
    "Romanian Deadlift (Dumbbell)": "dumbbell-romanian-deadlift",
    "Lateral Raise (Dumbbell)": "dumbbell-lateral-raise",
    "Hammer Curl (Dumbbell)": "dumbbell-hammer-curl",
    "Seated Row (Cable)": "seated-cable-row",
    "Leg Extension (Machine)": "leg-extension",
    "Hip Thrust (Barbell)": "barbell-hip-thrust",
    "Chin Up": "chin-up",
    "Goblet Squat (Kettlebell)": "kettlebell-goblet-squat",
    "Rowing (Machine)": "rowing-machine",
    "Cycling (Indoor)": "stationary-bike",
    # Hevy's own spellings of catalog exercises
    "Treadmill": "running",
    "Spinning": "stationary-bike",
    "Stair Machine (Floors)": "stair-climber",
    "Stair Machine (Steps)": "stair-climber",
    "Back Extension (Hyperextension)": "back-extension",
    "Back Extension (Weighted Hyperextension)": "back-extension",
    "Band Pullaparts": "band-pull-apart",
    "Chest Dip (Assisted)": "assisted-dip",
    "Chest Dip (Weighted)": "dip",
    "Incline Push Ups": "incline-push-up",
    "Iso-Lateral Chest Press (Machine)": "machine-chest-press",
    "Kettlebell Shoulder Press": "kettlebell-press",
    "Kettlebell Turkish Get Up": "turkish-get-up",
    "Lateral Band Walks": "band-lateral-walk",
    "Nordic Hamstrings Curls": "nordic-hamstring-curl",
    "Pike Pushup": "pike-push-up",
    "Push Up - Close Grip": "diamond-push-up",
    "Rear Delt Reverse Fly (Cable)": "cable-reverse-fly",
    "Rear Delt Reverse Fly (Dumbbell)": "dumbbell-rear-delt-fly",
    "Russian Twist (Bodyweight)": "russian-twist",
    "Seated Cable Row - Bar Grip": "seated-cable-row",
    "Seated Incline Curl (Dumbbell)": "dumbbell-incline-curl",
    "Seated Shoulder Press (Machine)": "machine-shoulder-press",
    "Shoulder Press (Machine Plates)": "machine-shoulder-press",
    "Single Arm Lateral Raise (Cable)": "cable-lateral-raise",
    "Single Arm Landmine Press (Barbell)": "landmine-press",
    "Standing Cable Glute Kickbacks": "cable-glute-kickback",
    "Standing Military Press (Barbell)": "barbell-overhead-press",
    "Straight Arm Lat Pulldown (Cable)": "straight-arm-pulldown",
    "Straight Leg Deadlift": "barbell-stiff-leg-deadlift",
    "Cable Core Palloff Press": "pallof-press",
    "Triceps Pressdown": "cable-triceps-pushdown",
    "Deadlift (Trap bar)": "trap-bar-deadlift",
    # Strong's own spellings of catalog exercises
    "Hip Abductor (Machine)": "machine-hip-abduction",
    "Hip Adductor (Machine)": "machine-hip-adduction",
    "Lat Pulldown - Wide Grip (Cable)": "lat-pulldown",
    "Elliptical Machine": "elliptical",
    "Flat Leg Raise": "lying-leg-raise",
    "Seated Palms Up Wrist Curl (Dumbbell)": "dumbbell-wrist-curl",
    "Shoulder Press (Plate Loaded)": "machine-shoulder-press",
    "Running (Treadmill)": "running",
    "Straight Arm Pulldown (Cable)": "straight-arm-pulldown",
}


def test_ids_are_unique() -> None:
    ids = [entry.id for entry in BUILT_IN]
    assert len(ids) == len(set(ids))
    assert len(EXERCISES_BY_ID) == len(BUILT_IN)


def test_catalog_has_at_least_160_exercises() -> None:
    assert len(BUILT_IN) >= 160


@pytest.mark.parametrize("entry", BUILT_IN, ids=lambda entry: entry.id)
def test_id_is_a_lowercase_slug(entry: Exercise) -> None:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", entry.id)
    assert len(entry.id) <= 64


def test_every_category_is_used() -> None:
    assert {entry.category for entry in BUILT_IN} == CATEGORIES
    wanted = {"barbell", "dumbbell", "machine", "cable", "bodyweight", "kettlebell", "band", "cardio"}
    assert wanted <= CATEGORIES


def test_every_equipment_is_used() -> None:
    assert {entry.equipment for entry in BUILT_IN} == EQUIPMENT


def test_every_measurement_kind_is_used() -> None:
    assert {entry.measurement for entry in BUILT_IN} == MEASUREMENTS
    assert len(MEASUREMENTS) == 6


@pytest.mark.parametrize("entry", BUILT_IN, ids=lambda entry: entry.id)
def test_values_are_in_their_closed_vocabularies(entry: Exercise) -> None:
    assert entry.category in CATEGORIES
    assert entry.equipment in EQUIPMENT
    assert entry.measurement in MEASUREMENTS
    assert entry.mechanic in {None, "compound", "isolation"}
    assert entry.force in {None, "push", "pull", "static"}


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


@pytest.mark.parametrize(("name", "exercise_id"), EXPORTED_NAMES.items())
def test_exported_name_finds_its_exercise(name: str, exercise_id: str) -> None:
    found = find_by_name(name)
    assert found is not None
    assert found.id == exercise_id


@pytest.mark.parametrize("entry", BUILT_IN, ids=lambda entry: entry.id)
def test_name_and_every_alias_find_their_own_exercise(entry: Exercise) -> None:
    for label in (entry.name, *entry.aliases):
        assert find_by_name(label) is entry, label


def test_find_by_name_ignores_case_and_spacing() -> None:
    assert find_by_name("  bench   PRESS\t(barbell) ") is EXERCISES_BY_ID["barbell-bench-press"]
    pushdown = EXERCISES_BY_ID["cable-triceps-pushdown"]
    assert find_by_name("triceps pushdown (cable - straight bar)") is pushdown


@pytest.mark.parametrize("name", ["", "   ", "Bench Pres (Barbell)", "Bench Press (Barbell) x", "Curl"])
def test_find_by_name_is_exact_not_fuzzy(name: str) -> None:
    assert find_by_name(name) is None


def test_no_name_or_alias_means_two_exercises() -> None:
    owners: dict[str, str] = {}
    for entry in BUILT_IN:
        for label in (entry.name, *entry.aliases):
            assert owners.setdefault(label.casefold(), entry.id) == entry.id, label
            assert owners.setdefault(label_key(label), entry.id) == entry.id, label


def test_no_alias_is_another_exercises_name() -> None:
    names = {label_key(entry.name): entry.id for entry in BUILT_IN}
    for entry in BUILT_IN:
        for alias in entry.aliases:
            assert names.get(label_key(alias), entry.id) == entry.id, alias


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


def test_check_refuses_labels_that_differ_only_in_spacing() -> None:
    bench = EXERCISES_BY_ID["barbell-bench-press"]
    dumbbell = msgspec.structs.replace(EXERCISES_BY_ID["dumbbell-bench-press"], aliases=("Bench  Press",))
    with pytest.raises(ValueError, match="names both"):
        check_catalog([bench, dumbbell])


def test_check_refuses_an_unknown_category() -> None:
    odd = msgspec.structs.replace(EXERCISES_BY_ID["barbell-bench-press"], category="sandbag")
    with pytest.raises(ValueError, match="sandbag"):
        check_catalog([odd])


def test_check_refuses_a_muscle_both_primary_and_secondary() -> None:
    odd = msgspec.structs.replace(EXERCISES_BY_ID["barbell-bench-press"], secondary_muscles=("chest",))
    with pytest.raises(ValueError, match="both primary and secondary"):
        check_catalog([odd])


def test_a_table_row_with_an_unknown_value_is_refused() -> None:
    from core.catalog import _exercise

    typo = row("odd-press", "Odd Press", "barbel", "weight_reps", "compound push", "chest", "-")
    with pytest.raises(ValueError, match="odd-press"):
        _exercise("barbell", typo)


def test_a_table_row_without_mechanics_has_none() -> None:
    running = EXERCISES_BY_ID["running"]
    assert (running.mechanic, running.force) == (None, None)
    assert EXERCISES_BY_ID["turkish-get-up"].mechanic == "compound"
    assert EXERCISES_BY_ID["turkish-get-up"].force is None


def test_check_refuses_an_id_that_is_not_a_slug() -> None:
    bench = msgspec.structs.replace(EXERCISES_BY_ID["barbell-bench-press"], id="Bench Press")
    with pytest.raises(ValueError, match="slug"):
        check_catalog([bench])
