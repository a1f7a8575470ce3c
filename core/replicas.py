"""Reads of read models on streaming replicas, and how a read carrying a consistency token stays
read-your-writes across replica lag.

Commands, projections, the sweeper, rebuilds and migrations use the primary pool (core/db.py). The
API's reads of read models go through `ReadPools`: a replica in rotation when there is one, else the
primary. A replica leaves the rotation when it is unreachable, when it is no longer in recovery (it
was promoted) or when its replay is more than `replica_max_lag_s` behind; a check every
`replica_check_s` puts it back once healthy. Lag is measured in this process's own time: the
primary's WAL position is sampled at every check, and a replica is as far behind as the oldest sample
it has not replayed yet, so no two machines' clocks are compared and a replica cut off from its
primary shows a growing lag even though it has replayed all it received.

Read-your-writes: a token read loads its document together with the user's projection checkpoint in
one snapshot (queries/readmodels.py). On a replica whose checkpoint is older than the token, the read
is repeated while the replica replays (at most `replica_wait_s`) and then served by the primary, which
the projection committed to before the token's version was announced. So a replica never answers a
token read with older data; the primary's answer is marked stale as it would be without replicas.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import structlog

from core.db import Connection
from core.metrics import DB_READS, DB_REPLICA_IN_ROTATION, DB_REPLICA_LAG
from core.settings import Settings

log = structlog.get_logger(__name__)

T = TypeVar("T")
Read = Callable[[asyncpg.Connection], Awaitable[T]]

#: A replica that fails like this is taken out of the rotation; the read is repeated on the primary.
REPLICA_DOWN = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
)
#: A replica may cancel a read that conflicts with replay (hot standby): the primary answers instead.
REPLAY_CONFLICT = (asyncpg.SerializationError,)

_POLL_S = 0.01
_PRIMARY_LSN = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"
_REPLICA_STATE = """
SELECT pg_is_in_recovery() AS standby,
       COALESCE(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0)::bigint AS replayed
"""


def host_of(url: str) -> str:
    """The host:port a URL names, for logs and metric labels (never its credentials)."""
    rest = url.split("://", 1)[-1].split("/", 1)[0]
    return rest.rsplit("@", 1)[-1]


class Replica:
    """One replica's pool and what the last check found."""

    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        self.url = url
        self.name = host_of(url)
        self.pool = pool
        self.in_rotation = False  # until the first check has seen it healthy
        self.reason = "unchecked"
        self.lag_s: float | None = None

    def take_out(self, reason: str) -> None:
        if self.in_rotation or self.reason != reason:
            log.warning("replica_out_of_rotation", replica=self.name, reason=reason, lag_s=self.lag_s)
        self.in_rotation, self.reason = False, reason
        DB_REPLICA_IN_ROTATION.labels(self.name).set(0)

    def put_back(self) -> None:
        if not self.in_rotation:
            log.info("replica_in_rotation", replica=self.name, lag_s=self.lag_s)
        self.in_rotation, self.reason = True, "healthy"
        DB_REPLICA_IN_ROTATION.labels(self.name).set(1)


class ReadPools:
    """Where this process's reads of read models run: replicas in rotation, else the primary."""

    def __init__(self, settings: Settings, primary: asyncpg.Pool) -> None:
        """No connection is opened before `open`: without replica URLs, every read is the primary's."""
        self.primary = primary
        self.max_lag_s = settings.database.replica_max_lag_s
        self.check_s = settings.database.replica_check_s
        self.wait_s = settings.database.replica_wait_s
        self.replicas: list[Replica] = []
        self._urls = settings.database.replica_urls
        self._settings = settings
        self._turn = 0
        # (monotonic time, primary WAL position) of the recent checks, oldest first.
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self._checker: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Create the replicas' pools (connecting lazily, so a replica that is down does not stop the
        process), check them once, and keep checking them in the background."""
        database = self._settings.database
        for url in self._urls:
            pool = await asyncpg.create_pool(
                dsn=url,
                min_size=0,
                max_size=database.pool_max,
                server_settings={
                    "application_name": "ironlog-api-replica",
                    "statement_timeout": str(database.statement_timeout_ms),
                },
                command_timeout=database.statement_timeout_ms / 1000 + 5,
                connection_class=Connection,
                timeout=max(self.check_s * 2, 1.0),
            )
            self.replicas.append(Replica(url, pool))
        if self.replicas:
            await self.check()
            self._checker = asyncio.get_running_loop().create_task(self._keep_checking(), name="replicas")

    async def close(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
        for replica in self.replicas:
            await replica.pool.close()

    # -- routing -------------------------------------------------------------------------------

    def _next(self) -> Replica | None:
        serving = [replica for replica in self.replicas if replica.in_rotation]
        if not serving:
            return None
        self._turn = (self._turn + 1) % len(serving)
        return serving[self._turn]

    async def snapshot(
        self,
        read: Read[T],
        *,
        version: Callable[[T], int] | None = None,
        at_least: int | None = None,
        primary: bool = False,
        one_statement: bool = False,
    ) -> T:
        """`read` in one read-only repeatable-read snapshot. With `at_least`, a replica's answer counts
        only if `version(answer)` reached it; else the primary answers. `primary`: only the primary.
        `one_statement`: `read` sends a single statement, whose own snapshot is the one it needs, so no
        transaction is opened around it (two round trips fewer)."""
        if primary:
            return await _on(self.primary, read, not one_statement)
        return await self._route(read, not one_statement, version, at_least)

    async def run(self, read: Read[T]) -> T:
        """`read` (one statement, no snapshot of its own) on a replica in rotation, else the primary."""
        return await self._route(read, False, None, None)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.run(lambda connection: connection.fetch(query, *args))
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self.run(lambda connection: connection.fetchrow(query, *args))
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self.run(lambda connection: connection.fetchval(query, *args))

    async def _route(
        self, read: Read[T], snapshot: bool, version: Callable[[T], int] | None, at_least: int | None
    ) -> T:
        if not self.replicas:
            return await _on(self.primary, read, snapshot)
        replica = self._next()
        if replica is None:
            DB_READS.labels("primary", "no_replica").inc()
            return await _on(self.primary, read, snapshot)
        try:
            answer = await _on(replica.pool, read, snapshot)
            if version is not None and at_least is not None and version(answer) < at_least:
                deadline = time.monotonic() + self.wait_s
                while version(answer) < at_least:
                    if time.monotonic() >= deadline:
                        DB_READS.labels("primary", "replica_behind").inc()
                        return await _on(self.primary, read, snapshot)
                    await asyncio.sleep(_POLL_S)
                    answer = await _on(replica.pool, read, snapshot)
        except REPLICA_DOWN as exc:
            replica.take_out("down")
            log.warning("replica_read_failed", replica=replica.name, error=repr(exc))
            DB_READS.labels("primary", "replica_failed").inc()
            return await _on(self.primary, read, snapshot)
        except REPLAY_CONFLICT:
            DB_READS.labels("primary", "replica_failed").inc()
            return await _on(self.primary, read, snapshot)
        DB_READS.labels("replica", "routed").inc()
        return answer

    # -- health --------------------------------------------------------------------------------

    async def _keep_checking(self) -> None:
        while True:
            await asyncio.sleep(self.check_s)
            try:
                await self.check()
            except Exception as exc:  # a check must never end the checking
                log.warning("replica_check_failed", error=repr(exc))

    async def check(self) -> None:
        """Sample the primary's WAL position, then measure every replica against the samples."""
        now = time.monotonic()
        try:
            position = await asyncio.wait_for(self.primary.fetchval(_PRIMARY_LSN), self.check_s * 2)
            self._samples.append((now, int(position)))
        except (*REPLICA_DOWN, asyncpg.PostgresError) as exc:
            # A failover in progress: replicas are judged against the positions sampled before it.
            log.warning("primary_position_unknown", error=repr(exc))
        while len(self._samples) > 1 and self._samples[1][0] < now - self.max_lag_s - 2 * self.check_s:
            self._samples.popleft()
        await asyncio.gather(*(self._check(replica, now) for replica in self.replicas))

    async def _check(self, replica: Replica, now: float) -> None:
        try:
            state = await asyncio.wait_for(replica.pool.fetchrow(_REPLICA_STATE), self.check_s * 2)
        except (*REPLICA_DOWN, asyncpg.PostgresError):
            replica.lag_s = None
            replica.take_out("down")
            return
        if not state["standby"]:
            replica.take_out("promoted")
            return
        replica.lag_s = self._lag(int(state["replayed"]), now)
        DB_REPLICA_LAG.labels(replica.name).set(replica.lag_s)
        if replica.lag_s > self.max_lag_s:
            replica.take_out("lagging")
        else:
            replica.put_back()

    def _lag(self, replayed: int, now: float) -> float:
        """Seconds since the oldest sampled primary position the replica has not replayed; 0 if none."""
        for sampled_at, position in self._samples:
            if position > replayed:
                return max(0.0, now - sampled_at)
        return 0.0


async def _on(pool: asyncpg.Pool, read: Read[T], snapshot: bool) -> T:
    async with pool.acquire() as connection:
        if not snapshot:
            return await read(connection)
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            return await read(connection)
