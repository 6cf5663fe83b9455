"""Message normalisation for replay matching: equal keys mean "the same message".

Each switch of ``Normalisation`` declares one difference a replay forgives
(terminators are always forgiven: messages are compared without them):

* ``case``: ``:sens:func?`` == ``:SENS:FUNC?``, ``on`` == ``ON``;
* ``short_form``: ``:SYSTem:ERRor?`` == ``:SYST:ERR?`` (the SCPI rule: four
  letters, three when the fourth is a vowel), suffix ``1`` == no suffix, the
  message's leading colon and ``:*CLS`` == ``*CLS``;
* ``whitespace``: runs of blanks, blanks around ``;`` and ``,``, and empty
  units (``*IDN?;``) do not count;
* ``numbers``: ``2e-09`` == ``2E-9`` == ``0.000000002``, ``1`` == ``1.000000``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from devices.scpi.message import split_outside

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_MNEMONIC = re.compile(r"([A-Za-z_]+)(\d*)(\??)")
_UNIT = re.compile(r"([ \t]*)([^ \t]*)([ \t]*)(.*?)([ \t]*)", re.DOTALL)
_VOWELS = frozenset("AEIOUaeiou")


@dataclass(frozen=True)
class Normalisation:
    """Which differences between a received and a recorded message are forgiven."""

    case: bool = True
    short_form: bool = True
    whitespace: bool = True
    numbers: bool = True

    def key(self, message: str) -> str:
        """The comparison key of ``message`` (terminators removed)."""
        return _key(self, message)


EXACT = Normalisation(case=False, short_form=False, whitespace=False, numbers=False)


@functools.lru_cache(maxsize=8192)
def _key(options: Normalisation, message: str) -> str:
    message = message.strip("\r\n")
    if options == EXACT:
        return message
    units = [_unit_key(options, unit, first=index == 0)
             for index, unit in enumerate(split_outside(message, ";"))]
    if options.whitespace:
        units = [unit for unit in units if unit]
    return ";".join(units)


def _unit_key(options: Normalisation, unit: str, first: bool) -> str:
    match = _UNIT.fullmatch(unit)
    assert match is not None  # the pattern matches any text
    lead, header, gap, parameters, trail = match.groups()
    header = _header_key(options, header, first)
    values = [_parameter_key(options, value) for value in split_outside(parameters, ",")]
    if options.whitespace:
        return header + (" " + ",".join(values) if parameters else "")
    return lead + header + gap + ",".join(values) + trail


def _header_key(options: Normalisation, header: str, first: bool) -> str:
    if options.case:
        header = header.upper()
    if not options.short_form:
        return header
    if header.startswith(":*") or (first and header.startswith(":")):
        header = header[1:]
    if header.startswith("*"):
        return header
    return ":".join(_short_mnemonic(part) for part in header.split(":"))


def _short_mnemonic(part: str) -> str:
    match = _MNEMONIC.fullmatch(part)
    if match is None:
        return part
    word, suffix, query = match.groups()
    if len(word) > 4:
        word = word[:3] if word[3] in _VOWELS else word[:4]
    return word + ("" if suffix == "1" else suffix) + query


def _parameter_key(options: Normalisation, value: str) -> str:
    stripped = value.strip(" \t") if options.whitespace else value
    if not stripped or stripped[0] in "'\"(#":
        return stripped
    if options.numbers and _NUMBER.fullmatch(stripped):
        return repr(float(stripped))
    if options.case:
        stripped = stripped.upper()
    if options.short_form and _MNEMONIC.fullmatch(stripped):
        return _short_mnemonic(stripped)
    return stripped
