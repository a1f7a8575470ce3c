"""What one new workout costs the projection (`make bench-batch`): the time and round trips of a
one-event batch, by the length of the user's history.

    PYTHONPATH=. python ops/bench/batch.py [--rounds 60] [--users 2] [--profile]

Users are seeded with about 1, 12 and 72 months of history (about 13 workouts a month) and projected.
Then, round after round, each user logs one new workout, their latest, through the command, and this
process projects it at once with `project_user` (the projection transaction and the Redis sync), as a
worker would, on one connection, with the collector set as a worker's is once started
(`core.processes`: the heap frozen, so that the older generations skip what seeding left alive, and
the young generation collected less often).
Measured per batch: wall time, this process's CPU time (the worker's
own work; Postgres's is not in it) and the statements sent to Postgres. The report goes to stdout and
`.bench/batch.md`. With `--profile`, the batches run under cProfile (which slows them: read the shares,
not the times) and the functions that took the most time of their own go to `.bench/batch-profile.txt`
(and the whole profile to `.bench/batch.prof`).

Before the rounds, the seeded users' streams are projected from nothing, one user after another: the
drain, reported in events/s (`--profile-drain` profiles that instead).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from redis.asyncio import Redis

from api.seed_cli import seed
from commands.events import Workout
from commands.versioning import IfMatch
from commands.workouts import put_workout
from core import clock, loops
from core.db import Connection
from core.logs import configure_logging
from core.processes import settle_for_batches
from core.redis import Keys
from core.settings import Settings
from ops.bench.common import clean_up, configure, create_and_migrate
from ops.bench.run import _synthetic_workout
from ops.bench.stack import cpu_ticks
from projections.runner import project_user

ROOT = Path(__file__).resolve().parents[2]
#: How the records' read of an exercise's whole history of sessions starts (projections/store.py).
HISTORY_READ = "SELECT exercise_id, body FROM rm_exercise_sessions"
#: (label, months of seeded history, seed): each seed value names users of its own.
HISTORIES = (("1 month", 1, 11), ("12 months", 12, 12), ("72 months", 72, 13))


class Counted:
    """Statements sent on the pool's connection while `on`, and each one's time by its text."""

    def __init__(self) -> None:
        self.on = False
        self.sent = 0
        self.history_reads = 0  # reads of an exercise's whole history of sessions
        self.label = ""
        self.elapsed: dict[tuple[str, str], list[float]] = {}

    def log(self, record: Any) -> None:
        # By the query as sent (shortened when reported): little CPU added to what is measured.
        if self.on:
            self.sent += 1
            self.history_reads += record.query.lstrip().startswith(HISTORY_READ)
            self.elapsed.setdefault((self.label, record.query), []).append(record.elapsed * 1000)


async def _one_batch(
    pool: asyncpg.Pool,
    redis: Redis,
    keys: Keys,
    user_id: uuid.UUID,
    *,
    counted: Counted,
    profiler: cProfile.Profile | None,
) -> dict[str, float]:
    """Project the user's one new event, measured: wall and CPU ms, statements, whether it read an
    exercise's whole history (1.0) or not."""
    counted.sent, counted.history_reads, counted.on = 0, 0, True
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    outcome = await project_user(pool, redis, keys, user_id)
    if profiler is not None:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    counted.on = False
    assert outcome.applied == 1, outcome
    return {
        "wall_ms": wall * 1000,
        "cpu_ms": cpu * 1000,
        "statements": counted.sent,
        "history": float(counted.history_reads > 0),
    }


def _edited(workout: Workout) -> Workout:
    """The workout as a lifter fixes it afterwards: one rep fewer on its last set (or a new title)."""
    last = workout.exercises[-1]
    sets = list(last.sets)
    if sets and sets[-1].reps is not None and sets[-1].reps > 1:
        sets[-1] = msgspec.structs.replace(sets[-1], reps=sets[-1].reps - 1)
        exercises = [*workout.exercises[:-1], msgspec.structs.replace(last, sets=sets)]
        return msgspec.structs.replace(workout, exercises=exercises)
    return msgspec.structs.replace(workout, title=f"{workout.title} (edited)")


async def _history(settings: Settings, months: int, seed_value: int, users: int) -> list[uuid.UUID]:
    yesterday = (clock.now() - timedelta(days=1)).date()
    before = await _user_ids(settings)
    await seed(settings, users=users, months=months, seed=seed_value, today=yesterday)
    return sorted(set(await _user_ids(settings)) - set(before))


async def _user_ids(settings: Settings) -> list[uuid.UUID]:
    connection = await asyncpg.connect(settings.database.url)
    try:
        return [row["user_id"] for row in await connection.fetch("SELECT user_id FROM streams")]
    finally:
        await connection.close()


async def _drain(
    pool: asyncpg.Pool,
    redis: Redis,
    keys: Keys,
    users: list[uuid.UUID],
    *,
    events: int,
    concurrency: int,
    profiler: cProfile.Profile | None,
) -> dict[str, float]:
    """Each seeded user's whole stream projected (and synced), one user after another or `concurrency`
    at a time, as a worker's threads do on its one event loop; with the CPU the servers spent on it
    (the drain's backends, the Redis server)."""
    servers = await _server_pids(pool, concurrency, redis)
    settle_for_batches()  # the collector as a worker's once started: what is alive now out of its way
    ticks = sum(map(cpu_ticks, servers))
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    slots = asyncio.Semaphore(concurrency)

    async def drain_one(user_id: uuid.UUID) -> None:
        async with slots:
            await project_user(pool, redis, keys, user_id)

    async with asyncio.TaskGroup() as group:
        for user_id in users:
            group.create_task(drain_one(user_id))
    if profiler is not None:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    server_s = (sum(map(cpu_ticks, servers)) - ticks) / os.sysconf("SC_CLK_TCK")
    return {"events": events, "wall_s": wall, "cpu_s": cpu, "server_s": server_s, "concurrency": concurrency}


async def measure(
    args: argparse.Namespace,
    settings: Settings,
    profiler: cProfile.Profile | None = None,
    drain_profiler: cProfile.Profile | None = None,
) -> list[dict[str, Any]]:
    assert settings.database.url and settings.redis.url
    counted = Counted()

    async def init(connection: asyncpg.Connection) -> None:
        connection.add_query_logger(counted.log)

    pool = await asyncpg.create_pool(
        settings.database.url, min_size=1, max_size=1, init=init, connection_class=Connection
    )
    drain_pool = await asyncpg.create_pool(
        settings.database.url,
        min_size=args.drain_concurrency,
        max_size=args.drain_concurrency,
        connection_class=Connection,
    )
    writer = await asyncpg.connect(settings.database.url)
    redis = Redis.from_url(settings.redis.url)
    keys = Keys(settings.redis.prefix)
    rng = random.Random(args.seed)  # noqa: S311 - workouts of a benchmark, not secrets
    results = []
    try:
        groups = []
        drains: dict[str, dict[str, float]] = {}
        for label, months, seed_value in HISTORIES:
            users = await _history(settings, months, seed_value, args.users)
            events = await writer.fetchval(
                "SELECT sum(version)::bigint FROM streams WHERE user_id = ANY($1::uuid[])", users
            )
            drains[label] = await _drain(
                drain_pool,
                redis,
                keys,
                users,
                events=events,
                concurrency=args.drain_concurrency,
                profiler=drain_profiler,
            )
            workouts = await writer.fetchval(
                "SELECT count(*) FROM workouts WHERE user_id = ANY($1::uuid[])", users
            )
            groups.append((label, users, workouts // len(users)))
        samples: dict[str, dict[str, list[float]]] = {
            label: collections.defaultdict(list) for label, _, _ in groups
        }
        settle_for_batches()
        for _ in range(args.rounds):
            for label, users, _ in groups:
                for user_id in users:
                    started = clock.now() - timedelta(minutes=1)
                    workout = _synthetic_workout(rng, started.astimezone(UTC), rng.randint(0, 400))
                    workout_id = uuid.uuid4()
                    # The new workout, then an edit of it: one rep fewer on its last set.
                    for kind, written, if_match in (
                        ("", workout, None),
                        ("amend_", _edited(workout), IfMatch(versions=frozenset({1}))),
                    ):
                        async with writer.transaction():
                            await put_workout(
                                writer,
                                user_id=user_id,
                                workout_id=workout_id,
                                workout=written,
                                if_match=if_match,
                                now=clock.now(),
                                request_id=None,
                            )
                        counted.label = f"{label} {kind}"
                        one = await _one_batch(pool, redis, keys, user_id, counted=counted, profiler=profiler)
                        for name, value in one.items():
                            samples[label][f"{kind}{name}"].append(value)
        for label, _, history in groups:
            taken = samples[label]
            results.append(
                {
                    "history": label,
                    "workouts": history,
                    "batches": len(taken["wall_ms"]),
                    "wall_p50": statistics.median(taken["wall_ms"]),
                    "wall_p95": _p95(taken["wall_ms"]),
                    "cpu_p50": statistics.median(taken["cpu_ms"]),
                    "statements": statistics.median(taken["statements"]),
                    "amend_wall_p50": statistics.median(taken["amend_wall_ms"]),
                    "amend_cpu_p50": statistics.median(taken["amend_cpu_ms"]),
                    "amend_statements": statistics.median(taken["amend_statements"]),
                    "amend_history": statistics.fmean(taken["amend_history"]),
                    "drain": drains[label],
                    # per statement: summed over the batches, as the client waited for it
                    "slowest": sorted(
                        (
                            (sum(times) / len(taken["wall_ms"]), " ".join(query.split())[:90])
                            for (group, query), times in counted.elapsed.items()
                            if group == f"{label} "
                        ),
                        reverse=True,
                    )[:8],
                }
            )
    finally:
        await pool.close()
        await drain_pool.close()
        await writer.close()
        await redis.aclose()
    return results


async def _server_pids(pool: asyncpg.Pool, size: int, redis: Redis) -> list[int]:
    """The Postgres backends of the pool's `size` connections and the Redis server, when they run on
    this machine (their CPU is read from /proc; elsewhere it reads as 0)."""
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(pool.acquire()) for _ in range(size)]
        backends = [await connection.fetchval("SELECT pg_backend_pid()") for connection in connections]
    info = await redis.info("server")
    return [*backends, int(info["process_id"])]


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(len(values) * 0.95) - 1)]


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "| history | workouts per user | batches | wall p50 ms | wall p95 ms | worker CPU p50 ms "
        "| statements |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        times = f"{r['wall_p50']:.2f} | {r['wall_p95']:.2f} | {r['cpu_p50']:.2f}"
        lines.append(
            f"| {r['history']} | {r['workouts']} | {r['batches']} | {times} | {r['statements']:.0f} |"
        )
    lines += [
        "",
        "Each new workout then edited once (one rep fewer on its last set), and that amendment's batch:",
        "",
        "| history | amendments | wall p50 ms | worker CPU p50 ms | statements | read a whole history |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        times = f"{r['amend_wall_p50']:.2f} | {r['amend_cpu_p50']:.2f}"
        lines.append(
            f"| {r['history']} | {r['batches']} | {times} | {r['amend_statements']:.0f} "
            f"| {r['amend_history']:.0%} |"
        )
    lines += [
        "",
        "The drain: each seeded user's stream projected from nothing in this process, "
        + (
            "users one after another"
            if results[0]["drain"]["concurrency"] == 1
            else f"{results[0]['drain']['concurrency']:.0f} users at a time on one event loop"
        )
        + " (batches of the runner's default size, each followed by the Redis sync):",
        "",
        "| history | events | wall s | events/s | worker CPU per event ms "
        "| Postgres and Redis CPU per event ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        d = r["drain"]
        rate, cpu = d["events"] / d["wall_s"], d["cpu_s"] * 1000 / d["events"]
        server = d["server_s"] * 1000 / d["events"]
        lines.append(
            f"| {r['history']} | {d['events']:.0f} | {d['wall_s']:.2f} | {rate:,.0f} | {cpu:.3f} "
            f"| {server:.3f} |"
        )
    longest = results[-1]
    lines += [
        "",
        f"The statements that took longest with {longest['history']} of history (ms per batch, round trip",
        "included):",
        "",
        "| ms | statement |",
        "|---:|---|",
        *(f"| {ms:.2f} | `{text}` |" for ms, text in longest["slowest"]),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60, help="new workouts per user")
    parser.add_argument("--users", type=int, default=2, help="users per history length")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / ".bench")
    parser.add_argument("--profile", action="store_true", help="run the batches under cProfile")
    parser.add_argument("--profile-drain", action="store_true", help="run the drain under cProfile instead")
    parser.add_argument(
        "--drain-concurrency", type=int, default=1, help="users projected at once in the drain (a worker: 4)"
    )
    args = parser.parse_args(argv)
    profiler = cProfile.Profile() if args.profile and not args.profile_drain else None
    drain_profiler = cProfile.Profile() if args.profile_drain else None
    run_id = uuid.uuid4().hex[:10]
    servers, settings = configure(run_id)
    configure_logging(settings, process="bench")
    try:
        asyncio.run(create_and_migrate(servers, settings))
        results = loops.run(measure(args, settings, profiler, drain_profiler))
    finally:
        asyncio.run(clean_up(servers))
    text = report(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "batch.md").write_text(text)
    profiler = profiler or drain_profiler
    if profiler is not None:
        listing = io.StringIO()
        pstats.Stats(profiler, stream=listing).sort_stats("tottime").print_stats(40)
        listing.write("\nOurs, by cumulative time:\n")
        ours = pstats.Stats(profiler, stream=listing).sort_stats("cumulative")
        ours.print_stats(r"/(projections|core)/", 40)
        profiler.dump_stats(args.out / "batch.prof")
        (args.out / "batch-profile.txt").write_text(listing.getvalue())
        print(listing.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
