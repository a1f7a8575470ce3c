"""Fault tests: each runs a private Ironlog it may break (see stack.py)."""

from tests.faults.stack import stack

__all__ = ["stack"]
