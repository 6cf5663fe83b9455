"""Decimal (<NRf>) and non-decimal (#H/#Q/#B) numeric program data (spec §1.6)."""

from __future__ import annotations

import math
import re

from devices.scpi.errors import ScpiError

MAX_MANTISSA_DIGITS = 255

_NRF = re.compile(r"[+-]?(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE][+-]?\d+)?")
_NON_DECIMAL = {"H": (16, "0123456789ABCDEF"), "Q": (8, "01234567"), "B": (2, "01")}


def parse_number(text: str) -> float:
    """Parse ``<NRf>`` or ``#H1F``/``#Q17``/``#B101``.

    Raises ScpiError -121 (malformed), -123 (not representable), -124 (too many digits).
    """
    if text.startswith("#"):
        return float(_parse_non_decimal(text))
    match = _NRF.fullmatch(text)
    if match is None:
        raise ScpiError(-121)
    integer, fraction, bare_fraction = match.groups()
    digits = len(integer or "") + len(fraction or "") + len(bare_fraction or "")
    if digits > MAX_MANTISSA_DIGITS:
        raise ScpiError(-124)
    value = float(text)
    if math.isinf(value):
        raise ScpiError(-123)
    return value


def _parse_non_decimal(text: str) -> int:
    if len(text) < 3:
        raise ScpiError(-121)
    radix_letter = text[1].upper()
    spec = _NON_DECIMAL.get(radix_letter)
    if spec is None:
        raise ScpiError(-121)
    radix, alphabet = spec
    digits = text[2:].upper()
    if len(digits) > MAX_MANTISSA_DIGITS:
        raise ScpiError(-124)
    if any(char not in alphabet for char in digits):
        raise ScpiError(-121)
    return int(digits, radix)


def round_half_away(value: float) -> int:
    """Round to the nearest integer, halves away from zero (``2.5`` -> 3, ``-2.5`` -> -3)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))
