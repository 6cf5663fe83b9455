"""Acceptance tests for the I/O methods (spec §19.1, statements 37, 38 and 40-45)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from harness import tcpip
from tests.harness.tcpip.bounds import within
from tests.harness.tcpip.io_calls import IO_CALLS, IoCall

if TYPE_CHECKING:
    from conftest import Loopback


async def assert_not_connected_error(obj: tcpip.BaseClientOrServer, call: IoCall) -> None:
    """Assert that ``call(obj)`` raises ConnectionError("Not connected") at once."""
    assert not obj.connected
    with pytest.raises(ConnectionError, match="Not connected"):
        await within(call(obj))


async def check_read_methods(
    sender: tcpip.BaseClientOrServer, receiver: tcpip.BaseClientOrServer
) -> None:
    """The read-method checks of statement 38, from ``sender`` to ``receiver``."""
    data = b"0123456789abcdef"

    await sender.write(data)
    assert await within(receiver.read(n=len(data))) == data

    await sender.write(data)
    assert await within(receiver.read(n=len(data) + 5)) == data

    await sender.write(data)
    assert await within(receiver.read(n=len(data) - 5)) == data[:-5]
    assert await within(receiver.read(5)) == data[-5:]

    await sender.write(data)
    assert await within(receiver.readexactly(len(data))) == data

    await sender.write(b"line one\nline two\n")
    assert await within(receiver.readline()) == b"line one\n"
    assert await within(receiver.readline()) == b"line two\n"

    await sender.write(b"alpha\r\nbeta\r\n")
    assert await within(receiver.readuntil(tcpip.DEFAULT_TERMINATOR)) == b"alpha\r\n"
    assert await within(receiver.readuntil(tcpip.DEFAULT_TERMINATOR)) == b"beta\r\n"

    # The default separator is b"\n", not the object's terminator b"\r\n".
    await sender.write(b"first\nsecond\r\n")
    assert await within(receiver.readuntil()) == b"first\n"
    assert await within(receiver.readuntil()) == b"second\r\n"


def sender_and_receiver(
    server: tcpip.OneClientServer, client: tcpip.Client, direction: str
) -> tuple[tcpip.BaseClientOrServer, tcpip.BaseClientOrServer]:
    if direction == "client_to_server":
        return client, server
    return server, client


DIRECTIONS = ["client_to_server", "server_to_client"]


@pytest.mark.parametrize("method", list(IO_CALLS))
async def test_io_methods_raise_connection_error_when_not_connected(
    loopback: Loopback, method: str
) -> None:
    """§19.1-37: every I/O method raises ConnectionError when not connected.

    Covered: a server before any client connects and after close(), a client
    before its connection completes and after close(), and the placeholder client.
    """
    call = IO_CALLS[method]

    server = await loopback.server()
    await assert_not_connected_error(server, call)

    other_server = await loopback.server()
    not_yet_connected = tcpip.Client(other_server.host, other_server.port, loopback.log)
    loopback.close_at_teardown(not_yet_connected)
    # The call runs before start_task gets a chance to connect.
    await assert_not_connected_error(not_yet_connected, call)
    await within(asyncio.shield(not_yet_connected.start_task))

    client = await loopback.client(server)
    await client.close()
    await assert_not_connected_error(client, call)

    await server.close()
    await assert_not_connected_error(server, call)

    placeholder = tcpip.Client(host="", port=0, log=loopback.log)
    await assert_not_connected_error(placeholder, call)
    await placeholder.close()


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_read_methods_return_exactly_what_was_written(
    loopback: Loopback, direction: str
) -> None:
    """§19.1-38: read(n), readexactly, readline and readuntil return the written bytes."""
    server, client = await loopback.connected_pair()
    sender, receiver = sender_and_receiver(server, client, direction)
    await check_read_methods(sender, receiver)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_write_str_appends_terminator_even_if_line_ends_with_it(
    loopback: Loopback, direction: str
) -> None:
    """§19.1-40: write_str always appends the terminator."""
    server, client = await loopback.connected_pair()
    sender, receiver = sender_and_receiver(server, client, direction)

    await sender.write_str("ends with terminator\r\n")
    await sender.write(b"marker\n")
    received = await within(receiver.readuntil(b"marker\n"))
    assert received == b"ends with terminator\r\n\r\nmarker\n"


async def test_write_json_sends_ascii_escapes_and_terminator(loopback: Loopback) -> None:
    """§19.1-41: write_json uses ensure_ascii, so non-ASCII goes out as \\u escapes."""
    server, client = await loopback.connected_pair()

    await client.write_json({"k": "é😀"})
    wire = await within(server.readuntil(b"\r\n"))
    assert wire == b'{"k": "\\u00e9\\ud83d\\ude00"}\r\n'


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_read_json_error_names_the_text_and_keeps_the_link(
    loopback: Loopback, direction: str
) -> None:
    """§19.1-42: bad JSON gives a new JSONDecodeError naming the text; link stays up."""
    server, client = await loopback.connected_pair()
    sender, receiver = sender_and_receiver(server, client, direction)
    with pytest.raises(json.JSONDecodeError) as original:
        json.loads("not valid json")

    await sender.write_str("not valid json")
    with pytest.raises(json.JSONDecodeError) as caught:
        await within(receiver.read_json())

    error = caught.value
    assert "'not valid json'" in str(error)
    assert "is not valid json" in str(error)
    assert error.doc == original.value.doc
    assert error.pos == original.value.pos
    assert isinstance(error.__cause__, json.JSONDecodeError)
    assert server.connected and client.connected
    await sender.write_json({"still": "working"})
    assert await within(receiver.read_json()) == {"still": "working"}


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_read_str_undecodable_bytes_raise_and_keep_the_link(
    loopback: Loopback, direction: str
) -> None:
    """§19.1-43: read_str on undecodable bytes raises UnicodeDecodeError; link stays up."""
    server, client = await loopback.connected_pair()
    sender, receiver = sender_and_receiver(server, client, direction)

    await sender.write(b"\xff\xfe\xfa not utf-8\r\n")
    with pytest.raises(UnicodeDecodeError):
        await within(receiver.read_str())

    assert server.connected and client.connected
    await sender.write_str("next line")
    assert await within(receiver.read_str()) == "next line"


async def test_server_read_str_partial_data_at_eof(loopback: Loopback) -> None:
    """§19.1-44: partial data at EOF gives IncompleteReadError and callback(False) (server)."""
    recorder = loopback.recorder("server")
    server = await loopback.server(
        monitor_connection_interval=0, connect_callback=recorder.callback
    )
    client = await loopback.client(server)
    await recorder.expect(True)

    await client.write(b"partial line")
    await client.close()
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await within(server.read_str())

    assert caught.value.partial == b"partial line"
    assert recorder.values == [True, False]


async def test_client_read_str_partial_data_at_eof(loopback: Loopback) -> None:
    """§19.1-44: partial data at EOF gives IncompleteReadError and callback(False) (client)."""
    recorder = loopback.recorder("client")
    server = await loopback.server()
    client = await loopback.client(
        server, monitor_connection_interval=0, connect_callback=recorder.callback
    )
    await recorder.expect(True)

    await server.write(b"partial line")
    await server.close_client()
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await within(client.read_str())

    assert caught.value.partial == b"partial line"
    assert recorder.values == [True, False]


@pytest.mark.parametrize("limited_side", ["client", "server"])
async def test_line_over_limit_raises_limit_overrun_and_stays_buffered(
    loopback: Loopback, limited_side: str
) -> None:
    """§19.1-45: an over-long line gives LimitOverrunError; no close, data kept."""
    limit = 64
    server_recorder = loopback.recorder("server")
    client_recorder = loopback.recorder("client")
    server_limit: dict[str, Any] = {"limit": limit} if limited_side == "server" else {}
    client_limit: dict[str, Any] = {"limit": limit} if limited_side == "client" else {}
    server = await loopback.server(connect_callback=server_recorder.callback, **server_limit)
    client = await loopback.client(
        server, connect_callback=client_recorder.callback, **client_limit
    )
    receiver: tcpip.BaseClientOrServer = client if limited_side == "client" else server
    sender: tcpip.BaseClientOrServer = server if limited_side == "client" else client

    line = b"x" * (3 * limit) + b"\r\n"
    await sender.write(line)
    with pytest.raises(asyncio.LimitOverrunError):
        await within(receiver.readuntil(b"\r\n"))
    assert receiver.connected
    with pytest.raises(asyncio.LimitOverrunError):
        await within(receiver.read_str())
    assert receiver.connected

    assert await within(receiver.readexactly(len(line))) == line
    await sender.write_str("short")
    assert await within(receiver.read_str()) == "short"
    await receiver.write_str("reply")
    assert await within(sender.read_str()) == "reply"
    assert server_recorder.values == [True]
    assert client_recorder.values == [True]
