"""Range tables and numeric limits of the 6517B and 6514 (spec §4.3, §4.4, §4.6-§4.11, §6.3).

Ranges are identified by their *nominal* value (2, 20, 200 V; 20e-12 A ...).
``Range.full_scale`` is 1.05 x nominal (2.1 V on the 2 V range).  A
``RangeTable`` maps a ``RANGe`` parameter or an input value to a range the way
the instruments do: the most sensitive range whose full scale holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Model = Literal["6517B", "6514"]
MODELS: tuple[Model, ...] = ("6517B", "6514")
FUNCTIONS = ("VOLT", "CURR", "RES", "CHAR")

#: Full scale = FULL_SCALE_FACTOR x nominal (§4.3).
FULL_SCALE_FACTOR = Decimal("1.05")


class RangeError(ValueError):
    """A ``RANGe`` parameter outside the documented limits (SCPI -222)."""


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


@dataclass(frozen=True)
class Range:
    """One measurement range.

    ``integer_digits`` (k = 1, 2, 3 for a nominal of 2, 20, 200 x 10^E) and
    ``exponent`` (E, a multiple of 3) drive the 6517B reading mantissa (§5.1).
    ``settling_s`` is the default settling delay of §6.3.
    """

    function: str
    nominal: float
    settling_s: float
    full_scale: float = field(init=False)
    integer_digits: int = field(init=False)
    exponent: int = field(init=False)

    def __post_init__(self) -> None:
        exact = _decimal(self.nominal)
        object.__setattr__(self, "full_scale", float(exact * FULL_SCALE_FACTOR))
        adjusted = exact.adjusted()
        exponent = (adjusted // 3) * 3
        object.__setattr__(self, "exponent", exponent)
        object.__setattr__(self, "integer_digits", adjusted - exponent + 1)

    def holds(self, value: float) -> bool:
        """Whether ``|value|`` fits within the full scale (no overflow)."""
        return abs(value) <= self.full_scale


@dataclass(frozen=True)
class RangeTable:
    """The ranges of one function on one model, most sensitive first.

    ``parameter_min``/``parameter_max`` are the limits of the ``RANGe``
    parameter (``MIN``/``MAX`` replies); ``signed`` tables (6514) use the
    absolute value of a negative parameter.  ``rst_nominal``,
    ``auto_lower_nominal`` and ``auto_upper_nominal`` are the *RST range and
    autorange limits.
    """

    model: Model
    function: str
    ranges: tuple[Range, ...]
    parameter_min: float
    parameter_max: float
    rst_nominal: float
    auto_lower_nominal: float
    auto_upper_nominal: float
    signed: bool = False
    # Lookups by nominal happen for every reading: index the ranges once.
    _positions: dict[float, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        positions = {rng.nominal: index for index, rng in enumerate(self.ranges)}
        object.__setattr__(self, "_positions", positions)

    @property
    def smallest(self) -> Range:
        """The most sensitive range."""
        return self.ranges[0]

    @property
    def largest(self) -> Range:
        """The least sensitive range."""
        return self.ranges[-1]

    @property
    def rst_range(self) -> Range:
        """The *RST range."""
        return self.by_nominal(self.rst_nominal)

    def by_nominal(self, nominal: float) -> Range:
        """The range with this nominal value; ``KeyError`` if there is none."""
        return self.ranges[self.index(nominal)]

    def index(self, rng: Range | float) -> int:
        """Position of a range (or nominal value) in the table, 0 = most sensitive."""
        nominal = rng.nominal if isinstance(rng, Range) else rng
        position = self._positions.get(nominal)
        if position is None:
            known = ", ".join(repr(r.nominal) for r in self.ranges)
            raise KeyError(f"{self.model} {self.function} has no {nominal!r} range "
                           f"(known: {known})")
        return position

    def check_parameter(self, value: float) -> None:
        """Raise ``RangeError`` when ``value`` is outside the parameter limits (-222)."""
        if not self.parameter_min <= value <= self.parameter_max:
            raise RangeError(
                f"{self.function} range {value!r} is outside "
                f"{self.parameter_min!r} … {self.parameter_max!r}"
            )

    def select(self, value: float) -> Range:
        """The range a ``RANGe <value>`` (or ``ULIM``/``LLIM``) selects (§4.3).

        The most sensitive range whose full scale holds ``|value|``; values above
        the largest full scale but within the limits select the largest range.
        Raises ``RangeError`` outside the parameter limits.
        """
        self.check_parameter(value)
        return self.fitting(value) or self.largest

    def fitting(self, value: float) -> Range | None:
        """The most sensitive range that holds ``|value|``, or ``None`` if none does."""
        for candidate in self.ranges:
            if candidate.holds(value):
                return candidate
        return None

    def step(self, rng: Range | float, steps: int) -> Range:
        """The range ``steps`` positions up (positive) or down, clamped to the table."""
        position = min(max(self.index(rng) + steps, 0), len(self.ranges) - 1)
        return self.ranges[position]

    def autorange(self, value: float, lower: float | None = None,
                  upper: float | None = None) -> Range:
        """The range autorange picks for an input ``value`` (§7.5).

        The lowest range within [``lower``, ``upper``] (nominals; defaults: the
        table's autorange limits) whose full scale holds ``|value|``; when none
        does, the ``upper`` range (the reading then overflows).
        """
        low = self.index(self.auto_lower_nominal if lower is None else lower)
        high = self.index(self.auto_upper_nominal if upper is None else upper)
        low, high = min(low, high), max(low, high)
        for candidate in self.ranges[low:high + 1]:
            if candidate.holds(value):
                return candidate
        return self.ranges[high]


def _decades(function: str, first: float, count: int, settling: dict[float, float]) -> tuple[
        Range, ...]:
    """``count`` ranges 2, 20, 200 x 10^E ... starting at nominal ``first``."""
    exact = _decimal(first)
    result = []
    for position in range(count):
        nominal = float(exact.scaleb(position))
        result.append(Range(function, nominal, _settling_for(settling, nominal)))
    return tuple(result)


def _settling_for(table: dict[float, float], nominal: float) -> float:
    """Delay of the highest table bound not above ``nominal`` (table keyed by first nominal)."""
    chosen = 0.0
    for bound, delay in sorted(table.items()):
        if nominal >= bound * (1 - 1e-9):
            chosen = delay
    return chosen


# Settling delays of §6.3 (6514 Table 9-1), keyed by the first nominal they apply to.
_SETTLING: dict[str, dict[float, float]] = {
    "VOLT": {2.0: 5e-3, 20.0: 3e-3, 200.0: 2e-3},
    "CURR": {20e-12: 2.5, 2e-9: 10e-3, 20e-6: 5e-3, 2e-3: 1e-3, 20e-3: 0.5e-3},
    "RES": {2e3: 5e-3, 20e3: 1e-3, 2e6: 10e-3, 2e9: 50e-3},
    "CHAR": {2e-9: 3e-3},
}


def _table(model: Model, function: str, first: float, count: int, limits: tuple[float, float],
           rst: float, auto: tuple[float, float], signed: bool = False) -> RangeTable:
    return RangeTable(
        model=model, function=function, ranges=_decades(function, first, count,
                                                        _SETTLING[function]),
        parameter_min=limits[0], parameter_max=limits[1], rst_nominal=rst,
        auto_lower_nominal=auto[0], auto_upper_nominal=auto[1], signed=signed,
    )


RANGE_TABLES: dict[Model, dict[str, RangeTable]] = {
    "6517B": {
        "VOLT": _table("6517B", "VOLT", 2.0, 3, (0.0, 210.0), 200.0, (2.0, 200.0)),
        "CURR": _table("6517B", "CURR", 20e-12, 10, (0.0, 21e-3), 20e-3, (20e-12, 20e-3)),
        "CHAR": _table("6517B", "CHAR", 2e-9, 4, (0.0, 2.1e-6), 2e-6, (2e-9, 2e-6)),
        "RES": _table("6517B", "RES", 2e6, 9, (0.0, 100e18), 2e6, (2e6, 200e12)),
    },
    "6514": {
        "VOLT": _table("6514", "VOLT", 2.0, 3, (-210.0, 210.0), 20.0, (2.0, 200.0), True),
        "CURR": _table("6514", "CURR", 20e-12, 10, (-21e-3, 21e-3), 20e-3, (20e-12, 20e-3),
                       True),
        "RES": _table("6514", "RES", 2e3, 9, (0.0, 2.1e11), 200e9, (2e3, 200e9)),
        "CHAR": _table("6514", "CHAR", 20e-9, 4, (-2.1e-5, 2.1e-5), 20e-6, (20e-9, 20e-6),
                       True),
    },
}


def range_table(model: Model | str, function: str) -> RangeTable:
    """The range table of ``function`` (VOLT, CURR, RES, CHAR) on ``model``.

    Raises ``ValueError`` naming the allowed values for an unknown model or function.
    """
    if model not in RANGE_TABLES:
        raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")
    tables = RANGE_TABLES[model]
    if function not in tables:
        raise ValueError(f"unknown function {function!r}; expected one of {', '.join(FUNCTIONS)}")
    return tables[function]


@dataclass(frozen=True)
class NumericLimit:
    """Inclusive limits of a numeric setting and its *RST default (``MIN``/``MAX``/``DEF``)."""

    minimum: float
    maximum: float
    default: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` is within the limits."""
        return self.minimum <= value <= self.maximum


@dataclass(frozen=True)
class ModelLimits:
    """Per-model numeric limits of §4 that are not range tables.

    Counts use ``count_max``; an ``INF`` count is handled by the caller.
    """

    nplc: NumericLimit
    aperture: NumericLimit | None
    digits: NumericLimit
    median_rank: NumericLimit
    average_count: NumericLimit
    average_tolerance: NumericLimit
    arm_count_max: int
    trigger_count_max: int
    trigger_delay: NumericLimit
    trigger_timer: NumericLimit
    arm_timer: NumericLimit
    trace_points: NumericLimit
    save_slots: NumericLimit
    adischarge_level: NumericLimit
    vsource_level: NumericLimit | None
    vsource_range: NumericLimit | None
    vsource_limit: NumericLimit | None
    manual_vsource: NumericLimit | None
    manual_current_range: NumericLimit | None
    line_frequencies: tuple[int, ...] = (50, 60)
    ese: NumericLimit = NumericLimit(0, 255, 0)
    register: NumericLimit = NumericLimit(0, 65535, 0)
    trace_bytes_per_reading: int = 16

    def vsource_range_for(self, value: float) -> float:
        """The 6517B V-source range (100 or 1000 V) a ``:SOUR:VOLT:RANG <value>`` selects."""
        return 100.0 if abs(value) <= 100.0 else 1000.0


_DELAY = NumericLimit(0.0, 999999.999, 0.0)
_TIMER = NumericLimit(0.0, 999999.999, 0.1)

MODEL_LIMITS: dict[Model, ModelLimits] = {
    "6517B": ModelLimits(
        nplc=NumericLimit(0.01, 10.0, 1.0),
        aperture=NumericLimit(166.6667e-6, 200e-3, 1 / 60),
        digits=NumericLimit(4, 7, 6),
        median_rank=NumericLimit(1, 5, 1),
        average_count=NumericLimit(1, 100, 10),
        average_tolerance=NumericLimit(0, 100, 1),
        arm_count_max=99999,
        trigger_count_max=99999,
        trigger_delay=_DELAY,
        trigger_timer=_TIMER,
        arm_timer=_TIMER,
        trace_points=NumericLimit(1, 50000, 100),
        save_slots=NumericLimit(0, 9, 0),
        adischarge_level=NumericLimit(-2.2e-6, 2.2e-6, 2e-6),
        vsource_level=NumericLimit(-1000.0, 1000.0, 0.0),
        vsource_range=NumericLimit(0.0, 1000.0, 100.0),
        vsource_limit=NumericLimit(0.0, 1000.0, 1000.0),
        manual_vsource=NumericLimit(0.0, 1000.0, 100.0),
        manual_current_range=NumericLimit(0.0, 21e-3, 20e-3),
    ),
    "6514": ModelLimits(
        nplc=NumericLimit(0.01, 10.0, 1.0),
        aperture=None,
        digits=NumericLimit(4, 7, 6),
        median_rank=NumericLimit(1, 5, 1),
        average_count=NumericLimit(1, 100, 10),
        average_tolerance=NumericLimit(0, 100, 1),
        arm_count_max=99999,
        trigger_count_max=2500,
        trigger_delay=_DELAY,
        trigger_timer=_TIMER,
        arm_timer=NumericLimit(0.0, 99999.999, 0.1),
        trace_points=NumericLimit(1, 2500, 100),
        save_slots=NumericLimit(0, 2, 0),
        adischarge_level=NumericLimit(-2.1e-5, 2.1e-5, 2e-5),
        vsource_level=None,
        vsource_range=None,
        vsource_limit=None,
        manual_vsource=None,
        manual_current_range=None,
    ),
}


def model_limits(model: Model | str) -> ModelLimits:
    """The limits of ``model``; ``ValueError`` naming the models for an unknown one."""
    if model not in MODEL_LIMITS:
        raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")
    return MODEL_LIMITS[model]
