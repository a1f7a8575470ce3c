"""Estimated one-rep max (e1RM) from a set of reps at a weight."""

from __future__ import annotations

from typing import assert_never

from commands.events import E1rmFormula

# Both formulas drift badly past a dozen reps, so longer sets give no estimate.
MAX_E1RM_REPS = 12


def e1rm(weight_kg: float, reps: int, formula: E1rmFormula) -> float | None:
    """The estimated 1RM in kg, 2 decimals; None unless 1 <= reps <= 12 and the weight is positive."""
    if not (1 <= reps <= MAX_E1RM_REPS) or weight_kg <= 0:
        return None
    if reps == 1:
        # A single is a true max; raw Epley would inflate it by 1/30.
        return round(weight_kg, 2)
    if formula == "epley":
        return round(weight_kg * (1 + reps / 30), 2)
    if formula == "brzycki":
        return round(weight_kg * 36 / (37 - reps), 2)
    assert_never(formula)
