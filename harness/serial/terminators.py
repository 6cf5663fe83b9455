"""``TerminatorTranslator``: replace one line terminator by another in a byte stream.

Everything else passes through unchanged and at once; only a trailing partial
terminator (the ``\\r`` of a ``\\r\\n`` not yet complete) is held back, so the
translator keeps at most ``len(old) - 1`` bytes.
"""

from __future__ import annotations

__all__ = ["TerminatorTranslator"]


class TerminatorTranslator:
    """``feed(data)`` returns ``data`` with every ``old`` terminator replaced by ``new``."""

    def __init__(self, old: bytes, new: bytes) -> None:
        if not old:
            raise ValueError("the terminator to replace must not be empty")
        self.old = old
        self.new = new
        self._held = b""

    @property
    def identity(self) -> bool:
        return self.old == self.new

    def feed(self, data: bytes) -> bytes:
        if self.old == self.new:
            return data
        if self._held:
            data = self._held + data
            self._held = b""
        keep = self._partial_terminator_length(data)
        if keep:
            data, self._held = data[:-keep], data[-keep:]
        return data.replace(self.old, self.new)

    def flush(self) -> bytes:
        """The held bytes, unchanged (the stream ended inside what looked like a terminator)."""
        held, self._held = self._held, b""
        return held

    def reset(self) -> None:
        self._held = b""

    def _partial_terminator_length(self, data: bytes) -> int:
        """Length of the longest proper prefix of ``old`` that ``data`` ends with."""
        for length in range(min(len(self.old) - 1, len(data)), 0, -1):
            if data.endswith(self.old[:length]):
                return length
        return 0
