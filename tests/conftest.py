"""Test harness: real Postgres and Redis, a private database and Redis prefix per run.

Service resolution is the application's own: DATABASE_URL / REDIS_URL when set, else
embedded servers under .data/test. Each run creates `ironlog_test_<id>` and the prefix
`ironlog-test-<id>:`, and removes both at the end; what a killed run left, the next one removes
(tests/leftovers.py).
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from core import clock
from core.services import running_services
from core.settings import Settings, get_settings, load_settings
from tests.clocks import SPEC_VARIABLE, describe, offset_of
from tests.harness import (
    analyst_role_of,
    create_database,
    delete_prefix,
    delete_queues,
    drop_database,
    with_database,
)
from tests.leftovers import RunLock, database_of, prefix_of, remove_leftovers
from workers.broker import uses_rabbitmq

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = uuid.uuid4().hex[:10]

# Cheap, fast settings for the whole run; subprocesses inherit them through the environment.
TEST_ENV = {
    "IRONLOG_ENV": "test",
    "IRONLOG_ACTOR_MAX_RETRIES": "3",
    "IRONLOG_ACTOR_MIN_BACKOFF_MS": "50",
    "IRONLOG_ACTOR_MAX_BACKOFF_MS": "500",
    "IRONLOG_ACTOR_TIME_LIMIT_MS": "20000",
    "IRONLOG_WORKER_SHUTDOWN_TIMEOUT_MS": "3000",
    "IRONLOG_LOG_FORMAT": "json",
    # Cheap hashing; rate limits high enough that only the tests about them meet them.
    "IRONLOG_ARGON2_TIME_COST": "1",
    "IRONLOG_ARGON2_MEMORY_KIB": "8",
    "IRONLOG_ARGON2_PARALLELISM": "1",
    "IRONLOG_RATE_REGISTER_PER_MINUTE": "100000",
    "IRONLOG_RATE_LOGIN_PER_MINUTE": "100000",
    "IRONLOG_RATE_REFRESH_PER_MINUTE": "100000",
    "IRONLOG_RATE_PASSWORD_PER_MINUTE": "100000",
    # A quick sweeper and few retries, so recovery tests finish in seconds.
    "IRONLOG_SWEEP_INTERVAL_S": "0.5",
    "IRONLOG_SWEEP_GRACE_S": "0.5",
    "IRONLOG_SWEEP_REPOKE_S": "3",
    "IRONLOG_PROJECTION_MAX_FAILURES": "3",
    # Never report a test's errors to a real Sentry, whatever the developer's shell says.
    "SENTRY_DSN": "",
}
# The run's one clock (tests/clocks.py): fixed here, once, for this process and all it starts.
_CLOCK_SPEC = os.environ.get(SPEC_VARIABLE, "").strip()
CLOCK_OFFSET_S = offset_of(_CLOCK_SPEC, datetime.now(UTC)).total_seconds() if _CLOCK_SPEC else 0.0
TEST_ENV["IRONLOG_CLOCK_OFFSET_S"] = repr(CLOCK_OFFSET_S)
os.environ["IRONLOG_CLOCK_OFFSET_S"] = TEST_ENV["IRONLOG_CLOCK_OFFSET_S"]


def pytest_report_header() -> str:
    return describe(CLOCK_OFFSET_S)


@pytest.fixture
def travel() -> Iterator[Any]:
    """`travel(moment)` sets this process's clock to `moment` (it runs on from there); undone after."""
    yield clock.shift_to
    clock.shift_to(None)


@pytest.fixture(scope="session")
def server_settings() -> Iterator[Settings]:
    """Settings bound to the servers this run uses (configured or embedded), before isolation."""
    environ = {**os.environ, **TEST_ENV}
    environ.setdefault("IRONLOG_DATA_DIR", str(ROOT / ".data" / "test"))
    with running_services(load_settings(environ)) as resolved:
        yield resolved


@pytest.fixture(scope="session")
def settings(server_settings: Settings) -> Iterator[Settings]:
    """This run's own database and Redis prefix, migrated; exported so subprocesses share them."""
    admin_url = server_settings.database.url
    assert admin_url and server_settings.redis.url and server_settings.redis.broker_url
    database, prefix = database_of(RUN_ID), prefix_of(RUN_ID)
    lock = RunLock(admin_url, RUN_ID)  # held while this run lives (tests/leftovers.py)
    removed = asyncio.run(remove_leftovers(server_settings, RUN_ID))
    if removed:
        print(f"\nremoved what {len(removed)} killed test run(s) left: {', '.join(removed)}")
    asyncio.run(create_database(admin_url, database))
    exported = {
        **TEST_ENV,
        "DATABASE_URL": with_database(admin_url, database),
        "REDIS_URL": server_settings.redis.url,
        "BROKER_URL": server_settings.redis.broker_url,
        "IRONLOG_REDIS_PREFIX": prefix,
        "IRONLOG_ANALYST_ROLE": analyst_role_of(database),
        "IRONLOG_DATA_DIR": str(server_settings.data_dir),
    }
    saved = {key: os.environ.get(key) for key in exported}
    os.environ.update(exported)
    get_settings.cache_clear()
    resolved = get_settings()
    from migrations.runner import migrate

    asyncio.run(migrate(resolved))
    try:
        yield resolved
    finally:
        asyncio.run(drop_database(admin_url, database))
        asyncio.run(delete_prefix(server_settings.redis.url, prefix))
        if uses_rabbitmq(resolved):
            delete_queues(resolved)
        else:
            asyncio.run(delete_prefix(server_settings.redis.broker_url, prefix))
        lock.release()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection to this run's database, as the migrating role."""
    assert settings.database.url
    connection = await asyncpg.connect(settings.database.url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def rolled_back(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction that is rolled back after the test: what it writes leaves
    no trace (read models written for users that do not exist, say)."""
    assert settings.database.url
    connection = await asyncpg.connect(settings.database.url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()


@pytest.fixture
async def fresh_database(server_settings: Settings) -> AsyncIterator[str]:
    """An empty, unmigrated database of its own; its URL."""
    admin_url = server_settings.database.url
    assert admin_url
    name = f"{database_of(RUN_ID)}_{uuid.uuid4().hex[:6]}"
    await create_database(admin_url, name)
    try:
        yield with_database(admin_url, name)
    finally:
        await drop_database(admin_url, name)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[object]:
    """An HTTP client on the real app (lifespan run), with the test probe routes mounted."""
    from litestar.testing import AsyncTestClient

    from api.app import create_app
    from tests.probes import PROBES

    async with AsyncTestClient(app=create_app(settings, extra_handlers=PROBES)) as test_client:
        yield test_client


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[tuple[Any, Any, Any]]:
    """A small Postgres pool, a Redis client and this run's keys: what `project_user` takes."""
    import asyncpg
    from redis.asyncio import Redis

    from core.db import Connection
    from core.redis import Keys

    assert settings.database.url and settings.redis.url
    pool = await asyncpg.create_pool(
        settings.database.url, min_size=1, max_size=3, connection_class=Connection
    )
    redis = Redis.from_url(settings.redis.url)
    yield pool, redis, Keys(settings.redis.prefix)
    await pool.close()
    await redis.aclose()


@pytest.fixture
def start_ironlog(settings: Settings, tmp_path: Path) -> Iterator[object]:
    """Start `ironlog <args>` processes with this run's environment; all are stopped afterwards."""
    from tests.harness import ironlog_processes

    with ironlog_processes(tmp_path) as start:
        yield start


@pytest.fixture
def start_worker(start_ironlog: object) -> object:
    """Start a real `ironlog worker` (one process) and wait until it consumes."""
    from tests.harness import start_worker_with

    return functools.partial(start_worker_with, start_ironlog)


@pytest.fixture(scope="session")
def key_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An HTTPS server on loopback publishing the stand-in providers' keys (tests/identity_provider.py)."""
    from tests.identity_provider import KeyServer

    with KeyServer(tmp_path_factory.mktemp("identity-provider")) as server:
        yield server


@pytest.fixture
def apple(key_server: Any) -> Any:
    """A stand-in Apple: an RS256 key of its own, published at a path of its own."""
    from tests.identity_provider import Provider, SigningKey

    return Provider("apple", key_server, [SigningKey("RS256")])


@pytest.fixture
def google(key_server: Any) -> Any:
    """A stand-in Google: an RS256 key of its own, published at a path of its own."""
    from tests.identity_provider import Provider, SigningKey

    return Provider("google", key_server, [SigningKey("RS256")])


@pytest.fixture
async def oauth_client(settings: Settings, apple: Any, google: Any) -> AsyncIterator[object]:
    """`client`, with Apple and Google sign-in offered by the stand-in providers."""
    from litestar.testing import AsyncTestClient

    from api.app import create_app
    from tests.identity_provider import with_providers

    async with AsyncTestClient(app=create_app(with_providers(settings, apple, google))) as test_client:
        yield test_client


def _run_privately(server: Any) -> Iterator[Any]:
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[object]:
    """A Redis server of this test's own, which the test may stop (never the shared one)."""
    from core.embedded import EmbeddedRedis

    yield from _run_privately(EmbeddedRedis(tmp_path / "redis"))


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[object]:
    """A PostgreSQL server of this test's own, which the test may stop (never the shared one)."""
    from core.embedded import EmbeddedPostgres

    yield from _run_privately(EmbeddedPostgres(tmp_path / "postgres"))
