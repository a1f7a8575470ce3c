"""Piccolo migrations for every schema Ironlog owns, and the runner that applies them."""

import os

# Piccolo finds its engine and apps through this module path.
os.environ.setdefault("PICCOLO_CONF", "migrations.piccolo_conf")
