"""``BridgeServer``: TCP clients reach an instrument on a serial port through the bridge.

The "instrument" is an emulator on a pseudo-terminal, or a bare pty the test
drives byte by byte, or a TCP emulator reached through ``socket://``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tty
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pymeasure.instruments.keithley import Keithley6517B  # type: ignore[import-untyped]

from harness.serial import (
    BridgeServer,
    SerialOpenError,
    SerialPortNotFound,
    SerialSettingsError,
    SerialUrlError,
)

if TYPE_CHECKING:
    from conftest import Endpoints
    from harness.tcpip import Client

WAIT = 10.0
QUERIES = ["*IDN?", ":SENS:FUNC?", "*OPT?", "BOGUS", ":SYST:ERR?", ":SENS:CURR:NPLC 5",
           ":SENS:CURR:NPLC?", ":SYST:ZCH?", "*ESR?", ":SYST:ERR?"]


class RawPty:
    """A bare pseudo-terminal: the bridge opens ``path``, the test plays the instrument."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def read_exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = os.read(self.master, count - len(data))
            if not chunk:
                raise EOFError("the pty closed")
            data += chunk
        return data

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


async def closed_by_peer(client: Client) -> bool:
    """True once the bridge has closed the connection (EOF or reset), within ``WAIT``."""
    try:
        return await asyncio.wait_for(client.read(100), WAIT) == b""
    except (ConnectionError, asyncio.IncompleteReadError):
        return True


@pytest.fixture
def raw_pty() -> Iterator[RawPty]:
    pty = RawPty()
    try:
        yield pty
    finally:
        pty.close()


async def test_bridge_to_an_emulator_on_a_pty_answers_like_the_emulator_on_tcp(
        endpoints: Endpoints) -> None:
    pty = await endpoints.pty(output_terminator="CR")
    bridge = await endpoints.bridge(pty.path, baud=57600, instrument_terminator="cr")
    through_bridge = await endpoints.client(bridge.port)
    direct = await endpoints.client((await endpoints.mock()).port)
    for message in QUERIES:
        if message.endswith("?"):
            expected = await endpoints.query(direct, message)
            assert await endpoints.query(through_bridge, message) == expected
        else:
            await direct.write_str(message)
            await through_bridge.write_str(message)


async def test_pymeasure_over_pyvisa_socket_through_the_bridge_matches_the_emulator(
        endpoints: Endpoints) -> None:
    pty = await endpoints.pty(output_terminator="CR", serial={"xonxoff": True})
    bridge = await endpoints.bridge(pty.path, baud=57600, xonxoff=True,
                                    instrument_terminator="cr")
    direct = await endpoints.mock()

    def session(port: int | None) -> list[object]:
        instrument = Keithley6517B(f"TCPIP::127.0.0.1::{port}::SOCKET", visa_library="@py",
                                   read_termination="\n", write_termination="\n",
                                   timeout=WAIT * 1000)
        try:
            instrument.reset()
            instrument.measure_current(nplc=0.1, current=2e-9, auto_range=False)
            instrument.source_voltage = 10
            return [instrument.id, instrument.current_range, instrument.current_nplc,
                    instrument.source_voltage, instrument.next_error, instrument.options]
        finally:
            instrument.adapter.close()

    through_bridge = await asyncio.to_thread(session, bridge.port)
    assert through_bridge == await asyncio.to_thread(session, direct.port)
    assert through_bridge[0].startswith("KEITHLEY INSTRUMENTS INC.,MODEL 6517B")


async def test_non_utf8_bytes_pass_through_unchanged_with_terminators_translated(
        endpoints: Endpoints, raw_pty: RawPty) -> None:
    bridge = await endpoints.bridge(raw_pty.path, instrument_terminator="cr",
                                    terminator=b"\r\n")
    client = await endpoints.client(bridge.port, terminator=b"\r\n")
    noise = bytes(value for value in range(256) if value not in b"\r\n")
    await client.write(noise + b"\r\n")
    received = await asyncio.to_thread(raw_pty.read_exactly, len(noise) + 1)
    assert received == noise + b"\r"
    os.write(raw_pty.master, noise[::-1] + b"\r" + b"\xff\xfe\r")
    assert await asyncio.wait_for(client.readuntil(b"\r\n"), WAIT) == noise[::-1] + b"\r\n"
    assert await asyncio.wait_for(client.readuntil(b"\r\n"), WAIT) == b"\xff\xfe\r\n"


async def test_device_clear_bytes_reach_the_instrument_without_a_terminator(
        endpoints: Endpoints) -> None:
    pty = await endpoints.pty()
    bridge = await endpoints.bridge(pty.path)
    client = await endpoints.client(bridge.port)
    await client.write(b"*IDN\x03")
    assert await asyncio.wait_for(client.read_str(), WAIT) == "DCL"


async def test_unplug_and_replug_while_a_client_is_connected(endpoints: Endpoints) -> None:
    link = endpoints.link()
    pty = await endpoints.pty(link=link)
    bridge = await endpoints.bridge(link)
    client = await endpoints.client(bridge.port)
    assert await endpoints.query(client, "*OPT?") == "0"

    await pty.close()
    # The client is disconnected, not left hanging.
    assert await closed_by_peer(client)
    await asyncio.wait_for(bridge.wait_for_port(is_open=False), WAIT)
    refused = await endpoints.client(bridge.port)
    assert await closed_by_peer(refused)

    await endpoints.pty(link=link, model="6514")
    await asyncio.wait_for(bridge.wait_for_port(), WAIT)
    again = await endpoints.client(bridge.port)
    assert (await endpoints.query(again, "*IDN?")).startswith(
        "KEITHLEY INSTRUMENTS INC.,MODEL 6514")


async def test_replies_arriving_between_clients_are_not_delivered_to_the_next(
        endpoints: Endpoints, raw_pty: RawPty, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.serial")
    bridge = await endpoints.bridge(raw_pty.path)
    first = await endpoints.client(bridge.port)
    await first.write(b"Q1\n")
    assert await asyncio.to_thread(raw_pty.read_exactly, 3) == b"Q1\n"
    await first.close()
    await endpoints.eventually(lambda: not bridge.connected)
    os.write(raw_pty.master, b"late reply\n")
    await endpoints.eventually(lambda: "No client: dropped 11 bytes" in caplog.text)
    second = await endpoints.client(bridge.port)
    await second.write(b"Q2\n")
    assert await asyncio.to_thread(raw_pty.read_exactly, 3) == b"Q2\n"
    os.write(raw_pty.master, b"fresh reply\n")
    assert await asyncio.wait_for(second.read_str(), WAIT) == "fresh reply"


async def test_socket_url_bridges_to_a_tcp_instrument(endpoints: Endpoints) -> None:
    server = await endpoints.mock(model="6514")
    bridge = await endpoints.bridge(f"socket://127.0.0.1:{server.port}")
    client = await endpoints.client(bridge.port)
    assert (await endpoints.query(client, "*IDN?")).startswith(
        "KEITHLEY INSTRUMENTS INC.,MODEL 6514")


async def test_loop_url_echoes_through_the_bridge(endpoints: Endpoints) -> None:
    bridge = await endpoints.bridge("loop://", instrument_terminator="crlf")
    client = await endpoints.client(bridge.port)
    assert await endpoints.query(client, "echo \xe9") == "echo \xe9"


@pytest.mark.parametrize(("options", "error", "match"), [
    ({"url": "nosuchscheme://x"}, SerialUrlError, "unknown scheme 'nosuchscheme'"),
    ({"url": "hwgrep://USB"}, SerialUrlError, "refused"),
    ({"url": ""}, SerialUrlError, "device path"),
    ({"url": "/dev/does-not-exist-hil"}, SerialPortNotFound, "does not exist"),
    ({"parity": "X"}, SerialSettingsError, "parity 'X' is unknown"),
    ({"baud": 12345}, SerialSettingsError, "baud rate 12345 is not a standard rate"),
    ({"data_bits": 9}, SerialSettingsError, "data bits 9"),
    ({"stop_bits": 3}, SerialSettingsError, "stop bits 3"),
    ({"instrument_terminator": "semicolon"}, SerialSettingsError, "instrument terminator"),
])
async def test_bad_settings_raise_before_anything_starts(
        options: dict[str, object], error: type[Exception], match: str) -> None:
    url = options.pop("url", "loop://")
    tasks_before = asyncio.all_tasks()
    with pytest.raises(error, match=match):
        BridgeServer(str(url), **options)  # type: ignore[arg-type]
    assert asyncio.all_tasks() == tasks_before


async def test_a_port_that_cannot_be_opened_fails_start_without_listening(
        endpoints: Endpoints) -> None:
    # Bound but not listening: connections are refused, and nobody else gets the port.
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        bridge = BridgeServer(f"socket://127.0.0.1:{refusing.getsockname()[1]}")
        try:
            with pytest.raises(SerialOpenError, match="cannot open"):
                await bridge.start_task
            assert bridge.port == 0
            assert not bridge.port_open
        finally:
            await bridge.close()


async def test_a_file_that_is_not_a_terminal_is_refused_at_start(endpoints: Endpoints) -> None:
    not_a_tty = endpoints.tmp_path / "plain-file"
    not_a_tty.write_bytes(b"")
    bridge = BridgeServer(str(not_a_tty))
    try:
        with pytest.raises(SerialOpenError, match=str(not_a_tty)):
            await bridge.start_task
    finally:
        await bridge.close()
