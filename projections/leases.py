"""Per-user projection leases: who projects a user, until when, from which Postgres backend.

A lease alone cannot free what a frozen holder's transaction keeps (its row locks, the user's advisory
lock), nor stop its commit once it thaws. So whoever takes a lease that expired while still held
ends the holder's backend first (`pg_terminate_backend`): Postgres rolls the frozen transaction back
and its late commit becomes impossible. And the fencing: the batch transaction locks its lease row
and checks its token before anything else, and the checkpoint is written only while that token
still holds, so a batch whose lease was taken can never commit.

Process-wide duties (the sweeper) hold a lease of their own in `worker_leases`, renewed every round.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from dataclasses import dataclass

import asyncpg

#: How often a projection waiting for another's lease looks again.
_POLL_S = 0.01


def new_owner() -> str:
    """A name no other holder has: the process and a random part (one per projection call)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class LeaseLost(Exception):
    """The lease was taken by another owner: this batch must not commit."""


@dataclass(frozen=True, slots=True)
class Lease:
    user_id: uuid.UUID
    owner: str
    token: int


async def acquire(
    connection: asyncpg.Connection, user_id: uuid.UUID, owner: str, ttl_s: float, wait_s: float
) -> Lease | None:
    """Take the user's lease for `ttl_s` on behalf of `connection`'s backend, waiting at most `wait_s`
    while another owner holds it; an expired one is taken over, its holder's backend ended first.
    None when it stayed held. Runs outside any transaction (each statement commits)."""
    # The common case, in one round trip: it was handed back. An UPDATE, not an upsert: Postgres
    # skips a row whose visible version fails the condition without waiting for the row's lock,
    # which a frozen holder's transaction may keep for ever (ON CONFLICT locks first).
    token = await connection.fetchval(
        """
        UPDATE projection_leases SET owner = $2, token = token + 1,
            deadline = now() + make_interval(secs => $3), backend_pid = pg_backend_pid()
        WHERE user_id = $1 AND backend_pid IS NULL
        RETURNING token
        """,
        user_id,
        owner,
        ttl_s,
    )
    if token is not None:
        return Lease(user_id, owner, token)
    give_up = time.monotonic() + wait_s
    while True:
        held = await connection.fetchrow(
            """
            SELECT token, owner, backend_pid,
                -- a holder whose backend is gone (its process died) holds nothing any more
                deadline < now() OR NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = backend_pid)
                    AS expired
            FROM projection_leases WHERE user_id = $1
            """,
            user_id,
        )
        if held is not None and held["backend_pid"] is not None and held["owner"] != owner:
            if not held["expired"]:
                if time.monotonic() >= give_up:
                    return None
                await asyncio.sleep(_POLL_S)
                continue
            # Expired while held: its holder may be frozen mid-transaction. End that backend, which
            # rolls its transaction back and frees what it locked (never our own backend).
            await connection.execute(
                "SELECT pg_terminate_backend($1) WHERE $1 <> pg_backend_pid()", held["backend_pid"]
            )
        token = await connection.fetchval(
            """
            INSERT INTO projection_leases AS l (user_id, owner, token, deadline, backend_pid)
            VALUES ($1, $2, 1, now() + make_interval(secs => $3), pg_backend_pid())
            ON CONFLICT (user_id) DO UPDATE SET owner = EXCLUDED.owner, token = l.token + 1,
                deadline = EXCLUDED.deadline, backend_pid = EXCLUDED.backend_pid
            WHERE l.token = $4
            RETURNING token
            """,
            user_id,
            owner,
            ttl_s,
            held["token"] if held is not None else 0,
        )
        if token is not None:
            return Lease(user_id, owner, token)
        # Someone else changed it between our look and our write: look again.


async def hold(
    connection: asyncpg.Connection,
    lease: Lease,
    *,
    shared_lock: int | None = None,
    user_lock: int | None = None,
) -> None:
    """In the batch transaction, before anything else: lock the lease row while it is still ours
    (a taker then has to end this backend before it can write it). LeaseLost when it is not.

    A caller that needs advisory locks before the lease row passes them: `shared_lock` is taken
    shared, then `user_lock` exclusively, then the lease row, in this order and in one round trip
    (Postgres evaluates a select list left to right)."""
    ours = await connection.fetchval(
        """
        SELECT CASE WHEN $4::bigint IS NOT NULL THEN pg_advisory_xact_lock_shared($4) END,
            CASE WHEN $5::bigint IS NOT NULL THEN pg_advisory_xact_lock($5) END,
            EXISTS (
                SELECT 1 FROM projection_leases WHERE user_id = $1 AND owner = $2 AND token = $3 FOR UPDATE
            ) AS ours
        """,
        lease.user_id,
        lease.owner,
        lease.token,
        shared_lock,
        user_lock,
        column=2,
    )
    if not ours:
        raise LeaseLost(f"the projection lease of {lease.user_id} was taken")


async def take_duty(connection: asyncpg.Connection, name: str, owner: str, ttl_s: float) -> bool:
    """Take or renew the process-wide duty `name` (the sweeper) for `ttl_s`, unless another owner
    holds it unexpired. A holder frozen past its deadline finds it taken when it thaws."""
    taken: bool | None = await connection.fetchval(
        """
        INSERT INTO worker_leases AS l (name, owner, deadline)
        VALUES ($1, $2, now() + make_interval(secs => $3))
        ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, deadline = EXCLUDED.deadline
        WHERE l.owner = EXCLUDED.owner OR l.deadline < now()
        RETURNING true
        """,
        name,
        owner,
        ttl_s,
    )
    return bool(taken)


async def hand_back_duty(connection: asyncpg.Connection, name: str, owner: str) -> None:
    """Let another take the duty at once."""
    await connection.execute(
        "UPDATE worker_leases SET deadline = now() WHERE name = $1 AND owner = $2", name, owner
    )


def hand_back(owner: str, token: str) -> str:
    """The statement that hands a lease back at once (nobody's backend to end), if it is still ours:
    `$1` is the user, `owner` and `token` the placeholders of the lease's. A batch's last statement
    hands it back this way, in the batch's transaction (store.advance_part); `release` does it on its own."""
    return f"""
        UPDATE projection_leases SET deadline = now(), backend_pid = NULL
        WHERE user_id = $1 AND owner = {owner} AND token = {token}
    """  # noqa: S608 - placeholders only


async def release(connection: asyncpg.Connection, lease: Lease) -> None:
    """Hand the lease back at once, if it is still ours."""
    await connection.execute(hand_back("$2", "$3"), lease.user_id, lease.owner, lease.token)
