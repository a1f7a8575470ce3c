"""The sweeper as worker middleware: one active sweeper across every worker process.

Each worker process tries every interval to take or renew the sweeper's lease (`worker_leases`,
projections/leases.py), which lasts three intervals; the one holding it sweeps. If that process dies
or freezes, the lease runs out and another process takes over; a frozen one that thaws finds the
lease taken and stops sweeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from concurrent.futures import Future
from typing import Any

import asyncpg
import structlog
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Middleware

from core.settings import Settings
from projections.leases import hand_back_duty, new_owner, take_duty
from projections.sweeper import SweepSettings, sweep

log = structlog.get_logger(__name__)

#: The name of the sweeper's lease in `worker_leases`.
SWEEPER = "sweeper"


class SweeperMiddleware(Middleware):
    """Runs the sweep loop on the worker's event loop; needs the AsyncIO middleware before it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._future: Future[None] | None = None
        self._stopping = False

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("the AsyncIO middleware must come before SweeperMiddleware")
        self._future = asyncio.run_coroutine_threadsafe(self._run(broker), loop_thread.loop)

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stopping = True
        if self._future is not None:
            self._future.cancel()

    async def _run(self, broker: Any) -> None:
        actor = broker.get_actor("project_user")
        loop = asyncio.get_running_loop()
        projection = self.settings.projection
        sweep_settings = SweepSettings(grace_s=projection.sweep_grace_s, repoke_s=projection.sweep_repoke_s)

        async def poke(user_id: uuid.UUID, refresh_dashboard: bool) -> None:
            await loop.run_in_executor(None, lambda: actor.send(str(user_id), refresh_dashboard))

        connection: asyncpg.Connection | None = None
        holding = False
        owner = new_owner()
        while not self._stopping:
            try:
                if connection is None or connection.is_closed():
                    connection = await asyncpg.connect(
                        self.settings.database.url, server_settings={"application_name": "ironlog-sweeper"}
                    )
                was_holding = holding
                holding = await take_duty(connection, SWEEPER, owner, 3 * projection.sweep_interval_s)
                if holding != was_holding:
                    log.info("sweeper_active" if holding else "sweeper_inactive")
                if holding:
                    swept = await sweep(connection, poke, sweep_settings)
                    if swept.lagging or swept.redis_behind or swept.rolled_over:
                        log.info(
                            "swept",
                            lagging=swept.lagging,
                            redis_behind=swept.redis_behind,
                            rolled_over=swept.rolled_over,
                            parked=swept.parked,
                        )
            except asyncio.CancelledError:
                break
            except Exception as exc:  # Postgres or the broker is down: try again next interval
                log.warning("sweep_failed", error=repr(exc))
                if connection is not None and not connection.is_closed():
                    connection.terminate()
                connection, holding = None, False
            await asyncio.sleep(projection.sweep_interval_s)
        if connection is not None and not connection.is_closed():
            if holding:
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    await hand_back_duty(connection, SWEEPER, owner)
            await connection.close()
