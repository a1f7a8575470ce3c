"""One projection batch in memory: the state it starts from and the pure projectors that apply
its events to it.

`apply(batch, event, occurred_at)` folds one event into the `Batch`: no SQL and no awaits, exhaustive
over the event types. `RecordsWork`, `records_kept` and `mark_in_batch` then derive the exercises'
records and the workouts' record marks from what the batch holds (and, where it must, from the
histories the runner reads). The runner (projections/runner.py) reads what a batch starts from in one
statement, applies every event, then writes what the batch holds in bulk (projections/store.py).
Each read model's own rules live in its module: workouts (projections/workouts.py), records
(projections/records.py), the library (projections/library.py), the weeks (projections/dashboard.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal, assert_never, cast

import msgspec

from commands.events import (
    EVENT_ENCODER,
    AnyEvent,
    BodyweightDeleted,
    BodyweightRecorded,
    E1rmFormula,
    ExerciseDefined,
    ExerciseDeleted,
    Followed,
    ProfileChanged,
    RoutineDefined,
    RoutineDeleted,
    Unfollowed,
    UserRegistered,
    WeekStart,
    WorkoutAmended,
    WorkoutDeleted,
    WorkoutLogged,
)
from core.catalog import exercise
from projections import library, outbox
from projections.dashboard import iso_week, week_of
from projections.documents import (
    CustomExercises,
    RecordMark,
    UserSettings,
    WeekTotals,
    WorkoutDocument,
    WorkoutSummary,
)
from projections.library import Library
from projections.records import (
    ExerciseSession,
    RecordsDetail,
    append_session,
    record_marks,
    records_of,
    same_bests,
    sessions_of,
    settled_before,
    with_marks,
)
from projections.workouts import ZERO, Figures, add, contribution, document, subtract, summarize

#: The (start, workout) of an exercise's latest session.
Latest = tuple[datetime, uuid.UUID]


@dataclass(frozen=True, slots=True)
class WorkoutRows:
    """A workout's read-model rows as a batch leaves them."""

    summary: WorkoutSummary
    document: WorkoutDocument
    source: bytes  # the workout as logged
    sessions: list[ExerciseSession]


def exercise_name(exercise_id: str) -> str:
    found = exercise(exercise_id)
    return found.name if found else exercise_id


@dataclass
class Batch:
    """One transaction's work: the user's settings and every change, applied at the end."""

    user_id: uuid.UUID
    settings: UserSettings
    #: Each workout the batch's events name, as the batch goes: its summary (None: none) and the
    #: exercises of its sessions; read for all of them before the first event is applied.
    summaries: dict[uuid.UUID, WorkoutSummary | None] = field(default_factory=dict)
    session_exercises: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    #: Each workout's sessions as stored before the batch, by exercise (what an amendment replaces).
    stored_sessions: dict[uuid.UUID, dict[str, ExerciseSession]] = field(default_factory=dict)
    #: Each workout the batch changed, as it leaves it (None: deleted): written once, in bulk.
    workouts: dict[uuid.UUID, WorkoutRows | None] = field(default_factory=dict)
    week_deltas: dict[date, WeekTotals] = field(default_factory=dict)
    rebucketed: bool = False
    reformulated: bool = False
    #: The user's custom exercises, deleted ones too (their names stay on the workouts that used them).
    custom: CustomExercises = field(default_factory=dict)
    touched_exercises: set[str] = field(default_factory=set)
    #: Sessions of newly logged workouts, by exercise: records follow from them alone when each is
    #: later than the exercise's last record (`RecordsWork.append`); exercises in `recomputed` take
    #: their whole history.
    appended: dict[str, list[ExerciseSession]] = field(default_factory=dict)
    recomputed: set[str] = field(default_factory=set)
    #: By exercise, the workouts whose stored sessions of it go (deleted, or replaced by an amendment)
    #: having set no record: the records stand without them.
    unmarked_removals: dict[str, set[uuid.UUID]] = field(default_factory=dict)
    #: The stored records and latest session of each exercise the batch logs new sessions of or names
    #: stored sessions of, read before its events are applied: for those not in `recomputed`, no
    #: stored session changes but by an unmarked removal.
    records_before: dict[str, tuple[RecordsDetail | None, Latest | None]] = field(default_factory=dict)
    shadow: bool = False  # a rebuild into shadow tables: no shared counts
    board_weeks: set[str] = field(default_factory=set)
    activity_days: set[date] = field(default_factory=set)
    registered_at: datetime | None = None
    bodyweight_changed: bool = False
    opt_in_changed: bool = False
    settings_changed: bool = False
    #: The custom exercises, routines, body weights and follows the batch changed, as it leaves them.
    library: Library = field(default_factory=Library)
    #: The read-model keys changed (projections/outbox.py), written to the outbox with the checkpoint.
    changed: set[str] = field(default_factory=set)

    def measurement_of(self, exercise_id: str) -> str:
        found = exercise(exercise_id) or self.custom.get(exercise_id)
        return found.measurement if found else "weight_reps"

    def name_of(self, exercise_id: str) -> str:
        """A custom exercise's name (kept after it is deleted), else the catalog's, else the id."""
        custom = self.custom.get(exercise_id)
        return custom.name if custom is not None else exercise_name(exercise_id)

    @property
    def formula(self) -> E1rmFormula:
        return cast(E1rmFormula, self.settings.e1rm_formula)

    @property
    def week_start(self) -> WeekStart:
        return cast(WeekStart, self.settings.week_start)

    def withdraw(self, exercise_id: str, workout_id: uuid.UUID) -> bool:
        """Take the workout's session of the exercise out of `appended`, where this batch put it; False
        when it is not there."""
        new = self.appended.get(exercise_id, [])
        kept = [session for session in new if session.workout_id != workout_id]
        if len(kept) == len(new):
            return False
        if kept:
            self.appended[exercise_id] = kept
        else:
            del self.appended[exercise_id]
        return True

    def first_change(self, exercise_id: str) -> Latest | None:
        """The earliest session of the exercise the batch changes (removes, replaces or adds), in the
        order records are reckoned in (start, then workout id): no earlier session's records or marks
        change. None when the batch changes none of its sessions."""
        changed: list[Latest] = []
        for workout_id, rows in self.workouts.items():
            was = self.stored_sessions.get(workout_id, {}).get(exercise_id)
            if was is not None:
                changed.append((was.started_at, workout_id))
            if rows is not None:
                changed += [(s.started_at, workout_id) for s in rows.sessions if s.exercise_id == exercise_id]
        return min(changed, default=None)

    def unchanged_records(self, exercise_id: str) -> bool:
        """Whether the exercise was touched only by sessions this batch logged and then withdrew (its
        workout amended or deleted again): its records stay as they were."""
        return (
            not self.reformulated
            and exercise_id not in self.recomputed
            and exercise_id not in self.unmarked_removals
            and exercise_id not in self.appended
        )

    def shift_week(self, summary: WorkoutSummary, sign: Literal[1, -1]) -> None:
        week = week_of(summary.started_at, self.settings.timezone, self.week_start)
        current = self.week_deltas.get(week, ZERO)
        change = contribution(summary)
        self.week_deltas[week] = add(current, change) if sign > 0 else subtract(current, change)
        self.board_weeks.add(iso_week(summary.started_at))
        self.activity_days.add(summary.started_at.astimezone(UTC).date())


def apply(batch: Batch, event: AnyEvent, occurred_at: datetime) -> None:
    """Apply one event to the batch, in memory (written in bulk when it finishes); one this release
    has no projector for fails the batch (the user is parked there in the end), so the checkpoint
    never passes an event that was not applied."""
    match event:
        case UserRegistered() | ProfileChanged():
            _apply_profile(batch, event)
            if isinstance(event, UserRegistered):
                batch.registered_at = occurred_at
        case WorkoutLogged() | WorkoutAmended() | WorkoutDeleted():
            _apply_workout(batch, event)
        case (
            ExerciseDefined()
            | ExerciseDeleted()
            | RoutineDefined()
            | RoutineDeleted()
            | BodyweightRecorded()
            | BodyweightDeleted()
            | Followed()
            | Unfollowed()
        ):
            batch.changed.add(library.apply(batch.library, event, occurred_at, batch.name_of))
            if isinstance(event, ExerciseDefined):
                view = batch.library.exercises[event.exercise_id].view
                assert view is not None
                batch.custom[view.id] = view
            elif isinstance(event, BodyweightRecorded | BodyweightDeleted):
                batch.bodyweight_changed = True
        case _:
            assert_never(event)


def _apply_profile(batch: Batch, event: UserRegistered | ProfileChanged) -> None:
    before = batch.settings
    if isinstance(event, UserRegistered):
        batch.settings = UserSettings(**msgspec.structs.asdict(event))
    else:
        changes = {k: v for k, v in msgspec.structs.asdict(event).items() if v is not None}
        batch.settings = msgspec.structs.replace(before, **changes)
        if (before.timezone, before.week_start) != (batch.settings.timezone, batch.settings.week_start):
            batch.rebucketed = True
        if before.e1rm_formula != batch.settings.e1rm_formula:
            batch.reformulated = True
    if before.leaderboard_opt_in != batch.settings.leaderboard_opt_in:
        batch.opt_in_changed = True
    if (before.handle, before.display_name) != (batch.settings.handle, batch.settings.display_name):
        batch.changed.add(outbox.PROFILE)
    batch.settings_changed = True


def _apply_workout(batch: Batch, event: WorkoutLogged | WorkoutAmended | WorkoutDeleted) -> None:
    """A workout's new rows, kept in the batch: written in bulk when the batch finishes."""
    workout_id = event.workout_id
    batch.changed |= {outbox.workout(workout_id), outbox.FEED}
    old = batch.summaries[workout_id]
    if old is not None:
        batch.shift_week(old, -1)
    # The exercises whose history changes: those of the sessions it had, and those of its new ones.
    stored = batch.session_exercises[workout_id]
    # A stored session that set no record goes without changing the records or any other session's
    # marks (it beat no earlier best); one that did needs its exercise's whole history. A session this
    # batch logged and has not folded into the records yet is simply withdrawn; one it wrote otherwise
    # (its marks are not known yet) needs the whole history too.
    # An amended session that reaches the same bests at the same time (a new title or note, a warm-up,
    # an RPE) changes no record and no session's marks: it keeps the marks it had.
    unmarked: set[str] = set()
    withdrawn: set[str] = set()
    same: dict[str, ExerciseSession] = {}
    if isinstance(event, WorkoutDeleted):
        sessions, figures = [], None
    else:
        figures = Figures(event.workout, batch.formula)
        sessions = sessions_of(workout_id, event.workout, batch.formula, figures)
    if workout_id in batch.workouts:
        withdrawn = {exercise_id for exercise_id in stored if batch.withdraw(exercise_id, workout_id)}
    elif old is not None:
        before = batch.stored_sessions.get(workout_id, {})
        same = {
            session.exercise_id: msgspec.structs.replace(session, records=was.records)
            for session in sessions
            if session.exercise_id in stored
            and (was := before.get(session.exercise_id)) is not None
            and same_bests(was, session)
        }
        unmarked = stored - same.keys() - {mark.exercise_id for mark in old.records}
    for exercise_id in unmarked:
        batch.unmarked_removals.setdefault(exercise_id, set()).add(workout_id)
    batch.recomputed |= stored - unmarked - withdrawn - same.keys()
    if isinstance(event, WorkoutDeleted):
        batch.touched_exercises |= stored
        batch.summaries[workout_id] = None
        batch.session_exercises[workout_id] = set()
        batch.workouts[workout_id] = None
        return
    assert figures is not None
    sessions = [same.get(session.exercise_id, session) for session in sessions]
    logged = {session.exercise_id for session in sessions}
    batch.touched_exercises |= stored | logged
    # Its new sessions, where they replace none or one that set no record: records follow from the
    # stored ones and the new sessions alone when these are later than every session that stays.
    for session in sessions:
        if session.exercise_id not in stored or session.exercise_id in unmarked | withdrawn:
            batch.appended.setdefault(session.exercise_id, []).append(session)
    new = summarize(workout_id, event.workout_version, event.workout, figures)
    detail = document(
        workout_id, event.workout_version, event.workout, batch.formula, batch.name_of, figures=figures
    )
    if same and old is not None:
        batch.changed |= {outbox.sessions(exercise_id) for exercise_id in same}
        kept = {
            exercise_id: [
                msgspec.structs.replace(mark, name=batch.name_of(exercise_id))
                for mark in old.records
                if mark.exercise_id == exercise_id
            ]
            for exercise_id in same
        }
        new, detail = with_marks(new, detail, kept)
    batch.workouts[workout_id] = WorkoutRows(new, detail, EVENT_ENCODER.encode(event.workout), sessions)
    batch.shift_week(new, 1)
    batch.summaries[workout_id] = new
    batch.session_exercises[workout_id] = logged


WORKOUT_EVENTS = (WorkoutLogged, WorkoutAmended, WorkoutDeleted)


def records_kept(batch: Batch, appended: Mapping[str, list[ExerciseSession]]) -> dict[str, RecordsDetail]:
    """Exercises whose records the batch changes only by their count of sessions, with those records:
    only sessions that set no record were deleted, none of them on the timeline, and a session of the
    exercise stays (its latest). Every other session's marks stay as they are."""
    kept = {}
    for exercise_id, deleted in batch.unmarked_removals.items():
        if exercise_id in batch.recomputed or exercise_id in appended or batch.reformulated:
            continue
        detail, latest = batch.records_before.get(exercise_id, (None, None))
        if detail is None or latest is None or latest[1] in deleted:
            continue
        if any(point.workout_id in deleted for point in detail.timeline):
            continue
        kept[exercise_id] = msgspec.structs.replace(
            detail, name=batch.name_of(exercise_id), sessions=detail.sessions - len(deleted)
        )
    return kept


def mark_in_batch(batch: Batch, work: RecordsWork) -> None:
    """Move the marks `work` holds so far into the rows of the batch's own workouts, before these are
    written: the sessions that set records and their workouts' feed entries and documents."""
    for workout_id, marked in work.marks.items():
        rows = batch.workouts[workout_id]
        assert rows is not None, "a new session's workout is written by its batch"
        remarked = {s.exercise_id: s for s in work.remarked if s.workout_id == workout_id}
        summary, detail = with_marks(rows.summary, rows.document, marked)
        sessions = [remarked.get(session.exercise_id, session) for session in rows.sessions]
        batch.workouts[workout_id] = WorkoutRows(summary, detail, rows.source, sessions)
        batch.summaries[workout_id] = summary
    work.marks.clear()
    work.remarked.clear()


@dataclass
class RecordsWork:
    """The records a batch changed, the sessions whose marks changed and each workout's new marks."""

    records: dict[str, RecordsDetail | None] = field(default_factory=dict)
    marks: dict[uuid.UUID, dict[str, list[RecordMark]]] = field(default_factory=dict)
    remarked: list[ExerciseSession] = field(default_factory=list)

    def append(
        self,
        batch: Batch,
        sessions: list[ExerciseSession],
        stored: tuple[RecordsDetail | None, Latest | None],
        removed: Collection[uuid.UUID] = (),
    ) -> bool:
        """Records, and the new sessions' marks, from the stored records and the new sessions alone
        (in order), when every record and timeline point that stays is held by an earlier session (the
        new ones are the latest, or logged late but after the last record): no later session's marks
        can change, since none beat those bests, so every other session's marks stay as they are.
        `removed`: the workouts whose stored sessions of it go (an amendment replaces them, or they
        were deleted), each having set no record. False, with nothing changed, otherwise: the whole
        history is needed."""
        detail, latest = stored
        exercise_id = sessions[0].exercise_id
        first = (sessions[0].started_at, sessions[0].workout_id)
        if (detail is None) != (latest is None):
            return False  # records and sessions disagree: recompute from the sessions
        if removed:
            # They set no record, so none is on the timeline and the records stand without them.
            if detail is None or latest is None or any(p.workout_id in removed for p in detail.timeline):
                return False
            # When the latest stored session goes, which one is the latest then is not known here.
            if latest[1] in removed and latest > first:
                return False
            detail = msgspec.structs.replace(detail, sessions=detail.sessions - len(removed))
        later_than_first = latest is not None and latest >= first
        if detail is not None and later_than_first and not settled_before(detail, first):
            return False
        name, measurement = batch.name_of(exercise_id), batch.measurement_of(exercise_id)
        for session in sessions:
            detail, set_here = append_session(detail, name, measurement, session)
            if set_here:
                self.remarked.append(
                    msgspec.structs.replace(session, records=[record for record, _ in set_here])
                )
                self.marks.setdefault(session.workout_id, {})[exercise_id] = [
                    RecordMark(exercise_id=exercise_id, name=name, record=record, value=value)
                    for record, value in set_here
                ]
        self.records[exercise_id] = detail
        return True

    def recompute(self, batch: Batch, exercise_id: str, history: list[ExerciseSession]) -> None:
        """Records from the whole history; each session's marks where they changed."""
        name, measurement = batch.name_of(exercise_id), batch.measurement_of(exercise_id)
        self.records[exercise_id] = records_of(exercise_id, name, measurement, history) if history else None
        computed = record_marks(history, measurement)
        for session in history:
            self._remark(exercise_id, name, session, computed.get(session.workout_id, []))

    def replay(
        self, batch: Batch, exercise_id: str, before: RecordsDetail | None, later: list[ExerciseSession]
    ) -> None:
        """Records from those of the sessions before a point (`records.records_before`) and the sessions
        from it on (`later`, in history order), folded in one by one; the marks of those where they
        changed (no earlier session's can: a session's marks depend on the sessions before it only)."""
        name, measurement = batch.name_of(exercise_id), batch.measurement_of(exercise_id)
        detail = before
        for session in later:
            detail, set_here = append_session(detail, name, measurement, session)
            self._remark(exercise_id, name, session, set_here)
        self.records[exercise_id] = detail

    def _remark(
        self, exercise_id: str, name: str, session: ExerciseSession, found: list[tuple[str, float]]
    ) -> None:
        """Note the records `session` sets (`found`: name and value), where they are not those it has."""
        names = [record for record, _ in found]
        if names == session.records:
            return
        self.remarked.append(msgspec.structs.replace(session, records=names))
        self.marks.setdefault(session.workout_id, {})[exercise_id] = [
            RecordMark(exercise_id=exercise_id, name=name, record=record, value=value)
            for record, value in found
        ]
