"""`GET /v1/changes?since=`: the caller's change feed, for phones that sync while offline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from api.auth.middleware import principal_of
from api.problems import problem_specs
from api.responses import Response
from api.state import AppServices
from commands.events import AnyEvent
from core.structs import ResponseBody
from queries.changes import changes_since

#: Stream versions are bigints; beyond 2**53 JSON clients (JavaScript) no longer read integers exactly.
MAX_VERSION = 2**53 - 1
Since = Annotated[
    int,
    QueryParameter(ge=0, le=MAX_VERSION, description="The last stream version the phone has; 0 for all"),
]
Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Changes per page, at most 500")]


#: The `type` of every event (commands/events.py, AnyEvent): the tag of `event`, repeated.
EventType = Literal[
    "UserRegistered",
    "ProfileChanged",
    "WorkoutLogged",
    "WorkoutAmended",
    "WorkoutDeleted",
    "ExerciseDefined",
    "ExerciseDeleted",
    "RoutineDefined",
    "RoutineDeleted",
    "BodyweightRecorded",
    "BodyweightDeleted",
    "Followed",
    "Unfollowed",
]


class Change(ResponseBody):
    version: int
    type: EventType
    occurred_at: datetime
    event: AnyEvent


class ChangePage(ResponseBody):
    changes: list[Change]
    next_since: int
    has_more: bool


class ChangesController(Controller):
    path = "/v1/changes"
    tags = ["sync"]

    @get(
        operation_id="listChanges",
        summary="Everything that changed after a stream version, in order; deletions are events too",
        responses={
            200: ResponseSpec(generate_examples=False, data_container=ChangePage, description="A page"),
            **problem_specs(422),
        },
    )
    async def changes(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[AppServices],
        *,
        since: Since = 0,
        limit: Limit = 100,
    ) -> Response[bytes]:
        user_id: uuid.UUID = principal_of(request).user_id
        body = await changes_since(services.reads, user_id, since, limit)
        return Response(
            content=body, media_type="application/json", headers={"Cache-Control": "private, no-store"}
        )
