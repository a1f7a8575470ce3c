"""What a set must carry for its exercise's measurement kind, as camelCase field names."""

from __future__ import annotations

import pytest

from core.catalog import MEASUREMENTS, Measurement
from core.measurements import missing_fields


def missing(
    measurement: Measurement,
    reps: int | None = None,
    has_weight: bool = False,
    duration_s: int | None = None,
    distance_m: float | None = None,
) -> list[str]:
    return missing_fields(
        measurement, reps=reps, has_weight=has_weight, duration_s=duration_s, distance_m=distance_m
    )


@pytest.mark.parametrize(
    ("reps", "has_weight", "expected"),
    [(5, True, []), (None, True, ["reps"]), (5, False, ["weight"]), (None, False, ["reps", "weight"])],
)
def test_weight_reps_needs_reps_and_weight(reps: int | None, has_weight: bool, expected: list[str]) -> None:
    assert missing("weight_reps", reps=reps, has_weight=has_weight) == expected


def test_zero_reps_are_present_not_missing() -> None:
    assert missing("weight_reps", reps=0, has_weight=True) == []


@pytest.mark.parametrize("measurement", ["reps_only", "weighted_bodyweight", "assisted_bodyweight"])
def test_bodyweight_kinds_need_reps_only(measurement: Measurement) -> None:
    assert missing(measurement, reps=8) == []
    assert missing(measurement, reps=8, has_weight=True) == []
    assert missing(measurement) == ["reps"]
    assert missing(measurement, has_weight=True, duration_s=30) == ["reps"]


def test_duration_needs_duration() -> None:
    assert missing("duration", duration_s=60) == []
    assert missing("duration", duration_s=0) == []
    assert missing("duration") == ["durationS"]
    assert missing("duration", reps=10, has_weight=True, distance_m=100.0) == ["durationS"]


@pytest.mark.parametrize(("duration_s", "distance_m"), [(1800, 5000.0), (1800, None), (None, 5000.0)])
def test_distance_duration_needs_either(duration_s: int | None, distance_m: float | None) -> None:
    assert missing("distance_duration", duration_s=duration_s, distance_m=distance_m) == []


def test_distance_duration_with_neither_reports_the_distance() -> None:
    assert missing("distance_duration") == ["distanceM"]
    assert missing("distance_duration", reps=3, has_weight=True) == ["distanceM"]


@pytest.mark.parametrize("measurement", sorted(MEASUREMENTS))
def test_every_kind_is_satisfied_by_a_full_set_and_not_by_an_empty_one(measurement: Measurement) -> None:
    full = missing(measurement, reps=5, has_weight=True, duration_s=60, distance_m=400.0)
    assert full == []
    assert missing(measurement) != []
