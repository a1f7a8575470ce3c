"""Test-only fault points: inert unless IRONLOG_FAULT names one, then the process freezes there.

A test sets IRONLOG_FAULT, waits for the marker (a log line, and the file named by
IRONLOG_FAULT_MARKER when set), then kills the process at exactly that place.

`IRONLOG_FAULT=<name>:pause` instead stops the process (SIGSTOP to itself) the first time it reaches
the point: it is frozen there, holding whatever it holds, until the test sends SIGCONT, and then
carries on from exactly that place.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from core.settings import get_settings

_PAUSED: set[str] = set()


def fault_point(name: str) -> None:
    """Block this process forever if the fault named `name` is armed, or stop it once if it is armed
    with `:pause`; otherwise return at once."""
    settings = get_settings()
    if settings.fault is None:
        return
    armed, _, mode = settings.fault.partition(":")
    if armed != name or (mode == "pause" and name in _PAUSED):
        return
    _PAUSED.add(name)
    if settings.fault_marker:
        Path(settings.fault_marker).write_text(f"{name} {os.getpid()}\n")
    print(f"fault_point_reached name={name} pid={os.getpid()}", file=sys.stderr, flush=True)
    if mode == "pause":
        # Sent to this thread: the whole process stops before this thread runs another line. Sent to
        # the process, the kernel may pick another thread to take it, and this one runs on meanwhile.
        signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)  # frozen here until SIGCONT
        return
    while True:  # a test kills us here
        time.sleep(3600)
