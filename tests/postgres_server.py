"""A PostgreSQL server of the test's own, from the machine's server binaries (`pg_config --bindir`).

It lives in a fresh directory, listens on a free loopback port and a socket in that directory, and is
stopped by its own `pg_ctl`. The binaries refuse to run as root, so as root they run as the
`postgres` system user, which then owns the directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.processes import free_port

SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The machine lacks what a server of the test's own needs; the message says what."""


def bindir() -> Path:
    """Where the PostgreSQL server binaries are."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        raise PostgresUnavailable("pg_config is not on the PATH: install PostgreSQL's server package")
    path = Path(
        subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    )
    if not (path / "initdb").exists():
        raise PostgresUnavailable(f"no initdb in {path}: install PostgreSQL's server package")
    return path


def as_server_user(args: Sequence[str]) -> list[str]:
    """`args`, run as the server's user when this process is root."""
    if os.geteuid() != 0:
        return list(args)
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresUnavailable(f"running as root needs a {SERVER_USER!r} system user") from None
    return ["runuser", "-u", SERVER_USER, "--", *args]


def give_to_server_user(path: Path) -> None:
    """Make `path` (a directory) the server user's, so the server and its tools may write there."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVER_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def run(args: Sequence[str], *, timeout_s: float = 120, env: Mapping[str, str] | None = None) -> str:
    """Run a command as the server's user; its output. Raises with the output when it fails."""
    done = subprocess.run(
        as_server_user(args),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


#: A primary's or standby's own settings for streaming replication: hot-standby feedback, so a long
#: read on a standby is not cancelled by vacuum on the primary, and WAL kept for standbys to catch up.
STREAMING_NODE = {"hot_standby_feedback": "on", "wal_keep_size": "256MB", "max_wal_senders": "10"}


class LocalPostgres:
    """One server: `init()` a new cluster (or adopt a restored data directory), `start()`, `stop()`."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.data = root / name
        self.socket_dir = root / f"{name}-socket"
        self.log = root / f"{name}.log"
        self.port = free_port()
        self.bin = bindir()

    def init(self, settings: Mapping[str, str] | None = None) -> None:
        """A new cluster with `trust` authentication and the given postgresql.conf settings."""
        give_to_server_user(self.root)
        run([str(self.bin / "initdb"), "--auth=trust", "--no-sync", "-U", "postgres", "-D", str(self.data)])
        self.configure(settings or {})

    def clone(self, primary: LocalPostgres, settings: Mapping[str, str] | None = None) -> None:
        """A streaming standby of `primary` (pg_basebackup -R), with settings of its own role appended
        (the copy inherits the primary's postgresql.conf)."""
        give_to_server_user(self.root)
        run(
            [
                str(self.bin / "pg_basebackup"),
                *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
                *("-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
            ]
        )
        self.configure(settings or {})

    def promote(self) -> None:
        """End recovery: this standby becomes a primary."""
        run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "promote"], timeout_s=90)

    def set(self, name: str, value: str) -> None:
        """Change a setting on the running server for good (ALTER SYSTEM) and reload."""
        self.sql(f"ALTER SYSTEM SET {name} = '{value}'")
        self.sql("SELECT pg_reload_conf()")

    def configure(self, settings: Mapping[str, str]) -> None:
        """Settings appended to postgresql.conf (the last one of a name wins)."""
        lines = "".join(f"{name} = '{value}'\n" for name, value in settings.items())
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(lines)

    def start(self, timeout_s: float = 60) -> None:
        give_to_server_user(self.socket_dir)
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
        run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout_s)),
                "start",
            ],
            timeout_s=timeout_s + 10,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if it runs: `fast` (clean) or `immediate` (as if the machine died)."""
        if not (self.data / "postmaster.pid").exists():
            return
        run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"],
            timeout_s=90,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """One statement through psql, its unaligned output."""
        return run(
            [
                str(self.bin / "psql"),
                "-X",
                "-At",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
            ]
        ).strip()

    def wait_ready(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.sql("SELECT 1")
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
