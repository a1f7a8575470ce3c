"""Benchmark baselines, mounted only with IRONLOG_BENCH=1 (never in production; ops/bench).

- `GET /bench/ceiling`: a small constant JSON with no auth and no I/O. Through the same app and
  middleware as every route, it is the most this process can answer: reads are measured against it.
- `GET /bench/naive-dashboard`: the caller's dashboard computed by SQL from the write tables on every
  request (queries/naive_dashboard.py), the baseline the read models are compared with.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency

from api.auth.middleware import PUBLIC, principal_of
from api.responses import Response
from api.state import AppServices
from core import clock
from queries.naive_dashboard import naive_dashboard

_ENCODER = msgspec.json.Encoder()
_CEILING = b'{"status":"ok","service":"ironlog"}'


class BenchController(Controller):
    path = "/bench"
    include_in_schema = False

    @get("/ceiling", opt={PUBLIC: True})
    async def ceiling(self) -> Response[bytes]:
        return Response(content=_CEILING, media_type="application/json")

    @get("/naive-dashboard")
    async def naive(
        self, request: Request[Any, Any, Any], services: NamedDependency[AppServices]
    ) -> Response[bytes]:
        async with services.pool.acquire() as connection:
            dashboard = await naive_dashboard(connection, principal_of(request).user_id, clock.now())
        return Response(content=_ENCODER.encode(dashboard), media_type="application/json")
