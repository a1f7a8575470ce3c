"""`ironlog run`: services, migrations, one API and one projection worker, stopped together."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from types import FrameType

import structlog

from api.projections_cli import rebuild
from core import loops
from core.processes import die_with_parent, free_port, port_is_free
from core.services import running_services, service_environment
from core.settings import Settings
from migrations.runner import migrate

log = structlog.get_logger(__name__)

READY_TIMEOUT_S = 90.0
#: How long the children may take to stop before they are killed; with the embedded servers' own
#: stop, Ctrl-C is over within 5 s. A projection cut short by the kill never commits (its batch and
#: checkpoint are one transaction), and the sweeper pokes its user again at the next start.
STOP_TIMEOUT_S = 3.5


class _Stop(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own, so the launcher decides when and in which order children stop.
    return subprocess.Popen(
        [sys.executable, "-m", "api", *command],
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - runs only in the child, before exec
    )


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            # The leader only: it stops its own processes, and to Dramatiq's worker processes a
            # second SIGTERM (the group's, then their parent's) means "exit now", not "finish".
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("child_killed", pid=child.pid)
        with contextlib.suppress(ProcessLookupError):  # its own workers too, stopped or not
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _wait_ready(url: str, children: list[subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def _port(host: str, preferred: int) -> int:
    return preferred if port_is_free(host, preferred) else free_port(host)


def launch(settings: Settings) -> int:
    """Run until Ctrl-C (or SIGTERM) or until a child dies; return the exit code."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    children: list[subprocess.Popen[bytes]] = []
    try:
        with running_services(settings) as resolved:
            loops.run(migrate(resolved))
            loops.run(rebuild(resolved, None, only_if_stale=True))
            host = resolved.api.host
            api_port = _port(host, resolved.api.port)
            metrics_port = _port(resolved.worker.metrics_host, resolved.worker.metrics_port)
            env = {
                **os.environ,
                **service_environment(resolved),
                "IRONLOG_PORT": str(api_port),
                "IRONLOG_WORKER_METRICS_PORT": str(metrics_port),
            }
            children.append(_spawn(["worker", "--processes", "1"], env))
            children.append(_spawn(["api", "--host", host, "--port", str(api_port)], env))
            base = f"http://{host}:{api_port}"
            try:
                if not _wait_ready(f"{base}/health/ready", children):
                    log.error("not_ready", url=f"{base}/health/ready")
                    return 1
                print(
                    f"\nIronlog is running (Ctrl-C stops everything)\n"
                    f"  API:     {base}\n"
                    f"  docs:    {base}/schema\n"
                    f"  metrics: {base}/metrics (API), "
                    f"http://{resolved.worker.metrics_host}:{metrics_port}/metrics (worker)\n",
                    flush=True,
                )
                while all(child.poll() is None for child in children):
                    time.sleep(0.5)
                log.error("child_exited", codes=[child.returncode for child in children])
                return 1
            finally:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                _stop(children)
    except _Stop as stop:
        log.info("stopping", signal=str(stop))
        _stop(children)
        return 0
