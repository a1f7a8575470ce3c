"""Leaderboards (`/v1/leaderboards/{board}`): global among opted-in users, or among friends."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter, QueryParameter
from litestar.response.base import ASGIResponse

from api.auth.middleware import principal_of
from api.problems import problem_specs
from api.responses import StoredResponse
from api.state import services_of
from core import clock
from projections.dashboard import iso_week
from projections.leaderboards import BOARDS, WEEKLY, week_bounds
from queries.leaderboards import Leaderboard, Scope

Period = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^[0-9]{4}-W[0-9]{2}$(?!\n)",  # `(?!\n)`: see the patterns of commands/accounts.py
        description="ISO week (UTC) of weekly-volume, e.g. 2026-W48",
    ),
]
ExerciseId = Annotated[
    str | None,
    QueryParameter(
        name="exerciseId", max_length=64, description="The exercise of the e1rm and e1rm-relative boards"
    ),
]
ScopeQuery = Annotated[
    Scope,
    QueryParameter(name="scope", description="`global` (opted-in users) or `friends` (people you follow)"),
]
Top = Annotated[int, QueryParameter(ge=1, le=100, description="How many of the best to list, at most 100")]


def _invalid(field: str, message: str) -> ValidationException:
    return ValidationException(f"{field} {message}", extra=[{"key": field, "message": message}])


def board_key(board: str, period: str | None, exercise_id: str | None, now: datetime) -> str:
    """What identifies the board's instance: the ISO week, or the exercise."""
    if board == WEEKLY:
        if period is None:
            return iso_week(now)
        try:
            week_bounds(period)
        except ValueError:
            raise _invalid("period", "is not an ISO week") from None
        return period
    if exercise_id is None:
        raise _invalid("exerciseId", "is required for this board")
    return exercise_id


class LeaderboardsController(Controller):
    path = "/v1/leaderboards"
    tags = ["leaderboards"]

    @get(
        "/{board:str}",
        operation_id="getLeaderboard",
        summary="The best on a board, and where the caller stands",
        description=(
            "Boards: `weekly-volume` (per ISO week, UTC), `e1rm` and `e1rm-relative` (per exercise, all "
            "time; relative is e1RM over the latest body weight). `global` shows users who opted in; "
            "`friends` shows the people the caller follows who opted in, plus the caller."
        ),
        responses={
            200: ResponseSpec(generate_examples=False, data_container=Leaderboard, description="The board"),
            **problem_specs(404, 422),
        },
    )
    async def board(
        self,
        request: Request[Any, Any, Any],
        board: Annotated[str, PathParameter(schema_extra={"enum": list(BOARDS)})],
        *,
        board_scope: ScopeQuery = "global",
        period: Period = None,
        exercise_id: ExerciseId = None,
        limit: Top = 10,
    ) -> ASGIResponse:
        services = services_of(request)
        if board not in BOARDS:
            raise NotFoundException(f"No board {board!r}; boards are {', '.join(BOARDS)}.")
        now = clock.now()
        key = board_key(board, period, exercise_id, now)
        user_id = principal_of(request).user_id
        leaderboards = services.leaderboards
        body = await leaderboards.read(board, key, scope=board_scope, me=user_id, limit=limit, now=now)
        return StoredResponse(body, [])
