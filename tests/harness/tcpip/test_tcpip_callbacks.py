"""§19.1 statements 16-20: connect callbacks, their ordering and alternation."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from harness import tcpip

if TYPE_CHECKING:
    from conftest import LogRecords, Loopback

# "No extra callbacks within 5 x the monitor interval" (statement 20).
QUIET_WINDOW = 5 * tcpip.DEFAULT_MONITOR_CONNECTION_INTERVAL


async def test_connect_fires_one_callback_at_each_end(loopback: Loopback) -> None:
    """§19.1-16: server and client callback(True) each fire once; both ends connected."""
    server_calls = loopback.recorder("server")
    client_calls = loopback.recorder("client")
    server = await loopback.server(connect_callback=server_calls.callback)
    client = await loopback.client(server, connect_callback=client_calls.callback)
    await server_calls.expect(True)
    await client_calls.expect(True)
    assert server.connected and client.connected
    assert server.should_be_connected and client.should_be_connected
    assert server.connected_task.done()
    assert server_calls.objects == [server]
    assert client_calls.objects == [client]
    await server_calls.expect_none(loopback.MONITOR_BOUND)
    assert server_calls.values == [True]
    assert client_calls.values == [True]


async def test_callback_true_ordering_against_futures(loopback: Loopback) -> None:
    """§19.1-17: server callback(True) sees connected_task done; client's sees start_task not."""
    events: list[tuple[str, bool, bool]] = []

    async def server_callback(server: tcpip.BaseClientOrServer) -> None:
        assert isinstance(server, tcpip.OneClientServer)
        events.append(("server", server.connected, server.connected_task.done()))

    async def client_callback(client: tcpip.BaseClientOrServer) -> None:
        events.append(("client", client.connected, client.start_task.done()))

    server = await loopback.server(connect_callback=server_callback)
    await loopback.client(server, connect_callback=client_callback)
    await loopback.wait_until(lambda: len(events) >= 2, what="both callbacks ran")
    assert sorted(events) == [("client", True, False), ("server", True, True)]


class GreetingServer(tcpip.OneClientReadLoopServer):
    """Records each read_and_dispatch call in ``events`` and queues the lines read."""

    def __init__(self, *, events: list[str], **kwargs: Any) -> None:
        self.events = events
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        super().__init__(**kwargs)

    async def read_and_dispatch(self) -> None:
        self.events.append("read_and_dispatch")
        self.lines.put_nowait(await self.read_str())


async def test_read_loop_callback_finishes_before_first_read_and_dispatch(
    loopback: Loopback,
) -> None:
    """§19.1-18: an awaiting callback(True) that greets completes before the read loop runs."""
    events: list[str] = []

    async def greet(server: tcpip.BaseClientOrServer) -> None:
        if not server.connected:
            return
        events.append("callback started")
        # The callback suspends, giving an early read loop every chance to run.
        await asyncio.sleep(0.05)
        await server.write_str("greeting")
        events.append("callback finished")

    server = await loopback.read_loop_server(GreetingServer, events=events, connect_callback=greet)
    client = await loopback.client(server)
    # A request sent at once would be read by a read loop started too early.
    await client.write_str("request")
    assert await asyncio.wait_for(client.read_str(), loopback.STD_WAIT) == "greeting"
    assert await asyncio.wait_for(server.lines.get(), loopback.STD_WAIT) == "request"
    assert events[:3] == ["callback started", "callback finished", "read_and_dispatch"]


async def test_raising_callbacks_are_logged_and_swallowed(
    loopback: Loopback, log_records: LogRecords
) -> None:
    """§19.1-19: a callback that raises is logged with a traceback; both ends keep working."""
    calls: list[tuple[str, bool]] = []

    async def failing_callback(obj: tcpip.BaseClientOrServer) -> None:
        calls.append((type(obj).__name__, obj.connected))
        raise RuntimeError(f"callback failure in {type(obj).__name__}")

    server = await loopback.server(connect_callback=failing_callback)
    client = await loopback.client(server, connect_callback=failing_callback)
    assert client.start_task.result() is None
    await loopback.wait_until(lambda: len(calls) >= 2, what="both callbacks ran")
    assert sorted(calls) == [("Client", True), ("OneClientServer", True)]
    assert server.connected and client.connected

    await client.write_str("to server")
    assert await asyncio.wait_for(server.read_str(), loopback.STD_WAIT) == "to server"
    await server.write_str("to client")
    assert await asyncio.wait_for(client.read_str(), loopback.STD_WAIT) == "to client"

    for obj in (server, client):
        logged = [
            record
            for record in log_records.at_least(logging.ERROR)
            if record.name.startswith(obj.log.name)
            and record.exc_info is not None
            and isinstance(record.exc_info[1], RuntimeError)
            and "callback failure" in str(record.exc_info[1])
        ]
        assert len(logged) == 1, f"{obj.log.name}: {log_records.records}"


async def test_no_extra_callbacks_after_a_reconnect(loopback: Loopback) -> None:
    """§19.1-20: after a reconnect nothing more arrives in 5 intervals; values alternate."""
    server_calls = loopback.recorder("server")
    server = await loopback.server(connect_callback=server_calls.callback)
    first_calls = loopback.recorder("client 1")
    first = await loopback.client(server, connect_callback=first_calls.callback)
    await server_calls.expect(True)
    await first.close()
    await server_calls.expect(False, within=loopback.MONITOR_BOUND)

    second_calls = loopback.recorder("client 2")
    second = await loopback.client(server, connect_callback=second_calls.callback)
    await server_calls.expect(True)
    await server_calls.expect_none(QUIET_WINDOW)
    assert server.connected and second.connected
    # call_connect_callback() is always safe: without a state change it does nothing.
    for obj in (server, second, server, second):
        await obj.call_connect_callback()
    await server_calls.expect_none(0)
    assert second_calls.values == [True]
    await second.close()
    await server_calls.expect(False, within=loopback.MONITOR_BOUND)

    assert server_calls.values == [True, False, True, False]
    assert first_calls.values == [True, False]
    assert second_calls.values == [True, False]
    assert _alternates_per_label(loopback.events), loopback.events


async def test_callbacks_alternate_when_reconnecting_before_the_drop_is_noticed(
    loopback: Loopback,
) -> None:
    """§19.1-20: without a monitor, a quick reconnect gives False then True, nothing more."""
    server_calls = loopback.recorder("server")
    server = await loopback.server(
        connect_callback=server_calls.callback, monitor_connection_interval=0
    )
    first = await loopback.client(server)
    await server_calls.expect(True)
    await first.close()
    second = await loopback.client(server, wait_connected=False)
    await server_calls.expect(False)
    await server_calls.expect(True)
    await server_calls.expect_none(QUIET_WINDOW)
    assert second.connected and server.connected
    server_calls.assert_alternating()


def _alternates_per_label(events: list[tuple[str, Any]]) -> bool:
    """True if, for each label, the values strictly alternate starting with True."""
    labels = {label for label, _ in events}
    for label in labels:
        values = [value for name, value in events if name == label]
        if values != [i % 2 == 0 for i in range(len(values))]:
            return False
    return True
