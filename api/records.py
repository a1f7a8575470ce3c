"""Exercise history (`/v1/exercises/{id}/history`) and personal records (`/v1/records`)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response.base import ASGIResponse

from api.auth.middleware import principal_of
from api.conditions import READ_HEADERS, consistency_token
from api.problems import problem_specs
from api.reads import Cursor, Limit, found, memory_key, serve
from api.state import services_of
from core.structs import ResponseBody
from projections.records import ExerciseSession, Records, RecordsDetail
from queries.history import exercise_records, history_page, last_session, records_page


class HistoryPage(ResponseBody):
    items: list[ExerciseSession]
    next_cursor: str | None = None


class RecordsPage(ResponseBody):
    items: list[Records]
    next_cursor: str | None = None


class HistoryController(Controller):
    path = "/v1/exercises/{exercise_id:str}/history"
    tags = ["history"]

    @get(
        operation_id="exerciseHistory",
        opt=READ_HEADERS,
        summary="Each session of an exercise, newest first: best set, e1RM, volume, total reps",
        responses={
            200: ResponseSpec(generate_examples=False, data_container=HistoryPage, description="A page"),
            **problem_specs(422),
        },
    )
    async def history(
        self,
        request: Request[Any, Any, Any],
        exercise_id: FromPath[str],
        *,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> ASGIResponse:
        services = services_of(request)
        user_id = principal_of(request).user_id
        load = history_page(user_id, exercise_id, cursor, limit)
        return serve(
            request,
            await services.lists.read(user_id, consistency_token(request), load, key=memory_key(request)),
        )

    @get(
        "/last",
        operation_id="lastSession",
        opt=READ_HEADERS,
        summary="The previous session's sets, to pre-fill the next one",
        responses={
            200: ResponseSpec(
                generate_examples=False, data_container=ExerciseSession, description="The session"
            ),
            **problem_specs(404),
        },
    )
    async def last(
        self,
        request: Request[Any, Any, Any],
        exercise_id: FromPath[str],
    ) -> ASGIResponse:
        services = services_of(request)
        user_id = principal_of(request).user_id
        answer = await services.lists.one(
            user_id, consistency_token(request), last_session(user_id, exercise_id), key=memory_key(request)
        )
        return serve(request, found(answer, "No session of this exercise yet."))


class RecordsController(Controller):
    path = "/v1/records"
    tags = ["history"]

    @get(
        operation_id="listRecords",
        opt=READ_HEADERS,
        summary="Personal records of every exercise the caller has done",
        responses={
            200: ResponseSpec(generate_examples=False, data_container=RecordsPage, description="A page"),
            **problem_specs(422),
        },
    )
    async def records(
        self,
        request: Request[Any, Any, Any],
        *,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> ASGIResponse:
        services = services_of(request)
        user_id = principal_of(request).user_id
        load = records_page(user_id, cursor, limit)
        return serve(
            request,
            await services.lists.read(user_id, consistency_token(request), load, key=memory_key(request)),
        )

    @get(
        "/{exercise_id:str}",
        operation_id="getRecords",
        opt=READ_HEADERS,
        summary="One exercise's records with the timeline of new bests",
        responses={
            200: ResponseSpec(
                generate_examples=False, data_container=RecordsDetail, description="The records"
            ),
            **problem_specs(404),
        },
    )
    async def exercise(
        self,
        request: Request[Any, Any, Any],
        exercise_id: FromPath[str],
    ) -> ASGIResponse:
        services = services_of(request)
        user_id = principal_of(request).user_id
        load = exercise_records(user_id, exercise_id)
        answer = await services.lists.one(user_id, consistency_token(request), load, key=memory_key(request))
        return serve(request, found(answer, "No records for this exercise yet."))
