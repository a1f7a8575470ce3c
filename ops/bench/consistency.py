"""A token read right after a write (`make bench-consistency`): how long a phone waits to read back
what it just logged, with Dramatiq's Redis broker (polled) and with RabbitMQ (pushed), for one writer
and for eight writers on eight users at once.

    PYTHONPATH=. python ops/bench/consistency.py [--writes 150] [--rabbitmq amqp://…]

Each writer logs a new workout (`PUT /v1/workouts/{id}`) and at once reads it back with the write's
`X-Consistency-Token`, which waits until the worker projected it. Measured: that read, from the
write's answer to the read's (what the issue's target names), and the write itself. One API process
and one worker process (4 threads) on a database of the run's own; the report goes to stdout and
`.bench/consistency.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from hdrh.histogram import HdrHistogram

from ops.bench.common import clean_up, configure, create_and_migrate
from ops.bench.loadgen import Client, Request
from ops.bench.run import _synthetic_workout
from ops.bench.stack import Stack
from tests.accounts import new_identity
from tests.harness import delete_queues

ROOT = Path(__file__).resolve().parents[2]
JSON = {"Content-Type": "application/json"}
ENCODER = msgspec.json.Encoder()


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, 60_000_000, 3)  # microseconds


async def _writer(client: Client, headers: dict[str, str], writes: int, seed: int) -> tuple[Any, Any, int]:
    """`writes` workouts, each read back with its token; (token read µs, write µs, stale answers).

    As a lifter logs them: one a day, each the latest when it is logged (a workout logged late, before
    the exercise's last record, reads the exercise's whole history: `make bench-batch` measures that
    as an amendment)."""
    rng = random.Random(seed)  # noqa: S311 - workouts of a benchmark, not secrets
    reads, puts, stale = _histogram(), _histogram(), 0
    first = datetime.now(UTC) - timedelta(days=writes + 1)
    for n in range(writes):
        workout_id = uuid.uuid4()
        started = first + timedelta(days=n, minutes=rng.randint(0, 600))
        body = ENCODER.encode(_synthetic_workout(rng, started, rng.randint(0, 400)))
        sent = time.perf_counter_ns()
        written = await client.send(Request("PUT", f"/v1/workouts/{workout_id}", {**headers, **JSON}, body))
        answered = time.perf_counter_ns()
        if written.status != 201:
            raise RuntimeError(f"write: {written.status} {written.body[:300]!r}")
        token = written.header("x-consistency-token") or ""
        read = await client.send(
            Request("GET", f"/v1/workouts/{workout_id}", {**headers, "X-Consistency-Token": token})
        )
        done = time.perf_counter_ns()
        if read.status != 200 or read.header("x-consistency") == "stale":
            stale += 1
        puts.record_value(max(1, (answered - sent) // 1000))
        reads.record_value(max(1, (done - answered) // 1000))
    return reads, puts, stale


async def _sign_up(client: Client) -> dict[str, str]:
    response = await client.send(Request("POST", "/v1/auth/register", JSON, ENCODER.encode(new_identity())))
    if response.status != 201:
        raise RuntimeError(f"register: {response.status} {response.body[:300]!r}")
    return {"Authorization": f"Bearer {msgspec.json.decode(response.body)['accessToken']}"}


async def measure(port: int, writers: int, writes: int) -> dict[str, Any]:
    async with Client("127.0.0.1", port, max_connections=writers + 1) as client:
        users = [await _sign_up(client) for _ in range(writers)]
        await _writer(client, await _sign_up(client), 5, seed=0)  # warm-up, on a user of its own
        results = await asyncio.gather(
            *(_writer(client, headers, writes, seed=n) for n, headers in enumerate(users))
        )
    reads, puts = _histogram(), _histogram()
    for read, put, _ in results:
        reads.add(read)
        puts.add(put)

    def ms(histogram: Any, percentile: float) -> float:
        return float(histogram.get_value_at_percentile(percentile)) / 1000

    return {
        "writes": writers * writes,
        "stale": sum(stale for _, _, stale in results),
        **{f"read_p{p}_ms": ms(reads, p) for p in (50, 95, 99)},
        **{f"put_p{p}_ms": ms(puts, p) for p in (50, 95, 99)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=150, help="per writer")
    parser.add_argument("--rabbitmq", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench")
    args = parser.parse_args(argv)
    run_id = uuid.uuid4().hex[:10]
    servers, settings = configure(run_id)
    logs = args.out / f"consistency-{run_id}"
    rows: list[tuple[str, int, dict[str, Any]]] = []
    try:
        asyncio.run(create_and_migrate(servers, settings))
        for broker, url in (
            ("Redis (polled every 10 ms)", servers.broker_url),
            ("RabbitMQ (pushed)", args.rabbitmq),
        ):
            env = {**os.environ, "BROKER_URL": url}
            stack = Stack(env, logs / broker.split()[0], worker_threads=4, log_level="WARNING")
            stack.logs.mkdir(parents=True, exist_ok=True)
            try:
                stack.start_worker()
                stack.start_api()
                for writers in (1, 8):
                    rows.append((broker, writers, asyncio.run(measure(stack.port, writers, args.writes))))
                    print(rows[-1], flush=True)
            finally:
                stack.stop()
    finally:
        bound = settings.with_services(servers.database_url, servers.redis_url)
        amqp = msgspec.structs.replace(
            bound, redis=msgspec.structs.replace(bound.redis, broker_url=args.rabbitmq)
        )
        delete_queues(amqp)
        asyncio.run(clean_up(servers))
    lines = [
        "# A token read right after a write",
        "",
        f"Each writer logs {args.writes} workouts one after another on a new user of its own, one a day, "
        "each the latest when it is logged, reading each back with its consistency token; one API process, "
        "one worker process of 4 threads.",
        "",
        "| broker | writers | writes | token read p50 ms | p95 ms | p99 ms | PUT p50 ms | PUT p95 ms "
        "| stale |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for broker, writers, found in rows:
        lines.append(
            f"| {broker} | {writers} | {found['writes']:,} | {found['read_p50_ms']:.1f} | "
            f"{found['read_p95_ms']:.1f} | {found['read_p99_ms']:.1f} | {found['put_p50_ms']:.1f} | "
            f"{found['put_p95_ms']:.1f} | {found['stale']} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    (args.out / "consistency.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
