"""``push_input``: a connection's bytes handed to a callback, over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from harness.pushed_input import PushedInput, can_push, push_input

WAIT = 10.0  # generous: two cores shared with other test runs
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[int, list[asyncio.Task[None]]]]:
    """A loopback server running ``handler`` per connection; its tasks are awaited at the end."""
    tasks: list[asyncio.Task[None]] = []

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(connected, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], tasks
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Return once ``predicate()`` holds (checked every 10 ms): for states no event reports."""
    try:
        async with asyncio.timeout(WAIT):
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"not true within {WAIT} s: {what}")


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def test_bytes_the_reader_buffered_come_first_and_nothing_is_lost() -> None:
    received = bytearray()
    first = b"A" * 5000
    second = b"B" * 5000 + b"END"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.extend(await reader.readexactly(1))  # the rest of ``first`` stays buffered
        writer.write(b"go\n")
        await push_input(reader, writer, received.extend)

    async with serving(handler) as (port, tasks):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(first)
        async with asyncio.timeout(WAIT):
            assert await reader.readline() == b"go\n"
        writer.write(second)
        writer.write_eof()  # push_input returns at the end of the input
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*tasks)
        await close(writer)
    assert bytes(received) == first + second


async def test_a_peer_that_does_not_read_stops_the_input_until_it_reads() -> None:
    """Each byte in asks for 64 out: with the output unread, reading pauses (bounded buffer)."""
    pushed: list[PushedInput] = []
    transports: list[asyncio.WriteTransport] = []
    taken = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transports.append(writer.transport)

        def consume(data: bytes) -> None:
            nonlocal taken
            taken += len(data)
            writer.write(data * 64)

        await push_input(reader, writer, consume, pushed.append)

    async with serving(handler) as (port, tasks):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)
        sent = 0
        chunk = b"x" * 1024
        try:
            await eventually(lambda: bool(pushed), "the connection is pushed")
            # Keep offering input (without waiting on the peer) until the server holds it.
            async with asyncio.timeout(WAIT):
                while "write" not in pushed[0].holds:
                    writer.write(chunk)
                    sent += len(chunk)
                    await asyncio.sleep(0)
            assert not transports[0].is_reading()  # type: ignore[attr-defined]
            writer.write_eof()
            # Reading everything releases the hold: every byte comes back 64 times.
            echoed = 0
            async with asyncio.timeout(WAIT):
                while data := await reader.read(65536):
                    assert set(data) == {ord("x")}
                    echoed += len(data)
                await asyncio.gather(*tasks)
        finally:
            await close(writer)
    assert taken == sent
    assert echoed == 64 * sent
    assert not pushed[0].holds


async def test_hold_pauses_reading_until_every_hold_is_released() -> None:
    pushed: list[PushedInput] = []
    transports: list[asyncio.WriteTransport] = []
    received = bytearray()
    arrived = asyncio.Event()

    def consume(data: bytes) -> None:
        received.extend(data)
        arrived.set()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transports.append(writer.transport)
        await push_input(reader, writer, consume, pushed.append)

    async with serving(handler) as (port, tasks):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await eventually(lambda: bool(pushed), "the connection is pushed")
            pushed[0].hold("room")
            pushed[0].hold("other")
            writer.write(b"held")
            await writer.drain()
            pushed[0].release("room")
            assert not transports[0].is_reading()  # type: ignore[attr-defined]
            assert pushed[0].holds == {"other"}
            pushed[0].release("other")
            async with asyncio.timeout(WAIT):
                await arrived.wait()
            assert bytes(received) == b"held"
            writer.write_eof()
            async with asyncio.timeout(WAIT):
                await asyncio.gather(*tasks)
        finally:
            await close(writer)


async def test_a_lost_connection_ends_push_input_and_restores_the_stream_protocol() -> None:
    protocols: list[tuple[asyncio.BaseProtocol, asyncio.BaseTransport]] = []
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        protocols.append((writer.transport.get_protocol(), writer.transport))
        try:
            await push_input(reader, writer, lambda data: None)
            outcome.set_result(None)
        except ConnectionError as e:
            outcome.set_result(e)

    async with serving(handler) as (port, _):
        sock = socket.create_connection(("127.0.0.1", port))
        try:
            sock.sendall(b"some input")
            await eventually(lambda: bool(protocols), "the connection is accepted")
            # An RST, not a FIN: SO_LINGER with a zero timeout.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            sock.close()
        async with asyncio.timeout(WAIT):
            error = await outcome
    assert error is None or isinstance(error, ConnectionError)
    protocol, transport = protocols[0]
    assert transport.get_protocol() is protocol


async def test_only_asyncio_streams_can_be_pushed() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert can_push(reader, writer)
        assert not can_push(object(), writer)
        assert not can_push(reader, object())
        writer.write(b"checked\n")

    async with serving(handler) as (port, tasks):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(WAIT):
            assert await reader.readline() == b"checked\n"
            await asyncio.gather(*tasks)
        await close(writer)
