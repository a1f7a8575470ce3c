"""What every benchmark shares: its own database and Redis prefix on the configured servers, test-like
settings (cheap argon2, generous rate limits), and removing both at the end.

DATABASE_URL and REDIS_URL name the servers (default: Postgres and Redis on 127.0.0.1); a run creates
`ironlog_bench_<id>` and the prefix `ironlog-bench-<id>:`, and `clean_up` removes them, failure or not.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from core.settings import Settings, derive_broker_url, get_settings, load_settings
from migrations.runner import migrate
from tests.harness import (  # the same isolation as tests
    analyst_role_of,
    create_database,
    delete_prefix,
    delete_queues,
    drop_database,
)
from workers.broker import AMQP_SCHEMES

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

# Cheap hashing and generous limits, as the tests use: benchmarks measure Ironlog, not argon2.
BENCH_ENV = {
    "IRONLOG_ENV": "test",
    "IRONLOG_ARGON2_TIME_COST": "1",
    "IRONLOG_ARGON2_MEMORY_KIB": "8",
    "IRONLOG_ARGON2_PARALLELISM": "1",
    "IRONLOG_RATE_REGISTER_PER_MINUTE": "100000",
    "IRONLOG_RATE_LOGIN_PER_MINUTE": "100000",
    "IRONLOG_RATE_REFRESH_PER_MINUTE": "100000",
    "IRONLOG_RATE_PASSWORD_PER_MINUTE": "100000",
}


@dataclass(frozen=True)
class Servers:
    admin_url: str  # as configured: the server, and a database to create and drop others from
    redis_url: str
    broker_url: str
    database: str
    prefix: str

    @property
    def database_url(self) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{self.database}"))


def configure(run_id: str) -> tuple[Servers, Settings]:
    """Settings bound to the bench database and prefix; os.environ says the same, for get_settings()."""
    admin_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    servers = Servers(
        admin_url=admin_url,
        redis_url=redis_url,
        broker_url=os.environ.get("BROKER_URL") or derive_broker_url(redis_url),
        database=f"ironlog_bench_{run_id}",
        prefix=f"ironlog-bench-{run_id}:",
    )
    os.environ.setdefault("IRONLOG_LOG_LEVEL", "WARNING")
    os.environ.update(BENCH_ENV)
    os.environ.update(
        {
            "DATABASE_URL": servers.database_url,
            "REDIS_URL": servers.redis_url,
            "BROKER_URL": servers.broker_url,
            "IRONLOG_REDIS_PREFIX": servers.prefix,
            "IRONLOG_ANALYST_ROLE": analyst_role_of(servers.database),
        }
    )
    get_settings.cache_clear()
    settings = load_settings(os.environ).with_services(servers.database_url, servers.redis_url)
    return servers, settings


async def create_and_migrate(servers: Servers, settings: Settings) -> None:
    await create_database(servers.admin_url, servers.database)
    await migrate(settings)


async def clean_up(servers: Servers) -> None:
    """Drop the run's database, Redis keys and, with RabbitMQ as the broker (`BROKER_URL=amqp://…`), its
    queues."""
    await drop_database(servers.admin_url, servers.database)
    for url in dict.fromkeys((servers.redis_url, servers.broker_url)):
        if urlsplit(url).scheme in AMQP_SCHEMES:
            # configure() left the run's broker and prefix in the environment
            await asyncio.to_thread(delete_queues, load_settings(os.environ))
        else:
            await delete_prefix(url, servers.prefix)
