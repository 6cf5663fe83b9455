"""Measurement entry points and the trigger model: CONF, MEAS, READ, FETC, INIT, ABOR,
ARM and TRIGger layers (§4.1, §4.6)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from devices.keithley.commands_common import (
    BOOL,
    TableOptions,
    command,
    field,
    numeric,
    reading_fetched,
    stored_only,
)
from devices.keithley.ranges import FUNCTIONS, NumericLimit
from devices.keithley.state import FUNCTION_REPLY
from devices.scpi import Blocked, Boolean, Call, Choice, Command, Numeric, ScpiError
from devices.scpi.formatting import format_string

if TYPE_CHECKING:
    from devices.keithley.instrument import KeithleyInstrument

CONFIGURE_NODES = {
    "VOLT": "VOLTage[:DC]",
    "CURR": "CURRent[:DC]",
    "RES": "RESistance",
    "CHAR": "CHARge",
}
_INFINITE = {"INFinite": math.inf}
_LAYER_SOURCES_6517B = ("HOLD", "IMMediate", "TIMer", "MANual", "BUS", "TLINk", "EXTernal")
#: ``SOURce`` choices of each arm/trigger layer, outermost first (§4.6).
LAYER_SOURCES: dict[str, tuple[tuple[str, ...], ...]] = {
    "6517B": (("HOLD", "IMMediate", "RTCLock", "MANual", "BUS", "TLINk", "EXTernal"),
              _LAYER_SOURCES_6517B, _LAYER_SOURCES_6517B),
    "6514": (("IMMediate", "TIMer", "BUS", "TLINk", "STESt", "PSTest", "NSTest", "MANual"),
             ("IMMediate", "TLINk")),
}


def measure_commands(options: TableOptions) -> list[Command[Any]]:
    """CONF/MEAS/READ/FETC/INIT/ABOR of both models."""
    commands = [
        command(":CONFigure?", on_query=_configured),
        command(":MEASure?", on_query=_measure(None)),
        command(":READ?", on_query=read),
        command(":FETCh?", on_query=fetch),
        command(":INITiate[:IMMediate]", _initiate),
        command(":INITiate:CONTinuous", _set_continuous, _continuous, (Boolean(),)),
        command(":ABORt", _abort),
    ]
    for function, node in CONFIGURE_NODES.items():
        commands.append(command(f":CONFigure:{node}", _configure_command(function)))
        commands.append(command(f":MEASure:{node}?", on_query=_measure(function)))
    if options.b:
        commands.append(stored_only(":INITiate:POFLag", "INCL"))
    return commands


def trigger_commands(options: TableOptions) -> list[Command[Any]]:
    """ARM and TRIGger layer settings of one model (§4.6)."""
    limits = options.limits
    if options.b:
        arm1, arm2, trigger = LAYER_SOURCES["6517B"]
        return [
            *_layer(options, ":ARM[:SEQuence[1]][:LAYer[1]]", 0, arm1, limits.arm_count_max),
            *_layer(options, ":ARM[:SEQuence[1]]:LAYer2", 1, arm2, limits.arm_count_max,
                    timer=limits.arm_timer, delay=limits.trigger_delay),
            *_layer(options, ":TRIGger[:SEQuence[1]]", 2, trigger, limits.trigger_count_max,
                    timer=limits.trigger_timer, delay=limits.trigger_delay),
        ]
    arm, trigger = LAYER_SOURCES["6514"]
    return [
        *_layer(options, ":ARM[:SEQuence[1]][:LAYer[1]]", 0, arm, limits.arm_count_max,
                timer=limits.arm_timer),
        *_layer(options, ":TRIGger[:SEQuence[1]]", 1, trigger,
                limits.trigger_count_max, delay=limits.trigger_delay),
        field(":TRIGger[:SEQuence[1]]:DELay:AUTO", Boolean(), _layer_at(1), "delay_auto",
              BOOL),
    ]


def _layer(options: TableOptions, path: str, index: int, sources: tuple[str, ...],
           count_max: int, *, timer: NumericLimit | None = None,
           delay: NumericLimit | None = None) -> list[Command[Any]]:
    locate = _layer_at(index)
    commands = [
        field(f"{path}:SOURce", Choice(*sources), locate, "source", str),
        field(f"{path}:COUNt", Numeric(1, count_max, 1, integer=True, keywords=_INFINITE),
              locate, "count", options.count),
        command(f"{path}:IMMediate", _release(index)),
        command(f"{path}:SIGNal", _release(index)),
        stored_only(f"{path}:TCONfigure:DIRection", "SOUR"),
        stored_only(f"{path}:TCONfigure:ASYNchronous:ILINe", "2"),
        stored_only(f"{path}:TCONfigure:ASYNchronous:OLINe", "1"),
    ]
    if timer is not None:
        commands.append(field(f"{path}:TIMer", numeric(timer), locate, "timer", options.nr3))
    if delay is not None:
        commands.append(field(f"{path}:DELay", numeric(delay), locate, "delay", options.nr3))
    return commands


def _layer_at(index: int) -> Any:
    return lambda instrument, call: instrument.setup.layers()[index]


def _release(index: int) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> None:
        instrument.trigger_model.release(index)
        instrument.sync(call)

    return handler


# -- entry points --------------------------------------------------------------------------


def configure(instrument: KeithleyInstrument, function: str, t: float) -> None:
    """``:CONFigure:<func>`` (§4.1): abort, one-shot IMM trigger model, no storage."""
    setup = instrument.setup
    setup.continuous = False
    instrument.trigger_model.abort(t)
    setup.function = function
    for layer in setup.layers():
        layer.source = "IMM"
        layer.count = 1
        layer.delay = 0.0
        layer.delay_auto = False
    instrument.trace.settings.control = "NEV"
    setup.calc.math_state = False
    if instrument.config.configure_resets_function:
        _reset_function(instrument, function)
    instrument.forget_readings()
    instrument.update_operation_status()


def _reset_function(instrument: KeithleyInstrument, function: str) -> None:
    defaults = instrument.default_setup("RST").functions[function]
    settings = instrument.setup.functions[function]
    for name in ("range_nominal", "auto_lower", "auto_upper", "range_auto", "range_once",
                 "range_as_set", "nplc", "nplc_auto", "digits", "digits_auto"):
        setattr(settings, name, getattr(defaults, name))
    for name in ("median", "median_rank", "average", "average_tcontrol", "average_count",
                 "average_type", "average_ntolerance"):
        setattr(settings.filters, name, getattr(defaults.filters, name))


def _configure_command(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> None:
        configure(instrument, function, instrument.device_time(call.time))

    return handler


def _configured(instrument: KeithleyInstrument, call: Call) -> str:
    return format_string(FUNCTION_REPLY[instrument.setup.function])


def _measure(function: str | None) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> str:
        if not instrument.read_pending:
            instrument.check_reading_reply()
            chosen = function or instrument.setup.function
            configure(instrument, chosen, instrument.device_time(call.time))
        return read(instrument, call)

    return handler


def read(instrument: KeithleyInstrument, call: Call) -> str:
    """``:READ?``: abort, initiate, fetch the whole acquisition (§4.1, §6.4)."""
    model = instrument.trigger_model
    if not instrument.read_pending:
        instrument.check_reading_reply()
        if instrument.config.fidelity_choice("F20") == "error":
            if instrument.setup.continuous:
                raise ScpiError(-213)
            if _deadlocked(instrument):
                raise ScpiError(-214)
        t = instrument.device_time(call.time)
        model.abort(t)
        instrument.start_acquisition(t)
        instrument.read_pending = True
    end = model.run_until_idle()
    instrument.update_operation_status()
    if end is None:
        raise Blocked()
    instrument.read_pending = False
    instrument.finish(call, end)
    return _reply_acquisition(instrument)


def _deadlocked(instrument: KeithleyInstrument) -> bool:
    model = instrument.trigger_model
    return any(source in ("BUS", "HOLD") for source in model.sources()) or \
        model.total_count() == math.inf


def fetch(instrument: KeithleyInstrument, call: Call) -> str:
    """``:FETCh?``: the readings of the latest acquisition, waiting for a finite one."""
    instrument.check_reading_reply()
    model = instrument.trigger_model
    if model.running:
        if instrument.setup.continuous or model.total_count() == math.inf:
            if instrument.latest is None:
                _wait_for_reading(instrument, call)
            return _reply_latest(instrument)
        end = model.run_until_idle()
        instrument.update_operation_status()
        if end is None:
            raise Blocked()
        instrument.finish(call, end)
    if not instrument.acquisition:
        raise ScpiError(-230)
    return _reply_acquisition(instrument)


def _reply_acquisition(instrument: KeithleyInstrument) -> str:
    _fetched(instrument)
    return instrument.reading_format().format_many(instrument.acquisition)


def _reply_latest(instrument: KeithleyInstrument) -> str:
    latest = instrument.latest
    assert latest is not None
    _fetched(instrument)
    return instrument.format_reading(latest)


def _fetched(instrument: KeithleyInstrument) -> None:
    """A fetch consumes the reading: not fresh any more, RAV clears (F21, F38)."""
    instrument.fresh = False
    reading_fetched(instrument)


def _wait_for_reading(instrument: KeithleyInstrument, call: Call) -> None:
    """Advance to the next completed reading, or block when it is not predictable."""
    model = instrument.trigger_model
    before = instrument.measurement.reading_counter
    while instrument.measurement.reading_counter == before:
        step = model.next_event_time()
        if step is None:
            instrument.update_operation_status()
            raise Blocked()
        model.advance(step)
        instrument.finish(call, step)
    instrument.update_operation_status()


def wait_fresh(instrument: KeithleyInstrument, call: Call) -> str:
    """``:SENS:DATA:FRES?`` (6517B): a reading not returned before (§4.1, F21)."""
    instrument.check_reading_reply()
    if not (instrument.fresh and instrument.latest is not None):
        if not instrument.trigger_model.running:
            if not instrument.config.fidelity_has("F21", "fresh_wait"):
                raise ScpiError(-230)
            raise Blocked()
        _wait_for_reading(instrument, call)
    return _reply_latest(instrument)


def _initiate(instrument: KeithleyInstrument, call: Call) -> None:
    if instrument.trigger_model.running:
        raise ScpiError(-213)
    instrument.start_acquisition(instrument.device_time(call.time))


def _set_continuous(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.setup.continuous = call.args[0]
    instrument.start_if_continuous(instrument.device_time(call.time))


def _continuous(instrument: KeithleyInstrument, call: Call) -> str:
    return BOOL(instrument.setup.continuous)


def _abort(instrument: KeithleyInstrument, call: Call) -> None:
    t = instrument.device_time(call.time)
    instrument.trigger_model.abort(t)
    if instrument.trigger_model.running:
        instrument.acquisition.clear()
        if instrument.clock.speed == 0:
            instrument.instantaneous_step()
    instrument.update_operation_status()


__all__ = ["FUNCTIONS", "LAYER_SOURCES", "configure", "fetch", "measure_commands", "read",
           "trigger_commands", "wait_fresh"]
