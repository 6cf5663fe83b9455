"""Sense, trace, format, system, display and V-source commands (§4.2-§4.12)."""

from __future__ import annotations

import pytest
from model_helpers import errors, lines

from devices.keithley import Keithley6514, Keithley6517B


@pytest.fixture
def b() -> Keithley6517B:
    k = Keithley6517B(speed=0)
    lines(k, "*RST")
    return k


@pytest.mark.parametrize(("text", "reply"), [("'VOLT'", '"VOLT:DC"'), ("'current:dc'", '"CURR:DC"'),
                                             ('"RESistance"', '"RES"'), ("'CHAR'", '"CHAR"')])
def test_function_names(b: Keithley6517B, text: str, reply: str) -> None:
    """§4.2: short/long forms in either quote; replies with double quotes."""
    lines(b, f":SENS:FUNC {text}")
    assert lines(b, ":SENS:FUNC?") == [reply]


def test_unquoted_or_unknown_function_is_illegal_value(b: Keithley6517B) -> None:
    """§1.6/F6: unquoted function → -224; unknown name → -224."""
    lines(b, ":SENS:FUNC VOLT:DC", ":SENS:FUNC 'FOO'")
    assert errors(b) == ['-224,"Illegal parameter value"'] * 2


def test_range_selection_and_autorange_off(b: Keithley6517B) -> None:
    """§4.3: the most sensitive range holding |n|; setting a range turns autorange off."""
    lines(b, ":SENS:CURR:RANG 0.01")
    assert lines(b, ":SENS:CURR:RANG?", ":SENS:CURR:RANG:AUTO?") == ["2.100000E-02", "0"]
    lines(b, ":SENS:VOLT:RANG 2.1")
    assert lines(b, ":SENS:VOLT:RANG?") == ["2.100000E+00"]
    lines(b, ":SENS:VOLT:RANG 205")
    assert lines(b, ":SENS:VOLT:RANG?") == ["2.100000E+02"]
    lines(b, ":SENS:VOLT:RANG 211")
    assert errors(b) == ['-222,"Parameter data out of range"']


def test_range_min_max_and_up_down_rejected(b: Keithley6517B) -> None:
    """§4.3/F5: MIN → smallest range; UP is -141 by default."""
    lines(b, ":SENS:CURR:RANG MIN", ":SENS:CURR:RANG UP")
    assert lines(b, ":SENS:CURR:RANG?") == ["2.100000E-11"]
    assert errors(b) == ['-141,"Invalid character data"']


def test_up_down_accepted_when_configured() -> None:
    """F5 accept: UP steps one range."""
    k = Keithley6517B(speed=0, numeric_up_down="accept")
    lines(k, "*RST", ":SENS:VOLT:RANG 2", ":SENS:VOLT:RANG UP")
    assert lines(k, ":SENS:VOLT:RANG?") == ["2.100000E+01"]


def test_autorange_limits_and_once(b: Keithley6517B) -> None:
    """§4.3: ULIM/LLIM read back full scale; ONCE picks a range then turns auto off."""
    lines(b, ":SENS:CURR:RANG:AUTO:ULIM 2e-6", ":SENS:CURR:RANG:AUTO:LLIM 2e-9")
    assert lines(b, ":SENS:CURR:RANG:AUTO:ULIM?", ":SENS:CURR:RANG:AUTO:LLIM?") == [
        "2.100000E-06", "2.100000E-09"]
    lines(b, ":SYST:ZCH OFF", ":SENS:FUNC 'CURR'", ":SENS:CURR:RANG:AUTO ONCE", ":READ?")
    assert lines(b, ":SENS:CURR:RANG:AUTO?", ":SENS:CURR:RANG?") == ["0", "2.100000E-09"]


def test_autorange_follows_signal_and_overflow_on_fixed_range(b: Keithley6517B) -> None:
    """§7.5/§7.4: autorange picks the range; a fixed range overflows (+9.9E37 O, ROF)."""
    b.set_signal("CURR", "constant", value=5e-9)
    lines(b, ":SYST:ZCH OFF", ":SENS:FUNC 'CURR'", ":FORM:ELEM READ,STAT")
    assert lines(b, ":READ?", ":SENS:CURR:RANG?") == ["+005.0000E-09N", "2.100000E-08"]
    lines(b, ":SENS:CURR:RANG 2e-9")
    assert lines(b, ":READ?") == ["+9.9E37O"]
    assert int(lines(b, ":STAT:MEAS:COND?")[0]) & 1


def test_nplc_aperture_coupling(b: Keithley6517B) -> None:
    """§4.4: APER = NPLC / f_line; aperture outside the NPLC limits is -222."""
    lines(b, ":SENS:VOLT:APER 0.1")
    assert lines(b, ":SENS:VOLT:NPLC?") == ["6.000000E+00"]
    lines(b, ":SENS:VOLT:APER 0.19")
    assert errors(b) == ['-222,"Parameter data out of range"']


def test_digits_filters_and_reference(b: Keithley6517B) -> None:
    """§4.4/§4.5: DIG, per-function median/average, REL reference."""
    lines(b, ":SENS:CURR:DIG 7", ":SENS:CURR:MED:RANK 3", ":SENS:CURR:AVER ON",
          ":SENS:CURR:AVER:TCON MOV", ":SENS:CURR:AVER:COUN 20", ":SENS:CURR:AVER:TYPE ADV",
          ":SENS:CURR:REF 1e-12", ":SENS:CURR:REF:STAT ON")
    assert lines(b, ":SENS:CURR:DIG?;MED?;MED:RANK?;:SENS:CURR:AVER?;AVER:TCON?;COUN?;"
                 "TYPE?") == ["7;1;3;1;MOV;20;ADV"]
    # §1.4: the path moved down to MED, so a relative AVER? is undefined there.
    assert lines(b, ":SENS:CURR:MED:RANK?;AVER?") == ["3"]
    assert errors(b) == ['-113,"Undefined header"']
    assert lines(b, ":SENS:VOLT:MED?", ":SENS:CURR:REF?") == ["1", "1.000000E-12"]
    lines(b, ":SYST:ZCH OFF", ":SENS:FUNC 'CURR'", ":FORM:ELEM READ,STAT")
    assert lines(b, ":READ?")[0].endswith("R")


def test_6514_filters_are_global() -> None:
    """§4.4: 6514 filters at [:SENS]:MED/AVER; per-function paths are -113."""
    k = Keithley6514(speed=0)
    lines(k, "*RST", ":SENS:MED ON", ":AVER:COUN 5", ":SENS:CURR:MED ON")
    assert lines(k, ":MED?", ":SENS:AVER:COUN?") == ["1", "5"]
    assert errors(k) == ['-113,"Undefined header"']


def test_zero_check_reading_and_zero_correct(b: Keithley6517B) -> None:
    """§7.3/§7.2: zero check → +9.91E37 Z; ZCOR subtracts the acquired offset."""
    b.set_signal("VOLT", "constant", value=1.0, offset=0.01)
    lines(b, ":FORM:ELEM READ,STAT", ":SENS:VOLT:RANG 2")
    assert lines(b, ":READ?") == ["+9.91E37Z"]
    lines(b, ":SYST:ZCOR ON", ":SYST:ZCH OFF")
    assert lines(b, ":READ?") == ["+01.00000E+00N"]
    lines(b, ":SYST:ZCOR OFF")
    assert lines(b, ":READ?") == ["+01.01000E+00N"]
    lines(b, ":SYST:ZCOR:ACQ")
    assert errors(b) == ['-221,"Settings conflict"']


def test_trace_settings_and_elements(b: Keithley6517B) -> None:
    """§4.7: FEED, FEED:CONT, TST:FORM, ELEM (fixed order), :DATA synonym root."""
    lines(b, ":TRAC:FEED SENS", ":TRAC:FEED:CONT ALW", ":TRAC:TST:FORM DELT",
          ":TRAC:ELEM VSO, TST", ":DATA:POIN 10")
    assert lines(b, ":TRAC:FEED?;:TRAC:FEED:CONT?;:TRAC:TST:FORM?;:TRAC:ELEM?;POIN?") == [
        "SENS1;ALW;DELT;TST,VSO;10"]
    assert lines(b, ":TRAC:FREE?") == ["160,0"]
    lines(b, ":TRAC:ELEM NONE")
    assert lines(b, ":TRAC:ELEM?") == ["NONE"]


def test_trace_empty_dump_and_mismatch(b: Keithley6517B) -> None:
    """§4.7: empty buffer → -230; FORM:ELEM ETEM without stored ETEM → +313."""
    assert lines(b, ":TRAC:DATA?") == []
    lines(b, ":SYST:ZCH OFF", ":TRAC:POIN 2", ":TRAC:FEED:CONT NEXT", ":TRIG:COUN 2", ":INIT",
          ":FORM:ELEM READ,ETEM")
    assert lines(b, ":TRAC:DATA?") == []
    assert errors(b) == ['-230,"Data corrupt or stale"', '313,"Buffer & format element mismatch"']
    lines(b, ":TRAC:ELEM ETEM", ":TRAC:CLE", ":TRAC:FEED:CONT NEXT", ":INIT")
    assert lines(b, ":TRAC:DATA?") == ["+00.00100E+00,+0023.0,+00.00100E+00,+0023.0"]


def test_format_data_and_elements(b: Keithley6517B) -> None:
    """§4.8: ASCII only over RS-232 (-221); FORM:ELEM fixed-order reply; HUM/VSO fields."""
    lines(b, ":FORM:DATA REAL,32", ":FORM:DATA ASC")
    assert errors(b) == ['-221,"Settings conflict"']
    assert lines(b, ":FORM:DATA?") == ["ASC"]
    lines(b, ":FORM:ELEM VSO, HUM, READ", ":SYST:HSC ON", ":SOUR:VOLT 10", ":OUTP ON")
    assert lines(b, ":FORM:ELEM?") == ["READ,HUM,VSO"]
    b.set_signal("VOLT", "constant", value=0.001)
    lines(b, ":SYST:ZCH OFF", ":SENS:VOLT:RANG 2", ":SENS:VOLT:DIG 7")
    assert lines(b, ":READ?") == ["+0.001000E+00,+045.0,+0010.000"]


def test_6514_format_elements() -> None:
    """§4.8: 6514 elements READ, TIME, STAT; 6517B names are -141."""
    k = Keithley6514(speed=0)
    lines(k, ":FORM:ELEM READ", ":FORM:ELEM VSO")
    assert lines(k, ":FORM:ELEM?") == ["READ"]
    assert errors(k) == ['-141,"Invalid character data"']


def test_trigger_layer_settings(b: Keithley6517B) -> None:
    """§4.6: 6517B arm layers and trigger layer settings with NR3/NR1 replies."""
    lines(b, ":ARM:LAY2:SOUR TIM", ":ARM:LAY2:TIM 2.5", ":ARM:LAY2:COUN INF",
          ":TRIG:DEL 0.01", ":TRIG:TIM 0.0005", ":ARM:COUN 5")
    assert lines(b, ":ARM:SEQ1:LAY2:SOUR?;TIM?;COUN?") == ["TIM;2.500000E+00;9.9E37"]
    assert lines(b, ":TRIG:DEL?;TIM?", ":ARM:LAY1:COUN?") == ["1.000000E-02;5.000000E-04", "5"]


def test_system_commands_6517b(b: Keithley6517B) -> None:
    """§4.9: version, LSYN, TSC/HSC, POS, date/time, interlock, line frequency absent."""
    assert lines(b, ":SYST:VERS?", ":SYST:TSC?", ":SYST:HSC?", ":SYST:POS?") == [
        "1996.0", "1", "0", "PRES"]
    lines(b, ":SYST:POS SAV3", ":SYST:DATE 2025,3,14", ":SYST:TIME 9,30,0")
    assert lines(b, ":SYST:POS?", ":SYST:DATE?", ":SYST:TIME?") == [
        "SAV3", "2025,03,14", "09,30,00.00"]
    assert lines(b, ":SYST:INT?") == ["1"]
    b.set_interlock(False)
    assert lines(b, ":SYST:INT?") == ["0"]
    assert int(lines(b, ":STAT:MEAS:COND?")[0]) & (1 << 13)
    lines(b, ":SYST:LFR 50")
    assert errors(b) == ['-113,"Undefined header"']


def test_system_commands_6514() -> None:
    """§4.5/§4.9: 6514 AZER, LFR 50|60 (-224 otherwise)."""
    k = Keithley6514(speed=0)
    lines(k, ":SYST:LFR 50", ":SYST:LFR 55", ":SYST:AZER OFF")
    assert lines(k, ":SYST:LFR?", ":SYST:AZER?") == ["50", "0"]
    assert errors(k) == ['-224,"Illegal parameter value"']


def test_display_and_units(b: Keithley6517B) -> None:
    """§4.10: DISP:ENAB survives *RST; TEXT stored; long text -223; UNIT:TEMP."""
    lines(b, ":DISP:ENAB OFF", "*RST", ":DISP:TEXT:DATA 'HELLO'", ":DISP:WIND2:TEXT:STAT ON",
          ":DISP:TEXT:DATA '123456789012345678901'", ":UNIT:TEMP F")
    assert lines(b, ":DISP:ENAB?", ":DISP:TEXT:DATA?", ":DISP:WIND2:TEXT:STAT?",
                 ":UNIT:TEMP?") == ["0", '"HELLO"', "1", "F"]
    assert errors(b) == ['-223,"Too much data"']


def test_temperature_humidity_elements_and_probes(b: Keithley6517B) -> None:
    """§4.12: ETEM/HUM from the environment; disconnected probe reads the sentinel."""
    lines(b, ":FORM:ELEM ETEM,HUM,UNIT", ":SYST:HSC ON", ":SYST:ZCH OFF")
    b.set_environment(temperature_c=25.5, humidity_pct=50.0)
    assert lines(b, ":READ?") == ["+0025.5Cexttemp,+050.0hum"]
    b.set_environment(temp_probe=False)
    assert lines(b, ":READ?") == ["+9999.9Cexttemp,+050.0hum"]
    lines(b, ":SENS:TEMP?")
    assert errors(b) == ['-113,"Undefined header"']


def test_vsource_limits_and_compliance(b: Keithley6517B) -> None:
    """§4.11: level above the range → -222; compliance from the control channel."""
    lines(b, ":SOUR:VOLT 150")
    assert errors(b) == ['-222,"Parameter data out of range"']
    lines(b, ":SOUR:VOLT:RANG 1000", ":SOUR:VOLT 150", ":SOUR:VOLT:LIM 50",
          ":SOUR:VOLT:LIM:STAT ON", ":SOUR:VOLT:MCON ON")
    assert lines(b, ":SOUR:VOLT?", ":SOUR:VOLT:RANG?", ":SOUR:VOLT:LIM?",
                 ":SOUR:VOLT:LIM:STAT?", ":SOUR:VOLT:MCON?") == ["150", "1000", "50", "1", "1"]
    assert lines(b, ":SOUR:CURR:LIM?") == ["0"]
    b.set_vsource_compliance(True)
    assert lines(b, ":SOUR:CURR:LIM:STAT?") == ["1"]
    lines(b, ":SENS:RES:MAN:VSO:OPER ON")
    assert lines(b, ":OUTP?", ":SENS:RES:MAN:VSO?") == ["1", "100"]


def test_route_without_card_is_hardware_missing(b: Keithley6517B) -> None:
    """§4.10: ROUTe commands without a scanner card → -241; TSEQ stored."""
    lines(b, ":ROUT:CLOS (@1)", ":TSEQ:TYPE STSW")
    assert errors(b) == ['-241,"Hardware missing"']
    assert lines(b, ":TSEQ:TYPE?") == ["STSW"]


def test_buffer_statistics(b: Keithley6517B) -> None:
    """§4.10: :CALC2:FORM + :CALC2:DATA? from stored readings; empty → -230."""
    lines(b, ":CALC2:DATA?")
    assert errors(b) == ['-230,"Data corrupt or stale"']
    b.set_signal("VOLT", "list", values=[1.0, 2.0, 3.0])
    lines(b, ":SYST:ZCH OFF", ":SENS:VOLT:RANG 20", ":SENS:VOLT:MED OFF", ":TRIG:COUN 3",
          ":TRAC:POIN 3", ":TRAC:FEED:CONT NEXT", ":INIT", ":CALC2:FORM MAX", ":CALC2:IMM")
    assert lines(b, ":CALC2:DATA?") == ["3.000000E+00"]
    lines(b, ":CALC2:FORM MEAN")
    assert lines(b, ":CALC2:DATA?") == ["2.000000E+00"]


def test_math_polynomial_coefficients_are_stored_6517b(b: Keithley6517B) -> None:
    """§4.10: :CALC1:KMAT:MA0F..MA2F default to the identity (0, 1, 0) and are stored."""
    assert lines(b, ":CALC:KMAT:MA0F?;MA1F?;MA2F?") == ["0.000000E+00;1.000000E+00;0.000000E+00"]
    lines(b, ":CALCULATE1:KMATH:MA2FACTOR 0.5")
    assert lines(b, ":CALC1:KMAT:MA2FACTOR?") == ["0.5"]
    assert errors(b) == []
    lines(b, ":CALC:KMAT:MA3F 1", ":CALC:KMAT:MA0 1")
    assert errors(b) == ['-113,"Undefined header"', '-113,"Undefined header"']


def test_math_polynomial_is_not_a_6514_command() -> None:
    """§4.10: the 6514 math is MMFactor/MBFactor; MA0F is an unknown header there."""
    k = Keithley6514(speed=0)
    assert lines(k, ":CALC:KMAT:MA0F?") == []
    assert errors(k) == ['-113,"Undefined header"']
