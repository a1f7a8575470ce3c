"""Liveness, readiness (every dependency named) and the Prometheus endpoint.

Readiness is also a metric, `ironlog_ready{check=...}` (1 ready, 0 not), refreshed by every
/health/ready and every scrape of /metrics, so alerts see it whether or not something probes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from prometheus_client import Gauge

from api.auth.middleware import PUBLIC
from api.problems import PROBLEM_JSON, Problem, problem_response
from api.responses import Response
from api.state import AppServices
from core.db import observe_pool
from core.metrics import render_latest
from core.structs import ResponseBody
from migrations.runner import pending_migrations

CHECK_TIMEOUT_S = 2.0
READY = Gauge(
    "ironlog_ready",
    "1 when the dependency passed this API instance's latest readiness check, else 0.",
    ["check"],
    multiprocess_mode="livemostrecent",
)


class Liveness(ResponseBody):
    status: Annotated[str, msgspec.Meta(examples=["ok"])]


class Readiness(ResponseBody):
    status: Annotated[str, msgspec.Meta(examples=["ready"])]
    checks: Annotated[
        dict[str, str],
        msgspec.Meta(examples=[{"postgres": "ok", "redis": "ok", "broker": "ok", "migrations": "ok"}]),
    ]


NOT_READY = ResponseSpec(
    data_container=Problem,
    description="A dependency is not ready; `checks` names it.",
    media_type=PROBLEM_JSON,
    generate_examples=False,
    examples=[
        Example(
            summary="Redis is down",
            value={
                "title": "Service Unavailable",
                "status": 503,
                "detail": "Not ready: redis unreachable: ConnectionError",
                "instance": "/health/ready",
                "checks": {"postgres": "ok", "redis": "unreachable: ConnectionError", "broker": "ok"},
            },
        )
    ],
)


async def _check(probe: Awaitable[Any]) -> str:
    try:
        await asyncio.wait_for(probe, timeout=CHECK_TIMEOUT_S)
    except TimeoutError:
        return "timed out"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


async def _check_migrations(services: AppServices) -> str:
    try:
        pending = await asyncio.wait_for(pending_migrations(services.pool), CHECK_TIMEOUT_S)
    except Exception as exc:
        return f"unknown: {type(exc).__name__}"
    return "ok" if not pending else f"{len(pending)} pending"


async def readiness(services: AppServices) -> dict[str, str]:
    """Check every dependency at once, record the outcome in `ironlog_ready`; each check's result."""
    postgres, redis, broker, migrations = await asyncio.gather(
        _check(services.pool.fetchval("SELECT 1")),
        _check(services.redis.ping()),
        _check(services.enqueuer.ping_broker()),
        _check_migrations(services),
    )
    checks = {"postgres": postgres, "redis": redis, "broker": broker, "migrations": migrations}
    for name, result in checks.items():
        READY.labels(name).set(1 if result == "ok" else 0)
    return checks


class HealthController(Controller):
    path = "/health"
    tags = ["operations"]
    security = [{}]
    opt = {PUBLIC: True}

    @get("/live", operation_id="getLiveness", summary="The process is up")
    async def live(self) -> Liveness:
        return Liveness(status="ok")

    @get(
        "/ready",
        operation_id="getReadiness",
        summary="Postgres, Redis, broker and migrations are ready",
        responses={503: NOT_READY},
    )
    async def ready(
        self, request: Request[Any, Any, Any], services: NamedDependency[AppServices]
    ) -> Response[Any]:
        checks = await readiness(services)
        failing = [name for name, result in checks.items() if result != "ok"]
        if failing:
            return problem_response(
                request,
                503,
                detail="Not ready: " + ", ".join(f"{n} {checks[n]}" for n in failing),
                extra={"checks": checks},
                headers={"Cache-Control": "no-store"},
            )
        return Response(Readiness(status="ready", checks=checks), headers={"Cache-Control": "no-store"})


@get(
    "/metrics",
    operation_id="getMetrics",
    tags=["operations"],
    summary="Prometheus metrics of every API process (keep off the public ingress)",
    security=[{}],
    media_type="text/plain",
    opt={PUBLIC: True},
)
async def metrics(services: NamedDependency[AppServices]) -> Response[bytes]:
    # Readiness is checked now (the instance's value is its processes' latest check) and this
    # process's pool use refreshed; the other processes publish theirs every few seconds.
    await readiness(services)
    observe_pool(services.pool, "api")
    body, content_type = render_latest()
    return Response(content=body, media_type=content_type)
