"""F36: the emulated instrument sends XOFF/XON for its own input queue, over a real socket.

With ``serial.xonxoff`` the device sends XOFF (0x13) once its unprocessed input
passes 3/4 of ``max_message_length`` and XON (0x11) once it falls below 1/2
(spec §8.2); the bytes go out between whole replies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from devices.keithley.mock_server import MockServer

WAIT = 10.0  # generous: two cores shared with other test runs
XON, XOFF = b"\x11", b"\x13"
#: A BUS trigger layer and *OPC?: the device waits for a trigger nobody sends over the wire.
BLOCK = b"*RST;:TRIG:SOUR BUS;:INIT;*OPC?\n"
QUERY = b"*IDN?\n"
IDN = b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x \n"
ABOVE_XOFF = 1536 // (len(QUERY) - 1) + 1  # queued characters exclude the terminators


@contextlib.asynccontextmanager
async def serving(**config: Any) -> AsyncIterator[
        tuple[MockServer, asyncio.StreamReader, asyncio.StreamWriter]]:
    server = MockServer(speed=0, **config)
    try:
        async with asyncio.timeout(WAIT):
            await server.start_task
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            yield server, reader, writer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    finally:
        await server.close()


async def read_exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    async with asyncio.timeout(WAIT):
        return await reader.readexactly(size)


def release(server: MockServer) -> None:
    """The BUS trigger the blocked ``*OPC?`` waits for, injected as a control operation."""
    assert server.device.inject_trigger("BUS")
    server.wakeup()


async def test_xoff_when_queued_input_passes_three_quarters_and_xon_after_it_drains() -> None:
    async with serving(serial={"xonxoff": True}) as (server, reader, writer):
        writer.write(BLOCK + QUERY * ABOVE_XOFF)
        assert await read_exactly(reader, 1) == XOFF
        assert server.session.input_stopped
        release(server)
        expected = b"1\n" + IDN * ABOVE_XOFF + XON
        assert await read_exactly(reader, len(expected)) == expected
        assert server.session.pending_input == 0 and not server.session.input_stopped


async def test_xoff_only_once_the_input_passes_three_quarters() -> None:
    async with serving(serial={"xonxoff": True}) as (server, reader, writer):
        writer.write(b" " * 1536)
        async with asyncio.timeout(WAIT):
            while server.session.pending_input < 1536:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # bytes in the framer: no event reports them
        assert not server.session.input_stopped
        writer.write(b" ")
        assert await read_exactly(reader, 1) == XOFF
        # Still above the mark: no second XOFF; the blank message then ends and XON follows.
        writer.write(b" " * 10)
        writer.write(QUERY)
        assert await read_exactly(reader, len(IDN) + 1) == IDN + XON


@pytest.mark.parametrize("config", [
    {}, {"serial": {"xonxoff": True}, "fidelity": {"F36": "silent"}},
], ids=["xonxoff_off", "silent"])
async def test_no_flow_control_bytes_without_xonxoff_or_when_silent(
        config: dict[str, Any]) -> None:
    async with serving(**config) as (server, reader, writer):
        writer.write(BLOCK + QUERY * ABOVE_XOFF)
        async with asyncio.timeout(WAIT):
            while server.device.engine.queued_characters < 1536:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert not server.session.input_stopped
        release(server)
        writer.write(QUERY)
        expected = b"1\n" + IDN * (ABOVE_XOFF + 1)
        assert await read_exactly(reader, len(expected)) == expected


async def test_a_long_partial_message_counts_as_pending_input() -> None:
    async with serving(serial={"xonxoff": True}) as (_, reader, writer):
        writer.write(b" " * 1600)
        assert await read_exactly(reader, 1) == XOFF
        # A message of blanks does nothing (§1.1): once ended, the input is empty again.
        writer.write(QUERY)
        assert await read_exactly(reader, len(IDN) + 1) == IDN + XON


async def test_device_clear_empties_the_queue_and_sends_xon_after_dcl() -> None:
    async with serving(serial={"xonxoff": True}) as (_, reader, writer):
        writer.write(BLOCK + QUERY * ABOVE_XOFF)
        assert await read_exactly(reader, 1) == XOFF
        writer.write(b"\x03")
        assert await read_exactly(reader, 5) == b"DCL\n" + XON


@pytest.mark.parametrize("terminator", [b"\r", b"\r\n", b"\n\r"])
async def test_flow_bytes_never_split_a_reply_with_any_terminator(terminator: bytes) -> None:
    async with serving(serial={"xonxoff": True}, terminator=terminator) as (
            server, reader, writer):
        writer.write(BLOCK + QUERY * ABOVE_XOFF)
        assert await read_exactly(reader, 1) == XOFF
        release(server)
        idn = IDN[:-1] + terminator
        expected = b"1" + terminator + idn * ABOVE_XOFF + XON
        assert await read_exactly(reader, len(expected)) == expected
