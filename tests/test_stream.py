"""`GET /v1/stream`: a user hears of their own projections and the boards they opened, nobody else's.

Streams are read from a real `ironlog api` process over HTTP (the in-process test client buffers a
response until it ends); writes go through the in-process client and a real worker projects them.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.routes import HTTPRoute
from redis.asyncio import Redis

from api.app import create_app
from api.auth.tokens import AccessTokens
from api.plugin import openapi_config
from api.state import provide_services
from api.stream import StreamController
from commands.sessions import IssuedTokens
from core import clock
from core.processes import free_port
from core.redis import Keys
from core.settings import Settings
from projections.cache import projected_channel
from projections.leaderboards import leaderboard_channel
from tests.accounts import access_headers, bearer, sign_up
from tests.harness import IronlogProcess, assert_problem, wait_until
from tests.workouts import workout

pytestmark = pytest.mark.e2e

HEARTBEAT_S = 0.4


@dataclass(frozen=True)
class Event:
    kind: str
    data: Any
    id: str | None


class EventStream:
    """An open stream, parsed in the background so that every wait in a test is bounded."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.received: list[Event] = []
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            async for line in self.response.aiter_lines():
                if line:
                    if not line.startswith(":"):
                        name, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        fields[name] = f"{fields[name]}\n{value}" if name in fields else value
                    continue
                if "data" in fields:
                    event = Event(
                        fields.get("event", "message"), json.loads(fields["data"]), fields.get("id")
                    )
                    self.received.append(event)
                    self._queue.put_nowait(event)
                fields = {}
        finally:
            self._queue.put_nowait(None)

    async def next(self, timeout_s: float) -> Event | None:
        """The next event, or None once the stream has ended; fails after `timeout_s`."""
        async with asyncio.timeout(timeout_s):
            return await self._queue.get()

    async def wait_for(
        self, kind: str, timeout_s: float, where: Callable[[Any], bool] = lambda _: True
    ) -> Event:
        """Skip events until one of `kind` whose data satisfies `where`."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                event = await self.next(deadline - time.monotonic())
            except TimeoutError:
                raise AssertionError(f"no {kind} event in {timeout_s} s; got {self.received}") from None
            if event is None:
                raise AssertionError(f"the stream ended before a {kind} event; got {self.received}")
            if event.kind == kind and where(event.data):
                return event

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._reader


@contextlib.asynccontextmanager
async def open_stream(
    base_url: str, headers: dict[str, str], boards: tuple[str, ...] = ()
) -> AsyncIterator[EventStream]:
    """GET /v1/stream on the real API; the stream once `ready` has arrived."""
    params = {"leaderboard": list(boards)}
    timeout = httpx.Timeout(10.0, read=30.0)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout) as http,
        http.stream("GET", "/v1/stream", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, await response.aread()
        stream = EventStream(response)
        try:
            await stream.wait_for("ready", 10)
            yield stream
        finally:
            await stream.close()


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/health/live")
        return connection.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def api_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real API process for the module, with quick heartbeats."""
    port = free_port()
    directory: Path = tmp_path_factory.mktemp("stream-api")
    environ = {
        **os.environ,
        "IRONLOG_DATA_DIR": str(directory / "data"),
        "IRONLOG_STREAM_HEARTBEAT_S": str(HEARTBEAT_S),
    }
    process = IronlogProcess(["api", "--port", str(port)], environ, directory / "api.log")
    try:
        wait_until(lambda: _answers(port), 60, "the API to answer")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    assert settings.redis.url
    client = Redis.from_url(settings.redis.url)
    yield client
    await client.aclose()


def headers_expiring_in(settings: Settings, seconds: int) -> dict[str, str]:
    """An Authorization header whose access token expires `seconds` from now."""
    ttl = settings.auth.access_ttl_s
    issued = IssuedTokens(
        user_id=uuid.uuid4(),
        role="user",
        family_id=uuid.uuid4(),
        refresh_token="",
        refresh_expires_at=clock.now(),
        access_token_id=uuid.uuid4(),
        issued_at=clock.now() - timedelta(seconds=ttl - seconds),
    )
    return {"Authorization": f"Bearer {AccessTokens(settings).mint(issued)}"}


async def visible(client: Any, path: str, headers: dict[str, str], token: int, timeout_s: float = 30) -> None:
    """Wait until `path` answers 200 at version `token` or later (the worker may have a backlog)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = await client.get(path, headers={**headers, "X-Consistency-Token": str(token)})
        if response.status_code == 200 and response.headers.get("x-consistency") != "stale":
            return
        assert time.monotonic() < deadline, f"{path} not projected in {timeout_s} s: {response.text}"
        await asyncio.sleep(0.1)


async def test_a_write_reaches_its_authors_stream_and_no_one_elses(
    client: Any, api_url: str, start_worker: Any, redis: Redis, settings: Settings
) -> None:
    start_worker()
    author, other = await sign_up(client), await sign_up(client)
    workout_id = uuid.uuid4()
    async with (
        open_stream(api_url, bearer(author)) as mine,
        open_stream(api_url, bearer(other)) as theirs,
    ):
        written = await client.put(f"/v1/workouts/{workout_id}", json=workout(), headers=bearer(author))
        assert written.status_code == 201, written.text
        token = int(written.headers["x-consistency-token"])
        await visible(client, f"/v1/workouts/{workout_id}", bearer(author), token)

        # Projected and visible: the announcement is at most a second behind.
        projected = await mine.wait_for("projected", 1.0, where=lambda data: data["version"] >= token)
        assert projected.id == str(projected.data["version"])

        # Another user's channel carries nothing the author's stream hears, whatever its content.
        keys = Keys(settings.redis.prefix)
        await redis.publish(projected_channel(keys, uuid.UUID(other["user"]["id"])), "424242")
        await theirs.wait_for("projected", 5, where=lambda data: data["version"] == 424242)
        await mine.wait_for("heartbeat", 5)
        await theirs.wait_for("heartbeat", 5)
    assert all(event.data.get("version") != 424242 for event in mine.received)
    # The other user hears only of their own registration (version 1) and of their own channel.
    their_versions = {event.data["version"] for event in theirs.received if event.kind == "projected"}
    assert their_versions <= {1, 424242}
    assert {event.kind for event in theirs.received} <= {"ready", "projected", "heartbeat"}


async def test_an_opened_board_is_heard_and_an_unopened_one_is_not(
    api_url: str, redis: Redis, settings: Settings
) -> None:
    keys = Keys(settings.redis.prefix)
    boards = ("weekly-volume:2026-W48", "e1rm:barbell-bench-press")
    async with open_stream(api_url, access_headers(settings), boards) as stream:
        await redis.publish(leaderboard_channel(keys, "e1rm", "back-squat"), "back-squat")
        await redis.publish(leaderboard_channel(keys, "weekly-volume", "2026-W47"), "2026-W47")
        await redis.publish(leaderboard_channel(keys, "e1rm", "barbell-bench-press"), "barbell-bench-press")
        changed = await stream.wait_for("leaderboard", 5)
        await redis.publish(leaderboard_channel(keys, "weekly-volume", "2026-W48"), "2026-W48")
        weekly = await stream.wait_for("leaderboard", 5)
    assert changed.data == {"board": "e1rm", "key": "barbell-bench-press"}
    assert weekly.data == {"board": "weekly-volume", "key": "2026-W48"}
    heard = [event.data for event in stream.received if event.kind == "leaderboard"]
    assert heard == [changed.data, weekly.data]


async def test_an_idle_stream_has_heartbeats_and_the_usual_headers(api_url: str, settings: Settings) -> None:
    async with open_stream(api_url, access_headers(settings)) as stream:
        started = time.monotonic()
        await stream.wait_for("heartbeat", 5)
        await stream.wait_for("heartbeat", 5)
        elapsed = time.monotonic() - started
        headers = stream.response.headers
    assert elapsed >= HEARTBEAT_S  # two heartbeats are at least one interval apart
    ready = stream.received[0]
    assert ready.kind == "ready" and ready.data["heartbeatSeconds"] == HEARTBEAT_S
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-store"
    assert headers["x-accel-buffering"] == "no"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["x-request-id"]


async def test_the_stream_ends_when_the_access_token_expires(api_url: str, settings: Settings) -> None:
    headers = headers_expiring_in(settings, 3)
    async with open_stream(api_url, headers) as stream:
        expires_at = datetime.fromisoformat(stream.received[0].data["expiresAt"])
        expired = await stream.wait_for("expired", 10)
        ended_at = clock.now()
        assert await stream.next(5) is None  # and then the response ends
    assert expired.data == {}
    assert expires_at - timedelta(seconds=1) <= ended_at <= expires_at + timedelta(seconds=3)


async def test_the_stream_ends_when_its_user_signs_out_everywhere(client: Any, api_url: str) -> None:
    signed_in, someone_else = await sign_up(client), await sign_up(client)
    async with (
        open_stream(api_url, bearer(signed_in)) as stream,
        open_stream(api_url, bearer(someone_else)) as other,
    ):
        # Signed out through another process: the stream's process hears of it.
        assert (await client.post("/v1/auth/logout-all", headers=bearer(signed_in))).status_code == 204
        await stream.wait_for("expired", 10)
        assert await stream.next(5) is None
        await other.wait_for("heartbeat", 5)
        assert [event.kind for event in other.received if event.kind == "expired"] == []


async def test_the_stream_survives_a_lost_redis_connection(
    client: Any, api_url: str, start_worker: Any, redis: Redis, settings: Settings
) -> None:
    start_worker()
    author = await sign_up(client)
    name = settings.redis.prefix + "subscriber"

    async def subscriber_ids() -> set[str]:
        return {c["id"] for c in await redis.client_list(_type="pubsub") if c["name"] == name}

    async with open_stream(api_url, bearer(author), ("e1rm:barbell-bench-press",)) as stream:
        before = await subscriber_ids()
        assert before, "the API holds a named subscription"
        for client_id in before:
            await redis.client_kill_filter(_id=client_id)
        # Whatever was missed meanwhile is caught up: every opened board is announced again.
        await stream.wait_for("leaderboard", 10)
        after = await subscriber_ids()
        assert after and not after & before

        written = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=bearer(author))
        token = int(written.headers["x-consistency-token"])
        await stream.wait_for("projected", 30, where=lambda data: data["version"] >= token)


async def test_a_reconnection_with_last_event_id_hears_only_what_it_missed(
    client: Any, api_url: str, start_worker: Any
) -> None:
    start_worker()
    author = await sign_up(client)
    written = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=bearer(author))
    assert written.status_code == 201, written.text
    token = int(written.headers["x-consistency-token"])
    await visible(client, "/v1/stats/dashboard", bearer(author), token)
    board = ("e1rm:barbell-bench-press",)

    async def reconnected(last_heard: int) -> list[Event]:
        """What a stream reopened with Last-Event-ID says, up to its first heartbeat."""
        headers = {**bearer(author), "Last-Event-ID": str(last_heard)}
        async with open_stream(api_url, headers, board) as stream:
            await stream.wait_for("heartbeat", 5)
        return stream.received[: [event.kind for event in stream.received].index("heartbeat")]

    # Heard up to the registration: the write since is one `projected`, and the board may have moved.
    ready, *missed = await reconnected(1)
    assert ready.kind == "ready" and ready.data["resumed"] is True
    assert ready.data["version"] >= token and ready.id == str(ready.data["version"])
    assert [(event.kind, event.data) for event in missed] == [
        ("projected", {"version": ready.data["version"]}),
        ("leaderboard", {"board": "e1rm", "key": "barbell-bench-press"}),
    ]
    assert missed[0].id == ready.id
    # Heard everything: nothing of the user's own is repeated.
    current = ready.data["version"]
    ready, *missed = await reconnected(current)
    assert ready.data == {**ready.data, "version": current, "resumed": True}
    assert [event.kind for event in missed] == ["leaderboard"]
    # An id the caller never reached is not resumed: fetch everything.
    ready, *missed = await reconnected(current + 100)
    assert ready.data["resumed"] is False and ready.data["version"] == current and missed == []
    # A first connection is never resumed.
    async with open_stream(api_url, bearer(author), board) as stream:
        assert stream.received[0].data["resumed"] is False


async def test_a_stream_needs_a_valid_token_and_known_boards(client: Any, settings: Settings) -> None:
    assert_problem(await client.get("/v1/stream"), 401)
    assert_problem(await client.get("/v1/stream", headers={"Authorization": "Bearer nonsense"}), 401)
    me = access_headers(settings)
    for board, field in [
        ("podium:2026-W48", "leaderboard[0]"),
        ("weekly-volume:last-week", "leaderboard[0]"),
        ("e1rm:", "leaderboard[0]"),
    ]:
        problem = assert_problem(
            await client.get("/v1/stream", params={"leaderboard": board}, headers=me), 422
        )
        assert problem["errors"][0]["field"] == field
    for last_heard in ("-1", "1.5", "x", "9" * 20, ""):
        problem = assert_problem(
            await client.get("/v1/stream", headers={**me, "Last-Event-ID": last_heard}), 422
        )
        assert problem["errors"][0]["field"] == "Last-Event-ID", last_heard
    too_many = [("leaderboard", f"e1rm:exercise-{n}") for n in range(11)]
    problem = assert_problem(await client.get("/v1/stream", params=too_many, headers=me), 422)
    assert problem["errors"][0]["field"] == "leaderboard"


def test_the_stream_is_documented_in_the_openapi_schema(settings: Settings) -> None:
    # The stream's own schema, built alone: the whole app's takes long to generate its examples.
    documented = Litestar(
        route_handlers=[StreamController],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        openapi_config=openapi_config(),
    )
    operation = documented.openapi_schema.to_schema()["paths"]["/v1/stream"]["get"]
    assert operation["operationId"] == "streamChanges"
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {"401", "422"} <= set(operation["responses"])
    assert [parameter["name"] for parameter in operation["parameters"]] == ["leaderboard"]
    # ...and the app serves it, included in its schema.
    served = [route for route in create_app(settings).routes if route.path == "/v1/stream"]
    assert len(served) == 1 and isinstance(served[0], HTTPRoute)
    gets = [handler for handler in served[0].route_handlers if "GET" in handler.http_methods]
    assert [handler.resolve_include_in_schema() for handler in gets] == [True]


async def test_head_on_the_stream_answers_its_headers_and_ends(api_url: str, settings: Settings) -> None:
    # HEAD is answered by the GET handler without a body; a stream is ended once its headers are sent,
    # rather than lasting as long as its token.
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=api_url, timeout=HEARTBEAT_S * 3) as http:
        response = await http.head("/v1/stream", headers=access_headers(settings))
    assert time.monotonic() - started < HEARTBEAT_S * 2
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"].startswith("text/event-stream")
