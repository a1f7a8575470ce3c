"""Piccolo configuration: Ironlog's shared engine and its one migration app."""

from piccolo.conf.apps import AppRegistry

from core.db import ENGINE as DB

APP_REGISTRY = AppRegistry(apps=["migrations.piccolo_app"])

__all__ = ["APP_REGISTRY", "DB"]
