"""``PtyOutput``: the device's transmit line on a pseudo-terminal master.

Bytes are written at once, or, when paced, no faster than the line rate: each
chunk of about 10 ms worth of characters is written when its transmission
would have ended. XOFF from the host holds the output (a chunk in flight ends
first, as a UART finishes its character); ``discard`` drops what was not sent
(device clear). ``drain`` waits while more than ``max_buffered`` bytes wait.
``on_sent`` (a recording tap) sees the bytes that reached the pty, once there.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable

from harness.tcpip.base import cancel_and_await, make_done_future

__all__ = ["MAX_BUFFERED", "PtyOutput"]

logger = logging.getLogger(__name__)

#: Bytes waiting to be sent before ``drain`` makes the writer wait.
MAX_BUFFERED = 65536
#: Seconds of line time per paced chunk: short enough that XOFF acts promptly.
PACE_SLICE = 0.01


class PtyOutput:
    """Writes to a non-blocking pty master ``fd``; ``seconds_per_character`` paces it.

    ``seconds_per_character=None`` writes without pacing; ``on_sent(data)`` is
    called with each run of bytes the pty accepted, right after. Call ``close``
    when done.
    """

    def __init__(self, fd: int, *, seconds_per_character: float | None = None,
                 max_buffered: int = MAX_BUFFERED, log: logging.Logger | None = None,
                 on_sent: Callable[[bytes], None] | None = None) -> None:
        self._fd = fd
        self._on_sent = on_sent
        self._loop = asyncio.get_running_loop()
        self._seconds_per_character = seconds_per_character
        self._max_buffered = max_buffered
        self.log = log if log is not None else logger
        self._buffer = bytearray()
        self._paused = False
        self._closed = False
        self._writing = False  # add_writer is registered
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._can_send = asyncio.Event()
        self._line_free_at = 0.0
        self._pacer: asyncio.Future[None] = make_done_future()
        if seconds_per_character is not None:
            self._chunk = max(1, int(PACE_SLICE / seconds_per_character))
            self._pacer = asyncio.ensure_future(self._pace())

    @property
    def buffered(self) -> int:
        """Bytes accepted but not yet written to the pty."""
        return len(self._buffer)

    def write(self, data: bytes) -> None:
        if self._closed or not data:
            return
        self._buffer += data
        if len(self._buffer) > self._max_buffered:
            self._has_room.clear()
        self._kick()

    async def drain(self) -> None:
        await self._has_room.wait()

    def set_paused(self, paused: bool) -> None:
        """XOFF (True) or XON (False) from the host."""
        self._paused = paused
        self._kick()

    def discard(self) -> None:
        """Drop every byte not yet sent."""
        self._buffer.clear()
        self._update_room()
        self._can_send.clear()

    async def close(self) -> None:
        self._closed = True
        self._stop_writing()
        self._buffer.clear()
        self._has_room.set()
        await cancel_and_await(self._pacer, self.log)

    # -- sending -----------------------------------------------------------------------

    def _kick(self) -> None:
        if self._paused or not self._buffer or self._closed:
            self._can_send.clear()
            return
        if self._seconds_per_character is not None:
            self._can_send.set()
        elif not self._writing:
            self._send_buffer()

    def _send_buffer(self) -> None:
        """Write as much of the buffer as the pty takes; wait for writability for the rest."""
        if self._buffer and not self._paused:
            sent = self._write_some(self._buffer)
            del self._buffer[:sent]
            self._update_room()
        if self._buffer and not self._paused and not self._closed:
            if not self._writing:
                self._loop.add_writer(self._fd, self._send_buffer)
                self._writing = True
        else:
            self._stop_writing()

    def _write_some(self, data: bytes | bytearray | memoryview) -> int:
        try:
            sent = os.write(self._fd, data)
        except BlockingIOError:
            return 0
        except OSError as e:
            # EIO: nobody holds the slave side any more; the bytes are lost, as on a line.
            level = logging.DEBUG if e.errno == errno.EIO else logging.WARNING
            self.log.log(level, "Writing to the pty failed: %r; %d bytes dropped", e, len(data))
            return len(data)
        if self._on_sent is not None and sent:
            # Copied: the caller's buffer changes once the sent bytes are removed from it.
            self._on_sent(bytes(data[:sent]))
        return sent

    def _stop_writing(self) -> None:
        if self._writing:
            self._loop.remove_writer(self._fd)
            self._writing = False

    def _update_room(self) -> None:
        if len(self._buffer) <= self._max_buffered:
            self._has_room.set()

    async def _pace(self) -> None:
        """Send the buffer chunk by chunk, each when its transmission time has passed."""
        loop = self._loop
        seconds_per_character = self._seconds_per_character
        assert seconds_per_character is not None
        while True:
            await self._can_send.wait()
            if self._paused or not self._buffer:
                self._can_send.clear()
                continue
            chunk = bytes(self._buffer[: self._chunk])
            del self._buffer[: len(chunk)]
            self._update_room()
            start = max(loop.time(), self._line_free_at)
            self._line_free_at = start + len(chunk) * seconds_per_character
            # A deadline wait: the characters are on the line until then.
            await asyncio.sleep(self._line_free_at - loop.time())
            await self._write_all(chunk)
            self._kick()

    async def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            sent = self._write_some(view)
            view = view[sent:]
            if view:
                await self._writable()

    async def _writable(self) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()

        def ready() -> None:
            if not waiter.done():
                waiter.set_result(None)

        self._loop.add_writer(self._fd, ready)
        try:
            await waiter
        finally:
            self._loop.remove_writer(self._fd)
