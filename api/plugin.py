"""One plugin wires Ironlog into Litestar: routes, lifespan, dependencies, errors, headers, docs."""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.constants import RESERVED_KWARGS
from litestar.di import Provide
from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.openapi.spec import Schema as OpenAPISchema
from litestar.plugins import InitPlugin, ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.types import ControllerRouterHandler, Scope
from litestar.typing import FieldDefinition

from api.accounts import MeController, UsersController
from api.analytics import AnalyticsController
from api.auth.apple_notifications import AppleNotificationsController
from api.auth.middleware import PUBLIC
from api.auth.oauth import OAuthController
from api.auth.routes import AuthController
from api.auth.tokens import AccessTokens
from api.bench import BenchController
from api.changes import ChangesController
from api.conditions import CONDITIONAL_HEADERS, CONSISTENCY_TOKEN, IF_MATCH, IF_NONE_MATCH, LAST_EVENT_ID
from api.diagnostics import DiagnosticsController
from api.exercises import ExercisesController
from api.health import HealthController, metrics
from api.identities import IdentitiesController
from api.imports import ImportsController
from api.inputs import refuse_unreadable_input
from api.leaderboards import LeaderboardsController
from api.media_types import declared_media_type
from api.people import BodyweightController, FollowsController
from api.problems import document_common_problems, handle_exception, problem_spec
from api.records import HistoryController, RecordsController
from api.request_context import (
    UNAUTHENTICATED_PATHS,
    RequestPipelineMiddleware,
    add_response_headers,
    configure_request_logging,
)
from api.responses import Response
from api.routines import RoutinesController
from api.schema_rules import documented_operation, parameter_constraints, restore_constraints, state_text_rule
from api.state import provide_services, services_lifespan
from api.stats import StatsController
from api.stream import StreamController
from api.workouts import WorkoutsController
from core.settings import Settings

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

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
                    description=(
                        "Access token from /v1/auth/login, /v1/auth/oauth/{provider} or /v1/auth/refresh."
                    ),
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


class IronlogPlugin(InitPlugin, ReceiveRoutePlugin):
    """Configures the app for resolved `settings`; `extra_handlers` lets tests mount probes."""

    def __init__(self, settings: Settings, extra_handlers: Sequence[ControllerRouterHandler] = ()) -> None:
        self.settings = settings
        self.extra_handlers = extra_handlers
        #: Per path template, the methods of every route registered on it.
        self._allowed: dict[str, set[str]] = {}

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings = self.settings
        app_config.route_handlers.extend(
            [
                HealthController,
                metrics,
                AuthController,
                OAuthController,
                AppleNotificationsController,
                MeController,
                IdentitiesController,
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
        if settings.api.bench:
            app_config.route_handlers.append(BenchController)
        # One verifier for the middleware and the services, which keep its copy of sign-outs.
        tokens = AccessTokens(settings)
        app_config.lifespan.append(services_lifespan(settings, tokens))
        app_config.dependencies["services"] = Provide(provide_services, sync_to_thread=False)
        # One layer around every handler (api/request_context.py): ids, sign-in, body checks, logs, metrics.
        app_config.middleware.append(
            DefineMiddleware(
                RequestPipelineMiddleware, tokens=tokens, body_timeout_s=settings.api.body_timeout_s
            )
        )
        configure_request_logging(access_log=settings.api.access_log, slow_ms=settings.api.slow_request_ms)
        app_config.before_send.append(add_response_headers)
        app_config.before_request = refuse_unreadable_input
        app_config.exception_handlers[Exception] = handle_exception
        if settings.api.cors_origins:
            app_config.cors_config = CORSConfig(allow_origins=list(settings.api.cors_origins))
        app_config.openapi_config = openapi_config()
        # In place of Litestar's own (the list is being iterated: it keeps its length).
        app_config.plugins = [
            StrictStructSchemaPlugin() if type(plugin) is StructSchemaPlugin else plugin
            for plugin in app_config.plugins
        ]
        app_config.response_class = Response
        app_config.debug = False
        return app_config

    def receive_route(self, route: BaseRoute) -> None:
        """Fix each route's OPTIONS answer, and document on each operation the problems that
        authentication, guards and request parsing answer with (the schema lists every status)."""
        if not isinstance(route, HTTPRoute):
            return
        if "GET" in route.route_handler_map and "HEAD" not in route.route_handler_map:
            _answer_head_with_get(route)
        allowed = self._allowed.setdefault(route.path_format, set())
        allowed.update(route.methods)
        for handler in route.route_handlers:
            if handler.http_methods == {"OPTIONS"}:
                if handler.handler_name == "options_handler":  # Litestar's own
                    _answer_options_with(handler, allowed)
                continue
            if re.match(UNAUTHENTICATED_PATHS, route.path):
                continue
            dependencies = handler.resolve_dependencies()
            inputs = [
                name
                for name in handler.parsed_fn_signature.parameters
                if name not in RESERVED_KWARGS and name not in dependencies
            ]
            if handler.status_code == 204 and 204 not in (handler.responses or {}):
                # Litestar documents the body of a `Response[None]` as JSON `null`; a 204 has none.
                no_content = ResponseSpec(data_container=None, description="No Content")
                handler.responses = {204: no_content, **(handler.responses or {})}
            _declare_conditional_headers(handler)
            document_common_problems(
                handler,
                authenticated=not handler.opt.get(PUBLIC),
                takes_input=bool(inputs),
                reads_body=declared_media_type(handler) is not None,
                in_path=bool(route.path_parameters),
            )


def _answer_head_with_get(route: HTTPRoute) -> None:
    """Route HEAD to the GET handler (api/head.py sends only its status and headers), through a copy of
    it that the schema leaves out: the operation is documented once, as GET."""
    handler, kwargs_model = route.route_handler_map["GET"]
    head = copy.copy(handler)
    head._resolved_include_in_schema = False
    route.route_handler_map["HEAD"] = (head, kwargs_model)
    route.methods.add("HEAD")


def _declare_conditional_headers(handler: HTTPRouteHandler) -> None:
    """Declare the headers of api/conditions.py a route reads (its `opt`), and the answers they bring;
    state the text rule on its parameters."""
    headers: tuple[str, ...] = handler.opt.get(CONDITIONAL_HEADERS, ())
    handler.operation_class = documented_operation(headers, parameter_constraints(handler))
    if not headers:
        return
    responses = dict(handler.responses or {})
    if IF_NONE_MATCH in headers:
        responses.setdefault(
            304, ResponseSpec(data_container=None, description="Not Modified: the copy named is current")
        )
    if IF_MATCH in headers:
        responses.setdefault(412, problem_spec(412))
    if IF_MATCH in headers or IF_NONE_MATCH in headers:
        responses.setdefault(400, problem_spec(400))  # not a list of entity tags
    if CONSISTENCY_TOKEN in headers or LAST_EVENT_ID in headers:
        responses.setdefault(422, problem_spec(422))  # not a stream version
    handler.responses = responses


def _answer_options_with(handler: HTTPRouteHandler, allowed: set[str]) -> None:
    """Make Litestar's OPTIONS handler list every method of its path (`allowed`, complete once all routes
    are registered). Litestar 2 lists only those of the first handler registered on a path
    (litestar-org/litestar#4169, fixed in Litestar 3), and not those of another route of the same path
    template (`/v1/exercises/{id}`: GET takes any id, PUT and DELETE a UUID)."""

    def options_handler(scope: Scope) -> Response[None]:
        return Response(
            content=None,
            status_code=204,
            headers={"Allow": ", ".join(sorted(allowed))},
            media_type=MediaType.TEXT,
        )

    # Same signature as the function it replaces (its signature model is already built), and sync too.
    handler._fn = cast("Any", options_handler)


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's schemas of msgspec Structs, made to say what the Structs accept: `additionalProperties:
    false` for those that refuse unknown fields (every request body) and the NUL-refusing pattern on their
    free text (api/schema_rules.py), and the constraints Litestar drops from optional fields
    (`Annotated[str, Meta(max_length=2000)] | None` lost its `maxLength`)."""

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> OpenAPISchema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct = field_definition.type_
        info = msgspec.inspect.type_info(struct)
        assert isinstance(info, msgspec.inspect.StructType)
        for field in info.fields:
            described = (schema.properties or {}).get(field.encode_name)
            if isinstance(described, OpenAPISchema) and isinstance(field.type, msgspec.inspect.UnionType):
                for member in field.type.types:
                    restore_constraints(described, _constraints_of(member))
        if struct.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
            state_text_rule(schema)
        return schema


def _constraints_of(member: msgspec.inspect.Type) -> dict[str, Any]:
    """The constraints of one member of a union, by the name msgspec gives them."""
    if isinstance(member, msgspec.inspect.ListType):
        return {"min_items": member.min_length, "max_items": member.max_length}
    names = ("ge", "gt", "le", "lt", "multiple_of", "min_length", "max_length", "pattern")
    return {name: getattr(member, name, None) for name in names}
