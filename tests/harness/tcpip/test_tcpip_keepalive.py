"""Acceptance test for TCP keepalive options (spec §19.1, statement 50)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from harness import tcpip

if TYPE_CHECKING:
    from conftest import Loopback


def keepalive_idle_option() -> int:
    """TCP_KEEPIDLE on Linux, TCP_KEEPALIVE on macOS."""
    option = getattr(socket, "TCP_KEEPIDLE", None)
    if option is None:
        option = getattr(socket, "TCP_KEEPALIVE", None)
    if option is None:
        pytest.skip("this platform has no TCP keepalive idle-time option")
    return int(option)


@pytest.mark.parametrize("end", ["server", "read_loop_server", "client"])
async def test_connection_sockets_have_keepalive_options(loopback: Loopback, end: str) -> None:
    """§19.1-50: SO_KEEPALIVE on, idle 60 s, 4 probes, 15 s apart on both ends."""
    server: tcpip.OneClientServer
    if end == "read_loop_server":
        server = await loopback.read_loop_server(server_class=tcpip.TestOneClientReadLoopServer)
    else:
        server = await loopback.server()
    client = await loopback.client(server)
    obj: tcpip.BaseClientOrServer = client if end == "client" else server
    assert obj._writer is not None
    sock = obj._writer.get_extra_info("socket")

    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
    assert sock.getsockopt(socket.IPPROTO_TCP, keepalive_idle_option()) == 60
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 15
