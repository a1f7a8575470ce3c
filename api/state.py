"""What the API process holds open for its lifetime, created in the lifespan and injected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
import structlog
from litestar import Litestar
from litestar.datastructures import State
from redis.asyncio import Redis

from core.db import close_pool, open_pool
from core.redis import Keys, open_redis
from core.settings import Settings
from workers.enqueue import Enqueuer

log = structlog.get_logger(__name__)


class AppServices:
    """Postgres pool, Redis client, key builder and enqueuer of one API process."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, redis: Redis, enqueuer: Enqueuer):
        self.settings = settings
        self.pool = pool
        self.redis = redis
        self.keys = Keys(settings.redis.prefix)
        self.enqueuer = enqueuer


def services_lifespan(settings: Settings) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan context manager that opens the process's connections on its event loop."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await open_pool(settings, "api")
        redis = open_redis(settings)
        enqueuer = Enqueuer(settings)
        app.state.services = AppServices(settings, pool, redis, enqueuer)
        log.info("api_started", env=settings.env)
        try:
            yield
        finally:
            enqueuer.close()
            await redis.aclose()
            await close_pool(pool)

    return lifespan


def provide_services(state: State) -> AppServices:
    """Dependency provider: the services opened by the lifespan."""
    services: AppServices = state.services
    return services
