"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import Sequence

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from api.plugin import IronlogPlugin
from core.settings import Settings


def create_app(settings: Settings, extra_handlers: Sequence[ControllerRouterHandler] = ()) -> Litestar:
    """Build the API bound to resolved services; `extra_handlers` lets tests mount probes."""
    # structlog owns logging (core.logs): Litestar must not install its own configuration.
    # The body limit is read before plugins run, so it is given here.
    return Litestar(
        plugins=[IronlogPlugin(settings, extra_handlers)],
        logging_config=None,
        request_max_body_size=settings.api.max_body_bytes,
    )
