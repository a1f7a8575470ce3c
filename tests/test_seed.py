"""`ironlog seed` and the batched command under it: the same rows and events as the one-at-a-time
commands, all or nothing, deterministic for a seed, realistic, and read models that add up.

Seeded users opt in to leaderboards, so these tests write to a database and Redis prefix of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from api.app import create_app
from api.seed_cli import seed
from commands.accounts import RegisterUser, register_user
from commands.bulk import (
    AmendWorkout,
    DeleteWorkout,
    FollowUser,
    History,
    LogWorkout,
    Operation,
    RecordBodyweight,
    record_histories,
)
from commands.events import Weight, WeightUnit, Workout, WorkoutExercise, WorkoutSet
from commands.people import follow, put_bodyweight
from commands.seed import history_of, plan_users
from commands.versioning import IfMatch
from commands.workouts import delete_workout, put_workout
from core import clock
from core.catalog import exercise
from core.errors import Conflict, DomainError, Gone, InvalidInput, NotFound
from core.redis import Keys
from core.settings import Settings
from migrations.runner import migrate
from projections.runner import project_user
from tests.accounts import access_headers
from tests.harness import create_database, delete_prefix, drop_database, with_database

REQUEST_ID = "seed-test"
SETS = "FROM workout_sets s JOIN workouts w ON w.id = s.workout_id"
TODAY = date(2026, 11, 20)


def _own(settings: Settings, url: str, prefix: str) -> Settings:
    own = settings.with_services(url, settings.redis.url or "")
    return msgspec.structs.replace(own, redis=msgspec.structs.replace(own.redis, prefix=prefix))


@pytest.fixture(scope="module")
async def own(settings: Settings, server_settings: Settings) -> AsyncIterator[Settings]:
    """A migrated database and a Redis prefix for this module."""
    admin_url = server_settings.database.url or ""
    # Named after the run's own database, so that a killed run's is found too (tests/leftovers.py).
    name = f"{urlsplit(settings.database.url or '').path.lstrip('/')}_{uuid.uuid4().hex[:8]}"
    await create_database(admin_url, name)
    isolated = _own(
        settings, with_database(admin_url, name), f"{settings.redis.prefix}seed-{uuid.uuid4().hex[:6]}:"
    )
    try:
        await migrate(isolated)
        yield isolated
    finally:
        await drop_database(admin_url, name)
        await delete_prefix(settings.redis.url or "", isolated.redis.prefix)
        await delete_prefix(settings.redis.broker_url or "", isolated.redis.prefix)


@pytest.fixture
async def db(own: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(own.database.url)
    try:
        yield connection
    finally:
        await connection.close()


async def _register(connection: asyncpg.Connection, *, at: datetime) -> uuid.UUID:
    tag = uuid.uuid4().hex[:10]
    command = RegisterUser(
        email=f"{tag}@example.com", password="x" * 12, display_name=f"L {tag}", handle=f"l_{tag}"
    )
    async with connection.transaction():
        registered = await register_user(connection, command, "not-a-hash", now=at, request_id=REQUEST_ID)
    return registered.account.id


async def _play(connection: asyncpg.Connection, user_id: uuid.UUID, operations: Sequence[Operation]) -> None:
    """The operations through the one-at-a-time commands, each in its own transaction at its own time."""
    for op in operations:
        assert op.at is not None
        async with connection.transaction():
            match op:
                case LogWorkout() | AmendWorkout():
                    version = await connection.fetchval(
                        "SELECT version FROM workouts WHERE id = $1", op.workout_id
                    )
                    await put_workout(
                        connection,
                        user_id=user_id,
                        workout_id=op.workout_id,
                        workout=op.workout,
                        if_match=None if version is None else IfMatch(versions=frozenset({version})),
                        now=op.at,
                        request_id=REQUEST_ID,
                    )
                case DeleteWorkout():
                    await delete_workout(
                        connection,
                        user_id=user_id,
                        workout_id=op.workout_id,
                        now=op.at,
                        request_id=REQUEST_ID,
                    )
                case RecordBodyweight():
                    await put_bodyweight(
                        connection,
                        user_id=user_id,
                        day=op.day,
                        weight=op.weight,
                        now=op.at,
                        request_id=REQUEST_ID,
                    )
                case FollowUser():
                    await follow(
                        connection,
                        user_id=user_id,
                        followee_id=op.followee_id,
                        now=op.at,
                        request_id=REQUEST_ID,
                    )


_SNAPSHOT = {
    "workouts": "SELECT * FROM workouts WHERE user_id = $1",
    "workout_exercises": "SELECT e.* FROM workout_exercises e JOIN workouts w ON w.id = e.workout_id "
    "WHERE w.user_id = $1",
    "workout_sets": f"SELECT s.* {SETS} WHERE w.user_id = $1",
    "bodyweights": "SELECT * FROM bodyweights WHERE user_id = $1",
    "follows": "SELECT * FROM follows WHERE follower_id = $1",
    # The registrations differ (handle and name); the rest must not.
    "events": "SELECT version, type, schema_version, payload, occurred_at, request_id FROM events "
    "WHERE user_id = $1 AND version > 1",
    "streams": "SELECT * FROM streams WHERE user_id = $1",
    "projection_pending": "SELECT user_id, version, poked_at FROM projection_pending WHERE user_id = $1",
}


async def _snapshot(
    connection: asyncpg.Connection, user_id: uuid.UUID, names: dict[uuid.UUID, str]
) -> dict[str, list[tuple[Any, ...]]]:
    """Every write-side row of the user, with the user's and the workouts' ids replaced by `names`
    and numbers as stored (so 225.0 and 225 differ)."""
    names = {user_id: "me", **names}

    def plain(value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return names.get(value, str(value))
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, str):
            for key, name in names.items():
                value = value.replace(str(key), name)
        return value

    snapshot = {}
    for table, query in _SNAPSHOT.items():
        rows = [
            tuple((k, plain(v)) for k, v in row.items()) for row in await connection.fetch(query, user_id)
        ]
        snapshot[table] = sorted(rows, key=repr)
    return snapshot


def _renamed(operations: Sequence[Operation], ids: dict[uuid.UUID, uuid.UUID]) -> list[Operation]:
    """The same operations on other workout ids (workout ids are unique across users)."""
    return [
        msgspec.structs.replace(op, workout_id=ids.setdefault(op.workout_id, uuid.uuid4()))
        if isinstance(op, LogWorkout | AmendWorkout | DeleteWorkout)
        else op
        for op in operations
    ]


def _workout(
    started_at: datetime,
    *,
    weight: float = 100.0,
    unit: WeightUnit = "kg",
    exercise_id: str = "barbell-bench-press",
) -> Workout:
    return Workout(
        title="Bench",
        started_at=started_at,
        ended_at=started_at + timedelta(minutes=50),
        notes="Long rests",
        exercises=[
            WorkoutExercise(
                exercise_id=exercise_id,
                superset_group=1,
                notes="Paused",
                sets=[
                    WorkoutSet(type="warmup", reps=8, weight=Weight(60, "kg")),
                    WorkoutSet(reps=5, weight=Weight(weight, unit), rpe=8.5),
                    WorkoutSet(reps=4, weight=Weight(224.9, "lb"), rir=1),
                    WorkoutSet(type="failure", reps=2, weight=Weight(weight, unit), completed=False),
                ],
            ),
            WorkoutExercise(
                exercise_id="pull-up", sets=[WorkoutSet(reps=10), WorkoutSet(reps=8, weight=Weight(5, "kg"))]
            ),
        ],
    )


async def test_a_batch_writes_the_rows_and_events_of_the_one_at_a_time_commands(
    db: asyncpg.Connection,
) -> None:
    plan = plan_users(3, 2, 3, TODAY)
    start = plan.users[0].registered_at - timedelta(minutes=5)
    one, batch, followee = [await _register(db, at=start) for _ in range(3)]
    t = plan.until + timedelta(hours=1)
    first_logged = next(
        op for op in history_of(plan, 0, [one, followee]).operations if isinstance(op, LogWorkout)
    )
    x1, x2 = uuid.uuid4(), uuid.uuid4()
    extra: list[Operation] = [
        LogWorkout(workout_id=x1, workout=_workout(t - timedelta(hours=1)), at=t),
        LogWorkout(workout_id=x2, workout=_workout(t, weight=225.0, unit="lb"), at=t + timedelta(minutes=1)),
        AmendWorkout(
            workout_id=x1, workout=_workout(t - timedelta(hours=1), weight=102.5), at=t + timedelta(minutes=2)
        ),
        AmendWorkout(
            workout_id=x1, workout=_workout(t - timedelta(hours=1), weight=102.5), at=t + timedelta(minutes=3)
        ),
        DeleteWorkout(workout_id=x2, at=t + timedelta(minutes=4)),
        DeleteWorkout(workout_id=x2, at=t + timedelta(minutes=5)),
        RecordBodyweight(day=t.date(), weight=Weight(80.5, "kg"), at=t + timedelta(minutes=6)),
        RecordBodyweight(day=t.date(), weight=Weight(80.5, "kg"), at=t + timedelta(minutes=7)),
        RecordBodyweight(day=t.date(), weight=Weight(178.4, "lb"), at=t + timedelta(minutes=8)),
        FollowUser(followee_id=followee, at=t + timedelta(minutes=9)),
        FollowUser(followee_id=followee, at=t + timedelta(minutes=10)),
        AmendWorkout(
            workout_id=first_logged.workout_id,
            workout=msgspec.structs.replace(first_logged.workout, title="Renamed"),
            at=t + timedelta(minutes=11),
        ),
        DeleteWorkout(workout_id=first_logged.workout_id, at=t + timedelta(minutes=12)),
    ]
    operations = [*history_of(plan, 0, [one, followee]).operations, *extra]
    assert len(operations) > 30 and {type(op) for op in operations} >= {LogWorkout, RecordBodyweight}

    await _play(db, one, operations)
    ids: dict[uuid.UUID, uuid.UUID] = {}
    recorded = await record_histories(
        db, [History(batch, _renamed(operations, ids))], now=clock.now(), request_id=REQUEST_ID
    )

    names = {workout_id: f"w{i}" for i, workout_id in enumerate(ids)}
    expected = await _snapshot(db, one, names)
    written = await _snapshot(db, batch, {renamed: names[original] for original, renamed in ids.items()})
    assert written == expected
    assert recorded.events == len(expected["events"])
    assert recorded.stream_versions == {batch: len(expected["events"]) + 1}
    assert recorded.sets == len(expected["workout_sets"]) > 0
    assert {row[1][1] for row in expected["events"]} >= {"WorkoutAmended", "WorkoutDeleted", "Followed"}


async def _counts(connection: asyncpg.Connection, users: list[uuid.UUID]) -> list[Any]:
    return [
        await connection.fetchval(query, users)
        for query in (
            "SELECT count(*) FROM workouts WHERE user_id = ANY($1)",
            "SELECT count(*) FROM events WHERE user_id = ANY($1)",
            "SELECT count(*) FROM bodyweights WHERE user_id = ANY($1)",
            "SELECT count(*) FROM follows WHERE follower_id = ANY($1)",
            "SELECT array_agg(version ORDER BY user_id) FROM streams WHERE user_id = ANY($1)",
            "SELECT array_agg(version ORDER BY user_id) FROM projection_pending WHERE user_id = ANY($1)",
        )
    ]


Refusal = Callable[[uuid.UUID, uuid.UUID, datetime], list[Operation]]
AT = datetime(2026, 11, 2, 18, tzinfo=UTC)
TAKEN, TWICE = uuid.uuid4(), uuid.uuid4()


@pytest.mark.parametrize(
    ("refusal", "error", "field"),
    [
        (lambda me, other, t: [LogWorkout(uuid.uuid4(), _workout(t, exercise_id="no-such-lift"), t)],
         InvalidInput, "operations[1].workout.exercises[0].exerciseId"),
        (lambda me, other, t: [LogWorkout(uuid.uuid4(), _workout(t, weight=1600), t)],
         InvalidInput, "operations[1].workout.exercises[0].sets[1].weight.value"),
        (lambda me, other, t: [RecordBodyweight(t.date(), Weight(500, "kg"), t)],
         InvalidInput, "operations[1].weight.value"),
        (lambda me, other, t: [RecordBodyweight(t.date() + timedelta(days=3), Weight(80, "kg"), t)],
         InvalidInput, "operations[1].date"),
        (lambda me, other, t: [FollowUser(me, t)], InvalidInput, "operations[1].userId"),
        (lambda me, other, t: [FollowUser(uuid.uuid4(), t)], NotFound, "operations[1]"),
        (lambda me, other, t: [AmendWorkout(uuid.uuid4(), _workout(t), t)],
         NotFound, "operations[1].workoutId"),
        (lambda me, other, t: [LogWorkout(TAKEN, _workout(t), t)], Conflict, "workoutId"),
        (lambda me, other, t: [LogWorkout(TWICE, _workout(t), t), LogWorkout(TWICE, _workout(t), t)],
         Conflict, "workoutId"),
        (lambda me, other, t: [LogWorkout(uuid.uuid4(), _workout(t), clock.now() + timedelta(hours=1))],
         InvalidInput, "operations[1].at"),
    ],
    ids=["unknown exercise", "too heavy", "body weight", "future day", "self", "no followee", "amend unknown",
         "taken id", "logged twice", "after now"],
)  # fmt: skip
async def test_a_bad_operation_refuses_the_whole_batch(
    db: asyncpg.Connection, refusal: Refusal, error: type[DomainError], field: str
) -> None:
    me, other = (
        await _register(db, at=AT - timedelta(days=30)),
        await _register(db, at=AT - timedelta(days=30)),
    )
    if await db.fetchval("SELECT count(*) FROM workouts WHERE id = $1", TAKEN) == 0:
        async with db.transaction():
            await put_workout(
                db,
                user_id=other,
                workout_id=TAKEN,
                workout=_workout(AT),
                if_match=None,
                now=AT,
                request_id=None,
            )
    before = await _counts(db, [me, other])
    fine: list[Operation] = [
        LogWorkout(uuid.uuid4(), _workout(AT - timedelta(days=2)), AT - timedelta(days=2)),
        RecordBodyweight(AT.date(), Weight(81, "kg"), AT),
        FollowUser(me, AT),
    ]
    mine = [
        LogWorkout(uuid.uuid4(), _workout(AT - timedelta(days=1)), AT - timedelta(days=1)),
        *refusal(me, other, AT),
    ]

    with pytest.raises(error) as refused:
        await record_histories(
            db, [History(other, fine), History(me, mine)], now=clock.now(), request_id=None
        )

    assert (refused.value.field or "").endswith(field)
    assert await _counts(db, [me, other]) == before


async def test_an_amendment_after_a_deletion_is_gone(db: asyncpg.Connection) -> None:
    me = await _register(db, at=AT - timedelta(days=30))
    workout_id = uuid.uuid4()
    operations: list[Operation] = [
        LogWorkout(workout_id, _workout(AT), AT + timedelta(hours=1)),
        DeleteWorkout(workout_id, AT + timedelta(hours=2)),
        AmendWorkout(workout_id, _workout(AT, weight=90), AT + timedelta(hours=3)),
    ]
    with pytest.raises(Gone):
        await record_histories(db, [History(me, operations)], now=clock.now(), request_id=None)
    assert await db.fetchval("SELECT count(*) FROM workouts WHERE id = $1", workout_id) == 0


async def test_an_empty_history_appends_nothing_and_an_untimed_operation_happens_now(
    db: asyncpg.Connection,
) -> None:
    me = await _register(db, at=AT - timedelta(days=30))
    nothing = await record_histories(db, [History(me, [])], now=clock.now(), request_id=None)
    assert (nothing.workouts, nothing.events, nothing.stream_versions) == (0, 0, {})
    assert await db.fetchval("SELECT version FROM streams WHERE user_id = $1", me) == 1

    now = clock.now().replace(microsecond=0)
    logged = await record_histories(
        db, [History(me, [LogWorkout(uuid.uuid4(), _workout(AT))])], now=now, request_id=None
    )
    assert logged.stream_versions == {me: 2}
    created = await db.fetchval("SELECT created_at FROM workouts WHERE user_id = $1", me)
    occurred = await db.fetchval("SELECT occurred_at FROM events WHERE user_id = $1 AND version = 2", me)
    assert created == occurred == now


def test_a_seed_gives_the_same_histories_and_another_seed_other_ones() -> None:
    ids = [uuid.UUID(int=n) for n in range(5)]

    def generated(seed_value: int) -> bytes:
        plan = plan_users(seed_value, 5, 4, TODAY)
        return msgspec.json.encode([plan, [history_of(plan, n, ids) for n in range(5)]])

    assert generated(8) == generated(8)
    assert generated(8) != generated(9)


def test_seeded_histories_are_plausible() -> None:
    users, months = 40, 6
    plan = plan_users(5, users, months, TODAY)
    histories = [history_of(plan, n, [uuid.UUID(int=i) for i in range(users)]) for n in range(users)]
    operations = [op for history in histories for op in history.operations]
    kinds = Counter(type(op).__name__ for op in operations)
    logged = [op for op in operations if isinstance(op, LogWorkout)]

    assert 0.45 <= sum(u.leaderboard_opt_in for u in plan_users(5, 400, 1, TODAY).users) / 400 <= 0.75
    assert (
        all(0 <= len(u.follows) <= 10 for u in plan.users) and sum(len(u.follows) for u in plan.users) > users
    )
    assert (
        0.003 < kinds["AmendWorkout"] / len(logged) < 0.04
        and 0.003 < kinds["DeleteWorkout"] / len(logged) < 0.04
    )
    for history in histories:
        assert [op.at for op in history.operations] == sorted(op.at for op in history.operations)  # type: ignore[type-var]
        weeks = Counter(
            op.workout.started_at.isocalendar()[:2] for op in history.operations if isinstance(op, LogWorkout)
        )
        assert max(weeks.values()) <= 5 and len(weeks) >= months * 3
        weigh_ins = [op for op in history.operations if isinstance(op, RecordBodyweight)]
        assert months * 3 <= len(weigh_ins) <= months * 5 and len({op.weight.unit for op in weigh_ins}) == 1
    sets = [s for op in logged for e in op.workout.exercises for s in e.sets]
    assert all(4 <= len(op.workout.exercises) <= 8 for op in logged)
    assert {exercise(e.exercise_id).measurement for op in logged for e in op.workout.exercises} == {
        "weight_reps"
    }  # type: ignore[union-attr]
    assert all(s.reps is not None and s.weight is not None for s in sets)
    types = Counter(s.type for s in sets)
    assert types["warmup"] > len(logged) // 2 and types["failure"] > 0 and types["normal"] > 10 * len(logged)
    assert (
        any(s.rpe for s in sets)
        and any(s.rir is not None for s in sets)
        and any(not s.completed for s in sets)
    )
    assert all(op.workout.ended_at and op.workout.started_at < op.workout.ended_at <= op.at for op in logged)  # type: ignore[operator]
    assert len({op.workout.started_at.utcoffset() for op in logged}) > 3  # lifters live in several time zones
    # Progressive overload: most lifters' first lift is heavier in the last quarter than in the first,
    # and nobody's is much lighter (advanced lifters gain little, deload weeks take some off).
    gains = []
    for history in histories:
        first = [op.workout.exercises[0] for op in history.operations if isinstance(op, LogWorkout)]
        lift = Counter(e.exercise_id for e in first).most_common(1)[0][0]
        loads = [max(s.weight.value for s in e.sets if s.weight) for e in first if e.exercise_id == lift]
        quarter = len(loads) // 4
        gains.append(sum(loads[-quarter:]) / sum(loads[:quarter]))
    assert sum(gain > 1 for gain in gains) >= 0.8 * users and min(gains) > 0.95


async def test_seeding_writes_histories_whose_read_models_add_up(
    own: Settings, db: asyncpg.Connection
) -> None:
    result = await seed(own, users=4, months=2, seed=41, today=TODAY)

    users = await db.fetch(
        "SELECT id, handle, leaderboard_opt_in FROM users WHERE email LIKE 'seed-41-%' ORDER BY handle"
    )
    ids = [row["id"] for row in users]
    assert len(users) == result.users == 4
    assert (
        result.workouts
        == await db.fetchval("SELECT count(*) FROM workouts WHERE user_id = ANY($1)", ids)
        > 40
    )
    assert result.events == await db.fetchval("SELECT count(*) FROM events WHERE user_id = ANY($1)", ids)
    assert result.sets == await db.fetchval(
        f"SELECT count(*) {SETS} WHERE w.user_id = ANY($1)",
        ids,
    )
    assert await db.fetchval("SELECT count(*) FROM projection_pending WHERE user_id = ANY($1)", ids) == 4

    pool = await asyncpg.create_pool(own.database.url, min_size=1, max_size=2)
    redis = Redis.from_url(own.redis.url or "")
    try:
        for user_id in ids:
            outcome = await project_user(pool, redis, Keys(own.redis.prefix), user_id)
            assert not outcome.parked
    finally:
        await redis.aclose()
        await pool.close()
    assert await db.fetchval("SELECT count(*) FROM projection_pending WHERE user_id = ANY($1)", ids) == 0

    squat = "barbell-back-squat"
    squatters = {
        row["user_id"]
        for row in await db.fetch(
            """
            SELECT DISTINCT w.user_id FROM workout_sets s JOIN workouts w ON w.id = s.workout_id
            JOIN workout_exercises e ON (e.workout_id, e.position) = (s.workout_id, s.exercise_position)
            WHERE w.user_id = ANY($1) AND w.deleted_at IS NULL AND e.exercise_id = $2 AND s.completed
                AND s.type <> 'warmup'
            """,
            ids,
            squat,
        )
    }
    async with AsyncTestClient(app=create_app(own)) as client:
        for row in users:
            headers = access_headers(own, user_id=row["id"])
            dashboard = (await client.get("/v1/stats/dashboard", headers=headers)).json()
            live = await db.fetchval(
                "SELECT count(*) FROM workouts WHERE user_id = $1 AND deleted_at IS NULL", row["id"]
            )
            working_sets = await db.fetchval(
                """
                SELECT count(*) FROM workout_sets s JOIN workouts w ON w.id = s.workout_id
                WHERE w.user_id = $1 AND w.deleted_at IS NULL AND s.completed AND s.type <> 'warmup'
                """,
                row["id"],
            )
            assert dashboard["totals"]["workouts"] == live
            assert dashboard["totals"]["sets"] == working_sets
        board = (
            await client.get(
                "/v1/leaderboards/e1rm", params={"exerciseId": squat, "limit": 100}, headers=headers
            )
        ).json()
    on_board = {entry["handle"] for entry in board["top"]}
    assert on_board == {
        row["handle"] for row in users if row["leaderboard_opt_in"] and row["id"] in squatters
    }
    assert any(row["leaderboard_opt_in"] for row in users)


#: What registering differs in each time: a random id, a salted hash, the time of the profile update.
USER_NOISE = {"id", "password_hash", "updated_at"}


async def _seeded(connection: asyncpg.Connection, seed_value: int) -> dict[str, list[Any]]:
    """The rows and events of one seed's users, with user ids replaced by handles."""
    users = await connection.fetch("SELECT id, handle FROM users WHERE email LIKE $1", f"seed-{seed_value}-%")
    handles = {row["id"]: row["handle"] for row in users}

    def plain(value: Any) -> Any:
        if isinstance(value, str):
            for user_id, handle in handles.items():
                value = value.replace(str(user_id), handle)
        return handles.get(value, value) if isinstance(value, uuid.UUID) else value

    written = {}
    for table, query in {
        "users": "SELECT * FROM users WHERE id = ANY($1)",
        "workouts": "SELECT * FROM workouts WHERE user_id = ANY($1)",
        "sets": f"SELECT s.* {SETS} WHERE w.user_id = ANY($1)",
        "bodyweights": "SELECT * FROM bodyweights WHERE user_id = ANY($1)",
        "follows": "SELECT * FROM follows WHERE follower_id = ANY($1)",
        "events": "SELECT user_id, version, type, payload, occurred_at FROM events WHERE user_id = ANY($1)",
    }.items():
        rows = await connection.fetch(query, list(handles))
        written[table] = sorted(
            (
                tuple((k, plain(v)) for k, v in row.items() if table != "users" or k not in USER_NOISE)
                for row in rows
            ),
            key=repr,
        )
    return written


async def test_the_same_seed_writes_the_same_data_to_another_database(
    own: Settings, db: asyncpg.Connection, fresh_database: str
) -> None:
    other = _own(own, fresh_database, f"{own.redis.prefix}again:")
    await migrate(other)
    connection = await asyncpg.connect(fresh_database)
    try:
        await seed(own, users=3, months=1, seed=42, today=TODAY)
        await seed(other, users=3, months=1, seed=42, today=TODAY)
        first, again = await _seeded(db, 42), await _seeded(connection, 42)
    finally:
        await connection.close()
        await delete_prefix(own.redis.url or "", other.redis.prefix)
        await delete_prefix(own.redis.broker_url or "", other.redis.prefix)

    assert len(first["users"]) == 3 and len(first["workouts"]) > 10 and first["follows"]
    assert first == again


def test_the_seed_command_writes_and_reports_and_refuses_a_seed_twice(own: Settings) -> None:
    env = {**os.environ, "DATABASE_URL": own.database.url or "", "IRONLOG_REDIS_PREFIX": own.redis.prefix}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api", "seed", "--users", "3", "--months", "1", "--seed", "51"],
            env=env, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    first = run()
    assert first.returncode == 0, first.stderr
    assert "seeded 3 users: " in first.stdout and " sets, " in first.stdout and "workouts/s" in first.stdout
    assert "3/3 users" in first.stderr
    again = run()
    assert again.returncode == 1 and "choose another --seed" in again.stderr
