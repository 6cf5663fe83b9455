"""Cutting the two byte streams into messages for the cassette, losslessly.

Client input ends a message at CR, LF, CRLF or LFCR (all accepted by the
instrument, spec keithley.md §1.1) and at a device clear byte (Ctrl-C, Ctrl-X,
§8.3); device output ends a line at the output terminator. Each piece keeps
its terminator, so the pieces joined are the stream. Pieces never exceed
``limit`` bytes: an endless line is cut.
"""

from __future__ import annotations

import re

from harness.recording.cassette import MAX_EVENT_DATA

_INPUT_END = re.compile(rb"\r\n|\n\r|[\r\n\x03\x18]")
#: A chunk that is exactly one message and its terminator (the usual case).
ONE_MESSAGE = re.compile(rb"[^\r\n\x03\x18]*(?:\r\n|\n\r|[\r\n])")


class InputSplitter:
    """Client bytes to messages, each ending with its terminator or device clear byte.

    ``pending`` holds the start of a message whose end has not arrived.
    """

    def __init__(self, limit: int = MAX_EVENT_DATA) -> None:
        self.pending = b""
        self._limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        if self.pending:
            data = self.pending + data
            self.pending = b""
        elif ONE_MESSAGE.fullmatch(data):
            return [data]  # the usual case: one message and its terminator
        pieces: list[bytes] = []
        start = 0
        for match in _INPUT_END.finditer(data):
            pieces.append(data[start:match.end()])
            start = match.end()
        self._keep(data[start:], pieces)
        return pieces

    def _keep(self, rest: bytes, pieces: list[bytes]) -> None:
        while len(rest) > self._limit:
            pieces.append(rest[:self._limit])
            rest = rest[self._limit:]
        self.pending = rest

    def flush(self) -> bytes:
        """The unterminated rest (at the end of a connection)."""
        rest, self.pending = self.pending, b""
        return rest


class OutputSplitter:
    """Device bytes to reply lines, each ending with ``terminator``."""

    def __init__(self, terminator: bytes, limit: int = MAX_EVENT_DATA) -> None:
        if not terminator:
            raise ValueError("terminator must not be empty, e.g. b'\\n'")
        self.terminator = terminator
        self.pending = b""
        self._limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        terminator = self.terminator
        if not self.pending and data.endswith(terminator) and (
                data.find(terminator) == len(data) - len(terminator)):
            return [data]  # the usual case: exactly one reply line
        if self.pending:
            data = self.pending + data
        pieces = data.split(terminator)
        rest = pieces.pop()
        lines = [piece + terminator for piece in pieces]
        while len(rest) > self._limit:
            lines.append(rest[:self._limit])
            rest = rest[self._limit:]
        self.pending = rest
        return lines

    def flush(self) -> bytes:
        rest, self.pending = self.pending, b""
        return rest
