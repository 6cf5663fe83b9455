"""A small SCPI instrument built on the engine, used by the SCPI engine tests."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from devices.scpi import (
    MEASUREMENT,
    OPERATION,
    QUESTIONABLE,
    Blocked,
    Boolean,
    Call,
    Choice,
    Command,
    CommandTable,
    ElementList,
    EngineOptions,
    NoReply,
    NumberList,
    Numeric,
    Raw,
    RegisterSpec,
    Reply,
    ScpiError,
    ScpiInstrument,
    StatusLayout,
    Step,
    String,
    format_nr1,
    format_nr3,
    setting,
)

IDENTITY = "ACME INSTRUMENTS,MODEL 1,123,A01 "
QUERY_LATENCY = 0.001
ACQUISITION_TIME = 1.0
READ_TIME = 0.5
RESET_TIME = 0.1


class Probe(ScpiInstrument):
    """Stores settings, models a trigger model whose end is known or waits for a manual event."""

    def __init__(self, options: EngineOptions | None = None) -> None:
        self.apply_defaults()
        self.line_frequency = 60
        self.saved: dict[int, float] = {}
        self.calc_format = {1: "MEAN", 2: "MEAN", 3: "MEAN"}
        self.acquisition_end: float | None = None
        self.waiting_for_manual = False
        self.manual_at: float | None = None
        self.bus_triggers = 0
        self.device_clears = 0
        self.closed: Any = None
        self.time_of_day: tuple[float, ...] = (0, 0, 0)
        self.range_steps: list[Step] = []
        self.range_was_word = False
        self.units_started: list[tuple[str, float]] = []
        super().__init__(PROBE_COMMANDS, options=options)

    def apply_defaults(self) -> None:
        self.nplc = 1.0
        self.range = 21e-3
        self.autorange: Any = True
        self.function = "VOLT:DC"
        self.count: float = 1
        self.source = "IMM"
        self.zero_check = True
        self.elements: tuple[str, ...] = ("READ", "TST")
        self.feed = "SENS1"
        self.level = 0.0
        self.source_range = 100.0
        self.text = ""

    def identity(self) -> str:
        return IDENTITY

    def reset(self, call: Call) -> None:
        self.apply_defaults()
        self.acquisition_end = None
        self.waiting_for_manual = False

    def trigger(self, call: Call) -> None:
        if self.source != "BUS":
            raise ScpiError(-211)
        self.bus_triggers += 1

    def save_setup(self, call: Call, slot: int) -> None:
        self.saved[slot] = self.nplc

    def recall_setup(self, call: Call, slot: int) -> None:
        self.nplc = self.saved.get(slot, 1.0)

    def operations_done_at(self, now: float) -> float | None:
        if self.waiting_for_manual:
            return None if self.manual_at is None else self.manual_at + ACQUISITION_TIME
        if self.acquisition_end is None:
            return now
        return self.acquisition_end

    def unit_duration(self, call: Call) -> float:
        if call.command.pattern == "*RST":
            return RESET_TIME
        return QUERY_LATENCY if call.is_query else 0.0

    def on_device_clear(self, now: float) -> None:
        self.device_clears += 1

    def before_unit(self, call: Call) -> None:
        self.units_started.append((call.text, call.time))

    def manual_trigger(self, now: float) -> None:
        """What a control-channel trigger would do."""
        self.manual_at = now


def _initiate(probe: Probe, call: Call) -> None:
    if probe.source == "MAN":
        probe.waiting_for_manual = True
        probe.manual_at = None
    else:
        probe.acquisition_end = call.time + ACQUISITION_TIME


def _read(probe: Probe, call: Call) -> str:
    if probe.source == "BUS":
        raise ScpiError(-214)
    call.finish_at(call.time + READ_TIME)
    return format_nr3(1.5e-9)


def _fetch(probe: Probe, call: Call) -> str:
    if probe.waiting_for_manual:
        if probe.manual_at is None:
            raise Blocked()
        call.finish_at(probe.manual_at + ACQUISITION_TIME)
        probe.waiting_for_manual = False
        return format_nr3(2.5e-9)
    if probe.acquisition_end is not None:
        call.finish_at(probe.acquisition_end)
    return format_nr3(2.5e-9)


def _fail(probe: Probe, call: Call) -> None:
    raise ScpiError(call.args[0])


def _set_range(probe: Probe, call: Call) -> None:
    value = call.args[0]
    if isinstance(value, Step):
        probe.range_steps.append(value)
    else:
        probe.range = value
    probe.range_was_word = call.is_word(0)
    probe.autorange = False


def _query_range(probe: Probe, call: Call) -> str:
    return format_nr3(probe.range)


def _set_calc_format(probe: Probe, call: Call) -> None:
    probe.calc_format[call.suffix()] = call.args[0]


def _query_calc_format(probe: Probe, call: Call) -> str:
    return probe.calc_format[call.suffix()]


def _set_time(probe: Probe, call: Call) -> None:
    probe.time_of_day = call.args


def _query_time(probe: Probe, call: Call) -> str:
    return ",".join(format_nr1(value) for value in probe.time_of_day)


def _silent(probe: Probe, call: Call) -> str:
    raise NoReply()


def _tokens(probe: Probe, call: Call) -> str:
    return " ".join(f"{token.kind.value}={token.text}" for token in call.tokens)


def _condition_bits(probe: Probe, call: Call) -> None:
    register = call.engine.status.register("measurement")
    register.set_condition(call.args[0])


PROBE_LAYOUT = StatusLayout(
    (
        MEASUREMENT,
        OPERATION,
        QUESTIONABLE,
        RegisterSpec("arm", ":STATus:OPERation:ARM", parent="operation", parent_bit=6),
    )
)

PROBE_COMMANDS: CommandTable[Probe] = CommandTable(
    [
        setting("[:SENSe[1]]:CURRent[:DC]:NPLCycles", Numeric(0.01, 10.0, default=1.0), "nplc"),
        Command(
            "[:SENSe[1]]:CURRent[:DC]:RANGe[:UPPer]",
            on_set=_set_range,
            on_query=_query_range,
            params=(Numeric(0.0, 21e-3, default=21e-3, up_down=True),),
        ),
        setting("[:SENSe[1]]:CURRent[:DC]:RANGe:AUTO", Boolean(once=True), "autorange"),
        setting("[:SENSe[1]]:FUNCtion", String(), "function"),
        setting(
            ":TRIGger[:SEQuence[1]]:COUNt",
            Numeric(1, 99999, default=1, integer=True, keywords={"INFinity": math.inf}),
            "count",
        ),
        setting(":TRIGger[:SEQuence[1]]:SOURce", Choice("IMMediate", "BUS", "MANual"), "source"),
        setting(":SYSTem:LFRequency", Numeric(choices=(50, 60), integer=True), "line_frequency"),
        setting(":SYSTem:ZCHeck[:STATe]", Boolean(), "zero_check"),
        setting(":FORMat:ELEMents", ElementList("READing", "TSTamp", "STATus"), "elements"),
        setting(":TRACe:FEED", Choice("SENSe[1]", "CALCulate[1]", "CALCulate2"), "feed"),
        Command(
            ":CALCulate[1-3]:FORMat",
            on_set=_set_calc_format,
            on_query=_query_calc_format,
            params=(Choice("MEAN", "SDEViation"),),
        ),
        setting(":ROUTe:CLOSe", NumberList(), "closed"),
        Command(
            ":SYSTem:TIME",
            on_set=_set_time,
            on_query=_query_time,
            params=(Numeric(0, 23, integer=True), Numeric(0, 59, integer=True),
                    Numeric(0, 60, optional=True)),
        ),
        setting(
            ":SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude]",
            Numeric(-1000.0, 1000.0, default=0.0),
            "level",
        ),
        setting(":SOURce:VOLTage:RANGe", Numeric(0.0, 1000.0, default=100.0), "source_range"),
        setting(":DISPlay:TEXT:DATA", String(), "text"),
        Command(":INITiate[:IMMediate]", on_set=_initiate),
        Command(":READ?", on_query=_read),
        Command(":FETCh?", on_query=_fetch),
        Command(":TEST:FAIL", on_set=_fail, params=(Numeric(integer=True),)),
        Command(":TEST:SLOW", on_set=lambda probe, call: None, duration=0.25),
        Command(":TEST:CONDition", on_set=_condition_bits, params=(Numeric(integer=True),)),
        Command(":TEST:SILent?", on_query=_silent),
        Command(":TEST:TOKens?", on_query=_tokens,
                query_params=(Raw(optional=True), Raw(optional=True), Raw(optional=True))),
    ],
    status=PROBE_LAYOUT,
    save_slots=10,
    options_query=True,
)


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def make_probe() -> Callable[..., Probe]:
    """A probe with engine options, e.g. ``make_probe(lenient=True)``."""

    def make(**options: Any) -> Probe:
        return Probe(EngineOptions(**options))

    return make


@pytest.fixture
def ask(probe: Probe) -> Callable[[str], str | None]:
    """Send one message to ``probe`` at time 0; the reply text, or None if there is none."""

    def send(message: str) -> str | None:
        replies: list[Reply] = probe.receive(message, 0.0)
        assert len(replies) <= 1
        return replies[0].text if replies else None

    return send


@pytest.fixture
def errors(probe: Probe) -> Callable[[], list[int]]:
    """Drain the error queue of ``probe``; returns the codes, oldest first."""

    def drain() -> list[int]:
        codes = []
        while True:
            code, _ = probe.engine.status.error_queue.pop()
            if code == 0:
                return codes
            codes.append(code)

    return drain
