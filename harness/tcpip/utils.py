"""Stream helpers: closing writers, ctypes struct I/O and keepalive options."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import socket

from .constants import KEEPALIVE_INTERVAL as KEEPALIVE_INTERVAL
from .constants import KEEPALIVE_PROBES as KEEPALIVE_PROBES
from .constants import KEEPALIVE_TIME as KEEPALIVE_TIME

__all__ = ["close_stream_writer", "read_into", "set_socket_options", "write_from"]

# The compatible API logs these messages through the root logger.
_root_log = logging.getLogger()


async def close_stream_writer(writer: asyncio.StreamWriter) -> None:
    """Close ``writer`` and wait until it is closed; safe to call again.

    A connection error means the peer already closed the stream, so it is
    logged and not raised.
    """
    try:
        writer.close()
        await writer.wait_closed()
    except ConnectionError as e:
        _root_log.info("close_stream_writer: the connection was already closed: %r", e)
    except TimeoutError:
        _root_log.warning("close_stream_writer: timed out waiting for the writer to close")


async def read_into(reader: asyncio.StreamReader, struct: ctypes.Structure) -> None:
    """Fill ``struct`` with exactly ``ctypes.sizeof(struct)`` bytes from ``reader``.

    Raises `asyncio.IncompleteReadError` if the peer closes early and
    `ConnectionError` if nothing was read (a zero-size struct).
    """
    nbytes = ctypes.sizeof(struct)
    data = await reader.readexactly(nbytes)
    if not data:
        raise ConnectionError()
    ctypes.memmove(ctypes.addressof(struct), data, nbytes)


async def write_from(writer: asyncio.StreamWriter, *structs: ctypes.Structure) -> None:
    """Write every struct, then drain once.

    No await between the writes, so concurrent callers cannot interleave
    inside one call.
    """
    for struct in structs:
        writer.write(bytes(struct))
    await writer.drain()


async def set_socket_options(writer: asyncio.StreamWriter) -> None:
    """Enable TCP keepalive on the writer's socket. Never suspends.

    Raises `RuntimeWarning` (as an exception) if the platform has no option
    for the keepalive idle time.
    """
    sock = writer.get_extra_info("socket")
    idle_option = getattr(socket, "TCP_KEEPIDLE", None)
    if idle_option is None:
        idle_option = getattr(socket, "TCP_KEEPALIVE", None)
    if idle_option is None:
        raise RuntimeWarning(
            "This platform has neither TCP_KEEPIDLE nor TCP_KEEPALIVE; "
            "cannot set the TCP keepalive idle time"
        )
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, idle_option, KEEPALIVE_TIME)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL)
