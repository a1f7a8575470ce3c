"""What a test run leaves on the shared servers when it is killed before its own clean-up, and how a
later run finds and removes it.

A run names what it makes on the shared servers after its id (ten hex digits): the databases
`ironlog_test_<id>` and `ironlog_test_<id>_<n>`, their analyst roles, the Redis prefix
`ironlog-test-<id>:` on the Redis and the broker, and with RabbitMQ the queues named from that prefix.
While it lives it holds a session advisory lock keyed by its id, on a connection of its own, which
Postgres lets go when the process dies. A run whose lock is free and whose databases no session uses
is gone: the next run removes what it left.
"""

from __future__ import annotations

import asyncio
import re
import threading
from concurrent.futures import Future
from typing import Any

import asyncpg
import msgspec

from core.settings import Settings
from tests.harness import delete_prefix, delete_queues, drop_database
from workers.broker import uses_rabbitmq

#: The high bits of a run's lock key; its id fills the low 40.
_NAMESPACE = 0x1E71_0600_0000_0000
_DATABASE = re.compile(r"ironlog_test_([0-9a-f]{10})(?:_[0-9a-f]+)?")


def database_of(run_id: str) -> str:
    return f"ironlog_test_{run_id}"


def prefix_of(run_id: str) -> str:
    return f"ironlog-test-{run_id}:"


def lock_key(run_id: str) -> int:
    return _NAMESPACE | int(run_id, 16)


class RunLock:
    """This run's advisory lock, held on a connection of its own, on an event loop in a thread of its own
    (the fixtures run their own loops, one per call), until `release`."""

    def __init__(self, admin_url: str, run_id: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="run-lock", daemon=True)
        self._thread.start()
        self._connection: asyncpg.Connection = self._run(self._take(admin_url, lock_key(run_id)))

    async def _take(self, admin_url: str, key: int) -> asyncpg.Connection:
        connection = await asyncpg.connect(admin_url)
        await connection.execute("SELECT pg_advisory_lock($1)", key)
        return connection

    def _run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=60)

    def release(self) -> None:
        """Let go of the lock: the run has cleaned up after itself."""
        try:
            self._run(self._connection.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


async def gone_runs(admin_url: str, own: str) -> dict[str, list[str]]:
    """The runs other than `own` that are gone, each with the databases it left."""
    connection = await asyncpg.connect(admin_url)
    try:
        names = await connection.fetch(
            r"SELECT datname FROM pg_database WHERE datname LIKE 'ironlog\_test\_%'"
        )
        by_run: dict[str, list[str]] = {}
        for (name,) in names:
            if (match := _DATABASE.fullmatch(name)) and match.group(1) != own:
                by_run.setdefault(match.group(1), []).append(name)
        gone = {}
        for run_id, databases in sorted(by_run.items()):
            if await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY($1::text[])", databases
            ):
                continue  # in use: a run of a release that took no lock, or one just starting
            if await connection.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(run_id)):
                await connection.execute("SELECT pg_advisory_unlock($1)", lock_key(run_id))
                gone[run_id] = sorted(databases)
        return gone
    finally:
        await connection.close()


async def remove_leftovers(server_settings: Settings, own: str) -> list[str]:
    """Remove what runs that are gone left on the servers `server_settings` name; their ids."""
    admin_url, redis_url = server_settings.database.url, server_settings.redis.url
    assert admin_url and redis_url
    gone = await gone_runs(admin_url, own)
    for run_id, databases in gone.items():
        for database in databases:
            await drop_database(admin_url, database)
        prefix = prefix_of(run_id)
        await delete_prefix(redis_url, prefix)
        theirs = msgspec.structs.replace(
            server_settings, redis=msgspec.structs.replace(server_settings.redis, prefix=prefix)
        )
        if uses_rabbitmq(theirs):
            await asyncio.to_thread(delete_queues, theirs)
        elif theirs.redis.broker_url:
            await delete_prefix(theirs.redis.broker_url, prefix)
    return sorted(gone)
