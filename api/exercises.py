"""`/v1/exercises`: the catalog and the user's own exercises; defining and deleting custom ones."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from api.auth.middleware import principal_of
from api.problems import problem_specs
from api.reads import Cursor, Limit
from api.state import AppServices
from api.writes import announce, deleted, if_match, run_command, written
from commands.events import CustomExercise
from commands.exercises import delete_exercise, put_exercise
from core.catalog import BUILT_IN, Exercise, exercise
from core.cursors import decode_cursor, encode_cursor
from core.structs import ResponseBody
from projections.store import custom_exercises
from queries.exercise_search import SearchFilters, search

_ENCODER = msgspec.json.Encoder()
_PRIVATE = {"Cache-Control": "private, no-cache"}

Text = Annotated[
    str | None, QueryParameter(max_length=100, description="Words of a name or alias; typos are fine")
]
Filter = Annotated[str | None, QueryParameter(max_length=40)]


class StoredExercise(CustomExercise, kw_only=True, frozen=True):
    id: uuid.UUID
    version: int


class ExercisePage(ResponseBody):
    items: list[Exercise]
    next_cursor: str | None = None


class ExercisesController(Controller):
    path = "/v1/exercises"
    tags = ["exercises"]

    @get(
        operation_id="searchExercises",
        summary="Search the catalog and the caller's own exercises (typo-tolerant, ranked)",
        responses={
            200: ResponseSpec(generate_examples=False, data_container=ExercisePage, description="A page"),
            **problem_specs(422),
        },
    )
    async def search(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[AppServices],
        *,
        q: Text = None,
        muscle: Filter = None,
        equipment: Filter = None,
        category: Filter = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Response[bytes]:
        own = await custom_exercises(services.pool, principal_of(request).user_id)
        offset = decode_cursor(cursor, int) if cursor else 0
        filters = SearchFilters(q=q, muscle=muscle, equipment=equipment, category=category)
        items, more = search([*BUILT_IN, *own], filters, offset=offset, limit=limit)
        page = ExercisePage(items=items, next_cursor=encode_cursor(offset + limit) if more else None)
        return Response(content=_ENCODER.encode(page), media_type="application/json", headers=_PRIVATE)

    @get(
        "/{exercise_id:str}",
        operation_id="getExercise",
        summary="One exercise: a built-in by its slug, or one of the caller's own by its id",
        responses={
            200: ResponseSpec(generate_examples=False, data_container=Exercise, description="The exercise"),
            **problem_specs(404),
        },
    )
    async def detail(
        self,
        request: Request[Any, Any, Any],
        exercise_id: FromPath[str],
        services: NamedDependency[AppServices],
    ) -> Response[bytes]:
        found = exercise(exercise_id)
        if found is None:
            own = await custom_exercises(services.pool, principal_of(request).user_id)
            found = next((entry for entry in own if entry.id == exercise_id), None)
        if found is None:
            raise NotFoundException("No such exercise.")
        return Response(content=_ENCODER.encode(found), media_type="application/json", headers=_PRIVATE)

    @put(
        "/{exercise_id:uuid}",
        operation_id="putExercise",
        summary="Define a custom exercise (client-generated id) or change it with If-Match",
        status_code=200,
        responses={
            200: ResponseSpec(
                generate_examples=False,
                data_container=StoredExercise,
                description="Changed, or an identical replay",
            ),
            201: ResponseSpec(generate_examples=False, data_container=StoredExercise, description="Defined"),
            **problem_specs(404, 409, 410, 412, 422),
        },
    )
    async def put_exercise(
        self,
        request: Request[Any, Any, Any],
        exercise_id: FromPath[uuid.UUID],
        data: JSONBody[CustomExercise],
        services: NamedDependency[AppServices],
    ) -> Response[bytes]:
        principal = principal_of(request)
        version_wanted = if_match(request)
        outcome = await run_command(
            services, request, put_exercise, exercise_id=exercise_id, exercise=data, if_match=version_wanted
        )
        if outcome.outcome != "unchanged":
            await announce(services, principal.user_id)
        stored = StoredExercise(**msgspec.structs.asdict(data), id=exercise_id, version=outcome.version)
        return written(
            stored,
            outcome=outcome.outcome,
            version=outcome.version,
            stream_version=outcome.stream_version,
            location=f"/v1/exercises/{exercise_id}",
        )

    @delete(
        "/{exercise_id:uuid}",
        operation_id="deleteExercise",
        summary="Delete a custom exercise; workouts that used it keep it",
        status_code=204,
        responses=problem_specs(404),
    )
    async def delete_exercise(
        self,
        request: Request[Any, Any, Any],
        exercise_id: FromPath[uuid.UUID],
        services: NamedDependency[AppServices],
    ) -> Response[None]:
        principal = principal_of(request)
        deletion = await run_command(services, request, delete_exercise, exercise_id=exercise_id)
        if deletion.deleted:
            await announce(services, principal.user_id)
        return deleted(deletion.stream_version)
