"""An upgrade from the previous release: its database, built and seeded by its own code, migrated to
this one, loses nothing; the read models rebuild equal; and while the upgrade rolls out, the previous
release keeps working on the migrated schema unless a migration says it cannot (`DEPLOY`)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from core.settings import Settings
from migrations.deploy import migrations_after
from tests.faults.stack import Ironlog
from tests.harness import IronlogProcess, read_fresh, read_model_hash
from tests.upgrade.release import ROOT, Release, previous_commit, unpack

pytestmark = pytest.mark.upgrade

SEEDED_USERS = 30
SEED_PASSWORD = "ironlog-seed-password"


class Side:
    """One release's `ironlog` commands and processes on the test's database."""

    def __init__(self, ironlog: Ironlog, release: Release | None) -> None:
        self.ironlog = ironlog
        self.release = release

    def command(self, *args: str) -> str:
        python = self.release.python if self.release else None
        done = subprocess.run(
            [python or sys.executable, "-m", "api", *args],
            cwd=self.release.tree if self.release else ROOT,
            env={**os.environ, **self.ironlog.env},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, (
            f"ironlog {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        return done.stdout

    def start(self, args: list[str], **env: str) -> IronlogProcess:
        log = (
            self.ironlog.root
            / f"{'old' if self.release else 'new'}-{args[0]}-{len(self.ironlog.processes)}.log"
        )
        extra: dict[str, Any] = {}
        if self.release:
            extra = {"python": self.release.python, "cwd": self.release.tree}
        process = IronlogProcess(args, {**os.environ, **self.ironlog.env, **env}, log, **extra)
        self.ironlog.processes.append(process)
        return process


@pytest.fixture
def database(fresh_database: str, settings: Settings, tmp_path: Path) -> Iterator[Ironlog]:
    prefix = settings.redis.prefix  # the run's own, which its fixture deletes afterwards
    assert settings.redis.url and settings.redis.broker_url
    env = {
        "DATABASE_URL": fresh_database,
        "REDIS_URL": settings.redis.url,
        "BROKER_URL": settings.redis.broker_url,
        "IRONLOG_REDIS_PREFIX": prefix,
        "IRONLOG_DATA_DIR": str(tmp_path / "data"),
    }
    own = msgspec.structs.replace(
        settings,
        database=msgspec.structs.replace(settings.database, url=fresh_database),
        redis=msgspec.structs.replace(settings.redis, prefix=prefix),
    )
    ironlog = Ironlog(tmp_path, own, env)
    yield ironlog
    ironlog.stop()


async def _write_tables(connection: asyncpg.Connection) -> dict[str, list[str]]:
    """The users' truth: tables that are not read models, bookkeeping (`migration`, projection state)
    or reference data the release ships (`exercise_catalog`, synced on every migrate), and their
    columns."""
    rows = await connection.fetch(
        """
        SELECT c.table_name, array_agg(c.column_name::text ORDER BY c.ordinal_position) AS columns
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
          AND c.table_name NOT LIKE 'rm\\_%' AND c.table_name NOT LIKE 'projection\\_%'
          AND c.table_name NOT LIKE 'piccolo\\_%'
          AND c.table_name NOT IN ('projector_versions', 'migration', 'exercise_catalog')
        GROUP BY c.table_name
        """
    )
    return {row["table_name"]: list(row["columns"]) for row in rows}


async def _digest(connection: asyncpg.Connection, table: str, columns: list[str]) -> tuple[int, str]:
    """Rows and an order-independent digest of `columns` of `table` (names from the catalog, quoted)."""
    row_text = " || '|' || ".join(f"coalesce(\"{column}\"::text, '∅')" for column in columns)
    count, digest = await connection.fetchrow(
        f"SELECT count(*), md5(coalesce(string_agg(md5({row_text}), '' ORDER BY md5({row_text})), '')) FROM \"{table}\""  # noqa: E501
    )
    return count, digest


async def _snapshot(url: str, tables: dict[str, list[str]] | None = None) -> dict[str, tuple[int, str]]:
    connection = await asyncpg.connect(url)
    try:
        tables = tables or await _write_tables(connection)
        return {table: await _digest(connection, table, columns) for table, columns in tables.items()}
    finally:
        await connection.close()


async def _caught_up(url: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    connection = await asyncpg.connect(url)
    try:
        while await connection.fetchval(
            "SELECT (SELECT count(*) FROM projection_pending) "
            "+ (SELECT count(*) FROM projection_checkpoints WHERE redis_version < version)"
        ):
            assert time.monotonic() < deadline, "the workers did not catch up"
            await asyncio.sleep(0.5)
    finally:
        await connection.close()


async def _signed_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": SEED_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}


async def _feed_size(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    size, cursor = 0, None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/workouts", params=params, headers=headers)
        assert page.status_code == 200, page.text
        size += len(page.json()["items"])
        cursor = page.json().get("nextCursor")
        if not cursor:
            return size


def _start_api(side: Side) -> str:
    from core.processes import free_port
    from tests.harness import wait_until

    port = free_port()
    side.start(["api", "--port", str(port), "--workers", "1"])
    base = f"http://127.0.0.1:{port}"

    def live() -> bool:
        try:
            return httpx.get(f"{base}/health/live", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(live, 60, "the API to answer")
    return base


def _start_worker(side: Side) -> None:
    from core.processes import free_port

    worker = side.start(
        ["worker", "--processes", "1", "--threads", "2"], IRONLOG_WORKER_METRICS_PORT=str(free_port())
    )
    worker.wait_for_log("worker_resources_opened")


async def test_the_previous_releases_database_upgrades_without_loss(database: Ironlog) -> None:
    commit = previous_commit()
    release = unpack(commit, ROOT / ".data")
    old, new = Side(database, release), Side(database, None)
    url = database.settings.database.url or ""

    old.command("migrate")
    old.command("seed", "--users", str(SEEDED_USERS), "--months", "2", "--seed", "11")
    _start_worker(old)
    await _caught_up(url)
    for process in database.processes:
        process.stop()
    database.processes.clear()
    connection = await asyncpg.connect(url)
    try:
        tables = await _write_tables(connection)
        applied_before = {row["name"] for row in await connection.fetch("SELECT name FROM migration")}
        catalog_before = {row["id"] for row in await connection.fetch("SELECT id FROM exercise_catalog")}
        email, user_id = await connection.fetchrow("SELECT email, id FROM users ORDER BY email LIMIT 1")
        logged = await connection.fetchval(
            "SELECT count(*) FROM workouts WHERE user_id = $1 AND deleted_at IS NULL", user_id
        )
    finally:
        await connection.close()
    before = await _snapshot(url, tables)
    assert before["workouts"][0] > SEEDED_USERS and before["events"][0] > before["workouts"][0]

    new.command("migrate")

    # Nothing of the truth changed: every row of every write table, as far as the old columns go.
    assert await _snapshot(url, tables) == before
    # The catalog may gain exercises and aliases, but every id a workout may name is still there.
    connection = await asyncpg.connect(url)
    try:
        catalog_after = {row["id"] for row in await connection.fetch("SELECT id FROM exercise_catalog")}
    finally:
        await connection.close()
    assert catalog_before <= catalog_after
    # Read models: the new workers catch up, and a rebuild from the event log equals that.
    _start_worker(new)
    await _caught_up(url)
    incremental = await read_model_hash(url)
    new.command("projections", "rebuild", "--all")
    assert await read_model_hash(url) == incremental
    base = _start_api(new)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        assert await _feed_size(client, await _signed_in(client, email)) == logged

    # A rolling deploy runs the previous release beside this one on the migrated schema.
    contracting = [m for m in migrations_after(applied_before) if m.deploy != "expand"]
    if contracting:
        pytest.skip(f"the previous release cannot run on the new schema: {[m.id for m in contracting]}")
    old_base = _start_api(old)
    async with httpx.AsyncClient(base_url=old_base, timeout=30) as client:
        headers = await _signed_in(client, email)
        written = await client.put(
            f"/v1/workouts/{uuid.uuid4()}",
            json={
                "title": "Written by the previous release",
                "startedAt": "2026-11-02T07:00:00+00:00",
                "exercises": [
                    {
                        "exerciseId": "barbell-back-squat",
                        "sets": [{"reps": 5, "weight": {"value": 100, "unit": "kg"}}],
                    }
                ],
            },
            headers=headers,
        )
        assert written.status_code == 201, written.text
        # Projected by this release's worker, read through the previous release's API.
        token = written.headers["x-consistency-token"]
        fresh = await read_fresh(client, written.headers["location"], headers, token)
        assert fresh.status_code == 200 and fresh.json()["title"] == "Written by the previous release"
        assert await _feed_size(client, headers) == logged + 1
