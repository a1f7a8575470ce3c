"""One plugin wires Ironlog into Litestar: routes, lifespan, dependencies, errors, headers, docs."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.plugins import InitPlugin
from litestar.types import ControllerRouterHandler

from api.accounts import MeController, UsersController
from api.analytics import AnalyticsController
from api.auth.middleware import BearerAuthMiddleware
from api.auth.routes import AuthController
from api.auth.tokens import AccessTokens
from api.changes import ChangesController
from api.diagnostics import DiagnosticsController
from api.exercises import ExercisesController
from api.health import HealthController, metrics
from api.imports import ImportsController
from api.leaderboards import LeaderboardsController
from api.people import BodyweightController, FollowsController
from api.problems import handle_exception
from api.records import HistoryController, RecordsController
from api.request_context import RequestContextMiddleware, add_response_headers
from api.routines import RoutinesController
from api.state import provide_services, services_lifespan
from api.stats import StatsController
from api.stream import StreamController
from api.workouts import WorkoutsController
from core.settings import Settings

VERSION = "0.1.0"


def openapi_config() -> OpenAPIConfig:
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
            Tag(name="accounts", description="Registration, sign-in, tokens, profile and preferences."),
            Tag(name="people", description="Finding other users."),
            Tag(name="workouts", description="Logging workouts; the feed and workout detail."),
            Tag(name="stats", description="The dashboard."),
            Tag(name="exercises", description="The exercise catalog and the user's own exercises."),
            Tag(name="body weight", description="The body-weight log."),
            Tag(name="imports", description="Strong and Hevy CSV imports."),
            Tag(name="routines", description="Plans of exercises with target sets."),
            Tag(name="sync", description="The change feed for offline phones."),
            Tag(name="history", description="Exercise history and personal records."),
            Tag(name="leaderboards", description="Weekly volume and e1RM boards, global or among friends."),
            Tag(name="analytics", description="Anonymous counts for analysts and admins: JSON or CSV."),
            Tag(name="operations", description="Health and metrics."),
            Tag(name="diagnostics", description="Proof that API, broker and worker are connected."),
        ],
        use_handler_docstrings=True,
    )


class IronlogPlugin(InitPlugin):
    """Configures the app for resolved `settings`; `extra_handlers` lets tests mount probes."""

    def __init__(self, settings: Settings, extra_handlers: Sequence[ControllerRouterHandler] = ()) -> None:
        self.settings = settings
        self.extra_handlers = extra_handlers

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings = self.settings
        app_config.route_handlers.extend(
            [
                HealthController,
                metrics,
                AuthController,
                MeController,
                UsersController,
                WorkoutsController,
                StatsController,
                ExercisesController,
                BodyweightController,
                FollowsController,
                ImportsController,
                RoutinesController,
                ChangesController,
                StreamController,
                HistoryController,
                RecordsController,
                AnalyticsController,
                LeaderboardsController,
                *self.extra_handlers,
            ]
        )
        if settings.api.diagnostics:
            app_config.route_handlers.append(DiagnosticsController)
        app_config.lifespan.append(services_lifespan(settings))
        app_config.dependencies["services"] = Provide(provide_services, sync_to_thread=False)
        app_config.middleware.append(RequestContextMiddleware())
        app_config.middleware.append(
            DefineMiddleware(BearerAuthMiddleware, tokens=AccessTokens(settings), exclude=["^/schema"])
        )
        app_config.before_send.append(add_response_headers)
        app_config.exception_handlers[Exception] = handle_exception
        if settings.api.cors_origins:
            app_config.cors_config = CORSConfig(allow_origins=list(settings.api.cors_origins))
        app_config.openapi_config = openapi_config()
        app_config.debug = False
        return app_config
