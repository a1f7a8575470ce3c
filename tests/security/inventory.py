"""Every operation the application serves, read from its route handlers (not from a hand-kept list).

Built at import, so that tests can be parametrized with one case per operation. The app is only
constructed here, never started: no services are needed.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from litestar import Litestar
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from api.app import create_app
from api.auth.middleware import PUBLIC
from core.settings import load_settings
from tests.conftest import TEST_ENV

#: Methods every route is probed with; those a route does not declare must answer 405.
PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: The bearer middleware leaves these paths alone (api/plugin.py), as it does PUBLIC routes.
UNAUTHENTICATED_PREFIXES = ("/schema",)
#: The routes only the analyst and admin roles may use.
ROLE_PREFIXES = ("/v1/analytics/", "/v1/diagnostics/")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the path template as documented, e.g. /v1/workouts/{workout_id}
    path_params: tuple[str, ...]
    text_params: tuple[str, ...]  # the path parameters that take any text (not a UUID or a date)
    public: bool
    guarded: bool
    body: str | None  # the media type of the request body the handler reads, if any
    takes_limit: bool
    query_params: tuple[str, ...] = ()  # as clients spell them (`exerciseId`), from the OpenAPI schema

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _body_media_type(handler: HTTPRouteHandler) -> str | None:
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return None
    media_type = getattr(data.kwarg_definition, "media_type", None) or RequestEncodingType.JSON
    return str(media_type.value if isinstance(media_type, RequestEncodingType) else media_type)


def operations_of(app: Litestar) -> list[Operation]:
    """Every (method, path) the app routes, OPTIONS aside."""
    documented = app.openapi_schema.to_schema()["paths"]
    found: list[Operation] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"OPTIONS"}):
                found.append(
                    Operation(
                        method=method,
                        path=route.path_format,
                        path_params=tuple(route.path_parameters),
                        text_params=tuple(
                            name for name, param in route.path_parameters.items() if param.type is str
                        ),
                        public=bool(handler.opt.get(PUBLIC))
                        or route.path.startswith(UNAUTHENTICATED_PREFIXES),
                        guarded=bool(handler.resolve_guards()),
                        body=_body_media_type(handler),
                        takes_limit="limit" in handler.parsed_fn_signature.parameters,
                        query_params=tuple(
                            parameter["name"]
                            for parameter in documented.get(route.path_format, {})
                            .get(method.lower(), {})
                            .get("parameters", [])
                            if parameter["in"] == "query"
                        ),
                    )
                )
    return sorted(found, key=lambda op: (op.path, op.method))


def declared_methods(app: Litestar) -> dict[str, set[str]]:
    """Per path template, the methods some route declares (two routes may share a template)."""
    methods: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            methods.setdefault(route.path_format, set()).update(route.methods)
    return methods


def concrete(path: str, /, **values: object) -> str:
    """The template with its parameters filled: given values, else a plausible value of each."""
    defaults: dict[str, object] = {
        "workout_id": uuid.uuid4(),
        "routine_id": uuid.uuid4(),
        "exercise_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "day": "2026-11-20",
        "board": "weekly-volume",
        "token": uuid.uuid4().hex,
        "path": "nothing-here",
        "provider": "google",
    }
    return path.format(**{**defaults, **values})


APP = create_app(load_settings({**os.environ, **TEST_ENV}))
OPERATIONS = operations_of(APP)
METHODS_BY_PATH = declared_methods(APP)
