"""Fixtures of the security suite: a client that audits every response, inline projection."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from api.auth.tokens import AccessTokens
from commands.sessions import IssuedTokens
from core import clock
from core.processes import free_port
from core.redis import Keys
from core.settings import Settings
from projections.runner import project_user
from tests.harness import IronlogProcess, ironlog_processes, start_worker_with, wait_until
from tests.test_http_hygiene import SECURITY_HEADERS


def assert_security_headers(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, f"{name} missing on {where}"
    assert response.headers.get("content-security-policy"), f"content-security-policy missing on {where}"
    assert response.headers.get("x-request-id"), f"x-request-id missing on {where}"


class Audited:
    """Every response the client received in a test, each checked for the security headers and for
    password hashes."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    async def __call__(self, response: httpx.Response) -> None:
        assert_security_headers(response)
        await response.aread()
        assert b"$argon2" not in response.content, f"a password hash in {response.request.url.path}"
        self.responses.append(response)


@pytest.fixture
def audited() -> Audited:
    return Audited()


@pytest.fixture(scope="package")
async def shared_client(settings: Settings) -> AsyncIterator[Any]:
    """One in-process app for the package: starting one per test would cost more than the tests."""
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def client(shared_client: Any, audited: Audited) -> AsyncIterator[Any]:
    """The app's in-process client; every response it gets in the test is audited."""
    hooks = shared_client.event_hooks
    shared_client.event_hooks = {**hooks, "response": [*hooks["response"], audited]}
    try:
        yield shared_client
    finally:
        shared_client.event_hooks = hooks


@pytest.fixture
async def project(settings: Settings) -> AsyncIterator[Any]:
    """`await project(user_id)`: bring a user's read models up to date here, without a worker."""
    assert settings.database.url and settings.redis.url
    pool = await asyncpg.create_pool(settings.database.url, min_size=1, max_size=2)
    redis = Redis.from_url(settings.redis.url)
    keys = Keys(settings.redis.prefix)

    async def run(user_id: uuid.UUID | str) -> None:
        await project_user(pool, redis, keys, uuid.UUID(str(user_id)))

    try:
        yield run
    finally:
        await pool.close()
        await redis.aclose()


async def stream_version(db: asyncpg.Connection, user_id: uuid.UUID | str) -> int:
    """The user's stream version: any command that changed their data has raised it."""
    version = await db.fetchval("SELECT version FROM streams WHERE user_id = $1", uuid.UUID(str(user_id)))
    return int(version or 0)


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = httpx.Headers(headers)
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


async def send_chunked(
    app: Any, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> RawResponse:
    """Send a body in chunks without Content-Length, as a streaming client does, straight to the ASGI app
    (the in-process test client cannot stream a request body)."""
    pending = list(chunks)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (k.lower().encode(), v.encode()) for k, v in {**headers, "transfer-encoding": "chunked"}.items()
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    status, response_headers, body = 0, {}, bytearray()

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers.update({k.decode(): v.decode() for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return RawResponse(status, response_headers, bytes(body))


def expiring_headers(settings: Settings, user_id: uuid.UUID, seconds: float) -> dict[str, str]:
    """An Authorization header for `user_id` whose access token expires `seconds` from now."""
    ttl = settings.auth.access_ttl_s
    issued = IssuedTokens(
        user_id=user_id,
        role="user",
        family_id=uuid.uuid4(),
        refresh_token="",
        refresh_expires_at=clock.now(),
        access_token_id=uuid.uuid4(),
        issued_at=clock.now() - timedelta(seconds=ttl - seconds),
    )
    return {"Authorization": f"Bearer {AccessTokens(settings).mint(issued)}"}


class ApiServer(IronlogProcess):
    """A real `ironlog api` process (uvicorn) on `port`."""

    port: int

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def start_api_server(directory: Path, **env: str) -> ApiServer:
    """`ironlog api` with this run's services and `env`, answering; it trusts X-Forwarded-For from
    loopback, so that the header is read as it is behind nginx."""
    port = free_port()
    environ = {
        **os.environ,
        "IRONLOG_DATA_DIR": str(directory / "data"),
        "IRONLOG_TRUSTED_PROXIES": "127.0.0.1",
        "IRONLOG_LOG_LEVEL": "INFO",
        **env,
    }
    server = ApiServer(["api", "--port", str(port)], environ, directory / "api.log")
    server.port = port
    try:
        server.wait_for_log("Application startup complete", timeout_s=60)
        wait_until(lambda: _accepts(port), 30, f"the API to listen on {port}")
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def module_worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IronlogProcess]:
    """A real `ironlog worker` for the module. Without one, a read that misses for a user who wrote
    more than is projected waits for that projection (the consistency wait, two seconds) in vain."""
    with ironlog_processes(tmp_path_factory.mktemp("worker")) as start:
        yield start_worker_with(start)


@pytest.fixture(scope="module")
def api_server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A real `ironlog api` for the module."""
    server = start_api_server(tmp_path_factory.mktemp("api"))
    try:
        yield server
    finally:
        server.stop()
