"""`exercise_catalog` follows core.catalog on every migrate: upserted, retired, never deleted."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from core.catalog import BUILT_IN
from core.settings import Settings
from migrations.catalog import sync_catalog
from migrations.runner import migrate

COLUMNS = """
    id, name, category, equipment, measurement, mechanic, force,
    primary_muscles, secondary_muscles, aliases, retired
"""


def expected_rows() -> dict[str, tuple[Any, ...]]:
    return {
        entry.id: (
            entry.id,
            entry.name,
            entry.category,
            entry.equipment,
            entry.measurement,
            entry.mechanic,
            entry.force,
            list(entry.primary_muscles),
            list(entry.secondary_muscles),
            list(entry.aliases),
            False,
        )
        for entry in BUILT_IN
    }


async def table_rows(db: asyncpg.Connection) -> dict[str, tuple[Any, ...]]:
    rows = await db.fetch(f"SELECT {COLUMNS} FROM exercise_catalog")
    return {row["id"]: tuple(row.values()) for row in rows}


async def row_versions(db: asyncpg.Connection) -> dict[str, str]:
    rows = await db.fetch("SELECT id, xmin::text AS version FROM exercise_catalog")
    return {row["id"]: row["version"] for row in rows}


async def test_migrated_table_holds_exactly_the_built_in_catalog(db: asyncpg.Connection) -> None:
    assert await table_rows(db) == expected_rows()


async def test_second_sync_changes_nothing(db: asyncpg.Connection) -> None:
    await sync_catalog(db)
    before = await row_versions(db)
    assert await sync_catalog(db) == 0
    # Not even a rewrite of identical values: every row keeps the tuple it had.
    assert await row_versions(db) == before


async def test_edited_row_is_put_back_and_only_it_is_rewritten(db: asyncpg.Connection) -> None:
    await sync_catalog(db)
    before = await row_versions(db)
    await db.execute(
        "UPDATE exercise_catalog SET name = 'Bench', aliases = '{}', retired = true WHERE id = $1",
        "barbell-bench-press",
    )
    assert await sync_catalog(db) == 1
    assert await table_rows(db) == expected_rows()
    after = await row_versions(db)
    assert {key for key in before if before[key] != after[key]} == {"barbell-bench-press"}


async def test_id_no_longer_built_in_is_retired_not_deleted(db: asyncpg.Connection) -> None:
    gone = f"discontinued-press-{uuid.uuid4().hex[:8]}"
    await db.execute(
        """
        INSERT INTO exercise_catalog (id, name, category, equipment, measurement,
                                      primary_muscles, secondary_muscles, aliases)
        VALUES ($1, 'Discontinued Press', 'machine', 'machine', 'weight_reps', '{chest}', '{}', '{}')
        """,
        gone,
    )
    try:
        assert await sync_catalog(db) == 1
        row = await db.fetchrow("SELECT name, retired FROM exercise_catalog WHERE id = $1", gone)
        assert row is not None
        assert (row["name"], row["retired"]) == ("Discontinued Press", True)
        assert await sync_catalog(db) == 0  # retiring is done once
        live = await db.fetch("SELECT id FROM exercise_catalog WHERE NOT retired")
        assert {row["id"] for row in live} == set(expected_rows())
    finally:
        await db.execute("DELETE FROM exercise_catalog WHERE id = $1", gone)


async def test_sync_leaves_user_tables_alone(db: asyncpg.Connection) -> None:
    tag = uuid.uuid4().hex[:10]
    user_id = uuid.uuid4()
    await db.execute(
        """
        INSERT INTO users (id, email, email_normalised, password_hash, display_name, handle)
        VALUES ($1, $2, $2, 'not-a-hash', 'Catalog Bystander', $3)
        """,
        user_id,
        f"bystander-{tag}@example.com",
        f"bystander_{tag}",
    )
    snapshot = "SELECT count(*), md5(string_agg(u::text, ',' ORDER BY u.id)) FROM users u"
    try:
        before = await db.fetchrow(snapshot)
        await db.execute("UPDATE exercise_catalog SET name = 'Bench' WHERE id = 'barbell-bench-press'")
        assert await sync_catalog(db) == 1
        after = await db.fetchrow(snapshot)
        assert before is not None and before[0] >= 1
        assert tuple(after or ()) == tuple(before)
    finally:
        await db.execute("DELETE FROM users WHERE id = $1", user_id)


async def test_every_migrate_resyncs_the_catalog(settings: Settings, fresh_database: str) -> None:
    bound = settings.with_services(fresh_database, settings.redis.url or "")
    await migrate(bound)
    connection = await asyncpg.connect(fresh_database)
    try:
        assert await table_rows(connection) == expected_rows()
        await connection.execute("DELETE FROM exercise_catalog WHERE id = 'plank'")
        await connection.execute("UPDATE exercise_catalog SET force = NULL WHERE id = 'pull-up'")
        assert await migrate(bound) == []  # nothing pending, yet the catalog is synced
        assert await table_rows(connection) == expected_rows()
    finally:
        await connection.close()
