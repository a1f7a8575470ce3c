"""Test-only fault points: inert unless IRONLOG_FAULT names one, then the process freezes there.

A test sets IRONLOG_FAULT, waits for the marker (a log line, and the file named by
IRONLOG_FAULT_MARKER when set), then kills the process at exactly that place.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from core.settings import get_settings


def fault_point(name: str) -> None:
    """Block this process forever if the fault named `name` is armed; otherwise return at once."""
    settings = get_settings()
    if settings.fault != name:
        return
    if settings.fault_marker:
        Path(settings.fault_marker).write_text(f"{name} {os.getpid()}\n")
    print(f"fault_point_reached name={name} pid={os.getpid()}", file=sys.stderr, flush=True)
    while True:  # a test kills us here
        time.sleep(3600)
