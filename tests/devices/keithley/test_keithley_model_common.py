"""Common commands, status system, error queue, parsing modes, device clear (§1-§3, §8.3, §9.1)."""

from __future__ import annotations

import pytest
from model_helpers import errors, lines

from devices.keithley import Keithley6514, Keithley6517B, MockKeithley


@pytest.fixture(params=["6517B", "6514"])
def device(request: pytest.FixtureRequest) -> MockKeithley:
    return MockKeithley(request.param, speed=0)


def test_idn_per_model() -> None:
    """§2.1: exact identification strings."""
    assert lines(Keithley6514(speed=0), "*IDN?") == [
        "KEITHLEY INSTRUMENTS INC.,MODEL 6514,4691930,A13   Aug 30 2011 15:09:19/B01  /H"]
    assert lines(Keithley6517B(speed=0, serial_number="123"), "*IDN?") == [
        "KEITHLEY INSTRUMENTS INC.,MODEL 6517B,123,A13/700x "]


def test_queries_in_one_message_join_with_semicolon(device: MockKeithley) -> None:
    """§1.7/§2.4: one reply line, joined with ';'; MAV (16) from the earlier result."""
    (reply,) = lines(device, "*IDN?;*STB?;*TST?")
    assert reply.endswith(";16;0") and reply.startswith("KEITHLEY")
    assert lines(device, "*STB?") == ["0"]


def test_set_commands_produce_no_bytes(device: MockKeithley) -> None:
    """§1.7: set commands are silent; empty messages do nothing."""
    assert lines(device, "*CLS", "", "  ", ";", "*ESE 4;") == []


def test_failing_unit_discards_rest_but_keeps_earlier_results(device: MockKeithley) -> None:
    """§1.8: earlier query results are sent, later units discarded."""
    assert lines(device, "*ESE 8;*ESE?;:BOGUS;*ESE 16;*ESE?") == ["8"]
    assert errors(device) == ['-113,"Undefined header"']
    assert lines(device, "*ESE?") == ["8"]


def test_pon_is_set_at_power_on_and_esr_clears(device: MockKeithley) -> None:
    """§2.5: PON at power-on; *ESR? returns and clears."""
    assert lines(device, "*ESR?") == ["128"]
    assert lines(device, "*ESR?") == ["0"]


def test_error_sets_cme_and_esb(device: MockKeithley) -> None:
    """§2.4/§2.5: a command error sets CME; with *ESE 32 the STB shows ESB + EAV."""
    lines(device, "*ESR?", "*ESE 32", "FOO")
    assert lines(device, "*STB?") == [str(32 + 4)]
    assert lines(device, "*ESR?") == ["32"]


def test_sre_bit6_ignored(device: MockKeithley) -> None:
    """§2.2: *SRE bit 6 reads back 0; out of range is -222."""
    lines(device, "*SRE 255", "*SRE 256")
    assert lines(device, "*SRE?") == ["191"]
    assert errors(device) == ['-222,"Parameter data out of range"']


def test_error_queue_overflow_and_clear(device: MockKeithley) -> None:
    """§3.1: ten entries, the newest replaced by -350; *CLS empties."""
    for _ in range(12):
        lines(device, "FOO")
    found = errors(device)
    assert len(found) == 10
    assert found[-1] == '-350,"Queue overflow"'
    lines(device, "FOO", "*CLS")
    assert errors(device) == []


def test_rst_does_not_clear_error_queue(device: MockKeithley) -> None:
    """§3.1: *RST and :SYST:PRES keep the error queue."""
    lines(device, "FOO", "*RST", ":SYST:PRES")
    assert errors(device) == ['-113,"Undefined header"']


def test_in_between_mnemonic_and_query_of_set_only(device: MockKeithley) -> None:
    """§1.5: in-between forms and *RST? / :INIT? are -113; RANG? bare is -113."""
    lines(device, ":SYSTe:ERR?", "*RST?", ":INIT?", "RANG?")
    assert errors(device) == ['-113,"Undefined header"'] * 4


def test_parameter_errors(device: MockKeithley) -> None:
    """§1.6: -109, -108, -222, -141, -128, -148 on known headers."""
    lines(device, ":SENS:CURR:NPLC", "*RST 1", ":SENS:CURR:NPLC 50", ":TRIG:SOUR FOO",
          ":TRIG:SOUR 1", ":TRIG:COUN FOO")
    assert [item.split(",")[0] for item in errors(device)] == [
        "-109", "-108", "-222", "-141", "-128", "-148"]


def test_path_pointer_relative_units(device: MockKeithley) -> None:
    """§1.4: after :SENS:CURR:NPLC 2, NPLC? in the same message is relative."""
    assert lines(device, ":SENS:CURR:NPLC 2;NPLC?") == ["2.000000E+00"]


def test_min_max_def_queries(device: MockKeithley) -> None:
    """§1.6: numeric settings answer ? MIN / MAX / DEF."""
    assert lines(device, ":SENS:CURR:NPLC? MIN;:SENS:CURR:NPLC? MAX;:SENS:CURR:NPLC? DEF") == [
        "1.000000E-02;1.000000E+01;1.000000E+00"]


def test_lenient_mode_ignores_unknown_headers(device: MockKeithley) -> None:
    """§9.1: lenient unknown headers are logged no-ops; the rest runs; no reply invented."""
    device.set_mode("lenient")
    assert lines(device, ":FOO:BAR 1;*IDN?;:BAZ?")[0].startswith("KEITHLEY")
    assert errors(device) == []
    assert device.snapshot()["unknown_headers"] == [":FOO:BAR 1", ":BAZ?"]
    device.set_mode("strict")
    lines(device, ":FOO:BAR 1")
    assert errors(device) == ['-113,"Undefined header"']


def test_device_clear_keeps_settings_and_errors(device: MockKeithley) -> None:
    """§8.3: DCL reply; settings, errors and status unchanged."""
    lines(device, ":SENS:CURR:NPLC 2", "FOO")
    assert [reply.text for reply in device.device_clear(1.0)] == ["DCL"]
    assert lines(device, ":SENS:CURR:NPLC?", now=1.0) == ["2.000000E+00"]
    assert errors(device) == ['-113,"Undefined header"']


def test_input_overrun_queues_363(device: MockKeithley) -> None:
    """§1.3: the framer's overrun becomes -363."""
    device.input_overrun(0.0)
    assert errors(device) == ['-363,"Input buffer overrun"']


def test_opt_query_per_model() -> None:
    """§2.2: *OPT? → 0 on the 6517B, -113 on the 6514."""
    assert lines(Keithley6517B(speed=0), "*OPT?") == ["0"]
    k = Keithley6514(speed=0)
    assert lines(k, "*OPT?") == []
    assert errors(k) == ['-113,"Undefined header"']


@pytest.mark.parametrize(("model", "top"), [("6517B", 9), ("6514", 2)])
def test_save_recall_slots(model: str, top: int) -> None:
    """§2.2: *SAV/*RCL slots 0-9 (6517B) or 0-2 (6514); *RCL restores the setup."""
    k = MockKeithley(model, speed=0)
    lines(k, ":SENS:CURR:NPLC 3", f"*SAV {top}", "*RST")
    assert lines(k, ":SENS:CURR:NPLC?") == ["1.000000E+00"]
    lines(k, f"*RCL {top}")
    assert lines(k, ":SENS:CURR:NPLC?") == ["3.000000E+00"]
    lines(k, f"*SAV {top + 1}")
    assert errors(k) == ['-222,"Parameter data out of range"']


def test_status_preset_keeps_events(device: MockKeithley) -> None:
    """§2.6: :STAT:PRES resets enables, keeps event registers and error queue."""
    lines(device, ":STAT:MEAS:ENAB 512", ":STAT:PRES")
    assert lines(device, ":STAT:MEAS:ENAB?") == ["0"]
    assert lines(device, ":STAT:MEAS:PTR?", ":STAT:MEAS:NTR?") == ["32767", "0"]


def test_operation_idle_condition(device: MockKeithley) -> None:
    """§2.6: operation bit 10 is the idle condition."""
    lines(device, "*RST")
    assert int(lines(device, ":STAT:OPER:COND?")[0]) & 1024
    lines(device, ":ARM:SOUR BUS", ":INIT")
    assert not int(lines(device, ":STAT:OPER:COND?")[0]) & 1024


def test_6514_status_register_format() -> None:
    """§4.8: 6514 :FORM:SREG HEX renders register replies as #H..."""
    k = Keithley6514(speed=0)
    lines(k, ":STAT:MEAS:ENAB 31", ":FORM:SREG HEX")
    assert lines(k, ":STAT:MEAS:ENAB?") == ["#H1F"]


def test_system_error_all_is_undefined(device: MockKeithley) -> None:
    """§3.1: :SYST:ERR:ALL? and :COUN? are -113."""
    lines(device, ":SYST:ERR:ALL?", ":SYST:ERR:COUN?")
    assert errors(device) == ['-113,"Undefined header"'] * 2
