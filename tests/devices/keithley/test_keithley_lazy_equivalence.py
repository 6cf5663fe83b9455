"""The speed-0 shortcuts change nothing observable (spec §6.1, §7.1).

Two real models get the same random sequence of messages, polls, device clears
and control operations: one as configured (readings with unchanged settings reuse
what those settings imply; a steady continuous acquisition takes its per-message
reading by a fused step, ``TriggerModel.step_steady`` or ``SteadyStep``), one with
every shortcut switched off.
Replies, and then every observable part of the state, must be identical.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.keithley.mock_keithley import MockKeithley
from devices.keithley.reading import Reading
from devices.keithley.reading_format import ReadingFormat6517B

MESSAGES = (
    "*IDN?", "*IDN?", "*IDN?", "*OPT?", ":SYST:VERS?", "*IDN?;*IDN?", "*IDN?;*OPT?",
    ":SENS:DATA:LAT?", ":SENS:DATA:LAT?", ":DATA?", ":FETC?", ":TRAC:DATA?", ":READ?",
    "*STB?", "*ESR?", ":SYST:ERR?", ":STAT:MEAS?", ":STAT:OPER:COND?", ":STAT:MEAS:COND?",
    "*IDN?;:SENS:DATA:LAT?", ":SENS:DATA:LAT?;*IDN?", "*IDN?;:BOGus", ":BOGus?",
    ":SYST:ZCH OFF", ":SYST:ZCH ON", ":SYST:ZCOR ON", ":SYST:ZCOR OFF", ":SYST:ZCOR:ACQ",
    ":SENS:FUNC 'VOLT'", ":SENS:FUNC 'CURR'", ":SENS:VOLT:NPLC 0.01", ":SENS:VOLT:NPLC 1",
    ":SENS:CURR:NPLC 0.1", ":SENS:VOLT:RANG 2", ":SENS:VOLT:RANG 0.001",
    ":SENS:VOLT:RANG:AUTO ON", ":SENS:CURR:RANG:AUTO ON", ":SENS:CURR:RANG 2e-11",
    ":SENS:VOLT:MED OFF", ":SENS:VOLT:MED ON", ":SENS:VOLT:AVER ON", ":SENS:VOLT:AVER OFF",
    ":SENS:VOLT:AVER:TCON REP", ":SENS:VOLT:AVER:COUN 3", ":SENS:VOLT:REF:STAT ON",
    ":SENS:VOLT:DIG 4", ":SYST:LSYN ON", ":SYST:LSYN OFF", ":SYST:AZER OFF",
    ":INIT:CONT OFF", ":INIT:CONT ON", ":ABOR", ":INIT", ":TRIG:COUN 3", ":TRIG:COUN INF",
    ":TRIG:DEL 0.01", ":TRAC:FEED:CONT NEXT", ":TRAC:CLE", ":TRAC:POIN 5", "*RST",
    ":SYST:PRES", "*CLS", "*OPC", "*OPC?", "*WAI", "*TRG", ":TRIG:SOUR BUS", ":TRIG:SOUR IMM",
    ":SYST:TSC OFF", ":SYST:TIME:RES", ":FORM:ELEM READ,TST,RNUM,STAT",
)
#: Settings a reading depends on (§4.3-§4.5, §7.2-§7.5).
READING_SETTINGS = (
    ":SENS:FUNC 'CURR'", ":SENS:VOLT:NPLC 0.01", ":SENS:VOLT:RANG 2", ":SENS:VOLT:RANG 0.001",
    ":SENS:VOLT:RANG:AUTO ON", ":SENS:VOLT:RANG:AUTO ONCE", ":SENS:CURR:RANG:AUTO OFF",
    ":SENS:VOLT:MED OFF", ":SENS:VOLT:MED:RANK 3", ":SENS:VOLT:AVER ON",
    ":SENS:VOLT:AVER:TCON REP", ":SENS:VOLT:AVER:COUN 3", ":SENS:VOLT:AVER:TYPE ADV",
    ":SENS:VOLT:REF 0.5;REF:STAT ON", ":SENS:CURR:REF 1e-9;REF:STAT ON", ":SENS:VOLT:DIG 4",
    ":SYST:ZCH ON;:SYST:ZCOR:ACQ;:SYST:ZCOR ON;:SYST:ZCH OFF", ":SYST:ZCOR ON",
    ":SYST:LSYN ON", ":SYST:AZER OFF", ":SYST:TSC OFF", ":TRIG:DEL 0.01",
    ":TRAC:FEED:CONT NEXT", ":TRAC:POIN 7", ":CALC:STAT OFF", ":FORM:ELEM READ,TST,RNUM,STAT",
)
SIGNALS = (
    ("VOLT", "constant", {"value": 1.5, "offset": 0.25}),
    ("VOLT", "noise", {"mean": 0.1, "sigma": 0.2}),
    ("CURR", "ramp", {"start": 0.0, "slope": 1e-10}),
    ("VOLT", "list", {"values": [0.001, 500.0, -0.002], "repeat": True}),
    ("CURR", "noise", {"mean": 1e-9, "sigma": 1e-12, "offset": 1e-10}),
)

#: One action: (kind, argument).
ACTIONS = st.one_of(
    st.tuples(st.just("message"), st.sampled_from(MESSAGES)),
    st.tuples(st.just("message"), st.sampled_from(("*IDN?", ":SENS:DATA:LAT?"))),
    st.tuples(st.just("poll"), st.none()),
    st.tuples(st.just("device_clear"), st.none()),
    st.tuples(st.just("signal"), st.integers(0, len(SIGNALS) - 1)),
    st.tuples(st.just("seed"), st.integers(0, 3)),
    st.tuples(st.just("environment"), st.floats(-10, 60)),
    st.tuples(st.just("trigger"), st.sampled_from(("BUS", "EXT"))),
    st.tuples(st.just("state"), st.sampled_from(
        ({"nplc": 0.5}, {"zero_check": False}, {"continuous": True}, {"digits": 5},
         {"line_frequency": 50}))),
    st.tuples(st.just("power_cycle"), st.none()),
    st.tuples(st.just("speed"), st.sampled_from((0.0, 0.0, 50.0))),
)


def make_pair(model: str) -> tuple[MockKeithley, MockKeithley]:
    """(with the shortcuts, without them): otherwise the same model."""
    fast = MockKeithley(model, speed=0)
    eager = MockKeithley(model, speed=0)
    eager.measurement.reuse_settings = False
    eager.trigger_model.fast_steps = False
    return fast, eager


def act(device: MockKeithley, kind: str, argument: Any, now: float) -> Any:
    """Apply one action; returns what it returned (replies, flags) or the exception type."""
    try:
        if kind == "message":
            return device.receive(argument, now)
        if kind == "poll":
            return device.poll(now)
        if kind == "device_clear":
            return device.device_clear(now)
        if kind == "signal":
            function, signal, params = SIGNALS[argument]
            return device.set_signal(function, signal, now=now, **params)
        if kind == "seed":
            return device.set_seed(argument)
        if kind == "environment":
            return device.set_environment(temperature_c=argument)
        if kind == "trigger":
            return device.inject_trigger(argument, now)
        if kind == "state":
            return device.set_state(argument, now)
        if kind == "power_cycle":
            return device.power_cycle(now)
        if kind == "speed":
            return device.set_speed(argument, now)
    except (ValueError, KeyError) as error:
        return type(error)
    raise AssertionError(f"unknown action {kind!r}")


def observable(device: MockKeithley) -> dict[str, Any]:
    """Everything a client or the control channel can see."""
    return {
        "snapshot": device.snapshot(),
        "device_time": device.clock.device_time(0.0),
        "latest": device.latest,
        "fresh": device.fresh,
        "acquisition": list(device.acquisition),
        "trace": [dataclasses.astuple(entry) for entry in device.trace.entries],
        "reading_counter": device.measurement.reading_counter,
        "conversions": device.signals.snapshot()["conversions"],
        "busy_until": device.engine.busy_until,
        "next_wakeup": device.next_wakeup(),
        "errors": device.error_counts(),
    }


def run_both(model: str, actions: list[tuple[str, Any]]) -> tuple[MockKeithley, MockKeithley]:
    fast, eager = make_pair(model)
    now = 0.0
    for index, (kind, argument) in enumerate(actions):
        now += 0.001
        got, expected = act(fast, kind, argument, now), act(eager, kind, argument, now)
        assert got == expected, f"action {index} {kind} {argument!r}"
    # What the queries see at the end, and the whole state.
    for query in (":SENS:DATA:LAT?", ":TRAC:DATA?", "*ESR?;*STB?", ":SYST:ERR:ALL?"):
        now += 0.001
        assert fast.receive(query, now) == eager.receive(query, now), query
    assert observable(fast) == observable(eager)
    return fast, eager


@pytest.mark.parametrize("model", ["6517B", "6514"])
@settings(max_examples=60, deadline=None)
@given(actions=st.lists(ACTIONS, max_size=60))
def test_shortcuts_leave_replies_and_state_unchanged(
    model: str, actions: list[tuple[str, Any]]
) -> None:
    run_both(model, actions)


@pytest.mark.parametrize("model", ["6517B", "6514"])
@settings(max_examples=50, deadline=None)
@given(
    signal=st.integers(0, len(SIGNALS) - 1),
    setup=st.lists(st.sampled_from(READING_SETTINGS), max_size=8),
    queries=st.lists(st.sampled_from(("*IDN?", "*OPT?", ":SENS:DATA:LAT?", ":FETC?")),
                     min_size=20, max_size=120),
)
def test_long_runs_of_queries_match_eager_readings(
    model: str, signal: int, setup: list[str], queries: list[str]
) -> None:
    """Many readings in a row with settings that stay put: the steady readings path."""
    run_both(model, [("signal", signal), ("message", ":SYST:ZCH OFF")]
             + [("message", m) for m in setup] + [("message", q) for q in queries])


@settings(max_examples=300, deadline=None)
@given(
    elements=st.frozensets(st.sampled_from(("READ", "TST", "RNUM", "CHAN", "UNIT", "STAT",
                                            "ETEM", "HUM", "VSO")), min_size=1),
    emit_channel=st.booleans(),
    wrap_numbers=st.booleans(),
    value=st.floats(-2.1e3, 2.1e3),
    status=st.sampled_from(("N", "Z", "O", "U", "L", "R")),
    function=st.sampled_from(("VOLT", "CURR", "RES", "CHAR")),
    nominal_exponent=st.integers(-12, 3),
    nominal_mantissa=st.sampled_from((2.0, 20.0, 200.0)),
    digits=st.integers(4, 7),
    timestamp=st.floats(0, 1e6),
    number=st.integers(-1, 250000),
)
def test_one_template_formats_readings_as_field_by_field(
    elements: frozenset[str], emit_channel: bool, wrap_numbers: bool, value: float,
    status: str, function: str, nominal_exponent: int, nominal_mantissa: float, digits: int,
    timestamp: float, number: int,
) -> None:
    """The 6517B ``format`` shortcut (one ``str.format``) prints what the fields do."""
    formatter = ReadingFormat6517B(elements, emit_channel=emit_channel,
                                   wrap_numbers=wrap_numbers)
    nominal = nominal_mantissa * 10.0 ** nominal_exponent
    reading = Reading(value * 10.0 ** nominal_exponent, status, function, nominal, digits,
                      timestamp, timestamp, number)
    expected = ",".join(formatter._fields(reading, timestamp, number, "RDNG#", False))
    assert formatter.format(reading) == expected
    if elements <= {"READ", "TST", "RNUM", "CHAN", "UNIT", "STAT"} and "READ" in elements:
        assert formatter.template is not None  # the shortcut is really taken


@pytest.mark.parametrize("model", ["6517B", "6514"])
@pytest.mark.parametrize("setup", [
    "", ":TRIG:DEL 0.01", ":TRIG:COUN 3", ":TRIG:COUN 2;:INIT:CONT OFF;:INIT",
    ":ARM:COUN 2;:TRIG:COUN 3", ":ARM:LAY2:DEL 0.05;:TRIG:COUN 3", ":TRIG:SOUR BUS",
    ":TRIG:SOUR TIM;:TRIG:TIM 0.5",
    ":SENS:VOLT:AVER ON;AVER:TCON REP", ":TRAC:FEED:CONT NEXT;:TRAC:POIN 4",
    ":SYST:TSC OFF;:TRIG:DEL:AUTO ON",
])
def test_acquisition_steps_match_the_general_machine(model: str, setup: str) -> None:
    """Trigger-model setups around the fused step (``step_steady``): same replies and state."""
    queries = ["*IDN?", ":SENS:DATA:LAT?", "*TRG", ":FETC?", ":STAT:OPER:COND?"] * 6
    run_both(model, [("message", ":SYST:ZCH OFF"), ("message", setup)]
             + [("message", query) for query in queries])


def test_the_fused_step_is_taken_at_power_on() -> None:
    """Power-on continuous acquisition at speed 0: every message uses ``step_steady``."""
    fast, _ = make_pair("6517B")
    fast.receive(":SYST:ZCH OFF", 0.0)
    assert fast.trigger_model.step_steady()
    fast.trigger_model.fast_steps = False
    assert not fast.trigger_model.step_steady()


def test_the_steady_step_takes_the_reading_of_each_message_at_power_on() -> None:
    """``SteadyStep`` commits one reading per message once the settings are steady."""
    fast, _ = make_pair("6517B")
    fast.receive(":SYST:ZCH OFF", 0.0)
    fast.receive("*IDN?", 0.0)  # the general path makes the settings steady
    for _ in range(3):
        before = fast.measurement.reading_counter
        assert fast.steady_step.step()
        assert fast.measurement.reading_counter == before + 1
    fast.trigger_model.fast_steps = False
    assert not fast.steady_step.step()


#: Messages that change what the measurement bits reflect next to a reading query.
STATUS_MESSAGES = (
    "*RST;:SENS:DATA:LAT?", ":TRAC:CLE;:SENS:DATA:LAT?", ":SYST:ZCH ON;:SENS:DATA:LAT?",
    ":CONF:VOLT;:SENS:DATA:LAT?;:STAT:MEAS:COND?", ":SYST:PRES;:FETC?", ":STAT:MEAS?",
    ":TRAC:FEED:CONT NEXT;:TRAC:POIN 2;:INIT;:SENS:DATA:LAT?", ":ABOR;:SENS:DATA:LAT?",
    ":SENS:VOLT:RANG 0.002;:SENS:DATA:LAT?;:STAT:MEAS:COND?",
    ":STAT:MEAS:PTR 0;NTR 65535;:STAT:MEAS?",
)


@pytest.mark.parametrize("model", ["6517B", "6514"])
@settings(max_examples=100, deadline=None)
@given(actions=st.lists(st.one_of(ACTIONS, st.tuples(st.just("message"),
                                                     st.sampled_from(STATUS_MESSAGES))),
                        max_size=40))
def test_a_reading_query_clears_rav_as_a_full_update_would(
        model: str, actions: list[tuple[str, Any]]) -> None:
    """``clear_reading_available`` touches RAV alone: the other bits are always current."""
    cheap, full = MockKeithley(model, speed=0), MockKeithley(model, speed=0)
    full.clear_reading_available = (  # type: ignore[method-assign]
        lambda: full.update_measurement_status(reading_available=False))
    now = 0.0
    for kind, argument in actions:
        now += 0.001
        assert act(cheap, kind, argument, now) == act(full, kind, argument, now)
        assert cheap.snapshot() == full.snapshot(), (kind, argument)
    assert observable(cheap) == observable(full)
