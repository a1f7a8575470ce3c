"""`GET /v1/stream`: Server-Sent Events telling the caller that their read models changed.

Events, each with JSON data:

- `ready`, first: `{"version", "expiresAt", "heartbeatSeconds", "resumed"}`. Subscribed; fetch what is
  on screen, unless `resumed` (below).
- `projected`: `{"version"}`. The caller's read models now reflect that stream version.
- `leaderboard`: `{"board", "key"}`. A board opened with `?leaderboard=<board>:<key>` changed.
- `heartbeat`: `{}` after `heartbeatSeconds` without another event.
- `expired`: `{}`, last, when the access token expires, or is ended by a sign-out everywhere (a
  password change, an erasure); reconnect with a fresh token.

A stream also ends, without `expired`, when its API process stops: reconnect as after any drop.

`id:` is the version of the latest `ready` or `projected`. After a lost Redis connection the stream
catches up by itself: a `projected` if the version moved, and a `leaderboard` for every opened board.

A client that reconnects sends `Last-Event-ID` (the last `id:` it heard), and the stream resumes:
`ready` says `resumed: true`, then comes a `projected` if the version moved since that id, and a
`leaderboard` for every opened board (what a board did meanwhile is not kept). The client then
fetches only what those events name. An id ahead of the caller's version (another account's, say) is
not resumed: `resumed: false`, fetch everything. A Last-Event-ID that is not a version is a 422.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import asyncpg
import msgspec
import structlog
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from redis.exceptions import RedisError

from api.auth.middleware import principal_of
from api.auth.tokens import AccessTokens, InvalidToken
from api.conditions import CONDITIONAL_HEADERS, LAST_EVENT_ID, last_event_id
from api.problems import problem_specs
from api.state import AppServices
from core import clock
from core.structs import ResponseBody
from projections.cache import projected_channel
from projections.leaderboards import BOARDS, WEEKLY, leaderboard_channel, week_bounds
from queries.announcements import Announcements, Batch, projected_version

log = structlog.get_logger(__name__)

EVENT_STREAM = "text/event-stream"
MAX_BOARDS = 10
#: How long a client waits before reconnecting to a stream that ended (milliseconds, sent with `ready`).
RECONNECT_MS = 3000
#: How long a new stream waits for the process's subscription before answering anyway.
_LIVE_WAIT_S = 2.0
_EXERCISE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_ENCODER = msgspec.json.Encoder()

_EXAMPLE = (
    "id: 41\nevent: ready\n"
    'data: {"version":41,"expiresAt":"2026-11-27T18:15:00Z","heartbeatSeconds":15.0,"resumed":false}\n'
    "retry: 3000\n\n"
    'id: 42\nevent: projected\ndata: {"version":42}\n\n'
    'event: leaderboard\ndata: {"board":"weekly-volume","key":"2026-W48"}\n\n'
    "event: heartbeat\ndata: {}\n\n"
    "event: expired\ndata: {}\n\n"
)

Boards = Annotated[
    list[str] | None,
    QueryParameter(
        max_items=MAX_BOARDS,
        description=(
            "Boards to hear about, as `<board>:<key>`: `weekly-volume:2026-W48`, "
            "`e1rm:barbell-bench-press`, `e1rm-relative:<exercise id>`. Repeatable, at most 10."
        ),
    ),
]


class StreamReady(ResponseBody):
    version: int
    expires_at: datetime
    heartbeat_seconds: float
    resumed: bool  # from the Last-Event-ID sent: what changed since follows


class VersionProjected(ResponseBody):
    version: int


class BoardChanged(ResponseBody):
    board: str
    key: str


def opened_boards(values: list[str] | None) -> list[tuple[str, str]]:
    """The (board, key) pairs named in `?leaderboard=`, validated and without repeats."""
    boards: list[tuple[str, str]] = []
    for index, value in enumerate(values or []):
        field = f"leaderboard[{index}]"
        board, _, key = value.partition(":")
        if board not in BOARDS:
            raise _invalid(field, f"must be <board>:<key> with a board of {', '.join(BOARDS)}")
        if board == WEEKLY:
            try:
                week_bounds(key)
            except ValueError:
                raise _invalid(field, "must name an ISO week, e.g. weekly-volume:2026-W48") from None
        elif not _EXERCISE_ID.match(key):
            raise _invalid(field, "must name an exercise id, e.g. e1rm:barbell-bench-press")
        if (board, key) not in boards:
            boards.append((board, key))
    return boards


def _invalid(field: str, message: str) -> ValidationException:
    return ValidationException(f"{field} {message}", extra=[{"key": field, "message": message}])


def _event(event: str, data: msgspec.Struct | None = None, **fields: Any) -> ServerSentEventMessage:
    body = b"{}" if data is None else _ENCODER.encode(data)
    return ServerSentEventMessage(data=body, event=event, **fields)


def _version_of(data: bytes) -> int | None:
    try:
        return int(data)
    except ValueError:
        return None


@dataclass
class _Stream:
    """One caller's stream: what they may hear, until when, and the last version they were told."""

    announcements: Announcements
    pool: asyncpg.Pool
    user_id: uuid.UUID
    own: str  # the caller's projected channel: never anyone else's
    boards: dict[str, tuple[str, str]]  # board channel -> (board, key)
    expires_at: datetime
    heartbeat_s: float
    tokens: AccessTokens
    token: str  # the access token the stream was opened with
    sign_outs: str  # where the end of the caller's access tokens is announced
    last_heard: int | None = None  # the Last-Event-ID of a reconnection
    sent: int = 0

    async def events(self) -> AsyncIterator[ServerSentEventMessage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.expires_at - clock.now()).total_seconds()
        listener = self.announcements.listen([self.own, self.sign_outs, *self.boards])
        try:
            if await self.announcements.wait_live(_LIVE_WAIT_S):
                listener.discard()  # the version read next covers everything announced so far
            version = await projected_version(self.pool, self.user_id)
            resumed = self.last_heard is not None and self.last_heard <= version
            self.sent = version
            ready = StreamReady(version, self.expires_at, self.heartbeat_s, resumed)
            yield _event("ready", ready, id=version, retry=RECONNECT_MS)
            if resumed:
                self.sent = self.last_heard or 0  # what the client was told before it reconnected
                for message in self._catch_up(version):
                    yield message
            beat_at = loop.time() + self.heartbeat_s
            while (now := loop.time()) < deadline and not listener.ended:
                batch = await listener.next(min(beat_at, deadline) - now)
                if batch is not None and not self._token_valid():
                    break
                answer = [] if batch is None else await self._answer(batch)
                if not answer and beat_at <= loop.time() < deadline:
                    answer = [_event("heartbeat")]
                for message in answer:
                    yield message
                if answer:
                    beat_at = loop.time() + self.heartbeat_s
            if not listener.ended:
                yield _event("expired")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, RedisError, OSError) as exc:
            # Ending is safe: the client reconnects, and `ready` tells it where things stand.
            log.warning("stream_ended_early", error=repr(exc))
        finally:
            listener.close()

    def _token_valid(self) -> bool:
        try:
            self.tokens.verify(self.token)
        except InvalidToken:
            return False
        return True

    async def _answer(self, batch: Batch) -> list[ServerSentEventMessage]:
        answer: list[ServerSentEventMessage] = []
        if batch.gap:
            return self._catch_up(await projected_version(self.pool, self.user_id))
        for channel, data in batch.messages:
            if channel == self.own:
                version = _version_of(data)
                answer += self._projected(version) if version is not None else []
            elif (pair := self.boards.get(channel)) is not None:
                answer.append(_event("leaderboard", BoardChanged(*pair)))
        return answer

    def _catch_up(self, version: int) -> list[ServerSentEventMessage]:
        """What a client that may have missed announcements is told (after a lost Redis connection, or on
        resuming): a `projected` if the version moved past what it was told, and every opened board,
        since what a board did meanwhile is not kept."""
        return [
            *self._projected(version),
            *(_event("leaderboard", BoardChanged(*p)) for p in self.boards.values()),
        ]

    def _projected(self, version: int) -> list[ServerSentEventMessage]:
        # Announcements of one user may arrive out of order; a client is only ever told of progress.
        if version <= self.sent:
            return []
        self.sent = version
        return [_event("projected", VersionProjected(version), id=version)]


class StreamController(Controller):
    path = "/v1/stream"
    tags = ["sync"]

    @get(
        operation_id="streamChanges",
        summary="Server-Sent Events: the caller's read models and the boards they opened changed",
        description=__doc__,
        media_type=EVENT_STREAM,
        responses={
            200: ResponseSpec(
                data_container=str,
                media_type=EVENT_STREAM,
                description="An event stream that ends when the access token expires",
                generate_examples=False,
                examples=[Example(summary="The first events", value=_EXAMPLE)],
            ),
            **problem_specs(401, 422),
        },
        opt={CONDITIONAL_HEADERS: (LAST_EVENT_ID,)},
    )
    async def stream(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[AppServices],
        *,
        leaderboard: Boards = None,
    ) -> ServerSentEvent:
        principal = principal_of(request)
        boards = opened_boards(leaderboard)
        last_heard = last_event_id(request)
        expires_at = principal.expires_at or clock.now() + timedelta(
            seconds=services.settings.auth.access_ttl_s
        )
        stream = _Stream(
            announcements=services.announcements,
            pool=services.pool,
            user_id=principal.user_id,
            own=projected_channel(services.keys, principal.user_id),
            boards={leaderboard_channel(services.keys, board, key): (board, key) for board, key in boards},
            expires_at=expires_at,
            heartbeat_s=services.settings.api.stream_heartbeat_s,
            tokens=services.tokens,
            token=request.headers["authorization"].partition(" ")[2].strip(),
            sign_outs=services.sign_outs.channel_of(principal.user_id),
            last_heard=last_heard,
        )
        # no-store: nothing personal is kept; no buffering: proxies pass each event on at once.
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return ServerSentEvent(stream.events(), headers=headers)
