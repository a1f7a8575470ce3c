"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.types import ControllerRouterHandler

from api.diagnostics import DiagnosticsController
from api.health import HealthController, metrics
from api.problems import handle_exception
from api.request_context import RequestContextMiddleware, add_response_headers
from api.state import provide_services, services_lifespan
from core.settings import Settings

VERSION = "0.1.0"


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Ironlog",
        version=VERSION,
        description="Workouts, records, stats and leaderboards for strength-training apps.",
        path="/schema",
        render_plugins=[ScalarRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="Access token from /v1/auth/login or /v1/auth/refresh.",
                )
            }
        ),
        security=[{"BearerToken": []}],
        tags=[
            Tag(name="operations", description="Health and metrics."),
            Tag(name="diagnostics", description="Proof that API, broker and worker are connected."),
        ],
        use_handler_docstrings=True,
    )


def create_app(settings: Settings, extra_handlers: Sequence[ControllerRouterHandler] = ()) -> Litestar:
    """Build the API bound to resolved services; `extra_handlers` lets tests mount probes."""
    handlers: list[ControllerRouterHandler] = [HealthController, metrics, *extra_handlers]
    if settings.api.diagnostics:
        handlers.append(DiagnosticsController)
    cors = CORSConfig(allow_origins=list(settings.api.cors_origins)) if settings.api.cors_origins else None
    exception_handlers: Any = {Exception: handle_exception}
    return Litestar(
        route_handlers=handlers,
        lifespan=[services_lifespan(settings)],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        middleware=[RequestContextMiddleware()],
        before_send=[add_response_headers],
        exception_handlers=exception_handlers,
        cors_config=cors,
        openapi_config=_openapi(),
        request_max_body_size=settings.api.max_body_bytes,
        logging_config=None,
        debug=False,
    )
