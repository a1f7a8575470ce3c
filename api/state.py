"""What the API process holds open for its lifetime, created in the lifespan and injected."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
import structlog
from litestar import Litestar
from litestar.datastructures import State
from redis.asyncio import Redis

from api.auth.ratelimits import RateLimiter
from api.auth.tokens import AccessTokens
from api.client_ip import ClientAddresses
from commands.passwords import PasswordHasher
from core.db import close_pool, open_pool, report_pool_usage
from core.metrics import forget_process
from core.redis import Keys, open_redis, open_subscriber
from core.settings import Settings
from queries.announcements import Announcements
from queries.consistency import ProjectionNotifications
from queries.leaderboards import Leaderboards
from queries.memory_cache import MemoryCache
from queries.readmodels import ListReader, ReadModels
from workers.enqueue import Enqueuer

log = structlog.get_logger(__name__)


class AppServices:
    """Postgres pool, Redis client, key builder, enqueuer and auth machinery of one API process."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, redis: Redis, enqueuer: Enqueuer):
        self.settings = settings
        self.pool = pool
        self.redis = redis
        self.keys = Keys(settings.redis.prefix)
        self.enqueuer = enqueuer
        self.passwords = PasswordHasher(settings.auth)
        self.tokens = AccessTokens(settings)
        self.limiter = RateLimiter(redis, self.keys)
        self.client_addresses = ClientAddresses(
            settings.rate_limits.trusted_proxies, settings.rate_limits.client_ip_header
        )
        self.notifications = ProjectionNotifications(redis, self.keys)
        self.memory = MemoryCache(settings.api.memory_cache_mb * 2**20)
        self.announcements = Announcements(open_subscriber(settings), self.keys, self.memory)
        self.read_models = ReadModels(
            pool,
            redis,
            self.keys,
            self.notifications,
            settings.projection.consistency_wait_s,
            memory=self.memory,
        )
        self.lists = ListReader(pool, self.read_models)
        self.leaderboards = Leaderboards(pool, redis, self.keys, self.memory)


def services_lifespan(settings: Settings) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan context manager that opens the process's connections on its event loop."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await open_pool(settings, "api")
        redis = open_redis(settings)
        enqueuer = Enqueuer(settings)
        services = AppServices(settings, pool, redis, enqueuer)
        app.state.services = services
        pool_usage = report_pool_usage(pool, "api")
        if services.memory.max_bytes:
            services.announcements.start()  # the memory cache serves nothing until it is subscribed
        log.info("api_started", env=settings.env)
        try:
            yield
        finally:
            pool_usage.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pool_usage
            await services.notifications.stop()
            await services.announcements.stop()
            services.passwords.close()
            enqueuer.close()
            await redis.aclose()
            await close_pool(pool)
            forget_process()

    return lifespan


def provide_services(state: State) -> AppServices:
    """Dependency provider: the services opened by the lifespan."""
    services: AppServices = state.services
    return services
