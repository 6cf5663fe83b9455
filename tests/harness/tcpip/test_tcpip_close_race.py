"""A connection that arrives while the previous client is being closed (§7.3, §17.3).

The handler and every close path are serialised: the new connection is judged
only once the close has finished, and is then accepted with callback(True).
The interleavings are forced with events and real loopback sockets:

* "stream": the close waits in ``wait_closed`` because the server still has
  bytes queued for a peer that does not read (the transport flushes before it
  closes); the peer reads them only once the new connection has arrived;
* "callback": the close waits inside callback(False), on an event.

Each window is driven through each close path: the monitor noticing a drop,
a read that fails (``_close_client()``), and a deliberate ``close_client()``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

from harness import tcpip

if TYPE_CHECKING:
    from conftest import Loopback

# Bytes asked for SO_RCVBUF/SO_SNDBUF on the first client's connection (Linux doubles it).
SOCKET_BUFFER = 1 << 16
# Bytes per write when filling the send path to a client that does not read: far more
# than both socket buffers hold.
FILL_CHUNK = 1 << 21
# Upper bound on what may be written before the transport must start queueing.
FILL_LIMIT = 64 << 20


class ArrivalServer(tcpip.OneClientServer):
    """A OneClientServer that reports each connection as its handler starts (§5.5).

    Put it first among the bases to add the report to another server class.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.arrivals: asyncio.Queue[Any] = asyncio.Queue()
        super().__init__(*args, **kwargs)

    async def _set_reader_writer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.arrivals.put_nowait(writer.get_extra_info("peername"))
        await super()._set_reader_writer(reader, writer)


class ArrivalReadLoopServer(ArrivalServer, tcpip.TestOneClientReadLoopServer):
    """The test read-loop server, reporting each connection as its handler starts."""


class GatedCallback:
    """A connect callback that logs when each call starts and ends.

    After ``hold_false()``, callback(False) waits for ``release`` before it returns.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, bool]] = []
        self.values: asyncio.Queue[bool] = asyncio.Queue()
        self.false_entered = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    def hold_false(self) -> None:
        self.release.clear()

    async def callback(self, server: tcpip.BaseClientOrServer) -> None:
        connected = server.connected
        self.events.append(("enter", connected))
        self.values.put_nowait(connected)
        if not connected:
            self.false_entered.set()
            await self.release.wait()
        self.events.append(("exit", connected))

    async def expect(self, connected: bool, within: float) -> None:
        """The next call had ``connected``; ``within=0``: it has already started."""
        try:
            if within <= 0:
                value = self.values.get_nowait()
            else:
                value = await asyncio.wait_for(self.values.get(), within)
        except (TimeoutError, asyncio.QueueEmpty):
            pytest.fail(f"no callback({connected}) within {within} s; events {self.events}")
        assert value is connected, self.events

    def assert_sequential(self, *values: bool) -> None:
        """The calls had these values, in order, and none overlapped another."""
        expected = [(step, value) for value in values for step in ("enter", "exit")]
        assert self.events == expected, self.events


async def make_server(loopback: Loopback, calls: GatedCallback, interval: float) -> ArrivalServer:
    server = ArrivalServer(
        tcpip.LOCALHOST_IPV4,
        0,
        loopback.log,
        connect_callback=calls.callback,
        monitor_connection_interval=interval,
    )
    return await loopback.enter(server)


async def connect_first(
    loopback: Loopback, server: ArrivalServer, calls: GatedCallback
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The first client: small, fixed socket buffers at both ends (see `fill_send_path`)."""
    assert server.port is not None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Set before connecting, so that the receive window stays small.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(loopback.STD_WAIT):
            await asyncio.get_running_loop().sock_connect(sock, (tcpip.LOCALHOST_IPV4, server.port))
            reader, writer = await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise
    loopback.close_writer_at_teardown(writer)
    await asyncio.wait_for(server.arrivals.get(), loopback.STD_WAIT)
    await calls.expect(True, loopback.STD_WAIT)
    assert server._writer is not None
    server_socket = server._writer.get_extra_info("socket")
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
    return reader, writer


async def connect_second(
    loopback: Loopback, server: ArrivalServer
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect and wait until the server's handler has started for this connection."""
    assert server.port is not None
    reader, writer = await loopback.raw_connection(tcpip.LOCALHOST_IPV4, server.port)
    arrived = await asyncio.wait_for(server.arrivals.get(), loopback.STD_WAIT)
    assert arrived == writer.get_extra_info("sockname")
    return reader, writer


def fill_send_path(server: tcpip.OneClientServer) -> None:
    """Queue bytes in the server's transport for a client that is not reading.

    The socket buffers are fixed and small (`connect_first`), so the kernel can
    never take all of the last chunk: the transport holds bytes until the
    client reads, and closing it waits for that.
    """
    writer = server._writer
    assert writer is not None
    written = 0
    while writer.transport.get_write_buffer_size() == 0:
        assert written < FILL_LIMIT, "the socket buffers never filled up"
        writer.write(b"x" * FILL_CHUNK)
        written += FILL_CHUNK
    writer.write(b"x" * FILL_CHUNK)


async def start_read(server: tcpip.OneClientServer) -> asyncio.Future[str]:
    """``server.read_str()`` as a task that has started waiting for data."""
    reading = asyncio.ensure_future(server.read_str())
    # One pass of the loop runs the new task up to its read, which cannot complete.
    await asyncio.sleep(0)
    assert not reading.done()
    return reading


async def read_to_eof(loopback: Loopback, reader: asyncio.StreamReader) -> None:
    async with asyncio.timeout(loopback.STD_WAIT):
        while await reader.read(FILL_CHUNK):
            pass


async def assert_served(
    loopback: Loopback,
    server: tcpip.OneClientServer,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """``server`` has (reader, writer)'s peer as its client: a line each way."""
    assert server.connected
    assert server.should_be_connected
    assert server.connected_task.done()
    await server.write_str("to the new client")
    line = await asyncio.wait_for(reader.readuntil(b"\r\n"), loopback.STD_WAIT)
    assert line == b"to the new client\r\n"
    writer.write(b"from the new client\r\n")
    assert await asyncio.wait_for(server.read_str(), loopback.STD_WAIT) == "from the new client"


# --- the close waits for its stream to close -----------------------------------------------


async def test_monitor_close_in_progress_then_new_client(loopback: Loopback) -> None:
    calls = GatedCallback()
    server = await make_server(loopback, calls, interval=0.05)
    reader_a, writer_a = await connect_first(loopback, server, calls)
    fill_send_path(server)
    writer_a.write_eof()
    # The monitor has noticed the drop and is closing the stream, which cannot
    # finish before the client reads what is queued for it.
    await loopback.wait_until(lambda: server._writer is None, within=loopback.STD_WAIT)

    reader_b, writer_b = await connect_second(loopback, server)
    await read_to_eof(loopback, reader_a)

    await calls.expect(False, loopback.STD_WAIT)
    await calls.expect(True, loopback.STD_WAIT)
    calls.assert_sequential(True, False, True)
    await assert_served(loopback, server, reader_b, writer_b)


async def test_read_failure_close_in_progress_then_new_client(loopback: Loopback) -> None:
    calls = GatedCallback()
    server = await make_server(loopback, calls, interval=0)
    reader_a, writer_a = await connect_first(loopback, server, calls)
    fill_send_path(server)
    reading = await start_read(server)
    writer_a.write_eof()
    # The failed read is closing the stream.
    await loopback.wait_until(lambda: server._writer is None, within=loopback.SOON)

    reader_b, writer_b = await connect_second(loopback, server)
    await read_to_eof(loopback, reader_a)

    with pytest.raises(asyncio.IncompleteReadError):
        await asyncio.wait_for(reading, loopback.STD_WAIT)
    await calls.expect(False, loopback.STD_WAIT)
    await calls.expect(True, loopback.STD_WAIT)
    calls.assert_sequential(True, False, True)
    await assert_served(loopback, server, reader_b, writer_b)


async def test_close_client_in_progress_then_new_client(loopback: Loopback) -> None:
    calls = GatedCallback()
    server = await make_server(loopback, calls, interval=0)
    reader_a, _ = await connect_first(loopback, server, calls)
    fill_send_path(server)
    closing = asyncio.ensure_future(server.close_client())
    await loopback.wait_until(lambda: server._writer is None, within=loopback.SOON)

    reader_b, writer_b = await connect_second(loopback, server)
    await read_to_eof(loopback, reader_a)

    await asyncio.wait_for(closing, loopback.STD_WAIT)
    await calls.expect(False, loopback.STD_WAIT)
    await calls.expect(True, loopback.STD_WAIT)
    calls.assert_sequential(True, False, True)
    await assert_served(loopback, server, reader_b, writer_b)


async def test_failed_read_of_the_old_client_leaves_the_new_one_alone(
    loopback: Loopback,
) -> None:
    """A read of the old client that fails after the new one was accepted closes nothing."""
    calls = GatedCallback()
    server = await make_server(loopback, calls, interval=0)
    reader_a, _ = await connect_first(loopback, server, calls)
    reading = await start_read(server)
    fill_send_path(server)
    closing = asyncio.ensure_future(server.close_client())
    await loopback.wait_until(lambda: server._writer is None, within=loopback.SOON)

    # The pending read fails only when the old stream finally closes, after the
    # new connection has arrived.
    reader_b, writer_b = await connect_second(loopback, server)
    await read_to_eof(loopback, reader_a)

    with pytest.raises(asyncio.IncompleteReadError):
        await asyncio.wait_for(reading, loopback.STD_WAIT)
    await asyncio.wait_for(closing, loopback.STD_WAIT)
    await calls.expect(False, loopback.STD_WAIT)
    await calls.expect(True, loopback.STD_WAIT)
    await assert_served(loopback, server, reader_b, writer_b)
    calls.assert_sequential(True, False, True)


# --- the close waits inside callback(False) ------------------------------------------------


async def drop_by_monitor(server: tcpip.OneClientServer, writer_a: asyncio.StreamWriter) -> None:
    writer_a.close()


async def drop_by_failed_read(
    server: tcpip.OneClientServer, writer_a: asyncio.StreamWriter
) -> None:
    reading = await start_read(server)
    writer_a.close()
    with pytest.raises(asyncio.IncompleteReadError):
        await reading


async def drop_by_close_client(
    server: tcpip.OneClientServer, writer_a: asyncio.StreamWriter
) -> None:
    await server.close_client()


Dropper = Callable[[tcpip.OneClientServer, asyncio.StreamWriter], Awaitable[None]]


@pytest.mark.parametrize(
    ("drop", "interval"),
    [(drop_by_monitor, 0.05), (drop_by_failed_read, 0), (drop_by_close_client, 0)],
    ids=["monitor", "failed-read", "close_client"],
)
async def test_new_client_waits_for_callback_false_to_finish(
    drop: Dropper, interval: float, loopback: Loopback
) -> None:
    calls = GatedCallback()
    server = await make_server(loopback, calls, interval=interval)
    _, writer_a = await connect_first(loopback, server, calls)
    calls.hold_false()
    dropping = asyncio.ensure_future(drop(server, writer_a))
    await asyncio.wait_for(calls.false_entered.wait(), loopback.STD_WAIT)

    reader_b, writer_b = await connect_second(loopback, server)
    calls.release.set()

    await calls.expect(False, 0)
    await calls.expect(True, loopback.STD_WAIT)
    await asyncio.wait_for(dropping, loopback.STD_WAIT)
    calls.assert_sequential(True, False, True)
    await assert_served(loopback, server, reader_b, writer_b)


# --- the read-loop server ------------------------------------------------------------------


async def test_read_loop_server_serves_a_client_that_arrives_during_callback_false(
    loopback: Loopback,
) -> None:
    calls = GatedCallback()
    server = await loopback.read_loop_server(ArrivalReadLoopServer, connect_callback=calls.callback)
    _, writer_a = await connect_first(loopback, server, calls)
    calls.hold_false()
    writer_a.close()
    # The read loop's failed read is closing the client.
    await asyncio.wait_for(calls.false_entered.wait(), loopback.STD_WAIT)

    reader_b, writer_b = await connect_second(loopback, server)
    calls.release.set()
    await calls.expect(False, 0)
    await calls.expect(True, loopback.STD_WAIT)
    calls.assert_sequential(True, False, True)

    # The old client's EOF, then the new client's line, through the new read loop.
    assert await asyncio.wait_for(server._data_queue.get(), loopback.STD_WAIT) == ""
    writer_b.write(b"to the read loop\r\n")
    line = await asyncio.wait_for(server._data_queue.get(), loopback.STD_WAIT)
    assert line == "to the read loop"
    assert not server.read_loop_task.done()
    assert server.connected and server.should_be_connected
    assert server.connected_task.done()
    await server.write_str("reply")
    assert await asyncio.wait_for(reader_b.readline(), loopback.STD_WAIT) == b"reply\r\n"


# --- re-entry and close() ------------------------------------------------------------------


async def test_callback_true_may_close_the_client_it_was_given(loopback: Loopback) -> None:
    """The handler holds the lock while it awaits callback(True); a close from there works."""
    calls = GatedCallback()

    async def refuse(server: tcpip.BaseClientOrServer) -> None:
        await calls.callback(server)
        if server.connected:
            assert isinstance(server, tcpip.OneClientServer)
            await server.close_client()

    server = await loopback.enter(
        ArrivalServer(tcpip.LOCALHOST_IPV4, 0, loopback.log, connect_callback=refuse)
    )
    assert server.port is not None
    for _ in range(2):
        reader, _ = await connect_second(loopback, server)
        assert await asyncio.wait_for(reader.read(), loopback.STD_WAIT) == b""
        await calls.expect(True, loopback.STD_WAIT)
        await calls.expect(False, loopback.STD_WAIT)
    calls.assert_sequential(True, False, True, False)
    assert not server.should_be_connected
    assert not server.connected_task.done()


async def test_connection_waiting_when_close_begins_is_rejected(loopback: Loopback) -> None:
    """A connection still waiting to be judged when close() begins gets no callback."""
    calls = GatedCallback()
    server = await make_server(loopback, calls, interval=0)
    await connect_first(loopback, server, calls)
    calls.hold_false()
    dropping = asyncio.ensure_future(server.close_client())
    await asyncio.wait_for(calls.false_entered.wait(), loopback.STD_WAIT)
    reader_b, _ = await connect_second(loopback, server)

    closing = asyncio.ensure_future(server.close())
    # The listening socket is closed without waiting for the connection lock.
    await loopback.wait_until(lambda: server._server is None, within=loopback.STD_WAIT)
    calls.release.set()
    await asyncio.wait_for(asyncio.gather(dropping, closing), loopback.STD_WAIT)

    assert await asyncio.wait_for(reader_b.read(), loopback.STD_WAIT) == b""
    calls.assert_sequential(True, False)
    assert server.done_task.done()
    assert not server.connected
