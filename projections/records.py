"""Pure projections of exercise history and personal records.

A session is one exercise within one workout. Records are the best of the working sets (completed,
not warm-ups) over all sessions; the first session to reach a best holds it. Because they are
recomputed from the sessions that remain, deleting or amending a workout hands a record on.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal

import msgspec

from commands.events import E1rmFormula, Weight, Workout, WorkoutSet
from projections.documents import Document, RecordMark, WorkoutDocument, WorkoutSummary
from projections.workouts import Figures, is_working_set

_CENTS = Decimal("0.01")


def _kg(amount: Decimal) -> float:
    return float(amount.quantize(_CENTS)) + 0.0


class SessionSet(Document, frozen=True):
    type: str
    reps: int | None = None
    weight: Weight | None = None
    duration_s: int | None = None
    distance_m: float | None = None
    rpe: float | None = None
    e1rm_kg: float | None = None


class BestSet(Document, frozen=True):
    reps: int
    weight: Weight
    e1rm_kg: float


class ExerciseSession(Document, frozen=True):
    """One exercise in one workout: its sets and what they add up to (working sets only)."""

    exercise_id: str
    workout_id: uuid.UUID
    started_at: datetime
    sets: list[SessionSet]
    volume_kg: float
    total_reps: int
    working_sets: int | None = None  # None only in rows projected before it was counted, until a rebuild
    best_set: BestSet | None = None
    e1rm_kg: float | None = None
    heaviest_kg: float | None = None
    most_reps: int | None = None
    best_set_volume_kg: float | None = None
    records: list[str] = msgspec.field(default_factory=list)  # the records this session set


class Record(Document, frozen=True):
    value: float
    workout_id: uuid.UUID
    date: datetime


class TimelinePoint(Document, frozen=True):
    """A session that set a new best e1RM or heaviest weight."""

    date: datetime
    workout_id: uuid.UUID
    e1rm_kg: float | None = None
    heaviest_kg: float | None = None


class Records(Document, frozen=True):
    exercise_id: str
    name: str
    sessions: int
    heaviest_weight_kg: Record | None = None
    best_e1rm_kg: Record | None = msgspec.field(default=None, name="bestE1rmKg")
    most_reps: Record | None = None
    best_set_volume_kg: Record | None = None
    best_session_volume_kg: Record | None = None


class RecordsDetail(Records, frozen=True, kw_only=True):
    timeline: list[TimelinePoint]


def _session(
    exercise_id: str,
    workout_id: uuid.UUID,
    started_at: datetime,
    sets: list[tuple[WorkoutSet, Decimal | None, float | None]],
) -> ExerciseSession:
    views: list[SessionSet] = []
    volume, reps_total, working = Decimal(0), 0, 0
    best: BestSet | None = None
    heaviest: Decimal | None = None
    most_reps: int | None = None
    best_volume: Decimal | None = None
    for s, kg, one_rm in sets:
        reps = s.reps
        views.append(SessionSet(s.type, reps, s.weight, s.duration_s, s.distance_m, s.rpe, one_rm))
        if not is_working_set(s):
            continue
        working += 1
        if reps is not None:
            reps_total += reps
            if most_reps is None or reps > most_reps:
                most_reps = reps
        if kg is not None:
            if heaviest is None or kg > heaviest:
                heaviest = kg
            if reps is not None:
                set_volume = kg * reps
                volume += set_volume
                if best_volume is None or set_volume > best_volume:
                    best_volume = set_volume
                if one_rm is not None and s.weight is not None and (best is None or one_rm > best.e1rm_kg):
                    best = BestSet(reps=reps, weight=s.weight, e1rm_kg=one_rm)
    return ExerciseSession(
        exercise_id=exercise_id,
        workout_id=workout_id,
        started_at=started_at,
        sets=views,
        volume_kg=_kg(volume),
        total_reps=reps_total,
        working_sets=working,
        best_set=best,
        e1rm_kg=best.e1rm_kg if best else None,
        heaviest_kg=_kg(heaviest) if heaviest is not None else None,
        most_reps=most_reps,
        best_set_volume_kg=_kg(best_volume) if best_volume is not None else None,
    )


def sessions_of(
    workout_id: uuid.UUID, workout: Workout, formula: E1rmFormula, figures: Figures | None = None
) -> list[ExerciseSession]:
    """One session per exercise of the workout (an exercise logged twice counts as one session).
    `figures`: the workout's by `formula`, when the caller has them."""
    figures = figures or Figures(workout, formula)
    grouped: dict[str, list[tuple[WorkoutSet, Decimal | None, float | None]]] = {}
    for entry, loads in zip(workout.exercises, figures.loads, strict=True):
        grouped.setdefault(entry.exercise_id, []).extend(
            (s, kg, one_rm) for s, (kg, one_rm) in zip(entry.sets, loads, strict=True)
        )
    return [
        _session(exercise_id, workout_id, workout.started_at, sets) for exercise_id, sets in grouped.items()
    ]


def _best(
    sessions: list[ExerciseSession], value: Callable[[ExerciseSession], float | int | None]
) -> Record | None:
    best: Record | None = None
    for session in sessions:  # oldest first: the first to reach a best holds it
        found = value(session)
        if found is not None and found > 0 and (best is None or found > best.value):
            best = Record(value=float(found), workout_id=session.workout_id, date=session.started_at)
    return best


_REPS_KINDS = frozenset({"reps_only", "weighted_bodyweight", "assisted_bodyweight"})


def records_of(
    exercise_id: str, name: str, measurement: str, sessions: Iterable[ExerciseSession]
) -> RecordsDetail:
    """The exercise's personal records and the timeline of new bests.

    Most reps counts for reps-only and bodyweight kinds; assistance is no weight to be proud of.
    """
    ordered = sorted(sessions, key=lambda s: (s.started_at, str(s.workout_id)))
    timeline: list[TimelinePoint] = []
    top_e1rm = top_weight = 0.0
    for session in ordered:
        better_e1rm = session.e1rm_kg is not None and session.e1rm_kg > top_e1rm
        better_weight = session.heaviest_kg is not None and session.heaviest_kg > top_weight
        if better_e1rm or better_weight:
            top_e1rm = max(top_e1rm, session.e1rm_kg or 0.0)
            top_weight = max(top_weight, session.heaviest_kg or 0.0)
            timeline.append(
                TimelinePoint(
                    date=session.started_at,
                    workout_id=session.workout_id,
                    e1rm_kg=session.e1rm_kg,
                    heaviest_kg=session.heaviest_kg,
                )
            )
    heaviest = None if measurement == "assisted_bodyweight" else _best(ordered, lambda s: s.heaviest_kg)
    return RecordsDetail(
        exercise_id=exercise_id,
        name=name,
        sessions=len(ordered),
        heaviest_weight_kg=heaviest,
        best_e1rm_kg=_best(ordered, lambda s: s.e1rm_kg),
        most_reps=_best(ordered, lambda s: s.most_reps) if measurement in _REPS_KINDS else None,
        best_set_volume_kg=_best(ordered, lambda s: s.best_set_volume_kg),
        best_session_volume_kg=_best(ordered, lambda s: s.volume_kg),
        timeline=timeline,
    )


#: Record names (as in `Records`) and what each is the best of, in the order they are listed.
_MEASURES: tuple[tuple[str, Callable[[ExerciseSession], float | int | None]], ...] = (
    ("heaviestWeightKg", lambda s: s.heaviest_kg),
    ("bestE1rmKg", lambda s: s.e1rm_kg),
    ("mostReps", lambda s: s.most_reps),
    ("bestSetVolumeKg", lambda s: s.best_set_volume_kg),
    ("bestSessionVolumeKg", lambda s: s.volume_kg),
)


RECORD_NAMES = tuple(name for name, _ in _MEASURES)


def held_records(detail: RecordsDetail) -> dict[str, Record | None]:
    """The records of `detail` by name (as in `RECORD_NAMES`); None: not held, or not counted."""
    return {
        "heaviestWeightKg": detail.heaviest_weight_kg,
        "bestE1rmKg": detail.best_e1rm_kg,
        "mostReps": detail.most_reps,
        "bestSetVolumeKg": detail.best_set_volume_kg,
        "bestSessionVolumeKg": detail.best_session_volume_kg,
    }


def settled_before(detail: RecordsDetail, first: tuple[datetime, uuid.UUID]) -> bool:
    """Whether every record and timeline point of `detail` is held by a session earlier than `first`
    (in the order records are reckoned in: start, then workout id)."""
    return all(
        (held.date, held.workout_id) < first for held in held_records(detail).values() if held is not None
    ) and all((point.date, point.workout_id) < first for point in detail.timeline)


def same_bests(was: ExerciseSession, session: ExerciseSession) -> bool:
    """Whether `session` can replace `was` (its workout amended) without changing any record, timeline
    point or session's marks: the same start, and the same value of everything a record is the best
    of (the timeline's too: e1RM and heaviest weight)."""
    return was.started_at == session.started_at and all(
        measure(was) == measure(session) for _, measure in _MEASURES
    )


def record_marks(
    sessions: Iterable[ExerciseSession], measurement: str
) -> dict[uuid.UUID, list[tuple[str, float]]]:
    """Per workout, the records its session of this exercise set: bests no earlier session reached
    (the same rules as `records_of`, so the holder of each record is marked)."""
    counted = _counted(measurement)
    best: dict[str, float] = {}
    marks: dict[uuid.UUID, list[tuple[str, float]]] = {}
    for session in sorted(sessions, key=lambda s: (s.started_at, str(s.workout_id))):
        set_here: list[tuple[str, float]] = []
        for name, measure in _MEASURES:
            found = measure(session)
            if name in counted and found is not None and found > 0 and found > best.get(name, 0.0):
                best[name] = float(found)
                set_here.append((name, float(found)))
        marks[session.workout_id] = set_here
    return marks


def summary_of(detail: RecordsDetail) -> Records:
    """The records without their timeline, for the list of all exercises."""
    fields = {name: getattr(detail, name) for name in Records.__struct_fields__}
    return Records(**fields)


@functools.cache  # a handful of measurements; asked for every session a batch folds in
def _counted(measurement: str) -> frozenset[str]:
    """The records a kind of exercise counts."""
    return frozenset(
        name
        for name, _ in _MEASURES
        if not (name == "heaviestWeightKg" and measurement == "assisted_bodyweight")
        and not (name == "mostReps" and measurement not in _REPS_KINDS)
    )


def records_before(
    exercise_id: str,
    name: str,
    measurement: str,
    *,
    sessions: int,
    holders: Mapping[str, ExerciseSession],
    timeline: Iterable[TimelinePoint],
) -> RecordsDetail | None:
    """The records of an exercise's first `sessions` sessions (those before a point of its history),
    from each record's first holder among them (`holders`, by record name) and the timeline's points
    among them; what `records_of` gives for those sessions. None when there are none. `append_session`
    then folds in the sessions from the point on."""
    if sessions == 0:
        return None
    counted = _counted(measurement)
    held: dict[str, Record | None] = {}
    for record_name, measure in _MEASURES:
        holder = holders.get(record_name)
        found = measure(holder) if holder is not None else None
        held[record_name] = (
            Record(value=float(found), workout_id=holder.workout_id, date=holder.started_at)
            if holder is not None and found is not None and found > 0 and record_name in counted
            else None
        )
    return RecordsDetail(
        exercise_id=exercise_id,
        name=name,
        sessions=sessions,
        heaviest_weight_kg=held["heaviestWeightKg"],
        best_e1rm_kg=held["bestE1rmKg"],
        most_reps=held["mostReps"],
        best_set_volume_kg=held["bestSetVolumeKg"],
        best_session_volume_kg=held["bestSessionVolumeKg"],
        timeline=list(timeline),
    )


def append_session(
    detail: RecordsDetail | None, name: str, measurement: str, session: ExerciseSession
) -> tuple[RecordsDetail, list[tuple[str, float]]]:
    """The records once `session`, later than every session `detail` was made of, is added; and the
    records it sets. What `records_of` and `record_marks` give for all the sessions, in O(its sets)."""
    if detail is None:
        return records_of(session.exercise_id, name, measurement, [session]), record_marks(
            [session], measurement
        )[session.workout_id]
    counted = _counted(measurement)
    held = held_records(detail)
    set_here: list[tuple[str, float]] = []
    for record_name, measure in _MEASURES:
        found = measure(session)
        current = held[record_name]
        beaten = found is not None and found > 0 and (current is None or found > current.value)
        if record_name in counted and beaten and found is not None:
            held[record_name] = Record(
                value=float(found), workout_id=session.workout_id, date=session.started_at
            )
            set_here.append((record_name, float(found)))
    top_e1rm = max((point.e1rm_kg or 0.0 for point in detail.timeline), default=0.0)
    top_weight = max((point.heaviest_kg or 0.0 for point in detail.timeline), default=0.0)
    timeline = detail.timeline
    if (session.e1rm_kg is not None and session.e1rm_kg > top_e1rm) or (
        session.heaviest_kg is not None and session.heaviest_kg > top_weight
    ):
        point = TimelinePoint(
            date=session.started_at,
            workout_id=session.workout_id,
            e1rm_kg=session.e1rm_kg,
            heaviest_kg=session.heaviest_kg,
        )
        timeline = [*timeline, point]
    updated = RecordsDetail(
        exercise_id=detail.exercise_id,
        name=name,
        sessions=detail.sessions + 1,
        heaviest_weight_kg=held["heaviestWeightKg"],
        best_e1rm_kg=held["bestE1rmKg"],
        most_reps=held["mostReps"],
        best_set_volume_kg=held["bestSetVolumeKg"],
        best_session_volume_kg=held["bestSessionVolumeKg"],
        timeline=timeline,
    )
    return updated, set_here


def with_marks(
    summary: WorkoutSummary, document: WorkoutDocument, marked: Mapping[str, list[RecordMark]]
) -> tuple[WorkoutSummary, WorkoutDocument]:
    """A workout's feed entry and document with the records it sets in `marked`'s exercises replaced by
    those: in the order of its exercises, then of the record names."""
    order = {entry.exercise_id: i for i, entry in reversed(list(enumerate(document.exercises)))}
    kept = [mark for mark in summary.records if mark.exercise_id not in marked]
    merged = sorted(
        [*kept, *(mark for listed in marked.values() for mark in listed)],
        key=lambda m: (order.get(m.exercise_id, len(order)), m.exercise_id, RECORD_NAMES.index(m.record)),
    )
    return msgspec.structs.replace(summary, records=merged), msgspec.structs.replace(document, records=merged)
