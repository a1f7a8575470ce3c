"""What Ironlog stores per user: Redis after a seeded history is projected and again after a rebuild,
and every Postgres table and index, read models against the write side (`make bench-memory`).

    PYTHONPATH=. python ops/bench/memory.py [--users 400] [--months 12]

Seeds `--users` users with `--months` of history on a database of its own, drains the backlog with
one worker process, measures; rebuilds every read model, measures Redis again. The report goes to
stdout and `.bench/memory.md`; BENCHMARKS.md ("Memory budget") turns it into a cost model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from api.projections_cli import rebuild
from api.seed_cli import seed
from core.logs import configure_logging
from core.settings import Settings
from ops.bench.common import clean_up, configure, create_and_migrate
from ops.bench.run import drain, footprint_lines, redis_footprint
from ops.bench.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
#: The tables commands write (the truth); every rm_* and projection_* table is derived from them.
WRITE_SIDE = ("users", "streams", "events", "workouts", "workout_exercises", "workout_sets", "bodyweights",
              "routines", "exercises", "follows", "refresh_families", "refresh_tokens",
              "access_token_cutoffs")  # fmt: skip


async def table_sizes(settings: Settings) -> list[dict[str, Any]]:
    """Every table of ours with its rows, heap (with TOAST) and index bytes, largest first."""
    connection = await asyncpg.connect(settings.database.url)
    try:
        await connection.execute("VACUUM ANALYZE")  # settled sizes and row estimates
        rows = await connection.fetch(
            """
            SELECT CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END || c.relname AS name,
                c.reltuples::bigint AS rows, pg_table_size(c.oid) AS heap, pg_indexes_size(c.oid) AS indexes
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('public', 'analytics') AND c.relkind = 'r' AND c.relname NOT LIKE 'piccolo%'
            ORDER BY pg_total_relation_size(c.oid) DESC
            """
        )
        indexes = await connection.fetch(
            """
            SELECT CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END
                    || t.relname AS table_name, i.relname AS name, pg_relation_size(i.oid) AS bytes
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname IN ('public', 'analytics') ORDER BY bytes DESC
            """
        )
        counts = {
            "workouts": await connection.fetchval("SELECT count(*) FROM workouts"),
            "sets": await connection.fetchval("SELECT count(*) FROM workout_sets"),
            "events": await connection.fetchval("SELECT count(*) FROM events"),
        }
    finally:
        await connection.close()
    tables = [dict(row) | {"indexes_detail": []} for row in rows]
    by_name = {table["name"]: table for table in tables}
    for index in indexes:
        if index["table_name"] in by_name:
            by_name[index["table_name"]]["indexes_detail"].append((index["name"], index["bytes"]))
    return [{"counts": counts}, *tables]


def side_of(name: str) -> str:
    if name.startswith(("rm_", "projection_", "analytics.")):
        return "read models"
    return "write side" if name in WRITE_SIDE else "other"


def postgres_lines(measured: list[dict[str, Any]]) -> list[str]:
    counts, tables = measured[0]["counts"], measured[1:]
    workouts = counts["workouts"] or 1
    totals: dict[str, int] = {}
    lines = [
        f"{counts['workouts']:,} workouts, {counts['sets']:,} sets, {counts['events']:,} events.",
        "",
        "| table | side | rows | table MB | indexes MB | bytes per workout | indexes |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for table in tables:
        side = side_of(table["name"])
        size = table["heap"] + table["indexes"]
        totals[side] = totals.get(side, 0) + size
        if size < 64 * 1024:
            continue  # the small tables: counted in the totals, left out of the table
        detail = ", ".join(f"{name} {size / 2**20:,.1f}" for name, size in table["indexes_detail"])
        lines.append(
            f"| {table['name']} | {side} | {table['rows']:,} | {table['heap'] / 2**20:,.1f} | "
            f"{table['indexes'] / 2**20:,.1f} | {size / workouts:,.0f} | {detail} |"
        )
    write, read = totals.get("write side", 0), totals.get("read models", 0)
    lines += [
        "",
        f"Write side {write / 2**20:,.1f} MB ({write / workouts:,.0f} bytes per workout), read models "
        f"{read / 2**20:,.1f} MB ({read / workouts:,.0f} bytes per workout): "
        f"**{read / max(write, 1):.2f} times** the write side.",
    ]
    return lines


async def measure(args: argparse.Namespace, settings: Settings, stack: Stack) -> dict[str, Any]:
    result: dict[str, Any] = {}
    seeded = await seed(settings, users=args.users, months=args.months, seed=args.seed)
    result["seed"] = {"users": seeded.users, "workouts": seeded.workouts, "events": seeded.events}
    print(f"seeded {seeded.users} users, {seeded.workouts:,} workouts in {seeded.seconds:.0f} s", flush=True)
    stack.start_worker()
    events, seconds = await drain(settings, timeout_s=1800)
    result["drain"] = {"events": events, "seconds": seconds}
    print(f"drained {events:,} events in {seconds:.0f} s", flush=True)
    result["redis"] = {"after seeding and draining": await redis_footprint(settings)}
    result["postgres"] = await table_sizes(settings)
    started = time.perf_counter()
    rebuilt = await rebuild(settings, None)
    result["rebuild"] = {
        "events": rebuilt.events if rebuilt else 0,
        "seconds": time.perf_counter() - started,
    }
    await drain(settings, timeout_s=600)
    result["redis"]["after a rebuild of every user"] = await redis_footprint(settings)
    result["postgres_rebuilt"] = await table_sizes(settings)
    return result


def report(args: argparse.Namespace, result: dict[str, Any]) -> str:
    rebuilt = result["rebuild"]
    lines = [
        f"# Memory budget: {args.users} users, {args.months} months each",
        "",
        "## Redis",
        "",
        "MEMORY USAGE of every key under the run's prefix; per user who logged a workout in the last 7 days.",
        "",
        "| when | bytes | active users | users with keys | per active user | by kind |",
        "|---|---:|---:|---:|---:|---|",
        *(line for label, found in result["redis"].items() for line in footprint_lines(label, found)),
        "",
        f"The rebuild replayed {rebuilt['events']:,} events in {rebuilt['seconds']:.0f} s "
        f"({rebuilt['events'] / max(rebuilt['seconds'], 1e-9):,.0f} events/s).",
        "",
        "## Postgres after seeding and draining",
        "",
        "Live tables, with the space the projection's updates left behind (reused, not returned).",
        "",
        *postgres_lines(result["postgres"]),
        "",
        "## Postgres after a rebuild of every user",
        "",
        "The read models as a rebuild writes them, each row once.",
        "",
        *postgres_lines(result["postgres_rebuilt"]),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / ".bench", help="where the report goes")
    args = parser.parse_args(argv)
    run_id = uuid.uuid4().hex[:10]
    servers, settings = configure(run_id)
    configure_logging(settings, process="bench")
    logs = args.out / f"memory-{run_id}"
    logs.mkdir(parents=True, exist_ok=True)
    stack = Stack(dict(os.environ), logs, worker_threads=4, log_level="WARNING")
    try:
        asyncio.run(create_and_migrate(servers, settings))
        result = asyncio.run(measure(args, settings, stack))
    finally:
        stack.stop()
        asyncio.run(clean_up(servers))
    text = report(args, result)
    print(text)
    (args.out / "memory.md").write_text(text)
    (args.out / "memory.json").write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
