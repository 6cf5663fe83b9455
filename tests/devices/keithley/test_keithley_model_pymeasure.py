"""pymeasure Keithley6517B traffic, written by hand from spec §9.2 (and §2.7)."""

from __future__ import annotations

import re

import pytest
from model_helpers import lines

from devices.keithley import Keithley6517B

READING = re.compile(r"^[+-][\d.]+E[+-]\d+[A-Z]{4}$")


def next_errors(device: Keithley6517B, now: float = 0.0) -> list[str]:
    errors = []
    while True:
        (reply,) = lines(device, "SYST:ERR?", now=now)
        code = float(reply.split(",")[0])
        if code == 0:
            return errors
        errors.append(reply)


@pytest.fixture
def device() -> Keithley6517B:
    k = Keithley6517B(speed=0)
    assert lines(k, "*RST;:stat:pres;:*CLS;") == []
    return k


def test_id_returns_whole_line() -> None:
    """§9.2 id: *IDN? with the 6517B's trailing space (§2.1)."""
    k = Keithley6517B(speed=0)
    assert lines(k, "*IDN?") == ["KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x "]


def test_reset_is_silent_and_error_free(device: Keithley6517B) -> None:
    """§9.2 reset(): lower case, ':*CLS', trailing ';' accepted, no output."""
    assert next_errors(device) == []


def test_measure_current_configuration(device: Keithley6517B) -> None:
    """§9.2 measure_current(): %f NPLC, autorange, error check."""
    assert lines(device, ":SENS:FUNC 'CURR';:SENS:CURR:NPLC 1.000000;",
                 ":SENS:CURR:RANG:AUTO 1;") == []
    assert next_errors(device) == []
    assert lines(device, ":SENS:FUNC?") == ['"CURR:DC"']


def test_measure_current_manual_range_with_g_format(device: Keithley6517B) -> None:
    """§9.2: %g numbers with lower-case exponent, no trailing ';'."""
    assert lines(device, ":SENS:FUNC 'CURR';:SENS:CURR:NPLC 0.100000;",
                 ":SENS:CURR:RANG:AUTO 0;:SENS:CURR:RANG 2e-09") == []
    assert next_errors(device) == []
    assert float(lines(device, ":SENS:CURR:RANG?")[0]) == pytest.approx(2.1e-9)
    assert float(lines(device, ":SENS:CURR:NPLC?")[0]) == 0.1


@pytest.mark.parametrize(("func", "unit"), [("VOLT", "VDC"), ("RES", "OHM")])
def test_measure_voltage_and_resistance(device: Keithley6517B, func: str, unit: str) -> None:
    """§9.2 measure_voltage()/measure_resistance() and the reading shape."""
    lines(device, f":SENS:FUNC '{func}';:SENS:{func}:NPLC 1.000000;",
          f":SENS:{func}:RANG:AUTO 1;", ":SYST:ZCH OFF")
    assert next_errors(device) == []
    (reply,) = lines(device, ":READ?")
    first = reply.split(",")[0]
    assert READING.match(first) and first.endswith("N" + unit)


def test_current_property_reads_zero_check_value_after_reset(device: Keithley6517B) -> None:
    """§9.2 consequence: after *RST zero check is ON, so :MEAS? gives 9.91e37 Z."""
    (reply,) = lines(device, ":MEAS?")
    fields = reply.split(",")
    assert len(fields) >= 2
    assert fields[0] == "+9.91E37ZVDC"
    assert float(fields[0][:-4]) == 9.91e37


def test_current_property_with_zero_check_off(device: Keithley6517B) -> None:
    """§9.2 current: first field is a number followed by four capital letters."""
    lines(device, ":SENS:FUNC 'CURR'", ":SYST:ZCH OFF")
    (reply,) = lines(device, ":MEAS?")
    fields = reply.split(",")
    assert len(fields) >= 2
    assert READING.match(fields[0]) and fields[0].endswith("NADC")
    assert float(fields[0][:-4]) == pytest.approx(1e-12, rel=0.1)


def test_measure_discards_nplc_with_configure_resets_function(device: Keithley6517B) -> None:
    """§9.2/F19: :MEAS? includes :CONF, which restores the function's NPLC and range."""
    lines(device, ":SENS:FUNC 'CURR';:SENS:CURR:NPLC 0.100000;",
          ":SENS:CURR:RANG:AUTO 0;:SENS:CURR:RANG 2e-09", ":MEAS?")
    assert lines(device, ":SENS:CURR:NPLC?") == ["1.000000E+00"]
    assert lines(device, ":SENS:CURR:RANG:AUTO?") == ["1"]


def test_ranges_and_nplc_properties(device: Keithley6517B) -> None:
    """§9.2 *_range and *_nplc: set and float replies."""
    lines(device, ":SENS:CURR:RANG:AUTO 0;:SENS:CURR:RANG 2e-06", ":SENS:CURR:NPLC 5")
    assert float(lines(device, ":SENS:CURR:RANG?")[0]) == pytest.approx(2.1e-6)
    assert float(lines(device, ":SENS:CURR:NPLC?")[0]) == 5.0


def test_apply_voltage_auto_range_is_undefined_and_discards_rest(device: Keithley6517B) -> None:
    """§9.2 apply_voltage(200): :SOUR:VOLT:RANG:AUTO is -113 and RANG 200 is discarded."""
    lines(device, ":SOUR:VOLT:RANG:AUTO 1")
    assert next_errors(device) == ['-113,"Undefined header"']
    lines(device, ":SOUR:VOLT:RANG:AUTO 0;:SOUR:VOLT:RANG 200")
    assert next_errors(device) == ['-113,"Undefined header"']
    assert lines(device, ":SOUR:VOLT:RANG?") == ["100"]


def test_source_voltage_enable_and_resistance_limit(device: Keithley6517B) -> None:
    """§9.2 source_voltage, enable_source, source_current_resistance_limit."""
    lines(device, ":SOUR:VOLT:LEV 10", "OUTPUT ON", ":SOUR:CURR:RLIM 1")
    assert lines(device, ":SOUR:VOLT?", "OUTPUT?", ":SOUR:CURR:RLIM?") == ["10", "1", "1"]
    lines(device, "OUTPUT OFF")
    assert lines(device, "OUTPUT?") == ["0"]
    assert next_errors(device) == []


def test_config_buffer_then_wait_times_out_after_reset(device: Keithley6517B) -> None:
    """§9.2 config_buffer(3) + :INIT after *RST stores one reading: never 65 (issue #186)."""
    assert lines(device, ":STAT:PRES;*CLS;*SRE 1;:STAT:MEAS:ENAB 512;", ":TRAC:CLEAR;",
                 ":TRAC:POIN 3", ":TRAC:FEED SENSE;:TRAC:FEED:CONT NEXT;") == []
    assert next_errors(device) == []
    lines(device, ":INIT")
    for now in (0.1, 0.2, 5.0):
        (stb,) = lines(device, "*STB?", now=now)
        assert int(stb) & 65 != 65
    assert lines(device, ":TRAC:POIN:ACT?") == ["1"]


def test_buffer_full_service_request_gives_65() -> None:
    """§2.7: *SRE 1 + :STAT:MEAS:ENAB 512, buffer fills over device time, *STB? → 65."""
    k = Keithley6517B(speed=1.0)
    lines(k, "*RST;:stat:pres;:*CLS;", ":SYST:ZCH OFF", ":TRIG:COUN 100")
    lines(k, ":STAT:PRES;*CLS;*SRE 1;:STAT:MEAS:ENAB 512;", ":TRAC:CLEAR;", ":TRAC:POIN 100",
          ":TRAC:FEED SENSE;:TRAC:FEED:CONT NEXT;", ":INIT", now=1.0)
    assert lines(k, "*STB?", now=2.0) == ["0"]
    count = int(lines(k, ":TRAC:POIN:ACT?", now=3.0)[0])
    assert 0 < count < 100
    assert lines(k, "*STB?", now=20.0) == ["65"]
    assert lines(k, "*STB?", now=21.0) == ["65"]
    assert lines(k, ":TRAC:POIN:ACT?", now=22.0) == ["100"]
    lines(k, ":TRAC:CLE", now=23.0)
    assert lines(k, "*STB?", now=23.5) == ["65"]
    event = int(lines(k, ":STAT:MEAS?", now=24.0)[0])
    assert event & (512 | 256 | 128 | 32) == 512 | 256 | 128 | 32  # BFL, BHF, BAV, RAV
    assert lines(k, "*STB?", now=25.0) == ["0"]


def test_buffer_full_with_queued_error_gives_69() -> None:
    """§2.7: 69 when the error queue is not empty."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":SYST:ZCH OFF", ":TRIG:COUN 3", ":STAT:PRES;*CLS;*SRE 1;:STAT:MEAS:ENAB 512;",
          ":TRAC:POIN 3", ":TRAC:FEED:CONT NEXT", ":INIT", ":BOGUS")
    assert lines(k, "*STB?") == ["69"]


def test_buffer_full_fill_time_follows_timing_model() -> None:
    """§6.4: 100 readings at 1 PLC/60 Hz fill at about 5.37 s after :INIT."""
    k = Keithley6517B(speed=1.0)
    lines(k, "*RST", ":SYST:ZCH OFF", ":SENS:FUNC 'VOLT'", ":SENS:VOLT:RANG 2",
          ":SENS:VOLT:MED OFF", ":TRIG:COUN 100", ":STAT:MEAS:ENAB 512", "*SRE 1",
          ":TRAC:POIN 100", ":TRAC:FEED:CONT NEXT", now=0.0)
    lines(k, ":INIT", now=1.0)
    assert lines(k, "*STB?", now=1.0 + 5.3) == ["0"]
    assert lines(k, "*STB?", now=1.0 + 5.45) == ["65"]


def test_buffer_data_with_default_elements_and_read_only(device: Keithley6517B) -> None:
    """§9.2 buffer_data: FORM:DATA ASCII silent; after FORM:ELEM READ bare numbers."""
    lines(device, ":SYST:ZCH OFF", ":TRIG:COUN 3", ":TRAC:POIN 3", ":TRAC:FEED:CONT NEXT",
          ":INIT")
    assert lines(device, ":FORM:DATA ASCII") == []
    (dump,) = lines(device, ":TRAC:DATA?")
    assert len(dump.split(",")) == 9
    with pytest.raises(ValueError):
        [float(item) for item in dump.split(",")]
    lines(device, ":FORM:ELEM READ")
    (dump,) = lines(device, ":TRAC:DATA?")
    values = [float(item) for item in dump.split(",")]
    assert len(values) == 3
    assert next_errors(device) == []


def test_buffer_points_and_reset_stop_disable(device: Keithley6517B) -> None:
    """§9.2 buffer_points, reset_buffer(), stop_buffer(), disable_buffer()."""
    lines(device, ":TRAC:POIN 42")
    assert lines(device, ":TRAC:POIN?") == ["42"]
    assert lines(device, ":STAT:PRES;*CLS;:TRAC:CLEAR;:TRAC:FEED:CONT NEXT;", ":ABOR",
                 ":TRAC:FEED:CONT NEV") == []
    assert lines(device, ":TRAC:FEED:CONT?") == ["NEV"]
    assert next_errors(device) == []


def test_trigger_on_bus_and_star_trg(device: Keithley6517B) -> None:
    """§9.2 trigger_on_bus()/trigger(): BUS waits for *TRG; nothing waiting → -211."""
    lines(device, ":SYST:ZCH OFF", ":TRIG:SOUR BUS;", ":TRAC:POIN 2", ":TRAC:FEED:CONT NEXT",
          ":TRIG:COUN 2", ":INIT")
    assert lines(device, ":TRAC:POIN:ACT?") == ["0"]
    lines(device, "*TRG")
    assert lines(device, ":TRAC:POIN:ACT?") == ["1"]
    lines(device, "*TRG", "*TRG")
    assert lines(device, ":TRAC:POIN:ACT?") == ["2"]
    assert next_errors(device) == ['-211,"Trigger ignored"']
    assert lines(device, ":TRIG:SOUR IMM;", ":TRIG:SOUR?") == ["IMM"]


def test_clear_status_complete_options(device: Keithley6517B) -> None:
    """§9.2 clear(), status, complete, options, next_error."""
    assert lines(device, "*CLS", "*STB?", "*OPC?", "*OPT?", "SYST:ERR?") == [
        "0", "1", "0", '0,"No error"']


def test_ramp_to_voltage_and_shutdown(device: Keithley6517B) -> None:
    """§9.2 ramp_to_voltage(), shutdown()."""
    assert lines(device, ":SOUR:VOLT?") == ["0"]
    for step in (2.5, 5, 7.5, 10):
        lines(device, f":SOUR:VOLT:LEV {step:g}")
    assert lines(device, ":SOUR:VOLT?") == ["10"]
    assert lines(device, ":ABOR", "OUTPUT OFF") == []
    assert next_errors(device) == []
