"""Serial endpoints under the supervisor: emulators on ptys and bridges as device processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.serial import SerialPortNotFound, SerialSettingsError
from harness.supervisor import (
    ControlError,
    DeviceStartError,
    Endpoint,
    FleetError,
    Supervisor,
    parse_fleet,
)
from tests.process_probes import still_running

if TYPE_CHECKING:
    from conftest import SerialClients

WAIT = 10.0
IDN_6517B = b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x \n"
#: ``run_bridge`` behind a bare parser of ``add_bridge_arguments``, as a command line.
RUN_BRIDGE = (sys.executable, "-c",
              "import argparse, sys; from harness.serial.cli_support import add_bridge_arguments, "
              "run_bridge; p = argparse.ArgumentParser(); add_bridge_arguments(p); "
              "sys.exit(run_bridge(p.parse_args(sys.argv[1:])))")


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(run_dir=tmp_path / "run")
    try:
        yield sup
    finally:
        pids = [pid for pid in (sup.fork_server_pid, *(e.pid for e in sup.endpoints)) if pid]
        sup.close()
        leftover = still_running(pids, WAIT)
        assert not leftover, f"processes left running after close(): {sorted(leftover)}"


def tcp_query(endpoint: Endpoint, message: bytes) -> bytes:
    with socket.create_connection((endpoint.host, endpoint.port), timeout=WAIT) as connection:
        connection.sendall(message)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = connection.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


def test_spawn_with_pty_serves_the_same_device_on_tcp_and_on_the_pty(
        supervisor: Supervisor, serial_clients: SerialClients) -> None:
    emulator = supervisor.spawn("keithley6517b", speed=0, pty=True)
    assert emulator.pty is not None and emulator.pty.startswith("/dev/pts/")
    assert emulator.pty_link is not None and os.readlink(emulator.pty_link) == emulator.pty
    described = emulator.describe()
    assert (described["pty"], described["pty_link"]) == (emulator.pty, str(emulator.pty_link))
    port = serial_clients.open(emulator.pty_link).port
    port.write(b"*IDN?\n")
    assert port.readline() == IDN_6517B == tcp_query(emulator, b"*IDN?\n")
    emulator.control.set({"nplc": 5})
    port.write(b":VOLT:NPLC?\n")
    assert float(port.readline()) == 5


def test_a_control_trigger_releases_a_unit_waiting_on_the_pty(
        supervisor: Supervisor, serial_clients: SerialClients) -> None:
    emulator = supervisor.spawn("keithley6517b", speed=0, pty=True)
    port = serial_clients.open(emulator.pty, timeout=0.3).port
    port.write(b"*RST;:TRIG:SOUR MAN;:INIT\n*OPC?\n*IDN?\n")
    assert port.readline() == b""
    assert emulator.control.trigger("MAN")
    port.timeout = WAIT
    assert port.readline() == b"1\n"
    assert port.readline() == IDN_6517B


def test_spawn_bridge_in_front_of_a_pty_emulator(supervisor: Supervisor) -> None:
    emulator = supervisor.spawn("keithley6514", speed=0, pty=True, terminator="CR")
    assert emulator.pty_link is not None
    bridge = supervisor.spawn_bridge(str(emulator.pty_link), baud=57600,
                                     instrument_terminator="cr", name="bench")
    assert bridge.describe()["serial"] == str(emulator.pty_link)
    assert bridge.model == "bridge"
    reply = tcp_query(bridge, b"*IDN?\n")
    assert reply.startswith(b"KEITHLEY INSTRUMENTS INC.,MODEL 6514") and reply.endswith(b"\n")
    stats = bridge.control.stats()
    assert stats["serial"]["port_open"] is True
    assert stats["stats"]["bytes_received"] == len(b"*IDN?\n")
    with pytest.raises(ControlError, match="bridge to the real instrument"):
        bridge.control.reset()


def test_spawn_bridge_rejects_bad_settings_before_starting_a_process(
        supervisor: Supervisor, tmp_path: Path) -> None:
    with pytest.raises(SerialSettingsError, match="parity"):
        supervisor.spawn_bridge("loop://", parity="sideways")
    with pytest.raises(SerialPortNotFound):
        supervisor.spawn_bridge(str(tmp_path / "ttyUSB9"))
    assert supervisor.fork_server_pid is None


def test_spawn_bridge_to_a_port_that_cannot_open_fails_with_the_reason(
        supervisor: Supervisor, tmp_path: Path) -> None:
    plain = tmp_path / "not-a-tty"
    plain.write_bytes(b"")
    with pytest.raises(DeviceStartError, match="SerialOpenError"):
        supervisor.spawn_bridge(str(plain), restart="fail")


def test_hil_bridge_command_runs_until_sigint(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    process = subprocess.Popen(
        [*RUN_BRIDGE, "--serial", "loop://", "--baud", "57600",
         "--instrument-terminator", "cr", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        (device,) = ready["devices"]
        assert device["serial"] == "loop://"
        with socket.create_connection((device["host"], device["port"]), timeout=WAIT) as echo:
            echo.sendall(b"hello\n")
            assert echo.makefile("rb").readline() == b"hello\n"
        process.send_signal(signal.SIGINT)
        assert process.wait(WAIT * 2) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_hil_bridge_command_reports_bad_settings_with_exit_code_2() -> None:
    result = subprocess.run([*RUN_BRIDGE, "--serial", "loop://", "--baud",
                             "12345"], capture_output=True, text=True, timeout=WAIT * 3)
    assert result.returncode == 2
    assert "hil bridge: baud rate 12345 is not a standard rate" in result.stderr


def test_fleet_files_ask_for_a_pty_per_device() -> None:
    specs = parse_fleet('[devices.em1]\ndevice = "keithley6517b"\npty = true\n\n'
                        '[devices.em2]\ndevice = "keithley6514"\n')
    assert [(spec.name, spec.pty) for spec in specs] == [("em1", True), ("em2", False)]
    with pytest.raises(FleetError, match="pty must be true or false"):
        parse_fleet('[devices.em1]\ndevice = "keithley6517b"\npty = "yes"\n')
