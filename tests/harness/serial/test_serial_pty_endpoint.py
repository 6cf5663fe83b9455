"""``PtyEndpoint``: an emulator on a real pseudo-terminal, used by pyserial and pyvisa-py."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING

import pytest
import pyvisa
import serial

from devices.scpi import Reply
from harness.serial import LineSettings, PtyEndpoint, PtyError

if TYPE_CHECKING:
    from conftest import Endpoints, SerialClients

WAIT = 10.0
QUERIES = ["*IDN?", ":SENS:FUNC?", "*OPT?", ":SYST:ZCH?", "BOGUS", ":SYST:ERR?",
           ":SENS:CURR:NPLC 5", ":SENS:CURR:NPLC?", "*ESR?"]


class Repeater:
    """A tiny sans-IO device: every message comes back ``repeat`` times in one reply."""

    def __init__(self, repeat: int = 1) -> None:
        self.repeat = repeat
        self.clears = 0

    def receive(self, message: str, now: float) -> list[Reply]:
        return [(message * self.repeat, now)]

    def device_clear(self, now: float) -> list[Reply]:
        self.clears += 1
        return [("CLEARED", now)]

    def input_overrun(self, now: float) -> None:
        pass

    def poll(self, now: float) -> list[Reply]:
        return []

    def next_wakeup(self) -> float | None:
        return None


async def test_pyserial_on_the_pty_gets_the_answers_of_the_tcp_emulator(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    pty = await endpoints.pty()
    tcp = await endpoints.client((await endpoints.mock()).port)
    port = serial_clients.open(pty.path, baudrate=9600)
    for message in QUERIES:
        if message.endswith("?"):
            over_tcp = await endpoints.query(tcp, message)
            assert await port.query(message.encode() + b"\n") == over_tcp.encode() + b"\n"
        else:
            await tcp.write_str(message)
            await port.write(message.encode() + b"\n")


async def test_pyvisa_asrl_resource_on_the_pty_and_on_its_link(
        endpoints: Endpoints) -> None:
    link = endpoints.link()
    pty = await endpoints.pty(link=link)

    def identify(resource: str) -> str:
        manager = pyvisa.ResourceManager("@py")
        try:
            instrument = manager.open_resource(resource, read_termination="\n",
                                               write_termination="\n", timeout=WAIT * 1000)
            try:
                return str(instrument.query("*IDN?"))
            finally:
                instrument.close()
        finally:
            manager.close()

    assert pty.path is not None
    expected = "KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x "
    assert await asyncio.to_thread(identify, f"ASRL{pty.path}::INSTR") == expected
    assert await asyncio.to_thread(identify, f"ASRL{link}::INSTR") == expected


async def test_a_client_closing_the_port_does_not_end_the_endpoint(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    pty = await endpoints.pty(model="6514")
    first = serial_clients.open(pty.path)
    assert (await first.query(b"*IDN?\n")).startswith(b"KEITHLEY INSTRUMENTS INC.,MODEL 6514")
    first.close()
    second = serial_clients.open(pty.path)
    assert (await second.query(b"*IDN?\n")).startswith(b"KEITHLEY INSTRUMENTS INC.,MODEL 6514")


@pytest.mark.parametrize(("name", "terminator"), [("CR", b"\r"), ("CRLF", b"\r\n"),
                                                  ("LFCR", b"\n\r")])
async def test_replies_end_with_the_configured_output_terminator(
        endpoints: Endpoints, serial_clients: SerialClients, name: str,
        terminator: bytes) -> None:
    pty = await endpoints.pty(output_terminator=name)
    port = serial_clients.open(pty.path)
    # Input accepts CR and LF whatever the output terminator (§1.1).
    assert await port.query(b"*OPT?\r", terminator) == b"0" + terminator


@pytest.mark.parametrize("clear", [b"\x03", b"\x18"])
async def test_device_clear_discards_the_partial_message_and_owed_replies(
        endpoints: Endpoints, serial_clients: SerialClients, clear: bytes) -> None:
    # Realistic timing: the reading is owed for a while when the clear arrives.
    pty = await endpoints.pty(speed=1.0)
    port = serial_clients.open(pty.path)
    await port.write(b"*RST\n:SYST:ZCH OFF;:SENS:CURR:NPLC 10\n:READ?\n*IDN" + clear + b"*OPT?\n")
    # Replies are never reordered, so a surviving reading would come before "0".
    assert await port.readline() == b"DCL\n"
    assert await port.readline() == b"0\n"
    assert await port.query(b":SYST:ERR?\n") == b'0,"No error"\n'


async def test_device_clear_drops_paced_output_not_yet_sent(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    device = Repeater(repeat=40)
    pty = await endpoints.started_pty(PtyEndpoint(device, settings=LineSettings(baud=1200),
                                                  pace=True))
    port = serial_clients.open(pty.path)
    # 40 * 50 characters at 1200 baud: about 17 s on the line.
    await port.write(b"x" * 49 + b"\n")
    first = await port.read(10)
    await port.write(b"\x03")
    rest = await port.readline(b"CLEARED\n")
    assert rest.endswith(b"CLEARED\n")
    assert len(first) + len(rest) < 40 * 50
    assert device.clears == 1


async def test_pacing_at_9600_baud_makes_a_100_byte_reply_take_its_line_time(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    pty = await endpoints.pty(pace=True, serial={"baud": 9600})
    port = serial_clients.open(pty.path, baudrate=9600)
    started = time.monotonic()
    reply = await port.query(b"*IDN?;*IDN?\n")
    elapsed = time.monotonic() - started
    assert len(reply) >= 100
    assert elapsed >= len(reply) * 10 / 9600 >= 0.1


async def test_pacing_counts_start_data_parity_and_stop_bits(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    settings = LineSettings(baud=2400, data_bits=7, parity="even", stop_bits=2)
    assert settings.bits_per_character == 11
    pty = await endpoints.started_pty(PtyEndpoint(Repeater(), settings=settings, pace=True))
    port = serial_clients.open(pty.path)
    started = time.monotonic()
    reply = await port.query(b"y" * 99 + b"\n")
    elapsed = time.monotonic() - started
    assert reply == b"y" * 99 + b"\n"
    assert elapsed >= 100 * 11 / 2400


async def test_unpaced_output_is_not_held_to_the_line_rate(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    settings = LineSettings(baud=300)
    pty = await endpoints.started_pty(PtyEndpoint(Repeater(), settings=settings))
    port = serial_clients.open(pty.path)
    started = time.monotonic()
    reply = await port.query(b"z" * 199 + b"\n")
    # 200 characters at 300 baud would take 6.7 s on a real line.
    assert reply == b"z" * 199 + b"\n"
    assert time.monotonic() - started < 200 * 10 / 300


async def test_xoff_from_the_host_holds_replies_until_xon(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    pty = await endpoints.pty(serial={"xonxoff": True})
    port = serial_clients.open(pty.path)
    await port.write(b"\x13*OPT?\n")
    port.port.timeout = 0.3
    assert await port.readline() == b""
    port.port.timeout = WAIT
    await port.write(b"\x11")
    assert await port.readline() == b"0\n"


async def test_flow_bytes_are_removed_from_input_only_with_xonxoff(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    with_flow = serial_clients.open((await endpoints.pty(serial={"xonxoff": True})).path)
    assert await with_flow.query(b"*O\x13\x11PT?\n") == b"0\n"
    without = serial_clients.open((await endpoints.pty()).path)
    await without.write(b"*O\x13PT?\n")
    assert await without.query(b":SYST:ERR?\n") == b'-101,"Invalid character"\n'


async def test_serial_break_acts_as_device_clear(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    pty = await endpoints.pty()
    port = serial_clients.open(pty.path)
    await port.write(b"*ID")
    # Nothing can be read until the partial message reaches the endpoint.
    await endpoints.eventually(lambda: pty.session.framer.pending == 3)
    pty.serial_break()
    assert await port.readline() == b"DCL\n"
    assert await port.query(b"N?\n*OPT?\n") == b"0\n"


async def test_link_is_published_replaced_when_stale_and_removed_on_close(
        endpoints: Endpoints) -> None:
    link = endpoints.link()
    os.symlink("/dev/pts/does-not-exist", link)
    pty = await endpoints.pty(link=link)
    assert os.readlink(link) == pty.path
    await pty.close()
    assert not link.is_symlink()


async def test_a_link_path_that_is_a_regular_file_is_refused(endpoints: Endpoints) -> None:
    link = endpoints.link()
    link.write_text("not a link")
    endpoint = PtyEndpoint(Repeater(), link=link)
    with pytest.raises(PtyError, match="not a symlink"):
        await endpoint.start()
    assert not endpoint.started
    assert link.read_text() == "not a link"


async def test_closing_the_endpoint_gives_clients_an_error_not_a_hang(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    pty = await endpoints.pty()
    port = serial_clients.open(pty.path)
    assert await port.query(b"*OPT?\n") == b"0\n"
    await pty.close()
    with pytest.raises(serial.SerialException):
        await asyncio.wait_for(port.read(1), WAIT)


async def test_a_mock_servers_device_is_served_on_a_pty_too(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    server = await endpoints.mock(terminator=b"\r")
    pty = await endpoints.started_pty(PtyEndpoint.for_keithley(
        server.config, device=server.device, name=server.name, log=server.log))
    tcp = await endpoints.client(server.port, terminator=b"\r")
    await tcp.write_str(":SENS:VOLT:NPLC 7")
    assert await endpoints.query(tcp, "*OPT?") == "0"
    assert pty.device is server.device
    port = serial_clients.open(pty.path)
    assert float(await port.query(b":SENS:VOLT:NPLC?\n", b"\r")) == 7
