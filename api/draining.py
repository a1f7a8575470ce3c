"""Telling an API process that it is stopping while it still answers the requests in flight.

On SIGINT or SIGTERM uvicorn stops accepting connections, then waits (up to its graceful timeout) for
the requests in flight, and only then runs the lifespan's shutdown. A request that merely waits (an
event stream, a read waiting for its own write) would hold the process that long, so the app hears
of the signal itself and ends those waits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_stop_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Run `callback` on the running loop when the process gets SIGINT or SIGTERM, then hand the
    signal to the handler installed before (the server's own). Returns what undoes this.

    Call it from the lifespan: by then uvicorn has installed its handlers, and it puts back the ones
    it found when it stops. Off the main thread (where signals cannot be handled) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(callback)
        prior = previous[signum]
        if callable(prior):
            prior(signum, frame)
        elif prior != signal.SIG_IGN:  # the default action: stop the process as it would have
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for signum in STOP_SIGNALS:
        previous[signum] = signal.signal(signum, handle)

    def undo() -> None:
        for signum, prior in previous.items():
            if signal.getsignal(signum) is handle:
                signal.signal(signum, signal.SIG_DFL if prior is None else prior)

    return undo
