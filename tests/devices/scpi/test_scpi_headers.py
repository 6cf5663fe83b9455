"""Headers: message structure, path pointer, mnemonic matching (spec §1.4, §1.5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Ask = Callable[[str], str | None]
Errors = Callable[[], list[int]]


@pytest.mark.parametrize(
    "message",
    [
        ":SENSe1:CURRent:DC:NPLCycles 2",
        ":SENS:CURR:DC:NPLC 2",
        "SENS:CURR:NPLC 2",
        ":CURR:NPLC 2",
        "curr:nplc 2",
        ":sEnSe:cUrReNt:nPlCyClEs 2",
        "CURR:NPLC\t2",
        "  :CURR:NPLC   2  ",
    ],
)
def test_long_short_optional_and_case_insensitive_spellings(
    probe: Any, ask: Ask, errors: Errors, message: str
) -> None:
    assert ask(message) is None
    assert errors() == []
    assert probe.nplc == 2.0


@pytest.mark.parametrize("message", [":SYSTe:ZCH OFF", ":SYST:ZCHe OFF", ":SENSE:CURRE:NPLC 2"])
def test_in_between_forms_are_undefined_headers(ask: Ask, errors: Errors, message: str) -> None:
    assert ask(message) is None
    assert errors() == [-113]


def test_mnemonic_longer_than_twelve_characters_is_minus_112(ask: Ask, errors: Errors) -> None:
    ask(":SYST:ABCDEFGHIJKLM OFF")
    assert errors() == [-112]


def test_numeric_suffix_on_either_form(probe: Any, ask: Ask, errors: Errors) -> None:
    ask(":CALC2:FORM SDEV;:CALCULATE3:FORM SDEV")
    assert errors() == []
    assert probe.calc_format == {1: "MEAN", 2: "SDEV", 3: "SDEV"}


def test_absent_suffix_means_the_first_one(probe: Any, ask: Ask) -> None:
    ask(":CALC:FORM SDEV")
    assert probe.calc_format[1] == "SDEV"
    assert ask(":CALC1:FORM?;:CALC2:FORM?") == "SDEV;MEAN"


@pytest.mark.parametrize("message", [":CALC9:FORM MEAN", ":CALC0:FORM MEAN", ":SENS2:CURR:NPLC 1"])
def test_suffix_outside_the_documented_set_is_minus_114(
    ask: Ask, errors: Errors, message: str
) -> None:
    ask(message)
    assert errors() == [-114]


def test_digits_on_a_node_without_suffix_make_it_unknown(ask: Ask, errors: Errors) -> None:
    ask(":SYST2:ZCH OFF")
    assert errors() == [-113]


def test_missing_header_separator_is_undefined_header(ask: Ask, errors: Errors) -> None:
    ask(":SENS:CURR:RANG100")
    assert errors() == [-113]


@pytest.mark.parametrize("message", [":SYST :ZCH OFF", ":SYST:ZCH :STAT OFF", ":SYST:ZCH? ?"])
def test_whitespace_inside_a_header_is_minus_113(ask: Ask, errors: Errors, message: str) -> None:
    assert ask(message) is None
    assert errors() == [-113]


def test_illegal_character_in_header_is_minus_101(ask: Ask, errors: Errors) -> None:
    assert ask("SYST&ERR?") is None
    assert errors() == [-101]


@pytest.mark.parametrize("message", ["*IDN?\x01", "*IDN?\x7f", "*IDN?\xe9", ":SYST:ZCH 'a\x13'"])
def test_control_and_non_ascii_characters_fail_the_unit_with_minus_101(
    ask: Ask, errors: Errors, message: str
) -> None:
    assert ask(message) is None
    assert errors() == [-101]


def test_invalid_character_fails_only_its_own_unit(ask: Ask, errors: Errors) -> None:
    assert ask("*STB?;*ID\x01N?;*STB?") == "0"
    assert errors() == [-101]


@pytest.mark.parametrize("message", ["SYST::ZCH OFF", ":SYST:ZCH: OFF", ":", "SYST?:ZCH"])
def test_malformed_header_structure_is_a_syntax_error(
    ask: Ask, errors: Errors, message: str
) -> None:
    ask(message)
    assert errors() == [-102]


def test_query_form_of_set_only_command_is_undefined(ask: Ask, errors: Errors) -> None:
    assert ask(":INIT?") is None
    assert ask("*RST?") is None
    assert errors() == [-113, -113]


def test_set_form_of_query_only_command_is_undefined(ask: Ask, errors: Errors) -> None:
    assert ask(":FETC") is None
    assert ask("*IDN") is None
    assert errors() == [-113, -113]


def test_unknown_common_command_is_undefined(ask: Ask, errors: Errors) -> None:
    assert ask("*XYZ") is None
    assert ask("*IDN1?") is None
    assert errors() == [-113, -113]


def test_colon_before_common_command_is_ignored(ask: Ask, errors: Errors) -> None:
    assert ask(":*IDN?") is not None
    assert ask("*RST;:stat:pres;:*CLS;") is None
    assert errors() == []


def test_relative_header_resolves_against_the_previous_command_path(probe: Any, ask: Ask) -> None:
    assert ask(":SENS:CURR:NPLC 3;NPLC?;RANG:AUTO ON;AUTO?;:SENS:CURR:RANG 2e-9;RANG?") == (
        "3.000000E+00;1;2.000000E-09"
    )
    assert probe.autorange is False


def test_path_after_a_deeper_command_is_below_its_parent(ask: Ask, errors: Errors) -> None:
    assert ask(":SENS:CURR:RANG:AUTO OFF;RANG?") is None
    assert errors() == [-113]


def test_omitted_optional_nodes_count_as_present_in_the_path(probe: Any, ask: Ask) -> None:
    assert ask(":CURR:NPLC 4;NPLC?") == "4.000000E+00"


def test_path_only_moves_down(ask: Ask, errors: Errors) -> None:
    assert ask(":SENS:CURR:NPLC 2;SYST:ZCH?") is None
    assert errors() == [-113]


def test_leading_colon_resets_to_root(ask: Ask, errors: Errors) -> None:
    assert ask(":SENS:CURR:NPLC 2;:SYST:ZCH?") == "1"
    assert errors() == []


def test_common_command_leaves_the_path_unchanged(ask: Ask, errors: Errors) -> None:
    assert ask(":SENS:CURR:NPLC 2;*STB?;NPLC?") == "0;2.000000E+00"


def test_every_message_starts_at_the_root(ask: Ask, errors: Errors) -> None:
    ask(":SENS:CURR:NPLC 2")
    assert ask("NPLC?") is None
    assert errors() == [-113]


def test_path_carries_the_suffix_of_its_nodes(probe: Any, ask: Ask) -> None:
    ask(":CALC2:FORM SDEV;FORM?")
    assert ask(":CALC2:FORM?") == "SDEV"
    assert ask(":CALC3:FORM MEAN;FORM SDEV") is None
    assert probe.calc_format == {1: "MEAN", 2: "SDEV", 3: "SDEV"}


def test_trailing_optional_nodes_may_be_given_or_omitted(probe: Any, ask: Ask) -> None:
    ask(":SOUR:VOLT 5")
    assert probe.level == 5.0
    ask(":SOUR:VOLT:LEV:IMM:AMPL 6")
    assert probe.level == 6.0
    assert ask(":SOURce:VOLTage:LEVel?;:SOUR:VOLT:IMM?") == "6.000000E+00;6.000000E+00"


def test_optional_leading_node_with_trailing_query(ask: Ask) -> None:
    assert ask(":FUNC 'CURR';:SENS:FUNC?;FUNC?") == '"CURR";"CURR"'
