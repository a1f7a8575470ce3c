"""The Piccolo app that owns Ironlog's migrations (write tables, read tables, analytics)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

APP_CONFIG = AppConfig(
    app_name="ironlog",
    migrations_folder_path=str(Path(__file__).parent / "versions"),
    table_classes=[],
    migration_dependencies=[],
    commands=[],
)
