"""Parts of a projection batch's writes, combined into one statement (projections/statements.py)."""

from __future__ import annotations

import asyncpg
import pytest

from projections import statements
from projections.statements import Part


def test_each_parts_placeholders_follow_those_of_the_parts_before() -> None:
    sql, args = statements.combine(
        [
            Part(
                ctes=[("a", "SELECT $1::int + $2::int AS v")],
                args=[1, 2],
                columns=[("a_v", "SELECT v FROM a")],
            ),
            Part(ctes=[("b", "SELECT $2::text || $1::text AS t")], args=["x", "y"]),
        ]
    )
    assert args == [1, 2, "x", "y"]
    assert "SELECT $1::int + $2::int AS v" in sql
    assert "SELECT $4::text || $3::text AS t" in sql
    assert sql.endswith("SELECT (SELECT v FROM a) AS a_v")


def test_parts_that_only_read_make_a_plain_select() -> None:
    sql, args = statements.combine([Part(ctes=[], args=[5], columns=[("five", "SELECT $1::int")])])
    assert (sql, args) == ("SELECT (SELECT $1::int) AS five", [5])


def test_two_parts_may_not_share_a_name() -> None:
    with pytest.raises(ValueError, match="'a'"):
        statements.combine([Part(ctes=[("a", "SELECT 1")], args=[]), Part(ctes=[("a", "SELECT 2")], args=[])])


async def test_one_round_trip_writes_every_part_and_answers_each_ones_columns(
    rolled_back: asyncpg.Connection,
) -> None:
    await rolled_back.execute("CREATE TEMPORARY TABLE left_side (n int)")
    await rolled_back.execute("CREATE TEMPORARY TABLE right_side (word text)")
    seen: list[asyncpg.Record] = []

    async def after(connection: asyncpg.Connection, row: asyncpg.Record) -> None:
        seen.append(row)

    row = await statements.execute(
        rolled_back,
        [
            Part(
                ctes=[("numbers", "INSERT INTO left_side SELECT * FROM unnest($1::int[]) RETURNING n")],
                args=[[3, 4]],
                columns=[("total", "SELECT sum(n) FROM numbers")],
            ),
            None,  # nothing to write
            Part(
                ctes=[("words", "INSERT INTO right_side VALUES ($1), ($2)")],
                args=["press", "squat"],
                after=after,
            ),
        ],
    )

    assert row is not None and row["total"] == 7
    assert seen == [row]
    assert await rolled_back.fetchval("SELECT array_agg(n ORDER BY n) FROM left_side") == [3, 4]
    assert await rolled_back.fetchval("SELECT array_agg(word ORDER BY word) FROM right_side") == [
        "press",
        "squat",
    ]
    assert await statements.execute(rolled_back, [None]) is None
