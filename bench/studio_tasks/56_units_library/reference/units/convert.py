"""convert(value, from_unit, to_unit) over units.table.FACTORS."""

from units.table import FACTORS


class UnitError(ValueError):
    """An unknown unit, or units of different dimensions."""


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Value in from_unit, expressed in to_unit."""
    unknown = [u for u in (from_unit, to_unit) if u not in FACTORS]
    if unknown:
        raise UnitError(f"unknown unit(s): {', '.join(unknown)}")
    (dim_from, f_from), (dim_to, f_to) = FACTORS[from_unit], FACTORS[to_unit]
    if dim_from != dim_to:
        raise UnitError(f"cannot convert {from_unit} ({dim_from}) to {to_unit} ({dim_to})")
    return value * f_from / f_to
