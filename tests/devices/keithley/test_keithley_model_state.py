"""Control-channel state writes and error statistics (spec §7.6, §3.1)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from model_helpers import lines

from devices.keithley import Keithley6514, Keithley6517B

IDN_PREFIX = "KEITHLEY INSTRUMENTS INC.,MODEL"


@pytest.mark.parametrize(("values", "message"), [
    ({"nplc": "abc"}, r"'nplc': 'abc' is not allowed; expected a number from 0.01 to 10"),
    ({"nplc": 20.0}, r"'nplc'.*from 0.01 to 10"),
    ({"nplc": math.nan}, r"'nplc'"),
    ({"digits": 5.5}, r"'digits'.*an integer from 4 to 7"),
    ({"function": "OHMS"}, r"'function'.*one of VOLT, CURR, RES, CHAR"),
    ({"zero_check": 1}, r"'zero_check'.*true or false"),
    ({"trigger_count": 0}, r"'trigger_count'.*from 1 to 99999 or 'INF'"),
    ({"trigger_source": "SOON"}, r"'trigger_source'.*HOLD, IMM, TIM"),
    ({"line_frequency": 55}, r"'line_frequency'.*50, 60"),
    ({"speed": -1}, r"'speed'.*at least 0"),
    ({"buffer_points": 60000}, r"'buffer_points'.*from 1 to 50000"),
    ({"feed_control": "SOMETIMES"}, r"'feed_control'.*NEV, NEXT, ALW, PRET"),
    ({"setup.functions.CURR.range_nominal": 3e-9}, r"CURR range nominal: one of 2e-11"),
    ({"setup.functions.VOLT.filters.median_rank": 9}, r"'setup.*median_rank'.*from 1 to 5"),
    ({"setup.arm.0.source": "TIM"}, r"'setup.arm.0.source'.*HOLD, IMM, RTCL"),
    ({"setup.functions": {}}, r"'setup.functions' is a group of settings"),
    ({"trace.elements": ["TST", "FOO"]}, r"'trace.elements'.*TST, CHAN, ETEM, HUM, VSO"),
])
def test_ill_typed_or_out_of_range_value_is_refused_naming_key_and_accepted_values(
        values: dict[str, Any], message: str) -> None:
    k = Keithley6517B(speed=0)
    with pytest.raises(ValueError, match=message):
        k.set_state(values)


def test_failed_set_changes_nothing_and_the_device_keeps_answering() -> None:
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":SYST:ZCH OFF")
    before = k.snapshot()
    with pytest.raises(ValueError, match="'nplc'"):
        k.set_state({"digits": 4, "trigger_count": 5, "nplc": "abc"})
    after = k.snapshot()
    assert after["setup"] == before["setup"]
    assert lines(k, "*IDN?")[0].startswith(IDN_PREFIX)
    assert lines(k, ":SENS:VOLT:NPLC?", ":SENS:VOLT:DIG?", ":TRIG:COUN?") == [
        "1.000000E+00", "6", "1"]
    assert lines(k, ":READ?")[0].endswith("RDNG#")


def test_accepted_values_are_stored_in_the_form_the_commands_use() -> None:
    k = Keithley6517B(speed=0)
    lines(k, "*RST")
    k.set_state({"nplc": 2, "trigger_count": "INF", "trigger_source": "timer",
                 "setup.functions.CURR.range_nominal": 2e-9})
    assert k.get_state(["nplc", "trigger_count", "trigger_source"]) == {
        "nplc": 2.0, "trigger_count": math.inf, "trigger_source": "TIM"}
    assert lines(k, ":SENS:VOLT:NPLC?", ":TRIG:COUN?", ":TRIG:SOUR?", ":SENS:CURR:RANG?") == [
        "2.000000E+00", "9.9E37", "TIM", "2.100000E-09"]
    k.set_state({"function": "curr"})
    assert lines(k, ":SENS:FUNC?") == ['"CURR:DC"']


def test_6514_state_rules_follow_its_own_limits() -> None:
    k = Keithley6514(speed=0)
    with pytest.raises(ValueError, match=r"'trigger_count'.*from 1 to 2500"):
        k.set_state({"trigger_count": 3000})
    with pytest.raises(ValueError, match=r"'feed_control'.*NEV, NEXT$"):
        k.set_state({"feed_control": "ALW"})


def test_error_counts_total_every_queued_error_by_code_until_power_cycle() -> None:
    """§3.1: counts survive reading, *CLS and *RST; -350 counts overflows."""
    k = Keithley6517B(speed=0)
    assert k.error_counts() == {}
    lines(k, ":FOO", ":BAR?", ":SENS:CURR:RANG 0.1")
    assert k.error_counts() == {-222: 1, -113: 2}
    assert lines(k, ":SYST:ERR?") == ['-113,"Undefined header"']
    lines(k, "*CLS", "*RST")
    assert k.error_counts() == {-222: 1, -113: 2}
    lines(k, *[":FOO"] * 12)  # 10 fit; the 11th overflows the queue, the 12th is dropped
    assert k.error_counts() == {-350: 1, -222: 1, -113: 14}
    assert lines(k, *[":SYST:ERR?"] * 10)[-1] == '-350,"Queue overflow"'
    k.power_cycle()
    assert k.error_counts() == {}
    assert k.error_counts() is not k.error_counts()  # a copy for the caller
