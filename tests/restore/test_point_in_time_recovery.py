"""The restore drill: back up a live Ironlog with pgBackRest, lose it, recover to a point in time.

On a PostgreSQL of the drill's own (archiving WAL into a pgBackRest repository): seed users, write
under load, take a base backup, write more, create a restore point, write more; then lose the server,
restore to the point into a fresh data directory, start Ironlog on it with an empty Redis namespace,
let the workers catch up, rebuild every read model from the event log, and check what must hold.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from core.settings import Settings
from migrations.runner import migrate
from projections.analytics import fold_counts
from tests.faults.stack import Ironlog, Lifter
from tests.harness import delete_prefix, read_model_hash, wait_until
from tests.postgres_server import LocalPostgres
from tests.restore.backups import BackupRepository

pytestmark = pytest.mark.restore

RESTORE_POINT = "ironlog-drill"
#: Seeded users (IRONLOG_DRILL_USERS) and months of history each; times are reported per 1,000 users.
SEEDED_USERS = int(os.environ.get("IRONLOG_DRILL_USERS", "100"))
SEEDED_MONTHS = 3
WRITERS = 4


@dataclass
class Write:
    workout_id: str
    sent: float  # time.monotonic() when the request left
    acknowledged: float | None = None  # when its 201 arrived


@dataclass
class Drill:
    root: Path
    settings: Settings
    primary: LocalPostgres
    repository: BackupRepository
    writes: list[Write] = field(default_factory=list)
    lifters: list[Lifter] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    prefixes: list[str] = field(default_factory=list)  # deleted from the machine's Redis afterwards

    def ironlog(self, database_url: str, prefix: str) -> Ironlog:
        """Ironlog's processes on `database_url`, with a Redis namespace of their own."""
        assert self.settings.redis.url and self.settings.redis.broker_url
        self.prefixes.append(prefix)
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": self.settings.redis.url,
            "BROKER_URL": self.settings.redis.broker_url,
            "IRONLOG_REDIS_PREFIX": prefix,
            "IRONLOG_DATA_DIR": str(self.root / f"data-{prefix.strip(':')}"),
        }
        redis = msgspec.structs.replace(self.settings.redis, prefix=prefix)
        database = msgspec.structs.replace(self.settings.database, url=database_url)
        own = msgspec.structs.replace(self.settings, redis=redis, database=database)
        return Ironlog(self.root, own, env)


def _ironlog_command(ironlog: Ironlog, *args: str) -> float:
    """Run `ironlog <args>` to completion on the drill's servers; how long it took."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "api", *args],
        env={**os.environ, **ironlog.env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"ironlog {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return time.monotonic() - started


@pytest.fixture
async def drill(settings: Settings) -> AsyncIterator[Drill]:
    root = Path(tempfile.mkdtemp(prefix="ilr"))
    primary = LocalPostgres(root, "primary")
    repository = BackupRepository(root, primary)
    primary.init(repository.server_settings())
    primary.start()
    made = Drill(root, settings, primary, repository)
    try:
        repository.create()
        primary.sql("CREATE DATABASE ironlog")
        yield made
    finally:
        primary.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
        assert settings.redis.url
        for prefix in made.prefixes:  # the documents and broker keys of each Ironlog it ran
            await delete_prefix(settings.redis.url, prefix)


async def _write_until(ironlog: Ironlog, lifter: Lifter, drill: Drill, stop: asyncio.Event, n: int) -> None:
    async with httpx.AsyncClient(base_url=ironlog.base, timeout=30) as client:
        while not stop.is_set():
            n += WRITERS
            write = Write("", time.monotonic())
            drill.writes.append(write)
            response = await ironlog.log_workout(client, lifter, n)
            assert response.status_code == 201, response.text
            write.workout_id = response.headers["location"].rsplit("/", 1)[1]
            write.acknowledged = time.monotonic()


async def _load_for(seconds: float, ironlog: Ironlog, drill: Drill) -> None:
    stop = asyncio.Event()
    writers = [
        asyncio.create_task(_write_until(ironlog, lifter, drill, stop, n))
        for n, lifter in enumerate(drill.lifters)
    ]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*writers)


async def _during_load(ironlog: Ironlog, drill: Drill, action: object) -> tuple[float, float]:
    """Run `action` (a blocking call) while the writers write; when it started and returned."""
    stop = asyncio.Event()
    writers = [
        asyncio.create_task(_write_until(ironlog, lifter, drill, stop, n))
        for n, lifter in enumerate(drill.lifters)
    ]
    await asyncio.sleep(0.5)
    started = time.monotonic()
    await asyncio.to_thread(action)  # type: ignore[arg-type]
    returned = time.monotonic()
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*writers)
    return started, returned


async def _backlog_empty(database_url: str) -> bool:
    connection = await asyncpg.connect(database_url)
    try:
        behind = await connection.fetchval(
            """
            SELECT (SELECT count(*) FROM projection_pending)
                 + (SELECT count(*) FROM projection_checkpoints WHERE redis_version < version)
            """
        )
        return int(behind) == 0
    finally:
        await connection.close()


async def _caught_up(database_url: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not await _backlog_empty(database_url):
        assert time.monotonic() < deadline, "the workers did not catch up"
        await asyncio.sleep(0.5)


async def _feed_ids(client: httpx.AsyncClient, lifter: Lifter) -> set[str]:
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/workouts", params=params, headers=lifter.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        ids |= {item["id"] for item in page["items"]}
        cursor = page.get("nextCursor")
        if not cursor:
            return ids


async def test_a_restore_to_a_point_in_time_keeps_exactly_what_was_acknowledged_before_it(
    drill: Drill,
) -> None:
    database_url = drill.primary.url("ironlog")
    live = drill.ironlog(database_url, f"drill-{uuid.uuid4().hex[:6]}:")
    await migrate(live.settings)
    drill.timings["seed"] = _ironlog_command(
        live, "seed", "--users", str(SEEDED_USERS), "--months", str(SEEDED_MONTHS), "--seed", "7"
    )
    live.start_api()
    live.start_worker()
    async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
        drill.lifters = [await live.sign_up(client) for _ in range(WRITERS)]

    await _load_for(1.0, live, drill)
    backup_started, _ = await _during_load(live, drill, drill.repository.backup)
    await _load_for(1.0, live, drill)

    async def restore_point() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute("SELECT pg_create_restore_point($1)", RESTORE_POINT)
        finally:
            await connection.close()

    point_started, point_returned = await _during_load(live, drill, lambda: asyncio.run(restore_point()))
    await _load_for(1.0, live, drill)
    live.stop()
    drill.repository.command("check")  # switches WAL and waits until the restore point is archived
    drill.primary.stop("immediate")  # the server is lost

    before = {
        w.workout_id for w in drill.writes if w.acknowledged is not None and w.acknowledged < point_started
    }
    after = {w.workout_id for w in drill.writes if w.sent > point_returned}
    assert before and after, "the load wrote nothing on one side of the restore point"
    assert any(w.sent < backup_started for w in drill.writes), "nothing was written before the backup"

    restored = LocalPostgres(drill.root, "restored")
    started = time.monotonic()
    drill.repository.restore_to(restored, RESTORE_POINT)
    restored.start()
    wait_until(lambda: restored.sql("SELECT pg_is_in_recovery()") == "f", 120, "recovery to end")
    drill.timings["restore"] = time.monotonic() - started
    restored_url = restored.url("ironlog")
    try:
        recovered = drill.ironlog(restored_url, f"drill-{uuid.uuid4().hex[:6]}:")  # an empty Redis
        _ironlog_command(recovered, "migrate")
        connection = await asyncpg.connect(restored_url)
        try:
            present = {str(row["id"]) for row in await connection.fetch("SELECT id FROM workouts")}
        finally:
            await connection.close()
        assert before <= present, f"{len(before - present)} write(s) acknowledged before the point are lost"
        assert not after & present, f"{len(after & present)} write(s) made after the point came back"

        # The restored read models, caught up incrementally, equal a fold of the whole event log.
        recovered.start_worker()
        await _caught_up(restored_url)
        incremental = await read_model_hash(restored_url)
        drill.timings["rebuild"] = _ironlog_command(recovered, "projections", "rebuild", "--all")
        assert await read_model_hash(restored_url) == incremental, (
            "a rebuild differs from the restored read models"
        )

        recovered.start_api()
        async with httpx.AsyncClient(base_url=recovered.base, timeout=30) as client:
            for lifter in drill.lifters:
                assert await _feed_ids(client, lifter) == set(lifter.acknowledged) & present
            sample = await client.get("/v1/stats/dashboard", headers=drill.lifters[0].headers)
            assert sample.status_code == 200
        connection = await asyncpg.connect(restored_url)
        try:
            live_workouts = await connection.fetchval(
                "SELECT count(*) FROM workouts WHERE deleted_at IS NULL"
            )
            projected = await connection.fetchval("SELECT count(*) FROM rm_workout_summaries")
            await fold_counts(connection)  # what the sweeper may not have folded yet
            counted = await connection.fetchval(
                "SELECT COALESCE(sum(workouts), 0) FROM analytics.daily_activity"
            )
            users = await connection.fetchval("SELECT count(*) FROM users")
        finally:
            await connection.close()
        assert live_workouts == projected == counted, (live_workouts, projected, counted)
        recovered.stop()
    finally:
        restored.stop("immediate")

    per_thousand = {name: seconds * 1000 / users for name, seconds in drill.timings.items()}
    print(
        f"\nrestore drill: {users} users, {live_workouts} workouts; "
        + ", ".join(
            f"{name} {seconds:.1f} s ({per_thousand[name]:.1f} s per 1,000 users)"
            for name, seconds in drill.timings.items()
        )
    )
