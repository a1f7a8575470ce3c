"""What a logged set must carry, given how its exercise is measured.

Pure rules, shared by the write side (refusing an incomplete set) and imports (reporting one).
Field names are the wire's camelCase, so a caller can put them straight into an error.
"""

from __future__ import annotations

from typing import assert_never

from core.catalog import Measurement


def missing_fields(
    measurement: Measurement,
    *,
    reps: int | None,
    has_weight: bool,
    duration_s: int | None,
    distance_m: float | None,
) -> list[str]:
    """The fields a set of this measurement lacks, in wire order; empty when it is complete.

    Bodyweight kinds need only reps: the lifter's body is the load, and a weight, when given,
    is what was added (a dip belt) or what assisted (the machine's counterweight).
    A distance_duration set needs either value (a timed run, a measured row); with neither,
    "distanceM" is reported because the distance is what the exercise is usually logged by.
    """
    lacking_reps = ["reps"] if reps is None else []
    match measurement:
        case "weight_reps":
            return lacking_reps if has_weight else [*lacking_reps, "weight"]
        case "reps_only" | "weighted_bodyweight" | "assisted_bodyweight":
            return lacking_reps
        case "duration":
            return ["durationS"] if duration_s is None else []
        case "distance_duration":
            return ["distanceM"] if distance_m is None and duration_s is None else []
        case _:
            # A new measurement kind must decide its rules here; mypy fails until it does.
            assert_never(measurement)
