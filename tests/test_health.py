"""Liveness and readiness: ready only when Postgres, Redis, the broker and migrations are."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.embedded import EmbeddedPostgres, EmbeddedRedis
from core.settings import Settings, derive_broker_url
from migrations.runner import known_migrations


async def test_live_answers(client: Any) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_every_part_answers(client: Any) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {
        "postgres": "ok",
        "redis": "ok",
        "broker": "ok",
        "migrations": "ok",
    }
    assert response.headers["cache-control"] == "no-store"


async def test_ready_is_503_naming_redis_when_redis_is_unreachable(
    settings: Settings, private_redis: EmbeddedRedis
) -> None:
    url = private_redis.url or ""
    bound = settings.with_services(settings.database.url or "", url)
    bound = msgspec.structs.replace(
        bound, redis=msgspec.structs.replace(bound.redis, broker_url=derive_broker_url(url))
    )
    async with AsyncTestClient(app=create_app(bound)) as client:
        assert (await client.get("/health/ready")).status_code == 200
        private_redis.stop()
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["checks"]["redis"].startswith("unreachable")
    assert body["checks"]["broker"].startswith("unreachable")
    assert body["checks"]["postgres"] == "ok"
    assert "redis" in body["detail"]


async def test_ready_is_503_naming_migrations_when_some_are_pending(
    settings: Settings, fresh_database: str
) -> None:
    unmigrated = settings.with_services(fresh_database, settings.redis.url or "")
    async with AsyncTestClient(app=create_app(unmigrated)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["migrations"] == f"{len(known_migrations())} pending"
    assert body["checks"]["postgres"] == "ok"
    assert "migrations" in body["detail"]


async def test_ready_is_503_naming_postgres_when_postgres_is_down(
    settings: Settings, private_postgres: EmbeddedPostgres
) -> None:
    from migrations.runner import migrate

    url = private_postgres.url or ""
    bound = settings.with_services(url, settings.redis.url or "")
    await migrate(bound)
    async with AsyncTestClient(app=create_app(bound)) as client:
        assert (await client.get("/health/ready")).status_code == 200
        private_postgres.stop()
        response = await client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["postgres"] != "ok"
    assert body["checks"]["redis"] == "ok"
    assert "postgres" in body["detail"]
