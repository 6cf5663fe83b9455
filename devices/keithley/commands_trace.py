"""``:TRACe`` (``:DATA`` on the 6517B) and ``:FORMat`` commands (§4.7, §4.8)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devices.keithley.commands_common import (
    NR1,
    TableOptions,
    command,
    execution_error,
    numeric,
    stored_only,
)
from devices.keithley.reading_format import (
    ELEMENT_ORDER_6514,
    ELEMENT_ORDER_6517B,
    TRACE_ELEMENT_ORDER,
    format_element_list,
)
from devices.keithley.trace import bytes_per_reading, reduced_capacity
from devices.scpi import Call, Choice, Command, ElementList, Numeric, ScpiError

if TYPE_CHECKING:
    from devices.keithley.instrument import KeithleyInstrument

_FORMAT_ELEMENTS_6517B = ("READing", "CHANnel", "RNUMber", "UNITs", "TSTamp", "STATus",
                          "HUMidity", "ETEMperature", "VSOurce")
_FORMAT_ELEMENTS_6514 = ("READing", "TIME", "STATus")
_TRACE_ELEMENTS = ("TSTamp", "HUMidity", "CHANnel", "ETEMperature", "VSOurce", "NONE")
#: ``:TRACe:FEED`` and ``:TRACe:FEED:CONTrol`` choices per model (§4.7).
TRACE_FEEDS = {"6517B": ("SENSe[1]", "CALCulate[1]", "NONE"),
               "6514": ("SENSe[1]", "CALCulate[1]", "CALCulate2")}
FEED_CONTROLS = {"6517B": ("NEVer", "NEXT", "ALWays", "PRETrigger"), "6514": ("NEVer", "NEXT")}
PRETRIGGER_SOURCES = ("EXTernal", "TLINk", "BUS", "MANual")


def trace_commands(options: TableOptions) -> list[Command[Any]]:
    """TRACe commands; the 6517B also answers them under the ``:DATA`` root."""
    roots = (":TRACe", ":DATA") if options.b else (":TRACe",)
    commands: list[Command[Any]] = []
    for root in roots:
        commands += _trace_root(options, root)
    return commands


def _trace_root(options: TableOptions, root: str) -> list[Command[Any]]:
    points = options.limits.trace_points
    feeds = TRACE_FEEDS[options.model]
    controls = FEED_CONTROLS[options.model]
    commands = [
        command(f"{root}:CLEar", _clear),
        command(f"{root}:POINts", _set_points, _points,
                (numeric(points, integer=True),), NR1),
        command(f"{root}:POINts:ACTual?", on_query=_actual),
        command(f"{root}:FREE?", on_query=_free),
        command(f"{root}:FEED", _set_feed, _feed, (Choice(*feeds),)),
        command(f"{root}:FEED:CONTrol", _set_control, _control, (Choice(*controls),)),
        command(f"{root}:TSTamp:FORMat", _set_tstamp, _tstamp,
                (Choice("ABSolute", "DELTa"),)),
        command(f"{root}:DATA?", on_query=_dump),
    ]
    if options.b:
        commands += [
            command(f"{root}:ELEMents", _set_elements, _elements,
                    (ElementList(*_TRACE_ELEMENTS),)),
            command(f"{root}:FEED:PRETrigger:SOURce", _set_pretrigger_source,
                    _pretrigger_source, (Choice(*PRETRIGGER_SOURCES),)),
            command(f"{root}:FEED:PRETrigger:AMOunt[:PERCent]", _set_percent, _percent,
                    (Numeric(0, 100, 0),), options.nr3),
            command(f"{root}:FEED:PRETrigger:AMOunt:READings", _set_readings, _readings,
                    (Numeric(0, points.maximum, 0, integer=True),), NR1),
        ]
    return commands


def format_commands(options: TableOptions) -> list[Command[Any]]:
    """``:FORMat`` (§4.8)."""
    types = ("ASCii", "REAL", "SREal", "DREal") if options.b else ("ASCii", "REAL", "SREal")
    names = _FORMAT_ELEMENTS_6517B if options.b else _FORMAT_ELEMENTS_6514
    commands = [
        command(":FORMat[:DATA]", _set_data, _data,
                (Choice(*types), Numeric(1, 64, integer=True, optional=True))),
        command(":FORMat:ELEMents", _set_format_elements, _format_elements,
                (ElementList(*names),)),
        command(":FORMat:BORDer", _set_border, _border, (Choice("NORMal", "SWAPped"),)),
    ]
    if not options.b:
        commands += [
            command(":FORMat:SREGister", _set_sregister, _sregister,
                    (Choice("ASCii", "HEXadecimal", "OCTal", "BINary"),)),
            stored_only(":FORMat:SOURce2", "ASC"),
        ]
    return commands


# -- TRACe handlers --------------------------------------------------------------------------


def _refresh(instrument: KeithleyInstrument) -> None:
    instrument.update_measurement_status()


def _next_keeps_feed(instrument: KeithleyInstrument) -> bool:
    return instrument.config.fidelity_has("F24", "next_keeps_feed")


def _reduced_capacity(instrument: KeithleyInstrument) -> bool:
    return instrument.model == "6517B" and instrument.config.fidelity_has("F25",
                                                                         "reduced_capacity")


def _after_buffer_change(instrument: KeithleyInstrument) -> None:
    # F24 alternative: NEXT still reads back, so the fill goes on once there is room.
    if _next_keeps_feed(instrument):
        instrument.trace.resume_fill()
    _refresh(instrument)


def _capacity(instrument: KeithleyInstrument) -> int:
    """Largest ``TRAC:POIN``: the model maximum, less per stored element with F25."""
    maximum = int(instrument.limits.trace_points.maximum)
    if not _reduced_capacity(instrument):
        return maximum
    return reduced_capacity(maximum, instrument.trace.settings.elements,
                            reading_bytes=instrument.limits.trace_bytes_per_reading)


def _clear(instrument: KeithleyInstrument, call: Call) -> None:
    if instrument.config.fidelity_has("F24", "clear_while_storing_error") and \
            instrument.trigger_model.running and instrument.trace.settings.control != "NEV":
        raise ScpiError(-221)
    instrument.trace.clear()
    _after_buffer_change(instrument)


def _set_points(instrument: KeithleyInstrument, call: Call) -> None:
    capacity = _capacity(instrument)
    asks_maximum = call.is_word() and call.tokens[0].text.upper().startswith("MAX")
    points = capacity if asks_maximum else call.args[0]
    if points > capacity:
        # F25 alternative: the stored elements leave room for fewer readings.
        raise ScpiError(-222)
    _resize(instrument, points)


def _resize(instrument: KeithleyInstrument, points: int) -> None:
    keep = instrument.config.fidelity_has("F24", "points_keeps_buffer")
    instrument.trace.set_points(points, keep_readings=keep)
    _after_buffer_change(instrument)


def _points(instrument: KeithleyInstrument, call: Call) -> str:
    return NR1(instrument.trace.settings.points)


def _actual(instrument: KeithleyInstrument, call: Call) -> str:
    return NR1(len(instrument.trace))


def _free(instrument: KeithleyInstrument, call: Call) -> str:
    size = instrument.limits.trace_bytes_per_reading
    if _reduced_capacity(instrument):
        size = bytes_per_reading(instrument.trace.settings.elements, reading_bytes=size)
    free, used = instrument.trace.free_bytes(size)
    return f"{free},{used}"


def _set_feed(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.trace.settings.feed = call.args[0]


def _feed(instrument: KeithleyInstrument, call: Call) -> str:
    return str(instrument.trace.settings.feed)


def _set_control(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.trace.set_control(call.args[0])


def _control(instrument: KeithleyInstrument, call: Call) -> str:
    trace = instrument.trace
    if trace.fill_stopped and _next_keeps_feed(instrument):
        return "NEXT"
    return trace.settings.control


def _set_tstamp(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.trace.settings.tstamp_format = call.args[0]


def _tstamp(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.trace.settings.tstamp_format


def _set_elements(instrument: KeithleyInstrument, call: Call) -> None:
    items = tuple(item for item in call.args[0] if item != "NONE")
    instrument.trace.settings.elements = items
    capacity = _capacity(instrument)
    if instrument.trace.settings.points > capacity:
        # F25 alternative: bigger stored readings shrink the buffer to what fits.
        _resize(instrument, capacity)


def _elements(instrument: KeithleyInstrument, call: Call) -> str:
    return format_element_list(instrument.trace.settings.elements, TRACE_ELEMENT_ORDER)


def _set_pretrigger_source(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.trace.settings.pretrigger_source = call.args[0]


def _pretrigger_source(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.trace.settings.pretrigger_source


def _set_percent(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.trace.settings.pretrigger_percent = call.args[0]
    instrument.trace.settings.pretrigger_readings = 0


def _percent(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.table_options.nr3(instrument.trace.settings.pretrigger_percent)


def _set_readings(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.trace.settings.pretrigger_readings = call.args[0]


def _readings(instrument: KeithleyInstrument, call: Call) -> str:
    return NR1(instrument.trace.settings.pretrigger_readings)


def _dump(instrument: KeithleyInstrument, call: Call) -> str:
    trace = instrument.trace
    if not len(trace):
        if instrument.config.empty_buffer_dump == "error":
            raise ScpiError(-230)
        return ""
    if instrument.model == "6517B":
        wanted = set(instrument.setup.format.elements) & instrument.config.mismatch_elements
        if wanted - trace.stored_elements():
            raise ScpiError(instrument.config.buffer_mismatch_code,
                            "Buffer & format element mismatch")
    return instrument.reading_format().format_dump(trace.dump())


# -- FORMat handlers ----------------------------------------------------------------------------


def _set_data(instrument: KeithleyInstrument, call: Call) -> None:
    kind, length = call.args[0], call.args[1]
    if kind != "ASC" or length is not None:
        raise execution_error(instrument, -221)


def _data(instrument: KeithleyInstrument, call: Call) -> str:
    return "ASC"


def _set_format_elements(instrument: KeithleyInstrument, call: Call) -> None:
    items = tuple(dict.fromkeys(call.args[0]))
    instrument.setup.format.elements = items


def _format_elements(instrument: KeithleyInstrument, call: Call) -> str:
    order = ELEMENT_ORDER_6517B if instrument.model == "6517B" else ELEMENT_ORDER_6514
    return format_element_list(instrument.setup.format.elements, order)


def _set_border(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.setup.format.border = call.args[0]


def _border(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.setup.format.border


def _set_sregister(instrument: KeithleyInstrument, call: Call) -> None:
    instrument.setup.format.sregister = call.args[0]
    instrument.apply_register_format()


def _sregister(instrument: KeithleyInstrument, call: Call) -> str:
    return instrument.setup.format.sregister
