"""Several writes of one projection batch, sent as one statement.

A part is a list of named common table expressions (data-modifying ones: Postgres runs each of them
to completion, referenced or not), its own arguments numbered from `$1`, and the columns it answers,
SQL over its own expressions' names. `combine` numbers each part's placeholders after those of the
parts before it and joins them into one statement: one round trip for all. The parts run on one
snapshot and none sees another's writes, so they must touch different rows, as the tables of
different read models do; a part that needs to act on what the statement answered says so in `after`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

_PLACEHOLDER = re.compile(r"\$(\d+)")

After = Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Part:
    ctes: Sequence[tuple[str, str]]  # (name, statement): names unique across the parts combined
    args: Sequence[object]
    columns: Sequence[tuple[str, str]] = ()  # (name, expression)
    after: After | None = None  # run once the statement has answered, with its row


@functools.lru_cache(maxsize=1024)
def _shifted(sql: str, offset: int) -> str:
    """`sql` with its placeholders numbered `offset` further (a batch combines the same few parts over
    and over: each is renumbered once)."""
    return _PLACEHOLDER.sub(lambda found: f"${int(found.group(1)) + offset}", sql)


def combine(parts: Sequence[Part]) -> tuple[str, list[object]]:
    """One statement doing what every part does, and its arguments."""
    names: set[str] = set()
    ctes: list[str] = []
    columns: list[str] = []
    args: list[object] = []
    for part in parts:
        offset = len(args)
        for name, _ in [*part.ctes, *part.columns]:
            if name in names:
                raise ValueError(f"two parts name {name!r}")
            names.add(name)
        ctes += [f"{name} AS ({_shifted(sql, offset)})" for name, sql in part.ctes]
        columns += [f"({_shifted(sql, offset)}) AS {name}" for name, sql in part.columns]
        args += part.args
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    return f"{with_}SELECT {', '.join(columns) or 'true'}", args


async def execute(connection: asyncpg.Connection, parts: Sequence[Part | None]) -> asyncpg.Record | None:
    """Run the parts given (None: nothing to write) in one statement, then their `after`; the row
    it answered (None when no part was given)."""
    given = [part for part in parts if part is not None]
    if not given:
        return None
    sql, args = combine(given)
    row: asyncpg.Record = await connection.fetchrow(sql, *args)
    for part in given:
        if part.after is not None:
            await part.after(connection, row)
    return row
