"""Workout bodies for tests."""

from __future__ import annotations

import copy
from typing import Any

PUSH_DAY: dict[str, Any] = {
    "title": "Push day",
    "startedAt": "2026-11-26T18:00:00+01:00",
    "endedAt": "2026-11-26T19:10:00+01:00",
    "exercises": [
        {
            "exerciseId": "barbell-bench-press",
            "sets": [
                {"type": "warmup", "reps": 10, "weight": {"value": 60, "unit": "kg"}},
                {"reps": 5, "weight": {"value": 224.9, "unit": "lb"}, "rpe": 8},
            ],
        }
    ],
}
#: The working-set volume of PUSH_DAY: 5 x 224.9 lb, in kg.
PUSH_DAY_VOLUME_KG = 510.06


def workout(**changes: Any) -> dict[str, Any]:
    """A copy of PUSH_DAY with top-level fields changed."""
    body = copy.deepcopy(PUSH_DAY)
    body.update(changes)
    return body
