"""Mnemonics: documented spellings, short/long matching and numeric suffixes (spec §1.5)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

MAX_MNEMONIC_LENGTH = 12

# A keyword may contain digits (``MA0Factor``) but ends in a letter: trailing digits are
# always a numeric suffix, in documented spellings and in received headers alike.
KEYWORD = r"[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z_])?"
SUFFIX = r"(?:\[\d+(?:-\d+)?\]|\d+)"
_SPELLING = re.compile(rf"({KEYWORD})(?:\[(\d+)(?:-(\d+))?\]|(\d+))?")
_TOKEN = re.compile(r"([A-Z](?:[A-Z0-9_]*[A-Z_])?)(\d*)")


class PatternError(ValueError):
    """A command pattern or documented spelling in a command table is malformed."""


@dataclass(frozen=True, slots=True)
class Mnemonic:
    """One documented keyword such as ``NPLCycles``, ``SENSe[1]``, ``CALCulate2``, ``MA0Factor``.

    ``first_suffix``..``last_suffix`` is the accepted suffix range (None: no suffix);
    ``default_suffix`` is the value when the suffix is absent (None: it must be given).
    """

    long: str
    short: str
    first_suffix: int | None = None
    last_suffix: int | None = None
    default_suffix: int | None = None

    @property
    def canonical(self) -> str:
        """Short form, with the default suffix when the keyword takes one (``SENS1``)."""
        if self.default_suffix is not None:
            return f"{self.short}{self.default_suffix}"
        if self.first_suffix is not None and self.first_suffix == self.last_suffix:
            return f"{self.short}{self.first_suffix}"
        return self.short

    def accepts_suffix(self, suffix: int | None) -> bool:
        if suffix is None:
            return self.default_suffix is not None or self.first_suffix is None
        if self.first_suffix is None or self.last_suffix is None:
            return False
        return self.first_suffix <= suffix <= self.last_suffix

    def suffix_value(self, suffix: int | None) -> int | None:
        """The suffix a match stands for (the default when absent)."""
        return self.default_suffix if suffix is None else suffix

    @property
    def takes_suffix(self) -> bool:
        return self.first_suffix is not None

    def overlaps(self, other: Mnemonic) -> bool:
        """Whether some received suffix (or its absence) is accepted by both keywords."""
        if self.accepts_suffix(None) and other.accepts_suffix(None):
            return True
        if self.first_suffix is None or self.last_suffix is None:
            return False
        if other.first_suffix is None or other.last_suffix is None:
            return False
        return self.first_suffix <= other.last_suffix and other.first_suffix <= self.last_suffix


def parse_spelling(spelling: str) -> Mnemonic:
    """``"SENSe[1]"`` -> Mnemonic; raises PatternError for anything else."""
    match = _SPELLING.fullmatch(spelling)
    if match is None:
        raise PatternError(f"not a documented SCPI keyword: {spelling!r}")
    name, optional_first, optional_last, fixed = match.groups()
    short = "".join(char for char in name if char.isupper() or char.isdigit() or char == "_")
    if not short or not short[0].isalpha():
        raise PatternError(f"keyword {spelling!r} has no upper-case short form")
    if len(name) > MAX_MNEMONIC_LENGTH:
        raise PatternError(f"keyword {spelling!r} is longer than {MAX_MNEMONIC_LENGTH}")
    long = name.upper()
    if fixed is not None:
        return Mnemonic(long, short, int(fixed), int(fixed), None)
    if optional_first is not None:
        first = int(optional_first)
        last = int(optional_last) if optional_last is not None else first
        if last < first:
            raise PatternError(f"empty suffix range in {spelling!r}")
        return Mnemonic(long, short, first, last, first)
    return Mnemonic(long, short)


def split_token(token: str) -> tuple[str, int | None] | None:
    """Upper-case received mnemonic -> (keyword, numeric suffix); None if not a mnemonic.

    The suffix is the run of trailing digits: ``CALC2`` -> ("CALC", 2), ``MA0F`` -> ("MA0F", None).
    """
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    keyword, digits = match.groups()
    return keyword, (int(digits) if digits else None)


N = TypeVar("N")


def match_token(token: str, by_spelling: dict[str, list[tuple[Mnemonic, N]]],
                unknown_code: int = -113) -> tuple[N, int | None] | int:
    """Find ``token`` (upper case) among keywords indexed by spelling.

    Returns the item stored with the matching keyword and the suffix it stands for, or an
    error code: -112 too long, ``unknown_code`` unknown, -114 suffix out of range.
    """
    parts = split_token(token)
    if parts is None:
        return unknown_code
    keyword, suffix = parts
    if len(keyword) > MAX_MNEMONIC_LENGTH:
        return -112
    candidates = by_spelling.get(keyword)
    if candidates is None:
        return unknown_code
    for mnemonic, item in candidates:
        if mnemonic.accepts_suffix(suffix):
            return item, mnemonic.suffix_value(suffix)
    if suffix is not None and any(m.first_suffix is not None for m, _ in candidates):
        return -114
    return unknown_code


def index_by_spelling(
    index: dict[str, list[tuple[Mnemonic, N]]], mnemonic: Mnemonic, item: N
) -> None:
    """Add ``item`` under the short and long spelling of ``mnemonic``."""
    for spelling in {mnemonic.short, mnemonic.long}:
        index.setdefault(spelling, []).append((mnemonic, item))


class MnemonicMatcher:
    """Matches received words against a set of documented keywords."""

    def __init__(self, mnemonics: Iterable[Mnemonic]) -> None:
        self._by_spelling: dict[str, list[tuple[Mnemonic, Mnemonic]]] = {}
        for mnemonic in mnemonics:
            index_by_spelling(self._by_spelling, mnemonic, mnemonic)

    def match(self, word: str, unknown_code: int = -113) -> tuple[Mnemonic, int | None] | int:
        """The keyword and suffix ``word`` (upper case) stands for, or an error code."""
        return match_token(word, self._by_spelling, unknown_code)
