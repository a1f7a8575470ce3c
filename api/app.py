"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import Sequence

from litestar import Litestar
from litestar.types import ControllerRouterHandler
from sentry_sdk.integrations.litestar import LitestarIntegration

from api.plugin import IronlogPlugin
from core.sentry import init_error_tracking
from core.settings import Settings

#: Its unhandled-exception log line repeats an exception Sentry already reports.
_REPORTED_LOGGERS = ("api.problems",)


def create_app(settings: Settings, extra_handlers: Sequence[ControllerRouterHandler] = ()) -> Litestar:
    """Build the API bound to resolved services; `extra_handlers` lets tests mount probes."""
    # Before Litestar(): Sentry's integration (when SENTRY_DSN is set) hooks into its constructor.
    init_error_tracking(settings, integrations=[LitestarIntegration()], ignore_loggers=_REPORTED_LOGGERS)
    # structlog owns logging (core.logs): Litestar must not install its own configuration.
    # The body limit is read before plugins run, so it is given here.
    return Litestar(
        plugins=[IronlogPlugin(settings, extra_handlers)],
        logging_config=None,
        request_max_body_size=settings.api.max_body_bytes,
    )
