"""`/v1/stats/dashboard`: the home screen."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.response.base import ASGIResponse

from api.auth.middleware import principal_of
from api.conditions import READ_HEADERS, consistency_token
from api.reads import serve
from api.state import services_of
from projections.documents import Dashboard


class StatsController(Controller):
    path = "/v1/stats"
    tags = ["stats"]

    @get(
        "/dashboard",
        operation_id="getDashboard",
        opt=READ_HEADERS,
        summary="Totals, this week against last, 12 weeks of volume, streaks, the last workout",
        responses={
            200: ResponseSpec(generate_examples=False, data_container=Dashboard, description="The dashboard")
        },
    )
    async def dashboard(self, request: Request[Any, Any, Any]) -> ASGIResponse:
        services = services_of(request)
        served = await services.read_models.dashboard(
            principal_of(request).user_id, consistency_token(request)
        )
        return serve(request, served)
