"""Leaderboards: scores kept in `rm_leaderboard_scores`, served from Redis sorted sets.

Boards (docs/architecture.md#the-api-contract): `weekly-volume` per ISO week in UTC (key
`2026-W48`), `e1rm` and `e1rm-relative` per exercise, all time (key: the exercise id). Postgres
holds every user's score; a Redis sorted set per board holds the users who opted in. Scores are
absolute (ZADD, never increments) and each member carries the user's stream version, so an older
write, such as a rebuild from a snapshot, never replaces a newer one. Removed scores stay as rows
with a NULL score until they are synced, then as tombstones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, get_args

import asyncpg
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from core.redis import Keys, queue_script
from projections import statements
from projections.records import RecordsDetail

Board = Literal["weekly-volume", "e1rm", "e1rm-relative"]
BOARDS: tuple[Board, ...] = get_args(Board)
WEEKLY: Board = "weekly-volume"
E1RM: Board = "e1rm"
RELATIVE: Board = "e1rm-relative"

#: How long a weekly board stays in Redis after its week has ended; Postgres keeps it for good.
WEEK_RETENTION = timedelta(days=35)
#: An ended week that is read again comes back from Postgres for this long.
REVIVED_TTL_S = 3600


def week_bounds(period: str) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of an ISO week `YYYY-Www`; ValueError if malformed."""
    year, _, week = period.partition("-W")
    if len(year) != 4 or len(week) != 2 or not (year + week).isdigit():
        raise ValueError(f"not an ISO week: {period!r}")
    start = date.fromisocalendar(int(year), int(week), 1)
    begin = datetime.combine(start, time(), UTC)
    try:
        return begin, begin + timedelta(days=7)
    except OverflowError:  # 9999-W52 ends in year 10000
        raise ValueError(f"not an ISO week: {period!r}") from None


def ttl_of(board: str, key: str, now: datetime) -> int | None:
    """Seconds a board's keys live in Redis: weekly boards end some weeks after their week."""
    if board != WEEKLY:
        return None
    _, end = week_bounds(key)
    return max(int((end + WEEK_RETENTION - now).total_seconds()), REVIVED_TTL_S)


class BoardKeys:
    """The Redis keys of one board: the sorted set, member versions, and the `ready` marker."""

    def __init__(self, keys: Keys, board: str, key: str) -> None:
        self.scores = keys.key("lb", board, key)
        self.versions = self.scores + ":v"
        self.ready = self.scores + ":ready"
        self.channel = leaderboard_channel(keys, board, key)


def leaderboard_channel(keys: Keys, board: str, key: str) -> str:
    """Where a change of one board is announced (the message is the board's key)."""
    return keys.channel("lb", board, key)


# KEYS: the sorted set, the member versions, the `ready` marker. ARGV: ttl (0 = none), 1 when
# rebuilding the board from Postgres (else 0), then triples (member, version, score or "" to remove).
# A change goes only to a board Redis holds whole (ready, its set present): a board evicted in part, or
# never read, is rebuilt from Postgres by its next reader, and a change written meanwhile would make a
# set of one member look like the board.
_PUT_SCORES = """
if ARGV[2] == '0' and (redis.call('EXISTS', KEYS[3]) == 0 or redis.call('EXISTS', KEYS[1]) == 0) then
    return 0
end
local changed = 0
for i = 3, #ARGV, 3 do
    local member, version, score = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
    local current = tonumber(redis.call('HGET', KEYS[2], member))
    if not current or current < version then
        redis.call('HSET', KEYS[2], member, version)
        if score == '' then
            changed = changed + redis.call('ZREM', KEYS[1], member)
        else
            local before = redis.call('ZSCORE', KEYS[1], member)
            redis.call('ZADD', KEYS[1], score, member)
            if before ~= score then changed = changed + 1 end
        end
    end
end
local ttl = tonumber(ARGV[1])
if ttl > 0 then
    redis.call('EXPIRE', KEYS[1], ttl)
    redis.call('EXPIRE', KEYS[2], ttl)
end
return changed
"""


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """One user's standing on one board, as Redis should hold it (score None: not on the board)."""

    board: str
    key: str
    user_id: uuid.UUID
    version: int
    score: float | None


def _member_args(rows: Iterable[ScoreRow]) -> list[str]:
    args: list[str] = []
    for row in rows:
        args += [str(row.user_id), str(row.version), "" if row.score is None else repr(row.score)]
    return args


async def put_scores(
    redis: Redis,
    keys: Keys,
    rows: Sequence[ScoreRow],
    now: datetime,
    pipe: Pipeline | None = None,
    *,
    rebuild: bool = False,
) -> None:
    """Version-guarded ZADD/ZREM of some members of one board (all `rows` share it), then an
    announcement. Queued on `pipe` when given (run by `core.redis.run_pipeline`), else sent at once.
    Only a board Redis holds whole takes a change; `rebuild` writes one back from Postgres."""
    if not rows:
        return
    board, key = rows[0].board, rows[0].key
    names = BoardKeys(keys, board, key)
    ttl = ttl_of(board, key, now) or 0
    script = redis.register_script(_PUT_SCORES)
    for start in range(0, len(rows), 500):
        args: list[str | int] = [ttl, int(rebuild), *_member_args(rows[start : start + 500])]
        if pipe is None:
            await script(keys=[names.scores, names.versions, names.ready], args=args)
        else:
            queue_script(pipe, script, [names.scores, names.versions, names.ready], args)
    if pipe is None:
        await redis.publish(names.channel, key)
    else:
        pipe.publish(names.channel, key)


async def own_score(
    connection: asyncpg.Connection | asyncpg.Pool, board: str, key: str, user_id: uuid.UUID
) -> float | None:
    """A user's score on a board, opted in or not."""
    score: float | None = await connection.fetchval(
        "SELECT score FROM rm_leaderboard_scores WHERE board = $1 AND board_key = $2 AND user_id = $3",
        board,
        key,
        user_id,
    )
    return score


async def board_rows(connection: asyncpg.Connection | asyncpg.Pool, board: str, key: str) -> list[ScoreRow]:
    """Every row of one board from Postgres, with users who did not opt in as removals."""
    rows = await connection.fetch(
        """
        SELECT s.user_id, s.version, CASE WHEN u.leaderboard_opt_in THEN s.score END AS score
        FROM rm_leaderboard_scores s JOIN rm_user_settings u ON u.user_id = s.user_id
        WHERE s.board = $1 AND s.board_key = $2
        """,
        board,
        key,
    )
    return [ScoreRow(board, key, row["user_id"], row["version"], row["score"]) for row in rows]


async def sync_rows(
    redis: Redis, pipe: Pipeline, keys: Keys, rows: Sequence[ScoreRow], now: datetime
) -> None:
    """Queue the Redis writes for `rows` (one user's changes) on a pipeline."""
    by_board: dict[tuple[str, str], list[ScoreRow]] = {}
    for row in rows:
        by_board.setdefault((row.board, row.key), []).append(row)
    for _, members in sorted(by_board.items()):
        await put_scores(redis, keys, members, now, pipe)


async def remove_user(
    redis: Redis, keys: Keys, user_id: uuid.UUID, boards: Iterable[tuple[str, str]]
) -> None:
    """Take an erased user off `boards`, leaving no trace of their id in Redis: by the erasure, and by a
    sync that read the user's scores before the erasure committed (projections/sync.py)."""
    member = str(user_id)
    async with redis.pipeline(transaction=False) as pipe:
        for board, key in boards:
            names = BoardKeys(keys, board, key)
            pipe.zrem(names.scores, member)
            pipe.hdel(names.versions, member)
            pipe.publish(names.channel, key)
        await pipe.execute()


# --- projection: what a batch changes -------------------------------------------------------------


def _round(value: float) -> float:
    return round(value, 2) + 0.0


def _scores_part(
    user_id: uuid.UUID, version: int, scores: dict[tuple[str, str], float | None], *, restamp: bool
) -> statements.Part:
    """Upsert the scores that exist; a score that no longer exists becomes a NULL (a removal for Redis).
    `restamp` (the opt-in changed): every row of the user takes `version`, changed or not, so Redis
    adds or removes them all. The three expressions touch different rows."""
    present = [(board, key, score) for (board, key), score in sorted(scores.items()) if score is not None]
    gone = [(board, key) for (board, key), score in sorted(scores.items()) if score is None]
    return statements.Part(
        ctes=[
            (
                "scores_gone",
                """
                UPDATE rm_leaderboard_scores s SET score = NULL, version = $2
                FROM unnest($6::text[], $7::text[]) AS g(board, board_key)
                WHERE s.board = g.board AND s.board_key = g.board_key AND s.user_id = $1
                    AND (s.score IS NOT NULL OR $8)
                """,
            ),
            (
                "scores_kept",
                """
                INSERT INTO rm_leaderboard_scores (board, board_key, user_id, score, version)
                SELECT board, board_key, $1, score, $2 FROM unnest($3::text[], $4::text[], $5::float8[])
                    AS p(board, board_key, score)
                ON CONFLICT (board, board_key, user_id)
                DO UPDATE SET score = EXCLUDED.score, version = EXCLUDED.version
                WHERE rm_leaderboard_scores.score IS DISTINCT FROM EXCLUDED.score OR $8
                """,
            ),
            (
                "scores_restamped",
                """
                UPDATE rm_leaderboard_scores SET version = $2
                WHERE user_id = $1 AND $8 AND (board, board_key) NOT IN (
                    SELECT * FROM unnest($3::text[], $4::text[])
                    UNION ALL SELECT * FROM unnest($6::text[], $7::text[])
                )
                """,
            ),
        ],
        args=[
            user_id,
            version,
            [board for board, _, _ in present],
            [key for _, key, _ in present],
            [score for _, _, score in present],
            [board for board, _ in gone],
            [key for _, key in gone],
            restamp,
        ],
    )


def scores_reads(user_id: uuid.UUID, weeks: set[str], *, e1rm_scores: bool) -> statements.Part:
    """What the scores read, as a part of a statement (projections/statements.py): the user's volume
    in each ISO week of `weeks`, their latest body weight and, with `e1rm_scores` (the body weight
    changed, so every relative score does), their stored e1RM scores."""
    periods = sorted(weeks)
    bounds = [week_bounds(period) for period in periods]
    return statements.Part(
        ctes=[],
        columns=[
            (
                "scores_volumes",
                """
                SELECT ARRAY(
                    SELECT (
                        SELECT sum((convert_from(body, 'UTF8')::jsonb->>'volumeKg')::numeric)
                        FROM rm_workout_summaries
                        WHERE user_id = $1 AND started_at >= w.start AND started_at < w.stop
                    )
                    FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS w(start, stop, n)
                    ORDER BY w.n
                )
                """,
            ),
            (
                "scores_bodyweight",
                """
                SELECT (convert_from(body, 'UTF8')::jsonb->>'kg')::float8 FROM rm_bodyweights
                WHERE user_id = $1 ORDER BY day DESC LIMIT 1
                """,
            ),
            (
                "scores_e1rm",
                """
                SELECT CASE WHEN $5 THEN (
                    SELECT array_agg(ROW(board_key, score)) FROM rm_leaderboard_scores
                    WHERE user_id = $1 AND board = $4
                ) END
                """,
            ),
        ],
        args=[user_id, [start for start, _ in bounds], [stop for _, stop in bounds], E1RM, e1rm_scores],
    )


def scores_part(
    user_id: uuid.UUID,
    version: int,
    read: Mapping[str, Any],
    *,
    weeks: set[str],
    records: dict[str, RecordsDetail | None],
    bodyweight_changed: bool,
    opt_in_changed: bool,
) -> statements.Part | None:
    """The scores a batch changed, to write (projections/statements.py), from the row `scores_reads`
    answered: touched weeks, touched exercises, all relatives when the body weight changed. A changed
    opt-in re-stamps every row, so Redis adds or removes them all."""
    volumes = {
        period: None if total is None or total <= 0 else _round(float(total))
        for period, total in zip(sorted(weeks), read["scores_volumes"], strict=True)
    }
    kg = read["scores_bodyweight"]
    bodyweight = None if kg is None or kg <= 0 else float(kg)
    scores: dict[tuple[str, str], float | None] = {(WEEKLY, period): kg for period, kg in volumes.items()}
    best: dict[str, float | None] = {
        exercise_id: detail.best_e1rm_kg.value if detail and detail.best_e1rm_kg else None
        for exercise_id, detail in records.items()
    }
    if bodyweight_changed:
        for board_key, score in read["scores_e1rm"] or ():
            best.setdefault(board_key, score)
    for exercise_id, e1rm in best.items():
        if exercise_id in records:
            scores[(E1RM, exercise_id)] = e1rm
        relative = _round(e1rm / bodyweight) if e1rm is not None and bodyweight is not None else None
        scores[(RELATIVE, exercise_id)] = relative
    if not scores and not opt_in_changed:
        return None
    return _scores_part(user_id, version, scores, restamp=opt_in_changed)
