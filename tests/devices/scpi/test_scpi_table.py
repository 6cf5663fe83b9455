"""Command tables: patterns, conflicts, the ``setting`` helper, reply formats."""

from __future__ import annotations

import math

import pytest

from devices.scpi import (
    Blocked,
    Call,
    Command,
    CommandTable,
    ElementList,
    Numeric,
    PatternError,
    Raw,
    ScpiInstrument,
    format_nr1,
    format_nr3,
    format_string,
    setting,
)


class Box(ScpiInstrument):
    def __init__(self, table: CommandTable[Box]) -> None:
        self.value: object = 0
        super().__init__(table)


def answer(table: CommandTable[Box], message: str) -> list[str]:
    return [reply.text for reply in Box(table).receive(message, 0.0)]


def _ok(box: Box, call: Call) -> str:
    return "ok"


@pytest.mark.parametrize(
    "pattern",
    ["", ":", "SYST::ERR", ":SYSTem[:ERRor", ":syst", ":SYSTem:[ERRor]", ":SYST:ERR x",
     ":ABCDEFGHIJKLMN", "*ID1"],
)
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        CommandTable([Command(pattern, on_query=_ok)])


def test_two_commands_claiming_one_header_are_refused() -> None:
    with pytest.raises(PatternError, match="already defines"):
        CommandTable([Command(":A[:B]", on_query=_ok), Command(":A", on_query=_ok)])


def test_set_and_query_forms_may_come_from_two_commands() -> None:
    table = CommandTable([Command(":A?", on_query=_ok),
                          Command(":A", on_set=lambda box, call: None)])
    assert answer(table, ":A 1;:A?") == []  # :A takes no parameter: -108
    assert answer(table, ":A;:A?") == ["ok"]


def test_command_needs_a_handler() -> None:
    with pytest.raises(ValueError, match="on_set"):
        Command(":A")


def test_query_only_pattern_cannot_have_a_set_handler() -> None:
    with pytest.raises(ValueError, match="query-only"):
        Command(":A?", on_set=lambda box, call: None)


def test_element_list_must_be_last() -> None:
    with pytest.raises(ValueError, match="last"):
        Command(":A", on_set=lambda box, call: None, params=(ElementList("X"), Numeric()))


def test_node_with_a_fixed_suffix_requires_it() -> None:
    table = CommandTable([Command(":LAYer2:COUNt?", on_query=_ok)])
    assert answer(table, ":LAY2:COUN?") == ["ok"]
    assert answer(table, ":LAYER2:COUNT?") == ["ok"]
    assert answer(table, ":LAY:COUN?;*STB?") == []


def test_suffix_range_with_optional_node() -> None:
    def which(box: Box, call: Call) -> str:
        return str(call.suffixes)

    table = CommandTable([Command(":OUTPut[1-2]:TTL[1-4][:LEVel]?", on_query=which)])
    assert answer(table, ":OUTP:TTL?") == ["(1, 1)"]
    assert answer(table, ":OUTP2:TTL4:LEV?") == ["(2, 4)"]


def test_setting_reads_back_in_the_parameter_format() -> None:
    table = CommandTable([
        setting(":REAL", Numeric(0, 10), "value"),
        setting(":INTeger", Numeric(0, 10, integer=True), "value"),
    ])
    assert answer(table, ":REAL 2.5;:REAL?;:INT 3;:INT?") == ["2.500000E+00;3"]


def test_setting_with_formatter_and_after_set() -> None:
    seen: list[object] = []
    table = CommandTable([setting(":V", Numeric(0, 10, default=2), "value", formatter=format_nr1,
                                  after_set=lambda box, call: seen.append(call.args))])
    assert answer(table, ":V 4;:V?;:V? DEF") == ["4;2"]
    assert seen == [(4.0,)]


def test_set_only_setting() -> None:
    table = CommandTable([setting(":V", Numeric(), "value", query=False)])
    assert answer(table, ":V?") == []


def test_command_duration_may_be_a_function() -> None:
    table = CommandTable([Command(":V?", on_query=_ok, duration=lambda box, call: 0.5)])
    assert Box(table).receive(":V?;:V?", 1.0)[0].ready_at == 2.0


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1.000000E+00"), (2e-9, "2.000000E-09"), (-0.5, "-5.000000E-01"), (0.0, "0.000000E+00"),
     (123456.7, "1.234567E+05"), (0.123456789, "0.123456789"), (math.inf, "9.9E37"),
     (-math.inf, "-9.9E37")],
)
def test_nr3_format(value: float, text: str) -> None:
    assert format_nr3(value) == text


def test_nr3_read_back_is_exact() -> None:
    for value in (2e-9, 0.1, 1.0 / 3.0, 21e-3, 1e-13, 9.87654321e10):
        assert float(format_nr3(value)) == value


def test_nr3_plus_sign_option() -> None:
    assert format_nr3(1.0, plus=True) == "+1.000000E+00"
    assert format_nr3(-1.0, plus=True) == "-1.000000E+00"


def test_string_format() -> None:
    assert format_string('a"b') == '"a""b"'


def test_raw_parameter_passes_the_text_through() -> None:
    def echo(box: Box, call: Call) -> str:
        return repr(call.arg)

    table = CommandTable([Command(":ECHO?", on_query=echo, query_params=(Raw(optional=True),))])
    assert answer(table, ":ECHO? 'a b';:ECHO? x:y;:ECHO? -1e3;:ECHO?") == [
        "'a b';'x:y';'-1e3';None"
    ]


def test_blocked_handler_reports_its_retry_time_and_is_retried() -> None:
    def wait_until_five(box: Box, call: Call) -> str:
        if call.time < 5.0:
            raise Blocked(retry_at=5.0)
        return "done"

    box = Box(CommandTable([Command(":WAIT?", on_query=wait_until_five)]))
    assert box.receive("*STB?;:WAIT?", 1.0) == []
    assert box.next_wakeup() == 5.0
    assert box.poll(4.0) == []
    assert [reply.text for reply in box.poll(5.0)] == ["0;done"]
    assert box.next_wakeup() is None


def test_errors_can_be_reported_outside_a_handler() -> None:
    box = Box(CommandTable([]))
    box.engine.report_error(-241)
    assert [reply.text for reply in box.receive(":SYST:ERR?", 0.0)] == ['-241,"Hardware missing"']
