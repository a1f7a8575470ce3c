"""Strong and Hevy CSV exports parse into valid Workouts, with bad rows reported by their line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from commands.events import (
    MAX_EXERCISES,
    MAX_SETS,
    Weight,
    WeightUnit,
    Workout,
    WorkoutExercise,
    WorkoutSet,
)
from commands.imports.parsers import (
    ParsedFile,
    ParsedWorkout,
    UnknownFormat,
    detect_format,
    parse_csv,
    stable_workout_id,
)
from core.errors import InvalidInput

DATA = Path(__file__).parent / "data" / "imports"
BERLIN = "Europe/Berlin"
STRONG_HEADER = (
    "Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,Workout Notes,RPE"
)
HEVY_HEADER = (
    '"title","start_time","end_time","description","exercise_title","superset_id","exercise_notes",'
    '"set_index","set_type","weight_kg","reps","distance_km","duration_seconds","rpe"'
)
FILES: dict[str, tuple[str, WeightUnit | None]] = {
    "strong_old_kg.csv": ("strong", "kg"),
    "strong_v2.csv": ("strong_v2", None),
    "hevy_metric.csv": ("hevy", None),
    "hevy_imperial.csv": ("hevy", None),
    "strong_bad_rows.csv": ("strong", "kg"),
    # Exports seen in the wild: each parses into exactly the records written out in its test below.
    "strong_android.csv": ("strong_v2", None),
    "strong_android_short.csv": ("strong", "lb"),
    "strong_ios_no_rpe_no_notes.csv": ("strong", "kg"),
    "strong_comma_with_units.csv": ("strong_v2", None),
    "hevy_minimal.csv": ("hevy", None),
}
#: Europe/Berlin in November.
CET = timezone(timedelta(hours=1))


def parse(name: str, timezone: str = BERLIN) -> ParsedFile:
    return parse_csv((DATA / name).read_bytes(), weight_unit=FILES[name][1], timezone=timezone)


def parse_text(text: str, *, weight_unit: WeightUnit | None = "kg") -> ParsedFile:
    return parse_csv(text.encode(), weight_unit=weight_unit, timezone=BERLIN)


def by_title(parsed: ParsedFile) -> dict[str, ParsedWorkout]:
    return {item.workout.title: item for item in parsed.workouts}


def sets_of(item: ParsedWorkout) -> list[list[tuple[str, int | None, Weight | None]]]:
    return [[(s.type, s.reps, s.weight) for s in e.sets] for e in item.workout.exercises]


@pytest.mark.parametrize(("name", "expected"), [(name, fmt) for name, (fmt, _) in FILES.items()])
def test_each_export_is_recognised_by_its_header(name: str, expected: str) -> None:
    assert parse(name).format == expected


def test_detect_format_reads_header_rows() -> None:
    assert detect_format(STRONG_HEADER.split(",")) == "strong"
    v2 = "Workout #;Date;Workout Name;Duration (sec);Exercise Name;Set Order;Weight;Weight Unit;Reps;RPE"
    assert detect_format(v2.split(";")) == "strong_v2"
    hevy = [name.strip('"') for name in HEVY_HEADER.split(",")]
    assert detect_format(hevy) == "hevy"
    assert detect_format([name.replace("weight_kg", "weight_lbs") for name in hevy]) == "hevy"
    assert detect_format(["Date", "Exercise", "Weight", "Reps"]) is None
    assert detect_format([]) is None


def test_an_export_is_recognised_by_its_identifying_columns_alone() -> None:
    assert detect_format(["set order", "EXERCISE NAME", "Workout Name", " Date "]) == "strong"
    assert detect_format(["Date", "Workout Name", "Exercise Name", "Set Order", "Weight Unit"]) == "strong_v2"
    assert detect_format(["exercise_title", "start_time", "title"]) == "hevy"
    assert detect_format(["Date", "Workout Name", "Exercise Name", "Reps"]) is None  # no Set Order
    assert detect_format(["title", "start_time", "exercise_name"]) is None


def test_an_unknown_header_is_answered_with_the_columns_found() -> None:
    with pytest.raises(UnknownFormat) as raised:
        parse_csv(b"Day;Lift;Kilos;Reps\n2024-11-26;Squat;100;5\n", weight_unit="kg", timezone=BERLIN)
    message = str(raised.value)
    assert "Columns found: 'Day', 'Lift', 'Kilos', 'Reps'." in message
    assert "Date, Workout Name, Exercise Name, Set Order" in message  # what a Strong export has
    assert raised.value.field == "file"


@pytest.mark.parametrize(
    "data", [b"", b"\n\n", "\ufeff".encode(), b"Date,Exercise,Weight,Reps\n2024-11-26,Squat,100,5\n"]
)
def test_empty_or_foreign_files_are_an_unknown_format(data: bytes) -> None:
    with pytest.raises(UnknownFormat):
        parse_csv(data, weight_unit="kg", timezone=BERLIN)


def test_text_that_is_not_utf8_is_an_unknown_format() -> None:
    with pytest.raises(UnknownFormat, match="UTF-8"):
        parse_csv(STRONG_HEADER.encode() + b"\n\xff\xfe\n", weight_unit="kg", timezone=BERLIN)


def test_strong_old_export_needs_the_callers_weight_unit() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_csv((DATA / "strong_old_kg.csv").read_bytes(), weight_unit=None, timezone=BERLIN)
    assert raised.value.field == "weightUnit"


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse("hevy_metric.csv", timezone="Mars/Olympus")
    assert raised.value.field == "timezone"


@pytest.mark.parametrize("name", FILES)
def test_every_workout_survives_msgspec_validation(name: str) -> None:
    parsed = parse(name)
    assert parsed.workouts
    for item in parsed.workouts:
        again = msgspec.json.decode(msgspec.json.encode(item.workout), type=Workout)
        assert again == item.workout
        assert [e.exercise_id for e in item.workout.exercises] == item.exercise_names


def test_strong_rows_group_into_workouts_and_consecutive_exercises() -> None:
    parsed = parse("strong_old_kg.csv")
    assert parsed.errors == []
    assert [item.workout.title for item in parsed.workouts] == ["Push Day", "Legs", "Pull"]
    push, legs, pull = parsed.workouts
    assert push.exercise_names == ["Bench Press (Barbell)", "Push Up"]
    assert legs.exercise_names == ["Squat (Barbell)", "Plank", "Running"]
    assert pull.exercise_names == ["Deadlift (Barbell)"]
    assert [item.lines for item in parsed.workouts] == [[2, 3, 4, 5, 6], [7, 8, 9, 10, 11], [12]]
    assert sets_of(push)[0] == [
        ("warmup", 10, Weight(40.0, "kg")),
        ("normal", 5, Weight(100.0, "kg")),
        ("normal", 5, Weight(102.5, "kg")),
    ]
    assert push.workout.exercises[0].notes == "Pause on the chest"
    assert push.workout.notes == "Felt strong"


def test_zero_weight_stays_zero_and_an_empty_cell_stays_empty() -> None:
    push = by_title(parse("strong_old_kg.csv"))["Push Day"]
    assert sets_of(push)[1] == [("normal", 20, Weight(0.0, "kg")), ("normal", 15, None)]


def test_an_unknown_set_order_letter_is_a_normal_set_with_a_warning() -> None:
    parsed = parse("strong_old_kg.csv")
    squat = by_title(parsed)["Legs"].workout.exercises[0]
    assert [s.type for s in squat.sets] == ["normal", "normal", "normal"]
    assert [w.line for w in parsed.warnings if "'X'" in w.message] == [9]


def test_strong_distances_follow_the_callers_unit() -> None:
    metric = by_title(parse("strong_old_kg.csv"))["Legs"].workout.exercises[2].sets[0]
    assert (metric.distance_m, metric.duration_s) == (2500.0, 900)
    imperial = parse_csv((DATA / "strong_old_kg.csv").read_bytes(), weight_unit="lb", timezone=BERLIN)
    run = by_title(imperial)["Legs"].workout.exercises[2].sets[0]
    assert run.distance_m == pytest.approx(2.5 * 1609.344)
    assert by_title(imperial)["Pull"].workout.exercises[0].sets[0].weight == Weight(180.0, "lb")


def test_strong_untimed_sets_have_no_duration_or_distance() -> None:
    bench = by_title(parse("strong_old_kg.csv"))["Push Day"].workout.exercises[0]
    assert all(s.duration_s is None and s.distance_m is None for s in bench.sets)


def test_strong_durations_give_ended_at() -> None:
    push, legs, pull = (item.workout for item in parse("strong_old_kg.csv").workouts)
    assert push.ended_at is not None and push.ended_at - push.started_at == timedelta(hours=1, minutes=5)
    assert legs.ended_at is not None and legs.ended_at - legs.started_at == timedelta(minutes=45)
    assert pull.ended_at is not None and pull.ended_at - pull.started_at == timedelta(hours=1)
    v2 = by_title(parse("strong_v2.csv"))["Upper"].workout
    assert v2.ended_at == datetime(2024, 11, 26, 18, 10, tzinfo=UTC)


def test_times_are_wall_time_in_the_users_zone() -> None:
    for name in FILES:
        started = parse(name).workouts[0].workout.started_at
        assert started.utcoffset() == timedelta(hours=1), name
        assert started.isoformat() == "2024-11-26T18:05:00+01:00", name
    new_york = parse("hevy_metric.csv", timezone="America/New_York").workouts[0].workout
    assert new_york.started_at.isoformat() == "2024-11-26T18:05:00-05:00"
    assert new_york.ended_at is not None and new_york.ended_at.isoformat() == "2024-11-26T19:10:00-05:00"


def test_a_summer_workout_gets_the_summer_offset() -> None:
    parsed = parse_text(f"{STRONG_HEADER}\n2024-07-01 18:00:00,Push,1h,Push Up,1,,10,0,0,,,\n")
    assert parsed.workouts[0].workout.started_at.isoformat() == "2024-07-01T18:00:00+02:00"


def test_strong_v2_keeps_each_rows_unit_and_its_set_letters() -> None:
    parsed = parse("strong_v2.csv")
    assert (parsed.errors, parsed.warnings) == ([], [])
    upper = by_title(parsed)["Upper"]
    assert upper.exercise_names == ["Bench Press (Barbell)", "Bicep Curl (Dumbbell)"]
    bench, curl = sets_of(upper)
    assert bench == [
        ("warmup", 10, Weight(95.0, "lb")),
        ("normal", 5, Weight(224.9, "lb")),
        ("drop", 8, Weight(185.0, "lb")),
    ]
    assert curl == [("normal", 10, Weight(12.5, "kg")), ("failure", 7, Weight(12.5, "kg"))]
    assert upper.workout.exercises[0].sets[1].rpe == 9.0
    run = by_title(parsed)["Cardio"].workout.exercises[0].sets[0]
    assert run.distance_m == pytest.approx(3.1 * 1609.344, abs=0.001)
    assert (run.reps, run.weight, run.duration_s) == (None, None, 1800)


def test_strong_v2_reads_decimal_commas_and_skips_rest_timer_rows() -> None:
    header = (DATA / "strong_v2.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    start = '"1";"2024-11-26 18:05:00";"Upper";"3900";"Bicep Curl (Dumbbell)"'
    rows = [
        f'{start};"1";"12,5";"kg";"10";"";"";"";"";"";""',
        f'{start};"Rest Timer";"";"";"";"";"";"";"90";"";""',
    ]
    parsed = parse_text("\n".join([header, *rows]), weight_unit=None)
    assert parsed.errors == []
    assert sets_of(parsed.workouts[0]) == [[("normal", 10, Weight(12.5, "kg"))]]


def test_hevy_supersets_set_types_and_notes() -> None:
    parsed = parse("hevy_metric.csv")
    assert (parsed.errors, parsed.warnings) == ([], [])
    push = by_title(parsed)["Push A"]
    assert push.exercise_names == [
        "Bench Press (Barbell)",
        "Triceps Pushdown (Cable - Straight Bar)",
        "Lateral Raise (Dumbbell)",
        "Plank",
    ]
    bench, pushdown, _, plank = push.workout.exercises
    assert [s.type for s in bench.sets] == ["warmup", "normal", "failure"]
    assert [s.type for s in pushdown.sets] == ["normal", "drop"]
    assert [e.superset_group for e in push.workout.exercises] == [None, 1, 1, None]
    assert bench.notes == "Elbows tucked" and pushdown.notes is None
    assert push.workout.notes == "Good pump"
    assert [s.rpe for s in bench.sets] == [None, 8.0, 10.0]
    assert (plank.sets[0].duration_s, plank.sets[0].weight, plank.sets[0].reps) == (60, None, None)
    assert push.workout.ended_at == datetime(2024, 11, 26, 18, 10, tzinfo=UTC)
    assert by_title(parsed)["Morning Run"].workout.exercises[0].sets[0].distance_m == 5200.0


def test_hevy_superset_ids_number_per_workout_from_one() -> None:
    rows = [
        '"A","26 Nov 2024, 18:05","26 Nov 2024, 19:05","","Curl",3,"",0,"normal",10,10,,,',
        '"A","26 Nov 2024, 18:05","26 Nov 2024, 19:05","","Dip",3,"",0,"normal",,10,,,',
        '"A","26 Nov 2024, 18:05","26 Nov 2024, 19:05","","Row",7,"",0,"normal",50,10,,,',
        '"A","26 Nov 2024, 18:05","26 Nov 2024, 19:05","","Press",7,"",0,"normal",40,10,,,',
        '"A","26 Nov 2024, 18:05","26 Nov 2024, 19:05","","Plank",9,"",0,"normal",,,,60,',
    ]
    workout = parse_text("\n".join([HEVY_HEADER, *rows])).workouts[0].workout
    assert [e.superset_group for e in workout.exercises] == [1, 1, 2, 2, None]


def test_hevy_exercise_logged_twice_stays_two_exercises() -> None:
    rows = [
        '"A","26 Nov 2024, 18:05","26 Nov 2024, 19:05","","Squat",,"",0,"normal",100,5,,,',
        '"A","26 Nov 2024, 18:05","26 Nov 2024, 19:05","","Squat",,"",1,"normal",100,5,,,',
        '"A","26 Nov 2024, 18:05","26 Nov 2024, 19:05","","Squat",,"",0,"normal",60,10,,,',
    ]
    item = parse_text("\n".join([HEVY_HEADER, *rows])).workouts[0]
    assert item.exercise_names == ["Squat", "Squat"]
    assert [len(e.sets) for e in item.workout.exercises] == [2, 1]


def test_pounds_stay_pounds_exactly() -> None:
    parsed = parse("hevy_imperial.csv")
    bench, run = parsed.workouts[0].workout.exercises
    assert bench.sets[1].weight == Weight(224.9, "lb")
    assert repr(bench.sets[1].weight.value) == "224.9"
    assert b'"weight":{"value":224.9,"unit":"lb"}' in msgspec.json.encode(parsed.workouts[0].workout)
    assert [s.type for s in bench.sets] == ["warmup", "normal"]
    assert run.sets[0].distance_m == pytest.approx(1.5 * 1609.344)


def test_bad_rows_are_reported_by_line_and_skipped() -> None:
    parsed = parse("strong_bad_rows.csv")
    assert [problem.line for problem in parsed.errors] == [4, 6]
    assert "date" in parsed.errors[0].message and "five" in parsed.errors[1].message
    (push,) = parsed.workouts
    assert push.lines == [2, 3, 5, 7]
    assert [len(e.sets) for e in push.workout.exercises] == [2, 2]
    assert [s.reps for s in push.workout.exercises[1].sets] == [8, 6]


def test_line_numbers_count_physical_lines_of_multiline_notes() -> None:
    text = (
        f"{STRONG_HEADER}\n"
        '2024-11-26 18:05:00,Push,1h,Push Up,1,,10,0,0,"first line\nsecond line",,\n'
        "2024-11-26 18:05:00,Push,1h,,2,,10,0,0,,,\n"
    )
    parsed = parse_text(text)
    assert [problem.line for problem in parsed.errors] == [4]
    assert parsed.workouts[0].workout.exercises[0].notes == "first line\nsecond line"


def test_a_row_with_missing_fields_is_an_error() -> None:
    parsed = parse_text(f"{STRONG_HEADER}\n2024-11-26 18:05:00,Push,1h,Push Up,1,,10\n")
    assert [problem.line for problem in parsed.errors] == [2]
    assert parsed.workouts == []


def test_rpe_is_rounded_to_half_points_with_a_warning() -> None:
    parsed = parse("strong_old_kg.csv")
    bench = by_title(parsed)["Push Day"].workout.exercises[0]
    assert [s.rpe for s in bench.sets] == [None, 8.0, 8.5]
    assert [(w.line, w.message) for w in parsed.warnings if "RPE" in w.message] == [
        (4, "The RPE '8.3' is rounded to 8.5.")
    ]


def test_rpe_outside_one_to_ten_is_dropped_with_a_warning() -> None:
    rows = "".join(
        f"2024-11-26 18:05:00,Push,1h,Push Up,{i},,10,0,0,,,{rpe}\n"
        for i, rpe in enumerate(["11", "0.5", "x"])
    )
    parsed = parse_text(f"{STRONG_HEADER}\n{rows}")
    assert parsed.errors == []
    assert [s.rpe for s in parsed.workouts[0].workout.exercises[0].sets] == [None, None, None]
    assert [w.line for w in parsed.warnings] == [2, 3, 4]


def test_natural_keys_and_ids_are_stable_across_parses() -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    for name in FILES:
        first, second = parse(name), parse(name)
        keys = [item.natural_key for item in first.workouts]
        assert keys == [item.natural_key for item in second.workouts]
        assert len(set(keys)) == len(keys)
        ids = [stable_workout_id(user, key) for key in keys]
        assert ids == [stable_workout_id(user, item.natural_key) for item in second.workouts]
        assert not set(ids) & {stable_workout_id(other, key) for key in keys}
    assert parse("hevy_metric.csv").workouts[0].natural_key == "hevy|2024-11-26T17:05:00+00:00|Push A"


def test_workout_limits_turn_excess_rows_into_errors() -> None:
    many_exercises = "".join(
        f"2024-11-26 18:05:00,Push,1h,Exercise {i},1,10,5,0,0,,,\n" for i in range(MAX_EXERCISES + 2)
    )
    parsed = parse_text(f"{STRONG_HEADER}\n{many_exercises}")
    assert [problem.line for problem in parsed.errors] == [MAX_EXERCISES + 2, MAX_EXERCISES + 3]
    assert len(parsed.workouts[0].workout.exercises) == MAX_EXERCISES

    many_sets = "".join(f"2024-11-26 18:05:00,Push,1h,Push Up,{i},,5,0,0,,,\n" for i in range(MAX_SETS + 1))
    parsed = parse_text(f"{STRONG_HEADER}\n{many_sets}")
    assert [problem.line for problem in parsed.errors] == [MAX_SETS + 2]
    assert len(parsed.workouts[0].workout.exercises[0].sets) == MAX_SETS


def test_same_title_at_another_time_is_another_workout() -> None:
    rows = "".join(
        f"{start},Push,1h,Push Up,1,,10,0,0,,,\n" for start in ["2024-11-26 18:05:00", "2024-11-27 18:05:00"]
    )
    parsed = parse_text(f"{STRONG_HEADER}\n{rows}")
    assert len(parsed.workouts) == 2


def test_strong_twelve_hour_times_are_read() -> None:
    parsed = parse_text(f"{STRONG_HEADER}\n2024-11-26 6:05:00\u202fPM,Push,1h,Push Up,1,,10,0,0,,,\n")
    assert parsed.workouts[0].workout.started_at.isoformat() == "2024-11-26T18:05:00+01:00"


def _at(day: int, hour: int, minute: int) -> datetime:
    return datetime(2024, 11, day, hour, minute, tzinfo=CET)


def _sets(exercise: str, *sets: WorkoutSet, notes: str | None = None) -> WorkoutExercise:
    return WorkoutExercise(exercise_id=exercise, sets=list(sets), notes=notes)


#: The records each variant's rows make, worked out by hand from the files.
VARIANTS: dict[str, list[Workout]] = {
    # Android: semicolons, "Workout Duration" as text (1h 4m, 45m), decimal commas, every column.
    "strong_android.csv": [
        Workout(
            title="Evening Push",
            started_at=_at(26, 18, 5),
            ended_at=_at(26, 19, 9),
            notes="Good session",
            exercises=[
                _sets(
                    "Bench Press (Barbell)",
                    WorkoutSet(type="warmup", reps=10, weight=Weight(60.0, "kg")),
                    WorkoutSet(reps=5, weight=Weight(102.5, "kg"), rpe=8.5),
                    WorkoutSet(reps=4, weight=Weight(102.5, "kg"), rpe=9.0),
                    notes="Paused reps",
                ),
                _sets("Running (Treadmill)", WorkoutSet(distance_m=1500.0, duration_s=600)),
            ],
        ),
        Workout(
            title="Legs",
            started_at=_at(28, 7, 30),
            ended_at=_at(28, 8, 15),
            exercises=[
                _sets("Squat (Barbell)", WorkoutSet(reps=5, weight=Weight(140.0, "kg"))),
                _sets("Plank", WorkoutSet(duration_s=60)),
            ],
        ),
    ],
    # Android without Weight Unit, RPE, Distance Unit, Seconds or notes: the caller said lb, so the
    # distance is in miles (2 mi); 415,5 is a decimal comma.
    "strong_android_short.csv": [
        Workout(
            title="Pull",
            started_at=_at(26, 18, 5),
            ended_at=_at(26, 19, 5),
            exercises=[
                _sets(
                    "Deadlift (Barbell)",
                    WorkoutSet(reps=3, weight=Weight(405.0, "lb")),
                    WorkoutSet(reps=2, weight=Weight(415.5, "lb")),
                ),
                _sets("Running", WorkoutSet(distance_m=3218.688)),
            ],
        )
    ],
    # iOS without RPE or notes columns; Strong writes 0 for what a row does not hold, and 2 is km
    # because the caller said kg.
    "strong_ios_no_rpe_no_notes.csv": [
        Workout(
            title="Back",
            started_at=_at(26, 18, 5),
            ended_at=_at(26, 18, 55),
            exercises=[
                _sets(
                    "Pull Up",
                    WorkoutSet(reps=8, weight=Weight(0.0, "kg")),
                    WorkoutSet(reps=6, weight=Weight(10.0, "kg")),
                ),
                _sets(
                    "Rowing (Machine)",
                    WorkoutSet(reps=0, weight=Weight(0.0, "kg"), distance_m=2000.0, duration_s=480),
                ),
            ],
        )
    ],
    # Units on every row and the duration in seconds (2400), comma-separated.
    "strong_comma_with_units.csv": [
        Workout(
            title="Arms",
            started_at=_at(26, 18, 5),
            ended_at=_at(26, 18, 45),
            exercises=[
                _sets(
                    "Bicep Curl (Dumbbell)",
                    WorkoutSet(reps=12, weight=Weight(12.5, "kg"), rpe=7.5),
                    WorkoutSet(type="failure", reps=9, weight=Weight(12.5, "kg")),
                )
            ],
        )
    ],
    # Hevy without end_time, set_type, rpe, notes or superset columns.
    "hevy_minimal.csv": [
        Workout(
            title="Quick",
            started_at=_at(26, 18, 5),
            exercises=[
                _sets("Goblet Squat", WorkoutSet(reps=12, weight=Weight(24.0, "kg"))),
                _sets("Treadmill", WorkoutSet(distance_m=2500.0, duration_s=900)),
            ],
        )
    ],
}


@pytest.mark.parametrize(("name", "expected"), VARIANTS.items())
def test_a_variant_seen_in_the_wild_parses_into_its_hand_computed_records(
    name: str, expected: list[Workout]
) -> None:
    parsed = parse(name)
    assert (parsed.format, parsed.errors, parsed.warnings) == (FILES[name][0], [], [])
    assert [item.workout for item in parsed.workouts] == expected


def test_a_strong_export_without_a_unit_column_needs_the_callers_unit() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_csv((DATA / "strong_android_short.csv").read_bytes(), weight_unit=None, timezone=BERLIN)
    assert raised.value.field == "weightUnit"


def test_a_unitless_distance_pairs_with_the_rows_weight_unit_or_is_refused() -> None:
    header = "Date;Workout Name;Exercise Name;Set Order;Weight;Weight Unit;Distance"
    rows = [
        "2024-11-26 18:05:00;Carry;Farmers Walk;1;40;kg;0,1",
        "2024-11-26 18:05:00;Carry;Running;1;;;3",
    ]
    parsed = parse_text("\n".join([header, *rows]), weight_unit=None)
    assert [s.distance_m for s in parsed.workouts[0].workout.exercises[0].sets] == [100.0]
    assert [(e.line, "weightUnit" in e.message) for e in parsed.errors] == [(3, True)]
    with_unit = parse_text("\n".join([header, *rows]), weight_unit="lb")
    assert with_unit.errors == []
    assert with_unit.workouts[0].workout.exercises[1].sets[0].distance_m == pytest.approx(3 * 1609.344)
