"""Assembly of the per-model command tables, cached per table-relevant configuration."""

from __future__ import annotations

import functools
from typing import Any

from devices.keithley.commands_common import TableOptions, standard_commands
from devices.keithley.commands_measure import measure_commands, trigger_commands
from devices.keithley.commands_sense import sense_commands
from devices.keithley.commands_source import source_commands
from devices.keithley.commands_system import (
    calculate_commands,
    display_commands,
    stored_commands,
    system_commands,
)
from devices.keithley.commands_trace import format_commands, trace_commands
from devices.keithley.instrument import SAVE_SLOTS
from devices.scpi import MEASUREMENT, OPERATION, QUESTIONABLE, CommandTable, RegisterSpec
from devices.scpi.status import StatusLayout

#: STATus registers (§2.6); the 6517B has the arm and trigger sub-registers too.
LAYOUT_6514 = StatusLayout((MEASUREMENT, OPERATION, QUESTIONABLE))
LAYOUT_6517B = StatusLayout((
    MEASUREMENT, OPERATION, QUESTIONABLE,
    RegisterSpec("operation_arm", ":STATus:OPERation:ARM"),
    RegisterSpec("arm_sequence", ":STATus:OPERation:ARM:SEQuence"),
    RegisterSpec("operation_trigger", ":STATus:OPERation:TRIGger"),
))


@functools.lru_cache(maxsize=32)
def command_table(options: TableOptions) -> CommandTable[Any]:
    """The command table of ``options.model`` with the given switches; built once."""
    layout = LAYOUT_6517B if options.b else LAYOUT_6514
    slots = SAVE_SLOTS if options.save_slots_0_9 else int(options.limits.save_slots.maximum) + 1
    options_query = options.b or options.opt_query
    commands = [
        *standard_commands(layout, slots, options_query),
        *sense_commands(options),
        *measure_commands(options),
        *trigger_commands(options),
        *trace_commands(options),
        *format_commands(options),
        *system_commands(options),
        *display_commands(options),
        *calculate_commands(options),
        *stored_commands(options),
        *source_commands(options),
    ]
    return CommandTable(commands, status=layout, save_slots=slots,
                        options_query=options_query, standard=False)
