"""Properties of the write and projection paths, on the real Postgres and Redis.

Any valid workout round-trips through the event log unchanged. Random log / amend / delete
sequences, with pokes duplicated, reordered, dropped and delivered concurrently, end (once the
sweeper has run) with every read model, in Postgres and in Redis, equal to a from-scratch fold.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from datetime import UTC, timedelta, timezone
from typing import Any, TypeVar, get_args

import asyncpg
import hypothesis
import msgspec
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from redis.asyncio import Redis

from commands.accounts import RegisterUser, UpdateProfile, register_user, update_profile
from commands.events import (
    EVENT_DECODER,
    EVENT_ENCODER,
    E1rmFormula,
    WeekStart,
    Weight,
    WeightUnit,
    Workout,
    WorkoutAmended,
    WorkoutDeleted,
    WorkoutExercise,
    WorkoutLogged,
    WorkoutSet,
)
from commands.versioning import IfMatch
from commands.workouts import WorkoutWritten, delete_workout, put_workout, validate_workout
from core import clock
from core.catalog import BUILT_IN, Muscle, exercise
from core.measurements import missing_fields
from core.redis import Keys
from core.replicas import ReadPools
from core.settings import Settings
from projections import runner
from projections.batch import exercise_name
from projections.cache import DocumentCache, DocumentKeys
from projections.dashboard import build_dashboard, local_date, muscle_sets, rebucket
from projections.documents import RecordMark, WeekTotals, WorkoutSummary
from projections.packing import unpack
from projections.records import RECORD_NAMES, ExerciseSession, record_marks, sessions_of
from projections.runner import Outcome, RunnerSettings, project_user
from projections.store import DASHBOARD_DECODER, DOCUMENT_DECODER, SUMMARY_DECODER
from projections.sweeper import SweepSettings, sweep
from projections.sync import HOT_WORKOUTS
from projections.workouts import document, summarize
from queries.announcements import Announcements
from queries.consistency import ProjectionNotifications
from queries.memory_cache import MemoryCache
from queries.readmodels import ReadModels, Served

T = TypeVar("T")


def _catalog_muscles(exercise_id: str) -> tuple[tuple[Muscle, ...], tuple[Muscle, ...]]:
    found = exercise(exercise_id)
    return (found.primary_muscles, found.secondary_muscles) if found else ((), ())


FAKE_PASSWORD_HASH = "$argon2id$test"  # never verified here; hashing would only slow the examples
NOW = clock.now()
TWO_YEARS_US = 2 * 365 * 86_400 * 10**6
AHEAD_US = 23 * 3600 * 10**6  # under the 24 h a start may lie in the future
SHARED_STARTS_US = (-3 * 86_400 * 10**6, -86_400 * 10**6, 0)
EXERCISE_IDS = sorted(entry.id for entry in BUILT_IN)

# Whole-minute offsets, as RFC 3339 carries them; UTC itself encodes as "Z".
ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=1)),
        timezone(timedelta(hours=-5)),
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=14)),
        timezone(timedelta(hours=-12)),
    ]
)


def _text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    # Postgres text and jsonb refuse NUL, and lone surrogates are not UTF-8; all else is fair.
    alphabet = st.characters(codec="utf-8", exclude_characters="\x00")
    return st.text(alphabet, min_size=min_size, max_size=max_size)


def _two_decimals(high: int) -> st.SearchStrategy[float]:
    """0..high with at most 2 decimals, as a lifter types it (c / 100 reprs as exactly 2 decimals)."""
    return st.integers(0, high * 100).map(lambda cents: cents / 100)


WEIGHTS = st.builds(Weight, value=_two_decimals(300), unit=st.sampled_from(["kg", "lb"]))

SETS = st.builds(
    WorkoutSet,
    type=st.sampled_from(["warmup", "normal", "drop", "failure"]),
    reps=st.none() | st.integers(0, 1000),
    weight=st.none() | WEIGHTS,
    duration_s=st.none() | st.integers(0, 86_400),
    distance_m=st.none() | _two_decimals(100_000),
    rpe=st.none() | st.integers(2, 20).map(lambda halves: halves / 2),
    rir=st.none() | st.integers(0, 10),
    completed=st.booleans(),
)


def _fit(workout_set: WorkoutSet, exercise_id: str) -> WorkoutSet:
    """The set with the fields its exercise's measurement kind requires filled in."""
    found = exercise(exercise_id)
    assert found is not None
    defaults: dict[str, Any] = {
        "reps": 5,
        "weight": Weight(value=20.0, unit="kg"),
        "durationS": 60,
        "distanceM": 1000.0,
    }
    names = {"reps": "reps", "weight": "weight", "durationS": "duration_s", "distanceM": "distance_m"}
    missing = missing_fields(
        found.measurement,
        reps=workout_set.reps,
        has_weight=workout_set.weight is not None,
        duration_s=workout_set.duration_s,
        distance_m=workout_set.distance_m,
    )
    return msgspec.structs.replace(workout_set, **{names[field]: defaults[field] for field in missing})


@st.composite
def exercises(draw: st.DrawFn, max_sets: int) -> WorkoutExercise:
    exercise_id = draw(st.sampled_from(EXERCISE_IDS))
    return WorkoutExercise(
        exercise_id=exercise_id,
        sets=[_fit(s, exercise_id) for s in draw(st.lists(SETS, max_size=max_sets))],
        notes=draw(st.none() | _text(0, 40)),
        superset_group=draw(st.none() | st.integers(1, 50)),
    )


@st.composite
def workouts(draw: st.DrawFn, max_exercises: int = 6, max_sets: int = 6) -> Workout:
    """A valid Workout: starts within two years of now (at most 23 h ahead), lasts at most 24 h."""
    zone = draw(ZONES)
    # Often one of a few starts, so that sessions tie on their start and their order is the workout id's.
    offset = draw(st.sampled_from(SHARED_STARTS_US) | st.integers(-TWO_YEARS_US, AHEAD_US))
    started_at = (NOW + timedelta(microseconds=offset)).astimezone(zone)
    lasted = draw(
        st.none() | st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(hours=24))
    )
    return Workout(
        title=draw(_text(1, 200)),
        started_at=started_at,
        ended_at=None if lasted is None else started_at + lasted,
        exercises=draw(st.lists(exercises(max_sets), max_size=max_exercises)),
        routine_id=draw(st.none() | st.uuids()),
        notes=draw(st.none() | _text(0, 40)),
    )


async def register(connection: asyncpg.Connection) -> uuid.UUID:
    """A new user (stream version 1: UserRegistered), committed."""
    tag = uuid.uuid4().hex[:12]
    command = RegisterUser(
        email=f"prop-{tag}@example.com",
        password="not-hashed-here-42",
        display_name=f"Prop {tag}",
        handle=f"prop_{tag}",
    )
    async with connection.transaction():
        registered = await register_user(
            connection, command, FAKE_PASSWORD_HASH, now=clock.now(), request_id=None
        )
    assert registered.stream_version == 1
    return registered.account.id


async def event_count(connection: asyncpg.Connection, user_id: uuid.UUID) -> int:
    count: int = await connection.fetchval("SELECT count(*) FROM events WHERE user_id = $1", user_id)
    return count


# 1. The strategy itself


@given(workout=workouts())
def test_generated_workouts_pass_validation_and_struct_constraints(workout: Workout) -> None:
    validate_workout(workout, clock.now())
    encoded = EVENT_ENCODER.encode(workout)
    assert msgspec.json.decode(encoded, type=Workout) == workout  # decoding checks every Meta bound


# 2. The event log carries any valid workout unchanged


@pytest.fixture
async def lifter(settings: Settings) -> AsyncIterator[tuple[asyncpg.Connection, uuid.UUID]]:
    """One registered user and a connection, shared by every example of a test."""
    connection = await asyncpg.connect(settings.database.url)
    try:
        yield connection, await register(connection)
    finally:
        await connection.close()


@hypothesis.settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(workout=workouts())
async def test_any_valid_workout_survives_put_and_the_event_log_unchanged(
    lifter: tuple[asyncpg.Connection, uuid.UUID], workout: Workout
) -> None:
    connection, user_id = lifter
    workout_id = uuid.uuid4()
    async with connection.transaction():
        written = await put_workout(
            connection,
            user_id=user_id,
            workout_id=workout_id,
            workout=workout,
            if_match=None,
            now=clock.now(),
            request_id=None,
        )
    assert (written.outcome, written.workout_version) == ("created", 1)
    carried = await connection.fetchval(
        """
        SELECT payload->'workout' FROM events
        WHERE user_id = $1 AND type = 'WorkoutLogged' AND payload->>'workoutId' = $2
        ORDER BY version DESC LIMIT 1
        """,
        user_id,
        str(workout_id),
    )
    decoded = msgspec.json.decode(carried, type=Workout)
    assert decoded == workout
    # Equal is by instant; the encoding also keeps each offset and every number as entered.
    assert EVENT_ENCODER.encode(decoded) == EVENT_ENCODER.encode(workout)

    before = await event_count(connection, user_id)
    async with connection.transaction():
        again = await put_workout(
            connection,
            user_id=user_id,
            workout_id=workout_id,
            workout=workout,
            if_match=None,
            now=clock.now(),
            request_id=None,
        )
    assert (again.outcome, again.workout_version, again.stream_version) == (
        "unchanged",
        1,
        written.stream_version,
    )
    assert await event_count(connection, user_id) == before


# 3. Deliveries duplicated, reordered, dropped and concurrent; the sweeper; a from-scratch fold

_SETTINGS: Settings | None = None


@pytest.fixture(autouse=True)
def _settings_for_state_machines(settings: Settings) -> Iterator[None]:
    """Hypothesis state machines get no fixtures: hand them this run's settings through a global."""
    global _SETTINGS  # noqa: PLW0603
    _SETTINGS = settings
    yield
    _SETTINGS = None


def _week_rows(weeks: dict[Any, WeekTotals]) -> dict[Any, tuple[int, int, float, int]]:
    return {
        week: (totals.workouts, totals.sets, round(totals.volume_kg, 2), totals.duration_s)
        for week, totals in weeks.items()
    }


def _latest(summaries: list[WorkoutSummary]) -> WorkoutSummary | None:
    """The feed's first entry: latest start, ties broken by the larger id (as Postgres orders uuids)."""
    return max(summaries, key=lambda summary: (summary.started_at, summary.id), default=None)


class ProjectionMachine(RuleBasedStateMachine):
    """One fresh user per example; the model keeps each live workout's last body and version."""

    def __init__(self) -> None:
        super().__init__()
        assert _SETTINGS is not None, "the autouse settings fixture did not run"
        settings = _SETTINGS
        assert settings.database.url and settings.redis.url
        self.loop = asyncio.new_event_loop()
        self.keys = Keys(f"{settings.redis.prefix}prop:{uuid.uuid4().hex[:8]}:")
        self.pool: asyncpg.Pool = self.run(self._open_pool(settings.database.url))
        self.redis = Redis.from_url(settings.redis.url)
        self.user_id = self.run(self._register())
        self.names = DocumentKeys(self.keys, self.user_id)
        self.stream_version = 1
        self.projected = 0  # the checkpoint, as the deliveries so far must have left it
        self.live: dict[uuid.UUID, tuple[Workout, int]] = {}  # in the order logged
        self.deleted: set[uuid.UUID] = set()
        self.logged = 0
        self.pokes: list[int] = [1]  # pokes not yet acknowledged: the stream version each one is for
        # the profile as registered
        self.formula: E1rmFormula = "epley"
        self.timezone = "UTC"
        self.week_start: WeekStart = "monday"
        self.unit: WeightUnit = "kg"
        # an API process's reads: its memory cache, told by the runner's announcements
        self.memory = MemoryCache(1 << 24)
        self.announcements = Announcements(Redis.from_url(settings.redis.url), self.keys, self.memory)
        self.notifications = ProjectionNotifications(self.redis, self.keys)
        self.reads = ReadModels(
            ReadPools(settings, self.pool), self.redis, self.keys, self.notifications, 2.0, memory=self.memory
        )
        self.run(self.announcements.wait_live(10))
        self.markers = 0

    # plumbing

    def run(self, awaitable: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(awaitable)

    @staticmethod
    async def _open_pool(url: str) -> asyncpg.Pool:
        return await asyncpg.create_pool(url, min_size=1, max_size=4)

    async def _register(self) -> uuid.UUID:
        async with self.pool.acquire() as connection:
            return await register(connection)

    async def _command(self, call: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        async with self.pool.acquire() as connection, connection.transaction():
            return await call(connection)

    async def _put(self, workout_id: uuid.UUID, workout: Workout, if_match: int | None) -> WorkoutWritten:
        return await self._command(
            lambda connection: put_workout(
                connection,
                user_id=self.user_id,
                workout_id=workout_id,
                workout=workout,
                if_match=None if if_match is None else IfMatch(versions=frozenset({if_match})),
                now=clock.now(),
                request_id=None,
            )
        )

    async def _project(self, batch_size: int = 200, refresh_dashboard: bool = False) -> Outcome:
        return await project_user(
            self.pool,
            self.redis,
            self.keys,
            self.user_id,
            settings=RunnerSettings(batch_size=batch_size),
            refresh_dashboard=refresh_dashboard,
        )

    def _new_workout_id(self) -> uuid.UUID:
        """Ordered as the model logged them, so that workouts starting at the same instant break their tie
        the same way when a failing example is replayed; unique across examples by random low bits."""
        self.logged += 1
        return uuid.UUID(int=(self.logged << 96) | (uuid.uuid4().int & ((1 << 96) - 1)))

    def _committed(self, stream_version: int) -> None:
        self.stream_version += 1
        assert stream_version == self.stream_version
        self.pokes.append(stream_version)

    def _delivered(self, outcomes: list[Outcome]) -> None:
        """Each event was applied exactly once across these deliveries; the checkpoint moved to the end."""
        reached = max(outcome.version for outcome in outcomes)
        assert sum(outcome.applied for outcome in outcomes) == reached - self.projected
        assert all(outcome.synced and not outcome.parked for outcome in outcomes)
        self.projected = reached

    # commands

    @rule(workout=workouts(max_exercises=3, max_sets=3))
    def log(self, workout: Workout) -> None:
        workout_id = self._new_workout_id()
        written = self.run(self._put(workout_id, workout, None))
        assert (written.outcome, written.workout_version) == ("created", 1)
        self.live[workout_id] = (workout, 1)
        self._committed(written.stream_version)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data(), workout=workouts(max_exercises=3, max_sets=3))
    def amend(self, data: st.DataObject, workout: Workout) -> None:
        self._amend(data.draw(st.sampled_from(list(self.live)), label="workout"), workout)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data(), title=_text(1, 200), notes=st.none() | _text(0, 50))
    def retitle(self, data: st.DataObject, title: str, notes: str | None) -> None:
        """An amendment that reaches the same bests at the same time: records and marks stay."""
        workout_id = data.draw(st.sampled_from(list(self.live)), label="workout")
        current, _ = self.live[workout_id]
        self._amend(workout_id, msgspec.structs.replace(current, title=title, notes=notes))

    def _amend(self, workout_id: uuid.UUID, workout: Workout) -> None:
        current, version = self.live[workout_id]
        written = self.run(self._put(workout_id, workout, version))
        if EVENT_ENCODER.encode(workout) == EVENT_ENCODER.encode(current):
            assert (written.outcome, written.stream_version) == ("unchanged", self.stream_version)
            return
        assert (written.outcome, written.workout_version) == ("amended", version + 1)
        self.live[workout_id] = (workout, version + 1)
        self._committed(written.stream_version)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        workout_id = data.draw(st.sampled_from(list(self.live)), label="workout")
        deletion = self.run(
            self._command(
                lambda connection: delete_workout(
                    connection,
                    user_id=self.user_id,
                    workout_id=workout_id,
                    now=clock.now(),
                    request_id=None,
                )
            )
        )
        assert deletion.deleted
        del self.live[workout_id]
        self.deleted.add(workout_id)
        self._committed(deletion.stream_version)

    # deliveries

    @rule(
        formula=st.sampled_from(get_args(E1rmFormula)),
        zone=st.sampled_from(["UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Chatham"]),
        week_start=st.sampled_from(get_args(WeekStart)),
        unit=st.sampled_from(get_args(WeightUnit)),
    )
    def change_profile(
        self, formula: E1rmFormula, zone: str, week_start: WeekStart, unit: WeightUnit
    ) -> None:
        command = UpdateProfile(e1rm_formula=formula, timezone=zone, week_start=week_start, unit=unit)
        updated = self.run(
            self._command(
                lambda connection: update_profile(
                    connection, self.user_id, command, now=clock.now(), request_id=None
                )
            )
        )
        assert updated is not None
        before = (self.formula, self.timezone, self.week_start, self.unit)
        self.formula, self.timezone, self.week_start, self.unit = formula, zone, week_start, unit
        if updated.stream_version is None:
            assert before == (formula, zone, week_start, unit)
        else:
            self._committed(updated.stream_version)

    @precondition(lambda self: bool(self.pokes))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        """Any pending poke, in any order, possibly twice, possibly left for a later redelivery."""
        index = data.draw(st.integers(0, len(self.pokes) - 1), label="poke")
        times = data.draw(st.integers(1, 2), label="times")
        batch_size = data.draw(st.integers(1, 4), label="batch_size")
        sent_for = self.pokes[index]
        for _ in range(times):
            outcome = self.run(self._project(batch_size))
            # The poke's command committed before it was sent, so its delivery covers it.
            assert outcome.version >= sent_for
            assert outcome.version == self.stream_version
            self._delivered([outcome])
        if data.draw(st.booleans(), label="acknowledged"):
            del self.pokes[index]

    @rule(batch_sizes=st.tuples(st.integers(1, 4), st.integers(1, 4)))
    def deliver_concurrently(self, batch_sizes: tuple[int, int]) -> None:
        """Two workers handed the same user at once: each event is still applied exactly once."""

        async def both() -> list[Outcome]:
            return list(await asyncio.gather(*(self._project(size) for size in batch_sizes)))

        outcomes = self.run(both())
        assert [outcome.version for outcome in outcomes] == [self.stream_version] * 2
        self._delivered(outcomes)

    @rule(
        workout=workouts(max_exercises=2, max_sets=2),
        batch_sizes=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    )
    def log_while_delivering(self, workout: Workout, batch_sizes: list[int]) -> None:
        """A write committing during one or two projections, which may or may not see it."""
        workout_id = self._new_workout_id()

        async def together() -> tuple[WorkoutWritten, list[Outcome]]:
            return await asyncio.gather(
                self._put(workout_id, workout, None),
                asyncio.gather(*(self._project(size) for size in batch_sizes)),
            )

        written, outcomes = self.run(together())
        assert written.outcome == "created"
        self.live[workout_id] = (workout, 1)
        self._committed(written.stream_version)
        assert all(self.stream_version - 1 <= outcome.version <= self.stream_version for outcome in outcomes)
        self._delivered(outcomes)

    # invariants

    @invariant()
    def event_versions_have_no_gaps_and_checkpoints_never_run_ahead(self) -> None:
        async def read() -> Any:
            async with self.pool.acquire() as connection:
                return await connection.fetchrow(
                    """
                    SELECT s.version AS stream, e.n, e.low, e.high,
                        COALESCE(c.version, 0) AS checkpoint, COALESCE(c.redis_version, 0) AS redis_version
                    FROM streams s
                    CROSS JOIN (SELECT count(*) AS n, min(version) AS low, max(version) AS high
                                FROM events WHERE user_id = $1) e
                    LEFT JOIN projection_checkpoints c ON c.user_id = s.user_id
                    WHERE s.user_id = $1
                    """,
                    self.user_id,
                )

        row = self.run(read())
        assert (row["stream"], row["n"], row["low"], row["high"]) == (
            self.stream_version,
            self.stream_version,
            1,
            self.stream_version,
        )
        assert row["redis_version"] <= row["checkpoint"] <= row["stream"]
        assert row["checkpoint"] == self.projected

    @invariant()
    def once_projected_every_read_model_matches_the_model(self) -> None:
        """Whenever every write is projected: rm_*, Redis, and the memory cache as an API process reads."""
        if self.projected == self.stream_version:
            self.run(self._compare_everywhere())

    async def _compare_everywhere(self) -> None:
        await self._announcements_heard()
        async with self.pool.acquire() as connection:
            await self._compare_read_models(connection)
            bodies = {
                row["workout_id"]: unpack(row["body"])
                for row in await connection.fetch(
                    "SELECT workout_id, body FROM rm_workout_documents WHERE user_id = $1", self.user_id
                )
            }
            dashboard = bytes(
                await connection.fetchval("SELECT body FROM rm_dashboards WHERE user_id = $1", self.user_id)
            )
        # Read twice: the first may fill the memory cache, the second may be answered from it.
        for _ in range(2):
            for workout_id, body in bodies.items():
                served = await self.reads.workout(self.user_id, workout_id, None)
                assert isinstance(served, Served) and served.body == body
            served = await self.reads.dashboard(self.user_id, None)
            assert served.body == dashboard

    async def _announcements_heard(self) -> None:
        """Until the memory cache has heard every announcement published so far (Redis keeps their order)."""
        self.markers += 1
        marker = uuid.uuid4()
        await self.redis.publish(self.keys.channel("changed", str(marker)), f"{self.markers} ")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while self.memory._explained.get(marker) != self.markers:
            assert loop.time() < deadline, "the announcements were not heard within 10 s"
            await asyncio.sleep(0.005)
        self.memory._explained.pop(marker)

    # the sweeper, then every read model against the fold

    def teardown(self) -> None:
        try:
            self.run(self._sweep_and_compare())
        finally:
            try:
                self.run(self._close())
            finally:
                self.loop.close()

    async def _close(self) -> None:
        try:
            async for key in self.redis.scan_iter(match=self.keys.pattern(), count=500):
                await self.redis.unlink(key)
        finally:
            await self.announcements.stop()
            await self.notifications.stop()
            await self.redis.aclose()
            await self.pool.close()

    async def _sweep_and_compare(self) -> None:
        poked: list[uuid.UUID] = []

        async def poke(user_id: uuid.UUID, refresh_dashboard: bool) -> None:
            # Other tests' users may lag in this database too: only ours is projected here.
            poked.append(user_id)
            if user_id == self.user_id:
                outcome = await self._project(refresh_dashboard=refresh_dashboard)
                self._delivered([outcome])

        lagging = self.projected < self.stream_version
        async with self.pool.acquire() as connection:
            await sweep(connection, poke, SweepSettings(grace_s=0))
        if lagging:
            assert self.user_id in poked, "the sweeper did not find a user whose pokes were dropped"
        assert self.projected == self.stream_version

        async with self.pool.acquire() as connection:
            await self._compare_event_log(connection)
            await self._compare_read_models(connection)

    async def _compare_event_log(self, connection: asyncpg.Connection) -> None:
        """The model is itself a fold: the event log, folded from scratch, gives the same workouts."""
        folded: dict[uuid.UUID, tuple[Workout, int]] = {}
        rows = await connection.fetch(
            "SELECT payload FROM events WHERE user_id = $1 ORDER BY version", self.user_id
        )
        for row in rows:
            event = EVENT_DECODER.decode(row["payload"])
            if isinstance(event, WorkoutLogged | WorkoutAmended):
                folded[event.workout_id] = (event.workout, event.workout_version)
            elif isinstance(event, WorkoutDeleted):
                del folded[event.workout_id]
        assert folded == self.live

    def _record_marks(self) -> dict[uuid.UUID, list[RecordMark]]:
        """Per live workout, the records it set: folded from scratch, exercise by exercise."""
        by_exercise: dict[str, list[ExerciseSession]] = {}
        for workout_id, (workout, _) in self.live.items():
            for session in sessions_of(workout_id, workout, self.formula):
                by_exercise.setdefault(session.exercise_id, []).append(session)
        marks: dict[uuid.UUID, list[RecordMark]] = {workout_id: [] for workout_id in self.live}
        for exercise_id, sessions in by_exercise.items():
            found = exercise(exercise_id)
            measurement = found.measurement if found else "weight_reps"
            for workout_id, bests in record_marks(sessions, measurement).items():
                marks[workout_id] += [
                    RecordMark(exercise_id=exercise_id, name=exercise_name(exercise_id), record=n, value=v)
                    for n, v in bests
                ]
        for workout_id, found_marks in marks.items():
            order = [entry.exercise_id for entry in self.live[workout_id][0].exercises]
            found_marks.sort(key=lambda m: (order.index(m.exercise_id), RECORD_NAMES.index(m.record)))
        return marks

    async def _compare_read_models(self, connection: asyncpg.Connection) -> None:
        user_id = self.user_id
        marks = self._record_marks()
        summaries = {
            workout_id: msgspec.structs.replace(
                summarize(workout_id, version, workout), records=marks[workout_id]
            )
            for workout_id, (workout, version) in self.live.items()
        }
        documents = {
            workout_id: msgspec.structs.replace(
                document(workout_id, version, workout, self.formula, exercise_name),
                records=marks[workout_id],
            )
            for workout_id, (workout, version) in self.live.items()
        }

        # a) summaries; deleted workouts have no rows
        rows = await connection.fetch(
            "SELECT workout_id, started_at, body FROM rm_workout_summaries WHERE user_id = $1", user_id
        )
        assert {row["workout_id"]: SUMMARY_DECODER.decode(row["body"]) for row in rows} == summaries
        assert all(row["started_at"] == summaries[row["workout_id"]].started_at for row in rows)

        # b) detail documents, and the source they are re-derived from
        rows = await connection.fetch(
            "SELECT workout_id, workout_version, source, body FROM rm_workout_documents WHERE user_id = $1",
            user_id,
        )
        document_bodies: dict[uuid.UUID, bytes] = {row["workout_id"]: unpack(row["body"]) for row in rows}
        assert {row["workout_id"]: DOCUMENT_DECODER.decode(unpack(row["body"])) for row in rows} == documents
        for row in rows:
            workout, version = self.live[row["workout_id"]]
            assert row["workout_version"] == version
            assert msgspec.json.decode(unpack(row["source"]), type=Workout) == workout

        # c) weekly totals
        expected_weeks = rebucket(summaries.values(), self.timezone, self.week_start)
        rows = await connection.fetch(
            """
            SELECT week_start, workouts, sets, volume_kg, duration_s FROM rm_weekly_totals
            WHERE user_id = $1
            """,
            user_id,
        )
        stored_weeks = {
            row["week_start"]: (
                row["workouts"],
                row["sets"],
                round(float(row["volume_kg"]), 2),
                row["duration_s"],
            )
            for row in rows
        }
        assert stored_weeks == _week_rows(expected_weeks)

        # d) the dashboard
        dashboard = await connection.fetchrow(
            "SELECT version, body FROM rm_dashboards WHERE user_id = $1", user_id
        )
        today = local_date(clock.now(), self.timezone)
        sessions = [
            session
            for workout_id, (workout, _) in self.live.items()
            for session in sessions_of(workout_id, workout, self.formula)
        ]
        expected_dashboard = build_dashboard(
            expected_weeks,
            _latest(list(summaries.values())),
            today,
            self.timezone,
            self.week_start,
            muscle_sets=muscle_sets(sessions, today, self.timezone, _catalog_muscles),
        )
        assert dashboard is not None
        assert dashboard["version"] == self.stream_version
        assert DASHBOARD_DECODER.decode(dashboard["body"]) == expected_dashboard

        # e) checkpoints, and Redis holding exactly the rm bodies
        checkpoint = await connection.fetchrow(
            "SELECT version, redis_version, parked_version FROM projection_checkpoints WHERE user_id = $1",
            user_id,
        )
        assert tuple(checkpoint) == (self.stream_version, self.stream_version, None)
        cache = DocumentCache(self.redis, self.keys)
        cached = await cache.read(self.names.synced, self.names.dashboard)
        assert (cached.synced, cached.version, cached.body) == (
            self.stream_version,
            dashboard["version"],
            dashboard["body"],
        )
        # The hot set (the HOT_WORKOUTS most recent) is in Redis; an older one only if a read filled it.
        by_recency = sorted(self.live, key=lambda w: (self.live[w][0].started_at, w), reverse=True)
        hot = set(by_recency[:HOT_WORKOUTS])
        for workout_id, (_, version) in self.live.items():
            cached = await cache.read(self.names.synced, self.names.workout(workout_id))
            if workout_id in hot or cached.version is not None:
                assert (cached.body, cached.etag) == (document_bodies[workout_id], f'"{version}"')
        for workout_id in self.deleted:
            cached = await cache.read(self.names.synced, self.names.workout(workout_id))
            assert cached.is_tombstone, f"deleted workout {workout_id} is not a tombstone in Redis"


# Forty steps: enough workouts, often, to pass the sync's hot set (projections/sync.py HOT_WORKOUTS).
ProjectionMachine.TestCase.settings = hypothesis.settings(
    max_examples=25, stateful_step_count=40, deadline=None
)
TestProjectionDeliveries = ProjectionMachine.TestCase


# 4. A redelivered poke re-syncs Redis even with nothing new to apply


async def test_redelivered_poke_with_nothing_new_resyncs_redis(settings: Settings) -> None:
    assert settings.database.url and settings.redis.url
    keys = Keys(f"{settings.redis.prefix}resync:{uuid.uuid4().hex[:8]}:")
    pool = await asyncpg.create_pool(settings.database.url, min_size=1, max_size=2)
    redis = Redis.from_url(settings.redis.url)
    try:
        async with pool.acquire() as connection:
            user_id = await register(connection)
            workout_id = uuid.uuid4()
            workout = Workout(
                title="Pull day",
                started_at=clock.now() - timedelta(hours=1),
                ended_at=clock.now(),
                exercises=[
                    WorkoutExercise(
                        exercise_id=EXERCISE_IDS[0],
                        sets=[WorkoutSet(reps=5, weight=Weight(value=100, unit="kg"))],
                    )
                ],
            )
            async with connection.transaction():
                written = await put_workout(
                    connection,
                    user_id=user_id,
                    workout_id=workout_id,
                    workout=workout,
                    if_match=None,
                    now=clock.now(),
                    request_id=None,
                )

        # A worker killed after its Postgres commit, before its Redis writes: the outbox keeps what
        # the projection changed, and `redis_version` stays behind.
        async def killed(*_: object, **__: object) -> bool:
            return False

        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(runner, "sync_redis", killed)
            first = await project_user(pool, redis, keys, user_id)
        assert (first.applied, first.version, first.synced) == (2, written.stream_version, False)

        cache = DocumentCache(redis, keys)
        names = cache.keys_of(user_id)
        for key in (names.dashboard, names.workout(workout_id)):
            assert (await cache.read(names.synced, key)).version is None

        again = await project_user(pool, redis, keys, user_id)

        assert (again.applied, again.version, again.synced) == (0, written.stream_version, True)
        rm_dashboard = await pool.fetchval("SELECT body FROM rm_dashboards WHERE user_id = $1", user_id)
        rm_workout = await pool.fetchval(
            "SELECT body FROM rm_workout_documents WHERE user_id = $1 AND workout_id = $2",
            user_id,
            workout_id,
        )
        dashboard = await cache.read(names.synced, names.dashboard)
        detail = await cache.read(names.synced, names.workout(workout_id))
        assert (dashboard.synced, dashboard.body) == (written.stream_version, rm_dashboard)
        assert detail.body == unpack(rm_workout)
        redis_version = await pool.fetchval(
            "SELECT redis_version FROM projection_checkpoints WHERE user_id = $1", user_id
        )
        assert redis_version == written.stream_version
    finally:
        async for key in redis.scan_iter(match=keys.pattern(), count=500):
            await redis.unlink(key)
        await redis.aclose()
        await pool.close()
