"""Reading leaderboards: the top of a board, the caller's rank and neighbours, global or among friends.

The global scope reads the board's Redis sorted set (opted-in users only); a board Redis lost or let
expire is rebuilt from `rm_leaderboard_scores` first. The friends scope takes the scores of the
people the caller follows from the same set, plus the caller's own. With Redis down both are ranked
from Postgres instead.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import asyncpg
import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.redis import Keys
from core.structs import ResponseBody
from projections import outbox
from projections.cache import Cached
from projections.leaderboards import (
    RELATIVE,
    BoardKeys,
    ScoreRow,
    board_rows,
    own_score,
    put_scores,
    ttl_of,
)
from queries.memory_cache import MemoryCache, board_owner

log = structlog.get_logger(__name__)

Scope = Literal["global", "friends"]
#: How many places above and below the caller `around` shows.
NEIGHBOURS = 2
#: Encoded global boards kept per process, each as a caller saw it (about 2 KB each).
VIEWS_HELD = 4096


class Standing(ResponseBody):
    rank: int
    user_id: uuid.UUID
    handle: str
    display_name: str
    score: float


class Leaderboard(ResponseBody):
    """A board as the caller sees it; `me` is absent when the caller has no score on it."""

    board: str
    key: str
    scope: Scope
    unit: Literal["kg", "x bodyweight"]
    entries: int
    top: list[Standing]
    around: list[Standing]
    me: Standing | None = None


@dataclass(frozen=True, slots=True)
class _Ranked:
    """Ranked members (user id, score), best first, and the caller's 0-based position."""

    size: int
    top: list[tuple[uuid.UUID, float]]
    around: list[tuple[int, uuid.UUID, float]]
    mine: int | None


def _rank(members: Sequence[tuple[uuid.UUID, float]], me: uuid.UUID, limit: int) -> _Ranked:
    """Redis's order for equal scores: the greater member first."""
    ordered = sorted(members, key=lambda m: (m[1], str(m[0])), reverse=True)
    mine = next((i for i, (user, _) in enumerate(ordered) if user == me), None)
    around: list[tuple[int, uuid.UUID, float]] = []
    if mine is not None:
        first = max(0, mine - NEIGHBOURS)
        around = [(first + i, u, s) for i, (u, s) in enumerate(ordered[first : mine + NEIGHBOURS + 1])]
    return _Ranked(len(ordered), list(ordered[:limit]), around, mine)


#: The memory cache's entries an answer was built from, by key (None: one that could not be kept).
Used = list[tuple[str, Cached | None]]


@dataclass(frozen=True, slots=True)
class _View:
    """A global board as one caller was answered: valid while every entry it was built from (the
    ranking, each profile shown) is still the memory cache's very entry. A board's announcement drops
    its rankings, a profile's drops its names, and a new entry is a new object."""

    used: tuple[tuple[str, Cached], ...]
    body: bytes


def _members(pairs: Sequence[Any]) -> list[tuple[uuid.UUID, float]]:
    """(member, score) pairs as Redis returns them, as user ids and scores."""
    return [(uuid.UUID(bytes(member).decode()), float(score)) for member, score in pairs]


class Leaderboards:
    """Reads boards; one per API process."""

    def __init__(
        self, pool: asyncpg.Pool, redis: Redis, keys: Keys, memory: MemoryCache | None = None
    ) -> None:
        self.pool = pool
        self.redis = redis
        self.keys = keys
        #: Handles and display names, kept until their user's next announcement (a profile change, an
        #: erasure); None: read from Postgres every time.
        self.memory = memory
        #: Global boards as answered, by the key of their ranking in memory: most recently used last.
        self._views: OrderedDict[str, _View] = OrderedDict()

    async def read(
        self, board: str, key: str, *, scope: Scope, me: uuid.UUID, limit: int, now: datetime
    ) -> bytes:
        """The board as the caller sees it: a `Leaderboard`, encoded. A global board's answer is served
        again as it was while neither its ranking nor a profile it shows has changed."""
        memory = self.memory if self.memory is not None and self.memory.enabled else None
        if memory is None or scope != "global":
            return _ENCODER.encode(await self._board(board, key, scope, me, limit, now=now))
        view_key = _held_key(board, key, me, limit)
        view = self._views.get(view_key)
        if view is not None:
            if all(memory.get(held) is entry for held, entry in view.used):
                self._views.move_to_end(view_key)
                return view.body
            del self._views[view_key]
        used: Used = []
        body = _ENCODER.encode(await self._board(board, key, scope, me, limit, now=now, used=used))
        # Checked after the last await: an entry dropped or replaced meanwhile is not this object.
        if used and all(entry is not None and memory.get(held) is entry for held, entry in used):
            self._views[view_key] = _View(tuple(cast(list[tuple[str, Cached]], used)), body)
            if len(self._views) > VIEWS_HELD:
                self._views.popitem(last=False)
        return body

    async def _board(
        self,
        board: str,
        key: str,
        scope: Scope,
        me: uuid.UUID,
        limit: int,
        *,
        now: datetime,
        used: Used | None = None,
    ) -> Leaderboard:
        try:
            if scope == "global":
                ranked = await self._global_held(board, key, me, limit, now=now, used=used)
            else:
                ranked = await self._friends(board, key, me, limit, now)
        except RedisError as exc:
            log.warning("leaderboard_from_postgres", board=board, error=repr(exc))
            if used is not None:
                used.append(("", None))
            ranked = await self._from_postgres(board, key, scope, me, limit)
        return await self._view(board, key, scope, ranked, used)

    async def _ensure(self, board: str, key: str, now: datetime) -> BoardKeys:
        """The board's keys, rebuilt from Postgres when Redis no longer has it."""
        names = BoardKeys(self.keys, board, key)
        if await self.redis.exists(names.ready, names.scores) == 2:
            return names
        # Expired, never read, or evicted in part (a cache Redis under memory pressure drops a board's
        # keys one at a time): written back whole. Emptied first, so no member version left behind
        # refuses a row; read from Postgres after that, so a change synced meanwhile is either in the
        # rows read or newer than them (and then refuses the older row).
        await self.redis.unlink(names.ready, names.scores, names.versions)
        rows = await board_rows(self.pool, board, key)
        await put_scores(self.redis, self.keys, rows, now, rebuild=True)
        ttl = ttl_of(board, key, now)
        await self.redis.set(names.ready, b"1", ex=ttl)
        # The sync skipped this board while it was not whole: what it skipped was committed before it
        # found `ready` missing, so a second read, after `ready` was set, has it.
        await put_scores(self.redis, self.keys, await board_rows(self.pool, board, key), now, rebuild=True)
        log.info("leaderboard_rebuilt", board=board, key=key, members=len(rows))
        return names

    async def _global_held(
        self, board: str, key: str, me: uuid.UUID, limit: int, *, now: datetime, used: Used | None
    ) -> _Ranked:
        """The caller's place on a global board, from memory until the board's next announcement."""
        memory = self.memory if self.memory is not None and self.memory.enabled else None
        if memory is None:
            return await self._global(board, key, me, limit, now)
        owner = board_owner(BoardKeys(self.keys, board, key).channel)
        held_key = _held_key(board, key, me, limit)
        held = memory.get(held_key)
        if held is not None:
            if used is not None:
                used.append((held_key, held))
            return _RANKED.decode(held.body)
        mark = memory.mark(owner)
        ranked = await self._global(board, key, me, limit, now)
        entry = Cached(None, None, 0, "", "", _ENCODER.encode(ranked))
        memory.put(owner, held_key, entry, mark)
        if used is not None:
            used.append((held_key, entry))
        return ranked

    async def _global(self, board: str, key: str, me: uuid.UUID, limit: int, now: datetime) -> _Ranked:
        names = BoardKeys(self.keys, board, key)
        for attempt in range(2):  # a board Redis no longer has is rebuilt, then read again
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.exists(names.ready)
                pipe.zcard(names.scores)
                pipe.zrevrange(names.scores, 0, max(limit, NEIGHBOURS * 2 + 1) - 1, withscores=True)
                pipe.zrevrank(names.scores, str(me))
                ready, size, head, mine = await pipe.execute()
            if ready and size:  # an empty board is asked of Postgres again: cheap, and never wrong
                break
            if attempt == 0:
                await self._ensure(board, key, now)
        else:
            # Empty, or rebuilt and evicted again before it was read (a cache Redis short of memory
            # drops what it was just given): Postgres answers, as when Redis is down.
            return await self._from_postgres(board, key, "global", me, limit)
        leaders = _members(head)
        around: list[tuple[int, uuid.UUID, float]] = []
        if mine is not None:
            first = max(0, mine - NEIGHBOURS)
            if mine + NEIGHBOURS < len(leaders) or len(leaders) == size:
                near = leaders[first : mine + NEIGHBOURS + 1]  # already read with the leaders
            else:
                near = _members(
                    await self.redis.zrevrange(names.scores, first, mine + NEIGHBOURS, withscores=True)
                )
            around = [(first + i, user, score) for i, (user, score) in enumerate(near)]
        return _Ranked(size, leaders[:limit], around, mine)

    async def _friends(self, board: str, key: str, me: uuid.UUID, limit: int, now: datetime) -> _Ranked:
        names = await self._ensure(board, key, now)
        people = [me, *await self._followees(me)]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(names.ready, names.scores)
            pipe.zmscore(names.scores, [str(p) for p in people])
            whole, scores = await pipe.execute()
        if whole != 2:  # evicted since `_ensure` wrote it back: no score would mean "not on the board"
            return await self._from_postgres(board, key, "friends", me, limit)
        members = [(person, score) for person, score in zip(people, scores, strict=True) if score is not None]
        if scores[0] is None:  # the caller always sees themself, opted in or not
            own = await own_score(self.pool, board, key, me)
            if own is not None:
                members.append((me, own))
        return _rank(members, me, limit)

    async def _followees(self, me: uuid.UUID) -> list[uuid.UUID]:
        """Whom the caller follows: from memory until the caller's follows change (their projection
        announces `follows`). Someone erased meanwhile may still be listed; they have no score left."""
        memory = self.memory if self.memory is not None and self.memory.enabled else None
        held_key = _follows_key(me)
        held = memory.get(held_key) if memory is not None else None
        if held is not None:
            body = held.body
            return [uuid.UUID(bytes=body[start : start + 16]) for start in range(0, len(body), 16)]
        mark = memory.mark(me) if memory is not None else None
        rows = await self.pool.fetch("SELECT followee_id FROM rm_follows WHERE user_id = $1", me)
        followees: list[uuid.UUID] = [row["followee_id"] for row in rows]
        if memory is not None and mark is not None:
            body = b"".join(followee.bytes for followee in followees)
            memory.put(me, held_key, Cached(None, None, 0, "", "", body), mark, shows=outbox.FOLLOWS)
        return followees

    async def _from_postgres(self, board: str, key: str, scope: Scope, me: uuid.UUID, limit: int) -> _Ranked:
        rows: list[ScoreRow] = await board_rows(self.pool, board, key)
        if scope == "friends":
            allowed = {me, *await self._followees(me)}
            rows = [row for row in rows if row.user_id in allowed]
        members = [(row.user_id, row.score) for row in rows if row.score is not None]
        if scope == "friends" and all(user != me for user, _ in members):
            own = await own_score(self.pool, board, key, me)
            if own is not None:
                members.append((me, own))
        return _rank(members, me, limit)

    async def _drop(self, board: str, key: str, users: set[uuid.UUID]) -> None:
        names = BoardKeys(self.keys, board, key)
        try:
            await self.redis.zrem(names.scores, *(str(user) for user in users))
            await self.redis.hdel(names.versions, *(str(user) for user in users))
        except RedisError as exc:
            log.warning("leaderboard_cleanup_failed", error=repr(exc))

    async def _names(
        self, people: set[uuid.UUID], used: Used | None = None
    ) -> dict[uuid.UUID, tuple[str, str]]:
        """Handle and display name of each of `people` who still has a profile."""
        known: dict[uuid.UUID, tuple[str, str]] = {}
        memory = self.memory if self.memory is not None and self.memory.enabled else None
        marks = {}
        for user in people:
            held = memory.get(_name_key(user)) if memory is not None else None
            if held is not None:
                known[user] = _NAMES.decode(held.body)
                if used is not None:
                    used.append((_name_key(user), held))
            elif memory is not None:
                marks[user] = memory.mark(user)
        missing = people - set(known)
        if not missing:
            return known

        rows = await self.pool.fetch(
            "SELECT user_id, handle, display_name FROM rm_user_settings WHERE user_id = ANY($1::uuid[])",
            list(missing),
        )
        for row in rows:
            user, names = row["user_id"], (row["handle"], row["display_name"])
            known[user] = names
            if memory is not None and user in marks:
                entry = Cached(None, None, 0, "", "", msgspec.json.encode(names))
                memory.put(user, _name_key(user), entry, marks[user], shows=outbox.PROFILE)
                if used is not None:
                    used.append((_name_key(user), entry))
        return known

    async def _view(
        self, board: str, key: str, scope: Scope, ranked: _Ranked, used: Used | None = None
    ) -> Leaderboard:
        people = {user for user, _ in ranked.top} | {user for _, user, _ in ranked.around}
        known = await self._names(people, used)
        gone = people - set(known)
        if gone:  # erased while a sync was under way: never shown, and taken off the board now
            await self._drop(board, key, gone)

        def standing(rank: int, user: uuid.UUID, score: float) -> Standing | None:
            if user not in known:
                return None
            handle, name = known[user]
            return Standing(rank=rank, user_id=user, handle=handle, display_name=name, score=score)

        top = [s for i, (u, v) in enumerate(ranked.top) if (s := standing(i + 1, u, v))]
        around = [s for i, u, v in ranked.around if (s := standing(i + 1, u, v))]
        me = next((s for s in around if ranked.mine is not None and s.rank == ranked.mine + 1), None)
        return Leaderboard(
            board=board,
            key=key,
            scope=scope,
            unit="x bodyweight" if board == RELATIVE else "kg",
            entries=ranked.size,
            top=top,
            around=around,
            me=me,
        )


_NAMES = msgspec.json.Decoder(tuple[str, str])
_RANKED = msgspec.json.Decoder(_Ranked)
_ENCODER = msgspec.json.Encoder()


def _name_key(user: uuid.UUID) -> str:
    return f"names:{user}"


def _follows_key(me: uuid.UUID) -> str:
    return f"follows:{me}"


def _held_key(board: str, key: str, me: uuid.UUID, limit: int) -> str:
    """What names the caller's place on a global board in the memory cache."""
    return f"lb:{board}:{key}:{me}:{limit}"


async def boards_of(connection: asyncpg.Connection, user_id: uuid.UUID) -> list[tuple[str, str]]:
    """Every board the user has a row on (read before erasing them)."""
    rows = await connection.fetch(
        "SELECT board, board_key FROM rm_leaderboard_scores WHERE user_id = $1", user_id
    )
    return [(row["board"], row["board_key"]) for row in rows]
