"""The benchmark: seeded history, the projection drain, each read's maximum throughput against the
framework ceiling, an open-model mobile mix, and CQRS against naive reads as one user's history grows.

Run from the repository root: `make bench` (full, about 11 minutes) or `make bench-quick` (about 3
minutes, small data), or `PYTHONPATH=. .venv/bin/python ops/bench/run.py [--quick] [options]`.

It starts what it needs and stops it afterwards: a database and Redis prefix of its own on the
configured servers (ops/bench/common.py), one API process (uvicorn) and one projection worker
process, with IRONLOG_BENCH=1 for the baseline routes (api/bench.py). Everything is on this machine,
over loopback. The report is printed as Markdown and written, with the raw numbers as JSON, under
.bench/ (BENCHMARKS.md explains each part).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import msgspec

from api.seed_cli import PASSWORD, SeedResult, progress_bar, seed
from commands.bulk import History, LogWorkout, record_histories
from commands.events import Weight, Workout, WorkoutExercise, WorkoutSet
from commands.seed import email_of
from core.logs import configure_logging
from core.settings import Settings
from ops.bench.common import clean_up, configure, create_and_migrate
from ops.bench.loadgen import (
    Client,
    FollowUp,
    Kind,
    Latency,
    Request,
    Response,
    RunResult,
    now_ns,
    render_markdown,
    run_open,
    run_saturation,
    to_dict,
)
from ops.bench.stack import (
    Stack,
    bare_litestar,
    cache_hit_ratio,
    cache_reads,
    cpu_ticks,
    histogram_mean,
    machine,
    process_tree,
    seed_stack,
)
from workers.enqueue import Enqueuer

ROOT = Path(__file__).resolve().parents[2]
JSON_BODY = {"Content-Type": "application/json"}
ENCODER = msgspec.json.Encoder()

#: The mobile mix: share of requests per kind.
MIX = {
    "dashboard": 35,
    "feed": 20,
    "workout": 15,
    "records": 10,
    "history": 5,
    "leaderboard": 5,
    "log workout": 8,
    "amend workout": 2,
}
READS = ("dashboard", "feed", "workout", "records", "history", "leaderboard")
GROWTH_ROUNDS = 4
SHARE_OF_MAX = 0.7  # open-model runs go at 70% of a measured maximum
#: Connections of the open-model runs at most: the API sits behind nginx, whose upstream keeps a pool of
#: 64 keep-alive connections per worker (ops/nginx.conf), whatever the number of phones.
OPEN_CONNECTIONS = 64
VISIBLE_WITHIN_S = 60  # a write not readable by then counts as an error of the lag


@dataclass(frozen=True)
class Profile:
    users: int
    months: int
    signed_in: int  # users the load is spread over
    saturation_s: float
    warmup_s: float
    connections: int
    mix_s: float
    sizes: tuple[int, ...]  # workouts of the one-user histories of the naive comparison
    naive_s: float  # per size and per route


FULL = Profile(
    users=400, months=12, signed_in=300, saturation_s=6, warmup_s=1.5, connections=8, mix_s=60,
    sizes=(10, 1_000, 10_000), naive_s=4,
)  # fmt: skip
QUICK = Profile(
    users=60, months=3, signed_in=60, saturation_s=2, warmup_s=0.5, connections=8, mix_s=15,
    sizes=(10, 100, 1_000), naive_s=1.5,
)  # fmt: skip


@dataclass
class Lifter:
    """A signed-in user and what requests about them can name."""

    user_id: uuid.UUID
    headers: dict[str, str]
    workouts: list[str]
    exercises: list[str]
    amendable: list[tuple[str, int, Workout]] = field(default_factory=list)  # id, version, body
    latest: datetime | None = None  # the start of their latest workout


@dataclass
class Report:
    profile: str
    started: str
    machine: dict[str, str]
    versions: dict[str, str]
    broker: str = ""
    seed: dict[str, Any] = field(default_factory=dict)
    drain: dict[str, Any] = field(default_factory=dict)
    saturation: dict[str, Any] = field(default_factory=dict)
    reads: dict[str, Any] = field(default_factory=dict)
    mix: dict[str, Any] = field(default_factory=dict)
    growth: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    redis: dict[str, Any] = field(default_factory=dict)
    markdown: list[str] = field(default_factory=list)

    def section(self, title: str, *lines: str) -> None:
        self.markdown += [f"## {title}", "", *lines, ""]
        print(f"\n## {title}\n", *lines, sep="\n", flush=True)


# --- seed and drain ------------------------------------------------------------------------------


async def drain(settings: Settings, timeout_s: float) -> tuple[int, float]:
    """Wait until every event is projected and synced to Redis; (events projected, seconds)."""
    connection = await asyncpg.connect(settings.database.url)
    try:
        start_projected = await connection.fetchval(
            "SELECT coalesce(sum(version), 0) FROM projection_checkpoints"
        )
        started = time.perf_counter()
        deadline = started + timeout_s
        while True:
            behind = await connection.fetchval(
                """
                SELECT (SELECT count(*) FROM projection_pending)
                     + (SELECT count(*) FROM projection_checkpoints WHERE redis_version < version)
                """
            )
            if behind == 0:
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the projection backlog did not drain in {timeout_s:.0f} s")
            await asyncio.sleep(0.1)
        seconds = time.perf_counter() - started
        projected = await connection.fetchval("SELECT coalesce(sum(version), 0) FROM projection_checkpoints")
        return int(projected - start_projected), seconds
    finally:
        await connection.close()


def _synthetic_workout(rng: random.Random, started: datetime, n: int) -> Workout:
    lifts = ("barbell-back-squat", "barbell-bench-press", "barbell-deadlift", "barbell-overhead-press",
             "barbell-bent-over-row")  # fmt: skip
    exercises = [
        WorkoutExercise(
            exercise_id=lift,
            sets=[
                WorkoutSet(
                    reps=rng.randint(3, 10), weight=Weight(value=40 + (n % 200) / 4 + i * 5, unit="kg")
                )
                for i in range(4)
            ],
        )
        for lift in rng.sample(lifts, 4)
    ]
    return Workout(
        title=f"Session {n}",
        started_at=started,
        ended_at=started + timedelta(minutes=65),
        exercises=exercises,
    )


async def size_users(settings: Settings, client: Client, sizes: Sequence[int]) -> dict[int, Lifter]:
    """One registered user per size, holding exactly that many workouts (one a day, back from today)."""
    lifters: dict[int, Lifter] = {}
    enqueuer = Enqueuer(settings)
    connection = await asyncpg.connect(settings.database.url)
    try:
        for size in sizes:
            tag = uuid.uuid4().hex[:8]
            identity = {"email": f"size-{size}-{tag}@ironlog.test", "password": PASSWORD,
                        "displayName": f"Size {size}", "handle": f"size_{size}_{tag}"}  # fmt: skip
            registered = await client.send(
                Request("POST", "/v1/auth/register", JSON_BODY, ENCODER.encode(identity))
            )
            if registered.status != 201:
                raise RuntimeError(f"registration failed: {registered.status} {registered.body[:300]!r}")
            body = msgspec.json.decode(registered.body)
            user_id = uuid.UUID(body["user"]["id"])
            rng = random.Random(size)  # noqa: S311 - reproducible data
            today = datetime.now(UTC).replace(hour=7, minute=0, second=0, microsecond=0)
            operations: list[Any] = [
                LogWorkout(uuid.uuid5(user_id, str(n)), _synthetic_workout(rng, today - timedelta(days=n), n))
                for n in range(size, 0, -1)
            ]
            for start in range(0, len(operations), 2_000):
                await record_histories(
                    connection,
                    [History(user_id, operations[start : start + 2_000])],
                    now=datetime.now(UTC),
                    request_id="bench-size",
                )
            await enqueuer.send(enqueuer.actors.project_user, str(user_id))
            lifters[size] = Lifter(user_id, {"Authorization": f"Bearer {body['accessToken']}"}, [], [])
    finally:
        enqueuer.close()
        await connection.close()
    return lifters


# --- the signed-in users of the load ------------------------------------------------------------


async def sign_in(settings: Settings, client: Client, seed_value: int, count: int) -> list[Lifter]:
    """Log in the first `count` seeded users; each with their recent workouts and exercises."""
    connection = await asyncpg.connect(settings.database.url)
    try:
        lifters = []
        for number in range(count):
            login = {"email": email_of(seed_value, number), "password": PASSWORD}
            response = await client.send(Request("POST", "/v1/auth/login", JSON_BODY, ENCODER.encode(login)))
            if response.status != 200:
                raise RuntimeError(f"login failed: {response.status} {response.body[:300]!r}")
            body = msgspec.json.decode(response.body)
            user_id = uuid.UUID(body["user"]["id"])
            workouts = await connection.fetch(
                """
                SELECT id, started_at FROM workouts WHERE user_id = $1 AND deleted_at IS NULL
                ORDER BY started_at DESC LIMIT 40
                """,
                user_id,
            )
            exercises = await connection.fetch(
                """
                SELECT e.exercise_id FROM workout_exercises e JOIN workouts w ON w.id = e.workout_id
                WHERE w.user_id = $1 AND w.deleted_at IS NULL
                GROUP BY e.exercise_id ORDER BY count(*) DESC LIMIT 6
                """,
                user_id,
            )
            lifters.append(
                Lifter(
                    user_id,
                    {"Authorization": f"Bearer {body['accessToken']}"},
                    [str(row["id"]) for row in workouts],
                    [row["exercise_id"] for row in exercises],
                    latest=workouts[0]["started_at"] if workouts else None,  # newest first
                )
            )
        return [lifter for lifter in lifters if lifter.workouts and lifter.exercises]
    finally:
        await connection.close()


# --- the kinds of request ------------------------------------------------------------------------


#: The share of logged workouts uploaded late, by a phone that was offline: days old, before the
#: lifter's latest (each exercise's whole history is read when a record was set after it).
LATE_UPLOADS = 0.1


def _new_workout(rng: random.Random, lifter: Lifter) -> Workout:
    """A workout as lifters log them: the lifter's latest, started within the last hour and a half (or
    a late upload, `LATE_UPLOADS`)."""
    now = datetime.now(UTC)
    if rng.random() < LATE_UPLOADS:
        started = now - timedelta(days=rng.uniform(1, 7))
    else:
        started = now - timedelta(minutes=rng.randint(5, 90))
        if lifter.latest is not None and started <= lifter.latest:
            started = lifter.latest + timedelta(minutes=1)
        lifter.latest = started
    return _synthetic_workout(rng, started, rng.randint(0, 400))


class _Written(msgspec.Struct):
    id: str
    version: int


class Mix:
    """The request kinds of the mobile mix over `lifters`.

    Writes name a workout the follow-up then reads back with the write's consistency token. Amends
    take a workout written earlier in the run out of its lifter's list while in flight, so no two
    amends of one workout race each other.
    """

    def __init__(self, lifters: list[Lifter]) -> None:
        self.lifters = lifters
        self.in_flight: dict[str, tuple[Lifter, Workout]] = {}

    def read(self, name: str) -> Callable[[random.Random], Request]:
        def build(rng: random.Random) -> Request:
            lifter = rng.choice(self.lifters)
            if name == "workout":
                path = f"/v1/workouts/{rng.choice(lifter.workouts)}"
            elif name == "history":
                path = f"/v1/exercises/{rng.choice(lifter.exercises)}/history?limit=20"
            else:
                path = READ_PATHS[name]
            return Request("GET", path, lifter.headers)

        return build

    def every(self, name: str) -> list[Request]:
        """Each distinct request the read `name` makes: what a warm cache holds for it."""
        requests = []
        for lifter in self.lifters:
            if name == "workout":
                paths = [f"/v1/workouts/{workout_id}" for workout_id in lifter.workouts]
            elif name == "history":
                paths = [f"/v1/exercises/{exercise_id}/history?limit=20" for exercise_id in lifter.exercises]
            else:
                paths = [READ_PATHS[name]]
            requests += [Request("GET", path, lifter.headers) for path in paths]
        return requests

    def log(self, rng: random.Random) -> Request:
        lifter = rng.choice(self.lifters)
        workout_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        workout = _new_workout(rng, lifter)
        self.in_flight[workout_id] = (lifter, workout)
        body = ENCODER.encode(workout)
        return Request("PUT", f"/v1/workouts/{workout_id}", {**lifter.headers, **JSON_BODY}, body)

    def amend(self, rng: random.Random) -> Request:
        candidates = [lifter for lifter in self.lifters if lifter.amendable]
        if not candidates:
            return self.log(rng)
        lifter = rng.choice(candidates)
        workout_id, version, workout = lifter.amendable.pop(rng.randrange(len(lifter.amendable)))
        changed = msgspec.structs.replace(workout, title=f"Session, amended {rng.randint(1, 10**6)}")
        self.in_flight[workout_id] = (lifter, changed)
        headers = {**lifter.headers, **JSON_BODY, "If-Match": f'"{version}"'}
        return Request("PUT", f"/v1/workouts/{workout_id}", headers, ENCODER.encode(changed))

    def kinds(self, weights: dict[str, float]) -> list[Kind]:
        kinds = []
        for name, weight in weights.items():
            if name == "log workout":
                kinds.append(Kind(name, self.log, weight, expect={201}, follow_up=self.visible))
            elif name == "amend workout":
                kinds.append(Kind(name, self.amend, weight, expect={200, 201}, follow_up=self.visible))
            else:
                kinds.append(Kind(name, self.read(name), weight, expect={200}))
        return kinds

    async def visible(self, ctx: FollowUp, response: Response) -> None:
        """Read the written workout back with the write's consistency token until it is not stale.

        Projection lag: from the write's acknowledgement to the answer of that read; write to visible:
        from the write's intended send time.
        """
        written = msgspec.json.decode(response.body, type=_Written)
        lifter, workout = self.in_flight.pop(written.id)
        token = response.header("x-consistency-token")
        if token is None:
            ctx.record_error("projection lag", "no consistency token")
            return
        headers = {**lifter.headers, "X-Consistency-Token": token}
        deadline = now_ns() + VISIBLE_WITHIN_S * 10**9
        while True:
            read = await ctx.send(Request("GET", f"/v1/workouts/{written.id}", headers))
            # A 404 or a stale answer: the wait for the token ran out before the worker got there.
            if read.status == 200 and read.header("x-consistency") != "stale":
                break
            if read.status not in (200, 404) or now_ns() > deadline:
                ctx.record_error("projection lag", f"read {read.status}")
                return
        done = now_ns()
        ctx.record("projection lag", done - response.received_ns)
        ctx.record("write to visible", done - ctx.intended_ns)
        lifter.amendable.append((written.id, written.version, workout))


READ_PATHS = {
    "dashboard": "/v1/stats/dashboard",
    "feed": "/v1/workouts?limit=20",
    "records": "/v1/records",
    "leaderboard": "/v1/leaderboards/weekly-volume?scope=global",
    "naive dashboard": "/bench/naive-dashboard",
    "ceiling": "/bench/ceiling",
    "live": "/health/live",
}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _ms3(value: float | None) -> str:
    return "-" if value is None else f"{value:,.3f}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


async def versions(settings: Settings) -> dict[str, str]:
    from importlib.metadata import version

    connection = await asyncpg.connect(settings.database.url)
    try:
        postgres = str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()
    from redis.asyncio import Redis

    redis = Redis.from_url(settings.redis.url or "")
    try:
        info = await redis.info("server")
    finally:
        await redis.aclose()
    return {
        "python": sys.version.split()[0],
        "postgres": postgres,
        "redis": str(info.get("redis_version")),
        **{name: version(name) for name in ("litestar", "uvicorn", "asyncpg", "msgspec", "dramatiq")},
    }


async def saturate(stack: Stack, profile: Profile, kinds: list[Kind], *, connections: int | None = None,
                   duration_s: float | None = None, port: int | None = None) -> RunResult:  # fmt: skip
    return await run_saturation(
        "127.0.0.1",
        port or stack.port,
        kinds,
        connections=connections or profile.connections,
        duration_s=duration_s or profile.saturation_s,
        warmup_s=profile.warmup_s,
    )


@dataclass
class Bench:
    profile: Profile
    args: argparse.Namespace
    settings: Settings
    stack: Stack
    report: Report


async def bench(profile: Profile, args: argparse.Namespace, settings: Settings, stack: Stack,
                report: Report) -> None:  # fmt: skip
    run = Bench(profile, args, settings, stack, report)
    await seed_and_drain(run)
    if args.drain_only:
        return
    stack.start_api()
    with stack.sampling_memory():
        async with Client("127.0.0.1", stack.port, max_connections=4) as client:
            sized = await size_users(settings, client, profile.sizes)
            size_events, size_seconds = await drain(settings, timeout_s=900)
            lifters = await sign_in(settings, client, args.seed, profile.signed_in)
        report.drain["one_user"] = {"events": size_events, "seconds": size_seconds,
                                    "sizes": list(profile.sizes)}  # fmt: skip
        print(f"one-user histories {profile.sizes}: {size_events:,} events projected in {size_seconds:.1f} s")
        mix = Mix(lifters)
        maxima = await maximum_throughput(run, mix)
        read_runs = await reads_at_70(run, mix, maxima)
        mixed, hit_ratio = await mobile_mix(run, mix)
    report.redis["after the mobile mix"] = await redis_footprint(settings)
    ratios = await growth(run, sized)
    report.section(
        "Redis memory",
        "MEMORY USAGE of every key under the run's prefix in the cache Redis; per user who logged a "
        "workout in the last 7 days (the seeded history is spread over its months, so about one user "
        "in several is active in any week).",
        "",
        "| when | bytes | active users | users with keys | per active user | by kind |",
        "|---|---:|---:|---:|---:|---|",
        *(line for label, found in report.redis.items() for line in footprint_lines(label, found)),
    )
    report.memory = {"api_peak_rss_mb": stack.peaks.api / 2**20,
                     "worker_peak_rss_mb": stack.peaks.worker_max / 2**20}  # fmt: skip
    report.section(
        "Memory",
        "| process | peak RSS |",
        "|---|---:|",
        f"| API (largest of {stack.api_workers} uvicorn processes) | {stack.peaks.api / 2**20:,.0f} MB |",
        f"| projection worker (largest of {stack.worker_processes}) | "
        f"{stack.peaks.worker_max / 2**20:,.0f} MB |",
    )
    targets(report, maxima, read_runs, mixed, hit_ratio=hit_ratio, ratios=ratios, stack=stack)


async def seed_and_drain(run: Bench) -> None:
    profile, args, settings, stack, report = run.profile, run.args, run.settings, run.stack, run.report
    # 1. Seed: registered users and their history through the batched command path, no worker running.
    seeded: SeedResult = await seed(
        settings, users=profile.users, months=profile.months, seed=args.seed, on_progress=progress_bar()
    )
    report.seed = msgspec.structs.asdict(seeded) | {"workouts_per_s": seeded.workouts_per_s}
    report.section(
        "Seed",
        f"`ironlog seed --users {profile.users} --months {profile.months} --seed {args.seed}`, in process:",
        "",
        "| users | workouts | sets | events | seconds | workouts/s |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {seeded.users:,} | {seeded.workouts:,} | {seeded.sets:,} | {seeded.events:,} | "
        f"{seeded.seconds:.1f} | **{seeded.workouts_per_s:,.0f}** |",
    )

    # 2. The backlog it left, drained by the projection worker (one process unless told).
    stack.start_worker()
    workers = process_tree(stack.worker.process.pid)[1:] if stack.worker else []
    ticks = sum(cpu_ticks(pid) for pid in workers)
    with stack.sampling_memory(), stack.profiling("drain", args.profile):
        events, seconds = await drain(settings, timeout_s=900)
    cpu_ms = (sum(cpu_ticks(pid) for pid in workers) - ticks) * 1000 / os.sysconf("SC_CLK_TCK")
    report.drain = {"events": events, "seconds": seconds, "events_per_s": events / seconds,
                    "worker_processes": stack.worker_processes, "threads": stack.worker_threads,
                    "startup_s": stack.worker_startup_s,
                    "worker_cpu_ms_per_event": cpu_ms / events}  # fmt: skip
    report.section(
        "Projection drain",
        "Timed from the moment every worker process has its connections open (their start before that "
        "is the last column).",
        "",
        f"| events | seconds | events/s, {stack.worker_processes} worker process(es) of "
        f"{stack.worker_threads} threads | events/s per worker process | worker CPU per event ms | "
        "worker start s |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {events:,} | {seconds:.1f} | {events / seconds:,.0f} | "
        f"**{events / seconds / stack.worker_processes:,.0f}** | {cpu_ms / events:.3f} | "
        f"{stack.worker_startup_s:.1f} |",
    )
    report.redis["after the drain"] = await redis_footprint(settings)


def _key_kind(rest: str) -> str:
    """What a key under the prefix holds, from the part after the prefix ("": not Ironlog's)."""
    if rest.startswith("u:{"):
        part = rest.split("}:", 1)[1] if "}:" in rest else ""
        return {
            "w": "workout documents",
            "dash": "dashboards",
            "feed": "feed pages",
            "ver": "synced versions",
        }.get(part.split(":", 1)[0], "other per-user keys")
    if rest.startswith("lb:"):
        return "leaderboards"
    if rest.startswith(SEED_STACK_KEY):
        return ""  # the seed's stack's copy of the dashboards, not Ironlog's
    return "other"


async def redis_footprint(settings: Settings, since: timedelta = timedelta(days=7)) -> dict[str, Any]:
    """Bytes the cache Redis holds under the run's prefix (MEMORY USAGE of every key), by kind, and
    per user who logged a workout within `since` (the active users the budget is stated for)."""
    from redis.asyncio import Redis

    prefix = settings.redis.prefix
    redis = Redis.from_url(settings.redis.url or "")
    kinds: dict[str, int] = {}
    users: set[str] = set()
    try:
        keys = [key async for key in redis.scan_iter(match=prefix + "*", count=1000)]
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            async with redis.pipeline(transaction=False) as pipe:
                for key in chunk:
                    pipe.memory_usage(key, samples=0)
                sizes = await pipe.execute()
            for key, size in zip(chunk, sizes, strict=True):
                rest = key.decode()[len(prefix) :]
                kind = _key_kind(rest)
                if kind and size:
                    kinds[kind] = kinds.get(kind, 0) + int(size)
                if rest.startswith("u:{"):
                    users.add(rest[3 : rest.index("}")])
    finally:
        await redis.aclose()
    connection = await asyncpg.connect(settings.database.url)
    try:
        active = await connection.fetchval(
            "SELECT count(DISTINCT user_id) FROM workouts WHERE started_at > $1", datetime.now(UTC) - since
        )
    finally:
        await connection.close()
    total = sum(kinds.values())
    return {"bytes": total, "kinds": kinds, "users_with_keys": len(users), "active_users": int(active),
            "per_active_user": total / active if active else None}  # fmt: skip


def footprint_lines(label: str, footprint: dict[str, Any]) -> list[str]:
    per_user = footprint["per_active_user"]
    return [
        f"| {label} | {footprint['bytes'] / 2**20:,.1f} MB | {footprint['active_users']:,} | "
        f"{footprint['users_with_keys']:,} | "
        + (f"**{per_user / 1024:,.0f} KB**" if per_user else "-")
        + " | "
        + ", ".join(f"{kind} {size / 2**20:,.1f} MB" for kind, size in sorted(footprint["kinds"].items()))
        + " |"
    ]


#: Ironlog's routes that do no I/O and need no sign-in: the cheapest it answers.
CHEAP = ("live", "ceiling")
#: The seed's stack keeps each user's dashboard bytes under this key (the run's prefix before it).
SEED_STACK_KEY = "bench-seed-stack:dashboard:"


async def copy_dashboards(run: Bench, mix: Mix) -> str:
    """Put each signed-in user's dashboard, as Ironlog answers it, where the seed's stack reads it;
    the key prefix."""
    from redis.asyncio import Redis

    key_prefix = f"{run.settings.redis.prefix}{SEED_STACK_KEY}"
    redis = Redis.from_url(run.settings.redis.url or "")
    try:
        async with Client("127.0.0.1", run.stack.port, max_connections=4) as client:
            for lifter in mix.lifters:
                response = await client.send(Request("GET", READ_PATHS["dashboard"], lifter.headers))
                if response.status != 200:
                    raise RuntimeError(f"dashboard of {lifter.user_id}: {response.status}")
                await redis.set(f"{key_prefix}{lifter.user_id}", response.body)
    finally:
        await redis.aclose()
    return key_prefix


#: Rounds of the maximum-throughput measurement: every route, the baselines included, once a round.
MAX_ROUNDS = 3
BARE, REALISTIC, EXPRESS = "bare Litestar", "bare Litestar, realistic", "seed's stack, dashboard"


@dataclass
class Maxima:
    """Each route's closed-loop maximum: the round whose share of bare Litestar is the median of its
    rounds; that median share and the median multiple of the seed's stack, both taken within each round
    (the machine's speed moves by a quarter within minutes; within a round it moves little)."""

    results: dict[str, RunResult]
    of_bare: dict[str, float]
    of_express: dict[str, float]
    rounds: dict[str, list[float]]  # requests/s of each round

    def rate(self, name: str) -> float:
        return self.results[name].overall.achieved_rate


def _median_round(ratios: list[float]) -> int:
    return sorted(range(len(ratios)), key=lambda r: ratios[r])[len(ratios) // 2]


async def maximum_throughput(run: Bench, mix: Mix) -> Maxima:
    profile, args, settings, stack, report = run.profile, run.args, run.settings, run.stack, run.report
    # 3. Maximum throughput, closed loop: the baselines, Ironlog's cheapest routes and each read alone, in
    # rounds. Each read's maximum is its cached one: everything it asks for is read once first.
    first_reads = mix.kinds({WARMED_APART: 1.0})
    first = await saturate(stack, profile, first_reads)  # mostly misses to Postgres: shown, not a maximum
    for name in READS:
        await warm(stack, mix.every(name))
    key_prefix = await copy_dashboards(run, mix)
    bare = bare_litestar(dict(os.environ), stack.logs)
    express = seed_stack(
        dict(os.environ), stack.logs, key_prefix=key_prefix, jwt_secret=settings.jwt_secret,
        issuer=settings.auth.issuer, audience=settings.auth.audience, redis_url=settings.redis.url or "",
    )  # fmt: skip
    routes: list[tuple[str, list[Kind], int | None]] = [
        (BARE, [Kind(BARE, Request("GET", "/constant"), expect={200})], bare.port),
        (REALISTIC, [Kind(REALISTIC, Request("GET", "/realistic"), expect={200})], bare.port),
        (EXPRESS, mix.kinds({"dashboard": 1.0}), express.port),
        *[(name, [Kind(name, Request("GET", READ_PATHS[name]), expect={200})], None) for name in CHEAP],
        *[(name, mix.kinds({name: 1.0}), None) for name in READS],
    ]
    measured: dict[str, list[RunResult]] = {name: [] for name, _, _ in routes}
    round_s = profile.saturation_s / 2
    try:
        for number in range(MAX_ROUNDS):
            for name, kinds, port in routes:
                with stack.profiling(name, args.profile and number == MAX_ROUNDS - 1 and port is None):
                    result = await saturate(stack, profile, kinds, port=port, duration_s=round_s)
                measured[name].append(result)
                print(f"{name}: {result.overall.achieved_rate:,.0f} req/s (round {number + 1})", flush=True)
    finally:
        bare.stop()
        express.stop()
    rounds = {name: [r.overall.achieved_rate for r in results] for name, results in measured.items()}
    of_bare_rounds = {name: [rate / b for rate, b in zip(rates, rounds[BARE], strict=True)]
                      for name, rates in rounds.items()}  # fmt: skip
    maxima = Maxima(results={}, of_bare={}, of_express={}, rounds=rounds)
    for name, ratios in of_bare_rounds.items():
        median = _median_round(ratios)
        maxima.results[name] = measured[name][median]
        maxima.of_bare[name] = ratios[median]
        multiples = [rate / e for rate, e in zip(rounds[name], rounds[EXPRESS], strict=True)]
        maxima.of_express[name] = multiples[_median_round(multiples)]
    maxima.results[f"{WARMED_APART}, first reads"] = first
    maxima.of_bare[f"{WARMED_APART}, first reads"] = first.overall.achieved_rate / maxima.rate(BARE)
    maxima.of_express[f"{WARMED_APART}, first reads"] = first.overall.achieved_rate / maxima.rate(EXPRESS)
    report.saturation = {name: to_dict(result) for name, result in maxima.results.items()}
    report.saturation["log_level"] = stack.env["IRONLOG_LOG_LEVEL"]
    report.saturation["rounds"] = rounds
    report.saturation["of_bare"] = maxima.of_bare
    report.saturation["of_express"] = maxima.of_express
    rows = [
        f"| {name} | {r.overall.achieved_rate:,.0f} | "
        + " / ".join(f"{rate:,.0f}" for rate in rounds.get(name, []))
        + f" | {maxima.of_bare[name]:.0%} | {maxima.of_express[name]:.2f}x | "
        f"{_ms(r.overall.latency.p50_ms)} | {_ms(r.overall.latency.p99_ms)} | {r.overall.errors} |"
        for name, r in maxima.results.items()
    ]
    report.section(
        "Maximum throughput",
        f"Closed loop, {profile.connections} connections, {MAX_ROUNDS} rounds in which every route is "
        f"measured in turn, {round_s:g} s after {profile.warmup_s:g} s of warm-up each; "
        f"{len(mix.lifters)} users signed in. Ironlog with {stack.api_workers} API process(es), logging "
        f"JSON at {stack.env['IRONLOG_LOG_LEVEL']}; the baselines in one process each, idle while the "
        "others are measured. A route's share of bare Litestar and its multiple of the seed's stack "
        "(serving the dashboard) are taken within each round, and the median round's is shown, with its "
        f"requests/s. The {WARMED_APART}'s first reads (mostly misses to Postgres) were measured once, "
        "before the reads were warmed.",
        "",
        "| route | requests/s | each round | of bare Litestar | of the seed's stack | p50 ms | p99 ms | "
        "errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
        *rows,
    )
    return maxima


#: The read whose first reads dominate a saturation run (40 workouts per user, 10 in the hot set):
#: measured before its cache is warm as well.
WARMED_APART = "workout"


async def warm(stack: Stack, requests: list[Request]) -> None:
    """Send each request once, eight at a time: what a read needs is in the caches afterwards."""
    async with Client("127.0.0.1", stack.port, max_connections=8) as client:
        gate = asyncio.Semaphore(8)

        async def one(request: Request) -> None:
            async with gate:
                response = await client.send(request)
            if response.status != 200:
                raise RuntimeError(f"warming {request.path}: {response.status} {response.body[:300]!r}")

        await asyncio.gather(*(one(request) for request in requests))


#: An open-model rate is kept up with when what it schedules is answered at that rate, without errors,
#: with a bounded p99 (no queue grows), and the generator itself sends on time.
KEPT_UP_SHARE = 0.97
KEPT_UP_P99_MS = 100.0
KEPT_UP_SEND_DELAY_P99_MS = 20.0
KEPT_UP_BACKLOG_S = 1.0  # the mix: what a probe wrote is projected within this once it is over
OPEN_STEP = 0.85  # each probe of the open model's maximum at 85% of the one before
OPEN_PROBES = 8
PROBE_S = 5.0  # at least: a queue that grows takes seconds to show in p99
PROBE_SEEDS = 1_000  # probes draw their requests (new workouts' ids) apart from the measured runs'


def kept_up(result: RunResult, rate: float) -> bool:
    overall, delay = result.overall, result.send_delay
    return (
        overall.achieved_rate >= KEPT_UP_SHARE * rate
        and overall.errors == 0
        and (overall.latency.p99_ms or 0.0) <= KEPT_UP_P99_MS
        and delay is not None
        and (delay.p99_ms or 0.0) <= KEPT_UP_SEND_DELAY_P99_MS
    )


async def open_maximum(
    run: Bench, kinds: list[Kind], ceiling: float, *, settled: Callable[[], Awaitable[bool]] | None = None
) -> tuple[float, list[RunResult]]:
    """The highest rate the open model keeps up with (`kept_up`, and `settled` once the probe is over),
    probed from `ceiling` (the closed loop's maximum) down in steps of 15%; and the probes. Open-model
    requests arrive on their own schedule over up to 64 connections, which costs the generator (on the
    same cores) more than a closed loop's eight connections: its maximum is the one a latency target at
    a share of the maximum is read against."""
    profile, args, stack = run.profile, run.args, run.stack
    rate, probes = ceiling, list[RunResult]()
    for _ in range(OPEN_PROBES):
        result = await run_open(
            "127.0.0.1", stack.port, kinds, rate=rate, duration_s=max(profile.saturation_s, PROBE_S),
            max_connections=OPEN_CONNECTIONS, seed=PROBE_SEEDS + args.seed + len(probes), drain_timeout_s=30,
        )  # fmt: skip
        probes.append(result)
        done = await settled() if settled is not None else True
        delay = result.send_delay.p99_ms if result.send_delay else None
        print(f"  open model at {rate:,.0f} req/s: {result.overall.achieved_rate:,.0f} answered, p99 "
              f"{_ms(result.overall.latency.p99_ms)} ms, send delay p99 {_ms(delay)} ms, "
              f"{result.overall.errors} errors {result.overall.error_statuses or ''}"
              f"{result.overall.exceptions or ''}{'' if done else ', not settled'}", flush=True)  # fmt: skip
        if done and kept_up(result, rate):
            return rate, probes
        rate *= OPEN_STEP
    raise RuntimeError(f"the open model kept up with no rate down to {rate / OPEN_STEP:,.0f} requests/s")


def probe_lines(probes: list[RunResult]) -> list[str]:
    """The probes of an open-model maximum, as a table."""
    return [
        "| offered req/s | answered req/s | p50 ms | p99 ms | send delay p99 ms | errors |",
        "|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {probe.target_rate or 0:,.0f} | {probe.overall.achieved_rate:,.0f} | "
            f"{_ms(probe.overall.latency.p50_ms)} | {_ms(probe.overall.latency.p99_ms)} | "
            f"{_ms(probe.send_delay.p99_ms if probe.send_delay else None)} | {probe.overall.errors} |"
            for probe in probes
        ],
    ]


def kept_up_rule(profile: Profile) -> str:
    return (
        f"Open model ({OPEN_CONNECTIONS} connections at most, {max(profile.saturation_s, PROBE_S):g} s a "
        f"probe), probed from there down in steps of {1 - OPEN_STEP:.0%} until a rate is kept up with "
        f"(answered at ≥ {KEPT_UP_SHARE:.0%} of it, no errors, p99 ≤ {KEPT_UP_P99_MS:g} ms, the "
        f"generator's send delay p99 ≤ {KEPT_UP_SEND_DELAY_P99_MS:g} ms"
    )


async def reads_at_70(run: Bench, mix: Mix, maxima: Maxima) -> dict[str, RunResult]:
    """The reads of the mix, open model, at 70% of the dashboard's maximum (the target's rate), then at
    70% of the read mix's own maximum in the open model, which shows what its latency is with headroom."""
    profile, args, stack, report = run.profile, run.args, run.stack, run.report
    reads = {name: float(MIX[name]) for name in READS}
    with stack.profiling("reads-maximum", args.profile):
        reads_max = await saturate(stack, profile, mix.kinds(reads))
    open_max, probes = await open_maximum(run, mix.kinds(reads), reads_max.overall.achieved_rate)
    report.reads["open_maximum"] = {"rate": open_max, "probes": [to_dict(probe) for probe in probes]}
    report.section(
        "The read mix's maximum",
        f"Closed loop, {profile.connections} connections: {reads_max.overall.achieved_rate:,.0f} requests/s. "
        f"{kept_up_rule(profile)}): **{open_max:,.0f}** requests/s.",
        "",
        *probe_lines(probes),
    )
    runs: dict[str, RunResult] = {}
    for label, rate in (
        ("dashboard", SHARE_OF_MAX * maxima.rate("dashboard")),
        ("reads", SHARE_OF_MAX * open_max),
    ):
        before = stack.metrics()
        with stack.profiling(f"reads-{label}", args.profile):
            runs[label] = await run_open(
                "127.0.0.1", stack.port, mix.kinds(reads), rate=rate, duration_s=profile.mix_s,
                max_connections=OPEN_CONNECTIONS, seed=args.seed, drain_timeout_s=30,
            )  # fmt: skip
        hits, counts = cache_hit_ratio(before, stack.metrics())
        report.reads[label] = to_dict(runs[label]) | {"cache_hit_ratio": hits, "cache_reads": counts}
        report.section(
            f"Reads at 70% of the {'dashboard' if label == 'dashboard' else 'read mix'}'s maximum",
            f"Open model, the reads of the mobile mix in its proportions, at {rate:,.0f} requests/s "
            + (
                f"({SHARE_OF_MAX:.0%} of the dashboard's maximum, the target's rate)"
                if label == "dashboard"
                else f"({SHARE_OF_MAX:.0%} of the {open_max:,.0f} requests/s the read mix keeps up with in "
                "the open model)"
            )
            + f" for {profile.mix_s:g} s; latency from each request's intended send time.",
            "",
            render_markdown(runs[label]),
            "",
            f"Cache hit ratio: **{_ratio(hits)}** of {sum(counts.values()):,.0f} reads ({_counts(counts)}).",
        )
    report.reads["maximum"] = to_dict(reads_max)
    return runs


async def mobile_mix(run: Bench, mix: Mix) -> tuple[RunResult, float | None]:
    profile, args, settings, stack, report = run.profile, run.args, run.settings, run.stack, run.report
    # 5. The whole mobile mix: its maximum (closed loop, writes included; then open model), then 70% of it.
    kinds = mix.kinds({name: float(weight) for name, weight in MIX.items()})
    with stack.profiling("mix-maximum", args.profile):
        mix_max = await saturate(stack, profile, kinds)
    # The closed loop outruns the worker: its writes are done only once projected. The mix's maximum
    # counts the time to project what it wrote, so a rate below it is one the worker keeps up with.
    _, backlog_s = await drain(settings, timeout_s=300)
    sustained = mix_max.scheduled / (mix_max.elapsed_s + backlog_s)

    async def projected() -> bool:  # what a probe wrote is projected promptly: the worker kept up too
        _, left_s = await drain(settings, timeout_s=300)
        return left_s <= KEPT_UP_BACKLOG_S

    open_max, probes = await open_maximum(run, kinds, sustained, settled=projected)
    rate = SHARE_OF_MAX * open_max
    before, worker_before = stack.metrics(), stack.worker_metrics()
    with stack.profiling("mix", args.profile):
        mixed = await run_open(
            "127.0.0.1", stack.port, kinds, rate=rate, duration_s=profile.mix_s,
            max_connections=OPEN_CONNECTIONS, seed=args.seed, drain_timeout_s=30,
        )  # fmt: skip
    after = stack.metrics()
    batch_s, batches = histogram_mean(
        worker_before, stack.worker_metrics(), "ironlog_projection_batch_seconds"
    )
    hit_ratio, by_result = cache_hit_ratio(before, after)
    by_model = cache_reads(before, after)
    report.mix = to_dict(mixed) | {
        "cache_hit_ratio": hit_ratio, "cache_reads": by_result, "maximum": to_dict(mix_max),
        "backlog_s": backlog_s, "sustained": sustained, "open_maximum": open_max,
        "probes": [to_dict(probe) for probe in probes], "projection_batches": batches,
        "projection_batch_mean_s": batch_s,
        "cache_reads_by_model": {f"{model} {result}": n for (model, result), n in by_model.items()},
    }  # fmt: skip
    report.section(
        "Mobile mix",
        f"Its maximum, closed loop with {profile.connections} connections: "
        f"{mix_max.overall.achieved_rate:,.0f} requests/s answered ({mix_max.overall.errors} errors), "
        f"whose writes took another {backlog_s:.1f} s to project: {sustained:,.0f} requests/s done. "
        f"{kept_up_rule(profile)}, and what it wrote projected within {KEPT_UP_BACKLOG_S:g} s): "
        f"**{open_max:,.0f}** requests/s. Then the open model at {rate:,.0f} requests/s "
        f"({SHARE_OF_MAX:.0%} of that) for {profile.mix_s:g} s; latency from each request's intended send "
        "time. Each write is read back with its consistency token until the answer is not stale: "
        "projection lag runs from the write's answer to that read's, write to visible from the write's "
        "intended send time.",
        "",
        *probe_lines(probes),
        "",
        render_markdown(mixed),
        "",
        f"Cache hit ratio (read models served from memory or Redis, from /metrics): "
        f"**{_ratio(hit_ratio)}** of {sum(by_result.values()):,.0f} reads ({_counts(by_result)}); by read "
        "model: "
        + ", ".join(
            f"{model} {by_model.get((model, 'hit'), 0):,.0f} of "
            f"{sum(n for (m, _), n in by_model.items() if m == model):,.0f}"
            for model in sorted({model for model, _ in by_model})
        )
        + f". The worker projected {batches:,.0f} batches, "
        + ("none" if batch_s is None else f"{batch_s * 1000:,.1f} ms each on average")
        + " (`ironlog_projection_batch_seconds`).",
    )
    return mixed, hit_ratio


async def growth(run: Bench, sized: dict[int, Lifter]) -> dict[str, float | None]:
    profile, stack, report = run.profile, run.stack, run.report
    # 6. CQRS against naive reads as one user's history grows.
    # Sizes and routes take turns in short rounds, so a noisy second of the machine does not land on
    # one size alone; each p50 is over all of its rounds' latencies together.
    histograms: dict[tuple[str, int], Any] = {}
    for _ in range(GROWTH_ROUNDS):
        for size, lifter in sized.items():
            for route in ("dashboard", "naive dashboard"):
                kind = Kind(route, Request("GET", READ_PATHS[route], lifter.headers), expect={200})
                result = await run_saturation(
                    "127.0.0.1", stack.port, [kind], connections=1,
                    duration_s=profile.naive_s / GROWTH_ROUNDS, warmup_s=0.2,
                )  # fmt: skip
                combined = histograms.get((route, size))
                if combined is None:
                    histograms[route, size] = result.overall.histogram
                else:
                    combined.add(result.overall.histogram)
    by_route: dict[str, dict[int, float | None]] = {"dashboard": {}, "naive dashboard": {}}
    for (route, size), histogram in histograms.items():
        by_route[route][size] = Latency.of(histogram).p50_ms
    report.growth = {
        route: {str(size): p50 for size, p50 in by_size.items()} for route, by_size in by_route.items()
    }
    smallest, largest = profile.sizes[0], profile.sizes[-1]
    ratios = {route: _growth(by_size, smallest, largest) for route, by_size in by_route.items()}
    report.growth["ratios"] = ratios
    report.section(
        "CQRS against naive reads",
        f"One user with {', '.join(f'{size:,}' for size in profile.sizes)} workouts; p50 of one connection's "
        f"back-to-back requests over {profile.naive_s:g} s, in {GROWTH_ROUNDS} rounds taking turns.",
        "",
        "| workouts | dashboard (read model) p50 ms | naive (SQL on write tables) p50 ms |",
        "|---:|---:|---:|",
        *[
            f"| {size:,} | {_ms3(by_route['dashboard'][size])} | {_ms3(by_route['naive dashboard'][size])} |"
            for size in profile.sizes
        ],
        f"| growth p50({largest:,}) / p50({smallest:,}) | {_x(ratios['dashboard'])} | "
        f"{_x(ratios['naive dashboard'])} |",
    )
    return ratios


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _counts(by_result: dict[str, float]) -> str:
    return ", ".join(f"{result} {count:,.0f}" for result, count in sorted(by_result.items()))


def _growth(by_size: dict[int, float | None], smallest: int, largest: int) -> float | None:
    low, high = by_size.get(smallest), by_size.get(largest)
    return None if not low or high is None else high / low


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def targets(report: Report, maxima: Maxima, reads: dict[str, RunResult], mixed: RunResult, *,
            hit_ratio: float | None,
            ratios: dict[str, float | None], stack: Stack) -> None:  # fmt: skip
    cheapest = max(maxima.of_bare[name] for name in CHEAP)
    share = maxima.of_bare["dashboard"]
    of_express = maxima.of_express["dashboard"]
    worst_name = min(READS, key=lambda name: maxima.of_bare[name])
    worst = maxima.of_bare[worst_name]
    reads_p95 = max((reads["dashboard"].kind(name).latency.p95_ms or 0.0) for name in READS)
    mix_p95 = reads["reads"].overall.latency.p95_ms or 0.0
    put_p95 = mixed.kind("log workout").latency.p95_ms or 0.0
    lag = mixed.extra("projection lag").latency  # noqa: S610 - not Django
    api_mb = stack.peaks.api / 2**20
    growth = ratios["dashboard"]
    rows = [
        ("Cheapest route ≥ 65% of bare Litestar", f"{cheapest:.0%}", cheapest >= 0.65),
        ("Dashboard maximum throughput ≥ 50% of bare Litestar", f"{share:.0%}", share >= 0.5),
        ("Dashboard ≥ 4x the seed's stack", f"{of_express:.2f}x", of_express >= 4),
        ("Every read ≥ 35% of bare Litestar (slowest)", f"{worst_name} {worst:.0%}", worst >= 0.35),
        ("Reads p95 ≤ 10 ms at 70% of that maximum (worst read)", f"{reads_p95:,.1f} ms", reads_p95 <= 10),
        ("Read mix p95 ≤ 10 ms at 70% of its own maximum (open model)", f"{mix_p95:,.1f} ms", mix_p95 <= 10),
        ("PUT workout p95 ≤ 50 ms (mix)", f"{put_p95:,.1f} ms", put_p95 <= 50),
        ("Projection lag p95 ≤ 100 ms (mix)", f"{_ms(lag.p95_ms)} ms", (lag.p95_ms or 1e9) <= 100),
        ("Projection lag p99 ≤ 500 ms (mix)", f"{_ms(lag.p99_ms)} ms", (lag.p99_ms or 1e9) <= 500),
        ("Cache hit ratio ≥ 98% (mix)", _ratio(hit_ratio), (hit_ratio or 0) >= 0.98),
        ("Dashboard p50 growth ≤ 1.1", _x(growth), growth is not None and growth <= 1.1),
        ("API RSS ≤ 200 MB", f"{api_mb:,.0f} MB", api_mb <= 200),
    ]
    report.section(
        "Targets",
        "| target | measured | |",
        "|---|---:|---|",
        *[f"| {name} | {value} | {_verdict(ok)} |" for name, value, ok in rows],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small data and short runs (about 3 minutes)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated history and of the load")
    parser.add_argument("--users", type=int, help="seeded users (default: 400, quick 60)")
    parser.add_argument("--months", type=int, help="months of history per user (default: 12, quick 3)")
    parser.add_argument("--mix-seconds", type=float, help="length of the mobile mix (default: 60, quick 15)")
    parser.add_argument("--worker-threads", type=int, default=4, help="threads of the projection worker")
    parser.add_argument("--api-workers", type=int, default=1, help="API processes (uvicorn --workers)")
    parser.add_argument("--worker-processes", type=int, default=1, help="projection worker processes")
    parser.add_argument("--drain-only", action="store_true", help="seed and drain, then stop")
    parser.add_argument("--profile", action="store_true", help="py-spy the API (the worker while draining)")
    parser.add_argument("--log-level", default="INFO", help="the API's and worker's (JSON) log level")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench", help="where the report and logs go")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    profile = Profile(
        **{
            **profile.__dict__,
            **{k: v for k, v in (("users", args.users), ("months", args.months), ("mix_s", args.mix_seconds))
               if v is not None},
        }
    )  # fmt: skip

    run_id = uuid.uuid4().hex[:10]
    servers, settings = configure(run_id)
    os.environ["IRONLOG_ACCESS_TOKEN_TTL_S"] = "7200"  # noqa: S105 - the whole run on one sign-in
    configure_logging(settings, process="bench")
    logs = args.out / run_id
    logs.mkdir(parents=True, exist_ok=True)
    print(f"database {servers.database} on {urlsplit(servers.admin_url).netloc}, prefix {servers.prefix}")
    stack = Stack(
        dict(os.environ), logs, args.worker_threads, api_workers=args.api_workers,
        worker_processes=args.worker_processes, log_level=args.log_level.upper(),
    )  # fmt: skip
    started = time.perf_counter()
    report = Report(
        profile="quick" if args.quick else "full",
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=machine(),
        versions={},
        broker="RabbitMQ" if urlsplit(servers.broker_url).scheme.startswith("amqp") else "Redis (polled)",
    )
    try:
        asyncio.run(create_and_migrate(servers, settings))
        report.versions = asyncio.run(versions(settings))
        _run(bench(profile, args, settings, stack, report))
    finally:
        stack.stop()
        asyncio.run(clean_up(servers))
    elapsed = time.perf_counter() - started
    header = [
        f"# Ironlog benchmark ({report.profile}), {report.started}, {elapsed:.0f} s",
        "",
        f"Machine: {report.machine['cores']} cores ({report.machine['cpu']}), {report.machine['memory']}; "
        + ", ".join(f"{name} {value}" for name, value in report.versions.items()),
        "",
        f"Broker: {report.broker} (`BROKER_URL`).",
        "",
    ]
    (args.out / "latest.md").write_text("\n".join(header + report.markdown))
    (args.out / "latest.json").write_text(
        json.dumps(report.__dict__ | {"seconds": elapsed}, indent=1, default=str)
    )
    print(f"\nreport: {args.out / 'latest.md'} and latest.json ({elapsed:.0f} s in all)")
    return 0


def _run(coroutine: Any) -> None:
    from ops.bench.loadgen import run

    run(coroutine)


if __name__ == "__main__":
    sys.exit(main())
