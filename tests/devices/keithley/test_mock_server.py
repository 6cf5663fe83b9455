"""MockServer through real sockets: framing, timing, device clear, flow control, lifetime."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from devices.keithley.mock_keithley import MockKeithley
from devices.keithley.mock_server import MockServer
from harness.tcpip import OneClientServer

WAIT = 10.0  # generous: two cores shared with other test runs
IDN_6517B = b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x "


class RawClient:
    """A plain asyncio stream client that reads replies up to a terminator."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def line(self, terminator: bytes = b"\n") -> bytes:
        """The next reply without its terminator."""
        async with asyncio.timeout(WAIT):
            data = await self.reader.readuntil(terminator)
        return data[: -len(terminator)]

    async def query(self, text: str, terminator: bytes = b"\n") -> bytes:
        await self.send(text.encode() + b"\n")
        return await self.line(terminator)

    async def at_eof(self) -> bool:
        async with asyncio.timeout(WAIT):
            return await self.reader.read(1) == b""

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


ServerFactory = Callable[..., Awaitable[MockServer]]
ClientFactory = Callable[[MockServer], Awaitable[RawClient]]


@pytest.fixture
async def make_server() -> AsyncIterator[ServerFactory]:
    servers: list[MockServer] = []

    async def make(**kwargs: Any) -> MockServer:
        server = MockServer(**kwargs)
        servers.append(server)
        async with asyncio.timeout(WAIT):
            await server.start_task
        return server

    yield make
    for server in reversed(servers):
        await server.close()


@pytest.fixture
async def connect() -> AsyncIterator[ClientFactory]:
    clients: list[RawClient] = []

    async def open_client(server: MockServer) -> RawClient:
        assert server.port
        async with asyncio.timeout(WAIT):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        client = RawClient(reader, writer)
        clients.append(client)
        return client

    yield open_client
    for client in reversed(clients):
        await client.close()


async def wait_until_client_gone(server: MockServer) -> None:
    async with asyncio.timeout(WAIT):
        await asyncio.shield(server.read_loop_task)
    assert not server.connected


# -- construction and API surface ----------------------------------------------------------


async def test_server_binds_a_free_port_and_exposes_the_device(make_server: ServerFactory) -> None:
    server = await make_server(speed=0)
    assert isinstance(server, OneClientServer)
    assert isinstance(server.device, MockKeithley)
    assert server.device.config.model == "6517B"
    assert isinstance(server.port, int) and server.port > 0
    assert server.host == "127.0.0.1"
    assert server.read_loop_task.done()


async def test_6514_model_answers_its_own_identity(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(model="6514", speed=0)
    client = await connect(server)
    assert b"MODEL 6514" in await client.query("*IDN?")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"terminator": b"\r\r"},
        {"terminator": b"\n", "output_terminator": "CR"},
        {"no_such_key": 1},
        {"model": "2000"},
        {"speed": -1.0},
    ],
)
async def test_invalid_configuration_raises_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MockServer(**kwargs)


async def test_config_overrides_reach_the_model(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0, serial_number="1234567", seed=7)
    client = await connect(server)
    assert (await client.query("*IDN?")).split(b",")[2] == b"1234567"
    assert server.device.config.seed == 7


async def test_server_write_str_reaches_the_client(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0, terminator=b"\r")
    client = await connect(server)
    async with asyncio.timeout(WAIT):
        await server.connected_task
    await server.write_str("hello")
    assert await client.line(b"\r") == b"hello"


# -- framing and replies -------------------------------------------------------------------


@pytest.mark.parametrize("terminator", [b"\n", b"\r", b"\r\n", b"\n\r"])
async def test_reply_ends_with_the_output_terminator(
    make_server: ServerFactory, connect: ClientFactory, terminator: bytes
) -> None:
    server = await make_server(speed=0, terminator=terminator)
    client = await connect(server)
    await client.send(b"*IDN?\n*IDN?\r")
    async with asyncio.timeout(WAIT):
        data = await client.reader.readexactly(2 * (len(IDN_6517B) + len(terminator)))
    assert data == (IDN_6517B + terminator) * 2


@pytest.mark.parametrize("input_terminator", [b"\n", b"\r", b"\r\n", b"\n\r"])
async def test_every_input_terminator_ends_a_message_without_stray_output(
    make_server: ServerFactory, connect: ClientFactory, input_terminator: bytes
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    await client.send(input_terminator * 3 + b"*IDN?" + input_terminator + b";;" + input_terminator)
    await client.send(b"SYST:ERR?\n")
    assert await client.line() == IDN_6517B
    assert await client.line() == b'0,"No error"'


async def test_message_split_into_single_bytes(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    for byte in b":sens:volt:nplc 2;nplc?\r\n":
        await client.send(bytes([byte]))
    assert await client.line() == b"2.000000E+00"


async def test_pipelined_queries_are_answered_in_order(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=1.0)
    client = await connect(server)
    values = [0.01, 0.5, 2, 7, 10]
    await client.send(b"".join(f":SENS:VOLT:NPLC {v}\n:SENS:VOLT:NPLC?\n".encode() for v in values))
    replies = [float(await client.line()) for _ in values]
    assert replies == values


async def test_set_commands_send_nothing(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    await client.send(b"*CLS\n:SYST:ZCH OFF\n:SENS:FUNC 'CURR'\n*IDN?\n")
    assert await client.line() == IDN_6517B


async def test_unknown_header_is_error_113_in_strict_mode(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    await client.send(b":FOO:BAR 1;*IDN?\n")
    assert (await client.query("SYST:ERR?")).startswith(b"-113,")


async def test_unknown_header_is_ignored_when_lenient(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0, strict=False)
    client = await connect(server)
    await client.send(b":FOO:BAR 1;*IDN?\n")
    assert await client.line() == IDN_6517B
    assert await client.query("SYST:ERR?") == b'0,"No error"'


async def test_garbage_bytes_do_not_close_the_connection(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    await client.send(b"\xff\xfe\x00\x7f\x1b[2J junk\n\x00\n")
    assert await client.query("*IDN?") == IDN_6517B
    assert server.connected


async def test_overlong_message_is_dropped_with_error_363(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    await client.send(b"*IDN?;" * 1000 + b"\n")
    assert (await client.query("SYST:ERR?")).startswith(b"-363,")
    assert await client.query("*IDN?") == IDN_6517B


# -- device clear --------------------------------------------------------------------------


@pytest.mark.parametrize("clear", [b"\x03", b"\x18"])
async def test_device_clear_inside_a_message_discards_it_and_answers_dcl(
    make_server: ServerFactory, connect: ClientFactory, clear: bytes
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    await client.send(b"*ID" + clear + b"*IDN?\n")
    assert await client.line() == b"DCL"
    assert await client.line() == IDN_6517B


async def test_device_clear_discards_replies_not_yet_sent(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    # *RST keeps the device busy for 0.1 s, so the *IDN? reply is still pending.
    server = await make_server(speed=1.0)
    client = await connect(server)
    await client.send(b"*RST\n*IDN?\n\x03SYST:ERR?\n")
    assert await client.line() == b"DCL"
    assert await client.line() == b'0,"No error"'


async def test_dcl_terminator_crlf(make_server: ServerFactory, connect: ClientFactory) -> None:
    server = await make_server(speed=0, terminator=b"\r", dcl_terminator="CRLF")
    client = await connect(server)
    await client.send(b"\x03*IDN?\r")
    async with asyncio.timeout(WAIT):
        data = await client.reader.readexactly(5 + len(IDN_6517B) + 1)
    assert data == b"DCL\r\n" + IDN_6517B + b"\r"


# -- timing --------------------------------------------------------------------------------


@pytest.mark.parametrize(("speed", "at_least"), [(1.0, 0.1), (0.25, 0.4)])
async def test_reply_waits_for_the_device_time_scaled_by_speed(
    make_server: ServerFactory, connect: ClientFactory, speed: float, at_least: float
) -> None:
    # *RST takes reset_duration_s = 0.1 s of device time (§6.4).
    server = await make_server(speed=speed)
    client = await connect(server)
    started = time.monotonic()
    await client.send(b"*RST\n*IDN?\n")
    assert await client.line() == IDN_6517B
    assert time.monotonic() - started >= at_least * 0.95


async def test_speed_zero_answers_many_queries_quickly(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    await client.send(b"*RST\n" + b":SYST:ZCH OFF;:INIT\n" * 50 + b"*IDN?\n")
    assert await client.line() == IDN_6517B


# -- blocked units, poll and next_wakeup ---------------------------------------------------


async def test_unit_waiting_for_a_manual_trigger_is_released_by_wakeup(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    await client.send(b"*RST;:TRIG:SOUR MAN;:INIT\n*OPC?\n*IDN?\n")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await client.reader.readuntil(b"\n")
    assert server.device.inject_trigger("MAN")
    server.wakeup()
    assert await client.line() == b"1"
    assert await client.line() == IDN_6517B


async def test_device_clear_cancels_a_waiting_unit(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    await client.send(b"*RST;:TRIG:SOUR MAN;:INIT\n*OPC?\n")
    await client.send(b"\x18*IDN?\n")
    assert await client.line() == b"DCL"
    assert await client.line() == IDN_6517B


# -- flow control --------------------------------------------------------------------------


async def test_xoff_holds_replies_until_xon(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0, serial={"xonxoff": True})
    client = await connect(server)
    await client.send(b"\x13*IDN?\n")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await client.reader.readuntil(b"\n")
    await client.send(b"\x11")
    assert await client.line() == IDN_6517B


async def test_a_client_that_reads_no_replies_stops_being_read_and_loses_none(
    make_server: ServerFactory
) -> None:
    """The server stops taking input while its replies wait unread; reading resumes it."""
    server = await make_server(speed=0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    client = RawClient(reader, writer)
    try:
        async with asyncio.timeout(WAIT):
            while server._writer is None:  # noqa: ASYNC110 - no event reports the accept
                await asyncio.sleep(0.01)
            transport = server._writer.transport
            sent = 0
            # Queries without reading a reply, until the server stops reading them.
            while transport.is_reading():  # type: ignore[attr-defined]
                writer.write(b"*IDN?\n" * 100)
                sent += 100
                await asyncio.sleep(0)
        assert transport.get_write_buffer_size() < sent * len(IDN_6517B)
        for _ in range(sent):
            assert await client.line() == IDN_6517B
        assert await client.query("SYST:ERR?") == b'0,"No error"'
    finally:
        await client.close()


async def test_without_xonxoff_the_bytes_are_invalid_characters(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    await client.send(b"*IDN?\x13\n")
    assert (await client.query("SYST:ERR?")).startswith(b"-101,")


# -- connections ---------------------------------------------------------------------------


async def test_second_client_is_rejected_while_the_first_is_served(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    first = await connect(server)
    assert await first.query("*IDN?") == IDN_6517B
    second = await connect(server)
    assert await second.at_eof()
    assert await first.query("*IDN?") == IDN_6517B


async def test_command_loop_runs_only_while_a_client_is_connected(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    assert await client.query("*IDN?") == IDN_6517B
    assert not server.read_loop_task.done()
    await client.close()
    await wait_until_client_gone(server)
    assert server.read_loop_task.done()


async def test_device_state_survives_a_reconnect_but_partial_input_does_not(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    first = await connect(server)
    assert await first.query(":SENS:VOLT:NPLC 5;NPLC?") == b"5.000000E+00"
    await first.send(b"*ID")
    await first.close()
    await wait_until_client_gone(server)
    second = await connect(server)
    await second.send(b"N?\n")
    assert await second.query(":SENS:VOLT:NPLC?") == b"5.000000E+00"
    assert (await second.query("SYST:ERR?")).startswith(b"-113,")


async def test_back_to_back_clients_are_each_served(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    # Each client connects as soon as the previous one closed, without waiting for the
    # server to notice: the new connection must not be lost in the hand-over.
    server = await make_server(speed=0)
    for _ in range(5):
        client = await connect(server)
        assert await client.query("*IDN?") == IDN_6517B
        await client.close()


async def test_replies_owed_after_a_half_close_are_delivered(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=1.0)
    client = await connect(server)
    await client.send(b"*RST\n*IDN?\n")
    client.writer.write_eof()
    assert await client.line() == IDN_6517B
    assert await client.at_eof()


async def test_close_disconnects_the_client_and_stops_the_loop(
    make_server: ServerFactory, connect: ClientFactory
) -> None:
    server = await make_server(speed=0)
    client = await connect(server)
    assert await client.query("*IDN?") == IDN_6517B
    await server.close()
    assert await client.at_eof()
    assert server.read_loop_task.done()
    assert server.done_task.done()


async def test_async_context_manager_starts_and_closes() -> None:
    async with MockServer(speed=0) as server:
        assert server.port
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(b"*IDN?\n")
            async with asyncio.timeout(WAIT):
                assert await reader.readuntil(b"\n") == IDN_6517B + b"\n"
        finally:
            writer.close()
    assert server.done_task.done()
