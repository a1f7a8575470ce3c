"""Import speed: a realistic Hevy export of ~5 years (~30,000 rows) through the real app, timed.

Run from the repository root: `make bench-import`, or
`PYTHONPATH=. .venv/bin/python ops/bench/import_speed.py [--rows N] [--seed S]`.
The Postgres server (DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres) gets
a database `ironlog_bench_<id>` and the Redis server (REDIS_URL, default redis://127.0.0.1:6379/0)
a prefix `ironlog-bench-<id>:`; both are removed at the end, failure or not.

Phases, each timed on its own: parse only (`parse_csv` on the bytes), then through
`POST /v1/imports` on the in-process app: a dry run, the import, and a re-import of the same file,
which must create nothing. The projection worker is not part of it: an import ends at the commit
and the poke to the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import math
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from litestar.testing import AsyncTestClient

from api.app import create_app
from commands.imports.parsers import parse_csv
from core.logs import configure_logging
from core.settings import Settings
from ops.bench.common import clean_up, configure, create_and_migrate

DEFAULT_ROWS = 30_000
TARGET_S = 30.0  # the target for the import of ~5 years of history
HISTORY_ENDS = date(2025, 12, 28)  # fixed, so a seed always gives the same file; a Sunday
PASSWORD = "plates-and-chalk-42"  # noqa: S105 - a throwaway account in a throwaway database

HEVY_HEADER = (
    "title",
    "start_time",
    "end_time",
    "description",
    "exercise_title",
    "superset_id",
    "exercise_notes",
    "set_index",
    "set_type",
    "weight_kg",
    "reps",
    "distance_km",
    "duration_seconds",
    "rpe",
)


# --- The training history -------------------------------------------------------------------

Kind = Literal["barbell", "dumbbell", "machine", "bodyweight", "timed"]


@dataclass(frozen=True)
class Lift:
    name: str  # as Hevy writes it; every one resolves to a built-in exercise
    kind: Kind
    start_kg: float  # working weight in week 0 (added weight for bodyweight lifts)
    gain: float  # how much heavier it gets after years of training, as a fraction of start_kg
    reps: tuple[int, int]  # working-set rep range (seconds held, for timed lifts)


BENCH = Lift("Bench Press (Barbell)", "barbell", 60, 0.6, (4, 8))
SQUAT = Lift("Squat (Barbell)", "barbell", 80, 0.8, (3, 6))
DEADLIFT = Lift("Deadlift (Barbell)", "barbell", 100, 0.8, (3, 5))
PRESS = Lift("Overhead Press (Barbell)", "barbell", 40, 0.5, (5, 8))
ROW = Lift("Bent Over Row (Barbell)", "barbell", 50, 0.6, (6, 10))
RDL = Lift("Romanian Deadlift (Barbell)", "barbell", 70, 0.6, (8, 10))
PULL_UP = Lift("Pull Up", "bodyweight", 0, 0.0, (5, 12))
DIP = Lift("Dip", "bodyweight", 0, 0.0, (8, 15))
PLANK = Lift("Plank", "timed", 0, 0.0, (45, 120))
ACCESSORIES: dict[str, tuple[Lift, ...]] = {
    "push": (
        Lift("Incline Bench Press (Dumbbell)", "dumbbell", 20, 0.6, (8, 12)),
        Lift("Lateral Raise (Dumbbell)", "dumbbell", 8, 0.5, (12, 15)),
        Lift("Triceps Pushdown", "machine", 25, 0.6, (10, 15)),
        Lift("Skullcrusher (Barbell)", "barbell", 25, 0.5, (8, 12)),
        DIP,
    ),
    "pull": (
        Lift("Lat Pulldown (Cable)", "machine", 45, 0.5, (8, 12)),
        Lift("Seated Cable Row", "machine", 45, 0.5, (8, 12)),
        Lift("Face Pull", "machine", 15, 0.6, (12, 20)),
        Lift("Bicep Curl (Dumbbell)", "dumbbell", 10, 0.6, (8, 12)),
        Lift("Hammer Curl (Dumbbell)", "dumbbell", 12, 0.5, (8, 12)),
        PULL_UP,
    ),
    "legs": (
        Lift("Leg Press", "machine", 120, 0.7, (8, 12)),
        Lift("Leg Extension (Machine)", "machine", 40, 0.6, (10, 15)),
        Lift("Lying Leg Curl (Machine)", "machine", 30, 0.6, (10, 15)),
        Lift("Calf Raise (Machine)", "machine", 60, 0.5, (10, 15)),
        Lift("Hip Thrust (Barbell)", "barbell", 60, 0.9, (8, 12)),
        PLANK,
    ),
}
# A four-day split; a three-workout week drops the fourth day.
DAYS: tuple[tuple[str, tuple[Lift, ...], str], ...] = (
    ("Upper A", (BENCH, ROW), "push"),
    ("Lower A", (SQUAT, RDL), "legs"),
    ("Upper B", (PRESS, PULL_UP), "pull"),
    ("Lower B", (DEADLIFT, SQUAT), "legs"),
)
WORKOUT_NOTES = ("Felt strong today.", "Short on sleep.", "Gym was packed, supersetted accessories.")
EXERCISE_NOTES = ("Belt on top sets.", "Paused reps.", "Slight tweak in the left shoulder, went light.")
INCREMENT: dict[Kind, float] = {
    "barbell": 2.5,
    "dumbbell": 2.0,
    "machine": 5.0,
    "bodyweight": 2.5,
    "timed": 1,
}


@dataclass(frozen=True)
class Planned:
    day: date
    slot: int  # which day of the split
    sets: list[int]  # per exercise, so also how many exercises


@dataclass(frozen=True)
class History:
    csv: bytes
    rows: int
    workouts: int
    first: date
    last: date


def generate_history(rows: int, seed: int) -> History:
    """A Hevy CSV of at least `rows` sets, whole workouts, ending on HISTORY_ENDS; same seed, same bytes.

    3-4 workouts a week on a four-day split, 5-7 exercises each, 4-6 sets per exercise with
    warm-ups on the heavy lifts, weights that climb (with deload weeks), RPE on some top sets.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    # The schedule is drawn backwards from the end until it holds enough sets, then trained forwards.
    planned: list[Planned] = []
    total = 0
    week_start = HISTORY_ENDS - timedelta(days=HISTORY_ENDS.weekday())
    while total < rows:
        weekdays = [0, 2, 4, 5] if rng.random() < 0.7 else [0, 2, 4]
        for slot, weekday in reversed(list(enumerate(weekdays))):
            exercises = rng.choices((5, 6, 7), weights=(25, 40, 35))[0]
            sets = [rng.choices((4, 5, 6), weights=(30, 40, 30))[0] for _ in range(exercises)]
            planned.append(Planned(week_start + timedelta(days=weekday), slot, sets))
            total += sum(sets)
            if total >= rows:
                break
        week_start -= timedelta(days=7)
    planned.reverse()

    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(HEVY_HEADER)
    first, last = planned[0].day, planned[-1].day
    for workout in planned:
        writer.writerows(_workout_rows(rng, workout, (workout.day - first).days / 7))
    return History(out.getvalue().encode(), total, len(planned), first, last)


def _workout_rows(rng: random.Random, planned: Planned, week: float) -> Iterator[list[str]]:
    """One workout's rows; `week` is how long the lifter has been training."""
    title, main_lifts, pool = DAYS[planned.slot]
    accessories = rng.sample(ACCESSORIES[pool], len(planned.sets) - len(main_lifts))
    lifts = [*main_lifts, *sorted(accessories, key=ACCESSORIES[pool].index)]
    evening = rng.random() < 0.75
    start = datetime.combine(planned.day, datetime.min.time()) + timedelta(
        hours=rng.randint(17, 19) if evening else rng.randint(6, 7), minutes=rng.randint(0, 59)
    )
    end = start + timedelta(minutes=rng.randint(50, 100))
    description = rng.choice(WORKOUT_NOTES) if rng.random() < 0.05 else ""
    superset = len(lifts) - 2 if rng.random() < 0.2 else None  # the last two accessories, paired
    for position, (lift, count) in enumerate(zip(lifts, planned.sets, strict=True)):
        notes = rng.choice(EXERCISE_NOTES) if rng.random() < 0.03 else ""
        superset_id = "0" if superset is not None and position >= superset else ""
        for index, (set_type, weight, reps, seconds, rpe) in enumerate(_sets(rng, lift, week, count)):
            yield [
                title,
                _hevy_time(start),
                _hevy_time(end),
                description,
                lift.name,
                superset_id,
                notes,
                str(index),
                set_type,
                weight,
                reps,
                "",
                seconds,
                rpe,
            ]


def _sets(rng: random.Random, lift: Lift, week: float, count: int) -> list[tuple[str, str, str, str, str]]:
    """(set_type, weight_kg, reps, duration_seconds, rpe) for each of `count` sets, as Hevy writes them."""
    if lift.kind == "timed":
        held = min(lift.reps[1], lift.reps[0] + int(week / 8))
        return [("normal", "", "", str(held + rng.randint(-10, 10)), "") for _ in range(count)]
    # Fast gains first, then slower; every eighth week is a deload.
    working = lift.start_kg * (1 + lift.gain * (1 - math.exp(-week / 80)))
    if int(week) % 8 == 7:
        working *= 0.85
    if lift.kind == "bodyweight":
        working = 0 if week < 40 else 5 + 10 * (1 - math.exp(-(week - 40) / 100))
    warmups = 2 if lift.kind == "barbell" and lift.start_kg >= 60 else 1 if lift.kind == "barbell" else 0
    warmups = min(warmups, count - 3)
    sets: list[tuple[str, str, str, str, str]] = []
    for fraction, reps in ((0.5, 8), (0.75, 3))[2 - warmups :] if warmups else ():
        sets.append(("warmup", _kg(working * fraction, lift), str(reps), "", ""))
    low, high = lift.reps
    for number in range(count - warmups):
        last = number == count - warmups - 1
        set_type = "normal"
        if last and lift.kind in ("dumbbell", "machine") and rng.random() < 0.1:
            set_type = rng.choice(("failure", "dropset"))
        reps = max(1, rng.randint(low, high) - number // 2)
        rpe = rng.choice(("7", "7.5", "8", "8.5", "9", "9.5")) if last and rng.random() < 0.4 else ""
        sets.append((set_type, _kg(working, lift), str(reps), "", rpe))
    return sets


def _kg(value: float, lift: Lift) -> str:
    """The weight on the bar, rounded to the plates; bodyweight with nothing added has none."""
    step = INCREMENT[lift.kind]
    rounded = round(value / step) * step
    if lift.kind == "bodyweight" and rounded == 0:
        return ""
    return f"{rounded:g}"


def _hevy_time(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y, %H:%M}"  # 26 Nov 2024, 18:05


# --- The run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    workouts: int  # parsed, or created by the import (unchanged ones for the re-import)
    sets: int


def parse_phase(history: History) -> Phase:
    started = time.perf_counter()
    parsed = parse_csv(history.csv, weight_unit=None, timezone="UTC")
    seconds = time.perf_counter() - started
    if parsed.errors:
        raise SystemExit(f"the generated file has errors: {parsed.errors[:5]}")
    sets = sum(len(entry.sets) for workout in parsed.workouts for entry in workout.workout.exercises)
    return Phase("parse only", seconds, len(parsed.workouts), sets)


async def http_phases(settings: Settings, history: History) -> list[Phase]:
    """Register a user, then dry run, import and re-import the file through the in-process app."""
    phases: list[Phase] = []
    async with AsyncTestClient(app=create_app(settings), timeout=600) as client:
        tag = uuid.uuid4().hex[:10]
        identity = {
            "email": f"bench-{tag}@example.com",
            "password": PASSWORD,
            "displayName": f"Bench {tag}",
            "handle": f"bench_{tag}",
        }
        registered = await client.post("/v1/auth/register", json=identity)
        if registered.status_code != 201:
            raise SystemExit(f"registration failed: {registered.status_code} {registered.text[:500]}")
        headers = {"Authorization": f"Bearer {registered.json()['accessToken']}"}
        for name, params in (("dry run", {"dryRun": "true"}), ("import", {}), ("re-import", {})):
            files = {"file": ("hevy_workouts.csv", history.csv, "text/csv")}
            started = time.perf_counter()
            response = await client.post("/v1/imports", files=files, params=params, headers=headers)
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{name} failed: {response.status_code} {response.text[:1000]}")
            body: dict[str, Any] = response.json()
            if body["errors"] or body["workoutsSkipped"]:
                raise SystemExit(f"{name} refused rows: {body['errors'][:5]}")
            if name == "re-import":
                if body["workoutsCreated"] != 0 or body["exercisesCreated"]:
                    raise SystemExit(f"the re-import created {body['workoutsCreated']} workouts; expected 0")
                phases.append(Phase(name, seconds, body["workoutsUnchanged"], 0))
            else:
                phases.append(Phase(name, seconds, body["workoutsCreated"], body["setsImported"]))
    return phases


def report(history: History, phases: list[Phase]) -> str:
    lines = [
        f"{history.rows} rows (sets), {history.workouts} workouts, {history.first} to {history.last}, "
        f"{len(history.csv) / 1_048_576:.1f} MiB",
        "",
        f"{'phase':<11} {'rows':>7} {'workouts':>9} {'sets':>7} {'seconds':>8} {'rows/s':>8}",
    ]
    for phase in phases:
        lines.append(
            f"{phase.name:<11} {history.rows:>7} {phase.workouts:>9} {phase.sets:>7} "
            f"{phase.seconds:>8.2f} {history.rows / phase.seconds:>8.0f}"
        )
    imported = next(phase for phase in phases if phase.name == "import")
    verdict = "within" if imported.seconds < TARGET_S else "OVER"
    lines += ["", f"import: {imported.seconds:.1f} s, {verdict} the {TARGET_S:.0f} s target"]
    lines.append("re-import: 0 workouts created")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="sets (CSV rows) to generate")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated history")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")

    history = generate_history(args.rows, args.seed)
    phases = [parse_phase(history)]
    run_id = uuid.uuid4().hex[:10]
    servers, settings = configure(run_id)
    configure_logging(settings, process="bench")
    print(f"database {servers.database} on {urlsplit(servers.admin_url).netloc}, prefix {servers.prefix}")
    try:
        asyncio.run(create_and_migrate(servers, settings))
        phases += asyncio.run(http_phases(settings, history))
        parsed, imported = phases[0], phases[2]
        if imported.workouts != parsed.workouts:  # a dry run that wrote something would show here
            raise SystemExit(f"the import created {imported.workouts} of {parsed.workouts} workouts")
    finally:
        asyncio.run(clean_up(servers))
    print(report(history, phases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
