"""``[:SENSe[1]]`` commands: function, ranges, NPLC/aperture, digits, filters, REL (§4.2-§4.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devices.keithley.commands_common import (
    BOOL,
    NR1,
    TableOptions,
    command,
    field,
    filters,
    numeric,
    reading_fetched,
    sense,
    stored_only,
)
from devices.keithley.ranges import FUNCTIONS, model_limits, range_table
from devices.keithley.state import FUNCTION_REPLY
from devices.keithley.timing import aperture, nplc_for_aperture
from devices.scpi import ONCE, Boolean, Call, Choice, Command, Numeric, ScpiError, Step, String
from devices.scpi.formatting import format_string
from devices.scpi.mnemonics import MnemonicMatcher, parse_spelling

if TYPE_CHECKING:
    from devices.keithley.instrument import KeithleyInstrument

SENSE = "[:SENSe[1]]"
FUNCTION_NODES = {
    "VOLT": ":VOLTage[:DC]",
    "CURR": ":CURRent[:DC]",
    "RES": ":RESistance",
    "CHAR": ":CHARge",
}
_FUNCTION_NAMES = MnemonicMatcher(parse_spelling(name) for name in
                                  ("VOLTage", "CURRent", "RESistance", "CHARge"))
_FUNCTION_BY_SHORT = {"VOLT": "VOLT", "CURR": "CURR", "RES": "RES", "CHAR": "CHAR"}


def parse_function(text: str, word_error: int = -224) -> str:
    """``'CURR'``, ``"current:dc"`` … → ``CURR``; anything else → ``word_error``."""
    parts = text.strip().upper().split(":")
    if not 1 <= len(parts) <= 2 or not parts[0]:
        raise ScpiError(word_error)
    found = _FUNCTION_NAMES.match(parts[0], unknown_code=word_error)
    if isinstance(found, int) or found[1] is not None:
        raise ScpiError(word_error)
    function = _FUNCTION_BY_SHORT[found[0].short]
    if len(parts) == 2 and (function not in ("VOLT", "CURR") or parts[1] != "DC"):
        raise ScpiError(word_error)
    return function


def sense_commands(options: TableOptions) -> list[Command[Any]]:
    """All ``[:SENSe]`` commands of one model."""
    commands = [
        command(f"{SENSE}:FUNCtion", _set_function, _function,
                (String(word_error=options.function_word_error),)),
        command(f"{SENSE}:DATA[:LATest]?", on_query=_latest),
    ]
    if options.b:
        commands.append(command(f"{SENSE}:DATA:FRESh?", on_query=_fresh))
    for function in FUNCTIONS:
        commands += _function_commands(options, function)
    if not options.b:
        commands += _filter_commands(options, f"{SENSE}", None, average_type=False)
    if options.b:
        commands += _resistance_extras(options)
    return commands


def _function_commands(options: TableOptions, function: str) -> list[Command[Any]]:
    path = SENSE + FUNCTION_NODES[function]
    locate = sense(function)
    nr3 = options.nr3
    limits = options.limits
    commands = _range_commands(options, function)
    low, high = options.nplc_limits
    commands += [
        field(f"{path}:NPLCycles", Numeric(low, high, options.nplc_default), locate, "nplc",
              nr3, after=_manual_nplc(function)),
        field(f"{path}:DIGits", numeric(limits.digits, integer=True), locate, "digits", NR1),
        field(f"{path}:REFerence", _reference_parameter(options.model, function), locate,
              "reference", nr3),
        field(f"{path}:REFerence:STATe", Boolean(), locate, "reference_state", BOOL),
        command(f"{path}:REFerence:ACQuire", _acquire_reference(function)),
    ]
    if options.b or options.aperture_on_6514:
        # The 6514 documents no aperture; when enabled it takes the 6517B's limits.
        aperture_limit = limits.aperture or model_limits("6517B").aperture
        assert aperture_limit is not None
        commands += [
            command(f"{path}:APERture", _set_aperture(function), _aperture(function),
                    (numeric(aperture_limit),), options.nr3_derived),
            command(f"{path}:APERture:AUTO", _set_nplc_auto(function), _nplc_auto(function),
                    (Boolean(once=True),)),
        ]
    if options.b:
        commands += [
            command(f"{path}:NPLCycles:AUTO", _set_nplc_auto(function), _nplc_auto(function),
                    (Boolean(once=True),)),
            field(f"{path}:DIGits:AUTO", Boolean(once=True), locate, "digits_auto", BOOL,
                  convert=lambda value: value is True or value == ONCE),
        ]
        commands += _filter_commands(options, path, function, average_type=True)
    elif options.per_function_filters:
        commands += _filter_commands(options, path, function, average_type=False)
    commands += _input_options(options, function, path)
    return commands


def _input_options(options: TableOptions, function: str, path: str) -> list[Command[Any]]:
    locate = sense(function)
    commands: list[Command[Any]] = []
    if function == "CURR" or (function == "RES" and options.b):
        commands.append(field(f"{path}:DAMPing", Boolean(), locate, "damping", BOOL))
    if function == "VOLT":
        commands.append(field(f"{path}:GUARd", Boolean(), locate, "guard", BOOL))
        if options.b:
            commands.append(field(f"{path}:XFEedback", Boolean(), locate, "xfeedback", BOOL))
    if function == "CHAR":
        commands += [
            field(f"{path}:ADIScharge[:STATe]", Boolean(), locate, "adischarge", BOOL),
            field(f"{path}:ADIScharge:LEVel", numeric(options.limits.adischarge_level), locate,
                  "adischarge_level", options.nr3),
        ]
        if options.b:
            commands.append(stored_only(f"{path}:RANGe:AUTO:LGRoup", "LOW"))
    return commands


def _range_commands(options: TableOptions, function: str) -> list[Command[Any]]:
    table = range_table(options.model, function)
    auto_node = "[:AUTO]" if options.b and function == "RES" else ""
    path = SENSE + FUNCTION_NODES[function] + auto_node + ":RANGe"
    low, high = table.parameter_min, table.parameter_max
    default = table.rst_range.full_scale
    limit = Numeric(low, high, default)
    return [
        command(f"{path}[:UPPer]", _set_range(function), _range(function),
                (Numeric(low, high, default, up_down=True),), options.nr3),
        command(f"{path}:AUTO", _set_autorange(function), _autorange(function),
                (Boolean(once=True),)),
        command(f"{path}:AUTO:ULIMit", _set_limit(function, "auto_upper"),
                _limit(function, "auto_upper"), (limit,), options.nr3),
        command(f"{path}:AUTO:LLIMit", _set_limit(function, "auto_lower"),
                _limit(function, "auto_lower"), (limit,), options.nr3),
    ]


def _filter_commands(options: TableOptions, path: str, function: str | None,
                     *, average_type: bool) -> list[Command[Any]]:
    locate = filters(function)
    limits = options.limits
    commands = [
        field(f"{path}:MEDian[:STATe]", Boolean(), locate, "median", BOOL),
        field(f"{path}:MEDian:RANK", numeric(limits.median_rank, integer=True), locate,
              "median_rank", NR1),
        field(f"{path}:AVERage[:STATe]", Boolean(), locate, "average", BOOL),
        field(f"{path}:AVERage:TCONtrol", Choice("REPeat", "MOVing"), locate,
              "average_tcontrol", str),
        field(f"{path}:AVERage:COUNt", numeric(limits.average_count, integer=True), locate,
              "average_count", NR1),
    ]
    if average_type:
        commands += [
            field(f"{path}:AVERage:TYPE", Choice("NONE", "SCALar", "ADVanced"), locate,
                  "average_type", str),
            field(f"{path}:AVERage:ADVanced:NTOLerance", numeric(limits.average_tolerance),
                  locate, "average_ntolerance", options.nr3),
        ]
    return commands


def _resistance_extras(options: TableOptions) -> list[Command[Any]]:
    manual = f"{SENSE}:RESistance:MANual"
    source = _source
    limits = options.limits
    assert limits.manual_current_range is not None and limits.manual_vsource is not None

    # F18: one operate state with OUTPut1 by default; its own stored flag otherwise.
    operate = "manual_operate" if options.separate_operate else "operate"
    return [
        field(f"{manual}:CRANge[:UPPer]", numeric(limits.manual_current_range), source,
              "manual_crange", options.nr3),
        field(f"{manual}:CRANge:AUTO", Boolean(once=True), source, "manual_crange_auto", BOOL,
              convert=lambda value: value is True or value == ONCE),
        field(f"{manual}:VSOurce:OPERate", Boolean(), source, operate, BOOL),
        field(f"{manual}:VSOurce[:AMPLitude]", numeric(limits.manual_vsource), source,
              "manual_amplitude", options.vsource),
        field(f"{manual}:VSOurce:RANGe", numeric(limits.manual_vsource), source,
              "manual_range", options.vsource, convert=limits.vsource_range_for),
        stored_only(f"{SENSE}:RESistance:VSControl", "AUTO"),
        stored_only(f"{SENSE}:RESistance:MSELect", "NORM"),
        stored_only(f"{SENSE}:RESistance:RESistivity:STATe", "0"),
        stored_only(f"{SENSE}:RESistance:RESistivity:FSELect", "M8009"),
        stored_only(f"{SENSE}:RESistance:RESistivity:STHickness", "1.000000E-03"),
    ]


def _source(instrument: KeithleyInstrument, call: Call) -> Any:
    return instrument.setup.source


# -- handlers ------------------------------------------------------------------------------


def _set_function(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.setup.function = parse_function(call.args[0])


def _function(instrument: KeithleyInstrument, call: Call) -> str:
    return format_string(FUNCTION_REPLY[instrument.setup.function])


def _latest(instrument: KeithleyInstrument, call: Call) -> str:
    instrument.check_reading_reply()
    reading = instrument.latest
    if reading is None:
        if instrument.config.fidelity_has("F21", "latest_error"):
            raise ScpiError(-230)
        reading = instrument.invalid_reading(instrument.device_time(call.time))
    reading_fetched(instrument)
    return instrument.format_reading(reading)


def _fresh(instrument: KeithleyInstrument, call: Call) -> str:
    from devices.keithley.commands_measure import wait_fresh

    return wait_fresh(instrument, call)


def _set_range(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> None:
        settings = instrument.setup.functions[function]
        table = range_table(instrument.model, function)
        value = call.args[0]
        if isinstance(value, Step):
            chosen = table.step(settings.range_nominal, 1 if value is Step.UP else -1)
            settings.range_as_set = None
        else:
            chosen = table.select(value)
            settings.range_as_set = None if call.is_word(0) else float(value)
        settings.range_nominal = chosen.nominal
        settings.range_auto = False
        settings.range_once = False

    return handler


def _range(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> str:
        return instrument.table_options.nr3(instrument.range_reply(function))

    return handler


def _set_autorange(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> None:
        settings = instrument.setup.functions[function]
        value = call.args[0]
        settings.range_once = value == ONCE
        settings.range_auto = value is True
        if settings.range_auto:
            settings.range_as_set = None

    return handler


def _autorange(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> str:
        return BOOL(instrument.setup.functions[function].range_auto)

    return handler


def _set_limit(function: str, attribute: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> None:
        chosen = range_table(instrument.model, function).select(call.args[0])
        setattr(instrument.setup.functions[function], attribute, chosen.nominal)

    return handler


def _limit(function: str, attribute: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> str:
        nominal = getattr(instrument.setup.functions[function], attribute)
        full_scale = range_table(instrument.model, function).by_nominal(nominal).full_scale
        return instrument.table_options.nr3(full_scale)

    return handler


def _manual_nplc(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> None:
        instrument.setup.functions[function].nplc_auto = False

    return handler


def _set_aperture(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> None:
        nplc = nplc_for_aperture(call.args[0], instrument.line_frequency)
        low, high = instrument.config.nplc_limits
        if not low - 1e-9 <= nplc <= high + 1e-9:
            raise ScpiError(-222)
        settings = instrument.setup.functions[function]
        settings.nplc = min(max(nplc, low), high)
        settings.nplc_auto = False

    return handler


def _aperture(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> str:
        nplc = instrument.setup.functions[function].nplc
        return instrument.table_options.nr3_derived(aperture(nplc, instrument.line_frequency))

    return handler


def _set_nplc_auto(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> None:
        settings = instrument.setup.functions[function]
        value = call.args[0]
        settings.nplc_auto = value is True
        if value is True or value == ONCE:
            settings.nplc = 1.0

    return handler


def _nplc_auto(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> str:
        return BOOL(instrument.setup.functions[function].nplc_auto)

    return handler


def _reference_parameter(model: str, function: str) -> Numeric:
    table = range_table(model, function)
    limit = max(abs(table.parameter_min), abs(table.parameter_max))
    return Numeric(-limit, limit, 0.0)


def _acquire_reference(function: str) -> Any:
    def handler(instrument: KeithleyInstrument, call: Call) -> None:
        latest = instrument.latest
        settings = instrument.setup.functions[function]
        if latest is not None and latest.function == function and latest.status in "NR":
            settings.reference = latest.value + (settings.reference if latest.relative else 0.0)

    return handler
