"""Diagnostics: a ping that travels API -> broker -> worker -> Redis, to prove the pipe.

Enabled by IRONLOG_DIAGNOSTICS (on outside production); admins only.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ServiceUnavailableException
from litestar.params import FromPath

from api.auth.middleware import requires_role
from api.problems import problem_specs
from api.state import AppServices
from core.structs import ResponseBody

_TOKEN = msgspec.Meta(examples=["5f2b1c9e0d7a4e43a1b6c0f9e8d7c6b5"])


class PingSent(ResponseBody):
    token: Annotated[str, _TOKEN]
    message_id: Annotated[str, msgspec.Meta(examples=["2b7c1f0e-3c55-4a8e-9a55-0c6f1d3e9b21"])]


class PingAnswer(ResponseBody):
    token: Annotated[str, _TOKEN]
    request_id: Annotated[str, msgspec.Meta(examples=["phone-7f3a-retry-1"])]
    answers: Annotated[int, msgspec.Meta(examples=[1], description="Times a worker answered it")]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class DiagnosticsController(Controller):
    path = "/v1/diagnostics"
    tags = ["diagnostics"]
    guards = [requires_role("admin")]

    @post(
        "/ping",
        operation_id="sendPing",
        status_code=202,
        summary="Enqueue a ping for a worker",
        responses=problem_specs(503),
    )
    async def send_ping(self, services: NamedDependency[AppServices]) -> PingSent:
        token = uuid.uuid4().hex
        message_id = await services.enqueuer.send(services.enqueuer.actors.ping, token)
        if message_id is None:
            raise ServiceUnavailableException("The broker did not accept the ping.")
        return PingSent(token=token, message_id=message_id)

    @get(
        "/ping/{token:str}",
        operation_id="getPing",
        summary="A worker's answer to a ping",
        responses=problem_specs(404),
    )
    async def get_ping(self, token: FromPath[str], services: NamedDependency[AppServices]) -> PingAnswer:
        answer = await services.redis.hgetall(services.keys.key("ping", token))
        if not answer:
            raise NotFoundException("No worker has answered this ping yet.")
        fields = {_text(k): _text(v) for k, v in answer.items()}
        return PingAnswer(token=token, request_id=fields["request_id"], answers=int(fields["answers"]))
