"""``hil serve --pty --record DIR``: the pty session gets its own cassette next to the TCP ones."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import serial

from harness.recording import build_session, read_cassette

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import HilFactory, LineClient

READ_TIMEOUT = 20.0
SERIAL = b"4114292"  # the emulated 6517B's (spec keithley.md, *IDN?)


def test_serve_pty_record_writes_a_redacted_pty_cassette_beside_the_tcp_one(
        hil: HilFactory, connect: Callable[..., LineClient], tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    serve = hil("serve", "--pty", "--speed", "0", "--json", "--record", str(cassettes),
                "--redact-serial")
    (device,) = serve.ready()["devices"]
    port = serial.serial_for_url(device["pty"], baudrate=9600, timeout=READ_TIMEOUT)
    try:
        port.write(b"*IDN?\n")
        idn = port.readline()
        port.write(b":SENS:FUNC 'CURR'\n:SENS:FUNC?\n")
        function = port.readline()
    finally:
        port.close()
    tcp = connect(device["host"], device["port"])
    assert SERIAL in tcp.query(b"*IDN?\n")
    tcp.close()
    assert serve.interrupt() == 0, serve.stderr()

    assert SERIAL in idn and function == b'"CURR:DC"\n'
    pty_files = sorted(cassettes.glob(f"{device['name']}-pty-*.jsonl"))
    assert len(pty_files) == 1, sorted(cassettes.iterdir())
    (tcp_file,) = set(cassettes.iterdir()) - set(pty_files)
    assert read_cassette(tcp_file).header.transport == "tcp"
    cassette = read_cassette(pty_files[0])
    assert cassette.finished and cassette.header.transport == "pty"
    assert cassette.header.redacted and SERIAL not in pty_files[0].read_bytes()
    assert [e.request for e in build_session(cassette).exchanges] == [
        "*IDN?", ":SENS:FUNC 'CURR'", ":SENS:FUNC?"]
    assert [e.data for e in cassette.events if e.kind == "tx"] == [
        idn.replace(SERIAL, b"0" * len(SERIAL)), function]
