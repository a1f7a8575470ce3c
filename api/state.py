"""What the API process holds open for its lifetime, created in the lifespan and injected."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import structlog
from litestar import Litestar, Request
from litestar.datastructures import State
from redis.asyncio import Redis

from api.auth.idtokens import IdTokenVerifier, open_key_client
from api.auth.ratelimits import RateLimiter
from api.auth.signouts import SignOuts
from api.auth.tokens import AccessTokens
from api.client_ip import ClientAddresses
from api.draining import on_stop_signal
from commands.passwords import PasswordHasher
from core.db import close_pool, open_pool, report_pool_usage
from core.logs import flush_request_lines
from core.metrics import HTTP_METRICS, forget_process
from core.processes import freeze_heap
from core.redis import Keys, open_redis, open_subscriber
from core.replicas import ReadPools
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

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: Redis,
        enqueuer: Enqueuer,
        tokens: AccessTokens,
    ):
        self.settings = settings
        self.pool = pool  # the primary: commands, accounts, health
        self.reads = ReadPools(settings, pool)  # reads of read models: replicas when configured
        self.redis = redis
        self.keys = Keys(settings.redis.prefix)
        self.enqueuer = enqueuer
        self.passwords = PasswordHasher(settings.auth)
        self.tokens = tokens
        self.key_client = open_key_client(settings.oauth)  # providers' signing keys, over HTTPS
        self.id_tokens = IdTokenVerifier(settings.oauth, settings.auth, self.key_client)
        self.sign_outs = SignOuts(self.tokens, pool, redis, self.keys, settings.auth)
        self.limiter = RateLimiter(redis, self.keys)
        self.client_addresses = ClientAddresses(
            settings.rate_limits.trusted_proxies, settings.rate_limits.client_ip_header
        )
        self.notifications = ProjectionNotifications(redis, self.keys)
        self.memory = MemoryCache(settings.api.memory_cache_mb * 2**20)
        self.announcements = Announcements(
            open_subscriber(settings), self.keys, self.memory, followers=[self.sign_outs]
        )
        self.read_models = ReadModels(
            self.reads,
            redis,
            self.keys,
            self.notifications,
            settings.projection.consistency_wait_s,
            memory=self.memory,
        )
        self.lists = ListReader(self.read_models)
        self.leaderboards = Leaderboards(self.reads, redis, self.keys, self.memory)

    def drain(self) -> None:
        """The process was told to stop: end what only waits (event streams, reads waiting for
        their write), so the requests in flight finish at once and the server can stop."""
        self.notifications.drain()
        self.announcements.drain()


def services_lifespan(
    settings: Settings, tokens: AccessTokens
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan context manager that opens the process's connections on its event loop; `tokens`
    is the verifier of the app's middleware, which the process keeps told of sign-outs."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await open_pool(settings, "api")
        redis = open_redis(settings)
        enqueuer = Enqueuer(settings)
        services = AppServices(settings, pool, redis, enqueuer, tokens)
        app.state.services = services
        await services.reads.open()
        pool_usage = report_pool_usage(pool, "api")
        request_metrics = asyncio.get_running_loop().create_task(
            HTTP_METRICS.flush_periodically(), name="request-metrics"
        )
        # Before the first request: the sign-outs so far (the subscription, once live, reads them again).
        try:
            await services.sign_outs.reread()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("signouts_unread", error=repr(exc))
        services.announcements.start()  # sign-outs, and the memory cache, which serves nothing before it
        stop_hearing = on_stop_signal(services.drain)
        freeze_heap()
        log.info("api_started", env=settings.env)
        try:
            yield
        finally:
            stop_hearing()
            for task in (pool_usage, request_metrics):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.notifications.stop()
            await services.announcements.stop()
            services.passwords.close()
            await services.key_client.aclose()
            enqueuer.close()
            await redis.aclose()
            await services.reads.close()
            await close_pool(pool)
            forget_process()
            flush_request_lines()

    return lifespan


def provide_services(state: State) -> AppServices:
    """Dependency provider: the services opened by the lifespan."""
    services: AppServices = state.services
    return services


def services_of(request: Request[Any, Any, Any]) -> AppServices:
    """The services opened by the lifespan, without dependency injection: the hot reads (the mobile
    mix's GETs) take them from here, which saves Litestar resolving a dependency on every request."""
    services: AppServices = request.app.state.services
    return services
