"""The dashboard as the runner reads it: Postgres sums the weeks, the muscle windows and picks the
body-weight entries, and the document equals the one the projectors' code builds from every row."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import msgspec
import pytest

from commands.events import Weight, Workout
from core.catalog import Muscle, exercise
from projections import readers, statements, store
from projections.batch import WorkoutRows
from projections.dashboard import (
    bodyweight_trend,
    build_dashboard,
    local_date,
    muscle_sets,
    rebucket,
    window_bounds,
)
from projections.documents import BodyweightEntry, UserSettings
from projections.library import Library
from projections.records import sessions_of
from projections.workouts import document, summarize

LA = "America/Los_Angeles"
# Tuesday 12:00 in Los Angeles, two days after its clocks went back: the 30 days span both offsets.
NOW = datetime(2026, 11, 3, 20, 0, tzinfo=UTC)
TODAY = local_date(NOW, LA)
LIFTS = ("barbell-bench-press", "barbell-back-squat", "pull-up", "deadlift", "overhead-press")


def catalog_muscles(exercise_id: str) -> tuple[tuple[Muscle, ...], tuple[Muscle, ...]]:
    found = exercise(exercise_id)
    return (tuple(found.primary_muscles), tuple(found.secondary_muscles)) if found else ((), ())


def workout_at(started_at: datetime, rng: random.Random) -> Workout:
    lifts = rng.sample(LIFTS, rng.randint(1, 3))
    sets = [
        [
            {"reps": rng.randint(1, 12), "weight": {"value": rng.choice([20, 60, 82.5, 100]), "unit": "kg"}}
            | ({"type": "warmup"} if rng.random() < 0.2 else {})
            | ({"completed": False} if rng.random() < 0.1 else {})
            for _ in range(rng.randint(1, 5))
        ]
        for _ in lifts
    ]
    body = {
        "title": "Session",
        "startedAt": started_at.isoformat(),
        "exercises": [{"exerciseId": lift, "sets": s} for lift, s in zip(lifts, sets, strict=True)],
    }
    return msgspec.convert(body, Workout)


def weighed(day: date, kg: float) -> BodyweightEntry:
    return BodyweightEntry(date=day, weight=Weight(value=kg, unit="kg"), kg=kg)


def daily(rng: random.Random) -> list[BodyweightEntry]:
    return [weighed(TODAY - timedelta(days=back), 80 + rng.randint(-300, 300) / 100) for back in range(200)]


def sparse_and_long_ago(rng: random.Random) -> list[BodyweightEntry]:
    """Every 45 days for two years, the latest 100 days before today, one entry dated tomorrow."""
    past = [weighed(TODAY - timedelta(days=100 + 45 * n), 70 + rng.randint(0, 900) / 100) for n in range(16)]
    return [*past, weighed(TODAY + timedelta(days=1), 75.5)]


def recent_after_a_gap(rng: random.Random) -> list[BodyweightEntry]:
    """Ten days in a row, and before them one entry 200 days ago: what both changes compare with."""
    return [weighed(TODAY - timedelta(days=back), 90 - back / 10) for back in (*range(10), 200)]


def none(rng: random.Random) -> list[BodyweightEntry]:
    return []


@pytest.mark.parametrize("weigh_ins", [daily, sparse_and_long_ago, recent_after_a_gap, none])
async def test_the_dashboard_read_from_sums_equals_the_one_built_from_every_row(
    rolled_back: asyncpg.Connection, weigh_ins: Callable[[random.Random], list[BodyweightEntry]]
) -> None:
    rng = random.Random(weigh_ins.__name__)
    user = uuid.uuid4()
    instants = [NOW - timedelta(minutes=rng.randrange(400 * 24 * 60)) for _ in range(150)]
    for bound in window_bounds(TODAY, LA):  # each local midnight the windows start or end at
        instants += [bound - timedelta(seconds=1), bound, bound + timedelta(seconds=1)]
    rows: dict[uuid.UUID, WorkoutRows | None] = {}
    for started_at in instants:
        workout_id, workout = uuid.uuid4(), workout_at(started_at, rng)
        detail = document(workout_id, 1, workout, "epley", str)
        sessions = sessions_of(workout_id, workout, "epley")
        rows[workout_id] = WorkoutRows(summarize(workout_id, 1, workout), detail, b"{}", sessions)
    await store.write_workouts(rolled_back, user, rows)
    written = [r for r in rows.values() if r is not None]
    weeks = rebucket([r.summary for r in written], LA, "sunday")
    await store.replace_weeks(rolled_back, user, weeks)
    entries = weigh_ins(rng)
    weighed = Library(bodyweights={entry.date: entry for entry in entries})
    await statements.execute(rolled_back, store.library_parts(user, weighed))

    settings = UserSettings(timezone=LA, week_start="sunday")
    read = await readers.dashboard_as_of(rolled_back, user, settings, NOW, custom={})

    latest = max(written, key=lambda r: (r.summary.started_at, str(r.summary.id))).summary
    sessions = [session for r in written for session in r.sessions]
    expected = build_dashboard(
        weeks,
        latest,
        TODAY,
        LA,
        "sunday",
        muscle_sets=muscle_sets(sessions, TODAY, LA, catalog_muscles),
        bodyweight=bodyweight_trend(entries, TODAY),
    )
    assert read == expected
    assert read.muscle_sets is not None and read.muscle_sets.last_7_days
    assert read.streaks.longest_weeks > 1
