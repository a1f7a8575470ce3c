"""Strong and Hevy CSV exports read into Workouts: bytes in, values out, no I/O.

One CSV row is one set. A row that cannot be read becomes an error naming its line (the header
is line 1) and is skipped; a recoverable oddity, such as an unknown set letter or an RPE that had
to be rounded, becomes a warning. Exercise ids in the returned Workouts are the exercise names as
written, cut to an id's 64 characters: the caller resolves `ParsedWorkout.exercise_names`, which
runs parallel to `workout.exercises`, and swaps in catalog ids.

A file is recognised by the few columns that make it one app's export, whatever its delimiter
(comma or semicolon) and column order; every other column is read by name when it is there, and a
missing one (RPE, notes, seconds, a distance unit, the workout's duration) simply leaves that value
out. Strong's exports come in many shapes: iOS and Android, older and newer, with the workout's
duration as text (`1h 4m`) or in seconds, decimal points or decimal commas.

Weights keep the unit they were exported in. Strong's exports without a Weight Unit column name no
unit, so the caller says which one the lifter used. A distance without a unit of its own is in km
with kg and miles with lb, the pairing Strong itself uses. Times without a zone are wall time in the
user's zone.
"""

from __future__ import annotations

import csv
import io
import math
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import timezone as fixed_offset
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

import msgspec

from commands.events import (
    MAX_EXERCISES,
    MAX_SETS,
    SetType,
    Weight,
    WeightUnit,
    Workout,
    WorkoutExercise,
    WorkoutSet,
)
from core.catalog import MAX_ID_LENGTH
from core.errors import InvalidInput

#: "strong_v2" is a Strong export with a unit on every row, "strong" one whose unit the caller names.
#: The label is part of every imported workout's natural key, so it never changes for a file.
Format = Literal["strong", "strong_v2", "hevy"]

# Fixed forever: every imported workout's id is derived from it.
NAMESPACE = uuid.UUID("9439eec0-b2d4-425f-a8c4-148a675c8a00")
DEFAULT_TITLE = "Workout"
MAX_TITLE, MAX_EXERCISE_NOTES, MAX_WORKOUT_NOTES = 200, 2000, 5000  # as Workout's fields allow
MAX_DURATION = timedelta(hours=24)
MIN_YEAR = 1970  # an earlier date is a mangled one

# The columns that make a file one app's export (compared case-insensitively).
_STRONG_COLUMNS = ("Date", "Workout Name", "Exercise Name", "Set Order")
_HEVY_COLUMNS = ("title", "start_time", "exercise_title")
_STRONG_IDENTITY = frozenset(name.casefold() for name in _STRONG_COLUMNS)
_HEVY_IDENTITY = frozenset(_HEVY_COLUMNS)
_DELIMITERS = (",", ";")
# Where Strong puts the workout's length, by export: seconds, or text such as `1h 4m` (Android, iOS).
_STRONG_SECONDS = "duration (sec)"
_STRONG_DURATIONS = (_STRONG_SECONDS, "workout duration", "duration")
# Hevy names the unit in the column: (column, unit), the first filled one wins.
_HEVY_WEIGHTS: tuple[tuple[str, WeightUnit], ...] = (("weight_kg", "kg"), ("weight_lbs", "lb"))
_HEVY_DISTANCES = (("distance_km", "km"), ("distance_miles", "mi"))
_WEIGHT_UNITS: dict[str, WeightUnit] = {"kg": "kg", "kgs": "kg", "lb": "lb", "lbs": "lb"}
_PAIRED_DISTANCE: dict[WeightUnit, str] = {"kg": "km", "lb": "mi"}
_METRES_PER: dict[str, float] = {"km": 1000.0, "mi": 1609.344, "miles": 1609.344, "m": 1.0}
_LISTED_COLUMNS = 30  # at most this many columns are named in the message about an unknown file
_STRONG_SET_LETTERS: dict[str, SetType] = {"w": "warmup", "d": "drop", "f": "failure"}
_HEVY_SET_TYPES: dict[str, SetType] = {
    "": "normal",
    "normal": "normal",
    "warmup": "warmup",
    "failure": "failure",
    "dropset": "drop",
}
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_HEVY_TIME = re.compile(r"(\d{1,2}) ([a-z]{3})[a-z]* (\d{4}),? (\d{1,2}):(\d{2})(?::(\d{2}))?", re.IGNORECASE)
_TWELVE_HOUR = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{1,2}):(\d{2})(?::(\d{2}))? ?([AP]M)", re.IGNORECASE)
_DURATION = re.compile(r"(?:(\d+) ?h)? ?(?:(\d+) ?m(?:in)?)? ?(?:(\d+) ?s)?")
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")

_ENCODER = msgspec.json.Encoder()
_WORKOUT_DECODER = msgspec.json.Decoder(Workout)


class UnknownFormat(InvalidInput):
    """The bytes are empty, not UTF-8 text, or headed by no export this module reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="file")


class RowProblem(msgspec.Struct, frozen=True):
    line: int  # 1-based, the header being line 1; a quoted field may span lines, this is the first
    message: str


class ParsedWorkout(msgspec.Struct, frozen=True):
    natural_key: str  # format, start instant and title: the same for the same rows in any re-import
    workout: Workout  # exercise ids are the names as written, until the caller resolves them
    exercise_names: list[str]  # parallel to workout.exercises, names in full
    lines: list[int]  # the rows whose sets it holds


class ParsedFile(msgspec.Struct, frozen=True):
    format: Format
    workouts: list[ParsedWorkout]
    errors: list[RowProblem]
    warnings: list[RowProblem]


class _Skip(Exception):
    """This row cannot be read; the message says why."""


def detect_format(header: list[str]) -> Format | None:
    """The export a header row belongs to, or None; column order and other columns do not matter."""
    columns = {_column(name) for name in header}
    if columns >= _HEVY_IDENTITY:
        return "hevy"
    if columns >= _STRONG_IDENTITY:
        return "strong_v2" if "weight unit" in columns else "strong"
    return None


def stable_workout_id(user_id: uuid.UUID, natural_key: str) -> uuid.UUID:
    """The id an imported workout always gets for this user, so a re-import replays instead of adding."""
    return uuid.uuid5(NAMESPACE, f"{user_id}|{natural_key}")


def parse_csv(data: bytes, *, weight_unit: WeightUnit | None, timezone: str) -> ParsedFile:
    """Read an export into workouts plus the rows it skipped (errors) and the doubts it resolved.

    `weight_unit` is required for a Strong export with weights but no Weight Unit column, and
    otherwise only fills in a unit a row leaves out; `timezone` is the user's IANA zone. Raises
    UnknownFormat, or InvalidInput naming `weightUnit` or `timezone`.
    """
    zone = _zone(timezone)
    text = _decode(data)
    fmt, delimiter = _sniff(text)
    errors: list[RowProblem] = []
    warnings: list[RowProblem] = []
    records = _records(text, delimiter, errors)
    columns = [_column(name) for name in next(records)[1]]
    if fmt == "strong" and "weight" in columns and weight_unit is None:
        raise InvalidInput("This Strong export names no weight unit: is it kg or lb?", field="weightUnit")
    rows = _RowReader(fmt, zone, weight_unit, frozenset(columns))
    drafts: dict[tuple[datetime, str], _WorkoutDraft] = {}
    for line, cells in records:
        doubts: list[str] = []
        try:
            row = rows.read(_named(columns, cells), doubts)
        except _Skip as skip:
            errors.append(RowProblem(line, str(skip)))
            continue
        if row is None:
            continue
        key = (row.started_at.astimezone(UTC), row.title)
        draft = drafts.get(key)
        if draft is None:
            ended_at = rows.ended_at(row.end, row.started_at, doubts)
            draft = drafts[key] = _WorkoutDraft(row.title, row.started_at, ended_at, line)
        refusal = draft.add(row, line)
        if refusal is not None:
            errors.append(RowProblem(line, refusal))
            continue
        warnings.extend(RowProblem(line, doubt) for doubt in doubts)
    workouts = [_finish(fmt, draft, errors, warnings) for draft in drafts.values()]
    return ParsedFile(
        format=fmt,
        workouts=[workout for workout in workouts if workout is not None],
        errors=sorted(errors, key=lambda problem: problem.line),
        warnings=sorted(warnings, key=lambda problem: problem.line),
    )


def _column(name: str) -> str:
    return name.replace("\ufeff", "").strip().strip('"').strip().casefold()


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        raise InvalidInput(f"{timezone!r} is not an IANA time zone.", field="timezone") from None


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnknownFormat("The file is not UTF-8 text; export it again from the app.") from None
    if "\x00" in text:  # no export has one, and Postgres cannot store it
        raise UnknownFormat(
            "The file holds NUL characters, so it is no export; export it again from the app."
        )
    return text


def _sniff(text: str) -> tuple[Format, str]:
    """The export and the delimiter its header is written with."""
    if not text.strip():
        raise UnknownFormat("The file is empty.")
    headers = {delimiter: _header(text, delimiter) for delimiter in _DELIMITERS}
    for delimiter, header in headers.items():
        fmt = detect_format(header)
        if fmt is not None:
            return fmt, delimiter
    found = [name.strip() for name in max(headers.values(), key=len) if name.strip()]
    listed = ", ".join(repr(name[:60]) for name in found[:_LISTED_COLUMNS])
    more = f" and {len(found) - _LISTED_COLUMNS} more" if len(found) > _LISTED_COLUMNS else ""
    raise UnknownFormat(
        f"The header is not that of a Strong or Hevy CSV export. Columns found: {listed or 'none'}{more}. "
        f"Strong's exports have {', '.join(_STRONG_COLUMNS)}; Hevy's have {', '.join(_HEVY_COLUMNS)}."
    )


def _header(text: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    except csv.Error:
        return []


def _records(text: str, delimiter: str, errors: list[RowProblem]) -> Iterator[tuple[int, list[str]]]:
    """The header and each non-blank record, with the line it starts on; an unreadable one ends the file."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(RowProblem(line, f"The file cannot be read from this line on: {exc}."))
            return
        if line == 1 or any(cell.strip() for cell in cells):
            yield line, cells
        line = reader.line_num + 1


def _named(columns: list[str], cells: list[str]) -> dict[str, str]:
    if len(cells) < len(columns) or any(cell.strip() for cell in cells[len(columns) :]):
        raise _Skip(f"The row has {len(cells)} fields where the header has {len(columns)}.")
    return dict(zip(columns, cells, strict=False))


class _Row(NamedTuple):
    started_at: datetime
    title: str
    end: str  # as written: Strong's duration or Hevy's end time
    exercise: str
    workout_set: WorkoutSet
    exercise_notes: str
    workout_notes: str
    superset: str
    set_index: int | None


@dataclass(frozen=True)
class _RowReader:
    fmt: Format
    zone: ZoneInfo
    weight_unit: WeightUnit | None
    columns: frozenset[str]

    @property
    def duration_column(self) -> str:
        """Where a Strong export keeps the workout's length (an absent column reads as empty)."""
        return next((name for name in _STRONG_DURATIONS if name in self.columns), _STRONG_SECONDS)

    def read(self, cells: Mapping[str, str], doubts: list[str]) -> _Row | None:
        """The row's set, None for a row that holds none; raises _Skip when it cannot be read."""

        def get(name: str) -> str:
            return cells.get(name, "").strip()

        hevy = self.fmt == "hevy"
        kind = get("set_type" if hevy else "set order")
        if not hevy and kind.casefold() == "rest timer":
            return None  # some Strong exports log rest periods as rows; they hold no set
        exercise = get("exercise_title" if hevy else "exercise name")
        if not exercise:
            raise _Skip("The exercise name is missing.")
        start = get("start_time" if hevy else "date")
        try:
            started_at = _moment(start, self.zone)
        except (ValueError, OverflowError):
            raise _Skip(f"The date {start!r} is not a date and time.") from None
        workout_set = WorkoutSet(
            type=_hevy_set_type(kind, doubts) if hevy else _strong_set_type(kind, doubts),
            reps=self._reps(get("reps")),
            weight=self._weight(cells),
            duration_s=self._seconds(get("duration_seconds" if hevy else "seconds")),
            distance_m=self._distance(cells),
            rpe=self._rpe(get("rpe"), doubts),
        )
        index = get("set_index")
        return _Row(
            started_at=started_at,
            title=get("title" if hevy else "workout name") or DEFAULT_TITLE,
            end=get("end_time" if hevy else self.duration_column),
            exercise=exercise,
            workout_set=workout_set,
            exercise_notes=get("exercise_notes" if hevy else "notes"),
            workout_notes=get("description" if hevy else "workout notes"),
            superset=get("superset_id"),
            set_index=int(index) if index.isdigit() else None,
        )

    def ended_at(self, end: str, started_at: datetime, doubts: list[str]) -> datetime | None:
        """When the workout ended, from Strong's duration or Hevy's end time; None if unsure."""
        if not end:
            return None
        try:
            if self.fmt == "hevy":
                ended_at = _moment(end, self.zone)
            elif self.duration_column == _STRONG_SECONDS:
                ended_at = started_at + timedelta(seconds=self._number(end, "duration") or 0)
            else:
                ended_at = started_at + _strong_duration(end)
        except (ValueError, OverflowError, _Skip):
            doubts.append(f"The workout's end {end!r} is not understood; it is imported without one.")
            return None
        length = ended_at - started_at
        if length == timedelta(0):
            return None
        if not timedelta(0) < length <= MAX_DURATION:
            doubts.append(f"The workout would last {length}; it is imported without an end.")
            return None
        return _fixed(ended_at.astimezone(self.zone))

    def _number(self, text: str, what: str) -> float | None:
        if not text:
            return None
        if self.fmt != "hevy" and _DECIMAL_COMMA.fullmatch(text):
            text = text.replace(",", ".")  # Strong writes the phone's decimal comma in some locales
        try:
            value = float(text)
        except ValueError:
            raise _Skip(f"The {what} value {text!r} is not a number.") from None
        if not math.isfinite(value):
            raise _Skip(f"The {what} value {text!r} is not a number.")
        return value

    def _reps(self, text: str) -> int | None:
        value = self._number(text, "reps")
        if value is None:
            return None
        if not value.is_integer() or not 0 <= value <= 1000:
            raise _Skip(f"The reps {text!r} are not a whole number from 0 to 1000.")
        return int(value)

    def _weight(self, cells: Mapping[str, str]) -> Weight | None:
        if self.fmt == "hevy":
            unit_name, text = _first_filled(cells, _HEVY_WEIGHTS)
        else:
            unit_name = cells.get("weight unit", "").strip()
            text = cells.get("weight", "").strip()
        value = self._number(text, "weight")
        if value is None:
            return None
        unit = _WEIGHT_UNITS.get(unit_name.casefold()) if unit_name else self.weight_unit
        if unit is None and unit_name:
            raise _Skip(f"The weight unit {unit_name!r} is neither kg nor lbs.")
        if unit is None and value:
            raise _Skip("The weight has no unit.")
        if not 0 <= value <= 3500:
            raise _Skip(f"The weight {text!r} is not between 0 and 3500.")
        return Weight(value=value, unit=unit or "kg")

    def _seconds(self, text: str) -> int | None:
        value = self._number(text, "seconds")
        if not value:
            return None  # Strong writes 0 for sets that were not timed
        if not 0 < value <= MAX_DURATION.total_seconds():
            raise _Skip(f"The seconds {text!r} are not between 0 and 86400.")
        return round(value)

    def _distance(self, cells: Mapping[str, str]) -> float | None:
        if self.fmt == "hevy":
            unit, text = _first_filled(cells, _HEVY_DISTANCES)
        else:
            unit, text = cells.get("distance unit", "").strip(), cells.get("distance", "").strip()
        value = self._number(text, "distance")
        if not value:
            return None  # Strong writes 0 for sets without a distance
        if not unit:
            unit = self._paired_distance_unit(cells)
        metres_per = _METRES_PER.get(unit.casefold())
        if metres_per is None:
            raise _Skip(f"The distance unit {unit!r} is not km or mi.")
        metres = round(value * metres_per, 3)
        if not 0 <= metres <= 1_000_000:
            raise _Skip(f"The distance {text!r} is not between 0 and 1000 km.")
        return metres

    def _paired_distance_unit(self, cells: Mapping[str, str]) -> str:
        """A unitless distance's unit: km with kg, miles with lb, by the caller's unit or the row's."""
        weight_unit = self.weight_unit or _WEIGHT_UNITS.get(cells.get("weight unit", "").strip().casefold())
        if weight_unit is None:
            raise _Skip("The distance has no unit: import again with weightUnit (kg for km, lb for miles).")
        return _PAIRED_DISTANCE[weight_unit]

    def _rpe(self, text: str, doubts: list[str]) -> float | None:
        try:
            value = self._number(text, "RPE")
        except _Skip:
            doubts.append(f"The RPE {text!r} is not a number; it is left out.")
            return None
        if value is None:
            return None
        if not 1 <= value <= 10:
            doubts.append(f"The RPE {text!r} is outside 1 to 10; it is left out.")
            return None
        rounded = math.floor(value * 2 + 0.5) / 2  # half up: 7.25 becomes 7.5
        if rounded != value:
            doubts.append(f"The RPE {text!r} is rounded to {rounded:g}.")
        return rounded


def _first_filled(cells: Mapping[str, str], columns: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    """(unit, text) of the first of Hevy's unit-named columns with a value, or ("", "")."""
    for name, unit in columns:
        text = cells.get(name, "").strip()
        if text:
            return unit, text
    return "", ""


def _strong_set_type(text: str, doubts: list[str]) -> SetType:
    if text.replace(".", "", 1).isdigit():
        return "normal"
    kind = _STRONG_SET_LETTERS.get(text.casefold())
    if kind is None:
        doubts.append(f"The set order {text!r} is not a number, W, D or F; it is imported as a normal set.")
        return "normal"
    return kind


def _hevy_set_type(text: str, doubts: list[str]) -> SetType:
    kind = _HEVY_SET_TYPES.get(text.casefold())
    if kind is None:
        doubts.append(f"The set type {text!r} is unknown; it is imported as a normal set.")
        return "normal"
    return kind


def _moment(text: str, zone: ZoneInfo) -> datetime:
    """A timestamp in any of the exports' shapes; one without a zone is wall time in `zone`."""
    moment = _naive_or_aware(text.replace("\u202f", " ").strip())
    if moment.year < MIN_YEAR:
        raise ValueError(f"{moment.year} is before any workout app")
    return _fixed(moment if moment.tzinfo else moment.replace(tzinfo=zone))


def _fixed(moment: datetime) -> datetime:
    # A fixed offset subtracts and compares by the instant, and is what a JSON round trip gives back;
    # JSON offsets have whole minutes, so the odd historical offset in seconds is rounded.
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("a naive datetime has no offset")
    return moment.astimezone(fixed_offset(timedelta(minutes=round(offset.total_seconds() / 60))))


def _naive_or_aware(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)  # Strong: 2024-11-26 18:05:00
    except ValueError:
        pass
    if match := _HEVY_TIME.fullmatch(text):  # 26 Nov 2024, 18:05
        day, month_name, year, hour, minute, second = match.groups()
        month = _MONTHS.get(month_name.casefold())
        if month is None:
            raise ValueError(f"unknown month {month_name!r}")
        return datetime(int(year), month, int(day), int(hour), int(minute), int(second or 0))
    if match := _TWELVE_HOUR.fullmatch(text):  # Strong on a 12-hour phone: 2024-11-26 6:05:00 PM
        year, month_text, day, hour, minute, second, half = match.groups()
        if not 1 <= int(hour) <= 12:
            raise ValueError(f"{hour} is not a 12-hour clock hour")
        hour24 = int(hour) % 12 + (12 if half.upper() == "PM" else 0)
        return datetime(int(year), int(month_text), int(day), hour24, int(minute), int(second or 0))
    raise ValueError(f"{text!r} is not a date and time")


def _strong_duration(text: str) -> timedelta:
    """Strong's `1h 5m`, `45m` or `1h`."""
    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration")
    hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


@dataclass
class _ExerciseDraft:
    name: str
    first_line: int
    superset: str
    sets: list[WorkoutSet] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    last_index: int | None = None


@dataclass
class _WorkoutDraft:
    title: str
    started_at: datetime
    ended_at: datetime | None
    first_line: int
    exercises: list[_ExerciseDraft] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def add(self, row: _Row, line: int) -> str | None:
        """Add the row's set; the reason it cannot be added, if it cannot."""
        current = self.exercises[-1] if self.exercises else None
        # Hevy numbers each exercise's sets from 0: a restart is the same exercise logged again.
        restarts = (
            current is not None
            and current.last_index is not None
            and row.set_index is not None
            and row.set_index <= current.last_index
        )
        if current is None or current.name != row.exercise or restarts:
            if len(self.exercises) == MAX_EXERCISES:
                return f"A workout holds at most {MAX_EXERCISES} exercises; this set is skipped."
            current = _ExerciseDraft(row.exercise, line, row.superset)
            self.exercises.append(current)
        if len(current.sets) == MAX_SETS:
            return f"An exercise holds at most {MAX_SETS} sets; this set is skipped."
        current.sets.append(row.workout_set)
        current.last_index = row.set_index
        for notes, note in ((current.notes, row.exercise_notes), (self.notes, row.workout_notes)):
            if note and note not in notes:
                notes.append(note)
        self.lines.append(line)
        return None


def _finish(
    fmt: Format, draft: _WorkoutDraft, errors: list[RowProblem], warnings: list[RowProblem]
) -> ParsedWorkout | None:
    """The draft as a valid Workout, or None and an error on its first line."""
    shared = Counter(exercise.superset for exercise in draft.exercises if exercise.superset)
    groups: dict[str, int] = {}
    for exercise in draft.exercises:
        if shared[exercise.superset] > 1:  # a superset of one is no superset
            groups.setdefault(exercise.superset, len(groups) + 1)
    workout = Workout(
        title=_cut(draft.title, MAX_TITLE, "Title", draft.first_line, warnings) or DEFAULT_TITLE,
        started_at=draft.started_at,
        ended_at=draft.ended_at,
        notes=_cut("\n".join(draft.notes), MAX_WORKOUT_NOTES, "Workout notes", draft.first_line, warnings),
        exercises=[
            WorkoutExercise(
                exercise_id=exercise.name[:MAX_ID_LENGTH],
                sets=exercise.sets,
                notes=_cut(
                    "\n".join(exercise.notes),
                    MAX_EXERCISE_NOTES,
                    "Exercise notes",
                    exercise.first_line,
                    warnings,
                ),
                superset_group=groups.get(exercise.superset),
            )
            for exercise in draft.exercises
        ],
    )
    try:
        _WORKOUT_DECODER.decode(_ENCODER.encode(workout))
    except msgspec.ValidationError as exc:
        errors.append(RowProblem(draft.first_line, f"The workout starting on this line is not valid: {exc}."))
        return None
    instant = draft.started_at.astimezone(UTC).isoformat()
    return ParsedWorkout(
        natural_key=f"{fmt}|{instant}|{draft.title}",
        workout=workout,
        exercise_names=[exercise.name for exercise in draft.exercises],
        lines=draft.lines,
    )


def _cut(text: str, limit: int, what: str, line: int, warnings: list[RowProblem]) -> str | None:
    if len(text) > limit:
        warnings.append(RowProblem(line, f"{what} cut to {limit} characters."))
        return text[:limit]
    return text or None
