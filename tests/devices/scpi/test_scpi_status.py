"""STATus subsystem registers and their effect on the status byte (spec §2.4, §2.6, §2.7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devices.scpi import RegisterSpec, StatusLayout, StatusModel, StatusRegister

Ask = Callable[[str], str | None]
Errors = Callable[[], list[int]]

BFL = 512


def test_power_on_register_values() -> None:
    register = StatusRegister("measurement")
    assert (register.condition, register.event, register.enable) == (0, 0, 0)
    assert (register.ptr, register.ntr) == (32767, 0)


def test_positive_transition_latches_the_event() -> None:
    register = StatusRegister("measurement")
    register.set_bits(BFL)
    assert register.event == BFL
    register.clear_bits(BFL)
    assert register.event == BFL
    assert register.condition == 0


def test_negative_transition_latches_only_with_ntr() -> None:
    register = StatusRegister("measurement")
    register.ptr = 0
    register.ntr = 2
    register.set_bits(2)
    assert register.event == 0
    register.clear_bits(2)
    assert register.event == 2


def test_unchanged_condition_latches_nothing() -> None:
    register = StatusRegister("measurement")
    register.set_bits(4)
    register.read_event()
    register.set_bits(4)
    assert register.event == 0


def test_latch_sets_event_without_condition() -> None:
    register = StatusRegister("measurement")
    register.latch(BFL)
    assert (register.condition, register.event) == (0, BFL)


def test_event_query_returns_and_clears(ask: Ask) -> None:
    ask(":TEST:COND 512")
    assert ask(":STAT:MEAS?") == "512"
    assert ask(":STAT:MEAS:EVEN?") == "0"
    assert ask(":STAT:MEAS:COND?") == "512"
    assert ask(":STAT:MEAS:COND?") == "512"


@pytest.mark.parametrize("which", ["ENAB", "PTR", "NTR"])
def test_register_enable_and_filters_read_back(ask: Ask, errors: Errors, which: str) -> None:
    ask(f":STAT:MEAS:{which} 1234")
    assert ask(f":STAT:MEAS:{which}?") == "1234"
    ask(f":STAT:MEAS:{which} 65535")
    assert ask(f":STAT:MEAS:{which}?") == "32767"
    ask(f":STAT:MEAS:{which} 65536")
    assert errors() == [-222]


def test_filters_act_through_commands(ask: Ask) -> None:
    ask(":STAT:MEAS:PTR 0;NTR 4")
    ask(":TEST:COND 4")
    assert ask(":STAT:MEAS?") == "0"
    ask(":TEST:COND 0")
    assert ask(":STAT:MEAS?") == "4"


def test_summary_bits_in_the_status_byte(ask: Ask) -> None:
    ask(":TEST:COND 1")
    assert ask("*STB?") == "0"
    ask(":STAT:MEAS:ENAB 1")
    assert ask("*STB?") == "1"


def test_operation_and_questionable_summary_bits(probe: Any, ask: Ask) -> None:
    status = probe.engine.status
    status.register("operation").set_bits(1024)
    status.register("questionable").set_bits(1)
    ask(":STAT:OPER:ENAB 1024;:STAT:QUES:ENAB 1")
    assert ask("*STB?") == str(128 + 8)


def test_child_register_summary_drives_the_parent_bit(probe: Any, ask: Ask) -> None:
    arm = probe.engine.status.register("arm")
    ask(":STAT:OPER:ENAB 64;:STAT:OPER:ARM:ENAB 2")
    arm.set_bits(2)
    assert ask(":STAT:OPER:COND?") == "64"
    assert ask("*STB?") == "128"
    assert ask(":STAT:OPER:ARM?") == "2"
    assert ask(":STAT:OPER:COND?") == "0"


def test_buffer_full_service_request_sequence(probe: Any, ask: Ask) -> None:
    assert ask(":STAT:PRES;*CLS;*SRE 1;:STAT:MEAS:ENAB 512;") is None
    assert ask("*STB?") == "0"
    probe.engine.status.register("measurement").set_bits(BFL)
    assert ask("*STB?") == "65"
    ask(":BOGUS")
    assert ask("*STB?") == "69"
    ask("*CLS")
    assert ask("*STB?") == "0"


@pytest.mark.parametrize("release", [":STAT:MEAS?", ":STAT:PRES", ":STAT:MEAS:ENAB 0", "*CLS"])
def test_buffer_full_bit_stays_until_cleared_or_disabled(probe: Any, ask: Ask,
                                                         release: str) -> None:
    ask(":STAT:PRES;*CLS;*SRE 1;:STAT:MEAS:ENAB 512")
    probe.engine.status.register("measurement").set_bits(BFL)
    probe.engine.status.register("measurement").clear_bits(BFL)
    assert ask("*STB?") == "65"
    ask(release)
    assert ask("*STB?") == "0"


def test_status_preset_restores_enables_and_filters_but_keeps_events_and_errors(
    probe: Any, ask: Ask, errors: Errors
) -> None:
    ask(":STAT:MEAS:ENAB 7;PTR 0;NTR 5;:STAT:QUE:ENAB (-200:-100)")
    probe.engine.status.register("measurement").latch(8)
    ask(":BOGUS")
    ask(":STAT:PRES")
    assert ask(":STAT:MEAS:ENAB?;PTR?;NTR?") == "0;32767;0"
    assert ask(":STAT:QUE:ENAB?") == "(-32768:32767)"
    assert ask(":STAT:MEAS?") == "8"
    assert errors() == [-113]


def test_status_queue_next_reads_the_error_queue(ask: Ask) -> None:
    ask(":BOGUS")
    assert ask(":STAT:QUE?") == '-113,"Undefined header"'
    assert ask(":STAT:QUE:NEXT?") == '0,"No error"'


def test_status_queue_clear(ask: Ask, errors: Errors) -> None:
    ask(":BOGUS")
    ask(":STAT:QUE:CLE")
    assert errors() == []


def test_queue_enable_selects_admitted_codes(ask: Ask, errors: Errors) -> None:
    ask(":STAT:QUE:ENAB (-199:-100)")
    assert ask(":STAT:QUE:ENAB?") == "(-199:-100)"
    ask(":TEST:FAIL -221")
    ask(":BOGUS")
    assert errors() == [-113]


def test_disabled_code_still_sets_its_esr_bit(ask: Ask, errors: Errors) -> None:
    ask("*ESR?")
    ask(":STAT:QUE:DIS (-113)")
    assert ask(":STAT:QUE:DIS?") == "(-113)"
    ask(":BOGUS")
    assert errors() == []
    assert ask("*ESR?") == "32"


def test_register_format_hook_changes_register_replies(probe: Any, ask: Ask) -> None:
    probe.engine.status.register_format = lambda value: f"#H{value:X}"
    ask(":STAT:MEAS:ENAB 31")
    assert ask(":STAT:MEAS:ENAB?") == "#H1F"


def test_unknown_register_name_explains_the_layout() -> None:
    status = StatusModel(StatusLayout())
    with pytest.raises(KeyError, match="operation, questionable"):
        status.register("measurement")


def test_layout_rejects_duplicates_and_unknown_parents() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        StatusLayout((RegisterSpec("a", ":STAT:A"), RegisterSpec("a", ":STAT:B")))
    with pytest.raises(ValueError, match="unknown parent"):
        StatusLayout((RegisterSpec("a", ":STAT:A", parent="b", parent_bit=1),))


def test_power_on_clears_everything_and_sets_pon(probe: Any, ask: Ask, errors: Errors) -> None:
    ask(":STAT:MEAS:ENAB 5;*ESE 4;*SRE 4;:BOGUS")
    probe.engine.power_on()
    assert errors() == []
    assert ask(":STAT:MEAS:ENAB?;*ESE?;*SRE?;*ESR?") == "0;0;0;128"
