"""Framer: input bytes to program messages and control events (spec §1.1-§1.3, §8.2, §8.3).

The framer holds at most ``max_message_length`` characters whatever it is fed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

DEFAULT_MAX_MESSAGE_LENGTH = 2048

_CR, _LF, _ETX, _CAN, _XON, _XOFF = 0x0D, 0x0A, 0x03, 0x18, 0x11, 0x13
_SPECIAL = re.compile(rb"[\r\n\x03\x18]")
_SPECIAL_XONXOFF = re.compile(rb"[\r\n\x03\x18\x11\x13]")


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
    """

    def __init__(
        self, max_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH, xonxoff: bool = False
    ) -> None:
        if max_message_length < 1:
            raise ValueError(f"max_message_length must be positive, got {max_message_length}")
        self.max_message_length = max_message_length
        self.xonxoff = xonxoff
        self._buffer = bytearray()
        # True while skipping the rest of an overlong message up to its terminator.
        self._discarding = False

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
        special = _SPECIAL_XONXOFF if self.xonxoff else _SPECIAL
        if not self._buffer and not self._discarding:
            # Fast path: one whole message and its terminator(s), the usual case.
            body = data.rstrip(b"\r\n")
            if (
                len(body) < len(data)
                and len(body) <= self.max_message_length
                and special.search(body) is None
            ):
                return [Message(body.decode("latin-1"))] if body else []
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
