"""Received bytes handed to a callback from the transport's own callback.

A task reading an ``asyncio.StreamReader`` is woken for every chunk received:
one more pass of the event loop, and a future, per message. ``push_input``
replaces the connection's protocol with a ``PushedInput`` that calls
``consume(data)`` at once, inside ``data_received``. Everything else (EOF, the
loss of the connection, write flow control) still goes to the stream protocol,
so the ``StreamReader``/``StreamWriter`` pair keeps working: EOF and errors end
``reader.read()``, ``writer.drain()`` still waits for a slow peer.

Reading pauses while the peer does not take the output (``pause_writing``) and
while the consumer holds it (``hold``/``release``), so input is never taken
faster than it can be answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["PushedInput", "can_push", "push_input"]


class PushedInput(asyncio.Protocol):
    """The protocol of a connection whose input goes to ``consume``; see the module."""

    def __init__(self, transport: asyncio.Transport, inner: asyncio.BaseProtocol,
                 consume: Callable[[bytes], None]) -> None:
        self._transport = transport
        self._inner = inner
        self._consume = consume
        self._holds: set[str] = set()

    @property
    def holds(self) -> frozenset[str]:
        """Why reading is paused now (``"write"``: the peer does not take the output)."""
        return frozenset(self._holds)

    def hold(self, reason: str) -> None:
        """Stop reading until ``release(reason)`` (and every other hold is released)."""
        if not self._holds:
            self._transport.pause_reading()
        self._holds.add(reason)

    def release(self, reason: str) -> None:
        """Take back ``hold(reason)``; reading resumes when no hold is left."""
        if reason in self._holds:
            self._holds.discard(reason)
            if not self._holds:
                self._transport.resume_reading()

    # -- asyncio.Protocol ------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._consume(data)

    def eof_received(self) -> bool | None:
        if isinstance(self._inner, asyncio.Protocol):
            return self._inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()
        self.hold("write")

    def resume_writing(self) -> None:
        self._inner.resume_writing()
        self.release("write")


def can_push(reader: object, writer: object) -> bool:
    """Whether ``push_input`` can serve these streams: asyncio's own, not stand-ins."""
    return (type(reader) is asyncio.StreamReader and type(writer) is asyncio.StreamWriter
            and isinstance(writer.transport, asyncio.Transport))


async def push_input(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     consume: Callable[[bytes], None],
                     on_push: Callable[[PushedInput], None] | None = None,
                     chunk: int = 65536) -> None:
    """Hand every byte the connection receives to ``consume`` until the peer's EOF.

    Bytes the reader buffered before are consumed first, in order.
    ``on_push`` receives the ``PushedInput`` (for ``hold``/``release``) before
    any byte is consumed. Raises what ``reader.read`` raises when the connection
    is lost; the stream protocol is back in place when this returns.
    """
    transport = writer.transport
    if not isinstance(transport, asyncio.Transport):
        raise TypeError(f"push_input needs a socket transport, not {transport!r}")
    inner = transport.get_protocol()
    pushed = PushedInput(transport, inner, consume)
    if on_push is not None:
        on_push(pushed)
    # From here on the reader gets no more data, only EOF or an error. A read returns
    # what it holds without yielding, so earlier bytes are consumed before any pushed one;
    # once it is empty the read waits for the end of the connection.
    transport.set_protocol(pushed)
    try:
        while data := await reader.read(chunk):
            consume(data)
    finally:
        transport.set_protocol(inner)
        for reason in pushed.holds:
            pushed.release(reason)
