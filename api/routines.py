"""`/v1/routines`: plans of exercises with target sets; versioned and amended like workouts."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response.base import ASGIResponse

from api.auth.middleware import principal_of
from api.conditions import READ_HEADERS, WRITE_HEADERS, consistency_token, if_match
from api.problems import problem_specs
from api.reads import Cursor, Limit, found, memory_key, serve
from api.responses import Response
from api.state import AppServices
from api.writes import announce, deleted, run_command, written
from commands.events import Routine
from commands.routines import delete_routine, put_routine
from core.structs import ResponseBody
from projections.documents import RoutineDocument
from queries.routines import routine, routines_page


class StoredRoutine(Routine, kw_only=True, frozen=True):
    id: uuid.UUID
    version: int


class RoutinePage(ResponseBody):
    items: list[RoutineDocument]
    next_cursor: str | None = None


class RoutinesController(Controller):
    path = "/v1/routines"
    tags = ["routines"]

    @put(
        "/{routine_id:uuid}",
        operation_id="putRoutine",
        opt=WRITE_HEADERS,
        summary="Define a routine (client-generated id) or change it with If-Match",
        status_code=200,
        responses={
            200: ResponseSpec(
                generate_examples=False,
                data_container=StoredRoutine,
                description="Changed, or an identical replay",
            ),
            201: ResponseSpec(generate_examples=False, data_container=StoredRoutine, description="Defined"),
            **problem_specs(404, 409, 410, 412, 422),
        },
    )
    async def put_routine(
        self,
        request: Request[Any, Any, Any],
        routine_id: FromPath[uuid.UUID],
        data: JSONBody[Routine],
        services: NamedDependency[AppServices],
    ) -> Response[bytes]:
        principal = principal_of(request)
        version_wanted = if_match(request)
        outcome = await run_command(
            services, request, put_routine, routine_id=routine_id, routine=data, if_match=version_wanted
        )
        if outcome.outcome != "unchanged":
            await announce(services, principal.user_id)
        stored = StoredRoutine(**msgspec.structs.asdict(data), id=routine_id, version=outcome.version)
        return written(
            stored,
            outcome=outcome.outcome,
            version=outcome.version,
            stream_version=outcome.stream_version,
            location=f"/v1/routines/{routine_id}",
        )

    @delete(
        "/{routine_id:uuid}",
        operation_id="deleteRoutine",
        summary="Delete a routine",
        status_code=204,
        opt=WRITE_HEADERS,
        responses=problem_specs(404, 412),
    )
    async def delete_routine(
        self,
        request: Request[Any, Any, Any],
        routine_id: FromPath[uuid.UUID],
        services: NamedDependency[AppServices],
    ) -> Response[None]:
        principal = principal_of(request)
        deletion = await run_command(
            services, request, delete_routine, routine_id=routine_id, if_match=if_match(request)
        )
        if deletion.deleted:
            await announce(services, principal.user_id)
        return deleted(deletion.stream_version)

    @get(
        operation_id="listRoutines",
        opt=READ_HEADERS,
        summary="The caller's routines, by name",
        responses={
            200: ResponseSpec(generate_examples=False, data_container=RoutinePage, description="A page"),
            **problem_specs(422),
        },
    )
    async def routines(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[AppServices],
        *,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ASGIResponse:
        user_id = principal_of(request).user_id
        served = await services.lists.read(
            user_id,
            consistency_token(request),
            routines_page(user_id, cursor, limit),
            key=memory_key(request),
        )
        return serve(request, served)

    @get(
        "/{routine_id:uuid}",
        operation_id="getRoutine",
        opt=READ_HEADERS,
        summary="One routine, exercise names inlined",
        responses={
            200: ResponseSpec(
                generate_examples=False, data_container=RoutineDocument, description="The routine"
            ),
            **problem_specs(404),
        },
    )
    async def routine(
        self,
        request: Request[Any, Any, Any],
        routine_id: FromPath[uuid.UUID],
        services: NamedDependency[AppServices],
    ) -> ASGIResponse:
        user_id = principal_of(request).user_id
        answer = await services.lists.one(
            user_id, consistency_token(request), routine(user_id, routine_id), key=memory_key(request)
        )
        return serve(request, found(answer, "No such routine."))
