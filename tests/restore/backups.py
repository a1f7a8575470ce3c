"""A pgBackRest repository of the test's own, for a LocalPostgres: the same commands an operator runs
(docs/operations.md, "Backup and restore"), with the configuration in a file of the test's."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.postgres_server import LocalPostgres, PostgresUnavailable, give_to_server_user, run

STANZA = "ironlog"


class BackupRepository:
    """Continuous WAL archiving and base backups of one server into `root/repo`."""

    def __init__(self, root: Path, server: LocalPostgres) -> None:
        if shutil.which("pgbackrest") is None:
            raise PostgresUnavailable(
                "pgbackrest is not installed: `make test-restore` installs it (apt-get)"
            )
        self.root = root
        self.config = root / "pgbackrest.conf"
        for folder in ("repo", "log", "lock", "spool"):
            give_to_server_user(root / folder)
        self.config.write_text(
            "[global]\n"
            f"repo1-path={root / 'repo'}\n"
            "repo1-retention-full=2\n"
            f"log-path={root / 'log'}\n"
            f"lock-path={root / 'lock'}\n"
            f"spool-path={root / 'spool'}\n"
            "log-level-console=warn\n"
            "log-level-file=info\n"
            "start-fast=y\n"
            "compress-type=lz4\n"
            f"[{STANZA}]\n"
            f"pg1-path={server.data}\n"
            f"pg1-port={server.port}\n"
            f"pg1-socket-path={server.socket_dir}\n"
        )

    @property
    def archive_command(self) -> str:
        return f"pgbackrest --config={self.config} --stanza={STANZA} archive-push %p"

    def server_settings(self) -> dict[str, str]:
        """What the server's postgresql.conf needs for continuous archiving."""
        return {"wal_level": "replica", "archive_mode": "on", "archive_command": self.archive_command}

    def command(self, *args: str, timeout_s: float = 600) -> str:
        return run(
            ["pgbackrest", f"--config={self.config}", f"--stanza={STANZA}", *args], timeout_s=timeout_s
        )

    def create(self) -> None:
        """The stanza, then a check that WAL reaches the repository."""
        self.command("stanza-create")
        self.command("check")

    def backup(self, kind: str = "full") -> None:
        self.command(f"--type={kind}", "backup")

    def restore_to(self, target: LocalPostgres, restore_point: str) -> None:
        """Restore into `target`'s (empty) data directory, recovering up to the named restore point and
        promoting there; the restored server does not archive into this repository."""
        give_to_server_user(target.data)
        self.command(
            f"--pg1-path={target.data}",
            "--type=name",
            f"--target={restore_point}",
            "--target-action=promote",
            "restore",
        )
        target.configure({"archive_mode": "off"})
