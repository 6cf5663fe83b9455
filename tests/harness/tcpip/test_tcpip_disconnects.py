"""§19.1 statements 21-34: disconnects, closes and how each end notices them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

from harness import tcpip

if TYPE_CHECKING:
    from conftest import CallbackRecorder, Loopback


async def connected_pair(
    loopback: Loopback, server_kwargs: dict[str, Any] | None = None, **client_kwargs: Any
) -> tuple[tcpip.OneClientServer, CallbackRecorder, tcpip.Client, CallbackRecorder]:
    """A server and a client, each with a recorder that has seen callback(True)."""
    server_calls = loopback.recorder("server")
    client_calls = loopback.recorder("client")
    server = await loopback.server(connect_callback=server_calls.callback, **(server_kwargs or {}))
    client = await loopback.client(server, connect_callback=client_calls.callback, **client_kwargs)
    await server_calls.expect(True)
    await client_calls.expect(True)
    return server, server_calls, client, client_calls


async def assert_exchange(
    loopback: Loopback, server: tcpip.OneClientServer, client: tcpip.Client
) -> None:
    """A line each way."""
    await client.write_str("client to server")
    assert await asyncio.wait_for(server.read_str(), loopback.STD_WAIT) == "client to server"
    await server.write_str("server to client")
    assert await asyncio.wait_for(client.read_str(), loopback.STD_WAIT) == "server to client"


async def start_waiting(call: Callable[[], Awaitable[Any]]) -> asyncio.Task[Any]:
    """Start ``call`` as a task and let it run up to its first real suspension."""
    task = asyncio.ensure_future(call())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done(), f"the read finished before the peer closed: {task}"
    return task


# --- 21: client close() ------------------------------------------------------------------


async def test_client_close(loopback: Loopback) -> None:
    """§19.1-21: client close(): callbacks at both ends and the resulting states."""
    server, server_calls, client, client_calls = await connected_pair(
        loopback, run_heartbeat_send_task=True, heartbeat_send_sleep=60
    )
    # Read the first heartbeat so that nothing unread keeps the server's end "connected".
    assert await asyncio.wait_for(server.readline(), loopback.STD_WAIT) == b"heartbeat\r\n"
    assert not client.heartbeat_send_task.done()
    connected_task = server.connected_task

    await client.close()
    await client_calls.expect(False, within=0)
    await server_calls.expect(False, within=loopback.MONITOR_BOUND)
    assert server.should_be_connected
    assert server.connected_task is connected_task and connected_task.done()
    assert not client.should_be_connected
    assert client.done_task.done() and client.done_task.result() is None
    assert client.heartbeat_send_task.done()

    await client.close()
    await client_calls.expect_none(loopback.MONITOR_BOUND)
    assert client_calls.values == [True, False]
    assert server_calls.values == [True, False]
    assert client.done_task.result() is None


# --- 22/23: server close_client() and basic_close_client() -----------------------------


async def assert_client_sees_the_end(loopback: Loopback, client: tcpip.Client) -> None:
    """readline raises, or returns b"" at EOF with the next call raising."""
    errors = (asyncio.IncompleteReadError, ConnectionError)
    try:
        data = await asyncio.wait_for(client.readline(), loopback.STD_WAIT)
    except errors:
        return
    assert data == b""
    with pytest.raises(errors):
        await asyncio.wait_for(client.readline(), loopback.STD_WAIT)


async def test_server_close_client(loopback: Loopback) -> None:
    """§19.1-22: server close_client(): states at both ends, and a new client is accepted."""
    server, server_calls, client, client_calls = await connected_pair(loopback)
    old_connected_task = server.connected_task

    await server.close_client()
    await server_calls.expect(False, within=0)
    assert not server.connected
    assert not server.should_be_connected
    assert server.connected_task is not old_connected_task
    assert not server.connected_task.done()
    assert not server.done_task.done()

    await client_calls.expect(False, within=loopback.MONITOR_BOUND)
    assert client.should_be_connected
    await assert_client_sees_the_end(loopback, client)

    await server.close_client()
    assert not server.connected_task.done()
    await server_calls.expect_none(0.1)

    new_calls = loopback.recorder("new client")
    new_client = await loopback.client(server, connect_callback=new_calls.callback)
    await server_calls.expect(True)
    await new_calls.expect(True)
    await assert_exchange(loopback, server, new_client)
    assert server_calls.values == [True, False, True]


async def test_server_basic_close_client(loopback: Loopback) -> None:
    """§19.1-23: basic_close_client(): callback False, should_be_connected unchanged."""
    server, server_calls, _, client_calls = await connected_pair(loopback)
    old_connected_task = server.connected_task
    assert server.should_be_connected

    await server.basic_close_client()
    await server_calls.expect(False, within=0)
    assert not server.connected
    assert server.should_be_connected
    assert server.connected_task is not old_connected_task
    assert not server.connected_task.done()
    await client_calls.expect(False, within=loopback.MONITOR_BOUND)


# --- 24-26: server close() ---------------------------------------------------------------


async def test_server_close(loopback: Loopback) -> None:
    """§19.1-24: server close(): states, callback, client EOF, port refused, repeatable."""
    server, server_calls, client, _ = await connected_pair(loopback)
    host, port = server.host, server.port
    assert host is not None and port is not None
    old_connected_task = server.connected_task

    await asyncio.wait_for(server.close(), 3 * loopback.STD_WAIT)
    assert not server.connected
    assert server.done_task.done() and server.done_task.result() is None
    assert server.connected_task is not old_connected_task
    assert not server.connected_task.done()
    assert server._server is None
    await server_calls.expect(False, within=0)
    assert client._reader is not None
    assert await asyncio.wait_for(client._reader.read(), loopback.STD_WAIT) == b""
    await loopback.assert_refused(host, port)

    await asyncio.wait_for(server.close(), loopback.STD_WAIT)
    await asyncio.wait_for(server.close_client(), loopback.STD_WAIT)
    assert server.done_task.result() is None
    assert server._server is None
    await server_calls.expect_none(0.1)


class FaultyWaitClosed:
    """Replaces ``wait_closed`` of one StreamWriter: the first call fails or hangs.

    Later calls go to the real method, so that the final clean-up can finish.
    """

    def __init__(self, writer: asyncio.StreamWriter, fault: str) -> None:
        self.real = writer.wait_closed
        self.fault = fault
        self.calls = 0
        self.entered = asyncio.Event()

    async def __call__(self) -> None:
        self.calls += 1
        if self.calls > 1:
            await self.real()
            return
        self.entered.set()
        if self.fault == "reset":
            raise ConnectionResetError("simulated reset while closing")
        await asyncio.Event().wait()  # never finishes


@pytest.mark.parametrize("fault", ["reset", "hang"])
async def test_close_closes_the_listening_socket_when_the_writer_fails(
    fault: str, loopback: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§19.1-25: a writer whose wait_closed raises or hangs does not keep the port open."""
    monkeypatch.setattr(tcpip.one_client_server, "CLOSE_WAIT_TIME", 0.2)
    server, _, _, _ = await connected_pair(loopback)
    host, port = server.host, server.port
    assert host is not None and port is not None
    assert server._writer is not None
    faulty = FaultyWaitClosed(server._writer, fault)
    monkeypatch.setattr(server._writer, "wait_closed", faulty)

    await asyncio.wait_for(server.close(), 3 * loopback.STD_WAIT)
    assert faulty.entered.is_set()
    assert server.done_task.done()
    await loopback.assert_refused(host, port)


async def test_cancelling_a_blocked_close_still_closes_the_listening_socket(
    loopback: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§19.1-26: cancelling close() raises CancelledError; the port and done_task are closed."""
    server, _, _, _ = await connected_pair(loopback)
    host, port = server.host, server.port
    assert host is not None and port is not None
    assert server._writer is not None
    faulty = FaultyWaitClosed(server._writer, "hang")
    monkeypatch.setattr(server._writer, "wait_closed", faulty)

    close_task = asyncio.create_task(server.close())
    await asyncio.wait_for(faulty.entered.wait(), loopback.STD_WAIT)
    close_task.cancel()
    done, _ = await asyncio.wait({close_task}, timeout=loopback.STD_WAIT)
    assert close_task in done, "close() did not finish after being cancelled"
    assert close_task.cancelled()
    assert server.done_task.done()
    await loopback.assert_refused(host, port)


# --- 27/28: client basic_close() and close() -------------------------------------------


async def test_client_basic_close(loopback: Loopback) -> None:
    """§19.1-27: basic_close(): not connected, should_be_connected kept, I/O raises."""
    _, _, client, client_calls = await connected_pair(loopback)
    await client.basic_close()
    await client_calls.expect(False, within=0)
    assert not client.connected
    assert client.should_be_connected
    assert client.done_task.done() and client.done_task.result() is None
    await loopback.assert_io_not_connected(client)


@pytest.mark.parametrize("heartbeat", [False, True], ids=["no-heartbeat", "heartbeat"])
async def test_client_close_states(heartbeat: bool, loopback: Loopback) -> None:
    """§19.1-28: client close(), with and without the heartbeat task."""
    _, _, client, client_calls = await connected_pair(loopback, run_heartbeat_send_task=heartbeat)
    assert client.heartbeat_send_task.done() == (not heartbeat)
    await client.close()
    await client_calls.expect(False, within=0)
    assert not client.connected
    assert not client.should_be_connected
    assert client.done_task.done() and client.done_task.result() is None
    assert client.heartbeat_send_task.done()
    await loopback.assert_io_not_connected(client)
    assert client._reader is not None
    assert await asyncio.wait_for(client._reader.readline(), loopback.SOON) == b""
    await client_calls.expect_none(0.1)
    assert client_calls.values == [True, False]


# --- 29-31: monitors and reconnects ------------------------------------------------------


async def test_client_monitor_reports_a_server_side_close_and_stops(loopback: Loopback) -> None:
    """§19.1-29: callback(False) within 0.5 s, the monitor ends, no reconnect."""
    server, server_calls, client, client_calls = await connected_pair(loopback)
    assert not client._monitor_connection_task.done()
    await server.close_client()
    await client_calls.expect(False, within=loopback.MONITOR_BOUND)
    await loopback.wait_done(client._monitor_connection_task, loopback.SOON)
    assert client.should_be_connected
    # Never reconnects: the server sees no new client and the client stays down.
    await server_calls.expect(False, within=0)
    await server_calls.expect_none(loopback.MONITOR_BOUND)
    assert not server.connected_task.done()
    assert not client.connected
    await client_calls.expect_none(0)


async def test_no_server_monitor_means_no_callback_until_the_next_client(
    loopback: Loopback,
) -> None:
    """§19.1-30: monitor interval 0: no callback on disconnect; next client gives F, T."""
    server, server_calls, client, _ = await connected_pair(
        loopback, server_kwargs={"monitor_connection_interval": 0}
    )
    await client.close()
    await loopback.wait_until(lambda: not server.connected, what="the server saw the FIN")
    await server_calls.expect_none(loopback.MONITOR_BOUND)

    second = await loopback.client(server)
    await server_calls.expect(False)
    await server_calls.expect(True)
    await assert_exchange(loopback, server, second)
    assert server_calls.values == [True, False, True]


async def test_reconnect_immediately_after_a_drop(loopback: Loopback) -> None:
    """§19.1-31: a quick reconnect gives F, T; later a leave is reported; client 3 works."""
    server_calls = loopback.recorder("server")
    server = await loopback.server(connect_callback=server_calls.callback)
    first = await loopback.client(server, wait_connected=False)
    await server_calls.expect(True)

    await first.close()
    second = await loopback.client(server)
    await server_calls.expect(False)
    await server_calls.expect(True)
    await assert_exchange(loopback, server, second)
    await server_calls.expect_none(0.5)

    await second.close()
    await server_calls.expect(False, within=loopback.MONITOR_BOUND)
    third = await loopback.client(server)
    await server_calls.expect(True)
    await assert_exchange(loopback, server, third)
    assert server_calls.values == [True, False, True, False, True]


# --- 32-34: how reads notice a drop ------------------------------------------------------


async def test_client_read_after_the_peer_left_raises_without_callback(
    loopback: Loopback,
) -> None:
    """§19.1-32 (client): no monitor; a read started after the drop raises, no callback."""
    server, _, client, client_calls = await connected_pair(loopback, monitor_connection_interval=0)
    await server.close_client()
    await loopback.wait_until(lambda: not client.connected, what="the client saw the FIN")
    with pytest.raises(ConnectionError, match="Not connected"):
        await asyncio.wait_for(client.read_str(), loopback.SOON)
    await client_calls.expect_none(loopback.MONITOR_BOUND)
    assert client.should_be_connected


async def test_server_read_after_the_peer_left_raises_without_callback(
    loopback: Loopback,
) -> None:
    """§19.1-32 (server): no monitor; a read started after the drop raises, no callback."""
    server, server_calls, client, _ = await connected_pair(
        loopback, server_kwargs={"monitor_connection_interval": 0}
    )
    await client.close()
    await loopback.wait_until(lambda: not server.connected, what="the server saw the FIN")
    with pytest.raises(ConnectionError, match="Not connected"):
        await asyncio.wait_for(server.read_str(), loopback.SOON)
    await server_calls.expect_none(loopback.MONITOR_BOUND)


CLOSING_READS: dict[str, Callable[[tcpip.BaseClientOrServer], Awaitable[Any]]] = {
    "readexactly": lambda obj: obj.readexactly(10),
    "readuntil": lambda obj: obj.readuntil(b"\n"),
    "read_str": lambda obj: obj.read_str(),
}


@pytest.mark.parametrize("method", list(CLOSING_READS))
async def test_waiting_read_on_server_fires_callback_when_the_client_leaves(
    method: str, loopback: Loopback
) -> None:
    """§19.1-33: a waiting readexactly/readuntil/read_str fires callback(False) on EOF."""
    server, server_calls, client, _ = await connected_pair(
        loopback, server_kwargs={"monitor_connection_interval": 0}
    )
    connected_task = server.connected_task
    read = await start_waiting(lambda: CLOSING_READS[method](server))
    await client.close()
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await asyncio.wait_for(read, loopback.STD_WAIT)
    await server_calls.expect(False, within=0)
    assert not server.connected
    assert server.should_be_connected
    assert server.connected_task is connected_task and connected_task.done()


@pytest.mark.parametrize("method", list(CLOSING_READS))
async def test_waiting_read_on_client_fires_callback_when_the_server_drops_it(
    method: str, loopback: Loopback
) -> None:
    """§19.1-33: the same at the client end, with its monitor off."""
    server, _, client, client_calls = await connected_pair(loopback, monitor_connection_interval=0)
    read = await start_waiting(lambda: CLOSING_READS[method](client))
    await server.close_client()
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await asyncio.wait_for(read, loopback.STD_WAIT)
    await client_calls.expect(False, within=0)
    assert not client.connected
    assert client.should_be_connected


@pytest.mark.parametrize(
    ("method", "sent", "expected"),
    [
        ("read", b"", b""),
        ("readline", b"", b""),
        ("readline", b"partial", b"partial"),
    ],
)
async def test_read_and_readline_at_eof_fire_no_callback(
    method: str, sent: bytes, expected: bytes, loopback: Loopback
) -> None:
    """§19.1-33: read(n) at EOF gives b""; readline gives b"" or the partial data."""
    server, server_calls, client, _ = await connected_pair(
        loopback, server_kwargs={"monitor_connection_interval": 0}
    )
    if method == "read":
        read = await start_waiting(lambda: server.read(100))
    else:
        read = await start_waiting(server.readline)
    if sent:
        await client.write(sent)
    await client.close()
    assert await asyncio.wait_for(read, loopback.STD_WAIT) == expected
    await server_calls.expect_none(loopback.MONITOR_BOUND)
    assert server.should_be_connected


async def test_buffered_data_keeps_connected_true_until_read(loopback: Loopback) -> None:
    """§19.1-34: with data then EOF, connected stays True until the last byte is read."""
    server, server_calls, client, _ = await connected_pair(loopback)
    await client.write(b"first\nsecond\n")
    await client.close()
    # The FIN has certainly been processed after this window, yet data is still unread.
    deadline = time.monotonic() + loopback.MONITOR_BOUND
    while time.monotonic() < deadline:
        assert server.connected
        await asyncio.sleep(0.02)
    await server_calls.expect_none(0)
    assert await asyncio.wait_for(server.readline(), loopback.STD_WAIT) == b"first\n"
    assert server.connected
    assert await asyncio.wait_for(server.readline(), loopback.STD_WAIT) == b"second\n"
    await loopback.wait_until(lambda: not server.connected, what="connected turned False")
    await server_calls.expect(False, within=loopback.MONITOR_BOUND)
