"""Recording processes: killed with SIGKILL, or recording side by side."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from socket_query import query

from harness.recording import read_cassette

PROMPT = 30.0

RECORDING_EMULATOR = textwrap.dedent("""
    import asyncio, sys
    from harness.recording import RecordingMockServer

    async def main():
        server = RecordingMockServer(port=0, speed=0)
        await server.start_task
        cassette = server.recording_tap.start_file(sys.argv[1])
        print(server.port, cassette.temporary_path, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
""")

PARALLEL_RECORDER = textwrap.dedent("""
    import os, sys
    from harness.recording import CassetteExists, CassetteHeader, CassetteWriter, DeviceInfo

    cassette = CassetteWriter(sys.argv[1], CassetteHeader(DeviceInfo("keithley6517b", "6517B")))
    print(cassette.temporary_path, flush=True)
    sys.stdin.readline()
    for number in range(300):
        cassette.note(f"{os.getpid()} {number}")
    try:
        print("finished", cassette.finish(), flush=True)
    except CassetteExists as e:
        print("kept", e.kept, flush=True)
""")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Child processes started by a test; killed and reaped at teardown."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=PROMPT)


def spawn(processes: list[subprocess.Popen[str]], script: str,
          *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    processes.append(process)
    return process


def first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    # The child prints this line once it is ready; readline blocks until then.
    line = process.stdout.readline()
    assert line, f"the child exited early with {process.wait(timeout=PROMPT)}"
    return line.strip()


def test_sigkill_during_recording_leaves_a_readable_cassette(
        tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    target = tmp_path / "killed.jsonl"
    child = spawn(processes, RECORDING_EMULATOR, str(target))
    port_text, temporary = first_line(child).split(" ", 1)
    messages = [b"*IDN?\n", b":SENS:CURR:RANG?\n", b"SYST:ERR?\n", b"*STB?\n"]
    last = b"*IDN?\n"
    with socket.create_connection(("127.0.0.1", int(port_text)), timeout=PROMPT) as sock:
        replies = [query(sock, message) for message in messages]
        # A reply is recorded just after it leaves; once the reply to the last message
        # is here, everything before it is certainly in the file.
        query(sock, last)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=PROMPT) == -signal.SIGKILL
    assert not target.exists()
    cassette = read_cassette(temporary)
    assert not cassette.finished
    rx = [e.data for e in cassette.events if e.kind == "rx"]
    tx = [e.data for e in cassette.events if e.kind == "tx"]
    assert rx[:len(messages)] == messages and rx[len(messages):] in ([], [last])
    assert tx[:len(replies)] == replies and len(tx) <= len(replies) + 1


def test_two_processes_recording_the_same_cassette_never_share_a_file(
        tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    target = tmp_path / "contested.jsonl"
    children = [spawn(processes, PARALLEL_RECORDER, str(target)) for _ in range(2)]
    temporaries = [Path(first_line(child)) for child in children]
    # Both are recording at this point, each into its own file.
    assert temporaries[0] != temporaries[1]
    assert all(path.exists() for path in temporaries)
    outcomes = []
    for child in children:
        out, _ = child.communicate("go\n", timeout=PROMPT)
        assert child.returncode == 0
        outcomes.append(out.split())
    assert sorted(outcome[0] for outcome in outcomes) == ["finished", "kept"]
    kept = Path(next(outcome[1] for outcome in outcomes if outcome[0] == "kept"))
    writers = []
    for path in (target, kept):
        cassette = read_cassette(path)
        assert cassette.finished
        pids = {event.text.split()[0] for event in cassette.events if event.kind == "note"}
        assert len(pids) == 1
        assert len([e for e in cassette.events if e.kind == "note"]) == 300
        writers.append(pids.pop())
    assert writers[0] != writers[1]
    assert {str(child.pid) for child in children} == set(writers)
