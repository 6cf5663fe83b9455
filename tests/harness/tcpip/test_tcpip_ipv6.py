"""Acceptance tests for IPv4 and IPv6 loopback (spec §19.1, statement 51).

The read/write checks of statements 37-39 and a two-line exchange run for
LOCALHOST_IPV4 and LOCALHOST_IPV6. The IPv6 cases are skipped when the server
cannot be created there.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING

import pytest
from test_tcpip_framing import FRAMINGS, check_default_framing, check_framing
from test_tcpip_io import assert_not_connected_error, check_read_methods

from harness import tcpip
from tests.harness.tcpip.bounds import STD_WAIT
from tests.harness.tcpip.io_calls import IO_CALLS

if TYPE_CHECKING:
    from conftest import Loopback

HOSTS = [tcpip.LOCALHOST_IPV4, tcpip.LOCALHOST_IPV6]


async def server_on(loopback: Loopback, host: str) -> tcpip.OneClientServer:
    """A started server on ``host``; skip the IPv6 case if it cannot be created."""
    try:
        return await loopback.server(host=host)
    except OSError as error:
        if host == tcpip.LOCALHOST_IPV6:
            pytest.skip(f"cannot listen on {host}: {error}")
        raise


@pytest.mark.parametrize("host", HOSTS)
async def test_not_connected_io_raises_on_host(loopback: Loopback, host: str) -> None:
    """§19.1-51 (with 37): I/O raises ConnectionError after close, on IPv4 and IPv6."""
    server = await server_on(loopback, host)
    for call in IO_CALLS.values():
        await assert_not_connected_error(server, call)
    client = await loopback.client(server)
    await client.close()
    await server.close()
    for call in IO_CALLS.values():
        await assert_not_connected_error(client, call)
        await assert_not_connected_error(server, call)


@pytest.mark.parametrize("host", HOSTS)
async def test_read_methods_on_host(loopback: Loopback, host: str) -> None:
    """§19.1-51 (with 38): the read-method checks pass in both directions."""
    server = await server_on(loopback, host)
    client = await loopback.client(server)

    await check_read_methods(client, server)
    await check_read_methods(server, client)


@pytest.mark.parametrize("host", HOSTS)
async def test_framing_matrix_on_host(loopback: Loopback, host: str) -> None:
    """§19.1-51 (with 39): every encoding x terminator works on one live pair."""
    server = await server_on(loopback, host)
    client = await loopback.client(server)

    for encoding, terminator in FRAMINGS:
        await check_framing(server, client, encoding, terminator)
    await check_default_framing(server, client)


@pytest.mark.parametrize("host", HOSTS)
async def test_two_line_exchange_on_host(loopback: Loopback, host: str) -> None:
    """§19.1-51: two lines each way with write_str/read_str."""
    server = await server_on(loopback, host)
    client = await loopback.client(server)
    assert client.connected and server.connected

    for sender, receiver in itertools.permutations((client, server)):
        await sender.write_str("first line")
        await sender.write_str("second line")
        assert await asyncio.wait_for(receiver.read_str(), STD_WAIT) == "first line"
        assert await asyncio.wait_for(receiver.read_str(), STD_WAIT) == "second line"
