"""IEEE-488.2 common commands, status byte and standard event register (spec §2.1-§2.5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devices.scpi import Command, CommandTable, ScpiInstrument

Ask = Callable[[str], str | None]
Errors = Callable[[], list[int]]

PON, CME, EXE, DDE, OPC = 128, 32, 16, 8, 1


def test_idn_returns_the_identity_verbatim(ask: Ask) -> None:
    assert ask("*IDN?") == "ACME INSTRUMENTS,MODEL 1,123,A01 "


def test_power_on_sets_pon_and_esr_query_clears_it(ask: Ask) -> None:
    assert ask("*ESR?") == str(PON)
    assert ask("*ESR?") == "0"


def test_each_error_class_sets_its_esr_bit(ask: Ask) -> None:
    ask("*ESR?")
    ask(":BOGUS")
    assert ask("*ESR?") == str(CME)
    ask(":TEST:FAIL -221")
    assert ask("*ESR?") == str(EXE)
    ask(":TEST:FAIL -350")
    assert ask("*ESR?") == str(DDE)
    ask(":TEST:FAIL 313")
    assert ask("*ESR?") == str(DDE)


def test_rst_restores_defaults_but_keeps_errors_and_status(probe: Any, ask: Ask,
                                                           errors: Errors) -> None:
    ask(":CURR:NPLC 5;*ESE 4;*SRE 8;:STAT:MEAS:ENAB 512;:BOGUS")
    ask("*RST")
    assert probe.nplc == 1.0
    assert ask("*ESE?;*SRE?;:STAT:MEAS:ENAB?") == "4;8;512"
    assert errors() == [-113]


def test_cls_clears_queue_esr_and_event_registers_not_enables(probe: Any, ask: Ask,
                                                              errors: Errors) -> None:
    ask("*ESE 32;:STAT:MEAS:ENAB 2;:STAT:MEAS:PTR 2;:TEST:COND 2;:BOGUS")
    ask("*CLS")
    assert errors() == []
    assert ask("*ESR?;:STAT:MEAS?;:STAT:MEAS:ENAB?;:STAT:MEAS:PTR?;*ESE?") == "0;0;2;2;32"
    assert ask(":STAT:MEAS:COND?") == "2"


@pytest.mark.parametrize(("command", "query"), [("*ESE", "*ESE?"), ("*SRE", "*SRE?")])
def test_enable_registers_accept_0_to_255(ask: Ask, errors: Errors, command: str,
                                          query: str) -> None:
    ask(f"{command} 0")
    ask(f"{command} 255")
    assert errors() == []
    ask(f"{command} 256")
    ask(f"{command} -1")
    assert errors() == [-222, -222]


def test_sre_ignores_bit_6(ask: Ask) -> None:
    ask("*SRE 255")
    assert ask("*SRE?") == "191"


def test_status_byte_eav_and_mss(ask: Ask) -> None:
    ask(":BOGUS")
    assert ask("*STB?") == "4"
    ask("*SRE 4")
    assert ask("*STB?") == "68"
    assert ask("*STB?") == "68"


def test_status_byte_esb_follows_ese(ask: Ask) -> None:
    ask("*CLS;*ESE 32")
    assert ask("*STB?") == "0"
    ask(":BOGUS")
    ask(":SYST:CLE")
    assert ask("*STB?") == "32"
    ask("*ESR?")
    assert ask("*STB?") == "0"


def test_status_byte_mav_for_earlier_result_in_the_message(ask: Ask) -> None:
    assert ask("*STB?") == "0"
    assert ask("*IDN?;*STB?").endswith(";16")


def test_opc_sets_bit_0_at_once_when_nothing_is_pending(ask: Ask) -> None:
    ask("*ESR?")
    ask("*OPC")
    assert ask("*ESR?") == str(OPC)


def test_opc_sets_bit_0_when_the_operation_ends(probe: Any) -> None:
    probe.receive("*ESR?", 0.0)
    probe.receive(":INIT;*OPC", 0.0)
    assert probe.receive("*ESR?", 0.5)[0].text == "0"
    assert probe.receive("*ESR?", 1.5)[0].text == str(OPC)


def test_opc_waiting_for_unpredictable_event_is_settled_by_poll(probe: Any) -> None:
    probe.receive("*ESR?", 0.0)
    probe.receive(":TRIG:SOUR MAN;:INIT;*OPC", 0.0)
    probe.poll(1.0)
    assert probe.receive("*ESR?", 1.0)[0].text == "0"
    probe.manual_trigger(2.0)
    probe.poll(3.5)
    assert probe.receive("*ESR?", 3.5)[0].text == str(OPC)


@pytest.mark.parametrize("canceller", ["*RST", "*CLS", "*RCL 0"])
def test_rst_cls_and_rcl_cancel_a_pending_opc(probe: Any, canceller: str) -> None:
    probe.receive(":INIT;*OPC", 0.0)
    probe.receive(canceller, 0.2)
    probe.receive("*ESR?", 0.3)
    assert probe.receive("*ESR?", 5.0)[0].text == "0"


def test_opc_query_answers_1(ask: Ask) -> None:
    assert ask("*OPC?") == "1"


def test_trg_without_a_bus_wait_is_minus_211(probe: Any, ask: Ask, errors: Errors) -> None:
    ask("*TRG")
    assert errors() == [-211]
    ask(":TRIG:SOUR BUS;*TRG")
    assert errors() == []
    assert probe.bus_triggers == 1


def test_tst_passes(ask: Ask) -> None:
    assert ask("*TST?") == "0"


def test_sav_and_rcl(probe: Any, ask: Ask, errors: Errors) -> None:
    ask(":CURR:NPLC 3;*SAV 9;:CURR:NPLC 5;*RCL 9")
    assert probe.nplc == 3.0
    ask("*SAV 10")
    ask("*RCL -1")
    assert errors() == [-222, -222]


def test_opt_query_when_defined(ask: Ask) -> None:
    assert ask("*OPT?") == "0"


class Bare(ScpiInstrument):
    pass


BARE = CommandTable([Command(":VALue?", on_query=lambda target, call: "42")])


def test_sav_rcl_and_opt_are_undefined_unless_declared() -> None:
    bare = Bare(BARE)
    for message in ("*SAV 0", "*RCL 0", "*OPT?"):
        assert bare.receive(message, 0.0) == []
        assert bare.engine.status.error_queue.pop()[0] == -113


def test_default_hooks_answer_sensibly() -> None:
    bare = Bare(BARE)
    replies = bare.receive("*IDN?;*TST?;*OPC?;:VAL?", 0.0)
    assert [reply.text for reply in replies] == ["HIL,SCPI INSTRUMENT,0,0;0;1;42"]
    bare.receive("*TRG", 0.0)
    assert bare.engine.status.error_queue.pop()[0] == -211


def test_instrument_command_replaces_a_builtin() -> None:
    table = CommandTable([Command("*TST?", on_query=lambda target, call: "1"),
                          Command(":SYSTem:ERRor?", on_query=lambda target, call: "mine")])
    bare = Bare(table)
    replies = bare.receive("*TST?;:SYST:ERR?;:SYST:ERR:NEXT?", 0.0)
    assert [reply.text for reply in replies] == ['1;mine;0,"No error"']


def test_table_without_standard_commands() -> None:
    bare = Bare(CommandTable([Command(":VALue?", on_query=lambda target, call: "42")],
                             standard=False))
    assert bare.receive("*IDN?", 0.0) == []
    assert bare.receive(":VAL?", 0.0)[0].text == "42"
