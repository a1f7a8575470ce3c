"""One clock: the API, commands, queries and projections all read "now" from core.clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from core import clock
from core.redis import Keys
from projections.runner import project_user
from projections.sweeper import SweepSettings, sweep
from tests.accounts import bearer, sign_up
from tests.clocks import offset_of
from tests.workouts import workout

#: New Year's Eve at noon: far from the machine's day, so nothing passes by the machine's clock.
EVE = datetime(2031, 12, 31, 12, 0, tzinfo=UTC)


def test_a_relative_spec_is_that_far_from_the_machine() -> None:
    machine = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert offset_of("+40d", machine) == timedelta(days=40)
    assert offset_of("-6h", machine) == timedelta(hours=-6)
    assert offset_of("+90m", machine) == timedelta(minutes=90)


def test_an_instant_spec_starts_the_run_at_that_instant() -> None:
    machine = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert offset_of("2026-12-31T23:58:00Z", machine) == timedelta(days=27, hours=14, minutes=58)
    assert offset_of("2026-12-04T10:00:00+01:00", machine) == timedelta(0)


@pytest.mark.parametrize("spec", ["tomorrow", "40d", "+40 days", "2026-12-31T23:58:00"])
def test_a_spec_that_is_neither_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="IRONLOG_TEST_CLOCK"):
        offset_of(spec, datetime(2026, 12, 4, tzinfo=UTC))


def test_shifting_the_clock_moves_now_and_it_runs_on(travel: Any) -> None:
    travel(EVE)
    first = clock.now()
    assert timedelta(0) <= first - EVE < timedelta(seconds=5)
    assert abs(clock.timestamp() - first.timestamp()) < 1
    assert clock.now() >= first


async def test_every_layer_reads_the_one_clock(
    client: Any, resources: tuple[asyncpg.Pool, Redis, Keys], travel: Any
) -> None:
    """On a shifted clock: the token it mints is valid, a workout of that day is not "in the
    future", the dashboard's today and the board's current week are that day's, and the sweeper
    finds the dashboard's rollover by the same clock."""
    travel(EVE)
    signed_in = await sign_up(client)  # the access token's times come from the shifted clock
    me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
    assert (await client.patch("/v1/me", json={"leaderboardOptIn": True}, headers=me)).status_code == 200
    # Five years from the machine's today: refused as "in the future" unless commands read this clock.
    logged = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=me)
    assert logged.status_code == 201, logged.text
    assert workout()["startedAt"].startswith("2031-12-31")
    await project_user(*resources, user_id)

    dashboard = (await client.get("/v1/stats/dashboard", headers=me)).json()
    assert dashboard["asOf"] == "2031-12-31"
    assert dashboard["thisWeek"] == {
        "weekStart": "2031-12-29",  # Monday
        "totals": {"workouts": 1, "sets": 1, "volumeKg": 510.06, "durationS": 4200},
    }
    board = (await client.get("/v1/leaderboards/weekly-volume", headers=me)).json()
    assert board["key"] == "2032-W01"  # 2031-12-31 is the Wednesday of ISO week 2032-W01
    assert [entry["userId"] for entry in board["top"]] == [str(user_id)]

    pool = resources[0]
    rollover = await pool.fetchval("SELECT rollover_at FROM rm_dashboards WHERE user_id = $1", user_id)
    assert rollover == datetime(2032, 1, 1, tzinfo=UTC)  # the user's next midnight (UTC by default)

    async def swept_for_rollover() -> bool:
        poked: list[tuple[uuid.UUID, bool]] = []

        async def poke(poked_user: uuid.UUID, refresh_dashboard: bool) -> None:
            poked.append((poked_user, refresh_dashboard))

        async with pool.acquire() as connection:
            await sweep(connection, poke, SweepSettings(grace_s=3600))
        return (user_id, True) in poked

    assert not await swept_for_rollover()  # noon: the day has not passed
    # After midnight by the product's clock (Postgres's is years earlier, and would not see it):
    travel(datetime(2032, 1, 1, 0, 0, 5, tzinfo=UTC))
    assert await swept_for_rollover()
