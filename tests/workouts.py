"""Workout bodies for tests, dated by the run's clock so that they are always today's."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

from core import clock

_EXERCISES: list[dict[str, Any]] = [
    {
        "exerciseId": "barbell-bench-press",
        "sets": [
            {"type": "warmup", "reps": 10, "weight": {"value": 60, "unit": "kg"}},
            {"reps": 5, "weight": {"value": 224.9, "unit": "lb"}, "rpe": 8},
        ],
    }
]
#: The working-set volume of `workout()`: 5 x 224.9 lb, in kg.
PUSH_DAY_VOLUME_KG = 510.06
DURATION = timedelta(minutes=70)
#: The offset the phone sends its times with (a lifter in Central Europe).
_PHONE = timezone(timedelta(hours=1))


def today_session(now: datetime | None = None) -> tuple[str, str]:
    """(startedAt, endedAt) of a 70-minute session that ended just now, or that began at midnight
    UTC when less than 70 minutes of today have passed: the same UTC day, week and year as now."""
    now = now or clock.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    started = max(now - DURATION, midnight).replace(microsecond=0)
    return started.astimezone(_PHONE).isoformat(), (started + DURATION).astimezone(_PHONE).isoformat()


def workout(**changes: Any) -> dict[str, Any]:
    """A push day logged today, with top-level fields changed."""
    started_at, ended_at = today_session()
    body: dict[str, Any] = {
        "title": "Push day",
        "startedAt": started_at,
        "endedAt": ended_at,
        "exercises": copy.deepcopy(_EXERCISES),
    }
    body.update(changes)
    return body
