"""docs/analysts.md matches the database: its tables' columns exist, and its SQL runs as the analyst role."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from core.settings import Settings

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "analysts.md"
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A table's section: "### `analytics.name`", then a markdown table whose rows start "| `column` | type |".
TABLE_SECTION = re.compile(r"^### `analytics\.(\w+)`\n(.*?)(?=^#)", re.MULTILINE | re.DOTALL)
COLUMN_ROW = re.compile(r"^\| `(\w+)` \| ([\w\[\] ]+) \|", re.MULTILINE)


def queries() -> list[str]:
    return [block.strip() for block in SQL_BLOCK.findall(GUIDE.read_text())]


def documented_columns() -> dict[str, dict[str, str]]:
    sections = TABLE_SECTION.findall(GUIDE.read_text())
    return {table: dict(COLUMN_ROW.findall(section)) for table, section in sections}


@pytest.fixture
async def admin(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(settings.database.url)
    try:
        yield connection
    finally:
        await connection.close()


def test_the_guide_answers_the_usual_questions() -> None:
    text = queries()
    assert len(text) >= 6
    for needle in ("new_users", "workouts", "active_users", "analytics.retention", "exercise_popularity"):
        assert any(needle in query for query in text), needle


async def test_the_documented_columns_are_the_schemas(admin: asyncpg.Connection) -> None:
    rows = await admin.fetch(
        """
        SELECT table_name, column_name,
               CASE WHEN data_type = 'ARRAY' THEN trim(leading '_' from udt_name) || '[]' ELSE data_type END
                 AS type
        FROM information_schema.columns WHERE table_schema = 'analytics'
        """
    )
    actual: dict[str, dict[str, str]] = {}
    for row in rows:
        actual.setdefault(row["table_name"], {})[row["column_name"]] = row["type"]
    assert documented_columns() == actual


@pytest.mark.parametrize("query", queries(), ids=lambda q: q.splitlines()[0][:40])
async def test_each_query_runs_as_the_analyst_role(
    settings: Settings, admin: asyncpg.Connection, query: str
) -> None:
    # The role cannot log in without a password; taking it on checks its privileges all the same.
    # Its own settings apply only at login, so they are set here as the role has them.
    async with admin.transaction(readonly=True):
        await admin.execute(f'SET LOCAL ROLE "{settings.database.analyst_role}"')
        await admin.execute("SET LOCAL search_path = analytics")
        await admin.execute("SET LOCAL statement_timeout = '30s'")
        assert await admin.fetchval("SELECT current_user") == settings.database.analyst_role
        await admin.fetch(query)
