"""What every command response does after its transaction commits."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request

from api.auth.middleware import principal_of
from api.conditions import CONSISTENCY_TOKEN
from api.request_context import request_id_of
from api.responses import Response
from api.state import AppServices
from core import clock
from core.faults import fault_point

T = TypeVar("T")


async def announce(services: AppServices, user_id: uuid.UUID) -> None:
    """Poke the workers to project the user; a lost poke is the sweeper's to recover."""
    fault_point("after_commit")
    await services.enqueuer.send(services.enqueuer.actors.project_user, str(user_id))


async def run_command(
    services: AppServices,
    request: Request[Any, Any, Any],
    command: Callable[..., Awaitable[T]],
    **arguments: Any,
) -> T:
    """Run a command for the caller in a transaction of its own, with the clock and the request id."""
    async with services.pool.acquire() as connection, connection.transaction():
        return await command(
            connection,
            user_id=principal_of(request).user_id,
            now=clock.now(),
            request_id=request_id_of(request.scope),
            **arguments,
        )


def consistency_headers(stream_version: int) -> dict[str, str]:
    """The token a client sends back to read its own write."""
    return {CONSISTENCY_TOKEN: str(stream_version)}


_ENCODER = msgspec.json.Encoder()


def written(
    representation: msgspec.Struct, *, outcome: str, version: int, stream_version: int, location: str
) -> Response[bytes]:
    """The answer to a PUT of a versioned thing: 201 when created, else 200; ETag and token."""
    headers = {"ETag": f'"{version}"', **consistency_headers(stream_version)}
    if outcome == "created":
        headers["Location"] = location
    return Response(
        content=_ENCODER.encode(representation),
        status_code=201 if outcome == "created" else 200,
        media_type="application/json",
        headers=headers,
    )


def deleted(stream_version: int) -> Response[None]:
    return Response(content=None, status_code=204, headers=consistency_headers(stream_version))
