"""Helpers the fixtures use: databases, Redis prefixes, child processes of our own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from redis.asyncio import Redis

from api.problems import PROBLEM_TYPES
from core.processes import die_with_parent
from core.redis import Keys
from core.settings import Settings
from workers.resources import OPENED

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """Check `response` is an RFC 9457 problem with `status`; its body."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"] in PROBLEM_TYPES, body["type"]
    assert body["requestId"] == response.headers["x-request-id"]
    return body


def with_database(url: str, database: str) -> str:
    """The same server URL, naming another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


async def _administer(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def analyst_role_of(database: str) -> str:
    """The analyst role a test database is migrated with (roles are server-wide); dropped with it."""
    return f"{database}_analyst"


async def create_database(admin_url: str, name: str) -> None:
    await _administer(admin_url, f'CREATE DATABASE "{name}"')


async def drop_database(admin_url: str, name: str) -> None:
    await _administer(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _administer(admin_url, f'DROP ROLE IF EXISTS "{analyst_role_of(name)}"')


async def delete_prefix(redis_url: str, prefix: str) -> int:
    """Delete every key under `prefix`; how many were deleted."""
    client = Redis.from_url(redis_url)
    deleted = 0
    try:
        async for key in client.scan_iter(match=Keys(prefix).pattern(), count=500):
            deleted += await client.unlink(key)
    finally:
        await client.aclose()
    return deleted


def _on_queues(settings: Settings, purge: bool) -> None:
    """Purge or delete the run's RabbitMQ queues (each with Dramatiq's delay and dead-letter queues)."""
    import pika
    from dramatiq.common import dq_name, xq_name

    from workers.broker import QUEUES, queue_name

    connection = pika.BlockingConnection(pika.URLParameters(settings.redis.broker_url or ""))
    try:
        channel = connection.channel()
        for queue in QUEUES:
            name = queue_name(settings, queue)
            for declared in (name, dq_name(name), xq_name(name)):
                if purge:
                    channel.queue_declare(queue=declared, passive=True)  # raises if it is not there
                    channel.queue_purge(queue=declared)
                else:
                    channel.queue_delete(queue=declared)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 404:  # a queue nobody declared yet holds nothing to purge
            raise
    finally:
        if connection.is_open:
            connection.close()


def delete_queues(settings: Settings) -> None:
    """Delete the run's RabbitMQ queues."""
    _on_queues(settings, purge=False)


async def empty_broker(settings: Settings, *, delete: bool = False) -> None:
    """Drop every message queued under the settings' prefix, on either broker; `delete`: RabbitMQ's
    queues go too (at the end of a test: a running worker would lose its queue)."""
    from workers.broker import broker_namespace, uses_rabbitmq

    if uses_rabbitmq(settings):
        await asyncio.to_thread(_on_queues, settings, not delete)
        return
    assert settings.redis.broker_url
    broker = Redis.from_url(settings.redis.broker_url)
    try:
        async for key in broker.scan_iter(match=Keys(broker_namespace(settings)).pattern(), count=500):
            await broker.unlink(key)
    finally:
        await broker.aclose()


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `predicate` until true; fail the test naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


class IronlogProcess:
    """An `ironlog` subcommand in its own process group, logging to a file."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        python: str = sys.executable,
        cwd: Path | None = None,
    ) -> None:
        """`python` and `cwd` select another release's code: `-m api` finds the `api` under `cwd` first."""
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [python, "-m", "api", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # A run killed outright leaves no API or worker behind on the shared servers
            # (tests/leftovers.py removes the rest).
            preexec_fn=die_with_parent,  # noqa: PLW1509 - runs only in the child, before exec
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout_s: float = 30.0) -> None:
        def seen() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"process exited with {self.process.returncode}:\n{self.log()}")
            return needle in self.log()

        wait_until(seen, timeout_s, f"{needle!r} in {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout_s: float = 15.0) -> int:
        if self.process.poll() is None:
            # The leader only: it stops its own children, and a second SIGTERM would tell them to die.
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout_s)
        self.kill()
        self._log.close()
        return self.process.returncode


@contextlib.contextmanager
def ironlog_processes(directory: Path) -> Iterator[Callable[..., IronlogProcess]]:
    """`start(args, **env)`: `ironlog <args>` with this run's environment and `env`, logging under
    `directory`; every process started is stopped when the block ends."""
    started: list[IronlogProcess] = []

    def start(args: list[str], **env: str) -> IronlogProcess:
        environ = {**os.environ, "IRONLOG_DATA_DIR": str(directory / "data"), **env}
        started.append(IronlogProcess(args, environ, directory / f"{args[0]}-{len(started)}.log"))
        return started[-1]

    try:
        yield start
    finally:
        for process in started:
            process.stop()


def start_worker_with(start: Callable[..., IronlogProcess], **env: str) -> IronlogProcess:
    """A real `ironlog worker` (one process, two threads) started by `start(args, **env)`, once it
    consumes; its metrics port is `metrics_port`."""
    from core.processes import free_port

    env.setdefault("IRONLOG_WORKER_METRICS_PORT", str(free_port()))
    worker = start(["worker", "--processes", "1", "--threads", "2"], **env)
    try:
        worker.wait_for_log(OPENED)
    except BaseException:
        worker.stop()
        raise
    worker.metrics_port = int(env["IRONLOG_WORKER_METRICS_PORT"])  # type: ignore[attr-defined]
    return worker


async def read_fresh(
    client: Any, path: str, headers: dict[str, str], token: str, timeout_s: float = 30
) -> Any:
    """GET `path` with a consistency token until the answer is not stale (other tests may leave the
    worker a backlog, and then a read may rightly answer stale); the fresh response."""
    import asyncio

    deadline = time.monotonic() + timeout_s
    while True:
        response = await client.get(path, headers={**headers, "X-Consistency-Token": token})
        if response.headers.get("x-consistency") != "stale" or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


async def read_model_hash(url: str) -> dict[str, str]:
    """A digest of every rm_* table's rows. Leaderboard rows compare by score: the version column only
    tells Redis what is newer, and a removed score stays as a NULL row until then."""
    connection = await asyncpg.connect(url)
    try:
        tables = [
            row["table_name"]
            for row in await connection.fetch(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_name LIKE 'rm\\_%' ORDER BY 1"
            )
        ]
        digests = {}
        for table in tables:
            source = (
                "(SELECT board, board_key, user_id, score FROM rm_leaderboard_scores WHERE score IS NOT NULL)"
                if table == "rm_leaderboard_scores"
                else table
            )
            digests[table] = await connection.fetchval(
                f"SELECT count(*) || ':' || COALESCE(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                f"FROM {source} t"
            )
        return digests
    finally:
        await connection.close()
