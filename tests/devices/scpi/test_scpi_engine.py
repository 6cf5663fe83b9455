"""Engine: replies, errors inside a message, timing, blocking, device clear (spec §0.5, §1.7,
§1.8, §6.1, §8.3, §9.1)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from devices.scpi import DEVICE_CLEAR_REPLY, Reply

Ask = Callable[[str], str | None]
Errors = Callable[[], list[int]]

IDN = "ACME INSTRUMENTS,MODEL 1,123,A01 "


def test_one_reply_line_joins_all_query_results(ask: Ask) -> None:
    assert ask("*IDN?;*STB?") == IDN + ";16"


def test_set_commands_produce_no_output(ask: Ask) -> None:
    assert ask(":SYST:ZCH OFF;:CURR:NPLC 2") is None


@pytest.mark.parametrize("message", ["", " ", "\t", ";", ";;", " ; ", "*IDN?;", "*IDN?; "])
def test_empty_messages_and_units_do_nothing(probe: Any, errors: Errors, message: str) -> None:
    replies = probe.receive(message, 0.0)
    assert [reply.text for reply in replies] == ([IDN] if "IDN" in message else [])
    assert errors() == []


def test_error_discards_the_rest_of_the_message(probe: Any, ask: Ask, errors: Errors) -> None:
    assert ask(":SYST:ZCH OFF;:BOGUS;:CURR:NPLC 5;*IDN?") is None
    assert errors() == [-113]
    assert probe.zero_check is False
    assert probe.nplc == 1.0


def test_results_before_the_error_are_still_sent(ask: Ask, errors: Errors) -> None:
    assert ask("*STB?;:CURR:NPLC 99;*IDN?") == "0"
    assert errors() == [-222]


def test_execution_error_discards_the_rest_by_default(probe: Any, ask: Ask,
                                                      errors: Errors) -> None:
    assert ask(":TEST:FAIL -221;:SYST:ZCH OFF;*STB?") is None
    assert errors() == [-221]
    assert probe.zero_check is True


def test_execution_errors_may_continue_on_request(make_probe: Callable[..., Any]) -> None:
    probe = make_probe(execution_errors_abort=False)
    replies = probe.receive(":TEST:FAIL -221;:SYST:ZCH OFF;*STB?", 0.0)
    assert [reply.text for reply in replies] == ["4"]
    assert probe.zero_check is False
    replies = probe.receive(":TEST:FAIL -221;:BOGUS;*STB?", 0.0)
    assert replies == []


def test_message_whose_only_query_follows_an_error_has_no_reply(ask: Ask) -> None:
    assert ask(":BOGUS;*IDN?") is None


def test_pymeasure_reset_sequence_is_silent_and_error_free(ask: Ask, errors: Errors) -> None:
    assert ask("*RST;:stat:pres;:*CLS;") is None
    assert errors() == []


def test_reply_is_ready_when_the_last_unit_completes(probe: Any) -> None:
    replies = probe.receive("*IDN?;:TEST:SLOW;*STB?", 10.0)
    assert replies == [Reply(IDN + ";16", pytest.approx(10.0 + 0.001 + 0.25 + 0.001))]


def test_set_units_take_no_time_and_queries_the_hook_duration(probe: Any) -> None:
    assert probe.receive(":SYST:ZCH OFF;*IDN?", 3.0) == [Reply(IDN, 3.001)]


def test_handler_can_finish_later(probe: Any) -> None:
    assert probe.receive(":READ?", 1.0) == [Reply("1.500000E-09", 1.5)]


def test_messages_run_one_after_another(probe: Any) -> None:
    first = probe.receive(":READ?", 1.0)
    second = probe.receive("*IDN?", 1.1)
    assert first[0].ready_at == 1.5
    assert second[0].ready_at == pytest.approx(1.501)


def test_a_set_only_message_still_delays_later_messages(probe: Any) -> None:
    assert probe.receive("*RST", 0.0) == []
    assert probe.receive("*IDN?", 0.05) == [Reply(IDN, pytest.approx(0.101))]


def test_idle_device_answers_at_message_time(probe: Any) -> None:
    probe.receive("*IDN?", 0.0)
    assert probe.receive("*IDN?", 100.0) == [Reply(IDN, 100.001)]


def test_ready_times_never_decrease(probe: Any) -> None:
    times = [reply.ready_at for now in (0.0, 0.0, 0.2, 0.2, 5.0)
             for reply in probe.receive(":READ?;*STB?", now)]
    assert times == sorted(times)
    assert all(time >= 0.0 for time in times)


def test_wait_for_predictable_operation(probe: Any) -> None:
    probe.receive(":INIT", 2.0)
    # The query latency overlaps the wait: the unit ends when the operation ends.
    assert probe.receive("*OPC?", 2.0) == [Reply("1", 3.0)]
    assert probe.receive("*WAI;*IDN?", 2.5) == [Reply(IDN, pytest.approx(3.001))]


def test_blocked_unit_holds_its_message_and_later_ones_until_poll(probe: Any) -> None:
    probe.receive(":TRIG:SOUR MAN;:INIT", 0.0)
    assert probe.receive("*IDN?;:FETC?", 1.0) == []
    assert probe.receive("*STB?", 1.5) == []
    assert probe.engine.blocked
    assert probe.poll(2.0) == []
    probe.manual_trigger(3.0)
    replies = probe.poll(3.0)
    assert replies == [Reply(IDN + ";2.500000E-09", 4.0), Reply("0", pytest.approx(4.001))]
    assert not probe.engine.blocked


def test_next_wakeup_reports_a_retry_time(probe: Any) -> None:
    assert probe.next_wakeup() is None
    probe.receive(":TRIG:SOUR MAN;:INIT", 0.0)
    probe.receive("*OPC?", 0.0)
    assert probe.engine.blocked
    assert probe.next_wakeup() is None


def test_device_clear_cancels_waiting_units_and_queued_messages(probe: Any,
                                                                errors: Errors) -> None:
    probe.receive(":TRIG:SOUR MAN;:INIT;:SYST:ZCH OFF", 0.0)
    probe.receive("*OPC?;:CURR:NPLC 5", 0.0)
    probe.receive(":CURR:NPLC 6", 0.0)
    assert probe.device_clear(1.0) == [Reply(DEVICE_CLEAR_REPLY, 1.0)]
    assert probe.device_clears == 1
    probe.manual_trigger(2.0)
    assert probe.poll(2.0) == []
    assert probe.nplc == 1.0
    assert probe.zero_check is False
    assert probe.receive("*IDN?", 2.0) == [Reply(IDN, 2.001)]


def test_device_clear_keeps_errors_and_settings(probe: Any, errors: Errors) -> None:
    probe.receive(":CURR:NPLC 2;:BOGUS", 0.0)
    probe.device_clear(0.5)
    assert probe.nplc == 2.0
    assert errors() == [-113]


def test_device_clear_stops_waiting_for_a_slow_reply(probe: Any) -> None:
    probe.receive(":READ?", 0.0)
    probe.device_clear(0.1)
    assert probe.receive("*IDN?", 0.2) == [Reply(IDN, pytest.approx(0.201))]


def test_input_overrun_queues_minus_363(probe: Any, errors: Errors) -> None:
    probe.input_overrun(0.0)
    assert errors() == [-363]
    assert probe.receive("*IDN?", 0.0) == [Reply(IDN, 0.001)]


def test_overrun_code_is_configurable(make_probe: Callable[..., Any]) -> None:
    probe = make_probe(overrun_error_code=-223)
    probe.input_overrun(0.0)
    assert probe.receive("SYST:ERR?", 0.0)[0].text == '-223,"Too much data"'


def test_messages_queued_while_blocked_are_bounded(make_probe: Callable[..., Any]) -> None:
    probe = make_probe(max_queued_characters=20)
    probe.receive(":TRIG:SOUR MAN;:INIT;*OPC?", 0.0)
    assert probe.engine.blocked
    probe.receive("*IDN?;*IDN?;*IDN?", 0.0)
    probe.receive("*IDN?;*IDN?;*IDN?", 0.0)
    probe.manual_trigger(1.0)
    replies = probe.poll(1.0)
    assert [reply.text for reply in replies] == ["1", ";".join([IDN] * 3)]
    assert probe.receive("SYST:ERR?", 5.0)[0].text == '-363,"Input buffer overrun"'


def test_strict_mode_unknown_query_gives_no_reply(ask: Ask, errors: Errors) -> None:
    assert ask(":SOUR:VOLT:RANG:AUTO 0;:SOUR:VOLT:RANG 200") is None
    assert errors() == [-113]


def test_lenient_mode_ignores_unknown_headers_and_continues(
    make_probe: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    probe = make_probe(lenient=True)
    with caplog.at_level(logging.WARNING, logger="devices.scpi.engine"):
        replies = probe.receive(":SOUR:VOLT:RANG:AUTO 0;:SOUR:VOLT:RANG 200;*STB?", 0.0)
    assert [reply.text for reply in replies] == ["0"]
    assert probe.source_range == 200.0
    assert list(probe.engine.unknown_headers) == [":SOUR:VOLT:RANG:AUTO 0"]
    assert ":SOUR:VOLT:RANG:AUTO 0" in caplog.text


def test_lenient_mode_unknown_query_sends_nothing_invented(
    make_probe: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    probe = make_probe(lenient=True)
    with caplog.at_level(logging.WARNING, logger="devices.scpi.engine"):
        assert probe.receive(":SENS:TEMP?", 0.0) == []
    assert "a client may be waiting" in caplog.text


def test_lenient_mode_moves_the_path_as_if_the_header_were_valid(
    make_probe: Callable[..., Any],
) -> None:
    probe = make_probe(lenient=True)
    replies = probe.receive(":SENS:CURR:BOGUS 1;NPLC?", 0.0)
    assert [reply.text for reply in replies] == ["1.000000E+00"]


def test_lenient_mode_keeps_other_errors(make_probe: Callable[..., Any]) -> None:
    probe = make_probe(lenient=True)
    assert probe.receive(":CURR:NPLC 50;*IDN?", 0.0) == []
    assert probe.engine.status.error_queue.pop()[0] == -222


def test_mode_can_be_switched_at_run_time(probe: Any, errors: Errors) -> None:
    probe.receive(":BOGUS", 0.0)
    probe.engine.lenient = True
    probe.receive(":BOGUS", 0.0)
    probe.engine.lenient = False
    probe.receive(":BOGUS", 0.0)
    assert errors() == [-113, -113]


def test_same_message_twice_behaves_the_same(probe: Any, errors: Errors) -> None:
    for _ in range(3):
        assert probe.receive(":CURR:NPLC 50;*IDN?", 0.0) == []
    assert errors() == [-222, -222, -222]


def test_no_reply_ends_the_message_silently(probe: Any, ask: Ask, errors: Errors) -> None:
    """§7.3 ``no_reply``: no reply for the unit, no error, the rest of the message dropped."""
    assert ask(":TEST:SIL?") is None
    assert ask(":TEST:SIL?;:SYST:ZCH OFF;*IDN?") is None
    assert probe.zero_check is True
    assert errors() == []
    assert probe.engine.status.read_event_status() == 128  # PON only: no error bit


def test_no_reply_keeps_the_results_before_it(ask: Ask) -> None:
    assert ask("*STB?;:TEST:SIL?;*IDN?") == "0"
    assert ask("*IDN?") == IDN


def test_before_unit_runs_before_every_handler_at_the_unit_time(probe: Any) -> None:
    probe.receive(":SENS:CURR:NPLC 2;NPLC?;*IDN?", 3.0)
    assert probe.units_started == [(":SENS:CURR:NPLC 2", 3.0), ("NPLC?", 3.0),
                                   ("*IDN?", 3.0 + 0.001)]


def test_before_unit_runs_again_when_a_blocked_unit_is_retried(probe: Any) -> None:
    probe.receive(":TRIG:SOUR MAN;:INIT;:FETC?", 0.0)
    probe.units_started.clear()
    probe.manual_trigger(2.0)
    probe.poll(2.0)
    assert probe.units_started == [(":FETC?", 2.0)]


def test_limit_queries_do_not_call_handlers(probe: Any) -> None:
    probe.receive(":SENS:CURR:NPLC? MAX", 0.0)
    assert probe.units_started == []


def test_handlers_see_the_parameters_as_received(ask: Ask) -> None:
    assert ask(":TEST:TOK? MAX, 'a b',(1:2)") == "word=MAX string=a b list=(1:2)"
    assert ask(":TEST:TOK? -1e3") == "number=-1e3"
    assert ask(":TEST:TOK?") == ""


@pytest.mark.parametrize(("value", "was_word"), [("MAX", True), ("21e-3", False)])
def test_handlers_tell_a_limit_word_from_the_same_number(
    probe: Any, value: str, was_word: bool
) -> None:
    probe.receive(f":SENS:CURR:RANG {value}", 0.0)
    assert probe.range == 21e-3
    assert probe.range_was_word is was_word
