"""Acceptance tests for Client specifics (spec §19.1, statements 67-69)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from harness import tcpip
from tests.harness.tcpip.bounds import within

if TYPE_CHECKING:
    from conftest import LogRecords, Loopback

QUIET_WINDOW = 0.3  # how long to watch for a connection that must not happen


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind((tcpip.LOCALHOST_IPV4, 0))
        yield int(blocker.getsockname()[1])


async def test_placeholder_client_is_already_closed(loopback: Loopback) -> None:
    """§19.1-67: Client(host="") has futures done with False and never connects."""
    placeholder = tcpip.Client(host="", port=0, log=loopback.log)
    assert placeholder.start_task.done() and placeholder.start_task.result() is False
    assert placeholder.done_task.done() and placeholder.done_task.result() is False
    assert not placeholder.connected
    assert not placeholder.should_be_connected
    await within(placeholder.close())

    server_recorder = loopback.recorder("server")
    server = await loopback.server(connect_callback=server_recorder.callback)
    recorder = loopback.recorder("placeholder")
    tasks_before = asyncio.all_tasks()
    aimed_at_server = tcpip.Client(
        host="", port=server.port, log=loopback.log, connect_callback=recorder.callback
    )
    assert asyncio.all_tasks() == tasks_before, "the placeholder created a task"

    await within(aimed_at_server.close())
    assert recorder.values == []
    assert aimed_at_server.done_task.result() is False
    assert aimed_at_server.start_task.result() is False
    assert not aimed_at_server.connected and not aimed_at_server.should_be_connected
    await server_recorder.expect_none(QUIET_WINDOW)
    assert not server.connected_task.done()


async def test_refused_connection_fails_start_and_logs(
    loopback: Loopback,
    log_records: LogRecords,
    refusing_port: int,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """§19.1-68: refused: start_task fails, done_task pending, ERROR logged, no output."""
    recorder = loopback.recorder("client")
    client = tcpip.Client(
        tcpip.LOCALHOST_IPV4, refusing_port, loopback.log, connect_callback=recorder.callback
    )
    loopback.close_at_teardown(client)

    with pytest.raises(ConnectionRefusedError):
        await within(asyncio.shield(client.start_task))

    assert not client.done_task.done()
    errors = [r for r in log_records.at(logging.ERROR) if r.name == client.log.name]
    messages = [r.getMessage() for r in errors]
    assert any(
        tcpip.LOCALHOST_IPV4 in message and str(refusing_port) in message for message in messages
    ), messages
    assert recorder.values == []
    await within(client.close())
    assert client.done_task.done()

    in_context = tcpip.Client(tcpip.LOCALHOST_IPV4, refusing_port, loopback.log)
    loopback.close_at_teardown(in_context)
    body_ran = False
    with pytest.raises(ConnectionRefusedError):
        async with in_context:
            body_ran = True
    assert not body_ran
    await within(in_context.close())

    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""


class CloseRecordingClient(tcpip.Client):
    """A Client that notes each close() call, to see what the context manager calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_calls = 0

    async def close(self) -> None:
        self.close_calls += 1
        await super().close()


class BodyError(Exception):
    """Raised inside an ``async with`` body by the test."""


async def test_client_async_context_manager(loopback: Loopback) -> None:
    """§19.1-69: __aenter__ returns the started client; exit awaits close()."""
    server = await loopback.server()
    client = CloseRecordingClient(server.host, server.port, loopback.log)
    loopback.close_at_teardown(client)

    async with client as entered:
        assert entered is client
        assert client.start_task.done() and client.start_task.exception() is None
        assert client.connected
        assert client.close_calls == 0

    assert client.close_calls == 1
    assert client.done_task.done() and client.done_task.result() is None
    assert not client.connected
    assert not client.should_be_connected


async def test_client_async_context_manager_propagates_body_errors(
    loopback: Loopback,
) -> None:
    """§19.1-69: an exception raised in the body propagates, and close() still runs."""
    server = await loopback.server()
    client = CloseRecordingClient(server.host, server.port, loopback.log)
    loopback.close_at_teardown(client)

    with pytest.raises(BodyError):
        async with client:
            raise BodyError("raised in the body")

    assert client.close_calls == 1
    assert client.done_task.done()
    assert not client.connected


async def test_server_async_context_manager(loopback: Loopback) -> None:
    """§19.1-69 (all objects, §6.8): the server context manager behaves the same way."""
    server = tcpip.OneClientServer(tcpip.LOCALHOST_IPV4, 0, loopback.log)
    loopback.close_at_teardown(server)

    with pytest.raises(BodyError):
        async with server as entered:
            assert entered is server
            assert server.start_task.done() and server.port != 0
            raise BodyError("raised in the body")

    assert server.done_task.done() and server.done_task.result() is None
    assert server._server is None
