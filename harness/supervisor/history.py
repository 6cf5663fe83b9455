"""``MessageHistory``: the last messages a device exchanged with its client.

A small ring buffer in the device process, read through the control channel's
``history`` operation so a failing test's report can show the end of the SCPI
conversation. ``HistoryReader`` and ``HistoryWriter`` wrap a client's streams
and feed it; what the writer sees is what went on the wire (after faults).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from typing import Any

#: Messages kept (both directions together).
HISTORY_LENGTH = 64
#: Characters kept of one message; an unterminated run longer than this is cut.
MAX_ENTRY_CHARS = 256
_LINE_END = re.compile(rb"[\r\n]")
DIRECTIONS = ("rx", "tx")


def printable(data: bytes) -> str:
    """``data`` as readable text: non-printable bytes as escapes, cut at ``MAX_ENTRY_CHARS``."""
    text = data[:MAX_ENTRY_CHARS].decode("latin-1").encode("unicode_escape").decode("ascii")
    return text + ("..." if len(data) > MAX_ENTRY_CHARS else "")


class MessageHistory:
    """Bytes in per direction (``rx`` from the client, ``tx`` to it); lines out, bounded."""

    def __init__(self, length: int = HISTORY_LENGTH) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=length)
        self._partial = {direction: bytearray() for direction in DIRECTIONS}

    def received(self, data: bytes) -> None:
        self._feed("rx", data)

    def sent(self, data: bytes) -> None:
        self._feed("tx", data)

    def _feed(self, direction: str, data: bytes) -> None:
        buffer = self._partial[direction]
        buffer += data
        *lines, rest = _LINE_END.split(buffer)
        for line in lines:
            if line:
                self._add(direction, line)
        if len(rest) > MAX_ENTRY_CHARS:
            # A flood without terminators is kept as one cut entry, not buffered forever.
            self._add(direction, rest)
            rest = b""
        self._partial[direction] = bytearray(rest)

    def _add(self, direction: str, line: bytes) -> None:
        self._entries.append({"t": round(time.time(), 6), "dir": direction,
                              "text": printable(line)})

    def entries(self, count: int = HISTORY_LENGTH) -> list[dict[str, Any]]:
        """The last ``count`` messages, oldest first: ``{"t": unix time, "dir", "text"}``."""
        return list(self._entries)[-count:] if count > 0 else []

    def clear(self) -> None:
        self._entries.clear()
        for buffer in self._partial.values():
            buffer.clear()


class HistoryReader:
    """A ``StreamReader`` stand-in that records what it reads."""

    def __init__(self, reader: asyncio.StreamReader, history: MessageHistory) -> None:
        self._reader = reader
        self._history = history

    async def read(self, n: int = -1) -> bytes:
        data = await self._reader.read(n)
        self._history.received(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


class HistoryWriter:
    """A ``StreamWriter`` stand-in that records what it writes."""

    def __init__(self, writer: asyncio.StreamWriter, history: MessageHistory) -> None:
        self._writer = writer
        self._history = history

    def write(self, data: bytes) -> None:
        self._history.sent(data)
        self._writer.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)
