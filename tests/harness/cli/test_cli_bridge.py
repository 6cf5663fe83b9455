"""``hil bridge`` in front of an emulator on a pty (``hil serve --pty``), with a TCP client."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Completed, HilFactory, LineClient


def test_bridge_carries_a_tcp_client_to_the_instrument_and_back(
        hil: HilFactory, connect: Callable[..., LineClient]) -> None:
    # The "instrument" speaks CR on its serial line; the TCP client speaks LF.
    instrument = hil("serve", "--pty", "--terminator", "cr", "--json", "--speed", "0")
    (emulator,) = instrument.ready()["devices"]
    bridge = hil("bridge", "--serial", emulator["pty"], "--baud", "57600",
                 "--instrument-terminator", "cr", "--json")
    report = bridge.ready()
    (device,) = report["devices"]
    assert (device["device"], device["serial"]) == ("bridge", emulator["pty"])
    client = connect(device["host"], device["port"])
    assert client.query(b"*IDN?\n").startswith(b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,")
    assert client.query(b":SYST:ERR?\n") == b'0,"No error"\n'
    emulator_control = connect("127.0.0.1", emulator["control_port"])
    assert emulator_control.request("stats")["stats"]["messages_received"] == 0  # not TCP
    assert bridge.interrupt() == 0
    assert instrument.interrupt() == 0
    assert bridge.close() == set() and instrument.close() == set()
    assert "Traceback" not in bridge.stderr()


def test_bridge_to_a_missing_serial_device_exits_2(hil_run: Callable[..., Completed],
                                                   tmp_path: Path) -> None:
    result = hil_run("bridge", "--serial", str(tmp_path / "ttyUSB9"))
    assert result.code == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_bridge_port_in_use_exits_2(hil_run: Callable[..., Completed]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        result = hil_run("bridge", "--serial", "loop://", "--port",
                         str(taken.getsockname()[1]))
    assert result.code == 2
    assert "already in use" in result.stderr


def test_bridge_with_bad_line_settings_exits_2(hil_run: Callable[..., Completed]) -> None:
    result = hil_run("bridge", "--serial", "loop://", "--baud", "12345")
    assert result.code == 2
    assert "baud rate 12345 is not a standard rate" in result.stderr
    assert "Traceback" not in result.stderr
