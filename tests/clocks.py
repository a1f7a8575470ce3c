"""The test run's calendar: the suite can run as if it were another day (IRONLOG_TEST_CLOCK).

`+40d`, `-3d`, `+400d`, `+6h`: the product's clock (core.clock) runs that far from the machine's;
an RFC 3339 instant (`2026-12-31T23:57:00Z`): the run starts at that instant. The conftest turns the
spec into IRONLOG_CLOCK_OFFSET_S once, so the test process and every process it starts share one
clock. Postgres keeps the machine's clock: no test compares its `now()` with the product's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

SPEC_VARIABLE = "IRONLOG_TEST_CLOCK"
_RELATIVE = re.compile(r"^([+-])(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def offset_of(spec: str, machine_now: datetime) -> timedelta:
    """The distance from the machine's clock that `spec` asks for."""
    spec = spec.strip()
    relative = _RELATIVE.match(spec)
    if relative is not None:
        sign, amount, unit = relative.groups()
        offset = timedelta(**{_UNITS[unit]: int(amount)})
        return -offset if sign == "-" else offset
    try:
        moment = datetime.fromisoformat(spec.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{SPEC_VARIABLE} must be like +40d, -6h or an instant like 2026-12-31T23:57:00Z, got {spec!r}"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{SPEC_VARIABLE} needs an offset or Z: {spec!r}")
    return moment - machine_now


def describe(offset_s: float) -> str:
    """One line for the test report: where the run's clock stands."""
    start = datetime.now(UTC) + timedelta(seconds=offset_s)
    return f"clock: {start.isoformat(timespec='seconds')} (machine {offset_s / 86_400:+.2f} days)"
