"""`/v1/exercises`: the catalog and the user's own exercises; defining and deleting custom ones."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response.base import ASGIResponse

from api.auth.middleware import principal_of
from api.conditions import READ_HEADERS, WRITE_HEADERS, consistency_token, if_match
from api.problems import problem_specs
from api.reads import Cursor, Limit, found, memory_key, serve
from api.responses import EncodedResponse, Response
from api.state import AppServices
from api.writes import announce, deleted, run_command, written
from commands.events import CustomExercise
from commands.exercises import delete_exercise, put_exercise
from core.catalog import BUILT_IN, Category, Equipment, Exercise, Muscle, exercise
from core.cursors import decode_cursor, encode_cursor
from core.structs import ResponseBody
from projections.readers import custom_exercises
from queries.exercise_search import SearchFilters, search
from queries.exercises import custom_exercise

_ENCODER = msgspec.json.Encoder()
_PRIVATE = {"Cache-Control": "private, no-cache"}
_NO_SUCH_EXERCISE = "No such exercise."

Text = Annotated[
    str | None, QueryParameter(max_length=100, description="Words of a name or alias; typos are fine")
]
MuscleFilter = Annotated[Muscle | None, QueryParameter(description="Worked as a primary or secondary muscle")]
EquipmentFilter = Annotated[Equipment | None, QueryParameter()]
CategoryFilter = Annotated[Category | None, QueryParameter()]


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
        muscle: MuscleFilter = None,
        equipment: EquipmentFilter = None,
        category: CategoryFilter = None,
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
        opt=READ_HEADERS,
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
    ) -> ASGIResponse:
        built_in = exercise(exercise_id)
        if built_in is not None:
            body = _ENCODER.encode(built_in)
            return EncodedResponse(body=body, media_type="application/json", headers=_PRIVATE)
        custom_id = _custom_id(exercise_id)
        if custom_id is None:
            raise NotFoundException(_NO_SUCH_EXERCISE)
        user_id = principal_of(request).user_id
        answer = await services.lists.one(
            user_id, consistency_token(request), custom_exercise(user_id, custom_id), key=memory_key(request)
        )
        return serve(request, found(answer, _NO_SUCH_EXERCISE))

    @put(
        "/{exercise_id:uuid}",
        operation_id="putExercise",
        opt=WRITE_HEADERS,
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
        opt=WRITE_HEADERS,
        responses=problem_specs(404, 412),
    )
    async def delete_exercise(
        self,
        request: Request[Any, Any, Any],
        exercise_id: FromPath[uuid.UUID],
        services: NamedDependency[AppServices],
    ) -> Response[None]:
        principal = principal_of(request)
        deletion = await run_command(
            services, request, delete_exercise, exercise_id=exercise_id, if_match=if_match(request)
        )
        if deletion.deleted:
            await announce(services, principal.user_id)
        return deleted(deletion.stream_version)


def _custom_id(exercise_id: str) -> uuid.UUID | None:
    """The id of a custom exercise, when `exercise_id` is one (a UUID in its canonical form)."""
    try:
        parsed = uuid.UUID(exercise_id)
    except ValueError:
        return None
    return parsed if str(parsed) == exercise_id else None
