"""Personal records as pure functions: working sets only, the first to reach a best holds it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import hypothesis
import msgspec
from hypothesis import strategies as st

from commands.events import Workout
from projections.records import (
    ExerciseSession,
    append_session,
    record_marks,
    records_before,
    records_of,
    sessions_of,
    settled_before,
)
from projections.store import BEST_COLUMNS
from tests.test_projection_properties import workouts

START = datetime(2026, 11, 2, 18, tzinfo=UTC)


def workout(day: int, *sets: dict[str, object], exercise: str = "barbell-back-squat") -> Workout:
    body = {
        "title": f"Day {day}",
        "startedAt": (START + timedelta(days=day)).isoformat(),
        "exercises": [{"exerciseId": exercise, "sets": list(sets)}],
    }
    return msgspec.convert(body, Workout)


def squat(reps: int, kg: float, **extra: object) -> dict[str, object]:
    return {"reps": reps, "weight": {"value": kg, "unit": "kg"}, **extra}


def test_a_tie_leaves_the_record_with_whoever_set_it_first() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    sessions = [
        *sessions_of(second, workout(2, squat(5, 140)), "epley"),
        *sessions_of(first, workout(1, squat(5, 140)), "epley"),
    ]
    records = records_of("barbell-back-squat", "Squat", "weight_reps", sessions)
    assert records.heaviest_weight_kg is not None and records.heaviest_weight_kg.workout_id == first
    assert records.best_e1rm_kg is not None and records.best_e1rm_kg.value == 163.33  # 140 x (1 + 5/30)
    assert len(records.timeline) == 1


def test_warm_ups_and_sets_not_done_never_count_and_reps_past_twelve_have_no_e1rm() -> None:
    sessions = sessions_of(
        uuid.uuid4(),
        workout(1, squat(3, 200, type="warmup"), squat(2, 190, completed=False), squat(15, 100)),
        "brzycki",
    )
    records = records_of("barbell-back-squat", "Squat", "weight_reps", sessions)
    assert records.heaviest_weight_kg is not None and records.heaviest_weight_kg.value == 100.0
    assert records.best_e1rm_kg is None  # 15 reps: outside 1..12
    assert records.best_session_volume_kg is not None and records.best_session_volume_kg.value == 1500.0


def test_pounds_count_in_exact_kilograms() -> None:
    sessions = sessions_of(
        uuid.uuid4(), workout(1, {"reps": 1, "weight": {"value": 224.9, "unit": "lb"}}), "epley"
    )
    records = records_of("barbell-back-squat", "Squat", "weight_reps", sessions)
    assert records.heaviest_weight_kg is not None and records.heaviest_weight_kg.value == 102.01
    assert records.best_e1rm_kg is not None and records.best_e1rm_kg.value == 102.01  # r = 1: the weight


def test_marks_name_the_bests_each_session_reached_first_and_agree_with_the_records() -> None:
    one, two, three = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sessions = [
        *sessions_of(one, workout(1, squat(5, 100)), "epley"),  # e1RM 116.67, set volume 500
        *sessions_of(two, workout(2, squat(5, 100)), "epley"),  # a tie sets nothing
        *sessions_of(three, workout(3, squat(10, 90)), "epley"),  # e1RM 120, volume 900; lighter
    ]
    marks = record_marks(sessions, "weight_reps")
    assert marks[one] == [
        ("heaviestWeightKg", 100.0),
        ("bestE1rmKg", 116.67),
        ("bestSetVolumeKg", 500.0),
        ("bestSessionVolumeKg", 500.0),
    ]
    assert marks[two] == []
    assert marks[three] == [("bestE1rmKg", 120.0), ("bestSetVolumeKg", 900.0), ("bestSessionVolumeKg", 900.0)]
    records = records_of("barbell-back-squat", "Squat", "weight_reps", sessions)
    holders = {
        "heaviestWeightKg": records.heaviest_weight_kg,
        "bestE1rmKg": records.best_e1rm_kg,
        "bestSetVolumeKg": records.best_set_volume_kg,
        "bestSessionVolumeKg": records.best_session_volume_kg,
    }
    for name, record in holders.items():  # each record's holder is the last session marked with it
        assert record is not None
        last = max((w for w, listed in marks.items() if name in dict(listed)), key=[one, two, three].index)
        assert record.workout_id == last


def squat_sessions(workouts: list[Workout], *, in_order: bool = True) -> list[ExerciseSession]:
    """Each workout's first session, as one exercise's history: in the order records are reckoned in
    (start, then workout id), or as the workouts came."""
    sessions = [
        msgspec.structs.replace(session, exercise_id="squat")
        for workout in workouts
        for session in sessions_of(uuid.uuid4(), workout, "epley")[:1]
    ]
    return sorted(sessions, key=lambda s: (s.started_at, str(s.workout_id))) if in_order else sessions


#: The measurements whose sets count reps: the ones with records of weight, reps and volume.
REP_MEASUREMENTS = st.sampled_from(["weight_reps", "reps_only", "assisted_bodyweight", "weighted_bodyweight"])


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(
    workouts=st.lists(workouts(max_exercises=2, max_sets=4), min_size=1, max_size=6),
    measurement=REP_MEASUREMENTS,
)
def test_appending_the_latest_session_equals_recomputing_every_session(
    workouts: list[Workout], measurement: str
) -> None:
    sessions = squat_sessions(workouts)
    hypothesis.assume(sessions)  # workouts without exercises have no session
    *earlier, latest = sessions
    before = records_of("squat", "Squat", measurement, earlier) if earlier else None

    appended, set_here = append_session(before, "Squat", measurement, latest)

    assert appended == records_of("squat", "Squat", measurement, sessions)
    assert set_here == record_marks(sessions, measurement)[latest.workout_id]


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    workouts=st.lists(workouts(max_exercises=2, max_sets=4), min_size=2, max_size=8),
    measurement=REP_MEASUREMENTS,
    late=st.integers(min_value=0),
)
def test_a_session_logged_late_after_every_record_folds_in_like_the_latest(
    workouts: list[Workout], measurement: str, late: int
) -> None:
    """Any session whose place in the history comes after every record holder and timeline point
    (`settled_before`): folding it into the records as if it were the latest gives what recomputing
    the whole history gives, and no other session's marks change."""
    sessions = squat_sessions(workouts, in_order=False)
    hypothesis.assume(len(sessions) >= 2)
    new = sessions.pop(late % len(sessions))
    before = records_of("squat", "Squat", measurement, sessions)
    hypothesis.assume(settled_before(before, (new.started_at, new.workout_id)))

    appended, set_here = append_session(before, "Squat", measurement, new)

    every = [*sessions, new]
    assert appended == records_of("squat", "Squat", measurement, every)
    after = record_marks(every, measurement)
    assert set_here == after[new.workout_id]
    assert {w: m for w, m in record_marks(sessions, measurement).items()} == {
        w: m for w, m in after.items() if w != new.workout_id
    }


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    workouts=st.lists(workouts(max_exercises=2, max_sets=4), min_size=1, max_size=8),
    measurement=REP_MEASUREMENTS,
    point=st.integers(min_value=0),
)
def test_the_records_before_a_point_and_the_sessions_from_it_replayed_equal_recomputing_all(
    workouts: list[Workout], measurement: str, point: int
) -> None:
    """What a batch that changes an older session does (store.history_from, RecordsWork.replay): the
    records of the sessions before the point, from each record's first holder there (found as Postgres
    finds it: the greatest value of the record's column, then the earliest), and the timeline's points
    before it; then every session from the point on folded in. The records and those sessions' marks
    are what recomputing the whole history gives."""
    sessions = squat_sessions(workouts)
    hypothesis.assume(sessions)
    split = point % (len(sessions) + 1)
    earlier, later = sessions[:split], sessions[split:]
    whole = records_of("squat", "Squat", measurement, sessions)
    holders = {}
    for name, column in BEST_COLUMNS.items():
        valued = [s for s in earlier if (getattr(s, column) or 0) > 0]
        if valued:
            holders[name] = min(valued, key=lambda s: (-getattr(s, column), s.started_at, str(s.workout_id)))
    first = (
        (later[0].started_at, later[0].workout_id)
        if later
        else (datetime.max.replace(tzinfo=UTC), uuid.UUID(int=0))
    )
    detail = records_before(
        "squat",
        "Squat",
        measurement,
        sessions=len(earlier),
        holders=holders,
        timeline=[p for p in whole.timeline if (p.date, p.workout_id) < first],
    )
    assert detail == (records_of("squat", "Squat", measurement, earlier) if earlier else None)
    marks = record_marks(sessions, measurement)
    for session in later:
        detail, set_here = append_session(detail, "Squat", measurement, session)
        assert set_here == marks[session.workout_id]
    assert detail == whole


def test_a_timeline_point_after_a_late_session_unsettles_it_even_when_it_holds_no_record() -> None:
    """Assisted bodyweight counts no heaviest weight, yet a heavier set is still a point on the
    timeline: a session logged before such a point cannot be folded in as if it were the latest."""
    first, heavier, late = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    stored = [
        *sessions_of(first, workout(1, squat(10, 10)), "epley"),  # holds every counted record
        *sessions_of(heavier, workout(3, squat(1, 12)), "epley"),  # a timeline point, no record
    ]
    (new,) = sessions_of(late, workout(2, squat(1, 11)), "epley")
    detail = records_of("barbell-back-squat", "Squat", "assisted_bodyweight", stored)
    assert [point.workout_id for point in detail.timeline] == [first, heavier]

    assert not settled_before(detail, (new.started_at, new.workout_id))
    every = records_of("barbell-back-squat", "Squat", "assisted_bodyweight", [*stored, new])
    assert [point.workout_id for point in every.timeline] == [first, late, heavier]
    folded, _ = append_session(detail, "Squat", "assisted_bodyweight", new)
    assert folded != every  # why: appending it as the latest would lose its point
