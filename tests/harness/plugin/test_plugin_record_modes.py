"""Record modes of the replay target: new_episodes, and recording from bench instruments.

The "bench instruments" are real emulators behind real transports: a
``MockServer`` on a free TCP port (``--hil-record-from tcp:``) and a
``PtyEndpoint`` on a pseudo-terminal (``--hil-record-from serial:``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devices.keithley import Keithley6517B
from devices.keithley.mock_server import MockServer
from harness.plugin_support.background import serve_in_background
from harness.recording import CassetteWriter, hardware_header, read_cassette
from harness.serial import PtyEndpoint

if TYPE_CHECKING:
    from conftest import InnerSuite

SESSION = """
def test_session(electrometer):
    scpi = Scpi(electrometer)
    record("session", idn=scpi.query("*IDN?"), function=scpi.query(":SENS:FUNC?"),
           emulated=electrometer.emulated, target=electrometer.target)
"""

#: The same session with a message the cassette of SESSION does not hold.
NEW_EPISODE = """
def test_session(electrometer):
    scpi = Scpi(electrometer)
    record("session", idn=scpi.query("*IDN?"), nplc=scpi.query(":SENS:CURR:NPLC?"),
           function=scpi.query(":SENS:FUNC?"))
"""

CASSETTE_NAME = "test_session.py_test_session--keithley6517b.jsonl"


def cassettes_of(inner: InnerSuite) -> Path:
    return inner.pytester.path / "cassettes"


def replay(cassettes: Path) -> str:
    return f"--hil-target=replay:{cassettes}"


def traffic(path: Path, kind: str) -> list[bytes]:
    """The cassette's client messages (``rx``) or instrument replies (``tx``)."""
    return [e.data for e in read_cassette(path).events if e.kind == kind]


def leftovers(directory: Path) -> list[str]:
    """Files in ``directory`` other than finished cassettes (temporary recordings)."""
    return sorted(path.name for path in directory.iterdir() if path.suffix != ".jsonl")


def assert_replies_end_with(path: Path, terminator: bytes, recorded: dict[str, Any]) -> None:
    """The cassette's replies are the recorded session's, each ending with ``terminator``
    alone (the other of CR and LF appears nowhere)."""
    other = b"\n" if terminator == b"\r" else b"\r"
    replies = traffic(path, "tx")
    assert all(reply.endswith(terminator) and other not in reply for reply in replies)
    assert [reply.decode().strip() for reply in replies] == [recorded["idn"],
                                                             recorded["function"]]


def assert_replayed_as_recorded(inner: InnerSuite, replaying: pytest.RunResult,
                                recorded: dict[str, Any]) -> None:
    """The replaying run passed, served by the replay target with the recorded replies."""
    replaying.assert_outcomes(passed=1)
    replayed = inner.records()["session"]
    assert replayed["emulated"] is False and replayed["target"].startswith("replay:")
    assert (replayed["idn"], replayed["function"]) == (recorded["idn"], recorded["function"])


# -- new_episodes -----------------------------------------------------------------------------

@pytest.fixture
def old_cassette(inner: InnerSuite) -> Path:
    """SESSION's cassette, recorded once, with a reply no emulator gives (``MODEL OLD``)."""
    inner.write("test_session", SESSION)
    cassettes = cassettes_of(inner)
    inner.pytester.runpytest(replay(cassettes), "--hil-record-mode=once").assert_outcomes(
        passed=1)
    path = cassettes / CASSETTE_NAME
    header, *rest = path.read_text().splitlines(keepends=True)
    path.write_text(header + "".join(rest).replace("MODEL 6517B", "MODEL OLD"))
    return path


def test_new_episodes_answers_new_messages_from_the_emulator_and_rewrites_the_cassette(
        inner: InnerSuite, old_cassette: Path) -> None:
    inner.write("test_session", NEW_EPISODE)
    emulator_nplc = Keithley6517B(speed=0).receive(":SENS:CURR:NPLC?", 0.0)[0].text
    old_function = traffic(old_cassette, "tx")[1]

    updating = inner.pytester.runpytest(replay(old_cassette.parent),
                                        "--hil-record-mode=new_episodes")
    updated = inner.records()["session"]
    strict = inner.pytester.runpytest(replay(old_cassette.parent))

    updating.assert_outcomes(passed=1)
    assert "MODEL OLD" in updated["idn"]  # replayed from the cassette
    assert updated["nplc"] == emulator_nplc  # a new episode, answered by the emulator
    assert updated["function"].encode() + b"\n" == old_function
    rewritten = read_cassette(old_cassette)
    assert rewritten.finished and rewritten.header.source == "emulator"
    assert traffic(old_cassette, "rx") == [
        b"*IDN?\n", b":SENS:CURR:NPLC?\n", b":SENS:FUNC?\n"]
    assert any(e.kind == "note" and "new_episodes" in e.text for e in rewritten.events)
    assert leftovers(old_cassette.parent) == []
    strict.assert_outcomes(passed=1)
    assert inner.records()["session"] == updated


def test_new_episodes_records_a_missing_cassette(inner: InnerSuite) -> None:
    inner.write("test_session", SESSION)
    cassettes = cassettes_of(inner)

    recording = inner.pytester.runpytest(replay(cassettes), "--hil-record-mode=new_episodes")
    recorded = inner.records()["session"]
    replaying = inner.pytester.runpytest(replay(cassettes))

    recording.assert_outcomes(passed=1)
    assert recorded["emulated"] is True
    assert read_cassette(cassettes / CASSETTE_NAME).header.source == "emulator"
    replaying.assert_outcomes(passed=1)
    replayed = inner.records()["session"]
    assert replayed["emulated"] is False
    assert (replayed["idn"], replayed["function"]) == (recorded["idn"], recorded["function"])


@pytest.mark.parametrize(("ending", "outcome"), [
    ("assert False, 'the test failed after a new episode'", "failed"),
    ("pytest.exit('the run was interrupted after a new episode')", "interrupted"),
])
def test_a_test_that_does_not_pass_leaves_the_old_cassette_under_new_episodes(
        inner: InnerSuite, old_cassette: Path, ending: str, outcome: str) -> None:
    before = old_cassette.read_bytes()
    inner.write("test_session", f"""
def test_session(electrometer):
    scpi = Scpi(electrometer)
    record("session", idn=scpi.query("*IDN?"), nplc=scpi.query(":SENS:CURR:NPLC?"))
    {ending}
""")
    result = inner.pytester.runpytest(replay(old_cassette.parent),
                                      "--hil-record-mode=new_episodes")

    if outcome == "failed":
        result.assert_outcomes(failed=1)
    else:
        assert result.ret == pytest.ExitCode.INTERRUPTED
    assert ending.split("'")[1] in result.stdout.str()
    assert inner.records()["session"]["nplc"]  # the session did reach the new episode
    assert old_cassette.read_bytes() == before
    assert leftovers(old_cassette.parent) == []


def test_new_episodes_refuses_to_mix_the_emulator_into_a_hardware_cassette(
        inner: InnerSuite) -> None:
    inner.write("test_session", SESSION)
    cassettes = cassettes_of(inner)
    with CassetteWriter(cassettes / CASSETTE_NAME,
                        hardware_header(b"\n", name="keithley6517b", model="6517B")) as cassette:
        cassette.rx(b"*IDN?\n")
        cassette.tx(b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,1,A13\n")
    before = (cassettes / CASSETTE_NAME).read_bytes()

    result = inner.pytester.runpytest(replay(cassettes), "--hil-record-mode=new_episodes")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["hil: RecordingError: cassette *was recorded from a real "
                                 "instrument; new_episodes would mix emulator replies into it*"])
    assert (cassettes / CASSETTE_NAME).read_bytes() == before


# -- recording from bench instruments ---------------------------------------------------------

@contextlib.contextmanager
def bench_on_tcp(terminator: bytes) -> Iterator[str]:
    """An emulated instrument on a free TCP port, as ``tcp:HOST:PORT``."""
    with serve_in_background(lambda: MockServer(port=0, terminator=terminator, speed=0)) as (
            host, port):
        yield f"tcp:{host}:{port}"


CR_SESSION = """
@pytest.mark.hil(terminator="cr")
def test_session(electrometer):
    scpi = Scpi(electrometer, terminator=b"\\r")
    record("session", idn=scpi.query("*IDN?"), function=scpi.query(":SENS:FUNC?"),
           emulated=electrometer.emulated, target=electrometer.target)


def test_two_instruments(hil_device):
    hil_device()
    hil_device()
"""


@pytest.mark.parametrize("mode", ["once", "all"])
def test_cassettes_recorded_from_a_tcp_instrument_are_hardware_cassettes_that_replay(
        inner: InnerSuite, mode: str) -> None:
    inner.write("test_session", CR_SESSION)
    cassettes = cassettes_of(inner)
    path = cassettes / CASSETTE_NAME
    if mode == "all":  # an emulator cassette first, which "all" replaces
        inner.pytester.runpytest(replay(cassettes), "--hil-record-mode=once", "-k",
                                 "not two_instruments").assert_outcomes(passed=1)
        assert read_cassette(path).header.source == "emulator"

    with bench_on_tcp(b"\r") as bench:
        recording = inner.pytester.runpytest(replay(cassettes), f"--hil-record-mode={mode}",
                                             f"--hil-record-from={bench}", "-rs")
    recorded = inner.records()["session"]
    replaying = inner.pytester.runpytest(replay(cassettes), "-k", "not two_instruments")

    recording.assert_outcomes(passed=1, skipped=1)
    recording.stdout.fnmatch_lines([f"SKIPPED*the target {bench} is one instrument and this "
                                    "test already uses it*"])
    assert recorded["emulated"] is False and recorded["target"] == bench
    cassette = read_cassette(path)
    assert cassette.header.source == "hardware" and cassette.header.transport == "tcp"
    assert (cassette.header.device.name, cassette.header.device.model) == (
        "keithley6517b", "6517B")
    assert cassette.header.output_terminator == "\r"
    assert (cassette.idn or "").strip() == recorded["idn"] and "MODEL 6517B" in recorded["idn"]
    assert_replies_end_with(path, b"\r", recorded)
    assert_replayed_as_recorded(inner, replaying, recorded)


def test_xdist_workers_take_turns_recording_from_one_tcp_instrument(inner: InnerSuite) -> None:
    # The bench serves one client at a time: without the lease a worker would be rejected.
    inner.write("test_session", SESSION.replace(
        "def test_session(electrometer):",
        "@pytest.mark.parametrize('n', range(4))\ndef test_session(electrometer, n):").replace(
        'record("session"', 'record(f"session{n}"'))
    cassettes = cassettes_of(inner)

    with bench_on_tcp(b"\n") as bench:
        result = inner.run_subprocess("-n", "2", replay(cassettes), "--hil-record-mode=once",
                                      f"--hil-record-from={bench}")

    result.assert_outcomes(passed=4)
    assert sorted(path.name for path in cassettes.iterdir()) == [
        f"test_session.py_test_session_{n}--keithley6517b.jsonl" for n in range(4)]
    for path in cassettes.iterdir():
        assert read_cassette(path).header.source == "hardware"
        assert len(traffic(path, "tx")) == 2


async def test_cassettes_recorded_through_the_serial_bridge_are_hardware_cassettes_that_replay(
        inner: InnerSuite) -> None:
    inner.write("test_session", SESSION)
    cassettes = cassettes_of(inner)
    # The instrument ends its lines with CR; the bridge gives the test LF lines.
    pty = PtyEndpoint.for_keithley(speed=0, output_terminator="CR")
    await pty.start()
    try:
        recording = await asyncio.to_thread(
            inner.run_subprocess, replay(cassettes), "--hil-record-mode=once",
            f"--hil-record-from=serial:{pty.path}", "--hil-serial=instrument_terminator=cr")
    finally:
        await pty.close()
    recorded = inner.records()["session"]
    replaying = await asyncio.to_thread(inner.run_subprocess, replay(cassettes))

    recording.assert_outcomes(passed=1)
    assert recorded["emulated"] is False and recorded["target"] == f"serial:{pty.path}"
    path = cassettes / CASSETTE_NAME
    cassette = read_cassette(path)
    assert cassette.header.source == "hardware" and cassette.header.transport == "serial-bridge"
    assert cassette.header.output_terminator == "\n"
    assert_replies_end_with(path, b"\n", recorded)
    assert_replayed_as_recorded(inner, replaying, recorded)


# -- options ----------------------------------------------------------------------------------

@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound by this test and not listening: connections to it are refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


@pytest.mark.parametrize(("options", "expected"), [
    (["--hil-record-mode=once"], "*--hil-record-mode once needs --hil-target replay:DIR*"),
    (["--hil-target=replay:cassettes", "--hil-record-mode=sometimes"],
     "*--hil-record-mode 'sometimes' is not one of none, once, new_episodes, all*"),
    (["--hil-record-from=tcp:127.0.0.1:5025"],
     "*--hil-record-from tcp:127.0.0.1:5025 needs --hil-target replay:DIR*"),
    (["--hil-target=replay:cassettes", "--hil-record-from=tcp:127.0.0.1:5025"],
     "*--hil-record-from tcp:127.0.0.1:5025 records nothing with --hil-record-mode none*"),
    (["--hil-target=replay:cassettes", "--hil-record-mode=once", "--hil-record-from=replay:x"],
     "*--hil-record-from 'replay:x' is not something to record from; use emulator, "
     "tcp:HOST:PORT or serial:URL*"),
    (["--hil-target=replay:cassettes", "--hil-record-mode=once", "--hil-record-from=tcp:bench"],
     "*--hil-record-from tcp:bench: tcp: needs HOST:PORT*"),
    (["--hil-target=replay:cassettes", "--hil-record-mode=new_episodes",
      "--hil-record-from=serial:/dev/ttyUSB0"],
     "*--hil-record-mode new_episodes cannot record from serial:/dev/ttyUSB0*"
     "--hil-record-mode all*"),
    (["--hil-target=replay:cassettes", "--hil-record-mode=once",
      "--hil-record-from=serial:/nonexistent/tty"],
     "*--hil-record-from serial:/nonexistent/tty: *"),
])
def test_record_options_that_cannot_work_are_usage_errors(
        pytester: pytest.Pytester, options: list[str], expected: str) -> None:
    pytester.makepyfile("def test_nothing(electrometer):\n    pass\n")

    result = pytester.runpytest(*options)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_an_unreachable_tcp_source_is_a_usage_error(pytester: pytest.Pytester,
                                                    closed_port: int) -> None:
    pytester.makepyfile("def test_nothing(electrometer):\n    pass\n")

    result = pytester.runpytest("--hil-target=replay:cassettes", "--hil-record-mode=once",
                                f"--hil-record-from=tcp:127.0.0.1:{closed_port}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--hil-record-from tcp:127.0.0.1:{closed_port}: cannot "
                                 "reach*"])


def test_help_describes_the_record_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")

    result.stdout.fnmatch_lines(["*--hil-record-mode=MODE*", "*new_episodes*",
                                 "*--hil-record-from=SOURCE*", "*tcp:HOST:PORT or serial:URL*"])
