"""Weight units: loads are kept as entered and converted to kg exactly, as Decimals."""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Literal

KG_PER_LB = Decimal("0.45359237")  # the international pound, exact by definition

# Wide enough that any float's repr times KG_PER_LB is exact, whatever the caller's context says.
_EXACT = Context(prec=60)


def as_entered(value: float) -> Decimal:
    """The decimal a float's shortest repr shows: the number the lifter typed (224.9 is
    Decimal("224.9")), or a stored 2-decimal kg value without float noise."""
    return Decimal(repr(value))


def to_kg(value: float, unit: Literal["kg", "lb"]) -> Decimal:
    """`value` in `unit` as kg, exact (no rounding): 224.9 lb is 102.012924013 kg."""
    entered = as_entered(value)
    if unit == "kg":
        return entered
    return _EXACT.multiply(entered, KG_PER_LB)
