"""SCPI error codes, the exception handlers raise, and the error queue (spec §3)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

NO_ERROR = 0
QUEUE_OVERFLOW = -350

#: Message texts (§3.3). None of them contains a comma or a double quote (§3.2).
ERROR_MESSAGES: dict[int, str] = {
    0: "No error",
    -100: "Command error",
    -101: "Invalid character",
    -102: "Syntax error",
    -103: "Invalid separator",
    -104: "Data type error",
    -105: "GET not allowed",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -110: "Command header error",
    -111: "Header separator error",
    -112: "Program mnemonic too long",
    -113: "Undefined header",
    -114: "Header suffix out of range",
    -120: "Numeric data error",
    -121: "Invalid character in number",
    -123: "Exponent too large",
    -124: "Too many digits",
    -128: "Numeric data not allowed",
    -140: "Character data error",
    -141: "Invalid character data",
    -144: "Character data too long",
    -148: "Character data not allowed",
    -150: "String data error",
    -151: "Invalid string data",
    -154: "String too long",
    -158: "String data not allowed",
    -160: "Block data error",
    -161: "Invalid block data",
    -168: "Block data not allowed",
    -170: "Expression error",
    -171: "Invalid expression",
    -178: "Expression data not allowed",
    -200: "Execution error",
    -210: "Trigger error",
    -211: "Trigger ignored",
    -212: "Arm ignored",
    -213: "Init ignored",
    -214: "Trigger deadlock",
    -215: "Arm deadlock",
    -220: "Parameter error",
    -221: "Settings conflict",
    -222: "Parameter data out of range",
    -223: "Too much data",
    -224: "Illegal parameter value",
    -230: "Data corrupt or stale",
    -240: "Hardware error",
    -241: "Hardware missing",
    -260: "Expression error",
    -261: "Math error in expression",
    -281: "Cannot create program",
    -282: "Illegal program name",
    -284: "Program currently running",
    -285: "Program syntax error",
    -300: "Device-specific error",
    -310: "System error",
    -311: "Memory error",
    -315: "Configuration memory lost",
    -330: "Self-test failed",
    -350: "Queue overflow",
    -360: "Communication error",
    -363: "Input buffer overrun",
    -400: "Query error",
    -410: "Query INTERRUPTED",
    -420: "Query UNTERMINATED",
    -430: "Query DEADLOCKED",
    -440: "Query UNTERMINATED after indefinite response",
}

# Standard event register bits (§2.5).
ESR_OPC = 1
ESR_QYE = 4
ESR_DDE = 8
ESR_EXE = 16
ESR_CME = 32
ESR_URQ = 64
ESR_PON = 128


class ScpiError(Exception):
    """A unit failed with a SCPI error; the engine queues it and discards the rest.

    ``message`` defaults to the standard text of ``code``; ``esr_bit`` defaults to the
    bit of the code's class (positive, device-specific codes set DDE). Code 0 is no
    error: nothing is queued; a handler that means "no reply" raises ``NoReply``.
    """

    def __init__(self, code: int, message: str | None = None, esr_bit: int | None = None):
        self.code = code
        self.message = message if message is not None else message_for(code)
        self.esr_bit = esr_bit if esr_bit is not None else esr_bit_for(code)
        super().__init__(f"{code},{self.message}")


def message_for(code: int) -> str:
    """The standard message text of ``code`` (its class's text when unknown)."""
    text = ERROR_MESSAGES.get(code)
    if text is None:
        text = ERROR_MESSAGES.get(-(abs(code) // 100 * 100), "Device-specific error")
    return text


def esr_bit_for(code: int) -> int:
    """The standard event register bit a code sets (§3.3); 0 for "No error"."""
    if code == 0:
        return 0
    if code > 0:
        return ESR_DDE
    hundreds = -code // 100
    return {1: ESR_CME, 2: ESR_EXE, 3: ESR_DDE, 4: ESR_QYE}.get(hundreds, ESR_DDE)


def format_error(code: int, message: str, plus: bool = False) -> str:
    """Wire format ``<code>,"<message>"`` (§3.2); ``plus`` prints ``+313``."""
    sign = "+" if plus and code > 0 else ""
    return f'{sign}{code},"{message}"'


CodeRange = tuple[int, int]
ALL_CODES: tuple[CodeRange, ...] = ((-32768, 32767),)


class ErrorQueue:
    """FIFO of (code, message) with the overflow rule of §3.1 and the queue filters of §2.6.

    Also counts, by code, every error the filters admitted since the last
    ``reset_counts`` (power-on), whether or not the queue had room; -350 counts
    the times the queue overflowed.  Reading or clearing the queue keeps the counts.
    """

    def __init__(self, depth: int = 10) -> None:
        if depth < 1:
            raise ValueError(f"error queue depth must be at least 1, got {depth}")
        self.depth = depth
        self._entries: deque[tuple[int, str]] = deque()
        self.enabled: tuple[CodeRange, ...] = ALL_CODES
        self.disabled: tuple[CodeRange, ...] = ()
        self._counts: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def admits(self, code: int) -> bool:
        """Whether ``:STAT:QUE:ENAB/DIS`` let ``code`` into the queue (-350 always)."""
        if code == QUEUE_OVERFLOW:
            return True
        return _in_ranges(code, self.enabled) and not _in_ranges(code, self.disabled)

    def push(self, code: int, message: str | None = None) -> None:
        """Queue an error; when full the newest entry becomes -350 and ``code`` is dropped.

        Code 0 is never queued.
        """
        if code == NO_ERROR or not self.admits(code):
            return
        self._count(code)
        text = message if message is not None else message_for(code)
        if len(self._entries) < self.depth:
            self._entries.append((code, text))
        elif self._entries[-1][0] != QUEUE_OVERFLOW:
            self._entries[-1] = (QUEUE_OVERFLOW, message_for(QUEUE_OVERFLOW))
            self._count(QUEUE_OVERFLOW)

    def _count(self, code: int) -> None:
        self._counts[code] = self._counts.get(code, 0) + 1

    def counts(self) -> dict[int, int]:
        """Errors admitted since the last ``reset_counts``, by code (ascending)."""
        return dict(sorted(self._counts.items()))

    def reset_counts(self) -> None:
        """Start counting anew (power-on)."""
        self._counts.clear()

    def pop(self) -> tuple[int, str]:
        """Remove and return the oldest entry, ``(0, "No error")`` when empty."""
        if self._entries:
            return self._entries.popleft()
        return (NO_ERROR, ERROR_MESSAGES[NO_ERROR])

    def peek_all(self) -> list[tuple[int, str]]:
        """The queued entries, oldest first, without removing them."""
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def reset_filters(self) -> None:
        """Back to the default: every code admitted."""
        self.enabled = ALL_CODES
        self.disabled = ()

    def set_enabled(self, ranges: Iterable[CodeRange]) -> None:
        """``:STAT:QUE:ENAB``: only these codes enter the queue."""
        self.enabled = tuple(ranges)
        self.disabled = ()

    def set_disabled(self, ranges: Iterable[CodeRange]) -> None:
        """``:STAT:QUE:DIS``: these codes are kept out of the queue."""
        self.disabled = tuple(ranges)


def _in_ranges(code: int, ranges: tuple[CodeRange, ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)
