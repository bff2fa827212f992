"""Quantities with units and the limits the specs set on them.

A quantity is written as the specs write it ("100 ms", "8 GB", "2.4 GHz", "99.9 %"). A limit is a
comparator and a value: ">= 4" (a count), ">= 2.4 GHz" (a quantity), ">= 20.10.0" (a version, under a
key that ends in `version`), or a one-key mapping for collections: {within: [...]}, {includes: [...]}.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_VERSION = re.compile(r"^\d+(?:\.\d+)*$")
_LIMIT = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\S.*?)\s*$")

ORDERED: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne}
COLLECTION = {"within": "only values among", "includes": "every one of", "excludes": "none of"}
COMPARATORS = (*ORDERED, *COLLECTION)


class UnitError(ValueError):
    pass


@dataclass(frozen=True)
class Quantity:
    value: float  # in the dimension's base unit
    dimension: str
    text: str

    @property
    def unit(self) -> str:
        return _PATTERN.match(self.text).group(2)  # type: ignore[union-attr]

    def __str__(self) -> str:
        return self.text


def parse(text: str) -> Quantity:
    match = _PATTERN.match(str(text))
    if not match or match.group(2) not in UNITS:
        raise UnitError(f"'{text}' is not a quantity with a known unit ({', '.join(UNITS)})")
    number, unit = float(match.group(1)), match.group(2)
    dimension, factor = UNITS[unit]
    return Quantity(number * factor, dimension, text.strip())


def is_quantity(value: object) -> bool:
    match = _PATTERN.match(value) if isinstance(value, str) else None
    return bool(match) and match.group(2) in UNITS  # type: ignore[union-attr]


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", str(text))[:3])


@dataclass(frozen=True)
class Limit:
    """A comparator and the value it compares with; `holds` is the one place a measurement meets its limit."""
    comparator: str
    limit: Any  # a number (counts), a Quantity, a version text, or a list (collections)
    dimension: str  # count, version, collection, or a quantity's dimension

    @property
    def unit(self) -> str:
        return self.limit.unit if isinstance(self.limit, Quantity) else ""

    @property
    def shown(self) -> Any:
        """The limit as the spec wrote it, for the evidence (a number in its own unit, or the list)."""
        if isinstance(self.limit, Quantity):
            return float(_PATTERN.match(self.limit.text).group(1))  # type: ignore[union-attr]
        return self.limit

    def in_unit(self, measured: float) -> float:
        """A measurement in base units (bytes, seconds, Hz, ratio) expressed in the limit's own unit."""
        if isinstance(self.limit, Quantity):
            return round(measured / UNITS[self.limit.unit][1], 3)
        return measured

    def holds(self, measured: Any) -> bool:
        if self.comparator in COLLECTION:
            found, wanted = set(measured), set(self.limit)
            return {"within": found <= wanted, "includes": wanted <= found,
                    "excludes": not found & wanted}[self.comparator]
        if self.dimension == "version":
            return ORDERED[self.comparator](version_tuple(measured), version_tuple(self.limit))
        if isinstance(self.limit, Quantity):
            return ORDERED[self.comparator](float(measured), self.limit.value)
        return ORDERED[self.comparator](measured, self.limit)

    def __str__(self) -> str:
        if self.comparator in COLLECTION:
            return f"{COLLECTION[self.comparator]} {', '.join(str(v) for v in self.limit)}"
        return f"{self.comparator} {self.limit}"


def is_limit(value: object) -> bool:
    """Written as a limit: a string that opens with a comparator sign (a mistyped one, as '=> 3', is then refused
    by parse_limit rather than taken for a value), or a one-key collection mapping."""
    if isinstance(value, str):
        return bool(re.match(r"^\s*[<>=!]", value))
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in COLLECTION


def parse_limit(value: object, key: str = "") -> Limit:
    """A limit as the specs write it; UnitError names what is wrong with it."""
    if isinstance(value, dict):
        comparator, items = next(iter(value.items()))
        if comparator not in COLLECTION or not isinstance(items, list):
            raise UnitError(f"{value!r} is not a limit (write {{within: [...]}}, {{includes: [...]}} or {{excludes: [...]}})")
        return Limit(comparator, list(items), "collection")
    match = _LIMIT.match(str(value))
    if not match:
        raise UnitError(f"'{value}' is not a limit: write a comparator ({', '.join(ORDERED)}) and a value, as '>= 4'")
    comparator, text = match.groups()
    if key.endswith("version"):
        if not _VERSION.match(text):
            raise UnitError(f"'{text}' is not a version (write digits and dots, as '20.10.0')")
        return Limit(comparator, text, "version")
    if _NUMBER.match(text):
        number = float(text)
        return Limit(comparator, int(number) if number.is_integer() else number, "count")
    quantity = parse(text)
    return Limit(comparator, quantity, quantity.dimension)


def same_dimension(base: object, override: object, key: str = "") -> str | None:
    """None when the override may replace the base value; otherwise why not."""
    if is_limit(base):
        if not is_limit(override):
            return f"expected a limit like '{_spelled(base)}', got {override!r}"
        try:
            want, got = parse_limit(base, key), parse_limit(override, key)
        except UnitError as error:
            return str(error)
        if got.comparator != want.comparator:
            return f"the comparator must stay '{want.comparator}' (got '{got.comparator}'); a profile moves the limit, not its sense"
        if got.dimension != want.dimension:
            return f"expected a {want.dimension} like '{_spelled(base)}', got a {got.dimension} ('{_spelled(override)}')"
        return None
    if is_quantity(base):
        if not isinstance(override, str):
            return f"expected a {parse(base).dimension} like '{base}', got {override!r}"  # type: ignore[arg-type]
        try:
            got_quantity = parse(override)
        except UnitError as error:
            return str(error)
        want_dimension = parse(base).dimension  # type: ignore[arg-type]
        if got_quantity.dimension != want_dimension:
            return f"expected a {want_dimension} like '{base}', got a {got_quantity.dimension} ('{override}')"
        return None
    if isinstance(base, bool) != isinstance(override, bool):
        return f"expected {type(base).__name__}, got {override!r}"
    if isinstance(base, (int, float)) and not isinstance(override, (int, float)):
        return f"expected a number like {base}, got {override!r}"
    return None


def _spelled(value: object) -> str:
    if isinstance(value, dict):
        comparator, items = next(iter(value.items()))
        return f"{{{comparator}: {items}}}"
    return str(value)


def typed(value: Any, key: str = "") -> Any:
    """A threshold as steps use it: a Limit, a Quantity, or the value itself (a parameter or an expected value)."""
    if is_limit(value):
        return parse_limit(value, key)
    if is_quantity(value):
        return parse(value)
    return value
