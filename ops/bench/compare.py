"""Request overhead of two revisions side by side: bare Litestar, and Ironlog's API at a base revision
and at the working tree, measured in alternation, round after round, so that load from anything else
on the machine falls on both alike. Reports the median of the rounds per route.

Run from the repository root: `make bench-compare BASE=<revision>` or
`PYTHONPATH=. .venv/bin/python ops/bench/compare.py --base <revision> [--rounds 5 --seconds 3]`.

Both APIs serve the same small seeded database (and one projection worker of the working tree), with
the same settings and production logging; the base revision's code is exported with `git archive`
into a temporary folder and run with this virtualenv's Python.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from api.seed_cli import seed
from core.logs import configure_logging
from core.processes import MULTIPROC_ENV
from core.settings import Settings
from ops.bench.common import clean_up, configure, create_and_migrate
from ops.bench.loadgen import Client, Kind, Request, run_saturation
from ops.bench.run import READ_PATHS, Mix, drain, sign_in
from ops.bench.stack import Baseline, Stack, bare_litestar, cpu_ticks, process_tree
from tests.harness import IronlogProcess

ROOT = Path(__file__).resolve().parents[2]


async def measure(args: argparse.Namespace, settings: Settings, stack: Stack, base_dir: Path) -> None:
    await seed(settings, users=args.users, months=2, seed=1)
    stack.start_worker()
    await drain(settings, timeout_s=600)
    stack.start_api()
    base_stack = Stack(stack.env, stack.logs / "base", 1)
    base_stack.logs.mkdir(exist_ok=True)
    base_api = IronlogProcess(
        ["api", "--port", str(base_stack.port)], base_stack.env, base_stack.logs / "api.log", cwd=base_dir
    )
    bare = bare_litestar(dict(os.environ), stack.logs)
    granian = _granian_servers(stack) if args.granian else []
    try:
        await _wait_ready(base_stack)
        async with Client("127.0.0.1", stack.port, max_connections=2) as client:
            lifters = await sign_in(settings, client, 1, args.users)
        mix = Mix(lifters)
        assert stack.api is not None
        targets: list[tuple[str, int, int, list[Kind]]] = [
            ("bare Litestar", bare.port, bare.process.pid, _get("/constant"))
        ]
        for label, port, pid in (
            (f"base {args.base}", base_stack.port, base_api.process.pid),
            ("working tree", stack.port, stack.api.process.pid),
        ):
            targets += [
                (f"{label}: live", port, pid, _get(READ_PATHS["live"])),
                (f"{label}: ceiling", port, pid, _get(READ_PATHS["ceiling"])),
                (f"{label}: dashboard", port, pid, mix.kinds({"dashboard": 1.0})),
                (f"{label}: workout", port, pid, mix.kinds({"workout": 1.0})),
                (f"{label}: leaderboard", port, pid, mix.kinds({"leaderboard": 1.0})),
            ]
        for server in granian:
            if server.name.startswith("bare"):
                targets.append(("bare Litestar, granian", server.port, server.process.pid, _get("/constant")))
            else:
                targets += [
                    (
                        "working tree, granian: ceiling",
                        server.port,
                        server.process.pid,
                        _get(READ_PATHS["ceiling"]),
                    ),
                    (
                        "working tree, granian: dashboard",
                        server.port,
                        server.process.pid,
                        mix.kinds({"dashboard": 1.0}),
                    ),
                ]
        rates: dict[str, list[float]] = {name: [] for name, _, _, _ in targets}
        cpu: dict[str, list[float]] = {name: [] for name, _, _, _ in targets}
        for round_number in range(args.rounds):
            for name, port, pid, kinds in targets:
                ticks = _tree_ticks(pid)
                result = await run_saturation(
                    "127.0.0.1", port, kinds, connections=8, duration_s=args.seconds, warmup_s=0.5
                )
                used_s = (_tree_ticks(pid) - ticks) / os.sysconf("SC_CLK_TCK")
                if result.overall.errors:
                    raise RuntimeError(f"{name}: {result.overall.errors} errors")
                rates[name].append(result.overall.achieved_rate)
                # The whole run's requests (warm-up and the last ones in flight included) over its CPU time.
                answered = result.overall.achieved_rate * (args.seconds + 0.5)
                cpu[name].append(used_s * 1e6 / answered)
            print(f"round {round_number + 1} of {args.rounds} done", flush=True)
        if args.profile:
            await _profile(stack, bare, targets, args.seconds)
    finally:
        bare.stop()
        base_api.stop()
        for server in granian:
            server.stop()
    bare_rate = statistics.median(rates["bare Litestar"])
    bare_cpu = statistics.median(cpu["bare Litestar"])
    print(
        f"\nMedians of {args.rounds} rounds of {args.seconds:g} s, closed loop, 8 connections. "
        "CPU µs per request:"
        " the server process's CPU time (user and system) over the requests it answered, which load from"
        " elsewhere on the machine changes far less than requests/s.\n"
    )
    print("| route | requests/s | of bare Litestar | CPU µs per request | of bare Litestar, by CPU |")
    print("|---|---:|---:|---:|---:|")
    for name, values in rates.items():
        median, per_request = statistics.median(values), statistics.median(cpu[name])
        print(
            f"| {name} | {median:,.0f} | {median / bare_rate:.0%} | {per_request:,.0f} | "
            f"{bare_cpu / per_request:.0%} |"
        )


async def _profile(
    stack: Stack, bare: Baseline, targets: list[tuple[str, int, int, list[Kind]]], seconds: float
) -> None:
    """One more run of bare Litestar and of each working-tree route, sampled with py-spy: not in the
    medians."""
    for name, port, _, kinds in targets:
        if name == "bare Litestar":
            sampled = stack.profiling("bare", True, {"bare": bare.process.pid})
        elif name.startswith("working tree: "):
            sampled = stack.profiling(name.removeprefix("working tree: "), True)
        else:
            continue
        with sampled:
            await run_saturation("127.0.0.1", port, kinds, connections=8, duration_s=seconds, warmup_s=0.5)
    print(f"profiles (py-spy, collapsed stacks): {stack.logs}/profile-*.txt", flush=True)


async def _wait_ready(stack: Stack) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"{stack.base_url}/health/ready", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the base revision's API did not become ready")


def _tree_ticks(pid: int) -> int:
    """CPU time of a server and the processes it forked (granian serves from a child process)."""
    return sum(cpu_ticks(each) for each in process_tree(pid))


def _granian_servers(stack: Stack) -> list[Baseline]:
    """Bare Litestar and the working tree's API under granian (one worker, uvloop): the server question."""
    granian = str(Path(sys.executable).parent / "granian")
    common = [granian, "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
              "--loop", "uvloop", "--no-ws", "--log-level", "warning"]  # fmt: skip
    metrics_dir = stack.logs / "granian-metrics"
    metrics_dir.mkdir(exist_ok=True)
    env = {**stack.env, MULTIPROC_ENV: str(metrics_dir)}
    return [
        Baseline(
            "bare-granian",
            [*common, "ops.bench.bare_litestar:app"],
            dict(os.environ),
            stack.logs,
            "/constant",
        ),
        Baseline(
            "api-granian",
            [*common, "--factory", "api.asgi:app_from_environment"],
            env,
            stack.logs,
            "/health/ready",
        ),
    ]


def _get(path: str) -> list[Kind]:
    return [Kind(path, Request("GET", path), expect={200})]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--base", required=True, help="the git revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument(
        "--granian", action="store_true", help="also serve bare Litestar and the API with granian"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, sample the working tree's API with py-spy during one more run per route",
    )
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:10]
    servers, settings = configure(run_id)
    os.environ["IRONLOG_ACCESS_TOKEN_TTL_S"] = "7200"  # noqa: S105 - the whole run on one sign-in
    configure_logging(settings, process="bench")
    logs = ROOT / ".bench" / f"compare-{run_id}"
    logs.mkdir(parents=True, exist_ok=True)
    stack = Stack(dict(os.environ), logs, 2)
    with tempfile.TemporaryDirectory(prefix="ironlog-base-") as base_dir:
        archive = subprocess.run(["git", "archive", args.base], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", base_dir], input=archive.stdout, check=True)
        try:
            asyncio.run(create_and_migrate(servers, settings))
            asyncio.run(measure(args, settings, stack, Path(base_dir)))
        finally:
            stack.stop()
            asyncio.run(clean_up(servers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
