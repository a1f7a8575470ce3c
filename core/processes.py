"""Small process-level facts the launcher and embedded services share: ports, parent death."""

from __future__ import annotations

import ctypes
import gc
import os
import shutil
import signal
import socket
from pathlib import Path

_PR_SET_PDEATHSIG = 1
#: Where prometheus_client keeps per-process metric files in multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def freeze_heap() -> None:
    """Collect once, then hand every object alive to the collector's permanent generation: for a
    long-running process once it has started (modules, the app, what startup filled), for a load
    generator before each run. A full collection walks every tracked object while nothing else runs:
    with the startup heap in view it paused an API process for about 70-90 ms, several times a minute
    under load (about 7 ms afterwards), and the load generator likewise."""
    gc.collect()
    gc.freeze()


#: The young generation's threshold in a projection worker (CPython's default: 700 new container objects).
YOUNG_GENERATION_OBJECTS = 10_000


def settle_for_batches() -> None:
    """`freeze_heap`, then let the young generation grow to `YOUNG_GENERATION_OBJECTS` before it is
    collected: for a process that projects batches, once it has started. A projection batch keeps tens
    of thousands of objects alive until it is written (events, documents, sessions, rows). At 700 the
    collector examined them over and over, promoted them, and walked them again in the older
    generations' passes: with four users projected at once on one event loop, 15-25% of a drained
    event's CPU (BENCHMARKS.md). They hold no cycles; what reference counting frees is freed at once
    either way, so the heap grows by at most the cyclic garbage of one larger generation."""
    freeze_heap()
    gc.set_threshold(YOUNG_GENERATION_OBJECTS, *gc.get_threshold()[1:])


def die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this (child) process when its parent dies.

    Passed as `preexec_fn` so that a launcher killed outright leaves no orphans behind.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the launcher's own shutdown still stops its children
        pass


def process_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def prepare_metrics_dir(path: Path) -> None:
    """Empty a Prometheus multiprocess directory and point this process and its children at it.

    Must run before any process that records metrics imports prometheus_client.
    """
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
