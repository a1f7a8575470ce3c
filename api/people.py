"""`/v1/bodyweight` and `/v1/follows`: the body-weight log and the people a user follows."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from litestar import Controller, Request, delete, get, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response.base import ASGIResponse

from api.auth.middleware import principal_of
from api.conditions import READ_HEADERS, consistency_token
from api.problems import problem_specs
from api.reads import Cursor, Limit, memory_key, serve
from api.responses import Response
from api.state import AppServices
from api.writes import announce, consistency_headers, run_command
from commands.people import Bodyweight, as_weight, delete_bodyweight, follow, put_bodyweight, unfollow
from core.structs import RequestBody, ResponseBody
from projections.documents import BodyweightEntry, FollowEntry
from queries.people import bodyweight_page, follows_page


class BodyweightBody(RequestBody):
    weight: Bodyweight


class BodyweightPage(ResponseBody):
    items: list[BodyweightEntry]
    next_cursor: str | None = None


class FollowPage(ResponseBody):
    items: list[FollowEntry]
    next_cursor: str | None = None


async def _changed(services: AppServices, user_id: uuid.UUID, result: tuple[bool, int]) -> dict[str, str]:
    changed, stream_version = result
    if changed:
        await announce(services, user_id)
    return consistency_headers(stream_version)


class BodyweightController(Controller):
    path = "/v1/bodyweight"
    tags = ["body weight"]

    @put(
        "/{day:date}",
        operation_id="putBodyweight",
        summary="Record the day's body weight (the last write wins)",
        status_code=204,
        responses=problem_specs(422),
    )
    async def record(
        self,
        request: Request[Any, Any, Any],
        day: FromPath[date],
        data: JSONBody[BodyweightBody],
        services: NamedDependency[AppServices],
    ) -> Response[None]:
        user_id = principal_of(request).user_id
        result = await run_command(services, request, put_bodyweight, day=day, weight=as_weight(data.weight))
        return Response(None, status_code=204, headers=await _changed(services, user_id, result))

    @delete(
        "/{day:date}",
        operation_id="deleteBodyweight",
        summary="Forget the day's body weight",
        status_code=204,
    )
    async def forget(
        self, request: Request[Any, Any, Any], day: FromPath[date], services: NamedDependency[AppServices]
    ) -> Response[None]:
        user_id = principal_of(request).user_id
        result = await run_command(services, request, delete_bodyweight, day=day)
        return Response(None, status_code=204, headers=await _changed(services, user_id, result))

    @get(
        operation_id="listBodyweight",
        opt=READ_HEADERS,
        summary="The body-weight log, newest day first",
        responses={
            200: ResponseSpec(generate_examples=False, data_container=BodyweightPage, description="A page"),
            **problem_specs(422),
        },
    )
    async def log(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[AppServices],
        *,
        cursor: Cursor = None,
        limit: Limit = 30,
    ) -> ASGIResponse:
        user_id = principal_of(request).user_id
        load = bodyweight_page(user_id, cursor, limit)
        return serve(
            request,
            await services.lists.read(user_id, consistency_token(request), load, key=memory_key(request)),
        )


class FollowsController(Controller):
    path = "/v1/follows"
    tags = ["people"]

    @put(
        "/{user_id:uuid}",
        operation_id="follow",
        summary="Follow someone",
        status_code=204,
        responses=problem_specs(404, 422),
    )
    async def follow(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[uuid.UUID],
        services: NamedDependency[AppServices],
    ) -> Response[None]:
        me = principal_of(request).user_id
        result = await run_command(services, request, follow, followee_id=user_id)
        return Response(None, status_code=204, headers=await _changed(services, me, result))

    @delete("/{user_id:uuid}", operation_id="unfollow", summary="Stop following someone", status_code=204)
    async def unfollow(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[uuid.UUID],
        services: NamedDependency[AppServices],
    ) -> Response[None]:
        me = principal_of(request).user_id
        result = await run_command(services, request, unfollow, followee_id=user_id)
        return Response(None, status_code=204, headers=await _changed(services, me, result))

    @get(
        operation_id="listFollows",
        opt=READ_HEADERS,
        summary="The people the caller follows, most recent first",
        responses={
            200: ResponseSpec(generate_examples=False, data_container=FollowPage, description="A page"),
            **problem_specs(422),
        },
    )
    async def following(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[AppServices],
        *,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ASGIResponse:
        me = principal_of(request).user_id
        return serve(
            request,
            await services.lists.read(
                me, consistency_token(request), follows_page(me, cursor, limit), key=memory_key(request)
            ),
        )
