"""The error queue: behaviour, wire format, codes (spec §3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devices.scpi import ERROR_MESSAGES, ErrorQueue, ScpiError, esr_bit_for, format_error

Ask = Callable[[str], str | None]
Errors = Callable[[], list[int]]


def test_empty_queue_reads_no_error(ask: Ask) -> None:
    assert ask(":SYST:ERR?") == '0,"No error"'
    assert ask(":SYSTem:ERRor:NEXT?") == '0,"No error"'


def test_errors_come_out_oldest_first(ask: Ask) -> None:
    ask(":BOGUS")
    ask(":CURR:NPLC 50")
    assert ask("SYST:ERR?") == '-113,"Undefined header"'
    assert ask("SYST:ERR?") == '-222,"Parameter data out of range"'
    assert ask("SYST:ERR?") == '0,"No error"'


def test_wire_format_has_exactly_one_comma_and_no_space() -> None:
    for code, message in ERROR_MESSAGES.items():
        text = format_error(code, message)
        assert text.count(",") == 1
        assert text.count('"') == 2
        assert ", " not in text
        head, tail = text.split(",")
        assert int(head) == code
        assert tail == f'"{message}"'


def test_positive_codes_have_no_plus_by_default(make_probe: Callable[..., Any]) -> None:
    assert format_error(313, "Buffer & format element mismatch") == (
        '313,"Buffer & format element mismatch"'
    )
    probe = make_probe(positive_error_plus=True)
    probe.receive(":TEST:FAIL 313", 0.0)
    assert probe.receive("SYST:ERR?", 0.0)[0].text.startswith('+313,"')


def test_queue_holds_ten_and_the_newest_becomes_queue_overflow(probe: Any, ask: Ask,
                                                               errors: Errors) -> None:
    for code in range(-211, -222, -1):
        ask(f":TEST:FAIL {code}")
    assert errors() == [-211, -212, -213, -214, -215, -216, -217, -218, -219, -350]


def test_overflow_entry_is_not_duplicated(ask: Ask, errors: Errors) -> None:
    for _ in range(30):
        ask(":BOGUS")
    assert errors() == [-113] * 9 + [-350]


def test_overflow_entry_text(ask: Ask) -> None:
    for _ in range(11):
        ask(":BOGUS")
    for _ in range(9):
        ask(":SYST:ERR?")
    assert ask(":SYST:ERR?") == '-350,"Queue overflow"'


def test_dropped_error_still_sets_its_esr_bit(ask: Ask) -> None:
    for _ in range(10):
        ask(":BOGUS")
    ask("*ESR?")
    ask(":TEST:FAIL -221")
    assert ask("*ESR?") == "16"


def test_depth_is_configurable(make_probe: Callable[..., Any]) -> None:
    probe = make_probe(error_queue_depth=3)
    for _ in range(5):
        probe.receive(":BOGUS", 0.0)
    codes = [probe.engine.status.error_queue.pop()[0] for _ in range(4)]
    assert codes == [-113, -113, -350, 0]


@pytest.mark.parametrize("clearer", ["*CLS", ":SYST:CLE", ":STAT:QUE:CLE"])
def test_queue_cleared_by(ask: Ask, errors: Errors, clearer: str) -> None:
    ask(":BOGUS")
    ask(clearer)
    assert errors() == []


@pytest.mark.parametrize("keeper", ["*RST", ":STAT:PRES"])
def test_queue_not_cleared_by(ask: Ask, errors: Errors, keeper: str) -> None:
    ask(":BOGUS")
    ask(keeper)
    assert errors() == [-113]


def test_error_all_and_count_are_undefined_by_default(ask: Ask, errors: Errors) -> None:
    assert ask(":SYST:ERR:ALL?") is None
    assert ask(":SYST:ERR:COUN?") is None
    assert errors() == [-113, -113]


def test_no_message_text_contains_a_comma_or_quote() -> None:
    for message in ERROR_MESSAGES.values():
        assert "," not in message
        assert '"' not in message


@pytest.mark.parametrize(
    ("code", "bit"),
    [(-100, 32), (-199, 32), (-200, 16), (-299, 16), (-350, 8), (-363, 8), (-410, 4), (313, 8),
     (0, 0)],
)
def test_error_classes_map_to_esr_bits(code: int, bit: int) -> None:
    assert esr_bit_for(code) == bit


def test_scpi_error_defaults_to_the_standard_text() -> None:
    error = ScpiError(-222)
    assert error.message == "Parameter data out of range"
    assert ScpiError(-119).message == "Command error"
    assert ScpiError(-113, "Undefined header", esr_bit=8).esr_bit == 8


def test_queue_rejects_a_useless_depth() -> None:
    with pytest.raises(ValueError, match="depth"):
        ErrorQueue(0)


def test_custom_message_is_kept() -> None:
    queue = ErrorQueue()
    queue.push(313, "Buffer & format element mismatch")
    assert queue.pop() == (313, "Buffer & format element mismatch")


def test_code_zero_ends_the_message_silently(probe: Any, ask: Ask, errors: Errors) -> None:
    ask("*ESR?")
    assert ask("*STB?;:TEST:FAIL 0;:SYST:ZCH OFF") == "0"
    assert errors() == []
    assert probe.zero_check is True
    assert ask("*ESR?") == "0"
