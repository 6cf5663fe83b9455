"""Acceptance tests for the read-loop server and the test server (spec §19.1, 52-57)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from harness import tcpip
from tests.harness.tcpip.bounds import SOON, STD_WAIT, within

if TYPE_CHECKING:
    from conftest import LogRecords, Loopback


async def wait_task_done(task: asyncio.Future[Any], seconds: float = STD_WAIT) -> None:
    done, _ = await asyncio.wait([task], timeout=seconds)
    assert task in done, f"task not done within {seconds} s: {task}"


class EchoServer(tcpip.OneClientReadLoopServer):
    """Echoes every line; raises ValueError for the line "raise"."""

    async def read_and_dispatch(self) -> None:
        line = await self.read_str()
        if line == "raise":
            raise ValueError("asked to fail (test)")
        await self.write_str(line)


class SelfClosingServer(tcpip.OneClientReadLoopServer):
    """Echoes lines; on "close yourself" calls close_client() with the default flag."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.close_client_returned: asyncio.Future[None] = (
            asyncio.get_running_loop().create_future()
        )

    async def read_and_dispatch(self) -> None:
        line = await self.read_str()
        if line == "close yourself":
            await self.close_client()
            if not self.close_client_returned.done():
                self.close_client_returned.set_result(None)
        else:
            await self.write_str(line)


async def echo_round_trip(client: tcpip.Client, text: str) -> None:
    await client.write_str(text)
    assert await within(client.read_str(), SOON) == text


async def test_test_server_queues_lines_in_order(loopback: Loopback) -> None:
    """§19.1-52: lines from the client arrive through get_next_data() in order."""
    server = await loopback.read_loop_server(server_class=tcpip.TestOneClientReadLoopServer)
    client = await loopback.client(server)

    lines = [f"Test data {i}." for i in range(5)]
    for line in lines:
        await client.write_str(line)

    received = [await within(server.get_next_data()) for _ in lines]
    assert received == lines


async def test_fail_next_read_drops_the_client_once(loopback: Loopback) -> None:
    """§19.1-53: fail_next_read drops the client; a read already waiting completes; one-shot."""
    recorder = loopback.recorder("server")
    server = await loopback.read_loop_server(
        server_class=tcpip.TestOneClientReadLoopServer, connect_callback=recorder.callback
    )
    client = await loopback.client(server)
    await recorder.expect(True)
    # After this line is queued, the read loop is waiting in its next read.
    await client.write_str("warm-up")
    assert await within(server.get_next_data()) == "warm-up"
    old_connected_task = server.connected_task

    server.fail_next_read = True
    await client.write_str("read that was already waiting")
    assert await within(server.get_next_data()) == "read that was already waiting"

    await recorder.expect(False, within=SOON)
    await loopback.wait_until(lambda: not server.connected, SOON, "server disconnected")
    await loopback.wait_until(lambda: not client.connected, SOON, "client disconnected")
    assert not server.should_be_connected
    assert server.connected_task is not old_connected_task
    assert not server.connected_task.done()
    assert server.fail_next_read is False

    second = await loopback.client(server)
    await recorder.expect(True)
    for i in range(3):
        await second.write_str(f"after the failure {i}")
        assert await within(server.get_next_data()) == f"after the failure {i}"
    assert server.connected
    assert recorder.values == [True, False, True]


async def test_test_server_queues_empty_string_when_client_leaves(loopback: Loopback) -> None:
    """§19.1-54: after a client disconnects, get_next_data() returns ""."""
    recorder = loopback.recorder("server")
    server = await loopback.read_loop_server(
        server_class=tcpip.TestOneClientReadLoopServer, connect_callback=recorder.callback
    )
    client = await loopback.client(server)
    await recorder.expect(True)
    connected_task = server.connected_task

    await client.close()

    assert await within(server.get_next_data()) == ""
    await recorder.expect(False)
    await wait_task_done(server.read_loop_task)
    assert server.should_be_connected
    assert server.connected_task is connected_task
    assert server.connected_task.done()


async def test_echo_server_example(loopback: Loopback, log_records: LogRecords) -> None:
    """§19.1-55: an echo subclass returns three strings unchanged, then both close cleanly."""
    server = await loopback.read_loop_server(server_class=EchoServer)
    client = await loopback.client(server)

    for text in ["first", "second with spaces", "third: ünïcödé 😀"]:
        await echo_round_trip(client, text)

    await within(client.close())
    await within(server.close())
    assert client.done_task.result() is None
    assert server.done_task.result() is None
    assert server.read_loop_task.done()
    assert not server.connected and not client.connected
    assert log_records.at_least(logging.ERROR) == []


async def test_normal_disconnect_logs_info_without_traceback(
    loopback: Loopback, log_records: LogRecords
) -> None:
    """§19.1-56: a client leaving gives INFO, no ERROR and no traceback; state is reset."""
    recorder = loopback.recorder("server")
    server = await loopback.read_loop_server(
        server_class=EchoServer, connect_callback=recorder.callback
    )
    client = await loopback.client(server)
    await recorder.expect(True)
    await echo_round_trip(client, "hello")
    read_loop = server.read_loop_task
    log_records.records.clear()

    await client.close()

    await recorder.expect(False)
    await wait_task_done(read_loop)
    server_records = [r for r in log_records.records if r.name.startswith(server.log.name)]
    info = [r for r in server_records if r.levelno == logging.INFO]
    assert any("disconnect" in r.getMessage().lower() for r in info), server_records
    assert [r for r in server_records if r.levelno >= logging.ERROR] == []
    assert [r for r in server_records if r.exc_info] == []
    assert not server.should_be_connected
    assert not server.connected_task.done()


async def test_read_and_dispatch_error_logs_error_with_traceback(
    loopback: Loopback, log_records: LogRecords
) -> None:
    """§19.1-56: a ValueError in read_and_dispatch gives ERROR with traceback and a drop."""
    recorder = loopback.recorder("server")
    server = await loopback.read_loop_server(
        server_class=EchoServer, connect_callback=recorder.callback
    )
    client = await loopback.client(server)
    await recorder.expect(True)
    await echo_round_trip(client, "hello")
    read_loop = server.read_loop_task
    log_records.records.clear()

    await client.write_str("raise")

    await recorder.expect(False, within=SOON)
    await wait_task_done(read_loop)
    errors = [
        r
        for r in log_records.at_least(logging.ERROR)
        if r.name.startswith(server.log.name) and r.exc_info
    ]
    assert errors, log_records.records
    assert any(r.exc_info is not None and isinstance(r.exc_info[1], ValueError) for r in errors), (
        errors
    )
    assert not server.connected
    assert not server.should_be_connected
    assert not server.connected_task.done()
    await loopback.wait_until(lambda: not client.connected, SOON, "client sees the drop")


async def test_close_client_from_inside_read_and_dispatch(loopback: Loopback) -> None:
    """§19.1-57: close_client() with the default flag inside the loop completes, no deadlock."""
    recorder = loopback.recorder("server")
    server = await loopback.read_loop_server(
        server_class=SelfClosingServer, connect_callback=recorder.callback
    )
    client = await loopback.client(server)
    await recorder.expect(True)
    await echo_round_trip(client, "hello")
    read_loop = server.read_loop_task

    await client.write_str("close yourself")

    await within(asyncio.shield(server.close_client_returned))
    await recorder.expect(False)
    await wait_task_done(read_loop)
    assert not server.connected
    assert not server.should_be_connected
    assert not server.connected_task.done()
    await loopback.wait_until(lambda: not client.connected, SOON, "client sees the drop")


async def test_close_client_and_close_from_outside_cancel_the_read_loop(
    loopback: Loopback,
) -> None:
    """§19.1-57: close_client() and close() from outside end the read loop."""
    recorder = loopback.recorder("server")
    server = await loopback.read_loop_server(
        server_class=EchoServer, connect_callback=recorder.callback
    )
    first = await loopback.client(server)
    await recorder.expect(True)
    await echo_round_trip(first, "hello")
    read_loop = server.read_loop_task
    assert not read_loop.done()

    await within(server.close_client())
    assert read_loop.done()
    assert server.read_loop_task.done()

    await recorder.expect(False)
    second = await loopback.client(server)
    await recorder.expect(True)
    await echo_round_trip(second, "hello again")
    read_loop = server.read_loop_task
    assert not read_loop.done()

    await within(server.close())
    assert read_loop.done()
    assert server.read_loop_task.done()
