"""The Piccolo write tables describe exactly the schema the migrations create."""

from __future__ import annotations

import asyncpg

from commands.tables import WRITE_TABLES
from core.settings import Settings

# information_schema's names for the column types Piccolo declares.
_SQL_TYPES = {
    "UUID": "uuid",
    "TEXT": "text",
    "BOOLEAN": "boolean",
    "BYTEA": "bytea",
    "TIMESTAMPTZ": "timestamp with time zone",
    "BIGINT": "bigint",
    "BIGSERIAL": "bigint",
    "INTEGER": "integer",
    "JSONB": "jsonb",
}


async def test_every_write_table_matches_the_migrated_schema(settings: Settings) -> None:
    assert settings.database.url
    connection = await asyncpg.connect(settings.database.url)
    try:
        for table in WRITE_TABLES:
            rows = await connection.fetch(
                """
                SELECT column_name, data_type, is_nullable = 'YES' AS nullable
                FROM information_schema.columns
                WHERE table_schema = 'public' AND table_name = $1
                """,
                table._meta.tablename,
            )
            migrated = {row["column_name"]: (row["data_type"], row["nullable"]) for row in rows}
            declared = {
                column._meta.db_column_name: (_SQL_TYPES[column.column_type], column._meta.null)
                for column in table._meta.columns
            }
            assert declared == migrated, table._meta.tablename
    finally:
        await connection.close()
