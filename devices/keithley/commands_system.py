"""``:SYSTem``, ``:DISPlay``, ``:UNIT`` and ``:CALCulate`` commands (§4.5, §4.9, §4.10)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from devices.keithley.commands_common import (
    BOOL,
    NR1,
    TableOptions,
    command,
    execution_error,
    failing,
    field,
    reset_touches_trace,
    stored_only,
)
from devices.scpi import Boolean, Call, Choice, Command, Numeric, ScpiError, String
from devices.scpi.formatting import format_string

if TYPE_CHECKING:
    from devices.keithley.instrument import KeithleyInstrument


def system_commands(options: TableOptions) -> list[Command[Any]]:
    """``:SYSTem`` of one model (the error queue commands come from the engine)."""
    system = _system_settings
    commands = [
        command(":SYSTem:PRESet", _preset),
        field(":SYSTem:ZCHeck[:STATe]", Boolean(), system, "zero_check", BOOL,
              after=_zero_check_changed),
        field(":SYSTem:ZCORrect[:STATe]", Boolean(), system, "zero_correct", BOOL,
              after=_zero_correct_changed),
        command(":SYSTem:ZCORrect:ACQuire", _acquire_zero),
        command(":SYSTem:LOCal", _remote_state("LOC")),
        command(":SYSTem:REMote", _remote_state("REM")),
        command(":SYSTem:LLOCkout", _set_lockout, _lockout, (Boolean(),)),
    ]
    if options.b or options.version_on_6514:
        commands.append(command(":SYSTem:VERSion?", on_query=lambda i, c: "1996.0"))
    if options.b:
        commands += _system_6517b(options)
    else:
        commands += [
            field(":SYSTem:AZERo[:STATe]", Boolean(), system, "autozero", BOOL),
            command(":SYSTem:TIME:RESet", _reset_timestamp),
        ]
    if not options.b or options.lfr_on_6517b:
        commands.append(command(":SYSTem:LFRequency", _set_line_frequency, _line_frequency,
                                (Numeric(50, 60, 60, integer=True, choices=(50, 60)),), NR1))
    return commands


def _system_6517b(options: TableOptions) -> list[Command[Any]]:
    system = _system_settings
    return [
        field(":SYSTem:LSYNc[:STATe]", Boolean(), system, "line_sync", BOOL),
        field(":SYSTem:TSControl", Boolean(), system, "tsc", BOOL),
        field(":SYSTem:HSControl", Boolean(), system, "hsc", BOOL),
        field(":SYSTem:TSTamp:TYPE", Choice("RELative", "RTClock"), system, "tstamp_type", str),
        command(":SYSTem:TSTamp:RELative:RESet", _reset_timestamp),
        command(":SYSTem:RNUMber:RESet", _reset_reading_number),
        command(":SYSTem:TIME", _set_time, _time,
                (Numeric(0, 23, integer=True), Numeric(0, 59, integer=True),
                 Numeric(0, 59.99))),
        command(":SYSTem:DATE", _set_date, _date,
                (Numeric(1990, 2099, integer=True), Numeric(1, 12, integer=True),
                 Numeric(1, 31, integer=True))),
        command(":SYSTem:POSetup", _set_posetup, _posetup,
                (Choice("RST", "PRESet", *(f"SAV{n}" for n in range(10))),)),
        command(":SYSTem:INTerlock?", on_query=_interlock),
        command(":SYSTem:KEY", _set_key, _key, (Numeric(0, 31, integer=True),), NR1),
        field(":SYSTem:ARSPeed", Choice("FAST", "NORMal"), system, "arspeed", str),
        stored_only(":SYSTem:HLControl", "0"),
        stored_only(":SYSTem:MACRo:STATe", "0"),
        stored_only(":SYSTem:MACRo:TRIGger:MODE", "SING"),
    ]


def display_commands(options: TableOptions) -> list[Command[Any]]:
    """``:DISPlay`` and (6517B) ``:UNIT``; stored without behaviour (§4.10)."""
    windows = "[:WINDow[1-2]]"
    commands = [
        command(":DISPlay:ENABle", _set_display, _display, (Boolean(),)),
        command(f":DISPlay{windows}:TEXT:DATA", _set_text, _text, (String(),)),
        command(f":DISPlay{windows}:TEXT:STATe", _set_text_state, _text_state, (Boolean(),)),
    ]
    if options.b:
        commands.append(command(":UNIT:TEMPerature", _set_unit, _unit,
                                (Choice("C", "CELsius", "F", "FARenheit", "K"),)))
    return commands


def calculate_commands(options: TableOptions) -> list[Command[Any]]:
    """``:CALCulate``: stored math and limits, buffer statistics (§4.10)."""
    calc = _calc
    commands = [
        field(":CALCulate[1]:STATe", Boolean(), calc, "math_state", BOOL),
        stored_only(":CALCulate[1]:FORMat", "NONE" if options.b else "MXB"),
        stored_only(":CALCulate2:LIMit[1]:STATe", "0"),
        stored_only(":CALCulate2:LIMit[1]:UPPer[:DATA]", "1.000000E+00"),
        stored_only(":CALCulate2:LIMit[1]:LOWer[:DATA]", "-1.000000E+00"),
    ]
    if options.b:
        statistic = Choice("MEAN", "SDEViation", "MAXimum", "MINimum", "PKPK", "NONE")
        commands += [
            # The polynomial a0 + a1·X + a2·X² defaults to the identity (§4.10).
            stored_only(":CALCulate[1]:KMATh:MA0Factor", "0.000000E+00"),
            stored_only(":CALCulate[1]:KMATh:MA1Factor", "1.000000E+00"),
            stored_only(":CALCulate[1]:KMATh:MA2Factor", "0.000000E+00"),
            command(":CALCulate2:FORMat", _set_statistic, _statistic, (statistic,)),
            field(":CALCulate2:STATe", Boolean(), calc, "limits_state", BOOL),
            command(":CALCulate2:IMMediate", lambda i, c: None),
            command(":CALCulate2:DATA?", on_query=_statistics),
            stored_only(":CALCulate3:LIMit[1-2]:STATe", "0"),
            stored_only(":CALCulate3:LIMit[1-2]:UPPer[:DATA]", "1.000000E+00"),
            stored_only(":CALCulate3:LIMit[1-2]:LOWer[:DATA]", "-1.000000E+00"),
        ]
    else:
        statistic = Choice("MINimum", "MAXimum", "MEAN", "SDEViation", "PKPK")
        commands += [
            stored_only(":CALCulate[1]:KMATh:MMFactor", "1.000000E+00"),
            stored_only(":CALCulate[1]:KMATh:MBFactor", "0.000000E+00"),
            command(":CALCulate3:FORMat", _set_statistic, _statistic, (statistic,)),
            command(":CALCulate3:DATA?", on_query=_statistics),
        ]
    return commands


def stored_commands(options: TableOptions) -> list[Command[Any]]:
    """6517B parts accepted without behaviour: TSEQuence, ROUTe (no card), TTL lines."""
    if not options.b:
        return []
    commands = [
        stored_only(":TSEQuence:ARM", query=False),
        stored_only(":TSEQuence:ABORt", query=False),
        stored_only(":TSEQuence:TYPE", "STSW"),
        stored_only(":TSEQuence:TSOurce", "IMM"),
        stored_only(":TSEQuence:TLINk", "1"),
        stored_only(":SOURce:TTL[1-4][:LEVel]", "1"),
        stored_only(":OUTPut[1]:TTL[1-4]:LSENse", "AHIG"),
    ]
    for node in (":ROUTe:CLOSe", ":ROUTe:OPEN", ":ROUTe:OPEN:ALL", ":ROUTe:SCAN[:INTernal]",
                 ":ROUTe:SCAN:LSELect", ":ROUTe:CLOSe:STATe"):
        commands.append(failing(node, -200 if options.generic_errors else -241))
    return commands


# -- handlers --------------------------------------------------------------------------------


def _system_settings(instrument: KeithleyInstrument, call: Call) -> Any:
    return instrument.setup.system


def _calc(instrument: KeithleyInstrument, call: Call) -> Any:
    return instrument.setup.calc


def _preset(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.engine.cancel_operation_complete()
    instrument.preset(call)
    reset_touches_trace(instrument)


def _zero_check_changed(instrument: KeithleyInstrument, call: Call) -> None:
    if not call.args[0] and instrument.config.fidelity_choice("F41") == "reset":
        instrument.signals.discharge("CHAR", instrument.device_time(call.time))


def _zero_correct_changed(instrument: KeithleyInstrument, call: Call) -> None:
    system = instrument.setup.system
    if system.zero_correct and system.zero_check:
        instrument.measurement.acquire_zero(instrument.setup.function)


def _acquire_zero(instrument: KeithleyInstrument, call: Call) -> None:
    if not instrument.setup.system.zero_check:
        raise execution_error(instrument, -221)
    instrument.measurement.acquire_zero(instrument.setup.function)


def _remote_state(state: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> None:
        instrument.remote_state = state

    return handler


def _set_lockout(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.remote_state = "LLO" if call.args[0] else "REM"


def _lockout(instrument: KeithleyInstrument, call: Call) -> str:
    return BOOL(instrument.remote_state == "LLO")


def _reset_timestamp(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.measurement.timestamp_origin = instrument.device_time(call.time)


def _reset_reading_number(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.measurement.reading_counter = 0


def _set_time(instrument: KeithleyInstrument, call: Call) -> None:
    hour, minute, second = call.args
    instrument.rtc.set_time(hour, minute, second, instrument.device_time(call.time))


def _time(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.rtc.time_text(instrument.device_time(call.time))


def _set_date(instrument: KeithleyInstrument, call: Call) -> None:
    year, month, day = call.args
    try:
        instrument.rtc.set_date(year, month, day, instrument.device_time(call.time))
    except ValueError:
        raise ScpiError(-222) from None


def _date(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.rtc.date_text(instrument.device_time(call.time))


def _set_posetup(instrument: KeithleyInstrument, call: Call) -> None:
    value = call.args[0]
    instrument.posetup = "PRES" if value == "PRES" else value


def _posetup(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.posetup


def _interlock(instrument: KeithleyInstrument, call: Call) -> str:
    return BOOL(instrument.signals.interlock_closed)


def _set_key(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.key = call.args[0]
    if call.args[0] == 20:
        instrument.trigger_model.deliver("MAN", instrument.device_time(call.time))
        instrument.update_operation_status()


def _key(instrument: KeithleyInstrument, call: Call) -> str:
    return NR1(instrument.key)


def _set_line_frequency(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.line_frequency = call.args[0]


def _line_frequency(instrument: KeithleyInstrument, call: Call) -> str:
    return NR1(instrument.line_frequency)


def _set_display(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.display_enabled = call.args[0]


def _display(instrument: KeithleyInstrument, call: Call) -> str:
    return BOOL(instrument.display_enabled)


def _window(call: Call) -> int:
    return call.suffixes[0] if call.suffixes else 1


def _set_text(instrument: KeithleyInstrument, call: Call) -> None:
    window = _window(call)
    limit = 20 if window == 1 else 32
    text = call.args[0]
    if instrument.model == "6517B" and len(text) > limit:
        raise ScpiError(-223)
    state = instrument.display_text.get(window, ("", False))[1]
    instrument.display_text[window] = (text, state)


def _text(instrument: KeithleyInstrument, call: Call) -> str:
    return format_string(instrument.display_text.get(_window(call), ("", False))[0])


def _set_text_state(instrument: KeithleyInstrument, call: Call) -> None:
    window = _window(call)
    text = instrument.display_text.get(window, ("", False))[0]
    instrument.display_text[window] = (text, call.args[0])


def _text_state(instrument: KeithleyInstrument, call: Call) -> str:
    return BOOL(instrument.display_text.get(_window(call), ("", False))[1])


def _set_unit(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.setup.system.temperature_unit = call.args[0][0]


def _unit(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.setup.system.temperature_unit


def _set_statistic(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.setup.calc.statistic = call.args[0]


def _statistic(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.setup.calc.statistic


def _statistics(instrument: KeithleyInstrument, call: Call) -> str:
    values = [entry.reading.value for entry in instrument.trace.entries
              if entry.reading.status in "NR"]
    if not values:
        raise ScpiError(-230)
    kind = instrument.setup.calc.statistic
    mean = sum(values) / len(values)
    if kind in ("MEAN", "NONE"):
        result = mean
    elif kind == "SDEV":
        spread = sum((value - mean) ** 2 for value in values)
        result = math.sqrt(spread / (len(values) - 1)) if len(values) > 1 else 0.0
    elif kind == "MAX":
        result = max(values)
    elif kind == "MIN":
        result = min(values)
    else:
        result = max(values) - min(values)
    return instrument.table_options.nr3_derived(result)
