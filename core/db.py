"""One asyncpg pool per process, shared by Piccolo's engine and raw queries."""

from __future__ import annotations

import asyncio
from typing import Literal

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from core.metrics import DB_POOL_CONNECTIONS, DB_POOL_MAX_CONNECTIONS
from core.settings import Settings

Role = Literal["api", "worker", "cli"]
#: How often a service process publishes its pool's use (Prometheus scrapes every 15 s).
POOL_REPORT_INTERVAL_S = 5.0


class IronlogEngine(PostgresEngine):
    """Piccolo's Postgres engine, minus the blocking version probe it makes when constructed.

    The server version is checked by `ironlog migrate` and readiness instead; the pool is
    handed in by `open_pool`, so Piccolo never opens connections of its own in a service.
    """

    async def check_version(self) -> None:
        return None


#: The engine every Piccolo table and migration uses (piccolo_conf points here).
ENGINE = IronlogEngine(config={})


class Connection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no types
    """A pooled connection that goes back to the pool without a round trip.

    asyncpg resets every connection it takes back (`RESET ALL`, `pg_advisory_unlock_all()`,
    `UNLISTEN *`, `CLOSE ALL`): one round trip per acquisition, for state that Ironlog's code never
    leaves behind (settings are `SET LOCAL`, advisory locks are transaction-scoped). Code that does
    change the session (a `SET`, a session advisory lock) says so with `session_changed()`, and that
    connection is reset as asyncpg would. An open transaction is always rolled back (asyncpg's own
    rule)."""

    _session_changed = False

    def session_changed(self) -> None:
        """This session's state differs from a new connection's: reset it when it goes back."""
        self._session_changed = True

    def get_reset_query(self) -> str:
        if not self._session_changed:
            return ""
        self._session_changed = False
        query: str = super().get_reset_query()
        return query


def session_changed(connection: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> None:
    """Mark a pooled connection whose session state this code changed (see `Connection`)."""
    mark = getattr(connection, "session_changed", None)
    if mark is not None:  # a connection of another class is reset anyway
        mark()


def _server_settings(settings: Settings, role: Role) -> dict[str, str]:
    values = {
        "application_name": f"ironlog-{role}",
        "statement_timeout": str(settings.database.statement_timeout_ms),
    }
    if role == "worker":
        # A projection that waits on a lock or idles inside a transaction must give up, not stall.
        values["lock_timeout"] = str(settings.projection.lock_timeout_ms)
        values["idle_in_transaction_session_timeout"] = str(settings.projection.idle_in_transaction_ms)
    return values


async def open_pool(settings: Settings, role: Role) -> asyncpg.Pool:
    """Create this process's pool and hand it to the Piccolo engine."""
    if settings.database.url is None:
        raise RuntimeError("DATABASE_URL is not resolved; start services first")
    pool = await asyncpg.create_pool(
        dsn=settings.database.url,
        min_size=settings.database.pool_min,
        max_size=settings.database.pool_max,
        server_settings=_server_settings(settings, role),
        command_timeout=settings.database.statement_timeout_ms / 1000 + 5,
        connection_class=Connection,
    )
    ENGINE.config = {"dsn": settings.database.url}
    ENGINE.pool = pool
    return pool


async def close_pool(pool: asyncpg.Pool) -> None:
    """Close the pool and detach it from the Piccolo engine."""
    if ENGINE.pool is pool:
        ENGINE.pool = None
    await pool.close()


def observe_pool(pool: asyncpg.Pool, role: Role) -> None:
    """Publish the pool's connections in use, idle and allowed to the metrics."""
    size, idle = pool.get_size(), pool.get_idle_size()
    DB_POOL_CONNECTIONS.labels(role, "in_use").set(size - idle)
    DB_POOL_CONNECTIONS.labels(role, "idle").set(idle)
    DB_POOL_MAX_CONNECTIONS.labels(role).set(pool.get_max_size())


def report_pool_usage(
    pool: asyncpg.Pool, role: Role, interval_s: float = POOL_REPORT_INTERVAL_S
) -> asyncio.Task[None]:
    """A task on the running loop that publishes the pool's use every `interval_s` until cancelled."""

    async def report() -> None:
        while True:
            observe_pool(pool, role)
            await asyncio.sleep(interval_s)

    return asyncio.get_running_loop().create_task(report(), name=f"pool-usage-{role}")
