"""Which message differences a replay forgives, switch by switch."""

from __future__ import annotations

import pytest

from harness.recording import EXACT, Normalisation

DEFAULT = Normalisation()


@pytest.mark.parametrize(
    ("recorded", "received"),
    [
        (":SENS:FUNC?", ":sens:func?"),
        (":SYSTem:ERRor?", ":SYST:ERR?"),
        (":SENSe:CURRent:RANGe 2e-09", ":SENS:CURR:RANG 2E-9"),
        (":SENS:CURR:NPLC 1.000000", ":SENS:CURR:NPLC 1"),
        (":SENS:CURR:RANG 0.000000002", ":SENS:CURR:RANG 2e-09"),
        ("*idn?;", "*IDN?"),
        ("*RST; :trac:cle;", "*RST;:TRAC:CLE"),
        (":*CLS", "*CLS"),
        (":TRAC:FEED:CONT NEXT", "TRAC:FEED:CONT NEXT"),
        (":SENS1:CURR:NPLC?", ":SENS:CURR:NPLC?"),
        (":TRIG:SOUR IMMediate", ":TRIG:SOUR IMM"),
        (":trac:elem TST, CURR;", ":TRAC:ELEM TST,CURR"),
        ("*IDN?\r\n", "*IDN?"),
        (":VSOurce:OPERate ON", ":VSO:OPER ON"),
        (":SYSTem:ZCHeck OFF", ":SYST:ZCH OFF"),
    ],
)
def test_equivalent_spellings_match(recorded: str, received: str) -> None:
    assert DEFAULT.key(recorded) == DEFAULT.key(received)


@pytest.mark.parametrize(
    ("recorded", "received"),
    [
        (":SENS:CURR:RANG 2e-09", ":SENS:CURR:RANG 2e-08"),
        (":SENS:CURR:RANG?", ":SENS:CURR:RANG 2e-09"),
        (":SENS:FUNC 'CURR'", ":SENS:FUNC 'VOLT'"),
        (":TRIG:COUN 3", ":TRIG:COUN 30"),
        (":SENS:FUNC 'a;b'", ":SENS:FUNC 'a'"),
        (":TRIG:SOUR TIM", ":TRIG:SOUR IMM"),
        (":SENS2:CURR:NPLC?", ":SENS:CURR:NPLC?"),
        (":SYST:ZCH ON;:INIT", ":SYST:ZCH ON"),
    ],
)
def test_different_messages_do_not_match(recorded: str, received: str) -> None:
    assert DEFAULT.key(recorded) != DEFAULT.key(received)


def test_a_semicolon_inside_quotes_does_not_split_units() -> None:
    assert DEFAULT.key(":DISP:TEXT:DATA 'a;b';*IDN?") == "DISP:TEXT:DATA 'a;b';*IDN?"


def test_exact_matching_only_forgives_terminators() -> None:
    assert EXACT.key("*IDN?\r\n") == "*IDN?"
    assert EXACT.key("*idn?") != EXACT.key("*IDN?")


@pytest.mark.parametrize(
    ("switch", "recorded", "received"),
    [
        ("case", ":sens:func?", ":SENS:FUNC?"),
        ("short_form", ":SYSTem:ERRor?", ":SYST:ERR?"),
        ("whitespace", "*RST; :trac:cle;", "*RST;:trac:cle"),
        ("numbers", ":TRIG:DEL 1.0", ":TRIG:DEL 1"),
    ],
)
def test_each_switch_governs_its_own_difference(switch: str, recorded: str,
                                                received: str) -> None:
    assert DEFAULT.key(recorded) == DEFAULT.key(received)
    without = Normalisation(**{switch: False})
    assert without.key(recorded) != without.key(received)
