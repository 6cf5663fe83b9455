"""``hil serve --pty``: the device on a pseudo-terminal, used by a real pyserial client."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import serial

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import HilFactory, LineClient

READ_TIMEOUT = 20.0


def test_pty_answers_pyserial_and_tcp_at_once(hil: HilFactory,
                                              connect: Callable[..., LineClient]) -> None:
    process = hil("serve", "--pty", "--json", "--speed", "0")
    (device,) = process.ready()["devices"]
    assert device["pty"].startswith("/dev/")
    assert os.path.realpath(device["pty_link"]) == device["pty"]
    port = serial.serial_for_url(device["pty"], baudrate=9600, timeout=READ_TIMEOUT)
    try:
        port.write(b"*IDN?\n")
        assert port.readline().startswith(b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,")
    finally:
        port.close()
    assert b"MODEL 6517B" in connect("127.0.0.1", device["port"]).query(b"*IDN?\n")
    assert process.interrupt() == 0
    assert not os.path.lexists(device["pty_link"])


def test_table_shows_the_pty_of_each_device(hil: HilFactory) -> None:
    process = hil("serve", "--pty", "--count", "2", "--speed", "0")
    lines = [process.read_line() for _ in range(4)]
    assert lines[1].split()[-1] == "PTY"
    for row in lines[2:4]:
        assert row.split()[-1].startswith("/dev/")
    assert process.interrupt() == 0
