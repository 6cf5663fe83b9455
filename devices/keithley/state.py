"""The instrument setup: every setting *RST, :SYST:PRES, *SAV and *RCL act on (§4, §4.13).

Settings that survive *RST (TRACe, status enables, display, line frequency,
communication) live on ``KeithleyInstrument`` and its ``TraceBuffer``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from devices.keithley.ranges import FUNCTIONS, Model, model_limits, range_table

INFINITE = math.inf

#: Function short name → ``:SENS:FUNC?`` / ``:CONF?`` reply text (§4.2).
FUNCTION_REPLY = {"VOLT": "VOLT:DC", "CURR": "CURR:DC", "RES": "RES", "CHAR": "CHAR"}


@dataclass(slots=True)
class FilterSettings:
    """Median and average filter settings (§4.4)."""

    median: bool = False
    median_rank: int = 1
    average: bool = False
    average_tcontrol: str = "REP"
    average_count: int = 10
    average_type: str = "SCAL"
    average_ntolerance: float = 1.0


@dataclass(slots=True)
class FunctionSettings:
    """Per-function sense settings (§4.3 to §4.5).

    Ranges are stored as nominal values (2, 20, 200 V ...); ``range_as_set`` is
    the last accepted numeric ``RANGe`` parameter, for ``range_readback = as_set``.
    """

    range_nominal: float
    auto_lower: float
    auto_upper: float
    filters: FilterSettings
    range_auto: bool = True
    range_once: bool = False
    range_as_set: float | None = None
    nplc: float = 1.0
    nplc_auto: bool = False
    digits: int = 6
    digits_auto: bool = False
    reference: float = 0.0
    reference_state: bool = False
    damping: bool = False
    guard: bool = False
    xfeedback: bool = False
    adischarge: bool = False
    adischarge_level: float = 2e-6


@dataclass(slots=True)
class LayerSettings:
    """One arm or trigger layer (§4.6). ``count`` is ``INFINITE`` for INF."""

    source: str = "IMM"
    count: float = 1
    delay: float = 0.0
    timer: float = 0.1
    delay_auto: bool = False
    tconfigure: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SourceSettings:
    """6517B voltage source and related stored nodes (§4.11).

    ``manual_operate`` is the manual-ohms operate flag, used only when F18 makes it
    a state of its own; by default that command acts on ``operate`` (OUTPut1).
    """

    level: float = 0.0
    range: float = 100.0
    range_as_set: float | None = None
    limit: float = 1000.0
    limit_state: bool = False
    mconnect: bool = False
    rlimit: bool = False
    operate: bool = False
    manual_operate: bool = False
    manual_amplitude: float = 100.0
    manual_range: float = 100.0
    manual_crange: float = 20e-3
    manual_crange_auto: bool = False


@dataclass(slots=True)
class FormatSettings:
    """FORMat subsystem (§4.8)."""

    elements: tuple[str, ...]
    border: str
    data: str = "ASC"
    sregister: str = "ASC"
    source2: str = "ASC"


@dataclass(slots=True)
class SystemSettings:
    """SYSTem settings that *RST restores (§4.5, §4.9)."""

    zero_check: bool = True
    zero_correct: bool = False
    autozero: bool = True
    line_sync: bool = False
    tsc: bool = True
    hsc: bool = False
    tstamp_type: str = "REL"
    arspeed: str = "FAST"
    temperature_unit: str = "C"


@dataclass(slots=True)
class CalcSettings:
    """CALCulate math/limits/statistics: stored, math is the identity (§4.10)."""

    math_state: bool = True
    limits_state: bool = True
    statistic: str = "MEAN"
    stored: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Setup:
    """Everything a *SAV slot holds."""

    function: str
    functions: dict[str, FunctionSettings]
    arm: list[LayerSettings]
    trigger: LayerSettings
    continuous: bool
    format: FormatSettings
    system: SystemSettings
    source: SourceSettings
    calc: CalcSettings
    stored: dict[str, str] = field(default_factory=dict)

    def layers(self) -> list[LayerSettings]:
        """Arm layers outermost first, then the trigger layer."""
        return [*self.arm, self.trigger]

    def sense(self) -> FunctionSettings:
        """Settings of the active function."""
        return self.functions[self.function]

    def clone(self) -> Setup:
        """An independent copy (shared filter objects stay shared)."""
        return copy.deepcopy(self)


def default_function(model: Model, function: str, filters: FilterSettings) -> FunctionSettings:
    """*RST settings of one function (*RST range and autorange limits of §4.3)."""
    table = range_table(model, function)
    return FunctionSettings(
        range_nominal=table.rst_nominal, auto_lower=table.auto_lower_nominal,
        auto_upper=table.auto_upper_nominal, filters=filters,
        adischarge_level=model_limits(model).adischarge_level.default,
    )


def default_filters(model: Model, function: str = "VOLT") -> FilterSettings:
    """*RST filter settings: 6517B median ON per function, 6514 one global set (§4.4)."""
    if model == "6514":
        return FilterSettings()
    return FilterSettings(median=True, average_type="NONE" if function == "CHAR" else "SCAL")


def rst_setup(model: Model, *, zero_check: bool = True,
              per_function_filters: bool = False) -> Setup:
    """The *RST column of §4.13.

    ``per_function_filters`` (``fidelity.F31``) gives each 6514 function its own
    filter settings instead of the one global set.
    """
    shared = default_filters(model)
    separate = model == "6517B" or per_function_filters
    functions = {
        name: default_function(model, name, default_filters(model, name) if separate else shared)
        for name in FUNCTIONS
    }
    elements: tuple[str, ...]
    if model == "6517B":
        arm = [LayerSettings(), LayerSettings()]
        elements = ("READ", "TST", "RNUM", "CHAN", "STAT", "UNIT")
        border = "SWAP"
    else:
        arm = [LayerSettings()]
        elements = ("READ", "TIME", "STAT")
        border = "NORM"
    return Setup(
        function="VOLT",
        functions=functions,
        arm=arm,
        trigger=LayerSettings(),
        continuous=False,
        format=FormatSettings(elements=elements, border=border),
        system=SystemSettings(zero_check=zero_check),
        source=SourceSettings(),
        calc=CalcSettings(math_state=model == "6517B", limits_state=model == "6517B"),
    )


def preset_setup(model: Model, *, zero_check: bool = True,
                 per_function_filters: bool = False) -> Setup:
    """The :SYST:PRES column of §4.13 (front-panel defaults)."""
    setup = rst_setup(model, zero_check=zero_check, per_function_filters=per_function_filters)
    for settings in setup.functions.values():
        settings.range_auto = False
        settings.filters.average_tcontrol = "MOV"
    setup.continuous = True
    setup.trigger.count = INFINITE
    if model == "6517B":
        setup.arm[1].count = INFINITE
        setup.calc.math_state = False
        setup.calc.limits_state = False
    else:
        setup.format.border = "SWAP"
    return setup

