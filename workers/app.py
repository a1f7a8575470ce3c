"""The worker entry point the Dramatiq CLI loads (`ironlog worker` runs it)."""

from __future__ import annotations

from dramatiq.middleware.prometheus import Prometheus

from core.logs import configure_logging
from core.settings import get_settings
from workers.actors import Actors
from workers.broker import build_broker
from workers.context import LogContext
from workers.resources import OpenResources
from workers.sweeper import SweeperMiddleware

settings = get_settings()
configure_logging(settings, process="worker")
broker = build_broker(
    settings,
    worker_middleware=[Prometheus(), LogContext(), OpenResources(settings), SweeperMiddleware(settings)],
)
actors = Actors(broker)
