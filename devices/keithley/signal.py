"""The simulated input signal of spec §7 and its control-channel operations (§7.6).

``SignalSimulator`` holds one source per function and produces the true input
value of a conversion at device time ``t`` with conversion index ``n``; noise
comes from a counter-based generator keyed by (seed, function, n), so results
depend only on the configuration, the message sequence and device times.
``ReadingPipeline`` turns them into readings: zero check, autorange, overflow,
median/average filters, zero correct and REL (§7.3-§7.5), with the conversion
timing of §6.2-§6.3.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from devices.keithley.ranges import Range, RangeTable, range_table
from devices.keithley.reading import OVERFLOW_VALUE, ZERO_CHECK_VALUE, Reading
from devices.keithley.timing import TimingModel, averaging_active, conversion_window

FUNCTIONS = ("VOLT", "CURR", "RES", "CHAR")
SIGNAL_KINDS = ("constant", "noise", "ramp", "list")

#: Parameters each kind accepts besides the common ``noise_sigma`` and ``offset``.
KIND_PARAMETERS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "noise": ("mean", "sigma"),
    "ramp": ("start", "slope"),
    "list": ("values", "repeat"),
}
COMMON_PARAMETERS = ("noise_sigma", "offset")

#: Temperature / humidity of a disabled or disconnected probe (§4.12).
NO_TEMPERATURE = 9999.99
NO_HUMIDITY = 999.99


class SignalError(ValueError):
    """A bad signal definition; the message names the parameter and what is allowed."""


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignalError(f"signal parameter {name!r} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise SignalError(f"signal parameter {name!r} must be finite, got {value!r}")
    return float(value)


def check_function(function: str) -> str:
    """Return ``function`` upper-cased; ``SignalError`` unless it is VOLT, CURR, RES or CHAR."""
    name = function.upper() if isinstance(function, str) else function
    if name not in FUNCTIONS:
        raise SignalError(f"unknown function {function!r}; expected one of {', '.join(FUNCTIONS)}")
    return name


@dataclass(frozen=True)
class SignalSpec:
    """One signal source (§7.1).

    ``constant``: ``value``; ``noise``: ``mean`` + ``sigma`` x g(n); ``ramp``:
    ``start`` + ``slope`` x (t - t_set); ``list``: ``values`` one per
    conversion, then from the start again (``repeat``) or the last held.
    Every kind adds ``noise_sigma`` x g(n) and the zero ``offset``.
    """

    kind: str
    value: float = 0.0
    mean: float = 0.0
    sigma: float = 0.0
    start: float = 0.0
    slope: float = 0.0
    values: tuple[float, ...] = ()
    repeat: bool = False
    noise_sigma: float = 0.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in SIGNAL_KINDS:
            raise SignalError(
                f"unknown signal kind {self.kind!r}; expected one of {', '.join(SIGNAL_KINDS)}")
        for name in ("value", "mean", "sigma", "start", "slope", "noise_sigma", "offset"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        for name in ("sigma", "noise_sigma"):
            if getattr(self, name) < 0:
                raise SignalError(f"signal parameter {name!r} must be >= 0")
        if isinstance(self.values, str | bytes) or not hasattr(self.values, "__iter__"):
            raise SignalError(f"signal parameter 'values' must be a list of numbers, "
                              f"got {self.values!r}")
        values = tuple(_finite("values", item) for item in self.values)
        object.__setattr__(self, "values", values)
        if self.kind == "list" and not values:
            raise SignalError("a 'list' signal needs at least one entry in 'values'")
        if not isinstance(self.repeat, bool):
            raise SignalError(f"signal parameter 'repeat' must be true or false, "
                              f"got {self.repeat!r}")

    @classmethod
    def from_params(cls, kind: str, **params: Any) -> SignalSpec:
        """Build a source from the control-channel form ``kind`` + parameters.

        Raises ``SignalError`` for an unknown kind or a parameter the kind does not take.
        """
        if kind not in KIND_PARAMETERS:
            raise SignalError(
                f"unknown signal kind {kind!r}; expected one of {', '.join(SIGNAL_KINDS)}")
        allowed = KIND_PARAMETERS[kind] + COMMON_PARAMETERS
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise SignalError(f"signal kind {kind!r} does not take {', '.join(unknown)}; "
                              f"allowed parameters: {', '.join(allowed)}")
        if "values" in params and not isinstance(params["values"], str | bytes):
            params["values"] = tuple(params["values"])
        return cls(kind=kind, **params)

    def params(self) -> dict[str, Any]:
        """The kind and the parameters that matter for it (for snapshots)."""
        data = asdict(self)
        keep = ("kind", *KIND_PARAMETERS[self.kind], *COMMON_PARAMETERS)
        result = {key: data[key] for key in keep}
        if self.kind == "list":
            result["values"] = list(self.values)
        return result

    @property
    def noise_scale(self) -> float:
        """Total sigma multiplying g(n): ``sigma`` (noise kind) plus ``noise_sigma``."""
        return (self.sigma if self.kind == "noise" else 0.0) + self.noise_sigma

    def value_at(self, elapsed: float, index: int, deviate: float) -> float:
        """The input value ``elapsed`` device seconds and ``index`` conversions after t_set.

        ``deviate`` is g(n); the result includes the offset.
        """
        if self.kind == "constant":
            base = self.value
        elif self.kind == "noise":
            base = self.mean
        elif self.kind == "ramp":
            base = self.start + self.slope * elapsed
        else:
            position = index % len(self.values) if self.repeat else min(index,
                                                                        len(self.values) - 1)
            base = self.values[position]
        return base + self.noise_scale * deviate + self.offset


#: §7.1 defaults, in base units.
DEFAULT_SIGNALS: Mapping[str, SignalSpec] = {
    "CURR": SignalSpec("noise", mean=1.0e-12, sigma=5e-15),
    "VOLT": SignalSpec("noise", mean=1.0e-3, sigma=1e-6),
    "RES": SignalSpec("noise", mean=1.0e12, sigma=1e9),
    "CHAR": SignalSpec("ramp", start=0.0, slope=1.0e-12, noise_sigma=1e-15),
}


def standard_normal(seed: int, function: str, n: int) -> float:
    """g(n): a standard normal deviate keyed by (seed, function, n) (§7.1).

    Counter-based (BLAKE2b of the key, Box-Muller), so any n can be drawn in any
    order and the same key always gives the same value on every platform.
    """
    digest = hashlib.blake2b(f"{seed}:{function}:{n}".encode(), digest_size=16).digest()
    first = int.from_bytes(digest[:8], "big")
    second = int.from_bytes(digest[8:], "big")
    u1 = (first + 1) / 2.0**64  # in (0, 1]: log stays finite
    u2 = second / 2.0**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@dataclass(frozen=True)
class Environment:
    """6517B temperature/humidity inputs and probe presence (§4.12, §7.6)."""

    temperature_c: float = 23.0
    humidity_pct: float = 45.0
    temp_probe: bool = True
    humidity_probe: bool = True

    def __post_init__(self) -> None:
        _finite("temperature_c", self.temperature_c)
        _finite("humidity_pct", self.humidity_pct)
        for name in ("temp_probe", "humidity_probe"):
            if not isinstance(getattr(self, name), bool):
                raise SignalError(f"environment {name!r} must be true or false")

    def temperature_reading(self, enabled: bool) -> float:
        """ETEM value in °C: ``NO_TEMPERATURE`` when ``:SYST:TSC`` is off or no probe."""
        return self.temperature_c if enabled and self.temp_probe else NO_TEMPERATURE

    def humidity_reading(self, enabled: bool) -> float:
        """HUM value in %RH: ``NO_HUMIDITY`` when ``:SYST:HSC`` is off or no probe."""
        return self.humidity_pct if enabled and self.humidity_probe else NO_HUMIDITY


@dataclass
class _Source:
    spec: SignalSpec
    t_set: float
    index_at_set: int


@dataclass
class SignalSimulator:
    """Signal sources, conversion counters and fixture inputs of one instrument.

    The control-channel operations of §7.6 that concern the input
    (``set_signal``, ``reset_signals``, ``set_seed``, ``set_environment``,
    ``set_vsource_compliance``, ``set_interlock``) are plain methods taking the
    device time where it matters.
    """

    signals: Mapping[str, SignalSpec] = field(default_factory=lambda: dict(DEFAULT_SIGNALS))
    seed: int = 0
    environment: Environment = field(default_factory=Environment)
    vsource_compliance: bool = False
    interlock_closed: bool = True
    _initial: dict[str, SignalSpec] = field(init=False, repr=False)
    _sources: dict[str, _Source] = field(init=False, repr=False)
    _counters: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        initial = dict(DEFAULT_SIGNALS)
        for function, spec in self.signals.items():
            initial[check_function(function)] = spec
        self._initial = initial
        self._counters = dict.fromkeys(FUNCTIONS, 0)
        self._sources = {name: _Source(spec, 0.0, 0) for name, spec in initial.items()}

    # -- control channel (§7.6) ------------------------------------------------------

    def set_signal(self, function: str, kind: str, t: float, **params: Any) -> SignalSpec:
        """Replace a function's source; its ramp time origin t_set is device time ``t``."""
        name = check_function(function)
        spec = SignalSpec.from_params(kind, **params)
        self._sources[name] = _Source(spec, t, self._counters[name])
        return spec

    def reset_signals(self, t: float) -> None:
        """Back to the configured sources, with t_set = ``t``."""
        for name, spec in self._initial.items():
            self._sources[name] = _Source(spec, t, self._counters[name])

    def set_seed(self, seed: int) -> None:
        """A new noise seed; conversion counters restart at 0."""
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise SignalError(f"seed must be an integer, got {seed!r}")
        self.seed = seed
        self._restart_counters()

    def set_environment(self, temperature_c: float | None = None,
                        humidity_pct: float | None = None, temp_probe: bool | None = None,
                        humidity_probe: bool | None = None) -> Environment:
        """Change the given environment values; the others stay."""
        current = self.environment
        self.environment = Environment(
            temperature_c=current.temperature_c if temperature_c is None else temperature_c,
            humidity_pct=current.humidity_pct if humidity_pct is None else humidity_pct,
            temp_probe=current.temp_probe if temp_probe is None else temp_probe,
            humidity_probe=current.humidity_probe if humidity_probe is None else humidity_probe,
        )
        return self.environment

    def set_vsource_compliance(self, in_compliance: bool) -> None:
        """6517B V-source compliance flag (status bit 14, ``:SOUR:CURR:LIM?``)."""
        self.vsource_compliance = bool(in_compliance)

    def set_interlock(self, closed: bool) -> None:
        """6517B fixture lid interlock (status bit 13, ``:SYST:INT?``)."""
        self.interlock_closed = bool(closed)

    def power_on(self, t: float) -> None:
        """Power cycle: conversion counters restart and integrators discharge at ``t``."""
        self._restart_counters()
        for name in FUNCTIONS:
            self.discharge(name, t)

    # -- conversions -----------------------------------------------------------------

    def source(self, function: str) -> SignalSpec:
        """The current source of ``function``."""
        return self._sources[check_function(function)].spec

    def next_index(self, function: str) -> int:
        """Allocate the next conversion index n of ``function`` (counts since power-on)."""
        n = self._counters[function]
        self._counters[function] = n + 1
        return n

    def conversions(self, function: str) -> int:
        """Conversions of ``function`` since power-on or the last ``set_seed``."""
        return self._counters[check_function(function)]

    def deviate(self, function: str, n: int) -> float:
        """g(n) of ``function`` for the current seed."""
        return standard_normal(self.seed, function, n)

    def sample(self, function: str, t: float, n: int) -> float:
        """True input value plus offset of conversion ``n`` at device time ``t``.

        Sampling does not consume anything: the same (t, n) gives the same value.
        """
        source = self._sources[function]
        elapsed = t - source.t_set
        return source.spec.value_at(elapsed, n - source.index_at_set, self.deviate(function, n))

    def shunted_sample(self, function: str, n: int) -> float:
        """Value of a shunted input (zero check, ``live``): offset plus noise (§7.3)."""
        spec = self._sources[function].spec
        return spec.offset + spec.noise_scale * self.deviate(function, n)

    def zero_offset(self, function: str) -> float:
        """The present zero offset of ``function``, as ``ZCOR:ACQ`` stores it (§7.2)."""
        return self._sources[check_function(function)].spec.offset

    def discharge(self, function: str, t: float) -> None:
        """Restart a ramp from its start at ``t`` (charge integrator discharged, §7.2)."""
        source = self._sources[check_function(function)]
        if source.spec.kind == "ramp":
            source.t_set = t

    def snapshot(self) -> dict[str, Any]:
        """Read-only view for the control channel's ``snapshot()``."""
        return {
            "seed": self.seed,
            "signals": {name: src.spec.params() for name, src in self._sources.items()},
            "conversions": dict(self._counters),
            "environment": asdict(self.environment),
            "vsource_compliance": self.vsource_compliance,
            "interlock_closed": self.interlock_closed,
        }

    def _restart_counters(self) -> None:
        self._counters = dict.fromkeys(FUNCTIONS, 0)
        for source in self._sources.values():
            source.index_at_set = 0


# -- §7.3-§7.5 conversion pipeline ---------------------------------------------------------


class FilterConfig(Protocol):
    """Median and average filter settings of §4.4 (``state.FilterSettings`` fits)."""

    @property
    def median(self) -> bool: ...

    @property
    def median_rank(self) -> int: ...

    @property
    def average(self) -> bool: ...

    @property
    def average_tcontrol(self) -> str: ...

    @property
    def average_count(self) -> int: ...

    @property
    def average_type(self) -> str: ...

    @property
    def average_ntolerance(self) -> float: ...


class SenseSettings(Protocol):
    """Per-function settings a reading uses (``state.FunctionSettings`` fits).

    Ranges are nominal values; ``auto_lower``/``auto_upper`` are the autorange
    limits; ``range_once`` autoranges this reading only (the caller clears it).
    """

    @property
    def range_nominal(self) -> float: ...

    @property
    def range_auto(self) -> bool: ...

    @property
    def range_once(self) -> bool: ...

    @property
    def auto_lower(self) -> float: ...

    @property
    def auto_upper(self) -> float: ...

    @property
    def nplc(self) -> float: ...

    @property
    def reference(self) -> float: ...

    @property
    def reference_state(self) -> bool: ...

    @property
    def adischarge(self) -> bool: ...

    @property
    def adischarge_level(self) -> float: ...

    @property
    def filters(self) -> FilterConfig: ...


@dataclass(frozen=True)
class InputConditions:
    """Instrument-wide conditions of a reading.

    ``zero_offset`` is the offset stored by ``ZCOR:ACQ`` (subtracted when
    ``zero_correct``); ``zero_check_reading`` is the §7.3 mode; ``math`` only
    marks the reading (CALC1 is the identity).
    """

    zero_check: bool = False
    zero_check_reading: str = "invalid_value"
    zero_correct: bool = False
    zero_offset: float = 0.0
    line_sync: bool = False
    line_frequency: float = 60
    autozero: bool = True
    math: bool = False


@dataclass(frozen=True)
class ReadingOutcome:
    """Result of one reading: value after the whole pipeline, status letter, range, times.

    ``status`` is Z (zero check, ``invalid_value``/``no_reply``), O (overflow),
    R (REL) or N.  ``start`` is when the reading began (after the trigger
    delay), ``time`` its completion; ``range_nominal`` is the range in use at
    the end (autorange may have moved it: the caller stores it).
    """

    value: float
    status: str
    function: str
    range_nominal: float
    start: float
    time: float
    conversions: int
    filtered: bool
    relative: bool
    zero_check: bool
    zero_correct: bool
    math: bool
    range_changed: bool

    def to_reading(self, *, digits: int, timestamp: float, number: int,
                   temperature: float = NO_TEMPERATURE, humidity: float = NO_HUMIDITY,
                   vsource: float = 0.0) -> Reading:
        """The ``Reading`` the buffer stores and the formats print."""
        return Reading(
            value=self.value, status=self.status, function=self.function,
            range_nominal=self.range_nominal, digits=digits, time=self.time,
            timestamp=timestamp, number=number, temperature=temperature, humidity=humidity,
            vsource=vsource, filtered=self.filtered, math=self.math, relative=self.relative,
            zero_check=self.zero_check, zero_correct=self.zero_correct,
        )


def _filter_key(filters: FilterConfig, nominal: float) -> tuple[object, ...]:
    return (filters.median, filters.median_rank, averaging_active(filters),
            filters.average_tcontrol.upper()[:3], filters.average_count,
            filters.average_type.upper()[:3], filters.average_ntolerance, nominal)


class _FilterStack:
    """Median window then average stack of one function (§4.4).

    A new stack starts whenever the filter settings or the range change.
    """

    def __init__(self, filters: FilterConfig, nominal: float) -> None:
        self.key = _filter_key(filters, nominal)
        self.nominal = nominal
        self.median = filters.median
        self.averaging = averaging_active(filters)
        self.repeat = filters.average_tcontrol.upper().startswith("REP")
        self.advanced = filters.average_type.upper().startswith("ADV")
        self.tolerance = filters.average_ntolerance / 100.0 * nominal
        self.window: deque[float] = deque(maxlen=2 * filters.median_rank + 1)
        self.stack: deque[float] = deque(maxlen=None if self.repeat else filters.average_count)

    def begin_reading(self) -> None:
        """Repeat average flushes its stack for every reading."""
        if self.repeat:
            self.stack.clear()

    def push(self, value: float) -> float:
        """Feed one conversion; return the filter output so far."""
        if self.median:
            self.window.append(value)
            value = statistics.median(self.window)
        if not self.averaging:
            return value
        if self.advanced and self.stack:
            if abs(value - statistics.fmean(self.stack)) > self.tolerance:
                self.stack.clear()
        self.stack.append(value)
        return statistics.fmean(self.stack)


class ReadingPipeline:
    """Performs readings on the simulated input (§7.4) with §6.2-§6.3 timing.

    Keeps the state that outlives one reading: filter stacks per function and
    the range of the last conversion (a different range or function costs its
    settling delay before the next conversion; an autorange step also costs
    ``autorange_extra_conversions`` conversion times).
    """

    def __init__(self, model: str, signals: SignalSimulator, timing: TimingModel) -> None:
        self.model = model
        self.signals = signals
        self.timing = timing
        self._filters: dict[str, _FilterStack] = {}
        self._last_range: tuple[str, float] | None = None

    def forget_range(self) -> None:
        """Power-on: the next conversion settles whatever its range."""
        self._last_range = None

    def reset_filters(self) -> None:
        """Empty every filter stack (e.g. at ``*RST``)."""
        self._filters.clear()

    def take_reading(self, function: str, sense: SenseSettings, conditions: InputConditions,
                     start: float) -> ReadingOutcome:
        """Perform one reading beginning at device time ``start``.

        Consumes one conversion index per conversion, so call it once per
        reading actually begun.  ``start`` excludes the trigger delay.
        """
        table = range_table(self.model, function)
        rng = table.by_nominal(sense.range_nominal)
        t_conv = self.timing.conversion_time(sense.nplc, conditions.line_frequency,
                                             conditions.autozero)
        conversions = self.timing.conversions_per_reading(sense.filters)
        invalid = conditions.zero_check and conditions.zero_check_reading != "live"
        autorange = (sense.range_auto or sense.range_once) and not invalid
        t, overflow, changed = start, False, False
        output: float | None = None
        stack = self._stack(function, sense.filters, rng.nominal)
        stack.begin_reading()
        for _ in range(conversions):
            n = self.signals.next_index(function)
            t, value, new_range = self._convert(function, sense, conditions, table, rng,
                                                autorange, t, t_conv, n)
            if new_range is not rng:
                rng, changed = new_range, True
                stack = self._stack(function, sense.filters, rng.nominal)
            if invalid:
                continue
            if not rng.holds(value):
                overflow = True  # filters are bypassed for an overflow
                continue
            output = stack.push(value)
        value, status = self._finish(output, invalid, overflow, sense, conditions)
        return ReadingOutcome(
            value=value, status=status, function=function, range_nominal=rng.nominal,
            start=start, time=t, conversions=conversions,
            filtered=sense.filters.median or averaging_active(sense.filters),
            relative=sense.reference_state, zero_check=conditions.zero_check,
            zero_correct=conditions.zero_correct, math=conditions.math, range_changed=changed,
        )

    def _stack(self, function: str, filters: FilterConfig, nominal: float) -> _FilterStack:
        stack = self._filters.get(function)
        if stack is None or stack.key != _filter_key(filters, nominal):
            stack = self._filters[function] = _FilterStack(filters, nominal)
        return stack

    def _convert(self, function: str, sense: SenseSettings, conditions: InputConditions,
                 table: RangeTable, rng: Range, autorange: bool, t: float, t_conv: float,
                 n: int) -> tuple[float, float, Range]:
        """One conversion from ``t``: (end time, value incl. offset, range used)."""
        end = self._window_end(t, t_conv, conditions)
        value = self._sample(function, sense, conditions, end, n)
        target = table.autorange(value, sense.auto_lower, sense.auto_upper) if autorange else rng
        if self._last_range != (function, target.nominal):
            delay = self.timing.settling_delay(function, target.nominal)
            if target is not rng:
                delay += self.timing.autorange_extra_conversions * t_conv
            end = self._window_end(t + delay, t_conv, conditions)
            value = self._sample(function, sense, conditions, end, n)
            self._last_range = (function, target.nominal)
        return end, value, target

    @staticmethod
    def _window_end(t: float, t_conv: float, conditions: InputConditions) -> float:
        return conversion_window(t, t_conv, conditions.line_sync, conditions.line_frequency)[1]

    def _sample(self, function: str, sense: SenseSettings, conditions: InputConditions,
                t: float, n: int) -> float:
        if conditions.zero_check:
            return self.signals.shunted_sample(function, n)
        value = self.signals.sample(function, t, n)
        level = abs(sense.adischarge_level)
        if function == "CHAR" and sense.adischarge and level > 0 and abs(value) >= level:
            self.signals.discharge(function, t)
            value = self.signals.sample(function, t, n)
        return value

    @staticmethod
    def _finish(output: float | None, invalid: bool, overflow: bool, sense: SenseSettings,
                conditions: InputConditions) -> tuple[float, str]:
        if invalid:
            return ZERO_CHECK_VALUE, "Z"
        if overflow or output is None:
            return OVERFLOW_VALUE, "O"
        value = output
        if conditions.zero_correct:
            value -= conditions.zero_offset
        if sense.reference_state:
            return value - sense.reference, "R"
        return value, "N"
