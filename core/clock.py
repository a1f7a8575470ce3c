"""The one clock: every "now" that the API, commands, queries, projections and workers reason about.

Dates and instants of the product (a workout's "not in the future", today in a user's zone, this
week's board, token lifetimes, a dashboard's rollover) all come from `now()`. Tests move it:
`IRONLOG_CLOCK_OFFSET_S` (refused in production) shifts every process of a run by the same
amount, and `shift_to` moves this process alone. Postgres's own clock is used only where the
database compares its own timestamps with each other (how long a user has been pending
projection); any comparison with a time of the product passes `now()` as a parameter.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from core.settings import get_settings


class _Offset:
    """The distance from the machine's clock; None until first read from the settings."""

    value: timedelta | None = None


def now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC) + (_Offset.value if _Offset.value is not None else _configured())


def timestamp() -> float:
    """The current instant as Unix seconds."""
    return time.time() + (_Offset.value if _Offset.value is not None else _configured()).total_seconds()


def shift_to(moment: datetime | None) -> None:
    """Make this process's clock read `moment` now and run on from there; None: back to the settings."""
    _Offset.value = None if moment is None else moment - datetime.now(UTC)


def _configured() -> timedelta:
    _Offset.value = timedelta(seconds=get_settings().clock_offset_s)
    return _Offset.value
