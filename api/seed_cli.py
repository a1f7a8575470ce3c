"""What `ironlog seed` does: register seeded users, then write their histories in batches.

Users are registered with `register_user` (one password hash for all) and given their preferences
with `update_profile`. Their histories (commands.seed) go through `commands.bulk.record_histories`,
a batch of users per transaction, on several connections at once; a batch is generated in a thread
while other batches are being written. After each commit the workers are poked for the batch's
users; a lost poke is the sweeper's to recover.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date

import asyncpg
import click
import msgspec
import structlog

from commands.accounts import RegisterUser, UpdateProfile, register_user, update_profile
from commands.bulk import History, record_histories
from commands.passwords import PasswordHasher
from commands.seed import SeedPlan, SeedUser, history_of, plan_users
from core import clock
from core.db import close_pool, open_pool
from core.errors import Conflict
from core.settings import Settings
from workers.enqueue import Enqueuer

log = structlog.get_logger(__name__)

#: Every seeded user's password.
PASSWORD = "ironlog-seed-password"  # noqa: S105 - sample accounts, documented in `ironlog seed --help`
#: About this many workouts go into one transaction: big enough for COPY to pay, small enough to
#: keep several batches in flight and the progress bar moving.
BATCH_WORKOUTS = 1500
WORKOUTS_PER_USER_MONTH = 14
#: Users registered per transaction.
REGISTRATION_BATCH = 50


class SeedProgress(msgspec.Struct, frozen=True):
    """How far a seeding is, reported after each committed batch."""

    users_done: int
    users_total: int
    workouts: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        """Workouts written per second so far."""
        return self.workouts / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if not self.users_done:
            return None
        return self.elapsed_s * (self.users_total - self.users_done) / self.users_done


class SeedResult(msgspec.Struct, frozen=True):
    """What a seeding wrote (events include the registrations) and how long it took, all in."""

    users: int
    workouts: int
    sets: int
    events: int
    seconds: float

    @property
    def workouts_per_s(self) -> float:
        return self.workouts / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (
            f"seeded {self.users:,} users: {self.workouts:,} workouts, {self.sets:,} sets, "
            f"{self.events:,} events appended in {self.seconds:.1f} s ({self.workouts_per_s:,.0f} workouts/s)"
        )


def progress_bar() -> Callable[[SeedProgress], None]:
    """Draws `users done / total · workouts · workouts/s · ETA` on stderr."""

    def draw(progress: SeedProgress) -> None:
        eta = progress.eta_s
        width = 30
        filled = int(width * progress.users_done / progress.users_total)
        bar = "#" * filled + "-" * (width - filled)
        click.echo(
            f"\r[{bar}] {progress.users_done:,}/{progress.users_total:,} users · {progress.workouts:,} "
            f"workouts · {progress.rate:,.0f} workouts/s · ETA {'?' if eta is None else f'{eta:,.0f} s'}   ",
            err=True,
            nl=False,
        )

    return draw


class _Poker:
    """Pokes the workers for users whose writes committed; after a failed send it stops trying."""

    def __init__(self, settings: Settings) -> None:
        self._enqueuer = Enqueuer(settings)
        self._broken = False

    async def poke(self, user_ids: Sequence[uuid.UUID]) -> None:
        for user_id in user_ids:
            if self._broken:
                return
            sent = await self._enqueuer.send(self._enqueuer.actors.project_user, str(user_id))
            if sent is None:
                log.warning(
                    "seed_pokes_stopped", reason="broker unavailable; the sweeper will find the users"
                )
                self._broken = True

    def close(self) -> None:
        self._enqueuer.close()


def users_per_batch(months: int) -> int:
    """How many users' histories make about BATCH_WORKOUTS workouts."""
    return max(1, min(64, round(BATCH_WORKOUTS / (WORKOUTS_PER_USER_MONTH * months))))


async def _register(
    connection: asyncpg.Connection, users: Sequence[SeedUser], password_hash: str, request_id: str
) -> tuple[list[uuid.UUID], int]:
    """Register `users` with their preferences in one transaction; their ids and the events appended."""
    ids, events = [], 0
    async with connection.transaction():
        for user in users:
            command = RegisterUser(
                email=user.email, password=PASSWORD, display_name=user.display_name, handle=user.handle
            )
            try:
                registered = await register_user(
                    connection, command, password_hash, now=user.registered_at, request_id=request_id
                )
            except Conflict as exc:  # registered meanwhile by another process
                raise ValueError(
                    f"{user.email} or handle {user.handle} is taken; choose another --seed"
                ) from exc
            profile = UpdateProfile(
                timezone=user.timezone,
                unit=user.unit,
                week_start=user.week_start,
                e1rm_formula=user.e1rm_formula,
                leaderboard_opt_in=user.leaderboard_opt_in,
            )
            updated = await update_profile(
                connection, registered.account.id, profile, now=user.registered_at, request_id=request_id
            )
            ids.append(registered.account.id)
            events += 1 + (updated is not None and updated.stream_version is not None)
    return ids, events


def _histories(plan: SeedPlan, numbers: Sequence[int], user_ids: Sequence[uuid.UUID]) -> list[History]:
    return [history_of(plan, number, user_ids) for number in numbers]


async def _register_all(
    pool: asyncpg.Pool, plan: SeedPlan, password_hash: str, *, writers: int, request_id: str
) -> tuple[list[uuid.UUID], int]:
    """Register every user of the plan, `writers` transactions at a time; user n's id is the nth.

    ValueError, before anything is written, when one of the emails is taken.
    """
    emails = [user.email for user in plan.users]
    taken = await pool.fetchval(
        "SELECT email FROM users WHERE email_normalised = ANY($1::text[]) LIMIT 1", emails
    )
    if taken is not None:
        raise ValueError(
            f"{taken} exists: this seed was written to this database before; choose another --seed"
        )
    chunks = [plan.users[i : i + REGISTRATION_BATCH] for i in range(0, len(plan.users), REGISTRATION_BATCH)]

    async def register(chunk: Sequence[SeedUser]) -> tuple[list[uuid.UUID], int]:
        async with pool.acquire() as connection:
            return await _register(connection, chunk, password_hash, request_id)

    registered = []
    for i in range(0, len(chunks), writers):
        registered += await asyncio.gather(*(register(chunk) for chunk in chunks[i : i + writers]))
    return [user_id for ids, _ in registered for user_id in ids], sum(events for _, events in registered)


async def seed(
    settings: Settings,
    *,
    users: int,
    months: int,
    seed: int,
    today: date | None = None,
    writers: int = 2,
    on_progress: Callable[[SeedProgress], None] = lambda _: None,
) -> SeedResult:
    """Register `users` seeded users and write `months` months of history for each, ending `today` (UTC).

    ValueError when this seed's users already exist in the database.
    """
    started = time.perf_counter()
    plan = plan_users(seed, users, months, today or clock.now().date())
    request_id = f"seed-{seed}"
    pool = await open_pool(settings.with_pool_size(1, writers), "cli")
    hasher = PasswordHasher(settings.auth)
    poker = _Poker(settings)
    try:
        password_hash = await hasher.hash(PASSWORD)
        user_ids, events = await _register_all(
            pool, plan, password_hash, writers=writers, request_id=request_id
        )
        size = users_per_batch(months)
        batches = iter([list(range(i, min(i + size, users))) for i in range(0, users, size)])
        workouts = sets = done = 0

        async def write() -> None:
            nonlocal workouts, sets, events, done
            for numbers in batches:  # shared by the writers: each batch is taken once
                # Generated in a thread, so this loop keeps feeding the other writers' COPYs meanwhile.
                histories = await asyncio.to_thread(_histories, plan, numbers, user_ids)
                async with pool.acquire() as connection:
                    recorded = await record_histories(
                        connection, histories, now=clock.now(), request_id=request_id
                    )
                await poker.poke([user_ids[n] for n in numbers])
                workouts += recorded.workouts
                sets += recorded.sets
                events += recorded.events
                done += len(numbers)
                on_progress(SeedProgress(done, users, workouts, time.perf_counter() - started))

        async with asyncio.TaskGroup() as group:  # a failing writer stops the others
            for _ in range(writers):
                group.create_task(write())
    finally:
        poker.close()
        hasher.close()
        await close_pool(pool)
    return SeedResult(users, workouts, sets, events, time.perf_counter() - started)
