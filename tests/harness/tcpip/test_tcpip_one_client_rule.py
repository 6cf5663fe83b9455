"""§19.1 statements 35-36: a OneClientServer serves one client at a time."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import LogRecords, Loopback

# How long a rejected connection may take to see its EOF; the accepted one must
# stay open for at least this long.
REJECT_WINDOW = 2.0


async def connection_outcome(reader: asyncio.StreamReader) -> str:
    """ "closed" if the peer closed (EOF or reset) within the window, else "open"."""
    try:
        data = await asyncio.wait_for(reader.read(1), REJECT_WINDOW)
    except TimeoutError:
        return "open"
    except ConnectionResetError:
        return "closed"
    assert data == b"", f"unexpected data from the server: {data!r}"
    return "closed"


@pytest.mark.parametrize("sends_first", [False, True], ids=["silent", "sends-data"])
async def test_second_connection_is_closed_without_callback(
    sends_first: bool, loopback: Loopback, log_records: LogRecords
) -> None:
    """§19.1-35: an extra raw connection is accepted by TCP, then closed; no callback."""
    server_calls = loopback.recorder("server")
    server = await loopback.server(connect_callback=server_calls.callback)
    client = await loopback.client(server)
    await server_calls.expect(True)
    assert server.host is not None and server.port is not None

    reader, writer = await loopback.raw_connection(server.host, server.port)
    if sends_first:
        writer.write(b"hello from an extra client\n")
    try:
        data = await asyncio.wait_for(reader.readline(), loopback.STD_WAIT)
    except ConnectionResetError:
        assert sends_first, "a reset is acceptable only when the extra client sent data"
    else:
        assert data == b""
    await server_calls.expect_none(loopback.MONITOR_BOUND)
    rejections = [r for r in log_records.at(logging.ERROR) if r.name.startswith(server.log.name)]
    assert len(rejections) == 1, log_records.records

    assert server.connected and client.connected
    await client.write_str("still here")
    assert await asyncio.wait_for(server.read_str(), loopback.STD_WAIT) == "still here"
    await server.write_str("and served")
    assert await asyncio.wait_for(client.read_str(), loopback.STD_WAIT) == "and served"


async def test_five_simultaneous_connections_give_exactly_one_client(loopback: Loopback) -> None:
    """§19.1-36: five raw connections at once: one stays open, four see EOF or a reset."""
    server_calls = loopback.recorder("server")
    server = await loopback.server(connect_callback=server_calls.callback)
    host, port = server.host, server.port
    assert host is not None and port is not None

    async with asyncio.TaskGroup() as group:
        opening = [group.create_task(loopback.raw_connection(host, port)) for _ in range(5)]
    await loopback.wait_done(server.connected_task, loopback.SOON)

    async with asyncio.TaskGroup() as group:
        watching = [group.create_task(connection_outcome(task.result()[0])) for task in opening]
    outcomes = [task.result() for task in watching]
    assert sorted(outcomes) == ["closed"] * 4 + ["open"], outcomes
    await server_calls.expect(True, within=0)
    await server_calls.expect_none(0)
    assert server.connected
