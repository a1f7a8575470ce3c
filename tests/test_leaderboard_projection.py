"""What a projection batch writes of a user's leaderboard rows (projections/leaderboards.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from core import clock
from projections.runner import project_user
from tests.accounts import bearer, sign_up

SQUAT, BENCH = "barbell-back-squat", "barbell-bench-press"


def day(days_ago: int, **kg: float) -> dict[str, Any]:
    started = (clock.now() - timedelta(days=days_ago, hours=2)).replace(microsecond=0)
    return {
        "title": f"Day {days_ago}",
        "startedAt": started.isoformat(),
        "exercises": [
            {"exerciseId": exercise_id, "sets": [{"reps": 5, "weight": {"value": weight, "unit": "kg"}}]}
            for exercise_id, weight in kg.items()
        ],
    }


async def test_a_changed_opt_in_restamps_every_row_even_those_the_same_batch_writes_unchanged(
    client: Any, resources: tuple[Any, Any, Any]
) -> None:
    pool, redis, keys = resources
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
    assert (await client.patch("/v1/me", json={"leaderboardOptIn": True}, headers=me)).status_code == 200
    weight = {"weight": {"value": 80, "unit": "kg"}}
    weighed_on = (clock.now() - timedelta(days=10)).date()
    assert (await client.put(f"/v1/bodyweight/{weighed_on}", json=weight, headers=me)).is_success
    for days_ago, kg in ((3, {SQUAT: 140.0, BENCH: 100.0}), (2, {SQUAT: 150.0})):
        assert (
            await client.put(f"/v1/workouts/{uuid.uuid4()}", json=day(days_ago, **kg), headers=me)
        ).is_success
    await project_user(pool, redis, keys, user_id)
    before = await pool.fetchval("SELECT max(version) FROM rm_leaderboard_scores WHERE user_id = $1", user_id)

    # In one batch: the opt-out, and a squat that changes the week's volume but not the squat's best.
    assert (await client.patch("/v1/me", json={"leaderboardOptIn": False}, headers=me)).status_code == 200
    logged = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=day(1, **{SQUAT: 100.0}), headers=me)
    assert logged.is_success
    assert (await project_user(pool, redis, keys, user_id)).applied == 2
    version = int(logged.headers["x-consistency-token"])
    rows = await pool.fetch(
        "SELECT board, board_key, score, version FROM rm_leaderboard_scores WHERE user_id = $1", user_id
    )
    assert {row["board"] for row in rows} >= {"weekly-volume", "e1rm", "e1rm-relative"}
    # Each row carries the batch's version, so the sync sends every one of them to Redis as a removal.
    assert version > before and {row["version"] for row in rows} == {version}, rows
