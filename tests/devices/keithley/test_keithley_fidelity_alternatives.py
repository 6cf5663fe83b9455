"""The §10 rows F18, F24 and F25: each default and each alternative, through SCPI."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from model_helpers import errors, lines

from devices.keithley import MockKeithley
from devices.keithley.config import KeithleyConfig
from devices.keithley.fidelity import FIDELITY_ROWS
from devices.keithley.mock_server import MockServer
from devices.keithley.reading import Reading
from devices.keithley.trace import TraceBuffer, TraceSettings

WAIT = 10.0  # generous: two cores shared with other test runs
ALL_ELEMENTS = "TST,HUM,CHAN,ETEM,VSO"


def device(model: str = "6517B", **fidelity: str) -> MockKeithley:
    return MockKeithley(model, speed=0, fidelity=fidelity)


def capacity_rule(extra_elements: int) -> int:
    """F25 alternative as documented: 50000 readings of 16 bytes, 8 more per element."""
    return 50000 * 16 // (16 + 8 * extra_elements)


def fill(dev: MockKeithley, points: int, readings: int) -> list[str]:
    """A NEXT fill of ``points`` from an acquisition of ``readings``; the replies."""
    return lines(dev, "*RST", "SYST:ZCH OFF", f"TRAC:POIN {points}", "TRAC:FEED:CONT NEXT",
                 f"TRIG:COUN {readings}", "INIT", "*OPC?")


def dumped(dev: MockKeithley) -> list[str]:
    """``TRAC:DATA?`` split into one text per reading (READ, TST, RNUM)."""
    fields = lines(dev, "TRAC:DATA?")[0].split(",")
    return [",".join(fields[k:k + 3]) for k in range(0, len(fields), 3)]


def actual(dev: MockKeithley) -> int:
    return int(lines(dev, "TRAC:POIN:ACT?")[0])


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(("row", "value"), [
    ("F18", "separate"), ("F24", "keep_feed"), ("F25", "retained"), ("F25", "none"),
])
def test_unknown_option_names_the_row_and_the_allowed_options(row: str, value: str) -> None:
    with pytest.raises(ValueError) as caught:
        KeithleyConfig(fidelity={row: value})
    message = str(caught.value)
    assert f"fidelity.{row}" in message and repr(value) in message
    for option in FIDELITY_ROWS[row].options:
        assert repr(option) in message


@pytest.mark.parametrize("value", ["default,reduced_capacity", "buffer_retained, default"])
def test_default_does_not_combine_with_an_alternative(value: str) -> None:
    with pytest.raises(ValueError, match=r"fidelity\.F25: 'default' cannot be combined"):
        KeithleyConfig(fidelity={"F25": value})


def test_wrong_type_is_refused_with_the_row_named() -> None:
    with pytest.raises(ValueError, match=r"fidelity\.F24: expected a text"):
        KeithleyConfig.from_mapping({"fidelity.F24": ["next_keeps_feed"]})


def test_combined_options_load_from_dotted_keys() -> None:
    config = KeithleyConfig.from_mapping({
        "fidelity.F25": "buffer_retained, reduced_capacity",
        "fidelity": {"F18": "rlim_state_required"},
    })
    assert config.fidelity_choice("F25") == "reduced_capacity,buffer_retained"
    assert config.fidelity_has("F25", "reduced_capacity")
    assert not config.fidelity_has("F25", "reset_touches_trace")
    assert config.fidelity_has("F18", "rlim_state_required")
    assert config.fidelity_choice("F24") == "default"


@pytest.mark.parametrize("row", ["F18", "F24", "F25"])
def test_every_alternative_is_described(row: str) -> None:
    spec = FIDELITY_ROWS[row]
    for option in spec.options[1:]:
        assert f"{option}:" in spec.alternatives


# -- F18: operate state, RLIMit [:STATe] --------------------------------------------------------


def test_f18_default_output_and_manual_ohms_operate_are_one_state() -> None:
    dev = device()
    assert lines(dev, "OUTP ON", "SENS:RES:MAN:VSO:OPER?") == ["1"]
    assert lines(dev, "RES:MAN:VSO:OPER OFF", "OUTP?") == ["0"]
    assert errors(dev) == []


def test_f18_separate_operate_states_keep_their_own_flags() -> None:
    dev = device(F18="separate_operate_states")
    assert lines(dev, "OUTP ON", "SENS:RES:MAN:VSO:OPER?", "OUTP?") == ["0", "1"]
    assert lines(dev, "RES:MAN:VSO:OPER ON", "OUTP OFF", "RES:MAN:VSO:OPER?", "OUTP?") == [
        "1", "0"]
    assert errors(dev) == []


@pytest.mark.parametrize(("fidelity", "sourced"), [
    ("default", ["+0005.000", "+0000.000"]),
    ("separate_operate_states", ["+0005.000", "+0005.000"]),
])
def test_f18_manual_ohms_operate_switches_the_sourced_voltage_only_as_one_state(
        fidelity: str, sourced: list[str]) -> None:
    dev = device(F18=fidelity)
    lines(dev, "*RST", "SYST:ZCH OFF", "FORM:ELEM READ,VSO", "SOUR:VOLT 5", "OUTP ON")
    replies = lines(dev, "READ?", "SENS:RES:MAN:VSO:OPER OFF", "READ?")
    assert [reply.split(",")[1] for reply in replies] == sourced
    assert errors(dev) == []


def test_f18_default_rlimit_state_node_is_optional() -> None:
    dev = device()
    assert lines(dev, "SOUR:CURR:RLIM ON", "SOUR:CURR:RLIM?", "SOUR:CURR:RLIM:STAT?") == [
        "1", "1"]
    assert errors(dev) == []


def test_f18_rlimit_state_required_refuses_the_short_form() -> None:
    dev = device(F18="rlim_state_required")
    assert lines(dev, "SOUR:CURR:RLIM ON", "SOUR:CURR:RLIM:STAT?") == ["0"]
    assert errors(dev) == ['-113,"Undefined header"']
    assert lines(dev, "SOUR:CURR:RLIM?") == []
    assert errors(dev) == ['-113,"Undefined header"']
    assert lines(dev, "SOUR:CURR:RLIM:STAT ON", "SOUR:CURR:RLIM:STAT?") == ["1"]
    assert errors(dev) == []


def test_f18_options_combine() -> None:
    dev = device(F18="rlim_state_required,separate_operate_states")
    assert lines(dev, "OUTP ON", "RES:MAN:VSO:OPER?", "SOUR:CURR:RLIM?") == ["0"]
    assert errors(dev) == ['-113,"Undefined header"']


# -- F24: NEXT read-back, TRAC:POIN, TRAC:CLE while storing -----------------------------------


def test_f24_default_full_next_buffer_reads_back_never_and_stays_stopped() -> None:
    dev = device()
    assert fill(dev, 3, 5) == ["1"]
    assert lines(dev, "TRAC:POIN:ACT?", "TRAC:FEED:CONT?") == ["3", "NEV"]
    assert lines(dev, "TRAC:CLE", "TRAC:FEED:CONT?", "INIT", "*OPC?") == ["NEV", "1"]
    assert actual(dev) == 0
    assert errors(dev) == []


def test_f24_next_keeps_feed_reads_back_next_and_fills_again_after_clear() -> None:
    dev = device(F24="next_keeps_feed")
    assert fill(dev, 3, 5) == ["1"]
    assert lines(dev, "TRAC:POIN:ACT?", "TRAC:FEED:CONT?") == ["3", "NEXT"]
    assert lines(dev, "INIT", "*OPC?") == ["1"]
    assert actual(dev) == 3  # full: storage stopped although NEXT reads back
    assert lines(dev, "TRAC:CLE", "TRAC:FEED:CONT?", "INIT", "*OPC?") == ["NEXT", "1"]
    assert lines(dev, "TRAC:POIN:ACT?", "TRAC:FEED:CONT?") == ["3", "NEXT"]
    assert errors(dev) == []


def test_f24_next_keeps_feed_resumes_when_points_grow() -> None:
    dev = device(F24="next_keeps_feed,points_keeps_buffer")
    fill(dev, 2, 2)
    assert lines(dev, "TRAC:POIN 4", "TRAC:POIN:ACT?", "INIT", "*OPC?") == ["2", "1"]
    assert lines(dev, "TRAC:POIN:ACT?", "TRAC:FEED:CONT?") == ["4", "NEXT"]


def test_f24_default_points_change_clears_the_buffer() -> None:
    dev = device()
    fill(dev, 4, 4)
    assert lines(dev, "TRAC:POIN 5", "TRAC:POIN:ACT?", "TRAC:POIN?") == ["0", "5"]
    assert errors(dev) == []


def test_f24_points_keeps_buffer_keeps_the_oldest_readings_that_fit() -> None:
    dev = device(F24="points_keeps_buffer")
    fill(dev, 4, 4)
    before = dumped(dev)
    assert len(before) == 4
    assert lines(dev, "TRAC:POIN 6", "TRAC:POIN:ACT?") == ["4"]
    assert dumped(dev) == before
    assert lines(dev, "TRAC:POIN 2", "TRAC:POIN:ACT?", "TRAC:POIN?") == ["2", "2"]
    assert dumped(dev) == before[:2]
    assert errors(dev) == []


def test_f24_points_shrunk_below_a_running_next_fill_stops_it() -> None:
    dev = device(F24="points_keeps_buffer")
    lines(dev, "*RST", "SYST:ZCH OFF", "TRAC:POIN 10", "TRAC:FEED:CONT NEXT",
          "TRIG:SOUR BUS", "TRIG:COUN 5", "INIT", "*TRG", "*TRG", "*TRG")
    assert actual(dev) == 3
    assert lines(dev, "TRAC:POIN 2", "TRAC:FEED:CONT?", "*TRG", "TRAC:POIN:ACT?") == ["NEV", "2"]
    assert errors(dev) == []


def storing_with_one_reading(dev: MockKeithley) -> None:
    """The trigger model waits for BUS with ALWays storage and one reading stored."""
    lines(dev, "*RST", "SYST:ZCH OFF", "TRIG:SOUR BUS", "TRIG:COUN 3", "TRAC:FEED:CONT ALW",
          "INIT", "*TRG")
    assert actual(dev) == 1


def test_f24_default_clear_while_storing_is_allowed() -> None:
    dev = device()
    storing_with_one_reading(dev)
    assert lines(dev, "TRAC:CLE", "TRAC:POIN:ACT?") == ["0"]
    assert errors(dev) == []


def test_f24_clear_while_storing_error_refuses_and_keeps_the_readings() -> None:
    dev = device(F24="clear_while_storing_error")
    storing_with_one_reading(dev)
    assert lines(dev, "TRAC:CLE", "TRAC:POIN:ACT?") == ["1"]
    assert errors(dev) == ['-221,"Settings conflict"']
    # Not storing any more: the clear is allowed.
    assert lines(dev, "ABOR", "TRAC:CLE", "TRAC:POIN:ACT?") == ["0"]
    assert errors(dev) == []


# -- F25: capacity with elements, *RST/:SYST:PRES, power cycle ----------------------------------


def test_f25_default_capacity_is_50000_for_any_element_set() -> None:
    dev = device()
    replies = lines(dev, f"TRAC:ELEM {ALL_ELEMENTS}", "TRAC:POIN 50000", "TRAC:POIN?",
                    "TRAC:FREE?", "TRAC:POIN MAX", "TRAC:POIN?")
    assert replies == ["50000", f"{50000 * 16},0", "50000"]
    assert errors(dev) == []


def test_f25_reduced_capacity_refuses_points_beyond_what_fits() -> None:
    dev = device(F25="reduced_capacity")
    fits = capacity_rule(5)
    lines(dev, f"TRAC:ELEM {ALL_ELEMENTS}")
    assert lines(dev, "TRAC:POIN 50000", "TRAC:POIN?") == ["100"]
    assert errors(dev) == ['-222,"Parameter data out of range"']
    assert lines(dev, "TRAC:POIN MAX", "TRAC:POIN?", "TRAC:FREE?") == [
        str(fits), f"{fits * (16 + 8 * 5)},0"]
    assert lines(dev, f"TRAC:POIN {fits}", "TRAC:POIN?") == [str(fits)]
    assert errors(dev) == []


def test_f25_reduced_capacity_lowers_points_when_elements_are_added() -> None:
    dev = device(F25="reduced_capacity")
    assert lines(dev, "TRAC:POIN 50000", "TRAC:ELEM TST", "TRAC:POIN?") == [str(capacity_rule(1))]
    assert lines(dev, "TRAC:ELEM TST,HUM", "TRAC:POIN?") == [str(capacity_rule(2))]
    # Fewer elements raise the limit but leave POINts alone.
    assert lines(dev, "TRAC:ELEM NONE", "TRAC:POIN?", "TRAC:POIN 50000", "TRAC:POIN?") == [
        str(capacity_rule(2)), "50000"]
    assert errors(dev) == []


def test_f25_reduced_capacity_leaves_the_6514_at_its_maximum() -> None:
    dev = device("6514", F25="reduced_capacity")
    assert lines(dev, "TRAC:POIN 2500", "TRAC:POIN?", "TRAC:FREE?") == ["2500", "40000,0"]
    assert errors(dev) == []


TRACE_QUERIES = ("TRAC:POIN?", "TRAC:ELEM?", "TRAC:TST:FORM?", "TRAC:FEED:CONT?",
                 "TRAC:FEED?")


def customised_trace(dev: MockKeithley) -> None:
    lines(dev, "*RST", "SYST:ZCH OFF", "TRAC:POIN 10", "TRAC:ELEM TST", "TRAC:TST:FORM DELT",
          "TRAC:FEED NONE", "TRAC:FEED:CONT ALW", "TRIG:COUN 2", "INIT", "*OPC?")
    assert actual(dev) == 2


@pytest.mark.parametrize("reset", ["*RST", "SYST:PRES"])
def test_f25_default_reset_and_preset_leave_trace_alone(reset: str) -> None:
    dev = device()
    customised_trace(dev)
    lines(dev, reset)
    assert lines(dev, *TRACE_QUERIES) == ["10", "TST", "DELT", "ALW", "NONE"]
    assert actual(dev) >= 2  # PRES restarts continuous readings, which keep storing
    assert errors(dev) == []


@pytest.mark.parametrize("reset", ["*RST", "SYST:PRES"])
def test_f25_reset_touches_trace_restores_power_on_settings(reset: str) -> None:
    dev = device(F25="reset_touches_trace")
    customised_trace(dev)
    lines(dev, reset)
    assert lines(dev, *TRACE_QUERIES) == ["100", "NONE", "ABS", "NEV", "SENS1"]
    assert actual(dev) == 0  # the POINts change cleared the buffer (F24 default)
    assert errors(dev) == []


def test_f25_reset_touches_trace_with_points_keeps_buffer_keeps_readings() -> None:
    dev = device(F25="reset_touches_trace", F24="points_keeps_buffer")
    customised_trace(dev)
    lines(dev, "*RST")
    assert lines(dev, "TRAC:POIN?", "TRAC:FEED:CONT?", "TRAC:POIN:ACT?") == ["100", "NEV", "2"]


def test_f25_reset_touches_trace_is_for_the_6517b_only() -> None:
    dev = device("6514", F25="reset_touches_trace")
    lines(dev, "TRAC:POIN 10", "TRAC:TST:FORM DELT", "*RST")
    assert lines(dev, "TRAC:POIN?", "TRAC:TST:FORM?") == ["10", "DELT"]


def test_f25_default_power_cycle_clears_the_buffer() -> None:
    dev = device()
    customised_trace(dev)
    dev.power_cycle()
    assert lines(dev, *TRACE_QUERIES) == ["100", "NONE", "ABS", "NEV", "SENS1"]
    assert actual(dev) == 0


def reading(t: float) -> Reading:
    return Reading(1e-12, "N", "CURR", 20e-12, 6, time=t, timestamp=t, number=0)


@pytest.mark.parametrize(("retain", "kept", "points"), [(False, 0, 100), (True, 3, 10)])
def test_f25_trace_power_on_retains_readings_and_points_only_when_asked(
        retain: bool, kept: int, points: int) -> None:
    buf = TraceBuffer(TraceSettings(points=10, control="NEXT", tstamp_format="DELT",
                                    elements=("TST",)))
    for t in (0.0, 1.0, 2.0):
        buf.store(reading(t))
    settings = buf.settings
    buf.power_on(retain_readings=retain)
    assert buf.settings is settings  # changed in place
    assert len(buf) == kept
    assert (settings.points, settings.control, settings.tstamp_format, settings.elements) == (
        points, "NEV", "ABS", ())
    assert not buf.store(reading(3.0))


@pytest.mark.xfail(strict=True, reason="needs KeithleyInstrument.power_on to call "
                   "TraceBuffer.power_on(retain_readings=...) instead of a new TraceBuffer")
def test_f25_buffer_retained_keeps_readings_over_a_power_cycle() -> None:
    dev = device(F25="buffer_retained")
    customised_trace(dev)
    before = lines(dev, "FORM:ELEM READ", "TRAC:DATA?")
    dev.power_cycle()
    assert lines(dev, "TRAC:POIN?", "TRAC:FEED:CONT?", "TRAC:POIN:ACT?") == ["10", "NEV", "2"]
    assert lines(dev, "FORM:ELEM READ", "TRAC:DATA?") == before


# -- through a MockServer socket -------------------------------------------------------------


@contextlib.asynccontextmanager
async def served(**overrides: object) -> AsyncIterator[
        tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    server = MockServer(speed=0, **overrides)
    try:
        async with asyncio.timeout(WAIT):
            await server.start_task
            assert server.port
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            yield reader, writer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    finally:
        await server.close()


async def query(stream: tuple[asyncio.StreamReader, asyncio.StreamWriter], text: str) -> str:
    reader, writer = stream
    writer.write(text.encode() + b"\n")
    await writer.drain()
    async with asyncio.timeout(WAIT):
        return (await reader.readuntil(b"\n")).decode().rstrip("\n")


SOCKET_FILL = ("*RST;:SYST:ZCH OFF;:TRAC:POIN 3;:TRAC:FEED:CONT NEXT;:TRIG:COUN 5;:INIT;*OPC?")


@pytest.mark.parametrize(("fidelity", "control"), [
    ({}, "NEV"), ({"F24": "next_keeps_feed"}, "NEXT"),
])
async def test_f24_next_read_back_over_a_socket(fidelity: dict[str, str], control: str) -> None:
    async with served(fidelity=fidelity) as stream:
        assert await query(stream, SOCKET_FILL) == "1"
        assert await query(stream, ":TRAC:POIN:ACT?;:TRAC:FEED:CONT?") == f"3;{control}"
        assert await query(stream, ":SYST:ERR?") == '0,"No error"'


@pytest.mark.parametrize(("fidelity", "replies"), [
    ({}, ["1", "1", '0,"No error"']),
    ({"F18": "rlim_state_required,separate_operate_states"},
     ["0", "0", '-113,"Undefined header"']),
])
async def test_f18_over_a_socket(fidelity: dict[str, str], replies: list[str]) -> None:
    async with served(fidelity=fidelity) as stream:
        assert [
            await query(stream, ":OUTP ON;:SENS:RES:MAN:VSO:OPER?"),
            # Two messages: a command error would discard the rest of one message.
            await query(stream, ":SOUR:CURR:RLIM ON\n:SOUR:CURR:RLIM:STAT?"),
            await query(stream, ":SYST:ERR?"),
        ] == replies


async def test_f25_reset_touches_trace_over_a_socket() -> None:
    async with served(fidelity={"F25": "reset_touches_trace"}) as stream:
        assert await query(stream, ":TRAC:POIN 10;:TRAC:ELEM TST;*RST;:TRAC:POIN?;:TRAC:ELEM?"
                           ) == "100;NONE"
