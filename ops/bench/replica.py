"""The mobile mix with a streaming replica (`make bench-replica`): the same seeded users and the same
open-model rate against Postgres alone, with an asynchronous replica serving reads, and with a
synchronous one (`synchronous_commit = remote_apply`: a commit waits until the replica applied it).

    PYTHONPATH=. python ops/bench/replica.py [--rate 150] [--seconds 30] [--users 60] [--months 3]

Each mode starts a primary (and a standby) of its own from the machine's PostgreSQL binaries on
loopback, in a fresh directory (tests/postgres_server.py), the API and one worker process on them,
and the run's Redis under a prefix of its own; everything is stopped and removed afterwards. The
report goes to stdout and `.bench/replica.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from api.seed_cli import seed
from core.settings import derive_broker_url, get_settings, load_settings
from migrations.runner import migrate
from ops.bench.common import BENCH_ENV
from ops.bench.loadgen import Client, RunResult, render_markdown, run_open, to_dict
from ops.bench.run import MIX, OPEN_CONNECTIONS, READS, Mix, drain, sign_in
from ops.bench.stack import Stack
from tests.harness import delete_prefix
from tests.postgres_server import STREAMING_NODE, LocalPostgres

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "ironlog"
MODES = ("Postgres alone", "asynchronous replica", "synchronous replica (remote_apply)")


class Topology:
    """A primary and, with `replica`, one streaming standby, in a fresh directory."""

    def __init__(self, replica: bool, synchronous: bool) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ilbr"))
        self.primary = LocalPostgres(self.root, "primary")
        self.standby = LocalPostgres(self.root, "s1") if replica else None
        self.synchronous = synchronous

    def start(self) -> None:
        self.primary.init(STREAMING_NODE)
        self.primary.start()
        self.primary.sql(f"CREATE DATABASE {DATABASE}")
        if self.standby is not None:
            self.standby.clone(self.primary, {"cluster_name": "s1", "synchronous_standby_names": ""})
            self.standby.start()
            if self.synchronous:
                self.primary.set("synchronous_standby_names", "s1")
                self.primary.set("synchronous_commit", "remote_apply")

    def stop(self) -> None:
        for node in (self.standby, self.primary):
            if node is not None:
                try:
                    node.stop("immediate")
                except RuntimeError as exc:
                    print(f"could not stop {node.data}: {exc}", file=sys.stderr)
        shutil.rmtree(self.root, ignore_errors=True)


def routed(metrics: str) -> dict[str, float]:
    """ironlog_db_reads_total by target, from the API's /metrics."""
    counts: dict[str, float] = {}
    for target, value in re.findall(
        r'^ironlog_db_reads_total\{[^}]*target="(\w+)"[^}]*\} (\S+)$', metrics, re.M
    ):
        counts[target] = counts.get(target, 0.0) + float(value)
    return counts


async def one_mode(mode: str, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    replica, synchronous = mode != MODES[0], mode == MODES[2]
    topology = Topology(replica, synchronous)
    prefix = f"ironlog-bench-{uuid.uuid4().hex[:10]}:"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    env = {
        **os.environ,
        **BENCH_ENV,
        "IRONLOG_LOG_LEVEL": "WARNING",
        "IRONLOG_ACCESS_TOKEN_TTL_S": "7200",
        "REDIS_URL": redis_url,
        "BROKER_URL": derive_broker_url(redis_url),
        "IRONLOG_REDIS_PREFIX": prefix,
        "IRONLOG_ANALYST_ROLE": "ironlog_bench_analyst",
    }
    stack: Stack | None = None
    try:
        topology.start()
        env["DATABASE_URL"] = topology.primary.url(DATABASE)
        if topology.standby is not None:
            env["DATABASE_REPLICA_URLS"] = topology.standby.url(DATABASE)
        os.environ.update(
            {k: v for k, v in env.items() if k.startswith(("IRONLOG_", "DATABASE", "REDIS", "BROKER"))}
        )
        get_settings.cache_clear()
        settings = load_settings(env)
        await migrate(settings)
        await seed(settings, users=args.users, months=args.months, seed=args.seed)
        stack = Stack(env, logs / mode.split(maxsplit=1)[0], worker_threads=4, log_level="WARNING")
        stack.logs.mkdir(parents=True, exist_ok=True)
        stack.start_worker()
        await drain(settings, timeout_s=600)
        stack.start_api()
        async with Client("127.0.0.1", stack.port, max_connections=4) as client:
            lifters = await sign_in(settings, client, args.seed, args.users)
        mix = Mix(lifters)
        kinds = mix.kinds({name: float(weight) for name, weight in MIX.items()})
        await run_open(
            "127.0.0.1", stack.port, kinds, rate=args.rate, duration_s=3, seed=args.seed + 1
        )  # warm-up
        before = routed(stack.metrics())
        result: RunResult = await run_open(
            "127.0.0.1", stack.port, kinds, rate=args.rate, duration_s=args.seconds,
            max_connections=OPEN_CONNECTIONS, seed=args.seed, drain_timeout_s=30,
        )  # fmt: skip
        after = routed(stack.metrics())
        return {
            "result": result,
            "reads": {target: after.get(target, 0.0) - before.get(target, 0.0) for target in after},
        }
    finally:
        if stack is not None:
            stack.stop()
        topology.stop()
        for url in dict.fromkeys((redis_url, derive_broker_url(redis_url))):
            await delete_prefix(url, prefix)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def report(args: argparse.Namespace, measured: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"# The mobile mix with a streaming replica: {args.users} users, {args.months} months each",
        "",
        f"Open model at {args.rate:g} requests/s for {args.seconds:g} s in each mode (after 3 s of warm-up), "
        "latency from each request's intended send time, one API process and one worker process; "
        "Postgres reads by where they ran, from `ironlog_db_reads_total`.",
        "",
        "| mode | mix p50 ms | mix p95 ms | mix p99 ms | slowest read's p95 ms | PUT p95 ms | PUT p99 ms "
        "| write to visible p95 ms | errors | Postgres reads on the replica |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for mode, found in measured.items():
        result: RunResult = found["result"]
        reads = [kind for kind in result.kinds if kind.name in READS]
        slowest = max(reads, key=lambda kind: kind.latency.p95_ms or 0.0)
        put = result.kind("log workout")
        visible = result.extra("write to visible").latency  # noqa: S610 - a measure, not SQL
        counts = found["reads"]
        total = sum(counts.values())
        share = f"{counts.get('replica', 0.0) / total:.0%} of {total:,.0f}" if total else "-"
        overall = result.overall.latency
        lines.append(
            f"| {mode} | {_ms(overall.p50_ms)} | {_ms(overall.p95_ms)} | {_ms(overall.p99_ms)} | "
            f"{slowest.name} {_ms(slowest.latency.p95_ms)} | {_ms(put.latency.p95_ms)} | "
            f"{_ms(put.latency.p99_ms)} | {_ms(visible.p95_ms)} | {result.overall.errors} | {share} |"
        )
    for mode, found in measured.items():
        lines += ["", f"## {mode}", "", render_markdown(found["result"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=150.0, help="requests/s of the open model")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / ".bench")
    args = parser.parse_args(argv)
    logs = args.out / f"replica-{uuid.uuid4().hex[:8]}"
    measured = {mode: asyncio.run(one_mode(mode, args, logs)) for mode in MODES}
    text = report(args, measured)
    print(text)
    (args.out / "replica.md").write_text(text)
    (args.out / "replica.json").write_text(
        json.dumps(
            {
                mode: {"result": to_dict(found["result"]), "reads": found["reads"]}
                for mode, found in measured.items()
            },
            indent=1,
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
