"""`/v1/workouts`: log, amend and delete workouts; the feed and the workout detail."""

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
from api.reads import Cursor, Limit, found, serve
from api.responses import Response
from api.state import AppServices, services_of
from api.writes import announce, deleted, run_command, written
from commands.events import Workout
from commands.workouts import delete_workout, put_workout
from core.structs import ResponseBody
from projections.documents import WorkoutDocument, WorkoutSummary
from projections.feed import FIRST_PAGE_SIZE


class StoredWorkout(Workout, kw_only=True, frozen=True):
    """A workout as stored: what was sent, with its id and version."""

    id: uuid.UUID
    version: int


class WorkoutPage(ResponseBody):
    items: list[WorkoutSummary]
    next_cursor: str | None = None


class WorkoutsController(Controller):
    path = "/v1/workouts"
    tags = ["workouts"]

    @put(
        "/{workout_id:uuid}",
        operation_id="putWorkout",
        opt=WRITE_HEADERS,
        summary="Log a workout (client-generated id) or amend it with If-Match",
        status_code=200,
        responses={
            200: ResponseSpec(
                generate_examples=False,
                data_container=StoredWorkout,
                description="Amended, or an identical replay",
            ),
            201: ResponseSpec(generate_examples=False, data_container=StoredWorkout, description="Logged"),
            **problem_specs(404, 409, 410, 412, 422),
        },
    )
    async def put_workout(
        self,
        request: Request[Any, Any, Any],
        workout_id: FromPath[uuid.UUID],
        data: JSONBody[Workout],
        services: NamedDependency[AppServices],
    ) -> Response[bytes]:
        principal = principal_of(request)
        version_wanted = if_match(request)
        outcome = await run_command(
            services, request, put_workout, workout_id=workout_id, workout=data, if_match=version_wanted
        )
        if outcome.outcome != "unchanged":
            await announce(services, principal.user_id)
        stored = StoredWorkout(**msgspec.structs.asdict(data), id=workout_id, version=outcome.workout_version)
        return written(
            stored,
            outcome=outcome.outcome,
            version=outcome.workout_version,
            stream_version=outcome.stream_version,
            location=f"/v1/workouts/{workout_id}",
        )

    @delete(
        "/{workout_id:uuid}",
        operation_id="deleteWorkout",
        summary="Delete a workout",
        status_code=204,
        opt=WRITE_HEADERS,
        responses=problem_specs(404, 412),
    )
    async def delete_workout(
        self,
        request: Request[Any, Any, Any],
        workout_id: FromPath[uuid.UUID],
        services: NamedDependency[AppServices],
    ) -> Response[None]:
        principal = principal_of(request)
        deletion = await run_command(
            services, request, delete_workout, workout_id=workout_id, if_match=if_match(request)
        )
        if deletion.deleted:
            await announce(services, principal.user_id)
        return deleted(deletion.stream_version)

    @get(
        operation_id="listWorkouts",
        opt=READ_HEADERS,
        summary="The workout feed, newest first",
        responses={
            200: ResponseSpec(
                generate_examples=False, data_container=WorkoutPage, description="A page of the feed"
            ),
            **problem_specs(422),
        },
    )
    async def feed(
        self,
        request: Request[Any, Any, Any],
        cursor: Cursor = None,
        limit: Limit = FIRST_PAGE_SIZE,
    ) -> ASGIResponse:
        services = services_of(request)
        principal = principal_of(request)
        served = await services.read_models.feed(principal.user_id, cursor, limit, consistency_token(request))
        return serve(request, served)

    @get(
        "/{workout_id:uuid}",
        operation_id="getWorkout",
        opt=READ_HEADERS,
        summary="A workout in full, exercise names inlined, each set's e1RM",
        responses={
            200: ResponseSpec(
                generate_examples=False, data_container=WorkoutDocument, description="The workout"
            ),
            **problem_specs(404),
        },
    )
    async def detail(
        self,
        request: Request[Any, Any, Any],
        workout_id: FromPath[uuid.UUID],
    ) -> ASGIResponse:
        services = services_of(request)
        principal = principal_of(request)
        answer = await services.read_models.workout(principal.user_id, workout_id, consistency_token(request))
        return serve(request, found(answer, "No such workout."))
