"""§19.1 statements 12-15: server start, the port rule and the start() guard."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from typing import TYPE_CHECKING

import pytest

from harness import tcpip

if TYPE_CHECKING:
    from conftest import LogRecords, Loopback

START_ALREADY_CALLED = "Start already called"


def serving_servers_of_this_loop() -> list[asyncio.Server]:
    """Every asyncio.Server of the running loop that is still listening."""
    loop = asyncio.get_running_loop()
    return [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, asyncio.Server) and obj.get_loop() is loop and obj.is_serving()
    ]


async def test_port_is_zero_until_started_then_the_bound_port(loopback: Loopback) -> None:
    """§19.1-12: port == 0 until start_task is done, then the real port; result None."""
    server = tcpip.OneClientServer(host=tcpip.LOCALHOST_IPV4, port=0, log=loopback.log)
    loopback.close_at_teardown(server)
    assert server.port == 0
    assert not server.start_task.done()
    result = await loopback.wait_done(server.start_task)
    assert result is None
    assert server.port != 0
    assert server._server is not None
    assert [sock.getsockname()[1] for sock in server._server.sockets] == [server.port]
    # The reported port is really the one listening.
    await loopback.raw_connection(tcpip.LOCALHOST_IPV4, server.port)
    await loopback.wait_done(server.connected_task)


async def test_port_stays_zero_with_several_listening_sockets(loopback: Loopback) -> None:
    """§19.1-13: host=None, family=AF_UNSPEC: with more than one socket, port stays 0."""
    server = await loopback.server(host=None, port=0, family=socket.AF_UNSPEC)
    assert server._server is not None
    if len(server._server.sockets) < 2:
        pytest.skip("this machine gave only one listening socket for host=None")
    assert server.port == 0


async def test_start_after_start_task_raises(loopback: Loopback) -> None:
    """§19.1-14: await server.start() after start_task is done raises RuntimeError."""
    server = await loopback.server()
    listening = server._server
    with pytest.raises(RuntimeError, match=START_ALREADY_CALLED):
        await asyncio.wait_for(server.start(), loopback.STD_WAIT)
    assert server._server is listening
    assert serving_servers_of_this_loop() == [listening]


async def test_overlapping_server_starts_exactly_one_succeeds(loopback: Loopback) -> None:
    """§19.1-14: a direct start() right after construction races start_task; one wins."""
    server = tcpip.OneClientServer(host=tcpip.LOCALHOST_IPV4, port=0, log=loopback.log)
    loopback.close_at_teardown(server)
    outcomes = await asyncio.wait_for(
        asyncio.gather(server.start(), asyncio.shield(server.start_task), return_exceptions=True),
        loopback.STD_WAIT,
    )
    successes = [outcome for outcome in outcomes if outcome is None]
    failures = [outcome for outcome in outcomes if isinstance(outcome, RuntimeError)]
    assert len(successes) == 1, outcomes
    assert len(failures) == 1, outcomes
    assert START_ALREADY_CALLED in str(failures[0])
    assert server._server is not None
    assert serving_servers_of_this_loop() == [server._server]


async def test_overlapping_client_starts_exactly_one_connects(
    loopback: Loopback, log_records: LogRecords
) -> None:
    """§19.1-15: of two overlapping Client starts one connects, the other raises."""
    server_calls = loopback.recorder("server")
    server = await loopback.server(connect_callback=server_calls.callback)
    client = tcpip.Client(server.host, server.port, loopback.log)
    loopback.close_at_teardown(client)
    outcomes = await asyncio.wait_for(
        asyncio.gather(client.start(), asyncio.shield(client.start_task), return_exceptions=True),
        loopback.STD_WAIT,
    )
    successes = [outcome for outcome in outcomes if outcome is None]
    failures = [outcome for outcome in outcomes if isinstance(outcome, RuntimeError)]
    assert len(successes) == 1, outcomes
    assert len(failures) == 1, outcomes
    assert START_ALREADY_CALLED in str(failures[0])
    assert client.connected
    await server_calls.expect(True)
    # A second connection would have been rejected by the server (ERROR, no callback).
    await server_calls.expect_none(loopback.MONITOR_BOUND)
    errors = [r for r in log_records.at_least(logging.ERROR) if r.name.startswith(server.log.name)]
    assert errors == []
    await client.write_str("only one")
    assert await asyncio.wait_for(server.read_str(), loopback.STD_WAIT) == "only one"
