"""``serve_fleet`` and ``print_status``, the code behind ``hil serve`` and ``hil status``.

The fleet runs in a child process (signals end it); ``XDG_RUNTIME_DIR`` points
at the test's own directory so concurrent tests never see each other's fleets.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.supervisor import print_status, specs_for
from tests.process_probes import descendants_of, still_running

STD_WAIT = 10.0
SERVE = ("import sys; from harness.supervisor import load_fleet, serve_fleet; "
         "sys.exit(serve_fleet(load_fleet(sys.argv[1]), json_output=sys.argv[2] == 'json'))")
FLEET = """\
[defaults]
speed = 0

[devices.em1]
device = "keithley6517b"

[devices.pico]
device = "keithley6514"
terminator = "cr"
"""


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "xdg"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(directory))
    return directory


@pytest.fixture
def serve(tmp_path: Path,
          runtime_dir: Path) -> Iterator[Callable[[str, str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(fleet: str, output: str) -> subprocess.Popen[bytes]:
        path = tmp_path / f"fleet{len(started)}.toml"
        path.write_text(fleet)
        process = subprocess.Popen([sys.executable, "-c", SERVE, str(path), output],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env={**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)})
        started.append(process)
        return process

    yield start
    for process in started:
        # The fork server and, below it, the devices.
        descendants = descendants_of(process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.communicate()
        assert not still_running(descendants, STD_WAIT)


def first_line(process: subprocess.Popen[bytes]) -> bytes:
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], 6 * STD_WAIT)
    assert readable, "serve_fleet printed nothing in time"
    return process.stdout.readline()


def query(host: str, port: int, message: bytes, terminator: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=STD_WAIT) as sock:
        sock.sendall(message)
        data = b""
        while not data.endswith(terminator):
            chunk = sock.recv(4096)
            assert chunk, "the device closed the connection"
            data += chunk
        return data


def status_json() -> dict[str, Any]:
    out = io.StringIO()
    print_status(json_output=True, stream=out)
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def test_serve_prints_json_when_every_device_answers_and_stops_on_sigterm(
        serve: Callable[[str, str], subprocess.Popen[bytes]], runtime_dir: Path) -> None:
    process = serve(FLEET, "json")

    report = json.loads(first_line(process))

    assert report["event"] == "ready"
    devices = {device["name"]: device for device in report["devices"]}
    assert set(devices) == {"em1", "pico"}
    for device in devices.values():
        assert {"name", "model", "host", "port", "pid", "control_port"} <= set(device)
    assert b"MODEL 6517B" in query("127.0.0.1", devices["em1"]["port"], b"*IDN?\n", b"\n")
    assert b"MODEL 6514" in query("127.0.0.1", devices["pico"]["port"], b"*IDN?\n", b"\r")

    process.send_signal(signal.SIGTERM)

    assert process.wait(STD_WAIT) == 0
    pids = [device["pid"] for device in devices.values()]
    assert not still_running(pids, STD_WAIT)
    assert list(runtime_dir.glob("hil/*")) == []


def test_serve_prints_a_table_and_ctrl_c_stops_it(
        serve: Callable[[str, str], subprocess.Popen[bytes]]) -> None:
    process = serve(FLEET, "text")
    assert process.stdout is not None

    assert b"2 device(s) ready" in first_line(process)
    header, em1, pico = (process.stdout.readline().decode().split() for _ in range(3))
    process.send_signal(signal.SIGINT)

    assert header[:4] == ["NAME", "DEVICE", "MODEL", "ADDRESS"]
    assert em1[:3] == ["em1", "keithley6517b", "6517B"]
    assert pico[:3] == ["pico", "keithley6514", "6514"]
    assert process.wait(STD_WAIT) == 0


def test_serve_reports_a_device_that_cannot_start(
        serve: Callable[[str, str], subprocess.Popen[bytes]]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        process = serve(f'[devices.em1]\ndevice = "keithley6517b"\nport = {busy}\n', "json")
        out, err = process.communicate(timeout=6 * STD_WAIT)

    assert process.returncode == 1
    assert out == b""
    assert b"hil serve: device 'em1' did not start" in err
    assert b"address already in use" in err.lower()


def test_status_lists_running_fleets_and_their_health(
        serve: Callable[[str, str], subprocess.Popen[bytes]]) -> None:
    process = serve(FLEET, "json")
    report = json.loads(first_line(process))

    (fleet,) = status_json()["fleets"]

    assert fleet["supervisor_pid"] == process.pid
    assert {(d["name"], d["status"], d["answers"]) for d in fleet["devices"]} == {
        ("em1", "running", True), ("pico", "running", True)}
    out = io.StringIO()
    assert print_status(stream=out) == 0
    assert "em1" in out.getvalue() and "ANSWERS" in out.getvalue()

    # A device killed under the 'fail' policy no longer answers, and the state says why.
    pico = next(d for d in report["devices"] if d["name"] == "pico")
    os.kill(pico["pid"], signal.SIGKILL)
    assert not still_running([pico["pid"]], STD_WAIT)
    assert print_status(stream=io.StringIO()) == 1
    assert wait_for_state(lambda devices: devices["pico"]["status"] == "failed")


def wait_for_state(predicate: Callable[[dict[str, Any]], bool]) -> bool:
    """Bounded poll of the state file, which another process rewrites (no event to await)."""
    deadline = time.monotonic() + STD_WAIT
    while time.monotonic() < deadline:
        fleets = status_json()["fleets"]
        if fleets and predicate({d["name"]: d for d in fleets[0]["devices"]}):
            return True
        select.select([], [], [], 0.02)
    return False


def test_status_without_fleets_says_so(runtime_dir: Path) -> None:
    out = io.StringIO()

    assert print_status(stream=out) == 0
    assert "no fleet is running" in out.getvalue()
    assert status_json() == {"fleets": []}


def test_specs_for_numbers_the_devices() -> None:
    specs = specs_for("keithley6514", 3, speed=0)

    assert [spec.name for spec in specs] == ["keithley6514-1", "keithley6514-2",
                                             "keithley6514-3"]
    assert {spec.speed for spec in specs} == {0.0}
    with pytest.raises(ValueError, match="at least 1"):
        specs_for("keithley6514", 0)
