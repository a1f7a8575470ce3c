"""The ASGI entry point servers import (`uvicorn --factory api.asgi:app_from_environment`)."""

from __future__ import annotations

from litestar import Litestar

from api.app import create_app
from core.logs import configure_logging
from core.settings import get_settings


def app_from_environment() -> Litestar:
    """Build the app from this process's environment (services already resolved by the CLI)."""
    settings = get_settings()
    configure_logging(settings, process="api")
    return create_app(settings)
