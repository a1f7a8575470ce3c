"""Projectors that turn events into read models, and the runner that applies them exactly once."""
