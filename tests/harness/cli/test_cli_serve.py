"""``hil serve`` as a real process: devices, control ports, clean stops, bad input."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.cli.options import is_loopback

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Completed, HilFactory, LineClient

IDN_6517B = b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,"


def test_plain_serve_prints_a_table_and_ctrl_c_stops_everything(
        hil: HilFactory, connect: Callable[..., LineClient]) -> None:
    process = hil("serve")
    lines = [process.read_line() for _ in range(7)]
    assert lines[0].startswith("hil: 1 device(s) ready")
    assert lines[1].split()[:6] == ["NAME", "DEVICE", "MODEL", "ADDRESS", "PID", "CONTROL"]
    name, device, model, address, pid, control, _ = lines[2].split()
    assert (name, device, model) == ("keithley6517b-1", "keithley6517b", "6517B")
    host, port = address.rsplit(":", 1)
    assert host == "127.0.0.1"
    assert connect(host, int(port)).query(b"*IDN?\n").startswith(IDN_6517B)
    control_host, control_port = control.rsplit(":", 1)
    assert connect(control_host, int(control_port)).request("ping")["pid"] == int(pid)
    assert lines[3] == "Talk to keithley6517b-1:"
    assert f"'TCPIP::127.0.0.1::{port}::SOCKET'" in lines[4]
    assert "read_termination='\\n'" in lines[4]
    assert lines[5].endswith(f"nc -q 1 127.0.0.1 {port}")
    assert "Ctrl-C" in lines[6]
    assert process.interrupt() == 0
    assert int(pid) in process.started
    assert process.close() == set()
    assert "Traceback" not in process.stderr()


def test_count_json_reports_every_device_with_its_control_port(
        hil: HilFactory, connect: Callable[..., LineClient]) -> None:
    process = hil("serve", "--count", "2", "--json", "--speed", "0")
    report = process.ready()
    assert report["event"] == "ready"
    assert report["supervisor_pid"] == process.pid
    first, second = report["devices"]
    assert [first["name"], second["name"]] == ["keithley6517b-1", "keithley6517b-2"]
    assert first["port"] != second["port"]
    for device in (first, second):
        assert device["host"] == "127.0.0.1"
        assert device["model"] == "6517B"
        assert device["pty"] is None
        assert device["pid"] in process.started
    assert connect("127.0.0.1", first["port"]).query(b"*IDN?\n").startswith(IDN_6517B)
    first_control = connect("127.0.0.1", first["control_port"])
    second_control = connect("127.0.0.1", second["control_port"])
    assert first_control.request("ping")["pid"] == first["pid"]
    assert second_control.request("ping")["pid"] == second["pid"]
    assert first_control.request("stats")["stats"]["messages_received"] == 1
    assert second_control.request("stats")["stats"]["messages_received"] == 0
    assert process.interrupt() == 0
    assert process.close() == set()
    assert "Traceback" not in process.stderr()


def test_sigterm_stops_cleanly_with_a_client_connected(
        hil: HilFactory, connect: Callable[..., LineClient]) -> None:
    process = hil("serve", "--json")
    (device,) = process.ready()["devices"]
    client = connect(device["host"], device["port"])
    assert client.query(b"*IDN?\n").startswith(IDN_6517B)
    assert process.stop(signal.SIGTERM) == 0
    assert client.read_to_end() == b""
    assert process.close() == set()
    assert "Traceback" not in process.stderr()


def test_device_settings_reach_the_device(hil: HilFactory,
                                          connect: Callable[..., LineClient]) -> None:
    process = hil("serve", "--device", "keithley6514", "--terminator", "cr", "--lenient",
                  "--json", "--speed", "0")
    (device,) = process.ready()["devices"]
    assert (device["name"], device["model"]) == ("keithley6514-1", "6514")
    client = connect(device["host"], device["port"], b"\r")
    assert b"MODEL 6514" in client.query(b"*IDN?\r")
    assert client.query(b":NOT:A:HEADER 1\r:SYST:ERR?\r") == b'0,"No error"\r'
    assert process.interrupt() == 0


def test_fixed_port_is_used(hil: HilFactory, connect: Callable[..., LineClient]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free_port = probe.getsockname()[1]
    process = hil("serve", "--port", str(free_port), "--json", "--speed", "0")
    (device,) = process.ready()["devices"]
    assert device["port"] == free_port
    assert connect("127.0.0.1", free_port).query(b"*IDN?\n").startswith(IDN_6517B)
    assert process.interrupt() == 0


def test_restart_policy_brings_a_killed_device_back_on_its_port(
        hil: HilFactory, connect: Callable[..., LineClient]) -> None:
    process = hil("serve", "--restart", "restart", "--json", "--speed", "0")
    (device,) = process.ready()["devices"]
    os.kill(device["pid"], signal.SIGKILL)  # a device process this test's hil started
    deadline = time.monotonic() + 30
    while True:
        try:
            reply = connect("127.0.0.1", device["control_port"]).request("ping")
            if reply["pid"] != device["pid"]:
                break
        except (OSError, EOFError, ValueError):
            pass
        assert time.monotonic() < deadline, "the device did not come back within 30 s"
        time.sleep(0.1)
    assert connect("127.0.0.1", device["port"]).query(b"*IDN?\n").startswith(IDN_6517B)
    process.started.add(reply["pid"])
    assert process.interrupt() == 0
    assert process.close() == set()


def test_port_in_use_exits_2_and_starts_nothing(hil_run: Callable[..., Completed],
                                                runtime_dir: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        result = hil_run("serve", "--port", str(taken.getsockname()[1]))
    assert result.code == 2
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(runtime_dir.glob("hil/fleet-*")) == []


def test_unknown_device_exits_2_listing_the_registered_ones(
        hil_run: Callable[..., Completed]) -> None:
    result = hil_run("serve", "--device", "keithley2000")
    assert result.code == 2
    assert "'keithley2000'" in result.stderr
    assert "keithley6514, keithley6517b" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_run_directory_exits_2(hil_run: Callable[..., Completed],
                                          tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    result = hil_run("serve", env={"XDG_RUNTIME_DIR": str(not_a_directory)})
    assert result.code == 2
    assert "cannot write the run directory" in result.stderr
    assert str(not_a_directory) in result.stderr
    assert "XDG_RUNTIME_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_non_loopback_host_warns_then_fails_cleanly(hil_run: Callable[..., Completed]) -> None:
    # 192.0.2.1 (TEST-NET-1) is not on this machine.
    result = hil_run("serve", "--host", "192.0.2.1")
    assert result.code == 2
    assert "warning: listening on '192.0.2.1', not a loopback address" in result.stderr
    assert "check --host" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("bad", [["--speed", "-1"], ["--port", "70000"], ["--count", "0"],
                                 ["--terminator", "nl"], ["--restart", "always"]])
def test_invalid_option_values_exit_2_with_usage(hil_run: Callable[..., Completed],
                                                 bad: list[str]) -> None:
    result = hil_run("serve", *bad)
    assert result.code == 2
    assert "usage: hil serve" in result.stderr


def test_fixed_port_with_several_devices_exits_2(hil_run: Callable[..., Completed]) -> None:
    result = hil_run("serve", "--count", "2", "--port", "5025")
    assert result.code == 2
    assert "leave --port out" in result.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
     ("", False), ("192.168.1.10", False), ("example.org", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
