"""The §10 fidelity rows: each default and each alternative, through SCPI."""

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
from devices.keithley.signal import SignalSpec
from devices.keithley.state import rst_setup
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


@pytest.mark.parametrize("row", [row for row, spec in FIDELITY_ROWS.items()
                                 if len(spec.options) > 1])
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


def test_f25_buffer_retained_keeps_readings_over_a_power_cycle() -> None:
    dev = device(F25="buffer_retained")
    customised_trace(dev)
    before = lines(dev, "FORM:ELEM READ", "TRAC:DATA?")
    dev.power_cycle()
    assert lines(dev, "TRAC:POIN?", "TRAC:FEED:CONT?", "TRAC:POIN:ACT?") == ["10", "NEV", "2"]
    assert lines(dev, "FORM:ELEM READ", "TRAC:DATA?") == before


# -- the other generic rows: F1, F4, F6, F7, F11, F15, F20, F21 ---------------------------------


def test_f4_separate_answers_each_query_on_its_own_line() -> None:
    assert lines(device(F4="separate"), "*RST;*OPC?;*OPC?") == ["1", "1"]


def test_f4_default_joins_the_queries_of_one_message() -> None:
    assert lines(device(), "*RST;*OPC?;*OPC?") == ["1;1"]


@pytest.mark.parametrize("code", ["-224", "-141", "-104"])
def test_f6_unquoted_function_name_error(code: str) -> None:
    dev = device(F6=code)
    lines(dev, "*RST", "SENS:FUNC VOLT:DC")
    assert [entry.split(",")[0] for entry in errors(dev)] == [code]


@pytest.mark.parametrize(("option", "replies"), [("discard", []), ("continue", ["1"])])
def test_f7_execution_error_and_the_rest_of_the_message(option: str, replies: list[str]) -> None:
    dev = device(F7=option)
    assert lines(dev, "*RST", "SYST:ZCH OFF;:SYST:ZCOR:ACQ;*OPC?") == replies
    assert errors(dev) == ['-221,"Settings conflict"']


def test_f10_silent_trg_with_nothing_waiting_queues_no_error() -> None:
    loud, quiet = device(), device(F10="silent")
    assert lines(loud, "*RST", "*TRG") == lines(quiet, "*RST", "*TRG") == []
    assert [entry.split(",")[0] for entry in errors(loud)] == ["-211"]
    assert errors(quiet) == []


def test_f11_default_6514_has_three_slots_and_no_opt_query() -> None:
    dev = device("6514")
    assert lines(dev, "*SAV 2", "*SAV 5", "*OPT?") == []
    assert errors(dev) == ['-222,"Parameter data out of range"', '-113,"Undefined header"']


def test_f11_alternatives_give_the_6514_ten_slots_and_opt_query() -> None:
    dev = device("6514", F11="sav_0_9,opt_query")
    assert lines(dev, "*SAV 9", "*RCL 9", "*OPT?") == ["0"]
    assert errors(dev) == []


@pytest.mark.parametrize(("option", "reply"), [("short", "9.9E37"), ("nr3", "9.900000E+37")])
def test_f15_infinite_count_reply(option: str, reply: str) -> None:
    assert lines(device(F15=option), "TRIG:COUN INF", "TRIG:COUN?") == [reply]


def test_f20_default_read_with_a_bus_trigger_is_a_deadlock_error() -> None:
    dev = device()
    assert lines(dev, "*RST", "TRIG:SOUR BUS", "READ?") == []
    assert errors(dev) == ['-214,"Trigger deadlock"']


def test_f20_wait_read_with_a_bus_trigger_waits_without_error() -> None:
    dev = device(F20="wait")
    # The waiting READ? holds back later messages: the error query gets no reply either.
    assert lines(dev, "*RST", "TRIG:SOUR BUS", "READ?", "SYST:ERR?") == []


def test_f21_default_latest_is_the_invalid_reading_and_fresh_is_an_error() -> None:
    dev = device()
    latest = lines(dev, "*RST", "FORM:ELEM READ", "DATA:LAT?", "DATA:FRES?")
    assert latest == ["+9.9E37"]
    assert errors(dev) == ['-230,"Data corrupt or stale"']


def test_f21_latest_error_and_fresh_wait() -> None:
    dev = device(F21="latest_error,fresh_wait")
    assert lines(dev, "*RST", "DATA:LAT?", "SYST:ERR?") == ['-230,"Data corrupt or stale"']
    assert lines(dev, "DATA:FRES?", "SYST:ERR?") == []  # waits for a reading


# -- F29, F30: reading contents ------------------------------------------------------------


def stat_words(dev: MockKeithley, *setup: str) -> list[int]:
    """The 6514 STAT element of one READ? after each filter ``setup`` message."""
    lines(dev, "*RST", "SYST:ZCH OFF")
    return [int(float(lines(dev, message, "READ?")[0].split(",")[2])) for message in setup]


@pytest.mark.parametrize(("option", "median_bit"), [("default", 2), ("median_no_filter_bit", 0)])
def test_f29_median_filter_bit(option: str, median_bit: int) -> None:
    words = stat_words(device("6514", F29=option), "MED OFF", "MED ON")
    assert [word & 2 for word in words] == [0, median_bit]


def test_f29_median_no_filter_bit_keeps_the_average_filter_bit() -> None:
    words = stat_words(device("6514", F29="median_no_filter_bit"), "MED OFF;:AVER ON")
    assert [word & 2 for word in words] == [2]


def overflow_reading(**fidelity: str) -> str:
    dev = MockKeithley("6514", speed=0, fidelity=fidelity,
                       signals={"VOLT": SignalSpec("constant", value=50.0)})
    return lines(dev, "*RST", "SYST:ZCH OFF", "FORM:ELEM READ", "VOLT:RANG 2", "READ?")[0]


def test_f29_default_6514_overflow_has_seven_digits() -> None:
    assert overflow_reading() == "+9.900000E+37"


def test_f29_short_overflow_prints_the_short_literal() -> None:
    assert overflow_reading(F29="short_overflow") == "+9.9E37"


def reading_numbers(dev: MockKeithley) -> list[str]:
    # As after 99998 readings: counting them at speed 0 would take minutes.
    dev.measurement.reading_counter = 99998
    replies = lines(dev, "*RST", "SYST:ZCH OFF", "FORM:ELEM RNUM", "TRIG:COUN 3", "READ?")
    return replies[0].split(",")


def test_f30_default_reading_numbers_wrap_after_99999() -> None:
    assert reading_numbers(device()) == ["+99999", "+00000", "+00001"]


def test_f30_no_rnum_wrap_counts_on() -> None:
    assert reading_numbers(device(F30="no_rnum_wrap")) == ["+99999", "+100000", "+100001"]


def timestamps(dev: MockKeithley) -> list[float]:
    replies = lines(dev, "*RST", "SYST:ZCH OFF", "FORM:ELEM TST", "TRIG:COUN 3", "READ?")
    return [float(text) for text in replies[0].split(",")]


def test_f30_timestamp_at_start_is_where_the_previous_reading_ended() -> None:
    at_end, at_start = timestamps(device()), timestamps(device(F30="timestamp_at_start"))
    # Trigger delay 0: each reading starts when the one before it ends.
    assert at_start[1:] == at_end[:-1]
    assert at_start[0] < at_end[0]


# -- F31: 6514 filters -----------------------------------------------------------------------


def test_f31_default_6514_filters_are_global_only() -> None:
    dev = device("6514")
    assert lines(dev, "*RST", "MED ON", "FUNC 'CURR'", "MED?", "SENS:VOLT:MED?") == ["1"]
    assert errors(dev) == ['-113,"Undefined header"']


def test_f31_per_function_filter_setups_are_separate_objects() -> None:
    shared = rst_setup("6514").functions
    separate = rst_setup("6514", per_function_filters=True).functions
    assert shared["VOLT"].filters is shared["CURR"].filters
    assert separate["VOLT"].filters is not separate["CURR"].filters
    assert separate["VOLT"].filters == shared["VOLT"].filters


def test_f31_per_function_filters_keep_each_function_s_own_settings() -> None:
    dev = device("6514", F31="per_function_filters")
    assert lines(dev, "*RST", "SENS:CURR:MED ON", "SENS:VOLT:MED?", "SENS:CURR:MED?") == [
        "0", "1"]
    assert errors(dev) == []


# -- F37, F39, F40, F41 ------------------------------------------------------------------------


def test_f37_6514_version_query() -> None:
    assert lines(device("6514"), "SYST:VERS?") == ["1996.0"]
    dev = device("6514", F37="no_version_6514")
    assert lines(dev, "SYST:VERS?") == []
    assert errors(dev) == ['-113,"Undefined header"']


UNNAMED_ERRORS = ("SYST:ZCOR:ACQ", "ROUT:CLOS (@1)", "FORM:DATA REAL", "SOUR:VOLT 500")


@pytest.mark.parametrize(("option", "codes"), [
    ("as_listed", ["-221", "-241", "-221", "-222"]), ("generic", ["-200"] * 4)])
def test_f39_errors_the_manuals_do_not_name(option: str, codes: list[str]) -> None:
    dev = device(F39=option)
    lines(dev, "*RST", "SYST:ZCH OFF", *UNNAMED_ERRORS)
    assert [entry.split(",")[0] for entry in errors(dev)] == codes


def test_f40_default_hsc_off_and_no_line_frequency_query() -> None:
    dev = device()
    assert lines(dev, "SYST:HSC?", "SYST:LFR?") == ["0"]
    assert errors(dev) == ['-113,"Undefined header"']


def test_f40_alternatives_hsc_on_after_reset_and_line_frequency_query() -> None:
    dev = device(F40="hsc_default_on,lfr_on_6517b")
    assert lines(dev, "SYST:HSC OFF", "*RST", "SYST:HSC?", "SYST:LFR?") == ["1", "60"]
    assert errors(dev) == []


def charge_after_rerelease(option: str) -> tuple[float, float]:
    """The last charge before zero check is re-engaged and the first one after release."""
    dev = MockKeithley("6517B", speed=0, fidelity={"F41": option},
                       signals={"CHAR": SignalSpec("ramp", start=0.0, slope=1e-9)})
    before = lines(dev, "*RST", "FUNC 'CHAR'", "CHAR:RANG 2e-8", "CHAR:MED OFF",
                   "FORM:ELEM READ", "SYST:ZCH OFF", "TRIG:COUN 5", "READ?")[0]
    after = lines(dev, "SYST:ZCH ON", "SYST:ZCH OFF", "TRIG:COUN 1", "READ?")[0]
    return float(before.split(",")[-1]), float(after)


def test_f41_default_release_restarts_the_charge() -> None:
    before, after = charge_after_rerelease("reset")
    assert 0 < after < before


def test_f41_keep_release_leaves_the_charge() -> None:
    before, after = charge_after_rerelease("keep")
    assert after > before > 0


# -- F38: BAV and RAV ---------------------------------------------------------------------------

RAV, BAV = 1 << 5, 1 << 7


def one_stored_reading(dev: MockKeithley) -> int:
    """Store one reading (6517B); the measurement condition register."""
    lines(dev, "*RST", "SYST:ZCH OFF", "TRAC:FEED:CONT NEXT", "INIT", "*OPC?")
    assert actual(dev) == 1
    return int(lines(dev, "STAT:MEAS:COND?")[0])


def test_f38_default_bav_needs_two_readings() -> None:
    condition = one_stored_reading(device())
    assert condition & (RAV | BAV) == RAV


def test_f38_trace_bav_minimum() -> None:
    buf = TraceBuffer(TraceSettings(control="NEXT"), bav_minimum=1)
    assert not buf.available
    assert buf.store(reading(1.0))
    assert buf.available
    assert not TraceBuffer(buf.settings, buf.entries).available  # default: two


def test_f38_bav_one_reading_sets_bav_from_the_first_reading() -> None:
    assert one_stored_reading(device(F38="bav_one_reading")) & BAV


@pytest.mark.parametrize(("option", "after"), [("default", 0), ("rav_sticky", RAV)])
def test_f38_rav_after_a_latest_query(option: str, after: int) -> None:
    dev = device(F38=option)
    assert one_stored_reading(dev) & RAV
    lines(dev, "DATA:LAT?")
    assert int(lines(dev, "STAT:MEAS:COND?")[0]) & RAV == after


def test_f38_default_fetch_clears_rav() -> None:
    dev = device()
    assert one_stored_reading(dev) & RAV
    lines(dev, "FETC?")
    assert int(lines(dev, "STAT:MEAS:COND?")[0]) & RAV == 0


def test_f38_rav_sticky_survives_a_fetch() -> None:
    dev = device(F38="rav_sticky")
    assert one_stored_reading(dev) & RAV
    lines(dev, "FETC?")
    assert int(lines(dev, "STAT:MEAS:COND?")[0]) & RAV



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


@pytest.mark.parametrize(("fidelity", "codes"), [
    ({}, ["-221", "-241"]), ({"F39": "generic"}, ["-200", "-200"])])
async def test_f39_over_a_socket(fidelity: dict[str, str], codes: list[str]) -> None:
    async with served(fidelity=fidelity) as stream:
        _, writer = stream
        # One message each: an execution error discards the rest of its message (F7).
        writer.write(b"*RST\n:FORM:DATA REAL\n:ROUT:CLOS (@1)\n")
        replies = [await query(stream, ":SYST:ERR?") for _ in codes]
        assert [reply.split(",")[0] for reply in replies] == codes


async def test_f4_separate_reply_lines_over_a_socket() -> None:
    async with served(fidelity={"F4": "separate"}) as stream:
        assert await query(stream, "*RST;*OPC?;*IDN?") == "1"
        async with asyncio.timeout(WAIT):
            assert (await stream[0].readuntil(b"\n")).startswith(b"KEITHLEY INSTRUMENTS")


async def test_f1_configured_terminator_only_over_a_socket() -> None:
    async with served(fidelity={"F1": "configured"}) as stream:
        _, writer = stream
        # A lone CR is then a character inside the message, not a terminator, and a
        # byte below 0x20 other than HT is an invalid character (§1.1, §1.2): the one
        # unit fails, so neither *CLS nor the query runs.
        writer.write(b"*CLS\r:SYST:ERR?\n")
        assert await query(stream, ":SYST:ERR?") == '-101,"Invalid character"'


OTHER_LINE_BREAK = {b"\r": b"\n", b"\n": b"\r", b"\r\n": b"\n\r", b"\n\r": b"\r\n"}


@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n", b"\n\r"])
async def test_f1_configured_each_terminator_over_a_socket(terminator: bytes) -> None:
    async with served(fidelity={"F1": "configured"}, terminator=terminator) as (reader, writer):
        async def reply(message: bytes) -> bytes:
            writer.write(message)
            async with asyncio.timeout(WAIT):
                return (await reader.readuntil(terminator))[:-len(terminator)]

        assert await reply(b"*OPT?" + terminator) == b"0"
        # The other line break is inside the message: one invalid unit, no reply.
        writer.write(b"*OPT?" + OTHER_LINE_BREAK[terminator] + b"*IDN?" + terminator)
        assert await reply(b":SYST:ERR?" + terminator) == b'-101,"Invalid character"'
        assert await reply(b":SYST:ERR?" + terminator) == b'0,"No error"'


@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n", b"\n\r"])
async def test_f1_default_any_line_break_ends_a_message_whatever_the_terminator(
        terminator: bytes) -> None:
    async with served(terminator=terminator) as (reader, writer):
        writer.write(b"*OPT?" + OTHER_LINE_BREAK[terminator] + b":SYST:ERR?\r\n")
        async with asyncio.timeout(WAIT):
            assert await reader.readuntil(terminator) == b"0" + terminator
            assert await reader.readuntil(terminator) == b'0,"No error"' + terminator


async def test_f1_default_accepts_a_lone_cr_over_a_socket() -> None:
    async with served() as stream:
        reader, writer = stream
        writer.write(b"*CLS\r:SYST:ERR?\n")
        assert await query(stream, ":SYST:ERR?") == '0,"No error"'
        async with asyncio.timeout(WAIT):
            assert await reader.readuntil(b"\n") == b'0,"No error"\n'
