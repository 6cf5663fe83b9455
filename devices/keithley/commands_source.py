"""6517B voltage source: ``:SOURce``, ``:OUTPut`` and the ``:VSOurce`` alias (§4.11)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from devices.keithley.commands_common import (
    BOOL,
    TableOptions,
    command,
    execution_error,
    field,
    numeric,
)
from devices.keithley.ranges import model_limits
from devices.scpi import Boolean, Call, Command

if TYPE_CHECKING:
    from devices.keithley.instrument import KeithleyInstrument


def source_commands(options: TableOptions) -> list[Command[Any]]:
    """V-source commands (6517B only)."""
    if not options.b:
        return []
    vsource = options.vsource
    limits = options.limits
    assert limits.vsource_level and limits.vsource_range and limits.vsource_limit
    rlim = ":SOURce:CURRent:RLIMit:STATe" if options.rlim_state_required else \
        ":SOURce:CURRent:RLIMit[:STATe]"
    commands = [
        command(":SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude]", _set_level, _level,
                (numeric(limits.vsource_level),), vsource),
        command(":SOURce:VOLTage:RANGe", _set_range, _range, (numeric(limits.vsource_range),),
                vsource),
        field(":SOURce:VOLTage:LIMit[:AMPLitude]", numeric(limits.vsource_limit), _source,
              "limit", vsource),
        field(":SOURce:VOLTage:LIMit:STATe", Boolean(), _source, "limit_state", BOOL),
        field(":SOURce:VOLTage:MCONnect", Boolean(), _source, "mconnect", BOOL),
        field(rlim, Boolean(), _source, "rlimit", BOOL),
        command(":SOURce:CURRent:LIMit[:STATe]?", on_query=_compliance),
        field(":OUTPut[1][:STATe]", Boolean(), _source, "operate", BOOL),
    ]
    if options.vsource_alias:
        # The deployed controller abbreviates it ``:vsou:oper`` (§9.4), so both shorts work.
        alias = field(":VSOurce:OPERate[:STATe]", Boolean(), _source, "operate", BOOL)
        commands += [alias, dataclasses.replace(alias, pattern=":VSOUrce:OPERate[:STATe]")]
    return commands


def _source(instrument: KeithleyInstrument, call: Call) -> Any:
    return instrument.setup.source


def _set_level(instrument: KeithleyInstrument, call: Call) -> None:
    source = instrument.setup.source
    if abs(call.args[0]) > source.range:
        raise execution_error(instrument, -222)
    source.level = call.args[0]


def _level(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.table_options.vsource(instrument.setup.source.level)


def _set_range(instrument: KeithleyInstrument, call: Call) -> None:
    source = instrument.setup.source
    value = call.args[0]
    source.range = model_limits(instrument.model).vsource_range_for(value)
    source.range_as_set = float(value)


def _range(instrument: KeithleyInstrument, call: Call) -> str:
    source = instrument.setup.source
    value = source.range
    if instrument.config.range_readback == "as_set" and source.range_as_set is not None:
        value = source.range_as_set
    return instrument.table_options.vsource(value)


def _compliance(instrument: KeithleyInstrument, call: Call) -> str:
    return BOOL(instrument.signals.vsource_compliance)
