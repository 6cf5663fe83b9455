"""The observatory controller's exact lines (spec §9.4), in strict and lenient mode."""

from __future__ import annotations

import re

import pytest

from devices.keithley import MockKeithley

NOW = 10.0


class Session:
    """Sends lines like the controller: one message per line, error loop drains."""

    def __init__(self, mode: str, model: str = "6517B") -> None:
        self.device = MockKeithley(model, speed=0, output_terminator="CR", mode=mode)
        self.errors: list[str] = []

    def send(self, text: str) -> list[str]:
        replies: list[str] = []
        for message in text.split("\n"):
            replies += [reply.text for reply in self.device.receive(message, NOW)]
        return replies

    def query(self, text: str) -> str:
        replies = self.send(text)
        assert len(replies) == 1, f"{text!r} gave {replies!r}"
        return replies[0]

    def error_loop(self) -> list[str]:
        drained = []
        for _ in range(20):
            reply = self.query(":syst:err?;")
            parts = reply.split(",")
            assert len(parts) == 2
            code = int(parts[0])
            if code == 0:
                return drained
            drained.append(reply)
        raise AssertionError("error queue never drained")

    def connect(self, function: str = "CURR") -> None:
        assert "KEITHLEY" in self.query("*idn?;")
        assert self.send("*RST; :trac:cle;") == []
        assert self.send("*CLS;") == []
        self.zero_correction(function, manual_range="2e-08")
        lower = function.lower()
        assert self.send(f":sens:{function}:aper:auto ON;") == []
        assert self.send(f":sens:{lower}:nplc 0.1;") == []
        assert float(self.query(f":sens:{lower}:nplc?;")) == 0.1
        assert self.query(f":sens:{function}:aper?;") == "1.666667E-03"
        assert self.send(f":sens:{function}:AVER:stat 0;") == []
        assert self.send(f":sens:{function}:MED:stat 1;") == []
        assert self.query(f":sens:{function}:AVER:stat?;") == "0"
        assert self.query(f":sens:{function}:MED:stat?;") == "1"

    def zero_correction(self, function: str, manual_range: str | None) -> None:
        if manual_range is None:
            line = (f":syst:zch ON; :sens:func '{function}'; :sens:{function}:rang:auto ON; "
                    ":syst:zch OFF; ")
        else:
            line = (f":syst:zch ON; :sens:func '{function}'; :sens:{function}:rang:auto OFF;\n"
                    f":sens:{function}:rang {manual_range}; :syst:zch OFF; ")
        assert self.send(line) == []
        self.errors += self.error_loop()
        func = self.query(":sens:func?;").strip('"')
        assert func.split(":")[0] == function
        float(self.query(f":sens:{function}:rang?;"))


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_connect_sequence_is_error_free_and_answers_every_query(mode: str) -> None:
    """§9.4 connect: every query gets exactly one line; the error loop ends at 0."""
    session = Session(mode)
    session.connect()
    assert session.errors == []
    assert session.error_loop() == []


def test_zero_correction_block_sets_manual_range_and_reads_it_back() -> None:
    """§9.4: embedded LF splits the block; the range reads back as full scale (F14)."""
    session = Session("strict")
    session.connect()
    assert session.query(":sens:func?;") == '"CURR:DC"'
    assert session.query(":sens:CURR:rang?;") == "2.100000E-08"
    assert session.query(":sens:CURR:rang:auto?") == "0"
    assert session.query(":syst:zch?") == "0"


def test_range_reads_back_exactly_with_as_set() -> None:
    """§4.3 range_readback=as_set: float(reply) equals the value set."""
    session = Session("strict")
    session.device = MockKeithley("6517B", speed=0, range_readback="as_set")
    session.connect()
    assert float(session.query(":sens:CURR:rang?;")) == 2e-08


def test_auto_range_zero_correction_block() -> None:
    """§9.4 zero-correction block, auto range."""
    session = Session("strict")
    session.send("*RST; :trac:cle;")
    session.zero_correction("CURR", None)
    assert session.errors == []
    assert session.query(":sens:CURR:rang:auto?;") == "1"


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_voltage_source_replies_parse_as_int(mode: str) -> None:
    """§9.4 setVoltageSource: plain integers where integral, state for lim:stat?."""
    session = Session(mode)
    session.connect()
    assert session.send(":vsou:oper ON;") == []
    assert session.query(":vsou:oper?;") == "1"
    assert session.send(":sour:volt:lim:ampl 20.0;") == []
    assert int(session.query(":sour:volt:lim:stat?;")) == 0
    assert session.send(":sour:volt:rang 1.0;") == []
    assert int(session.query(":sour:volt:rang?;")) == 100
    assert session.send(":sour:volt:lev:imm:ampl 2.0;") == []
    assert int(session.query(":sour:volt:lev:imm:ampl?;")) == 2
    assert session.error_loop() == []


def test_voltage_source_alias_off_is_undefined_and_silent() -> None:
    """§9.4/F17: with vsource_alias off, :vsou:oper? is -113 and gets no reply."""
    session = Session("strict")
    session.device = MockKeithley("6517B", speed=0, vsource_alias=False)
    assert session.send(":vsou:oper?;") == []
    assert session.error_loop() == ['-113,"Undefined header"']


def test_scan_preparation_strict_queues_exactly_the_documented_errors() -> None:
    """§9.4 strict: TOUT is -113 (second unit discarded); TRAC:ELEM with CURR is -141."""
    session = Session("strict")
    session.connect()
    assert session.send(":sens:CURR:dig 7;") == []
    assert session.send(":syst:lsyn:stat OFF;") == []
    assert session.send(":SENS:TOUT:SIGN 3;:SENS:TOUT:STAT ON;") == []
    assert session.send(":trac:cle;") == []
    assert session.send(":trac:elem TST, ETEM, VSO, CURR;") == []
    assert session.error_loop() == ['-113,"Undefined header"', '-141,"Invalid character data"']
    assert session.query(":trac:elem?;") == "NONE"


def test_scan_preparation_lenient_ignores_unknown_headers_and_logs_them() -> None:
    """§9.1/§9.4 lenient: unknown headers are no-ops, logged; -141 stays an error."""
    session = Session("lenient")
    session.connect()
    assert session.send(":SENS:TOUT:SIGN 3;:SENS:TOUT:STAT ON;") == []
    assert session.send(":trac:elem TST, CURR;") == []
    assert session.error_loop() == ['-141,"Invalid character data"']
    unknown = session.device.snapshot()["unknown_headers"]
    assert unknown == [":SENS:TOUT:SIGN 3", ":SENS:TOUT:STAT ON"]


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_start_scan_polls_fresh_readings_then_dumps_what_was_acquired(mode: str) -> None:
    """§9.4 startScan/stopScan at speed 0: one reading per message, divisible dump."""
    session = Session(mode)
    session.connect()
    session.send(":trac:cle;")
    session.send(":trac:elem TST, CURR;")
    session.send(":trac:cle;")
    session.send(":trac:cle;:trac:points 50000;:trig:count 50000;")
    session.send(":trig:sour TIM;")
    session.send(":trig:coun INF;")
    session.send(":disp:enab OFF;")
    session.send(":trac:feed:cont NEXT;")
    session.send(":trac:feed:cont NEXT;:init;")
    latest = [session.query(":sens:data:latest?;") for _ in range(5)]
    numbers = [int(re.search(r"([+-]\d{5})RDNG#", text).group(1)) for text in latest]  # type: ignore[union-attr]
    assert numbers == sorted(set(numbers))
    session.send(":trac:feed:cont NEV;")
    session.send(":disp:enab ON;")
    session.send(":syst:zch ON;")
    dump = session.query(":trac:data?;")
    assert "\r" not in dump and "\n" not in dump
    tokens = re.findall(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", dump)
    elements = [item for item in session.query(":trac:elem?;").split(",")
                if item not in ("STAT", "UNIT")]
    assert elements == ["NONE"]
    assert len(tokens) % len(elements) == 0
    assert not re.search(r"\d,\d{3}(?!\d)", dump)
    groups = dump.split(",")
    assert len(groups) % 3 == 0 and len(groups) // 3 >= 5
    assert session.error_loop() == (["-141,\"Invalid character data\""])


def test_integration_time_auto_is_accepted() -> None:
    """§9.4 setIntegrationTime: :sens:<U>:nplc:auto ON is a valid 6517B command."""
    session = Session("strict")
    session.connect()
    assert session.send(":sens:CURR:nplc:auto ON;") == []
    assert session.error_loop() == []
    assert session.query(":sens:CURR:nplc:auto?") == "1"


def test_range_above_limits_is_rejected_and_range_unchanged() -> None:
    """§9.4: 0.1 A on a 6517B is -222 and the previous range reads back."""
    session = Session("strict")
    session.connect()
    assert session.send(":sens:CURR:rang 0.1;") == []
    assert session.error_loop() == ['-222,"Parameter data out of range"']
    assert session.query(":sens:CURR:rang?;") == "2.100000E-08"


def test_charge_scan_lines_are_accepted() -> None:
    """§9.4 startScan CHAR: adis off and SYST:ZCH OFF without ';'."""
    session = Session("strict")
    session.send("*RST; :trac:cle;")
    session.zero_correction("CHAR", manual_range="2e-08")
    assert session.send("sens:char:adis:stat OFF;") == []
    assert session.send("SYST:ZCH OFF") == []
    assert session.errors == []
    assert session.error_loop() == []
    assert session.query(":sens:char:rang?;") == "2.100000E-08"


def test_latest_with_default_elements_ends_in_non_numeric_field() -> None:
    """§9.4: default elements end with RDNG#; before any reading +9.9E37 O (F21)."""
    session = Session("strict")
    session.connect()
    text = session.query(":sens:data:latest?;")
    fields = text.split(",")
    assert len(fields) == 3
    assert fields[-1].endswith("RDNG#")
    assert re.fullmatch(r"[+-][\d.]+E[+-]?\d+[A-Z]{4}", fields[0])


def test_6514_persona_rejects_6517b_only_commands_without_reply() -> None:
    """§9.4 6514 persona: :vsou, :sour:volt, :trac:elem, :syst:lsyn, aper are -113."""
    session = Session("strict", model="6514")
    for line in (":vsou:oper?;", ":sour:volt:rang?;", ":trac:elem?;", ":sens:CURR:aper?;"):
        assert session.send(line) == []
    session.send(":syst:lsyn:stat OFF;")
    assert session.error_loop() == ['-113,"Undefined header"'] * 5
