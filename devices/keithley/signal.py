"""The simulated input signal of spec §7.1 and its control-channel operations (§7.6).

``SignalSimulator`` holds one source per function and produces the true input
value of a conversion at device time ``t`` with conversion index ``n``; noise
comes from a counter-based generator keyed by (seed, function, n), so results
depend only on the configuration, the message sequence and device times.
``pipeline.ReadingPipeline`` turns these values into readings.
"""

from __future__ import annotations

import functools
import hashlib
import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from devices.keithley.ranges import FUNCTIONS
from devices.keithley.reading import NO_HUMIDITY, NO_TEMPERATURE

SIGNAL_KINDS = ("constant", "noise", "ramp", "list")

#: Parameters each kind accepts besides the common ``noise_sigma`` and ``offset``.
KIND_PARAMETERS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "noise": ("mean", "sigma"),
    "ramp": ("start", "slope"),
    "list": ("values", "repeat"),
}
COMMON_PARAMETERS = ("noise_sigma", "offset")


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

    @functools.cached_property
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

    Counter-based, so any n can be drawn in any order and the same key always
    gives the same value on every platform: ``deviate_block(seed, function, n //
    DEVIATE_BLOCK)[n % DEVIATE_BLOCK]``.
    """
    return deviate_block(seed, function, n // DEVIATE_BLOCK)[n % DEVIATE_BLOCK]


#: Deviates g(n) derived from one hash: n // DEVIATE_BLOCK picks the hash.
DEVIATE_BLOCK = 256
_BLOCK_WORDS = struct.Struct(f">{DEVIATE_BLOCK}Q")
_TWO_TO_MINUS_64 = 2.0**-64
_TWO_PI = 2.0 * math.pi


@functools.lru_cache(maxsize=32)
def deviate_block(seed: int, function: str, block: int) -> tuple[float, ...]:
    """g(n) for n = block x DEVIATE_BLOCK ... + DEVIATE_BLOCK - 1, in order.

    SHAKE-256 of ``"<seed>:<function>:<block>"`` gives DEVIATE_BLOCK 64-bit words:
    DEVIATE_BLOCK / 2 uniform pairs (u1 in (0, 1], u2 in [0, 1)), each turned by
    Box-Muller into two independent deviates, r cos(2 pi u2) then r sin(2 pi u2).
    Drawn a block at a time: at speed 0 a reading per message needs one each.
    """
    words = _BLOCK_WORDS.unpack(
        hashlib.shake_256(f"{seed}:{function}:{block}".encode()).digest(_BLOCK_WORDS.size))
    deviates: list[float] = []
    append = deviates.append
    log, sqrt, cos, sin = math.log, math.sqrt, math.cos, math.sin
    for index in range(0, DEVIATE_BLOCK, 2):
        radius = sqrt(-2.0 * log((words[index] + 1) * _TWO_TO_MINUS_64))
        angle = _TWO_PI * (words[index + 1] * _TWO_TO_MINUS_64)
        append(radius * cos(angle))
        append(radius * sin(angle))
    return tuple(deviates)


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
    #: Changes whenever a source, the seed or the counters change (see ``sampler``).
    generation: int = field(default=0, init=False)
    _samplers: dict[tuple[str, int, int], Callable[[float], float]] = field(
        init=False, repr=False, default_factory=dict)

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
        self._changed()
        return spec

    def reset_signals(self, t: float) -> None:
        """Back to the configured sources, with t_set = ``t``."""
        for name, spec in self._initial.items():
            self._sources[name] = _Source(spec, t, self._counters[name])
        self._changed()

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
        """g(n) of ``function`` for the current seed (``standard_normal``)."""
        return deviate_block(self.seed, function, n // DEVIATE_BLOCK)[n % DEVIATE_BLOCK]

    def sample(self, function: str, t: float, n: int) -> float:
        """True input value plus offset of conversion ``n`` at device time ``t``.

        Sampling does not consume anything: the same (t, n) gives the same value.
        """
        source = self._sources[function]
        spec = source.spec
        # A noiseless source skips the hash: sigma x g(n) would only add a zero.
        deviate = self.deviate(function, n) if spec.noise_scale else 0.0
        return spec.value_at(t - source.t_set, n - source.index_at_set, deviate)

    def sample_next(self, function: str, t: float) -> float:
        """``sample(function, t, next_index(function))`` in one call (one per conversion)."""
        counters = self._counters
        n = counters[function]
        counters[function] = n + 1
        source = self._sources[function]
        spec = source.spec
        deviate = self.deviate(function, n) if spec.noise_scale else 0.0
        return spec.value_at(t - source.t_set, n - source.index_at_set, deviate)

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
            self._changed()

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
        self._changed()

    def _changed(self) -> None:
        self.generation += 1
        self._samplers.clear()

    def sampler(self, function: str) -> Callable[[float], float]:
        """``sample_next(function, t)`` as one function of ``t``, for many conversions.

        Valid while ``generation`` stays the same (a source, the seed or the
        counters changing makes a new one); it gives the very values and advances
        the very counter that ``sample_next`` would.
        """
        key = (function, self.seed, self.generation)
        sample = self._samplers.get(key)
        if sample is None:
            sample = self._samplers[key] = self._make_sampler(function)
        return sample

    def _make_sampler(self, function: str) -> Callable[[float], float]:
        counters = self._counters
        source = self._sources[function]
        spec = source.spec
        scale = spec.noise_scale
        offset = spec.offset
        if not scale or spec.kind not in ("noise", "constant", "ramp"):
            # Lists and noiseless sources are rare at speed: the general path does.
            def sample_general(t: float) -> float:
                return self.sample_next(function, t)
            return sample_general
        seed = self.seed
        base = spec.mean if spec.kind == "noise" else spec.value
        start, slope, t_set = spec.start, spec.slope, source.t_set
        ramp = spec.kind == "ramp"
        block: tuple[float, ...] = ()
        block_start = 0

        def sample_noisy(t: float) -> float:
            nonlocal block, block_start
            n = counters[function]
            counters[function] = n + 1
            index = n - block_start
            if not 0 <= index < len(block):
                block_start = n - n % DEVIATE_BLOCK
                block = deviate_block(seed, function, n // DEVIATE_BLOCK)
                index = n - block_start
            # SignalSpec.value_at, term by term in the same order (the same rounding).
            value = start + slope * (t - t_set) if ramp else base
            return value + scale * block[index] + offset
        return sample_noisy


__all__ = [
    "DEFAULT_SIGNALS",
    "DEVIATE_BLOCK",
    "FUNCTIONS",
    "NO_HUMIDITY",
    "NO_TEMPERATURE",
    "Environment",
    "SignalError",
    "SignalSimulator",
    "SignalSpec",
    "check_function",
    "deviate_block",
    "standard_normal",
]
