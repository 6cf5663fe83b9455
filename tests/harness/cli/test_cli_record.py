"""``hil record`` as a real process in front of a real emulator (``hil serve``)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pymeasure.instruments.keithley import Keithley6517B  # type: ignore[import-untyped]

from harness.cli import main
from harness.recording import build_session, read_cassette

if TYPE_CHECKING:
    from conftest import Completed, HilFactory, HilProcess, LineClient

    Connect = Callable[..., LineClient]
    Run = Callable[..., Completed]

SERIAL = "4114292"
#: Messages of a short session and whether each gets a reply line.
CONVERSATION = ((b"*IDN?\n", True), (b":SENS:FUNC 'CURR'\n", False), (b":SYST:ERR?\n", True),
                (b":SENS:FUNC?\n", True), (b"*RST\n", False), (b":SENS:FUNC?\n", True))


def converse(client: LineClient) -> list[bytes]:
    """Send ``CONVERSATION``; the reply lines, terminators included."""
    replies = []
    for message, answered in CONVERSATION:
        if answered:
            replies.append(client.query(message))
        else:
            client.sock.sendall(message)
    return replies


@pytest.fixture
def emulator(hil: HilFactory) -> tuple[HilProcess, str]:
    """A ``hil serve`` 6517B at speed 0 and its address as ``tcp:HOST:PORT``."""
    serve = hil("serve", "--speed", "0", "--json")
    device = serve.ready()["devices"][0]
    return serve, f"tcp:{device['host']}:{device['port']}"


@pytest.fixture
def recorder(hil: HilFactory, emulator: tuple[HilProcess, str],
             tmp_path: Path) -> Callable[..., tuple[HilProcess, dict[str, Any]]]:
    """Start ``hil record`` in front of ``emulator`` into tmp_path/cassettes; its ready line."""

    def start(*options: str) -> tuple[HilProcess, dict[str, Any]]:
        process = hil("record", emulator[1], "--out", str(tmp_path / "cassettes"), "--json",
                      *options)
        ready = process.ready()
        assert ready["event"] == "ready" and ready["upstream"] == emulator[1]
        return process, ready

    return start


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections (bound, not listening, so not reused)."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield reserved.getsockname()[1]


def next_cassette(process: HilProcess) -> Path:
    """Wait for ``hil record`` to report a finished cassette; its path."""
    event = json.loads(process.read_line())
    assert event["event"] == "cassette", event
    return Path(event["path"])


def stop(process: HilProcess) -> list[Path]:
    """Ctrl-C; the cassettes the final report lists."""
    assert process.interrupt() == 0, process.stderr()
    done = json.loads(process.stdout_rest().splitlines()[-1])
    assert done["event"] == "done"
    return [Path(path) for path in done["cassettes"]]


def test_session_through_record_is_a_hardware_cassette_that_replays_and_verifies(
        recorder: Callable[..., tuple[HilProcess, dict[str, Any]]], hil: HilFactory,
        hil_run: Run, connect: Connect, emulator: tuple[HilProcess, str]) -> None:
    record, ready = recorder("--device", "keithley6517b")
    client = connect(ready["host"], ready["port"])
    replies = converse(client)
    assert replies[0].startswith(b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,")
    # *RST brings back the power-on function, VOLT:DC (spec keithley.md §4.13).
    assert replies[1:] == [b'0,"No error"\n', b'"CURR:DC"\n', b'"VOLT:DC"\n']
    client.close()
    path = next_cassette(record)
    assert stop(record) == [path]

    cassette = read_cassette(path)
    assert cassette.finished and cassette.incomplete_tail is None
    assert cassette.header.source == "hardware"
    assert cassette.header.device.name == "keithley6517b"
    assert cassette.header.device.model == "6517B"
    assert cassette.header.transport == "tcp-forward:" + emulator[1].removeprefix("tcp:")
    assert b"".join(e.data for e in cassette.events if e.kind == "rx") == b"".join(
        message for message, _ in CONVERSATION)
    assert b"".join(e.data for e in cassette.events if e.kind == "tx") == b"".join(replies)

    replay = hil("replay", str(path), "--json")
    replay_ready = replay.ready()
    assert converse(connect(replay_ready["host"], replay_ready["port"])) == replies
    assert replay.interrupt() == 0, replay.stderr()
    done = json.loads(replay.stdout_rest())
    assert done["problems"] == [] and done["played"] == done["exchanges"] == len(CONVERSATION)

    verified = hil_run("verify", str(path))
    assert verified.code == 0, verified.stdout + verified.stderr
    assert "keithley6517b agrees on all" in verified.stdout


def test_each_connection_becomes_its_own_cassette(
        recorder: Callable[..., tuple[HilProcess, dict[str, Any]]], connect: Connect) -> None:
    record, ready = recorder()
    first = connect(ready["host"], ready["port"])
    assert first.query(b":SENS:FUNC?\n") == b'"VOLT:DC"\n'
    first.close()
    first_path = next_cassette(record)
    second = connect(ready["host"], ready["port"])
    assert second.query(b"*IDN?\n").startswith(b"KEITHLEY")
    second.close()
    second_path = next_cassette(record)
    assert stop(record) == [first_path, second_path]
    requests = [[exchange.request for exchange in build_session(read_cassette(path)).exchanges]
                for path in (first_path, second_path)]
    assert requests == [[":SENS:FUNC?"], ["*IDN?"]]


def test_connection_open_at_shutdown_is_recorded_completely(
        recorder: Callable[..., tuple[HilProcess, dict[str, Any]]], connect: Connect) -> None:
    record, ready = recorder()
    client = connect(ready["host"], ready["port"])
    assert client.query(b":SENS:FUNC?\n") == b'"VOLT:DC"\n'
    [path] = stop(record)
    assert client.read_to_end() == b""
    cassette = read_cassette(path)
    assert cassette.finished
    assert [e.request for e in build_session(cassette).exchanges] == [":SENS:FUNC?"]


def test_instrument_going_away_finishes_the_cassette_and_recording_goes_on(
        recorder: Callable[..., tuple[HilProcess, dict[str, Any]]], connect: Connect,
        emulator: tuple[HilProcess, str]) -> None:
    record, ready = recorder()
    client = connect(ready["host"], ready["port"])
    assert client.query(b":SENS:FUNC?\n") == b'"VOLT:DC"\n'
    assert emulator[0].interrupt() == 0, emulator[0].stderr()
    assert client.read_to_end() == b""
    path = next_cassette(record)
    assert read_cassette(path).finished
    # Still listening: a new client is accepted, then let go (the instrument is gone).
    assert connect(ready["host"], ready["port"]).read_to_end() == b""
    assert stop(record) == [path]
    assert "Cannot reach" in record.stderr()


def test_redact_serial_zeroes_the_serial_in_the_cassette_only(
        recorder: Callable[..., tuple[HilProcess, dict[str, Any]]], connect: Connect) -> None:
    record, ready = recorder("--redact-serial")
    client = connect(ready["host"], ready["port"])
    idn = client.query(b"*IDN?\n")
    assert idn.split(b",")[2] == SERIAL.encode()
    client.close()
    path = next_cassette(record)
    stop(record)
    text = path.read_text()
    assert SERIAL not in text
    cassette = read_cassette(path)
    assert cassette.header.redacted
    [reply] = [e.data for e in cassette.events if e.kind == "tx"]
    assert reply == idn.replace(SERIAL.encode(), b"0" * len(SERIAL))


def test_pymeasure_session_through_record_replays_for_pymeasure(
        recorder: Callable[..., tuple[HilProcess, dict[str, Any]]], hil: HilFactory) -> None:
    def session(port: int) -> tuple[str, float]:
        keithley = Keithley6517B(f"TCPIP::127.0.0.1::{port}::SOCKET", visa_library="@py",
                                 read_termination="\n", write_termination="\n", timeout=20000)
        try:
            keithley.measure_current(nplc=0.1)
            return keithley.id, keithley.current_nplc
        finally:
            keithley.adapter.close()

    record, ready = recorder("--device", "keithley6517b")
    recorded = session(ready["port"])
    assert recorded[0].startswith("KEITHLEY INSTRUMENTS INC.,MODEL 6517B,")
    path = next_cassette(record)
    stop(record)

    replay = hil("replay", str(path), "--json")
    assert session(replay.ready()["port"]) == recorded
    assert replay.interrupt() == 0, replay.stderr()
    assert json.loads(replay.stdout_rest())["problems"] == []


def test_unreachable_instrument_exits_2_naming_it(hil_run: Run, closed_port: int,
                                                 tmp_path: Path) -> None:
    result = hil_run("record", f"tcp:127.0.0.1:{closed_port}", "--out", str(tmp_path / "out"))
    assert result.code == 2
    assert f"cannot reach the instrument endpoint tcp:127.0.0.1:{closed_port}" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("upstream", "expected"), [
    ("serial:/dev/ttyUSB0", "hil bridge --serial /dev/ttyUSB0 --record DIR"),
    ("tcp:benchhost", "tcp: needs HOST:PORT"),
    ("benchhost:5025", "give tcp:HOST:PORT"),
])
def test_other_endpoints_are_refused_with_what_to_use(
        capsys: pytest.CaptureFixture[str], upstream: str, expected: str,
        tmp_path: Path) -> None:
    assert main(["record", upstream, "--out", str(tmp_path)]) == 2
    assert expected in capsys.readouterr().err


def test_unknown_device_without_model_is_refused(capsys: pytest.CaptureFixture[str],
                                                  closed_port: int, tmp_path: Path) -> None:
    assert main(["record", f"tcp:127.0.0.1:{closed_port}", "--out", str(tmp_path),
                 "--device", "frobnicator"]) == 2
    assert "--device frobnicator is not a registered device" in capsys.readouterr().err


def test_help_shows_options_and_examples_and_hil_help_lists_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["record", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--out", "--host", "--port", "--json", "--device", "--model", "--terminator",
                   "--redact-serial", "--verbose"):
        assert option in out
    assert "examples:\n  hil record tcp:" in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "    record " in capsys.readouterr().out
