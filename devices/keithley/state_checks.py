"""Checks of the values ``set_state`` writes (control channel ``set``, spec §7.6).

A ``Rule`` takes the state key and the value asked for and returns the value to
store (floats for real settings, ``math.inf`` for an infinite count, SCPI words in
the short form the command handlers store) or raises ``ValueError`` naming the key
and the accepted values.  ``StateRules.for_field`` finds the rule of one settings
field; a field it does not know keeps the type of its current value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from devices.keithley.commands_measure import LAYER_SOURCES
from devices.keithley.commands_trace import FEED_CONTROLS, PRETRIGGER_SOURCES, TRACE_FEEDS
from devices.keithley.ranges import FUNCTIONS, Model, NumericLimit, model_limits, range_table
from devices.keithley.reading_format import (
    ELEMENT_ORDER_6514,
    ELEMENT_ORDER_6517B,
    TRACE_ELEMENT_ORDER,
)
from devices.keithley.state import (
    FilterSettings,
    FormatSettings,
    FunctionSettings,
    LayerSettings,
    Setup,
    SourceSettings,
    SystemSettings,
)
from devices.keithley.trace import TraceSettings
from devices.scpi.mnemonics import parse_spelling

Rule = Callable[[str, object], object]


def _refuse(key: str, value: object, expected: str) -> ValueError:
    return ValueError(f"state key {key!r}: {value!r} is not allowed; expected {expected}")


def _limit_text(limit: NumericLimit | None, minimum: float | None) -> str:
    if limit is not None:
        return f"from {limit.minimum:g} to {limit.maximum:g}"
    return f"at least {minimum:g}" if minimum is not None else "(finite)"


def number(limit: NumericLimit | None = None, *, integer: bool = False,
           infinite: bool = False, minimum: float | None = None) -> Rule:
    """A number within ``limit`` (or at least ``minimum``); ``infinite`` also takes INF."""
    kind = "an integer" if integer else "a number"
    expected = f"{kind} {_limit_text(limit, minimum)}" + (" or 'INF'" if infinite else "")

    def check(key: str, value: object) -> object:
        if infinite and (value == math.inf or (isinstance(value, str)
                                               and value.upper() in ("INF", "INFINITE"))):
            return math.inf
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                integer and not isinstance(value, int)) or not math.isfinite(value):
            raise _refuse(key, value, expected)
        low = limit.minimum if limit is not None else minimum
        high = limit.maximum if limit is not None else math.inf
        if (low is not None and value < low) or value > high:
            raise _refuse(key, value, expected)
        return value if integer else float(value)

    return check


def flag(key: str, value: object) -> object:
    """``True`` or ``False`` (not 0/1: a number here is more likely a mistaken key)."""
    if not isinstance(value, bool):
        raise _refuse(key, value, "true or false")
    return value


def choice(*spellings: str) -> Rule:
    """One of the SCPI words (long or short form, any case); stores the short form."""
    mnemonics = [parse_spelling(spelling) for spelling in spellings]
    shown = ", ".join(mnemonic.short for mnemonic in mnemonics)

    def check(key: str, value: object) -> object:
        if isinstance(value, str):
            wanted = value.upper()
            for mnemonic in mnemonics:
                if wanted in (mnemonic.short, mnemonic.long.upper(), mnemonic.canonical):
                    return mnemonic.canonical
        raise _refuse(key, value, f"one of {shown}")

    return check


def one_of(*values: Any) -> Rule:
    """Exactly one of ``values`` (words compare case-sensitively, numbers by value)."""
    shown = ", ".join(repr(value) for value in values)

    def check(key: str, value: object) -> object:
        for allowed in values:
            if value == allowed and isinstance(value, bool) == isinstance(allowed, bool):
                return allowed
        raise _refuse(key, value, f"one of {shown}")

    return check


def subset(names: Iterable[str], *, allow_empty: bool = True) -> Rule:
    """A list of distinct element names; stored as a tuple."""
    allowed = tuple(names)
    expected = f"a list of {', '.join(allowed)}" + ("" if allow_empty else " (at least one)")

    def check(key: str, value: object) -> object:
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise _refuse(key, value, expected)
        items = tuple(value)
        if (any(item not in allowed for item in items) or len(set(items)) != len(items)
                or (not items and not allow_empty)):
            raise _refuse(key, value, expected)
        return items

    return check


def optional(rule: Rule) -> Rule:
    """``None`` or what ``rule`` accepts."""
    def check(key: str, value: object) -> object:
        return None if value is None else rule(key, value)

    return check


def text(key: str, value: object) -> object:
    """Printable ASCII text."""
    if not isinstance(value, str) or any(not " " <= char <= "~" for char in value):
        raise _refuse(key, value, "printable ASCII text")
    return value


def like(current: object) -> Rule:
    """A value of the current value's kind: for fields without a rule of their own."""
    if isinstance(current, bool):
        return flag
    if isinstance(current, int):
        return number(integer=True)
    if isinstance(current, float):
        return number(infinite=math.isinf(current))
    if isinstance(current, str):
        return text
    return group


def group(key: str, value: object) -> object:
    """Refuses every value: ``key`` names a group of settings (or nothing settable)."""
    raise ValueError(f"state key {key!r} is a group of settings, not a value; set one of "
                     "its fields by its dotted path (see snapshot())")


class StateRules:
    """The rules of one model's settings fields, by settings class and field name."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.limits = limits = model_limits(model)
        vsource = {
            "level": number(limits.vsource_level),
            "range": one_of(100.0, 1000.0),
            "limit": number(limits.vsource_limit),
            "manual_amplitude": number(limits.manual_vsource),
            "manual_range": one_of(100.0, 1000.0),
            "manual_crange": number(limits.manual_current_range),
        }
        elements = ELEMENT_ORDER_6517B if model == "6517B" else ELEMENT_ORDER_6514
        self.fields: dict[tuple[type, str], Rule] = {
            (Setup, "function"): choice(*FUNCTIONS),
            (Setup, "continuous"): flag,
            (FunctionSettings, "nplc"): number(limits.nplc),
            (FunctionSettings, "digits"): number(limits.digits, integer=True),
            (FunctionSettings, "range_as_set"): optional(number(minimum=0.0)),
            (FunctionSettings, "reference"): number(),
            (FunctionSettings, "adischarge_level"): number(limits.adischarge_level),
            (FilterSettings, "median_rank"): number(limits.median_rank, integer=True),
            (FilterSettings, "average_count"): number(limits.average_count, integer=True),
            (FilterSettings, "average_ntolerance"): number(limits.average_tolerance),
            (FilterSettings, "average_tcontrol"): choice("REPeat", "MOVing"),
            (FilterSettings, "average_type"): choice("NONE", "SCALar", "ADVanced"),
            (LayerSettings, "delay"): number(limits.trigger_delay),
            (SystemSettings, "tstamp_type"): choice("RELative", "RTClock"),
            (SystemSettings, "arspeed"): choice("FAST", "NORMal"),
            (SystemSettings, "temperature_unit"): choice("C", "F", "K"),
            (FormatSettings, "elements"): subset(elements, allow_empty=False),
            (FormatSettings, "border"): choice("NORMal", "SWAPped"),
            (FormatSettings, "sregister"): choice("ASCii", "HEXadecimal", "OCTal", "BINary"),
            (TraceSettings, "points"): number(limits.trace_points, integer=True),
            (TraceSettings, "feed"): choice(*TRACE_FEEDS[model]),
            (TraceSettings, "control"): choice(*FEED_CONTROLS[model]),
            (TraceSettings, "tstamp_format"): choice("ABSolute", "DELTa"),
            (TraceSettings, "elements"): subset(TRACE_ELEMENT_ORDER),
            (TraceSettings, "pretrigger_source"): choice(*PRETRIGGER_SOURCES),
            (TraceSettings, "pretrigger_percent"): number(NumericLimit(0.0, 100.0, 0.0)),
            (TraceSettings, "pretrigger_readings"): number(
                NumericLimit(0, limits.trace_points.maximum, 0), integer=True),
        }
        self.fields.update({(SourceSettings, name): rule for name, rule in vsource.items()})
        # Built on first use: get_state/set_state look rules up for every alias.
        self._nominal_rules: dict[str, Rule] = {}
        self._layer_rules: dict[tuple[int, bool, str], Rule] = {}

    def for_field(self, setup: Setup, owner: object, name: str) -> Rule:
        """The rule of field ``name`` of ``owner`` (a settings object of ``setup``)."""
        if isinstance(owner, FunctionSettings) and name in ("range_nominal", "auto_lower",
                                                            "auto_upper"):
            function = _function_of(setup, owner)
            if function not in self._nominal_rules:
                self._nominal_rules[function] = self._nominal(function)
            return self._nominal_rules[function]
        if isinstance(owner, LayerSettings) and name in ("source", "count", "timer"):
            layers = setup.layers()
            index = next(position for position, item in enumerate(layers) if item is owner)
            key = (index, index == len(layers) - 1, name)
            if key not in self._layer_rules:
                self._layer_rules[key] = self._layer_rule(*key)
            return self._layer_rules[key]
        rule = self.fields.get((type(owner), name))
        if rule is not None:
            return rule
        return like(getattr(owner, name))

    def _nominal(self, function: str) -> Rule:
        table = range_table(self.model, function)
        nominals = [rng.nominal for rng in table.ranges]
        shown = ", ".join(f"{nominal:g}" for nominal in nominals)

        def check(key: str, value: object) -> object:
            if isinstance(value, bool) or value not in nominals:
                raise _refuse(key, value, f"a {function} range nominal: one of {shown}")
            return nominals[nominals.index(value)]

        return check

    def _layer_rule(self, index: int, is_trigger: bool, name: str) -> Rule:
        limits = self.limits
        if name == "source":
            return choice(*LAYER_SOURCES[self.model][index])
        if name == "count":
            count_max = limits.trigger_count_max if is_trigger else limits.arm_count_max
            return number(NumericLimit(1, count_max, 1), integer=True, infinite=True)
        return number(limits.trigger_timer if is_trigger else limits.arm_timer)


def _function_of(setup: Setup, settings: FunctionSettings) -> str:
    return next(name for name, item in setup.functions.items() if item is settings)


__all__ = ["Rule", "StateRules", "choice", "flag", "group", "like", "number", "one_of", "optional",
           "subset", "text"]
