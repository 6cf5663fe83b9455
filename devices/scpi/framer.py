"""Framer: input bytes to program messages and control events (spec §1.1-§1.3, §8.2, §8.3).

The framer holds at most ``max_message_length`` characters (plus the first byte
of a two-byte terminator) whatever it is fed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

DEFAULT_MAX_MESSAGE_LENGTH = 2048

_CR, _LF, _ETX, _CAN, _XON, _XOFF = 0x0D, 0x0A, 0x03, 0x18, 0x11, 0x13
_SPECIAL = re.compile(rb"[\r\n\x03\x18]")
_SPECIAL_XONXOFF = re.compile(rb"[\r\n\x03\x18\x11\x13]")
# With a configured terminator CR and LF are ordinary bytes; only these stay special.
_CONTROL = re.compile(rb"[\x03\x18]")
_CONTROL_XONXOFF = re.compile(rb"[\x03\x18\x11\x13]")
#: The input terminators a framer can be limited to (fidelity F1 ``configured``).
TERMINATORS = (b"\r", b"\n", b"\r\n", b"\n\r")


@dataclass(frozen=True, slots=True)
class Message:
    """A complete program message without its terminator (latin-1 decoded, never empty)."""

    text: str


@dataclass(frozen=True, slots=True)
class DeviceClear:
    """Ctrl-C or Ctrl-X arrived: the partial message was discarded (§8.3)."""


@dataclass(frozen=True, slots=True)
class Overrun:
    """A message exceeded the length limit; all of it is discarded (§1.3)."""


@dataclass(frozen=True, slots=True)
class FlowControl:
    """XON (``"xon"``) or XOFF (``"xoff"``) from the host, when XON/XOFF is enabled (§8.2)."""

    state: Literal["xon", "xoff"]


FramerEvent = Message | DeviceClear | Overrun | FlowControl


class Framer:
    """Splits a byte stream on CR and LF; handles device clear, XON/XOFF and overlong input.

    ``feed(data)`` returns the events completed by ``data`` in stream order.
    ``terminator`` (one of ``TERMINATORS``) makes only that sequence end a
    message; CR and LF elsewhere are then characters of the message (F1).
    """

    def __init__(
        self, max_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH, xonxoff: bool = False,
        terminator: bytes | None = None,
    ) -> None:
        if max_message_length < 1:
            raise ValueError(f"max_message_length must be positive, got {max_message_length}")
        if terminator is not None and terminator not in TERMINATORS:
            raise ValueError(f"terminator={terminator!r} is not an input terminator; "
                             "use b'\\r', b'\\n', b'\\r\\n' or b'\\n\\r' (or None for all)")
        self.max_message_length = max_message_length
        self.xonxoff = xonxoff
        self.terminator = terminator
        self._buffer = bytearray()
        # True while skipping the rest of an overlong message up to its terminator.
        self._discarding = False
        # The last whole message fed in one piece: a client polling with the same
        # query gets the same (immutable) event without framing it again.
        self._last_data = b""
        self._last_message: Message | None = None

    @property
    def pending(self) -> int:
        """Number of buffered bytes of the message in progress."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget the partial message (a new connection, a serial break)."""
        self._buffer.clear()
        self._discarding = False

    def feed(self, data: bytes) -> list[FramerEvent]:
        """Consume ``data``; return the events it completes."""
        if not self._buffer and not self._discarding and data == self._last_data:
            return [self._last_message] if self._last_message is not None else []
        if self.terminator is not None:
            return self._feed_terminated(data, self.terminator)
        special = _SPECIAL_XONXOFF if self.xonxoff else _SPECIAL
        if not self._buffer and not self._discarding:
            # Fast path: one whole message and its terminator(s), the usual case.
            body = data.rstrip(b"\r\n")
            if (
                len(body) < len(data)
                and len(body) <= self.max_message_length
                and special.search(body) is None
            ):
                return self._whole(data, body)
        events: list[FramerEvent] = []
        position = 0
        for match in special.finditer(data):
            start = match.start()
            if start > position:
                self._append(data, position, start, events)
            self._special(data[start], events)
            position = start + 1
        if position < len(data):
            self._append(data, position, len(data), events)
        return events

    def _whole(self, data: bytes, body: bytes) -> list[FramerEvent]:
        """``data``: one whole message ``body`` and its terminator(s); remembered."""
        message = Message(body.decode("latin-1")) if body else None
        self._last_data, self._last_message = data, message
        return [message] if message is not None else []

    def _append(self, data: bytes, start: int, end: int, events: list[FramerEvent]) -> None:
        if self._discarding:
            return
        room = self.max_message_length - len(self._buffer)
        if end - start > room:
            self._buffer.clear()
            self._discarding = True
            events.append(Overrun())
            return
        self._buffer += data[start:end]

    def _special(self, byte: int, events: list[FramerEvent]) -> None:
        if byte == _CR or byte == _LF:
            if self._buffer:
                events.append(Message(self._buffer.decode("latin-1")))
                self._buffer.clear()
            self._discarding = False
        elif byte == _ETX or byte == _CAN:
            # A device clear also ends an overlong message: what follows is new input.
            self._buffer.clear()
            self._discarding = False
            events.append(DeviceClear())
        elif byte == _XON:
            events.append(FlowControl("xon"))
        else:
            events.append(FlowControl("xoff"))

    # -- a configured terminator (F1 ``configured``) -----------------------------------

    def _feed_terminated(self, data: bytes, terminator: bytes) -> list[FramerEvent]:
        control = _CONTROL_XONXOFF if self.xonxoff else _CONTROL
        if not self._buffer and not self._discarding and data.endswith(terminator):
            body = data[:-len(terminator)]
            if (len(body) <= self.max_message_length and terminator not in body
                    and control.search(body) is None):
                return self._whole(data, body)
        events: list[FramerEvent] = []
        position = 0
        for match in control.finditer(data):
            self._take(data[position:match.start()], terminator, events)
            self._special(data[match.start()], events)
            position = match.end()
        self._take(data[position:], terminator, events)
        return events

    def _take(self, data: bytes, terminator: bytes, events: list[FramerEvent]) -> None:
        """Add ordinary bytes; end a message at each complete ``terminator``."""
        if not data:
            return
        position = 0
        # A two-byte terminator split between two reads (the first byte is buffered).
        if len(terminator) == 2 and self._buffer[-1:] == terminator[:1] and data[:1] == \
                terminator[1:]:
            del self._buffer[-1]
            self._end_message(events)
            position = 1
        while (end := data.find(terminator, position)) >= 0:
            self._append_terminated(data, position, end, terminator, events)
            self._end_message(events)
            position = end + len(terminator)
        self._append_terminated(data, position, len(data), terminator, events)

    def _append_terminated(self, data: bytes, start: int, end: int, terminator: bytes,
                           events: list[FramerEvent]) -> None:
        if start == end:
            return
        if self._discarding:
            # Only the last byte matters: it may begin a terminator split between reads.
            self._buffer[:] = data[end - 1:end]
            return
        if len(self._buffer) + end - start > self.max_message_length + len(terminator) - 1:
            self._buffer[:] = data[end - 1:end]
            self._discarding = True
            events.append(Overrun())
            return
        self._buffer += data[start:end]

    def _end_message(self, events: list[FramerEvent]) -> None:
        if self._discarding:
            self._discarding = False
        elif len(self._buffer) > self.max_message_length:
            events.append(Overrun())
        elif self._buffer:
            events.append(Message(self._buffer.decode("latin-1")))
        self._buffer.clear()
