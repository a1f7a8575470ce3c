"""Importing a parsed export: names resolved to exercises, each workout PUT like any other.

A re-import of the same file finds every workout unchanged (ids derive from natural keys), so it
creates nothing. A dry run runs the very same commands inside a transaction it rolls back.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from commands.events import CustomExercise, Workout
from commands.exercises import put_exercise
from commands.imports.parsers import ParsedFile, ParsedWorkout, RowProblem, stable_workout_id
from commands.workouts import put_workout
from core.catalog import Measurement, find_by_name, label_key
from core.errors import DomainError, Gone, VersionMismatch

# Fixed forever: an exercise an import creates gets the same id on every re-import.
_EXERCISE_NAMESPACE = uuid.UUID("5d0c4a57-63d5-4f59-9a43-0fb1d6a2f7c1")


class ImportResult(msgspec.Struct, rename="camel", frozen=True):
    format: str
    dry_run: bool
    workouts_created: int
    workouts_unchanged: int
    workouts_skipped: int
    sets_imported: int
    exercises_created: list[str]
    errors: list[RowProblem]
    warnings: list[RowProblem]
    stream_version: int


class _Context(msgspec.Struct):
    user_id: uuid.UUID
    now: datetime
    request_id: str | None


def _measurement(parsed: list[ParsedWorkout], name: str) -> Measurement:
    """Guess a new exercise's measurement kind from what its sets carry."""
    sets = [
        s
        for workout in parsed
        for entry, entry_name in zip(workout.workout.exercises, workout.exercise_names, strict=True)
        if entry_name == name
        for s in entry.sets
    ]
    if any(s.weight is not None and s.reps is not None for s in sets):
        return "weight_reps"
    if any(s.reps is not None for s in sets):
        return "reps_only"
    if any(s.distance_m is not None for s in sets):
        return "distance_duration"
    return "duration"


async def _resolve_exercises(
    connection: asyncpg.Connection, context: _Context, parsed: ParsedFile
) -> tuple[dict[str, str], list[str]]:
    """Exercise ids by name as written: the catalog's, the user's own, or new custom ones (listed)."""
    rows = await connection.fetch(
        "SELECT id, name FROM exercises WHERE user_id = $1 AND deleted_at IS NULL", context.user_id
    )
    own = {label_key(row["name"]): str(row["id"]) for row in rows}
    ids: dict[str, str] = {}
    created: list[str] = []
    for name in dict.fromkeys(n for w in parsed.workouts for n in w.exercise_names):
        built_in = find_by_name(name)
        if built_in is not None:
            ids[name] = built_in.id
            continue
        key = label_key(name)
        if key not in own:
            own[key] = await _create_exercise(connection, context, name, _measurement(parsed.workouts, name))
            created.append(name)
        ids[name] = own[key]
    return ids, created


async def _create_exercise(
    connection: asyncpg.Connection, context: _Context, name: str, measurement: Measurement
) -> str:
    """A custom exercise for a name the catalog does not know; its id is derived from the name, so
    a re-import finds it. If the user deleted it since, a fresh one takes its place."""
    custom = CustomExercise(
        name=name[:100], category="other", equipment="other", measurement=measurement, primary_muscles=[]
    )
    for attempt in range(1, 100):
        suffix = "" if attempt == 1 else f"|{attempt}"
        exercise_id = uuid.uuid5(_EXERCISE_NAMESPACE, f"{context.user_id}|{label_key(name)}{suffix}")
        try:
            async with connection.transaction():
                await put_exercise(
                    connection,
                    user_id=context.user_id,
                    exercise_id=exercise_id,
                    exercise=custom,
                    if_match=None,
                    now=context.now,
                    request_id=context.request_id,
                )
        except Gone:
            continue
        return str(exercise_id)
    raise Gone(f"Too many deleted exercises named {name!r}.")


def _with_ids(parsed: ParsedWorkout, ids: dict[str, str]) -> Workout:
    entries = zip(parsed.workout.exercises, parsed.exercise_names, strict=True)
    exercises = [msgspec.structs.replace(entry, exercise_id=ids[name]) for entry, name in entries]
    return msgspec.structs.replace(parsed.workout, exercises=exercises)


async def import_file(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    parsed: ParsedFile,
    now: datetime,
    request_id: str | None,
    dry_run: bool,
) -> ImportResult:
    """Import `parsed` in the caller's transaction (which the caller rolls back for a dry run)."""
    context = _Context(user_id, now, request_id)
    warnings, errors = list(parsed.warnings), list(parsed.errors)
    ids, created_exercises = await _resolve_exercises(connection, context, parsed)
    created = unchanged = skipped = sets = 0
    for parsed_workout in parsed.workouts:
        workout = _with_ids(parsed_workout, ids)
        try:
            async with connection.transaction():  # a savepoint: one refused workout leaves the rest
                written = await put_workout(
                    connection,
                    user_id=user_id,
                    workout_id=stable_workout_id(user_id, parsed_workout.natural_key),
                    workout=workout,
                    if_match=None,
                    now=now,
                    request_id=request_id,
                )
        except DomainError as exc:
            skipped += 1
            line = parsed_workout.lines[0] if parsed_workout.lines else 0
            problem = RowProblem(line=line, message=f"workout {workout.title!r} skipped: {_describe(exc)}")
            (warnings if isinstance(exc, VersionMismatch | Gone) else errors).append(problem)
            continue
        if written.outcome == "created":
            created += 1
            sets += sum(len(entry.sets) for entry in workout.exercises)
        else:
            unchanged += 1
    version = await connection.fetchval("SELECT version FROM streams WHERE user_id = $1", user_id)
    return ImportResult(
        format=parsed.format,
        dry_run=dry_run,
        workouts_created=created,
        workouts_unchanged=unchanged,
        workouts_skipped=skipped,
        sets_imported=sets,
        exercises_created=created_exercises,
        errors=sorted(errors, key=lambda p: p.line),
        warnings=sorted(warnings, key=lambda p: p.line),
        stream_version=int(version),
    )


def _describe(exc: DomainError) -> str:
    if isinstance(exc, VersionMismatch):
        return "it was imported before with different sets, or changed since"
    if isinstance(exc, Gone):
        return "it was deleted since an earlier import"
    return exc.message + (f" ({exc.field})" if exc.field else "")
