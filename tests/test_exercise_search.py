"""Exercise search: typos and partial names find the exercise, filters narrow, customs rank alongside."""

from __future__ import annotations

import random
import uuid

import pytest

from core.catalog import BUILT_IN, EXERCISES_BY_ID, Category, Equipment, Exercise, Muscle
from queries.exercise_search import SearchFilters, search

EVERYTHING = 1000  # a page limit larger than any list searched here

# (what a user types, the exercise they mean, how near the top it must be)
TYPED = [
    ("bnech pres", "barbell-bench-press", 1),
    ("benchpress", "barbell-bench-press", 1),
    ("Bench Press (Barbell)", "barbell-bench-press", 1),
    ("bench pr", "barbell-bench-press", 3),
    ("dedlift", "barbell-deadlift", 1),
    ("deadlfit", "barbell-deadlift", 1),
    ("ovrhead press", "barbell-overhead-press", 1),
    ("ohp", "barbell-overhead-press", 1),
    ("military press", "barbell-overhead-press", 3),
    ("bent over rwo", "barbell-bent-over-row", 1),
    ("back sqaut", "barbell-back-squat", 1),
    ("squat", "barbell-back-squat", 1),
    ("pullup", "pull-up", 1),
    ("pull up", "pull-up", 1),
    ("asisted pullup", "assisted-pull-up", 1),
    ("dumbell bench press", "dumbbell-bench-press", 1),
    ("rdl", "barbell-romanian-deadlift", 1),
    ("romanian", "barbell-romanian-deadlift", 3),
    ("deadlift romanian", "barbell-romanian-deadlift", 1),
    ("lat pull down", "lat-pulldown", 1),
    ("lat pulldwn", "lat-pulldown", 1),
    ("tricep pushdown", "cable-triceps-pushdown", 1),
    ("triceps push-down", "cable-triceps-pushdown", 1),
    ("dumbell curl", "dumbbell-curl", 1),
    ("legpress", "leg-press", 1),
    ("leg pres", "leg-press", 1),
    ("plnk", "plank", 1),
    ("runing", "running", 1),
    ("pushups", "push-up", 1),
    ("PUSH-UP", "push-up", 1),
]


def custom(
    name: str,
    *aliases: str,
    category: Category = "other",
    equipment: Equipment = "none",
    primary: tuple[Muscle, ...] = ("abs",),
) -> Exercise:
    """A user's own exercise: the catalog's shape with a UUID id."""
    return Exercise(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        name=name,
        category=category,
        equipment=equipment,
        measurement="weight_reps",
        primary_muscles=primary,
        aliases=aliases,
    )


def ids(entries: list[Exercise]) -> list[str]:
    return [entry.id for entry in entries]


def find(q: str | None, entries: tuple[Exercise, ...] = BUILT_IN, **filters: str) -> list[str]:
    found, more = search(entries, SearchFilters(q=q, **filters), offset=0, limit=EVERYTHING)
    assert not more
    return ids(found)


@pytest.mark.parametrize(("typed", "exercise_id", "within"), TYPED)
def test_typed_name_finds_the_exercise_near_the_top(typed: str, exercise_id: str, within: int) -> None:
    assert exercise_id in EXERCISES_BY_ID
    assert exercise_id in find(typed)[:within]


def test_misspelled_bench_press_lists_bench_presses_first() -> None:
    top = [EXERCISES_BY_ID[i] for i in find("bnech pres")[:3]]
    assert top[0].id == "barbell-bench-press"
    assert all("Bench Press" in entry.name for entry in top)


def test_exact_name_outranks_a_prefix_which_outranks_a_fuzzy_match() -> None:
    # "Crow" is the closer spelling, but "row" only starts "Rowing Machine" and only is "Row".
    entries = (custom("Crow"), custom("Rowing Machine"), custom("Row"))
    assert find("row", entries) == [custom("Row").id, custom("Rowing Machine").id, custom("Crow").id]


def test_an_alias_matched_exactly_outranks_other_names_containing_the_word() -> None:
    found = find("squat")
    assert found[0] == "barbell-back-squat"  # its alias "Squat"
    assert all("squat" in EXERCISES_BY_ID[i].name.casefold() for i in found[:5])


def test_a_word_in_a_shorter_name_outranks_the_same_word_in_a_longer_one() -> None:
    # Decided: names the query covers more of come first, so variants follow the plain movement.
    entries = (custom("Bulgarian Split Squat"), custom("Hack Squat"), custom("Split Squat"))
    assert find("squat", entries) == [
        custom(n).id for n in ("Hack Squat", "Split Squat", "Bulgarian Split Squat")
    ]


def test_equal_scores_are_ordered_by_name() -> None:
    entries = (custom("Curl Bravo"), custom("curl alpha"), custom("Curl Delta"))
    assert find("curl", entries) == [custom(n).id for n in ("curl alpha", "Curl Bravo", "Curl Delta")]


def test_one_or_two_letters_match_only_the_start_of_a_word() -> None:
    entries = (custom("Crunch"), custom("Running"), custom("Sled Run"))
    assert find("ru", entries) == [custom("Running").id, custom("Sled Run").id]


@pytest.mark.parametrize("nonsense", ["xyzzy qwerty", "zzzz", "qqqqqq", "asdfgh", "0000"])
def test_nonsense_finds_nothing(nonsense: str) -> None:
    assert find(nonsense) == []


@pytest.mark.parametrize("blank", [None, "", "   ", "()"])
def test_without_a_query_everything_is_listed_by_name(blank: str | None) -> None:
    entries = (*BUILT_IN, custom("arnold's press"), custom("Zercher Squat"))
    found = find(blank, entries)
    assert sorted(found) == sorted(entry.id for entry in entries)
    names = [next(e for e in entries if e.id == i).name.casefold() for i in found]
    assert names == sorted(names)


@pytest.mark.parametrize("muscle", ["biceps", "hamstrings", "upper_back"])
def test_muscle_filter_matches_primary_or_secondary_muscles(muscle: str) -> None:
    expected = [e for e in BUILT_IN if muscle in e.primary_muscles or muscle in e.secondary_muscles]
    assert any(muscle in e.secondary_muscles for e in expected)
    assert find(None, muscle=muscle) == ids(sorted(expected, key=lambda e: (e.name.casefold(), e.id)))


def test_equipment_and_category_filters_combine() -> None:
    found = [
        EXERCISES_BY_ID[i] for i in find(None, equipment="dumbbell", category="dumbbell", muscle="chest")
    ]
    assert "dumbbell-bench-press" in {entry.id for entry in found}
    assert all(e.equipment == "dumbbell" and e.category == "dumbbell" for e in found)
    assert all("chest" in e.primary_muscles + e.secondary_muscles for e in found)
    assert len(found) < len(find(None, equipment="dumbbell"))


def test_filters_narrow_a_query_past_its_best_match() -> None:
    found = find("bnech pres", equipment="dumbbell")
    assert found[0] == "dumbbell-bench-press"
    assert "barbell-bench-press" not in found
    assert all(EXERCISES_BY_ID[i].equipment == "dumbbell" for i in found)


def test_query_and_muscle_filter_together() -> None:
    found = find("curl", muscle="biceps")
    assert "dumbbell-curl" in found
    entries = [EXERCISES_BY_ID[i] for i in found]
    assert all("biceps" in entry.primary_muscles + entry.secondary_muscles for entry in entries)
    assert len(found) < len(find("curl"))


def test_unknown_filter_value_finds_nothing() -> None:
    assert find(None, muscle="wings") == []
    assert find("bench press", equipment="spaceship") == []


def test_custom_exercises_are_searched_alongside_built_ins() -> None:
    zercher = custom("Zercher Squat", "Squat (Zercher)", category="barbell", equipment="barbell")
    entries = (*BUILT_IN, zercher)
    assert find("zerhcer squat", entries)[0] == zercher.id
    assert find("zercher", entries) == [zercher.id]
    squats = find("squat", entries)
    assert squats[0] == "barbell-back-squat"
    assert zercher.id in squats


def test_filters_apply_to_custom_exercises_too() -> None:
    band = custom("Band Squat Walk", equipment="band", primary=("glutes",))
    entries = (*BUILT_IN, band)
    assert band.id in find("squat", entries, muscle="glutes")
    assert band.id not in find("squat", entries, equipment="barbell")
    assert band.id not in find(None, entries, muscle="chest")


def test_custom_names_in_any_script_are_normalised() -> None:
    entries = (custom("Kniebeuge (Langhantel)"), custom("Жим лёжа"), custom("Élévations latérales"))
    assert find("kniebeuge", entries) == [entries[0].id]
    assert find("ЖИМ", entries) == [entries[1].id]
    assert find("elevations laterales", entries) == [entries[2].id]


def test_only_the_entries_passed_are_searched() -> None:
    plank = EXERCISES_BY_ID["plank"]
    assert find("squat", (plank,)) == []
    assert find("plank", (plank,)) == ["plank"]
    assert find(None, (plank,)) == ["plank"]


def test_an_equal_copy_of_a_built_in_is_found_like_the_original() -> None:
    original = EXERCISES_BY_ID["barbell-deadlift"]
    copy = Exercise(**{field: getattr(original, field) for field in original.__struct_fields__})
    assert copy is not original
    assert find("dedlift", (copy,)) == ["barbell-deadlift"]


def test_an_entry_passed_twice_is_listed_once() -> None:
    zercher = custom("Zercher Squat")
    assert find("zercher", (zercher, zercher, *BUILT_IN, *BUILT_IN)) == [zercher.id]


@pytest.mark.parametrize("q", [None, "press", "squat"])
def test_pages_join_into_the_whole_list(q: str | None) -> None:
    whole = find(q)
    assert len(whole) > 7
    pages: list[str] = []
    offset, more = 0, True
    while more:
        page, more = search(BUILT_IN, SearchFilters(q=q), offset=offset, limit=7)
        assert len(page) == 7 or not more
        pages += ids(page)
        offset += 7
    assert pages == whole


def test_has_more_is_false_exactly_at_the_end() -> None:
    total = len(find("press"))
    filters = SearchFilters(q="press")
    assert search(BUILT_IN, filters, offset=0, limit=total - 1)[1] is True
    assert search(BUILT_IN, filters, offset=0, limit=total)[1] is False
    assert search(BUILT_IN, filters, offset=total - 1, limit=1) == (
        [EXERCISES_BY_ID[find("press")[-1]]],
        False,
    )
    assert search(BUILT_IN, filters, offset=total + 5, limit=10) == ([], False)


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, 0), (0, -5)])
def test_negative_offset_or_empty_page_is_refused(offset: int, limit: int) -> None:
    with pytest.raises(ValueError, match="offset"):
        search(BUILT_IN, SearchFilters(), offset=offset, limit=limit)


@pytest.mark.parametrize("q", ["press", "curl", "b", "bnech pres", "row"])
def test_results_do_not_depend_on_call_or_entry_order(q: str) -> None:
    entries = [*BUILT_IN, custom("Press Row"), custom("Curl Row")]
    first = find(q, tuple(entries))
    assert find(q, tuple(entries)) == first
    random.Random(7).shuffle(entries)
    assert find(q, tuple(entries)) == first
