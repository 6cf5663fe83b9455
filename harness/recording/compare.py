"""Comparing a recorded reply with an emulator's, field by field, within tolerances.

Replies to measurement queries (``READ?``, ``MEAS?``, ``FETC?``, ``DATA?``,
``LAT?``, ``FRES?``) and clock queries are split into fields at ``,`` and
``;``. A numeric field is a number with an optional suffix
(``+001.0012E-12NADC``, ``+0000012.345678secs``, ``+00042RDNG#``). Suffixes
and the number's shape (sign, digit count, exponent) must always agree, since
they are the format; the values may differ within the tolerance of their
class: timestamps (``secs``, real-time clock), reading numbers (``RDNG#``),
everything else is a measured value. Other replies must be equal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_MEASUREMENT_QUERY = re.compile(r"(READ|MEAS|FETC|DATA|LAT|FRES)[A-Z]*\??", re.IGNORECASE)
_CLOCK_QUERY = re.compile(r"(TIME|DATE)\?", re.IGNORECASE)
_NUMERIC_FIELD = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(.*)", re.DOTALL)
_CLOCK_FIELD = re.compile(r"\d{1,2}:\d{2}:\d{2}(\.\d+)?|\d{1,2}-[A-Za-z]{3}-\d{4}")
_FIELD_SEPARATOR = re.compile(r"[,;]")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Tolerances:
    """How far measured values, timestamps and reading numbers may differ.

    A value agrees when ``|a - b| <= max(value_abs, value_rel * |b|)``;
    ``math.inf`` accepts any value of the right format. ``for_source`` gives
    exact comparison for emulator cassettes and format-only comparison for
    hardware ones (whose signal the emulator cannot know).
    """

    value_rel: float = 0.0
    value_abs: float = 0.0
    timestamp_abs: float = 0.0
    reading_number_abs: float = 0.0

    @classmethod
    def for_source(cls, source: str) -> Tolerances:
        if source == "emulator":
            return cls()
        return cls(value_rel=math.inf, value_abs=math.inf, timestamp_abs=math.inf,
                   reading_number_abs=math.inf)


def compare_reply(request: str, expected: str, actual: str, tolerances: Tolerances) -> str | None:
    """``None`` if the replies agree, else the reason they differ."""
    if expected == actual:
        return None
    if not (_MEASUREMENT_QUERY.search(request) or _CLOCK_QUERY.search(request)):
        return "the replies differ"
    expected_fields = _FIELD_SEPARATOR.split(expected)
    actual_fields = _FIELD_SEPARATOR.split(actual)
    if len(expected_fields) != len(actual_fields):
        return f"{len(expected_fields)} fields recorded, {len(actual_fields)} from the emulator"
    if _separators(expected) != _separators(actual):
        return "the field separators differ"
    for number, (recorded, emulated) in enumerate(zip(expected_fields, actual_fields,
                                                      strict=True), start=1):
        reason = compare_field(recorded, emulated, tolerances)
        if reason is not None:
            return f"field {number} ({recorded!r} vs {emulated!r}): {reason}"
    return None


def compare_field(recorded: str, emulated: str, tolerances: Tolerances) -> str | None:
    if recorded == emulated:
        return None
    if _CLOCK_FIELD.fullmatch(recorded):
        if _DIGIT.sub("d", recorded) != _DIGIT.sub("d", emulated):
            return "the clock format differs"
        return None if tolerances.timestamp_abs > 0 else "the clock reading differs"
    recorded_match = _NUMERIC_FIELD.fullmatch(recorded)
    emulated_match = _NUMERIC_FIELD.fullmatch(emulated)
    if recorded_match is None or emulated_match is None:
        return "the text differs"
    recorded_number, suffix = recorded_match.groups()
    emulated_number, emulated_suffix = emulated_match.groups()
    if suffix != emulated_suffix:
        return f"suffix {suffix!r} recorded, {emulated_suffix!r} from the emulator"
    if _DIGIT.sub("d", recorded_number) != _DIGIT.sub("d", emulated_number):
        return "the number format differs"
    difference = abs(float(recorded_number) - float(emulated_number))
    limit = _limit(suffix, float(recorded_number), tolerances)
    if difference > limit:
        return f"differs by {difference:g} (tolerance {limit:g})"
    return None


def _limit(suffix: str, value: float, tolerances: Tolerances) -> float:
    if suffix.lower().startswith("sec"):
        return tolerances.timestamp_abs
    if suffix.upper().startswith("RDNG"):
        return tolerances.reading_number_abs
    relative = tolerances.value_rel * abs(value) if tolerances.value_rel else 0.0
    if math.isnan(relative):
        relative = math.inf
    return max(tolerances.value_abs, relative)


def _separators(text: str) -> str:
    return "".join(_FIELD_SEPARATOR.findall(text))
