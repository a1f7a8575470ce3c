"""The worker entry point the Dramatiq CLI loads (`ironlog worker` runs it)."""

from __future__ import annotations

from dramatiq.middleware.prometheus import Prometheus
from sentry_sdk.integrations.dramatiq import DramatiqIntegration

from core.logs import configure_logging
from core.sentry import init_error_tracking
from core.settings import get_settings
from workers.actors import Actors
from workers.broker import build_broker
from workers.context import LogContext
from workers.resources import OpenResources
from workers.sweeper import SweeperMiddleware

settings = get_settings()
configure_logging(settings, process="worker")
# Before the broker is built: Sentry's integration (when SENTRY_DSN is set) hooks into its constructor.
init_error_tracking(settings, integrations=[DramatiqIntegration()])
broker = build_broker(
    settings,
    worker_middleware=[Prometheus(), LogContext(), OpenResources(settings), SweeperMiddleware(settings)],
)
actors = Actors(broker, settings)
