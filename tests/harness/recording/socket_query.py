"""A blocking SCPI query over a plain socket, for tests of devices in other processes."""

from __future__ import annotations

import socket

#: Bytes asked of the socket per read.
CHUNK = 4096


def query(sock: socket.socket, message: bytes) -> bytes:
    """Send ``message`` and return the reply up to and including its LF."""
    sock.sendall(message)
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(CHUNK)
        assert chunk, "the device closed the connection"
        reply += chunk
    return reply
