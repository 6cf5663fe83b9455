"""``hil serve --record``, ``hil replay``, ``hil verify`` and ``hil export`` as real processes."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.recording import build_session, read_cassette

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Completed, HilFactory, LineClient

    Connect = Callable[..., LineClient]
    Run = Callable[..., Completed]

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "sessions" / "pymeasure_6517b.jsonl"
IDN = b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x \n"


def converse(client: LineClient) -> list[bytes]:
    """A short conversation: a query, a command without reply, an error-queue query."""
    replies = [client.query(b"*IDN?\n")]
    client.sock.sendall(b":SENS:FUNC 'CURR'\n")
    replies.append(client.query(b":SYST:ERR?\n"))
    replies.append(client.query(b":SENS:FUNC?\n"))
    return replies


def test_serve_record_writes_one_cassette_that_replays_byte_for_byte(
        hil: HilFactory, connect: Connect, tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    serve = hil("serve", "--speed", "0", "--json", "--record", str(cassettes))
    device = serve.ready()["devices"][0]
    client = connect(device["host"], device["port"])
    recorded = converse(client)
    client.close()
    assert serve.interrupt() == 0, serve.stderr()
    files = sorted(cassettes.iterdir())
    assert [f.suffix for f in files] == [".jsonl"], files
    cassette = read_cassette(files[0])
    assert cassette.finished
    requests = [e.request for e in build_session(cassette).exchanges]
    assert requests == ["*IDN?", ":SENS:FUNC 'CURR'", ":SYST:ERR?", ":SENS:FUNC?"]

    replay = hil("replay", str(files[0]), "--json")
    ready = replay.ready()
    assert ready["exchanges"] == 4
    replayed = converse(connect(ready["host"], ready["port"]))
    assert replayed == recorded
    assert replay.interrupt() == 0, replay.stderr()
    done = json.loads(replay.stdout_rest())
    assert done["problems"] == [] and done["played"] == 4


def test_replay_of_fixture_answers_the_recorded_conversation(
        hil: HilFactory, connect: Connect) -> None:
    exchanges = build_session(read_cassette(FIXTURE)).exchanges
    replay = hil("replay", str(FIXTURE), "--json")
    ready = replay.ready()
    client = connect(ready["host"], ready["port"])
    for exchange in exchanges:
        client.sock.sendall(exchange.request.encode() + b"\n")
        for reply in exchange.replies:
            assert client.read_line() == reply.text.encode("latin-1") + b"\n"
    client.close()
    assert replay.interrupt() == 0, replay.stderr()
    assert json.loads(replay.stdout_rest())["played"] == len(exchanges)


def test_replay_reports_a_mismatching_client_and_exits_1(
        hil: HilFactory, connect: Connect) -> None:
    replay = hil("replay", str(FIXTURE))
    line = replay.read_line()
    host, _, port = line.split(" on ")[1].split(";")[0].rpartition(":")
    client = connect(host, int(port))
    client.sock.sendall(b"WRONG?\n")
    # Messages are handled in order: this reply proves WRONG? was handled.
    assert client.query(b"*IDN?\n") == IDN
    client.close()
    assert replay.interrupt() == 1
    report = replay.stdout_rest()
    assert "exchange 0 (line" in report and "'WRONG?'" in report
    assert "were never played" in report


def test_verify_agrees_with_fixture_and_flags_a_tampered_copy(
        hil_run: Run, tmp_path: Path) -> None:
    result = hil_run("verify", str(FIXTURE), "--device", "keithley6517b")
    assert result.code == 0, result.stderr
    assert "agrees on all 28 exchanges" in result.stdout

    tampered = tmp_path / "tampered.jsonl"
    lines = FIXTURE.read_text().splitlines(keepends=True)
    tampered.write_text("".join(
        line.replace("MODEL 6517B", "MODEL 6517X") if '"dir":"tx"' in line else line
        for line in lines))
    result = hil_run("verify", str(tampered), "--device", "keithley6517b")
    assert result.code == 1, result.stderr
    assert "differs on 1 of 28 exchanges" in result.stdout
    assert "'*IDN?'" in result.stdout and "6517X" in result.stdout


def test_export_writes_both_formats_and_never_overwrites_without_force(
        hil_run: Run, tmp_path: Path) -> None:
    pairs_file = tmp_path / "pairs.py"
    assert hil_run("export", str(FIXTURE), "--to", "pymeasure", "-o", str(pairs_file)).code == 0
    pairs = ast.literal_eval(pairs_file.read_text())
    assert pairs[0] == ("*IDN?", IDN.decode().removesuffix("\n"))
    assert ("*RST;:stat:pres;:*CLS;", None) in pairs

    sim = tmp_path / "sim.yaml"
    assert hil_run("export", str(FIXTURE), "--to", "pyvisa-sim", "-o", str(sim)).code == 0
    text = sim.read_text()
    assert 'spec: "1.1"' in text
    idn = json.dumps(IDN.decode().removesuffix("\n"))
    assert f"- q: {json.dumps('*IDN?')}\n        r: {idn}" in text

    sim.write_text("mine\n")
    refused = hil_run("export", str(FIXTURE), "--to", "pyvisa-sim", "-o", str(sim))
    assert refused.code == 2 and "--force" in refused.stderr
    assert sim.read_text() == "mine\n"
    assert hil_run("export", str(FIXTURE), "--to", "pyvisa-sim", "-o", str(sim),
                   "--force").code == 0
    assert sim.read_text() == text


@pytest.mark.parametrize("command", [("replay",), ("verify",), ("export", "--to", "pymeasure")])
def test_corrupt_cassette_exits_2_naming_file_and_line(
        hil_run: Run, tmp_path: Path, command: tuple[str, ...]) -> None:
    corrupt = tmp_path / "corrupt.jsonl"
    header, *_ = FIXTURE.read_text().splitlines(keepends=True)
    corrupt.write_text(header + '{"t": 0.1, "dir": "rx", "data": \n')
    result = hil_run(command[0], str(corrupt), *command[1:])
    assert result.code == 2
    assert f"{corrupt}:2:" in result.stderr


def test_replay_of_a_missing_file_exits_2(hil_run: Run, tmp_path: Path) -> None:
    result = hil_run("replay", str(tmp_path / "absent.jsonl"))
    assert result.code == 2 and "absent.jsonl" in result.stderr


@pytest.mark.parametrize(("command", "expected"), [
    ("replay", "--lenient"), ("verify", "--device"), ("export", "pyvisa-sim"),
    ("serve", "--record"), ("bridge", "--redact-serial")])
def test_help(hil_run: Run, command: str, expected: str) -> None:
    result = hil_run(command, "--help")
    assert result.code == 0 and expected in result.stdout and "examples:" in result.stdout


def test_bridge_record_writes_a_hardware_cassette(
        hil: HilFactory, connect: Connect, tmp_path: Path) -> None:
    cassettes = tmp_path / "bridge"
    bridge = hil("bridge", "--serial", "loop://", "--json", "--record", str(cassettes))
    device = bridge.ready()["devices"][0]
    client = connect(device["host"], device["port"])
    # loop:// echoes: the "instrument" answers each line with itself.
    assert client.query(b"*IDN?\n") == b"*IDN?\n"
    client.close()
    assert bridge.interrupt() == 0, bridge.stderr()
    (path,) = cassettes.iterdir()
    cassette = read_cassette(path)
    assert cassette.header.source == "hardware"
    (exchange,) = build_session(cassette).exchanges
    assert exchange.request == "*IDN?" and [r.text for r in exchange.replies] == ["*IDN?"]


def test_redact_serial_needs_record(hil_run: Run) -> None:
    result = hil_run("serve", "--redact-serial")
    assert result.code == 2 and "--record" in result.stderr

