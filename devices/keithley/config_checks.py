"""Checks of single configuration values; each raises ``ValueError`` naming the key."""

from __future__ import annotations

import math
from collections.abc import Iterable


def check_choice(key: str, value: object, allowed: Iterable[object]) -> None:
    """``value`` must be one of ``allowed`` (a bool never passes for a number, nor back)."""
    options = tuple(allowed)
    if value not in options or isinstance(value, bool) != isinstance(options[0], bool):
        shown = ", ".join(repr(option) for option in options)
        raise ValueError(f"config {key}: {value!r} is not allowed; expected one of {shown}")


def check_flag(key: str, value: object) -> None:
    """``value`` must be true or false."""
    if not isinstance(value, bool):
        raise ValueError(f"config {key}: expected true or false, got {value!r}")


def check_number(key: str, value: object, minimum: float | None = None, *,
                 integer: bool = False, above: bool = False) -> None:
    """A finite number (``integer``: an int) at least ``minimum`` (``above``: greater)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            integer and not isinstance(value, int)):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"config {key}: expected {kind}, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"config {key}: expected a finite number, got {value!r}")
    if minimum is not None and (value < minimum or (above and value == minimum)):
        relation = ">" if above else ">="
        raise ValueError(f"config {key}: expected a value {relation} {minimum}, got {value!r}")


def check_text(key: str, value: object, *, allow_empty: bool = True) -> None:
    """Printable ASCII text (non-empty unless ``allow_empty``)."""
    if not isinstance(value, str) or (not allow_empty and not value):
        raise ValueError(f"config {key}: expected a text, got {value!r}")
    if any(not " " <= char <= "~" for char in value):
        raise ValueError(f"config {key}: only printable ASCII is allowed, got {value!r}")
