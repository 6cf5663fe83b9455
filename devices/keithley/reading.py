"""One completed reading, as the trigger model produces it and the buffer stores it."""

from __future__ import annotations

from typing import NamedTuple

#: Special values of §5.1.
OVERFLOW_VALUE = 9.9e37
ZERO_CHECK_VALUE = 9.91e37
#: Temperature / humidity of a disabled or disconnected probe (§4.12).
NO_TEMPERATURE = 9999.99
NO_HUMIDITY = 999.99


class Reading(NamedTuple):
    """A reading and everything its format elements need (§5).

    ``time`` is the device time of completion; ``timestamp`` the relative
    timestamp (device seconds since the timestamp origin, wrapped).  Immutable;
    a named tuple rather than a dataclass because the model builds one per
    reading, up to one per message at speed 0 (§6.1), and tuples are built
    several times faster.
    """

    value: float
    status: str  # first applicable status letter: Z, O, U, L, R or N
    function: str  # VOLT, CURR, RES or CHAR
    range_nominal: float
    digits: int
    time: float
    timestamp: float
    number: int
    temperature: float = NO_TEMPERATURE
    humidity: float = NO_HUMIDITY
    vsource: float = 0.0
    filtered: bool = False
    math: bool = False
    relative: bool = False
    zero_check: bool = False
    zero_correct: bool = False

    @property
    def overflow(self) -> bool:
        """The reading overflowed its range."""
        return self.status == "O"
