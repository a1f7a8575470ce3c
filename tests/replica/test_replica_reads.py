"""Reads on a streaming replica: routed there, never behind a consistency token, and a replica that is
down or lagging leaves the rotation (the primary answers, without errors) and comes back."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

import httpx

from tests.accounts import new_identity
from tests.faults.stack import Lifter
from tests.replica.conftest import Replicated
from tests.test_observability import ONLY_WITH_REPLICAS

#: The day of the body weights the tests record; any date will do, the list is by date.
DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]


def reads(metrics: str, target: str, reason: str) -> float:
    """`ironlog_db_reads_total` for one target and reason in a /metrics page."""
    labels = rf'(?=[^}}]*reason="{reason}")(?=[^}}]*target="{target}")'
    pattern = rf"ironlog_db_reads_total\{{{labels}[^}}]*\}} (\S+)"
    return sum(float(value) for value in re.findall(pattern, metrics))


async def counted(client: httpx.AsyncClient, target: str, reason: str) -> float:
    return reads((await client.get("/metrics")).text, target, reason)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def found_by_handle(client: httpx.AsyncClient, lifter: Lifter, handle: str) -> bool:
    response = await client.get("/v1/users", params={"handle": handle}, headers=lifter.headers)
    assert response.status_code == 200, response.text
    return any(user["handle"] == handle for user in response.json()["items"])


async def register(client: httpx.AsyncClient) -> str:
    identity = new_identity()
    response = await client.post("/v1/auth/register", json=identity)
    assert response.status_code == 201, response.text
    return str(identity["handle"])


async def test_reads_run_on_the_replica_and_a_token_read_is_never_behind(one_replica: Replicated) -> None:
    ironlog, (replica,) = one_replica, one_replica.standbys
    ironlog.start_api()
    ironlog.start_worker()
    async with httpx.AsyncClient(base_url=ironlog.base, timeout=30) as client:
        lifter = await ironlog.sign_up(client)
        first = await register(client)
        await eventually(lambda: found_by_handle(client, lifter, first), 10, "a sign-up replayed")
        assert await counted(client, "replica", "routed") > 0
        exported = (await client.get("/metrics")).text
        for series in ONLY_WITH_REPLICAS:  # what the dashboard and the alert read
            assert f"{series}{{" in exported, series

        # The replica stops replaying: what it serves stays as it was.
        replica.sql("SELECT pg_wal_replay_pause()")
        unseen = await register(client)
        for _ in range(5):
            assert not await found_by_handle(client, lifter, unseen), "a search ran on the primary"

        # A write read back with its token: the replica is behind it, so the primary answers, fresh.
        behind = await counted(client, "primary", "replica_behind")
        written = await client.put(
            f"/v1/bodyweight/{DAYS[0]}",
            json={"weight": {"value": 81.5, "unit": "kg"}},
            headers=lifter.headers,
        )
        assert written.status_code == 204, written.text
        token = written.headers["x-consistency-token"]
        listed = await client.get("/v1/bodyweight", headers={**lifter.headers, "X-Consistency-Token": token})
        assert listed.status_code == 200, listed.text
        assert "x-consistency" not in listed.headers
        assert [entry["date"] for entry in listed.json()["items"]] == [DAYS[0]]
        assert await counted(client, "primary", "replica_behind") > behind
        # Without a token the list never goes back behind what was served (Redis knows it was synced).
        again = await client.get("/v1/bodyweight", headers=lifter.headers)
        assert [entry["date"] for entry in again.json()["items"]] == [DAYS[0]]

        replica.sql("SELECT pg_wal_replay_resume()")
        await eventually(lambda: found_by_handle(client, lifter, unseen), 10, "replay to resume")


async def test_a_replica_down_or_lagging_leaves_the_rotation_and_comes_back(one_replica: Replicated) -> None:
    ironlog, (replica,) = one_replica, one_replica.standbys
    ironlog.start_api(IRONLOG_REPLICA_MAX_LAG_S="1")
    async with httpx.AsyncClient(base_url=ironlog.base, timeout=30) as client:
        lifter = await ironlog.sign_up(client)
        await eventually(lambda: _in_rotation(client, 1), 10, "the replica to join the rotation")

        # Down: every read is answered by the primary, none fails.
        replica.stop("immediate")
        for _ in range(20):
            handle = await register(client)
            assert await found_by_handle(client, lifter, handle)
        await eventually(lambda: _in_rotation(client, 0), 10, "the replica to leave the rotation")
        replica.start()
        await eventually(lambda: _in_rotation(client, 1), 15, "the replica to come back")

        # Lagging: with replay paused and the primary writing, it leaves the rotation after 1 s, so a
        # search sees the primary's users although the replica has not replayed them.
        replica.sql("SELECT pg_wal_replay_pause()")
        await eventually(
            lambda: _lagging_out(client, ironlog), 15, "the paused replica to leave the rotation"
        )
        handle = await register(client)
        assert await found_by_handle(client, lifter, handle)
        replica.sql("SELECT pg_wal_replay_resume()")
        await eventually(lambda: _in_rotation(client, 1), 15, "the caught-up replica to come back")


async def _in_rotation(client: httpx.AsyncClient, value: int) -> bool:
    text = (await client.get("/metrics")).text
    found = re.findall(r"ironlog_db_replica_in_rotation\{[^}]*\} (\S+)", text)
    return bool(found) and all(float(v) == value for v in found)


async def _lagging_out(client: httpx.AsyncClient, ironlog: Replicated) -> bool:
    await register(client)  # WAL the paused replica does not replay
    return await _in_rotation(client, 0)
