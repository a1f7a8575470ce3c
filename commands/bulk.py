"""Many users' histories in one transaction: the batched form of the workout, body-weight and follow commands.

`record_histories` writes exactly the rows and events that `put_workout`, `delete_workout`,
`put_bodyweight` and `follow` would write for the same operations at the same times, but locks each
stream once, writes rows and events with COPY, and bumps each stream and its `projection_pending` row
once. It is meant for loading new workouts (seeding, migrations from other apps): a logged workout id
must be new, and an amendment or deletion refers to a workout logged earlier in the same history.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import asyncpg
import msgspec

from commands.events import (
    EVENT_ENCODER,
    SCHEMA_VERSION,
    AnyEvent,
    BodyweightRecorded,
    Followed,
    Weight,
    Workout,
    WorkoutAmended,
    WorkoutDeleted,
    WorkoutLogged,
    event_type,
)
from commands.exercises import custom_measurements
from commands.people import MAX_BODYWEIGHT_KG, MAX_FOLLOWS, MIN_BODYWEIGHT_KG
from commands.workouts import EARLIEST_DAY, set_rows, validate_workout
from core.catalog import Measurement, exercise
from core.errors import Conflict, DomainError, Gone, InvalidInput, NotFound
from core.units import as_entered, to_kg


class LogWorkout(msgspec.Struct, frozen=True, tag=True):
    """Log a new workout under a client id that no workout has yet."""

    workout_id: uuid.UUID
    workout: Workout
    at: datetime | None = None  # when it happened; None: the batch's `now`


class AmendWorkout(msgspec.Struct, frozen=True, tag=True):
    """Replace a workout logged earlier in the same history; an identical body changes nothing."""

    workout_id: uuid.UUID
    workout: Workout
    at: datetime | None = None


class DeleteWorkout(msgspec.Struct, frozen=True, tag=True):
    """Delete a workout logged earlier in the same history; deleting again changes nothing."""

    workout_id: uuid.UUID
    at: datetime | None = None


class RecordBodyweight(msgspec.Struct, frozen=True, tag=True):
    """The day's body weight; the last write wins and an identical one changes nothing."""

    day: date
    weight: Weight
    at: datetime | None = None


class FollowUser(msgspec.Struct, frozen=True, tag=True):
    """Follow another user; following again changes nothing."""

    followee_id: uuid.UUID
    at: datetime | None = None


Operation = LogWorkout | AmendWorkout | DeleteWorkout | RecordBodyweight | FollowUser


class History(msgspec.Struct, frozen=True):
    """One user's operations, in the order they happened (and are appended in)."""

    user_id: uuid.UUID
    operations: list[Operation]


class Recorded(msgspec.Struct, frozen=True):
    """What a batch wrote: counts, and each changed user's stream version (their consistency token)."""

    workouts: int  # workouts logged, deleted ones included
    sets: int  # set rows written
    events: int
    stream_versions: dict[uuid.UUID, int]


# fmt: off
_WORKOUT_COLUMNS = ["id", "user_id", "version", "body_digest", "title", "started_at", "ended_at",
                    "routine_id", "notes", "created_at", "updated_at", "deleted_at"]
_SET_COLUMNS = ["workout_id", "exercise_position", "position", "type", "reps", "weight_value", "weight_unit",
                "weight_kg", "duration_s", "distance_m", "rpe", "rir", "completed"]
_EVENT_COLUMNS = ["event_id", "user_id", "version", "type", "schema_version", "payload", "occurred_at",
                  "request_id"]
# fmt: on


@dataclass
class _WorkoutRow:
    """A workout's row as the one-at-a-time commands would leave it after the history's operations."""

    user_id: uuid.UUID
    workout: Workout
    digest: bytes | None
    created_at: datetime
    updated_at: datetime
    version: int = 1
    deleted_at: datetime | None = None


@dataclass
class _Stored:
    """What the batch's operations meet in the database, read under the users' stream locks."""

    customs: dict[uuid.UUID, Mapping[str, Measurement]]  # the users' custom exercises in the batch
    bodyweights: dict[tuple[uuid.UUID, date], tuple[Decimal, str]]  # (user, day) -> (value, unit)
    follows: dict[uuid.UUID, set[uuid.UUID]]  # the users' followees
    people: dict[uuid.UUID, tuple[str, str]]  # followee -> (handle, display name)


@dataclass
class _Replay:
    """The batch's operations applied in order, as the commands would apply them: final rows and events."""

    stored: _Stored
    workouts: dict[uuid.UUID, _WorkoutRow] = field(default_factory=dict)
    # (user, day) -> (value as entered, unit, kg, recorded_at) of the last write that changed it.
    bodyweights: dict[tuple[uuid.UUID, date], tuple[Decimal, str, Decimal, datetime]] = field(
        default_factory=dict
    )
    follows: list[tuple[uuid.UUID, uuid.UUID, datetime]] = field(default_factory=list)
    events: dict[uuid.UUID, list[tuple[AnyEvent, datetime]]] = field(default_factory=dict)

    def play(self, operations: dict[uuid.UUID, list[Operation]], now: datetime) -> None:
        """Apply every user's operations; a DomainError names the operation at fault as
        `histories[<user id>].operations[<index>]...`."""
        for user_id, ops in operations.items():
            for index, op in enumerate(ops):
                at = now if op.at is None else op.at
                try:
                    if at > now:
                        raise InvalidInput("An operation cannot happen after now.", field="at")
                    event = self._apply(user_id, op, at)
                except DomainError as exc:
                    path = f"histories[{user_id}].operations[{index}]"
                    exc.field = f"{path}.{exc.field}" if exc.field else path
                    raise
                if event is not None:
                    self.events.setdefault(user_id, []).append((event, at))
            if len(self.stored.follows.get(user_id, ())) > MAX_FOLLOWS:
                raise InvalidInput(
                    f"You can follow at most {MAX_FOLLOWS} people.", field=f"histories[{user_id}]"
                )

    def _apply(self, user_id: uuid.UUID, op: Operation, at: datetime) -> AnyEvent | None:
        match op:
            case LogWorkout() | AmendWorkout():
                try:
                    validate_workout(op.workout, at, self.stored.customs.get(user_id))
                except InvalidInput as exc:
                    raise InvalidInput(exc.message, field=f"workout.{exc.field}") from None
                return self._put(user_id, op, at)
            case DeleteWorkout():
                return self._delete(user_id, op.workout_id, at)
            case RecordBodyweight():
                _check_bodyweight(op, at)
                return self._record_bodyweight(user_id, op, at)
            case FollowUser():
                return self._follow(user_id, op.followee_id, at)

    def _put(self, user_id: uuid.UUID, op: LogWorkout | AmendWorkout, at: datetime) -> AnyEvent | None:
        row = self.workouts.get(op.workout_id)
        digest = _digest(op.workout)
        if isinstance(op, LogWorkout):
            if row is not None:
                raise Conflict("This workout id is logged twice.", field="workoutId")
            self.workouts[op.workout_id] = _WorkoutRow(user_id, op.workout, digest, at, at)
            return WorkoutLogged(workout_id=op.workout_id, workout_version=1, workout=op.workout)
        if row is None or row.user_id != user_id:
            raise NotFound("No such workout.", field="workoutId")
        if row.deleted_at is not None:
            raise Gone("This workout was deleted.", field="workoutId")
        if row.digest == digest:
            return None
        row.version += 1
        row.workout, row.digest, row.updated_at = op.workout, digest, at
        return WorkoutAmended(workout_id=op.workout_id, workout_version=row.version, workout=op.workout)

    def _delete(self, user_id: uuid.UUID, workout_id: uuid.UUID, at: datetime) -> AnyEvent | None:
        row = self.workouts.get(workout_id)
        if row is None or row.user_id != user_id:
            raise NotFound("No such workout.", field="workoutId")
        if row.deleted_at is not None:
            return None
        row.version += 1
        row.deleted_at = row.updated_at = at
        row.digest = None
        return WorkoutDeleted(workout_id=workout_id, workout_version=row.version)

    def _record_bodyweight(self, user_id: uuid.UUID, op: RecordBodyweight, at: datetime) -> AnyEvent | None:
        key = (user_id, op.day)
        entered = as_entered(op.weight.value)
        written = self.bodyweights.get(key)
        if (written[:2] if written is not None else self.stored.bodyweights.get(key)) == (
            entered,
            op.weight.unit,
        ):
            return None
        self.bodyweights[key] = (entered, op.weight.unit, to_kg(op.weight.value, op.weight.unit), at)
        return BodyweightRecorded(day=op.day, weight=op.weight)

    def _follow(self, user_id: uuid.UUID, followee_id: uuid.UUID, at: datetime) -> AnyEvent | None:
        if followee_id == user_id:
            raise InvalidInput("You cannot follow yourself.", field="userId")
        person = self.stored.people.get(followee_id)
        if person is None:
            raise NotFound("No such user.")
        followed = self.stored.follows.setdefault(user_id, set())
        if followee_id in followed:
            return None
        followed.add(followee_id)
        self.follows.append((user_id, followee_id, at))
        return Followed(followee_id=followee_id, handle=person[0], display_name=person[1])


def _digest(workout: Workout) -> bytes:
    return hashlib.sha256(EVENT_ENCODER.encode(workout)).digest()


def _merged(histories: Sequence[History]) -> dict[uuid.UUID, list[Operation]]:
    """Operations by user in the order given; a user named twice has their lists joined."""
    merged: dict[uuid.UUID, list[Operation]] = {}
    for history in histories:
        merged.setdefault(history.user_id, []).extend(history.operations)
    return merged


def _check_bodyweight(op: RecordBodyweight, at: datetime) -> None:
    """The bounds `put_bodyweight` enforces."""
    kg = to_kg(op.weight.value, op.weight.unit)
    if not MIN_BODYWEIGHT_KG <= kg <= MAX_BODYWEIGHT_KG:
        raise InvalidInput(
            f"A body weight is between {MIN_BODYWEIGHT_KG} and {MAX_BODYWEIGHT_KG} kg.", field="weight.value"
        )
    if op.day < EARLIEST_DAY:
        raise InvalidInput(f"A body weight is recorded from {EARLIEST_DAY} on.", field="date")
    if op.day > (at + timedelta(days=1)).date():
        raise InvalidInput("A body weight cannot be recorded for a future day.", field="date")


async def _read_stored(
    connection: asyncpg.Connection, operations: dict[uuid.UUID, list[Operation]]
) -> _Stored:
    """What the replay needs from the database; Conflict when a logged workout id is taken."""
    logged = [op.workout_id for ops in operations.values() for op in ops if isinstance(op, LogWorkout)]
    taken = await connection.fetchval("SELECT id FROM workouts WHERE id = ANY($1::uuid[]) LIMIT 1", logged)
    if taken is not None:
        raise Conflict(f"A workout with id {taken} exists.", field="workoutId")
    customs: dict[uuid.UUID, Mapping[str, Measurement]] = {}
    for user_id, ops in operations.items():
        unknown = {
            entry.exercise_id
            for op in ops
            if isinstance(op, LogWorkout | AmendWorkout)
            for entry in op.workout.exercises
            if exercise(entry.exercise_id) is None
        }
        if unknown:
            customs[user_id] = await custom_measurements(connection, user_id, unknown)
    days = [
        (user_id, op.day)
        for user_id, ops in operations.items()
        for op in ops
        if isinstance(op, RecordBodyweight)
    ]
    bodyweights = await connection.fetch(
        """
        SELECT user_id, day, weight_value, weight_unit FROM bodyweights
        WHERE (user_id, day) IN (SELECT * FROM unnest($1::uuid[], $2::date[]))
        """,
        [user_id for user_id, _ in days],
        [day for _, day in days],
    )
    follows: dict[uuid.UUID, set[uuid.UUID]] = {}
    for row in await connection.fetch(
        "SELECT follower_id, followee_id FROM follows WHERE follower_id = ANY($1::uuid[])", list(operations)
    ):
        follows.setdefault(row["follower_id"], set()).add(row["followee_id"])
    followees = {op.followee_id for ops in operations.values() for op in ops if isinstance(op, FollowUser)}
    people = await connection.fetch(
        "SELECT id, handle, display_name FROM users WHERE id = ANY($1::uuid[])", list(followees)
    )
    return _Stored(
        customs=customs,
        bodyweights={
            (row["user_id"], row["day"]): (row["weight_value"], row["weight_unit"]) for row in bodyweights
        },
        follows=follows,
        people={row["id"]: (row["handle"], row["display_name"]) for row in people},
    )


def _workout_rows(replay: _Replay) -> list[tuple[object, ...]]:
    return [
        (
            workout_id,
            row.user_id,
            row.version,
            row.digest,
            None if row.deleted_at else row.workout.title,
            row.workout.started_at,
            row.workout.ended_at,
            row.workout.routine_id,
            None if row.deleted_at else row.workout.notes,
            row.created_at,
            row.updated_at,
            row.deleted_at,
        )
        for workout_id, row in replay.workouts.items()
    ]


def _live(replay: _Replay) -> Iterator[tuple[uuid.UUID, Workout]]:
    """The workouts that keep their exercises and sets: those not deleted."""
    for workout_id, row in replay.workouts.items():
        if row.deleted_at is None:
            yield workout_id, row.workout


def _set_rows(replay: _Replay) -> list[tuple[object, ...]]:
    """The `workout_sets` rows, converted as `put_workout` converts them."""
    return [row for workout_id, workout in _live(replay) for row in set_rows(workout_id, workout)]


def _event_rows(
    replay: _Replay, versions: dict[uuid.UUID, int], request_id: str | None
) -> list[tuple[object, ...]]:
    """The events of every user, numbered on from the stream's version; advances `versions`."""
    rows: list[tuple[object, ...]] = []
    for user_id, events in sorted(replay.events.items()):
        first = versions[user_id] + 1
        rows.extend(
            (
                uuid.uuid4(),
                user_id,
                first + offset,
                event_type(event),
                SCHEMA_VERSION,
                EVENT_ENCODER.encode(event).decode(),
                at,
                request_id,
            )
            for offset, (event, at) in enumerate(events)
        )
        versions[user_id] = first + len(events) - 1
    return rows


async def _lock_streams(connection: asyncpg.Connection, users: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Take every user's write lock, in user id order so that concurrent batches never deadlock."""
    rows = await connection.fetch(
        "SELECT user_id, version FROM streams WHERE user_id = ANY($1::uuid[]) ORDER BY user_id"
        " FOR NO KEY UPDATE",
        users,
    )
    versions: dict[uuid.UUID, int] = {row["user_id"]: row["version"] for row in rows}
    for user_id in users:
        if user_id not in versions:
            raise LookupError(f"user {user_id} has no stream")
    return versions


async def _write(
    connection: asyncpg.Connection, replay: _Replay, event_rows: list[tuple[object, ...]]
) -> int:
    """Write the replay's final rows and its events; the number of set rows."""
    try:
        await connection.copy_records_to_table(
            "workouts", records=_workout_rows(replay), columns=_WORKOUT_COLUMNS
        )
    except asyncpg.UniqueViolationError:  # logged by a transaction that committed since we looked
        raise Conflict("A workout with one of these ids exists.", field="workoutId") from None
    await connection.copy_records_to_table(
        "workout_exercises",
        records=[
            (workout_id, i, e.exercise_id, e.notes, e.superset_group)
            for workout_id, workout in _live(replay)
            for i, e in enumerate(workout.exercises)
        ],
        columns=["workout_id", "position", "exercise_id", "notes", "superset_group"],
    )
    sets = _set_rows(replay)
    await connection.copy_records_to_table("workout_sets", records=sets, columns=_SET_COLUMNS)
    if replay.bodyweights:
        keys = list(replay.bodyweights)
        values = [replay.bodyweights[key] for key in keys]
        await connection.execute(
            """
            INSERT INTO bodyweights (user_id, day, weight_value, weight_unit, weight_kg, recorded_at)
            SELECT * FROM unnest($1::uuid[], $2::date[], $3::numeric[], $4::text[], $5::numeric[],
                $6::timestamptz[])
            ON CONFLICT (user_id, day) DO UPDATE SET weight_value = EXCLUDED.weight_value,
                weight_unit = EXCLUDED.weight_unit, weight_kg = EXCLUDED.weight_kg,
                recorded_at = EXCLUDED.recorded_at
            """,
            *([key[i] for key in keys] for i in range(2)),
            *([value[i] for value in values] for i in range(4)),
        )
    await connection.copy_records_to_table(
        "follows", records=replay.follows, columns=["follower_id", "followee_id", "followed_at"]
    )
    await connection.copy_records_to_table("events", records=event_rows, columns=_EVENT_COLUMNS)
    return len(sets)


async def record_histories(
    connection: asyncpg.Connection, histories: Sequence[History], *, now: datetime, request_id: str | None
) -> Recorded:
    """Record several users' histories in one transaction (a savepoint inside the caller's).

    Refuses the whole batch, writing nothing, as the one-at-a-time commands would refuse one of its
    operations (InvalidInput, NotFound, Gone, Conflict), or with Conflict when a logged workout id is
    taken; LookupError when a user has no stream. An operation without a time happens at `now`, and
    none may happen later.
    """
    operations = _merged(histories)
    async with connection.transaction():
        versions = await _lock_streams(connection, sorted(operations))
        replay = _Replay(await _read_stored(connection, operations))
        replay.play(operations, now)
        event_rows = _event_rows(replay, versions, request_id)
        sets = await _write(connection, replay, event_rows)
        changed = sorted(replay.events)
        if changed:
            await _advance(connection, changed, [versions[user_id] for user_id in changed])
    return Recorded(
        workouts=len(replay.workouts),
        sets=sets,
        events=len(event_rows),
        stream_versions={user_id: versions[user_id] for user_id in changed},
    )


async def _advance(connection: asyncpg.Connection, users: list[uuid.UUID], versions: list[int]) -> None:
    """Bump each stream to its new version and mark its user pending projection, as `append` does."""
    await connection.execute(
        """
        UPDATE streams SET version = v.version
        FROM unnest($1::uuid[], $2::bigint[]) AS v(user_id, version)
        WHERE streams.user_id = v.user_id
        """,
        users,
        versions,
    )
    await connection.execute(
        """
        INSERT INTO projection_pending (user_id, version)
        SELECT * FROM unnest($1::uuid[], $2::bigint[])
        ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version, poked_at = NULL
        """,
        users,
        versions,
    )
