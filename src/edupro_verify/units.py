"""Quantities with units, as the specs write them ("100 ms", "8 GB", "2.4 GHz", "99.9 %")."""

from __future__ import annotations

import re
from dataclasses import dataclass

# unit -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "ms": ("duration", 0.001), "s": ("duration", 1), "min": ("duration", 60), "h": ("duration", 3600),
    "d": ("duration", 86400), "weeks": ("duration", 7 * 86400),
    "B": ("size", 1), "KB": ("size", 1e3), "MB": ("size", 1e6), "GB": ("size", 1e9), "TB": ("size", 1e12),
    "KiB": ("size", 1024), "MiB": ("size", 1024**2), "GiB": ("size", 1024**3),
    "MHz": ("frequency", 1e6), "GHz": ("frequency", 1e9),
    "Mbps": ("bandwidth", 1e6), "Gbps": ("bandwidth", 1e9),
    "%": ("ratio", 0.01),
}
BASE_UNIT = {"duration": "s", "size": "B", "frequency": "Hz", "bandwidth": "bit/s", "ratio": ""}
_PATTERN = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z%]+)\s*$")


class UnitError(ValueError):
    pass


@dataclass(frozen=True)
class Quantity:
    value: float  # in the dimension's base unit
    dimension: str
    text: str

    def __str__(self) -> str:
        return self.text


def parse(text: str) -> Quantity:
    match = _PATTERN.match(text)
    if not match or match.group(2) not in UNITS:
        raise UnitError(f"'{text}' is not a quantity with a known unit ({', '.join(UNITS)})")
    number, unit = float(match.group(1)), match.group(2)
    dimension, factor = UNITS[unit]
    return Quantity(number * factor, dimension, text.strip())


def is_quantity(value: object) -> bool:
    return isinstance(value, str) and bool(_PATTERN.match(value)) and _PATTERN.match(value).group(2) in UNITS  # type: ignore[union-attr]


def same_dimension(base: object, override: object) -> str | None:
    """None when the override may replace the base value; otherwise why not."""
    if is_quantity(base):
        if not isinstance(override, str):
            return f"expected a {parse(base).dimension} like '{base}', got {override!r}"  # type: ignore[arg-type]
        try:
            got = parse(override)
        except UnitError as error:
            return str(error)
        want = parse(base).dimension  # type: ignore[arg-type]
        if got.dimension != want:
            return f"expected a {want} like '{base}', got a {got.dimension} ('{override}')"
        return None
    if isinstance(base, bool) != isinstance(override, bool):
        return f"expected {type(base).__name__}, got {override!r}"
    if isinstance(base, (int, float)) and not isinstance(override, (int, float)):
        return f"expected a number like {base}, got {override!r}"
    return None
