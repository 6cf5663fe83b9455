"""Reply formats: NR1, NR3, booleans, strings, lists (spec §4.0 reply conventions)."""

from __future__ import annotations

import math
from typing import Any

INFINITY_TEXT = "9.9E37"
NOT_A_NUMBER_TEXT = "9.91E37"


def format_nr1(value: float) -> str:
    """Integer reply (``100``); infinity reads ``9.9E37``."""
    if isinstance(value, float) and not math.isfinite(value):
        return _special(value)
    return str(int(value))


def format_nr3(value: float, digits: int = 7, plus: bool = False) -> str:
    """``d.ddddddE±XX`` with ``digits`` significant digits.

    When that text does not read back as ``value`` the shortest exact decimal is used, so a
    client comparing the read-back value for equality sees the value it set.
    """
    if not math.isfinite(value):
        return _special(value)
    text = f"{value:.{digits - 1}E}"
    if float(text) != value:
        text = repr(float(value))
    if plus and not text.startswith("-"):
        text = "+" + text
    return text


def format_bool(value: Any) -> str:
    """``1`` / ``0``, never ON/OFF."""
    return "1" if value else "0"


def format_string(text: str) -> str:
    """Double-quoted, with embedded double quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def format_list(value: Any) -> str:
    """A ``ListValue`` back to ``(a:b,c)``; channel lists keep their ``@``."""
    items = []
    for low, high in value.ranges:
        items.append(_number(low) if low == high else f"{_number(low)}:{_number(high)}")
    prefix = "@" if value.channel else ""
    return "(" + prefix + ",".join(items) + ")"


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _special(value: float) -> str:
    if math.isnan(value):
        return NOT_A_NUMBER_TEXT
    return INFINITY_TEXT if value > 0 else "-" + INFINITY_TEXT
