"""Service resolution: the configured Postgres and Redis, or embedded ones when none are set."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import structlog

from core.embedded import EmbeddedPostgres, EmbeddedRedis
from core.settings import Settings

log = structlog.get_logger(__name__)


@contextmanager
def running_services(settings: Settings) -> Iterator[Settings]:
    """Yield settings bound to live servers, starting embedded ones (stopped on exit) as needed."""
    with ExitStack() as stack:
        database_url = settings.database.url
        if database_url is None:
            postgres = EmbeddedPostgres(settings.data_dir / "postgres")
            database_url = postgres.start()
            stack.callback(postgres.stop)
            log.info("embedded_postgres_started", data_dir=str(postgres.data_dir))
        redis_url = settings.redis.url
        if redis_url is None:
            redis_server = EmbeddedRedis(settings.data_dir / "redis")
            redis_url = redis_server.start()
            stack.callback(redis_server.stop)
            log.info("embedded_redis_started", url=redis_url)
        yield settings.with_services(database_url, redis_url)


def service_environment(settings: Settings) -> dict[str, str]:
    """Environment variables that point child processes at the same resolved servers."""
    env = {}
    if settings.database.url:
        env["DATABASE_URL"] = settings.database.url
    if settings.redis.url:
        env["REDIS_URL"] = settings.redis.url
    if settings.redis.broker_url:
        env["BROKER_URL"] = settings.redis.broker_url
    return env
