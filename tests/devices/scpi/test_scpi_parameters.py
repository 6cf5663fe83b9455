"""Parameter types and their error codes (spec §1.6)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from devices.scpi import ListValue, ScpiError, Step

Ask = Callable[[str], str | None]
Errors = Callable[[], list[int]]


@pytest.mark.parametrize(
    ("text", "value"),
    [("2e-09", 2e-9), ("1.000000", 1.0), ("5", 5.0), ("+.5", 0.5), ("-1E-1", -0.1),
     ("0.1", 0.1), ("1.", 1.0), ("1E+0", 1.0), ("#H0A", 10.0), ("#q12", 10.0), ("#B1010", 10.0)],
)
def test_nrf_and_non_decimal_forms(probe: Any, ask: Ask, errors: Errors, text: str,
                                   value: float) -> None:
    probe.level = 999.0
    ask(f":SOUR:VOLT {text}")
    assert errors() == []
    assert probe.level == value


@pytest.mark.parametrize("text", ["1.2.3", "1e", "1e+", "+", ".", "1..", "--1", "1e1.5", "#HXY",
                                  "#Z1", "1_0", "1ms"])
def test_malformed_numbers_are_minus_121(probe: Any, ask: Ask, errors: Errors, text: str) -> None:
    ask(f":SOUR:VOLT:RANG {text}")
    assert errors() == [-121]
    assert probe.source_range == 100.0


def test_unrepresentable_number_is_minus_123(ask: Ask, errors: Errors) -> None:
    ask(":SOUR:VOLT:RANG 1e400")
    assert errors() == [-123]


def test_more_than_255_mantissa_digits_is_minus_124(probe: Any, ask: Ask, errors: Errors) -> None:
    ask(":SOUR:VOLT:RANG " + "1" * 256)
    assert errors() == [-124]
    ask(":SOUR:VOLT:RANG 0." + "0" * 253 + "1")
    assert errors() == []


def test_out_of_limits_is_minus_222_and_nothing_changes(probe: Any, ask: Ask,
                                                        errors: Errors) -> None:
    ask(":CURR:NPLC 50")
    ask(":CURR:NPLC 0.001")
    assert errors() == [-222, -222]
    assert probe.nplc == 1.0


def test_limits_are_inclusive(probe: Any, ask: Ask, errors: Errors) -> None:
    ask(":CURR:NPLC 0.01")
    assert probe.nplc == 0.01
    ask(":CURR:NPLC 10")
    assert probe.nplc == 10.0
    assert errors() == []


def test_value_outside_discrete_set_is_minus_224(probe: Any, ask: Ask, errors: Errors) -> None:
    ask(":SYST:LFR 55")
    assert errors() == [-224]
    ask(":SYST:LFR 50")
    assert errors() == []
    assert ask(":SYST:LFR?") == "50"


@pytest.mark.parametrize(("text", "value"), [("3.4", 3), ("3.5", 4), ("2.5", 3), ("7", 7)])
def test_integer_settings_round_to_nearest(probe: Any, ask: Ask, text: str, value: int) -> None:
    ask(f":TRIG:COUN {text}")
    assert probe.count == value
    assert isinstance(probe.count, int)


@pytest.mark.parametrize(
    ("word", "value"),
    [("MIN", 0.01), ("minimum", 0.01), ("MAX", 10.0), ("MAXimum", 10.0), ("DEF", 1.0),
     ("default", 1.0)],
)
def test_min_max_def_words(probe: Any, ask: Ask, errors: Errors, word: str, value: float) -> None:
    probe.nplc = 5.0
    ask(f":CURR:NPLC {word}")
    assert errors() == []
    assert probe.nplc == value


@pytest.mark.parametrize(
    ("word", "reply"),
    [("MIN", "1.000000E-02"), ("MAX", "1.000000E+01"), ("DEF", "1.000000E+00")],
)
def test_query_with_min_max_def_returns_the_limit_in_the_reply_format(
    ask: Ask, word: str, reply: str
) -> None:
    assert ask(f":CURR:NPLC? {word}") == reply


def test_query_of_integer_limit_uses_integer_format(ask: Ask) -> None:
    assert ask(":TRIG:COUN? MAX;COUN? MIN") == "99999;1"


def test_min_max_without_limits_is_character_data_not_allowed(ask: Ask, errors: Errors) -> None:
    ask(":SYST:LFR MAX")
    assert errors() == [-148]


def test_other_word_for_a_number_is_minus_148(ask: Ask, errors: Errors) -> None:
    ask(":TRIG:COUN FOO")
    assert errors() == [-148]


def test_documented_numeric_keyword(probe: Any, ask: Ask) -> None:
    ask(":TRIG:COUN INF")
    assert probe.count == math.inf
    assert ask(":TRIG:COUN?") == "9.9E37"
    ask(":TRIG:COUN INFinity")
    assert probe.count == math.inf


def test_string_where_number_required_is_minus_158(ask: Ask, errors: Errors) -> None:
    ask(":CURR:NPLC '1'")
    assert errors() == [-158]


def test_up_down_rejected_by_default(probe: Any, ask: Ask, errors: Errors) -> None:
    ask(":CURR:RANG UP")
    ask(":CURR:RANG DOWN")
    assert errors() == [-141, -141]
    assert probe.range_steps == []


def test_up_down_accepted_on_request(make_probe: Callable[..., Any]) -> None:
    probe = make_probe(numeric_up_down="accept")
    probe.receive(":CURR:RANG UP;RANG DOWN", 0.0)
    assert probe.range_steps == [Step.UP, Step.DOWN]


def test_up_down_never_accepted_where_the_command_has_no_steps(
    make_probe: Callable[..., Any],
) -> None:
    probe = make_probe(numeric_up_down="accept")
    probe.receive(":CURR:NPLC UP", 0.0)
    assert probe.engine.status.error_queue.pop()[0] == -141


@pytest.mark.parametrize(
    ("text", "value"),
    [("ON", True), ("OFF", False), ("on", True), ("1", True), ("0", False), ("0.4", False),
     ("0.6", True), ("-3", True)],
)
def test_booleans(probe: Any, ask: Ask, text: str, value: bool) -> None:
    probe.zero_check = not value
    ask(f":SYST:ZCH {text}")
    assert probe.zero_check is value
    assert ask(":SYST:ZCH?") == ("1" if value else "0")


@pytest.mark.parametrize("text", ["ONCE", "YES", "TRUE"])
def test_boolean_other_words_are_minus_141(ask: Ask, errors: Errors, text: str) -> None:
    ask(f":SYST:ZCH {text}")
    assert errors() == [-141]


def test_once_where_allowed(probe: Any, ask: Ask, errors: Errors) -> None:
    ask(":CURR:RANG:AUTO ONCE")
    assert errors() == []
    assert probe.autorange == "ONCE"


@pytest.mark.parametrize(("text", "value"), [("IMM", "IMM"), ("immediate", "IMM"), ("BUS", "BUS"),
                                             ("MANual", "MAN")])
def test_character_data_decodes_to_the_short_form(probe: Any, ask: Ask, text: str,
                                                  value: str) -> None:
    ask(f":TRIG:SOUR {text}")
    assert probe.source == value
    assert ask(":TRIG:SOUR?") == value


@pytest.mark.parametrize(("text", "code"), [("FOO", -141), ("IMMED", -141), ("1", -128),
                                            ("'IMM'", -158)])
def test_character_data_errors(ask: Ask, errors: Errors, text: str, code: int) -> None:
    ask(f":TRIG:SOUR {text}")
    assert errors() == [code]


@pytest.mark.parametrize(("text", "value"), [("SENSE", "SENS1"), ("SENS1", "SENS1"),
                                             ("CALC", "CALC1"), ("CALCulate2", "CALC2")])
def test_character_data_with_suffixes(probe: Any, ask: Ask, text: str, value: str) -> None:
    ask(f":TRAC:FEED {text}")
    assert probe.feed == value


def test_character_data_suffix_outside_the_set_is_minus_141(ask: Ask, errors: Errors) -> None:
    ask(":TRAC:FEED CALC3")
    assert errors() == [-141]


@pytest.mark.parametrize(("text", "value"), [("'CURR'", "CURR"), ('"VOLT:DC"', "VOLT:DC"),
                                             ("'it''s'", "it's"), ('"say ""hi"""', 'say "hi"'),
                                             ("'a;b'", "a;b"), ("''", "")])
def test_strings(probe: Any, ask: Ask, errors: Errors, text: str, value: str) -> None:
    ask(f":FUNC {text}")
    assert errors() == []
    assert probe.function == value


def test_string_reply_doubles_quotes(ask: Ask) -> None:
    ask(""":DISP:TEXT:DATA 'a"b'""")
    assert ask(":DISP:TEXT:DATA?") == '"a""b"'


@pytest.mark.parametrize(("text", "code"), [("'CURR", -151), ("'CURR;*IDN?", -151),
                                            ("5", -104), ("VOLT:DC", -224), ("CURR", -224),
                                            ("'A' 'B'", -103)])
def test_string_errors(probe: Any, ask: Ask, errors: Errors, text: str, code: int) -> None:
    assert ask(f":FUNC {text}") is None
    assert errors() == [code]
    assert probe.function == "VOLT:DC"


@pytest.mark.parametrize(
    ("text", "ranges", "channel"),
    [("(1)", ((1, 1),), False), ("(1,3:5)", ((1, 1), (3, 5)), False),
     ("(@1:10)", ((1, 10),), True), ("( @ 2 , 4 )", ((2, 2), (4, 4)), True),
     ("(-440:+958)", ((-440, 958),), False), ("()", (), False)],
)
def test_lists(probe: Any, ask: Ask, errors: Errors, text: str, ranges: tuple[Any, ...],
               channel: bool) -> None:
    ask(f":ROUT:CLOS {text}")
    assert errors() == []
    assert probe.closed == ListValue(ranges, channel)


@pytest.mark.parametrize("text", ["(1,,2)", "(1:2:3)", "(a)", "(1", "(1:)", "(@)x"])
def test_malformed_lists_are_minus_102(ask: Ask, errors: Errors, text: str) -> None:
    ask(f":ROUT:CLOS {text}")
    assert errors() == [-102]


def test_list_reads_back(ask: Ask) -> None:
    ask(":ROUT:CLOS (@1:3,7)")
    assert ask(":ROUT:CLOS?") == "(@1:3,7)"


def test_list_values_expand(probe: Any, ask: Ask) -> None:
    ask(":ROUT:CLOS (@1:3,7,5:4)")
    assert probe.closed.values() == [1, 2, 3, 7, 5, 4]


def test_list_expansion_is_bounded() -> None:
    with pytest.raises(ScpiError) as caught:
        ListValue(((1, 10**9),)).values()
    assert caught.value.code == -223
    assert len(ListValue(((1, 100),)).values(limit=100)) == 100


@pytest.mark.parametrize(("text", "value"), [("READ", ("READ",)), ("TST, READ", ("TST", "READ")),
                                             ("reading ,tstamp,STAT", ("READ", "TST", "STAT"))])
def test_element_lists(probe: Any, ask: Ask, errors: Errors, text: str,
                       value: tuple[str, ...]) -> None:
    ask(f":FORM:ELEM {text}")
    assert errors() == []
    assert probe.elements == value


@pytest.mark.parametrize("text", ["TST, CURR", "READ,1", "READ,'TST'"])
def test_element_list_with_an_invalid_item_is_minus_141_and_not_executed(
    probe: Any, ask: Ask, errors: Errors, text: str
) -> None:
    ask(f":FORM:ELEM {text}")
    assert errors() == [-141]
    assert probe.elements == ("READ", "TST")


def test_element_list_reads_back_comma_joined(ask: Ask) -> None:
    ask(":FORM:ELEM STAT,READ")
    assert ask(":FORM:ELEM?") == "STAT,READ"


def test_missing_parameter_is_minus_109(ask: Ask, errors: Errors) -> None:
    ask(":SENS:CURR:NPLC")
    ask(":FORM:ELEM")
    ask(":SYST:TIME 1")
    assert errors() == [-109, -109, -109]


def test_too_many_parameters_is_minus_108(ask: Ask, errors: Errors) -> None:
    assert ask("*RST 1") is None
    assert ask("*IDN? 1") is None
    assert ask(":CURR:NPLC 1,2") is None
    assert ask(":CURR:NPLC? 1") is None
    assert errors() == [-108, -108, -108, -108]


def test_optional_trailing_parameter(probe: Any, ask: Ask, errors: Errors) -> None:
    ask(":SYST:TIME 12,30")
    assert probe.time_of_day == (12, 30, None)
    ask(":SYST:TIME 12, 30 ,\t15")
    assert errors() == []
    assert probe.time_of_day == (12, 30, 15.0)


def test_parameters_not_separated_by_commas_are_minus_103(ask: Ask, errors: Errors) -> None:
    ask(":SYST:TIME 1 2")
    assert errors() == [-103]


def test_empty_parameter_between_commas_is_a_syntax_error(ask: Ask, errors: Errors) -> None:
    ask(":SYST:TIME 1,,2")
    assert errors() == [-102]


def test_unexpected_character_starting_a_parameter_is_minus_101(ask: Ask, errors: Errors) -> None:
    ask(":CURR:NPLC &1")
    assert errors() == [-101]


def test_header_error_takes_precedence_over_parameter_error(ask: Ask, errors: Errors) -> None:
    ask(":CURR:NPLX 1 2")
    assert errors() == [-113]


@pytest.mark.parametrize("header", [":CURR:NPLC", ":SYST:ZCH", ":TRIG:SOUR", ":FUNC"])
def test_list_where_a_single_value_is_required_is_a_data_type_error(
    ask: Ask, errors: Errors, header: str
) -> None:
    ask(f"{header} (1)")
    assert errors() == [-104]


def test_number_where_a_list_is_required_is_a_data_type_error(ask: Ask, errors: Errors) -> None:
    ask(":ROUT:CLOS 1")
    assert errors() == [-104]
