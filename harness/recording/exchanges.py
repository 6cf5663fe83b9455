"""A cassette's events grouped into exchanges: one client message and the replies after it.

A reply belongs to the last complete client message before it. Client bytes
without a terminator are not a message (the instrument discards them when the
connection closes); empty messages (the LF of a CRLF that arrived alone) are
not exchanges. A message ending with Ctrl-C or Ctrl-X is a device clear.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from harness.recording.reader import Cassette

logger = logging.getLogger(__name__)

_DEVICE_CLEAR = (0x03, 0x18)
_TERMINATORS = (0x0A, 0x0D)
#: The instrument's input limit when the cassette does not state one (keithley.md §1.3).
DEFAULT_MAX_MESSAGE_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class RecordedReply:
    """One reply line without its terminator, ``delay`` seconds after its message."""

    text: str
    delay: float


@dataclass(frozen=True, slots=True)
class Exchange:
    """One client message (``request``, without terminators) and the replies to it.

    ``kind`` is ``"message"``, ``"device_clear"`` or ``"overrun"`` (longer
    than the instrument's input limit: it never reaches the device).
    """

    index: int
    line: int
    t: float
    request: str
    kind: str
    replies: tuple[RecordedReply, ...]

    def describe(self) -> str:
        what = "device clear" if self.kind == "device_clear" else repr(self.request)
        return f"exchange {self.index} {what} (line {self.line})"


@dataclass(frozen=True)
class Session:
    """The exchanges of a cassette, and replies sent before any message (never expected)."""

    exchanges: tuple[Exchange, ...]
    unsolicited: tuple[str, ...]


class _Builder:
    def __init__(self, terminator: bytes, max_length: int) -> None:
        self.terminator = terminator
        self.max_length = max_length
        self.exchanges: list[Exchange] = []
        self.unsolicited: list[str] = []
        self.input = b""
        self.input_line = 0
        self.input_t = 0.0
        self.output = b""
        self.output_t = 0.0
        self.current: dict[str, Any] | None = None

    def rx(self, data: bytes, t: float, line: int) -> None:
        if not self.input:
            self.input_line, self.input_t = line, t
        self.input += data
        if not data or data[-1] not in _TERMINATORS + _DEVICE_CLEAR:
            return
        message, self.input = self.input, b""
        if message[-1] in _DEVICE_CLEAR:
            self._begin("", "device_clear")
            return
        text = message.rstrip(b"\r\n").decode("latin-1")
        if not text:
            return
        self._begin(text, "overrun" if len(text) > self.max_length else "message")

    def _begin(self, request: str, kind: str) -> None:
        self._end()
        self.current = {"index": len(self.exchanges), "line": self.input_line,
                        "t": self.input_t, "request": request, "kind": kind, "replies": []}

    def tx(self, data: bytes, t: float) -> None:
        if not self.output:
            self.output_t = t
        self.output += data
        terminator = self.terminator
        while (end := self.output.find(terminator)) >= 0:
            text = self.output[:end].decode("latin-1")
            self.output = self.output[end + len(terminator):]
            self._reply(text, self.output_t)
            self.output_t = t

    def _reply(self, text: str, t: float) -> None:
        if self.current is None:
            self.unsolicited.append(text)
            return
        self.current["replies"].append(RecordedReply(text, max(0.0, t - self.current["t"])))

    def connection_ended(self) -> None:
        # Unterminated input never reached the device; a partial reply line is kept.
        self.input = b""
        if self.output:
            self._reply(self.output.decode("latin-1"), self.output_t)
            self.output = b""

    def _end(self) -> None:
        current, self.current = self.current, None
        if current is not None:
            current["replies"] = tuple(current["replies"])
            self.exchanges.append(Exchange(**current))

    def session(self) -> Session:
        self.connection_ended()
        self._end()
        return Session(tuple(self.exchanges), tuple(self.unsolicited))


def build_session(cassette: Cassette) -> Session:
    """The exchanges of ``cassette`` in recorded order."""
    header = cassette.header
    max_length = header.device.config.get("max_message_length", DEFAULT_MAX_MESSAGE_LENGTH)
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
        max_length = DEFAULT_MAX_MESSAGE_LENGTH
    builder = _Builder(header.output_terminator.encode("latin-1"), max_length)
    for event in cassette.events:
        if event.kind == "rx":
            builder.rx(event.data, event.t, event.line)
        elif event.kind == "tx":
            builder.tx(event.data, event.t)
        elif event.kind in ("open", "close", "end"):
            builder.connection_ended()
    session = builder.session()
    if session.unsolicited:
        logger.warning("%s: %d reply lines came before any client message; replay never "
                       "sends them", cassette.path, len(session.unsolicited))
    return session
