"""Export to pymeasure's expected_protocol pairs and to a pyvisa-sim definition."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.recording import export_pymeasure, export_pyvisa_sim, read_cassette
from harness.recording.export import comm_pairs

SESSIONS = Path(__file__).resolve().parents[3] / "fixtures" / "sessions"
PYMEASURE = SESSIONS / "pymeasure_6517b.jsonl"


def test_pymeasure_pairs_drive_the_real_driver() -> None:
    from pymeasure.instruments.keithley import Keithley6517B  # type: ignore[import-untyped]
    from pymeasure.test import expected_protocol  # type: ignore[import-untyped]

    pairs = ast.literal_eval(export_pymeasure(PYMEASURE))
    with expected_protocol(Keithley6517B, pairs) as meter:
        assert meter.id.startswith("KEITHLEY INSTRUMENTS INC.,MODEL 6517B")
        meter.reset()
        meter.measure_current(nplc=0.1, current=2e-9, auto_range=False)
        assert meter.current_range == 2.1e-09
        assert meter.current_nplc == 0.1
        meter.write(":SYST:ZCH OFF")
        assert meter.current == 1.0017e-12
        meter.source_voltage = 10
        assert meter.source_voltage == 10
        meter.enable_source()
        assert meter.source_enabled is True
        meter.disable_source()
        meter.config_buffer(points=3)
        meter.write(":TRIG:COUN 3")
        meter.write(":FORM:ELEM READ")
        meter.start_buffer()
        assert meter.is_buffer_full()
        assert meter.buffer_points == 3
        assert len(meter.buffer_data) == 3
        meter.reset_buffer()
        meter.disable_buffer()


def test_pymeasure_pairs_are_plain_literals_without_terminators() -> None:
    text = export_pymeasure(PYMEASURE)
    pairs = ast.literal_eval(text)
    assert pairs[0] == ("*IDN?", "KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x ")
    assert ("*RST;:stat:pres;:*CLS;", None) in pairs
    assert not any("\n" in (command or "") + (reply or "") for command, reply in pairs)
    assert text.count("\n") == len(pairs) + 2


def test_several_reply_lines_become_extra_read_pairs(
        write_cassette: Callable[..., Path]) -> None:
    path = write_cassette([("*IDN?", ["A", "B"]), ("*RST", [])])
    assert comm_pairs(path) == [("*IDN?", "A"), (None, "B"), ("*RST", None)]


def parse_yaml_subset(text: str) -> dict[str, Any]:
    """The exporter's YAML: block mappings and lists whose scalars are JSON strings."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, Any]] = [(-1, root)]
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip())
        line = raw.strip()
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if line.startswith("- "):
            item: dict[str, Any] = {}
            parent.append(item)
            stack.append((indent, item))
            parent, line, indent = item, line[2:], indent + 2
        match = re.fullmatch(r'("(?:[^"\\]|\\.)*"|[a-z]+):(?: (.*))?', line)
        assert match is not None, f"unexpected YAML line {raw!r}"
        key = json.loads(match[1]) if match[1].startswith('"') else match[1]
        if match[2] is None:
            child: Any = [] if key == "dialogues" else {}
            parent[key] = child
            stack.append((indent, child))
        else:
            parent[key] = json.loads(match[2])
    return root


def test_pyvisa_sim_definition_holds_the_dialogues() -> None:
    observatory = SESSIONS / "observatory_6517b.jsonl"
    text = export_pyvisa_sim(observatory)
    document = parse_yaml_subset(text)
    assert document["spec"] == "1.1"
    device = document["devices"]["keithley6517b"]
    assert device["eom"]["TCPIP SOCKET"] == {"q": "\r", "r": "\r"}
    dialogues = {d["q"]: d["r"] for d in device["dialogues"]}
    assert dialogues["*idn?;"] == read_cassette(observatory).header.device.idn
    assert dialogues[":sens:CURR:aper?;"] == "1.666667E-03"
    assert dialogues["*CLS;"] == ""
    # The error loop read three different replies: the first is kept, the change noted.
    assert dialogues[":syst:err?;"] == '0,"No error"'
    assert "messages had other replies too" in text
    assert document["resources"]["ASRL1::INSTR"] == {"device": "keithley6517b"}


def test_pyvisa_sim_scalars_survive_quotes_and_control_characters(
        write_cassette: Callable[..., Path]) -> None:
    path = write_cassette([(":DISP:TEXT 'a\"b'", []), ("SYST:ERR?", ['-113,"Undefined\theader"'])])
    dialogues = parse_yaml_subset(export_pyvisa_sim(path))["devices"]["keithley6517b"][
        "dialogues"]
    assert dialogues == [{"q": ":DISP:TEXT 'a\"b'", "r": ""},
                         {"q": "SYST:ERR?", "r": '-113,"Undefined\theader"'}]
