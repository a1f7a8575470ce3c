"""The dashboard's muscle and body-weight cards, projected from what the lifter logged."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from core import clock
from tests.accounts import bearer, sign_up
from tests.harness import read_fresh

pytestmark = pytest.mark.e2e


async def test_the_dashboard_counts_sets_per_muscle_and_trends_body_weight(
    client: Any, start_worker: Any
) -> None:
    start_worker()
    me = bearer(await sign_up(client))
    yesterday = clock.now() - timedelta(days=1)
    bench = {
        "title": "Push",
        "startedAt": yesterday.isoformat(),
        "exercises": [
            {
                "exerciseId": "barbell-bench-press",
                "sets": [
                    {"type": "warmup", "reps": 10, "weight": {"value": 60, "unit": "kg"}},
                    {"reps": 5, "weight": {"value": 100, "unit": "kg"}},
                    {"reps": 5, "weight": {"value": 100, "unit": "kg"}, "completed": False},
                    {"reps": 5, "weight": {"value": 100, "unit": "kg"}},
                ],
            }
        ],
    }
    await client.put(f"/v1/workouts/{uuid.uuid4()}", json=bench, headers=me)
    day = yesterday.date()
    await client.put(
        f"/v1/bodyweight/{day - timedelta(days=7)}", json={"weight": {"value": 81, "unit": "kg"}}, headers=me
    )
    last = await client.put(f"/v1/bodyweight/{day}", json={"weight": {"value": 80, "unit": "kg"}}, headers=me)

    board = (await read_fresh(client, "/v1/stats/dashboard", me, last.headers["x-consistency-token"])).json()

    expected = [
        {"muscle": "chest", "sets": 2.0},
        {"muscle": "shoulders", "sets": 1.0},
        {"muscle": "triceps", "sets": 1.0},
    ]
    assert board["muscleSets"] == {"last7Days": expected, "last30Days": expected}
    assert board["bodyweight"]["latest"]["kg"] == 80.0
    assert board["bodyweight"]["change7DaysKg"] == -1.0
