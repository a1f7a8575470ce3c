"""The processes a benchmark runs against: one API process and one projection worker, started on the
benchmark's database and stopped afterwards, with their memory sampled and their metrics read."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.processes import free_port
from tests.harness import IronlogProcess
from workers.resources import OPENED


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def cpu_ticks(pid: int) -> int:
    """User and system CPU time a process used so far, in clock ticks; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def rss_bytes(pid: int) -> int:
    """Resident memory of one process, 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


@dataclass
class MemoryPeaks:
    """The largest resident size seen per process while sampling: each API process, each worker process."""

    api_processes: dict[int, int] = field(default_factory=dict)
    worker_processes: dict[int, int] = field(default_factory=dict)

    @property
    def api(self) -> int:
        return max(self.api_processes.values(), default=0)

    @property
    def worker_max(self) -> int:
        return max(self.worker_processes.values(), default=0)

    @property
    def worker_total(self) -> int:
        return sum(self.worker_processes.values())


class Stack:
    """The API (uvicorn, one process unless told) and `ironlog worker` (one process unless told), with
    IRONLOG_BENCH=1 and production logging (JSON, INFO unless told)."""

    def __init__(
        self, env: dict[str, str], logs: Path, worker_threads: int, *, api_workers: int = 1,
        worker_processes: int = 1, log_level: str = "INFO",
    ) -> None:  # fmt: skip
        self.logs = logs
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **env,
            "IRONLOG_BENCH": "1",
            # Logging as in production: JSON lines, and at INFO the access log (one line per request).
            "IRONLOG_LOG_LEVEL": log_level,
            "IRONLOG_LOG_FORMAT": "json",
            "IRONLOG_WORKER_METRICS_PORT": str(free_port()),
            "IRONLOG_DATA_DIR": str(logs / "data"),
        }
        self.worker_threads = worker_threads
        self.api_workers = api_workers
        self.worker_processes = worker_processes
        self.api: IronlogProcess | None = None
        self.worker: IronlogProcess | None = None
        self.worker_startup_s = 0.0
        self.peaks = MemoryPeaks()

    def start_worker(self) -> None:
        self.worker = IronlogProcess(
            ["worker", "--processes", str(self.worker_processes), "--threads", str(self.worker_threads)],
            self.env,
            self.logs / "worker.log",
        )
        started = time.monotonic()
        deadline = started + 60
        # Until each worker process has its connections open and its threads about to consume: what a
        # drain measures is projection, not the interpreter's start (reported apart, `startup_s`).
        while self.worker.log().count(OPENED) < self.worker_processes:
            if self.worker.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{self.worker.log()[-3000:]}")
            time.sleep(0.05)
        self.worker_startup_s = time.monotonic() - started

    def start_api(self) -> None:
        self.api = IronlogProcess(
            ["api", "--port", str(self.port), "--workers", str(self.api_workers)],
            self.env,
            self.logs / "api.log",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.api.process.poll() is not None:
                raise RuntimeError(f"the API exited:\n{self.api.log()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not become ready:\n{self.api.log()[-3000:]}")

    def stop(self) -> None:
        for process in (self.api, self.worker):
            if process is not None:
                process.stop()

    def sample_memory(self) -> None:
        if self.api is not None:
            # With several API workers, the leader only supervises: the children serve.
            tree = process_tree(self.api.process.pid)
            for pid in tree[1:] if self.api_workers > 1 else tree[:1]:
                self.peaks.api_processes[pid] = max(self.peaks.api_processes.get(pid, 0), rss_bytes(pid))
        if self.worker is not None:
            # The worker's leader only supervises; each of its children is a projection worker process.
            for pid in process_tree(self.worker.process.pid)[1:]:
                self.peaks.worker_processes[pid] = max(
                    self.peaks.worker_processes.get(pid, 0), rss_bytes(pid)
                )

    @contextmanager
    def sampling_memory(self, interval_s: float = 0.25) -> Iterator[None]:
        """Sample resident memory in a thread while the block runs."""
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                self.sample_memory()
                stop.wait(interval_s)

        sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
        sampler.start()
        try:
            yield
        finally:
            stop.set()
            sampler.join()

    @contextmanager
    def profiling(self, name: str, enabled: bool, others: dict[str, int] | None = None) -> Iterator[None]:
        """Sample the API and the projection worker (and `others`: name -> pid) with py-spy while the
        block runs, into <logs>/profile-<name>-<target>.txt (collapsed stacks: one per line, its sample
        count last)."""
        targets = {} if self.api is None else {"api": self.api.process.pid}
        targets.update(others or {})
        if self.worker is not None:
            # The leader only supervises; of its children, the busiest is the one that projects.
            children = process_tree(self.worker.process.pid)[1:]
            if children:
                targets["worker"] = max(children, key=cpu_ticks)
        if not enabled or not targets:
            yield
            return
        spies = [
            subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(pid),
                    "--format",
                    "raw",
                    "--rate",
                    "250",
                    "--nonblocking",
                    "--output",
                    str(self.logs / f"profile-{name.replace(' ', '-')}-{target}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for target, pid in targets.items()
        ]
        try:
            yield
        finally:
            for spy in spies:
                spy.send_signal(signal.SIGINT)
            for spy in spies:
                spy.wait(30)

    def metrics(self) -> str:
        return httpx.get(f"{self.base_url}/metrics", timeout=10).text

    def worker_metrics(self) -> str:
        port = self.env["IRONLOG_WORKER_METRICS_PORT"]
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def counter_values(exposition: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of counter `name` in Prometheus text, keyed by their labels."""
    values: dict[tuple[tuple[str, str], ...], float] = {}
    pattern = re.compile(rf"^{re.escape(name)}(?:_total)?\{{(.*?)\}} (\S+)$", re.MULTILINE)
    for labels, value in pattern.findall(exposition):
        pairs = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels)))
        values[pairs] = values.get(pairs, 0.0) + float(value)
    return values


def histogram_mean(before: str, after: str, name: str) -> tuple[float | None, float]:
    """The mean of histogram `name` over what was observed between two scrapes; how many observations."""

    def total(exposition: str, suffix: str) -> float:
        found = re.findall(rf"^{re.escape(name)}_{suffix}(?:\{{[^}}]*\}})? (\S+)$", exposition, re.MULTILINE)
        return sum(float(value) for value in found)

    count = total(after, "count") - total(before, "count")
    return ((total(after, "sum") - total(before, "sum")) / count if count else None), count


def cache_reads(before: str, after: str) -> dict[tuple[str, str], float]:
    """Read-model reads between two scrapes of the API's /metrics, by (model, result)."""
    name = "ironlog_cache_requests_total"
    start, end = counter_values(before, name), counter_values(after, name)
    return {
        (dict(labels).get("model", "?"), dict(labels).get("result", "?")): value - start.get(labels, 0.0)
        for labels, value in end.items()
    }


def cache_hit_ratio(before: str, after: str) -> tuple[float | None, dict[str, float]]:
    """Hits over all read-model reads between two scrapes of the API's /metrics; the counts by result."""
    by_result: dict[str, float] = {}
    for (_, result), count in cache_reads(before, after).items():
        by_result[result] = by_result.get(result, 0.0) + count
    total = sum(by_result.values())
    return (by_result.get("hit", 0.0) / total if total else None), by_result


def machine() -> dict[str, str]:
    """Cores, memory and CPU model of this machine."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "?",
    )
    return {"cores": str(os.cpu_count()), "cpu": model, "memory": memory}


#: The seed's stack (Express 4, jsonwebtoken, ioredis): its own folder, with its own node_modules.
SEED_STACK_DIR = Path(__file__).resolve().parent / "seed_stack"


class Baseline:
    """A server the benchmark compares Ironlog with, on a port of its own, logging to a file; it is
    ready when `ready_path` answers 200, and stopped (its whole process group) afterwards."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path, ready_path: str,
                 *, cwd: Path | None = None) -> None:  # fmt: skip
        self.name = name
        self.port = free_port()
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [arg.replace("{port}", str(self.port)) for arg in args],
            cwd=cwd,
            env={**env, "PORT": str(self.port)},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}{ready_path}", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"{name} did not become ready:\n{self.log_path.read_text(errors='replace')[-3000:]}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._log.close()


def bare_litestar(env: dict[str, str], logs: Path) -> Baseline:
    """Litestar with no middleware under the API's uvicorn options (ops/bench/bare_litestar.py)."""
    return Baseline(
        "bare-litestar",
        [sys.executable, "-m", "ops.bench.bare_litestar", "--port", "{port}"],
        env,
        logs,
        "/constant",
    )


def seed_stack(env: dict[str, str], logs: Path, *, key_prefix: str, jwt_secret: str, issuer: str,
               audience: str, redis_url: str) -> Baseline:  # fmt: skip
    """The seed's Express stack (ops/bench/seed_stack/server.js); `make bench` installs its packages."""
    if not (SEED_STACK_DIR / "node_modules").is_dir():
        raise RuntimeError(f"{SEED_STACK_DIR}/node_modules is missing: run `make bench-deps`")
    node_env = {
        "PATH": env.get("PATH", os.defpath),
        "NODE_ENV": "production",
        "REDIS_URL": redis_url,
        "KEY_PREFIX": key_prefix,
        "JWT_SECRET": jwt_secret,
        "JWT_ISSUER": issuer,
        "JWT_AUDIENCE": audience,
    }
    return Baseline("seed-stack", ["node", "server.js"], node_env, logs, "/health/live", cwd=SEED_STACK_DIR)
