"""InstrumentKit Keithley6514 traffic and its 6517B parser (spec §9.3, §5.2)."""

from __future__ import annotations

import pytest
from model_helpers import errors, lines

from devices.keithley import Keithley6514, Keithley6517B


@pytest.fixture
def k6514() -> Keithley6514:
    device = Keithley6514(speed=0)
    lines(device, "*RST")
    return device


def test_function_query_and_set_with_double_quotes(k6514: Keithley6514) -> None:
    """§9.3: FUNCTION? → "VOLT:DC"; FUNCTION "CURR:DC"."""
    assert lines(k6514, "FUNCTION?") == ['"VOLT:DC"']
    lines(k6514, 'FUNCTION "CURR:DC"')
    assert lines(k6514, "FUNCTION?") == ['"CURR:DC"']
    assert errors(k6514) == []


@pytest.mark.parametrize(("conf", "reply"), [("CONF:VOLT:DC", '"VOLT:DC"'),
                                             ("CONF:CURR:DC", '"CURR:DC"'),
                                             ("CONF:RES", '"RES"'), ("CONF:CHAR", '"CHAR"')])
def test_configure_selects_function(k6514: Keithley6514, conf: str, reply: str) -> None:
    """§9.3/§4.1: CONF:<func> and :CONF?."""
    lines(k6514, conf)
    assert lines(k6514, "FUNCTION?", ":CONF?") == [reply, reply]


@pytest.mark.parametrize("mode", ["VOLT:DC", "CURR:DC", "RES", "CHAR"])
def test_range_commands_without_sense_root(k6514: Keithley6514, mode: str) -> None:
    """§9.3: <mode>:RANGE:AUTO, <mode>:RANGE:UPPER with %e."""
    lines(k6514, f"{mode}:RANGE:AUTO 1")
    assert lines(k6514, f"{mode}:RANGE:AUTO?") == ["1"]
    lines(k6514, f"{mode}:RANGE:AUTO 0")
    assert lines(k6514, f"{mode}:RANGE:AUTO?") == ["0"]
    lines(k6514, f"{mode}:RANGE:UPPER 2.000000e-08" if mode != "VOLT:DC"
          else f"{mode}:RANGE:UPPER 2.000000e+00")
    value = float(lines(k6514, f"{mode}:RANGE:UPPER?")[0])
    assert value > 0
    assert errors(k6514) in ([], ['-222,"Parameter data out of range"'])


def test_voltage_range_reads_full_scale(k6514: Keithley6514) -> None:
    """§4.3 full_scale: VOLT:RANG? → 2.1 on the 2 V range."""
    lines(k6514, "VOLT:DC:RANGE:UPPER 2.000000e+00")
    assert lines(k6514, "VOLT:DC:RANGE:UPPER?") == ["2.100000E+00"]
    lines(k6514, "VOLT:RANG -15")
    assert lines(k6514, "VOLT:RANG?") == ["2.100000E+01"]


def test_zero_check_and_correct(k6514: Keithley6514) -> None:
    """§9.3: SYST:ZCH/ZCOR ON|OFF and queries 1/0; *RST zero check ON."""
    assert lines(k6514, "SYST:ZCH?", "SYST:ZCOR?") == ["1", "0"]
    lines(k6514, "SYST:ZCOR ON", "SYST:ZCH OFF")
    assert lines(k6514, "SYST:ZCH?", "SYST:ZCOR?") == ["0", "1"]


def test_trigger_and_arm_sources(k6514: Keithley6514) -> None:
    """§9.3: TRIGGER:SOURCE IMM|TLINK and ARM:SOURCE words, short upper-case replies."""
    lines(k6514, "TRIGGER:SOURCE TLINK")
    assert lines(k6514, "TRIGGER:SOURCE?") == ["TLIN"]
    for word, reply in [("IMM", "IMM"), ("TIM", "TIM"), ("BUS", "BUS"), ("TLIN", "TLIN"),
                        ("STES", "STES"), ("PST", "PST"), ("NST", "NST"), ("MAN", "MAN")]:
        lines(k6514, f"ARM:SOURCE {word}")
        assert lines(k6514, "ARM:SOURCE?") == [reply]
    lines(k6514, "TRIGGER:SOURCE TIM")
    assert errors(k6514) == ['-141,"Invalid character data"']


def test_read_gives_three_bare_numbers(k6514: Keithley6514) -> None:
    """§9.3/§5.2: READ? → reading,timestamp,status as signed 7-digit numbers."""
    lines(k6514, "SYST:ZCH OFF", "CONF:CURR:DC")
    (reply,) = lines(k6514, "READ?")
    values = [float(item) for item in reply.split(",")]
    assert len(values) == 3
    assert values[0] == pytest.approx(1e-12, rel=0.1)
    status = int(values[2])
    assert (status >> 7) & 3 == 1  # amps
    assert all(item[0] in "+-" and "E" in item for item in reply.split(","))


def test_read_with_zero_check_on_gives_no_reply_and_no_error(k6514: Keithley6514) -> None:
    """§9.3/§7.3 no_reply: READ? times out as on the real 6514; nothing queued."""
    assert lines(k6514, "READ?") == []
    assert lines(k6514, "FETC?") == []
    assert errors(k6514) == []


def test_fetch_after_read(k6514: Keithley6514) -> None:
    """§4.1: FETC? returns the readings of the last acquisition without triggering."""
    lines(k6514, "SYST:ZCH OFF")
    (read,) = lines(k6514, "READ?")
    assert lines(k6514, "FETC?") == [read]


def test_time_reset(k6514: Keithley6514) -> None:
    """§9.3: SYST:TIME:RESET resets the timestamp origin."""
    device = Keithley6514(speed=1.0)
    lines(device, "*RST", "SYST:ZCH OFF", now=0.0)
    lines(device, "SYST:TIME:RESET", now=100.0)
    (reply,) = lines(device, "READ?", now=100.0)
    assert 0.0 < float(reply.split(",")[1]) < 1.0


def test_6517b_default_reading_fits_instrumentkit_parser() -> None:
    """§9.3: field 0 splits at N, field 1 at s (secs), field 2 minus RDNG#."""
    device = Keithley6517B(speed=0)
    lines(device, "*RST", "SYST:ZCH OFF", ":SENS:FUNC 'CURR'")
    (reply,) = lines(device, "READ?")
    fields = reply.split(",")
    assert float(fields[0].split("N")[0]) == pytest.approx(1e-12, rel=0.1)
    assert float(fields[1].split("s")[0]) >= 0.0
    assert int(fields[2][:-5]) >= 0
