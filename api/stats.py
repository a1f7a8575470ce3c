"""`/v1/stats/dashboard` and `/v1/exercises`: the home screen and the built-in catalog."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from api.auth.middleware import principal_of
from api.reads import consistency_token, serve
from api.state import AppServices
from core.catalog import BUILT_IN, Exercise
from core.structs import ResponseBody
from projections.documents import Dashboard


class ExerciseList(ResponseBody):
    items: list[Exercise]


_CATALOG = msgspec.json.encode(ExerciseList(items=list(BUILT_IN)))


class StatsController(Controller):
    path = "/v1/stats"
    tags = ["stats"]

    @get(
        "/dashboard",
        operation_id="getDashboard",
        summary="Totals, this week against last, 12 weeks of volume, streaks, the last workout",
        responses={200: ResponseSpec(data_container=Dashboard, description="The dashboard")},
    )
    async def dashboard(
        self, request: Request[Any, Any, Any], services: NamedDependency[AppServices]
    ) -> Response[bytes]:
        served = await services.read_models.dashboard(
            principal_of(request).user_id, consistency_token(request)
        )
        return serve(request, served)


class ExercisesController(Controller):
    path = "/v1/exercises"
    tags = ["exercises"]

    @get(
        operation_id="listExercises",
        summary="The built-in exercises",
        responses={200: ResponseSpec(data_container=ExerciseList, description="The catalog")},
    )
    async def catalog(self) -> Response[bytes]:
        return Response(
            content=_CATALOG,
            media_type="application/json",
            headers={"Cache-Control": "private, max-age=3600"},
        )
