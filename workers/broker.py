"""The Dramatiq broker: Redis, namespaced by the configured prefix, with explicit middleware."""

from __future__ import annotations

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    AsyncIO,
    Middleware,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.settings import Settings


def broker_namespace(settings: Settings) -> str:
    return settings.redis.prefix + "dramatiq"


def build_broker(settings: Settings, *, worker_middleware: list[Middleware] | None = None) -> RedisBroker:
    """A broker for enqueueing (API) or, with `worker_middleware`, for consuming (worker).

    The enqueueing client has short socket timeouts and no retries: a dead broker must
    fail a send quickly, and the sweeper recovers what was not enqueued.
    """
    if settings.redis.broker_url is None:
        raise RuntimeError("BROKER_URL is not resolved; start services first")
    consuming = worker_middleware is not None
    timeout = 10.0 if consuming else settings.worker.enqueue_timeout_s
    client = redis.Redis.from_url(
        settings.redis.broker_url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=None if consuming else Retry(NoBackoff(), 0),
    )
    middleware: list[Middleware] = [
        AgeLimit(),
        TimeLimit(time_limit=settings.worker.time_limit_ms),
        ShutdownNotifications(),
        Retries(
            max_retries=settings.worker.max_retries,
            min_backoff=settings.worker.min_backoff_ms,
            max_backoff=settings.worker.max_backoff_ms,
        ),
        AsyncIO(),
        *(worker_middleware or []),
    ]
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        client=client,
        namespace=broker_namespace(settings),
        heartbeat_timeout=settings.worker.heartbeat_timeout_ms,
        # Chance in a million that a fetch also requeues the messages of dead workers.
        maintenance_chance=settings.worker.maintenance_chance,
        middleware=middleware,
    )
    return broker
