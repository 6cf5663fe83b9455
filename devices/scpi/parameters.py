"""Parameter types of command specs (spec §1.6).

Each type turns one classified ``Token`` into a Python value or raises ``ScpiError`` with
the code §1.6 prescribes. ``ElementList`` consumes all remaining tokens.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from devices.scpi.errors import ScpiError
from devices.scpi.mnemonics import MnemonicMatcher, parse_spelling
from devices.scpi.numbers import parse_number, round_half_away

ONCE = "ONCE"


class TokenKind(enum.Enum):
    NUMBER = "number"
    WORD = "word"
    STRING = "string"
    LIST = "list"


@dataclass(frozen=True, slots=True)
class Token:
    """One parameter as received: ``text`` is the raw text (string content for STRING)."""

    kind: TokenKind
    text: str


class Step(enum.Enum):
    """``UP`` / ``DOWN`` numeric parameters (accepted only with ``numeric_up_down="accept"``)."""

    UP = "UP"
    DOWN = "DOWN"


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """Engine options that influence parameter decoding."""

    accept_up_down: bool = False


@dataclass(frozen=True, slots=True)
class ListValue:
    """A decoded ``(1,3:5)`` or channel list ``(@1:10)``; single items are (n, n) ranges."""

    ranges: tuple[tuple[float, float], ...]
    channel: bool = False

    def values(self, limit: int = 10_000) -> list[float]:
        """Every item, with integer ranges expanded; more than ``limit`` items is -223."""
        result: list[float] = []
        for low, high in self.ranges:
            if low == high:
                result.append(low)
                continue
            step = 1 if high >= low else -1
            if len(result) + abs(int(high) - int(low)) + 1 > limit:
                raise ScpiError(-223)
            result.extend(range(int(low), int(high) + step, step))
        if len(result) > limit:
            raise ScpiError(-223)
        return result


class Parameter:
    """Base class: ``optional`` parameters decode to None when missing."""

    consumes_rest: ClassVar[bool] = False

    def __init__(self, *, optional: bool = False) -> None:
        self.optional = optional

    def decode(self, token: Token, options: ParseOptions) -> Any:
        raise NotImplementedError

    def decode_rest(self, tokens: Sequence[Token], options: ParseOptions) -> Any:
        """Only for parameters with ``consumes_rest``."""
        raise NotImplementedError


def _word_matcher(names: Sequence[str]) -> MnemonicMatcher:
    return MnemonicMatcher(parse_spelling(name) for name in names)


_LIMIT_WORDS = {"MIN": "min", "MINIMUM": "min", "MAX": "max", "MAXIMUM": "max",
                "DEF": "def", "DEFAULT": "def"}


class Numeric(Parameter):
    """``<NRf>`` or ``<n>`` with limits; MIN/MAX/DEF are accepted when the value is defined.

    ``integer`` rounds to the nearest integer; ``choices`` is a discrete set (-224 outside
    it); ``keywords`` maps documented words to values (``{"INFinity": math.inf}``);
    ``up_down`` lets ``UP``/``DOWN`` through as ``Step`` when the engine accepts them.
    Words that are none of these raise ``word_error`` (-148 by default).
    """

    def __init__(
        self,
        minimum: float | None = None,
        maximum: float | None = None,
        default: float | None = None,
        *,
        integer: bool = False,
        choices: Sequence[float] | None = None,
        keywords: Mapping[str, float] | None = None,
        up_down: bool = False,
        optional: bool = False,
        word_error: int = -148,
    ) -> None:
        super().__init__(optional=optional)
        self.minimum = minimum
        self.maximum = maximum
        self.default = default
        self.integer = integer
        self.choices = frozenset(choices) if choices is not None else None
        self.keywords = dict(keywords or {})
        self._keyword_matcher = _word_matcher(list(self.keywords))
        self._keyword_values = {
            parse_spelling(name).long: value for name, value in self.keywords.items()
        }
        self.up_down = up_down
        self.word_error = word_error

    def limit(self, word: str) -> float | None:
        """The value MIN/MAX/DEF (any spelling) stands for, None if not defined."""
        kind = _LIMIT_WORDS.get(word.upper())
        if kind == "min":
            value = self.minimum
        elif kind == "max":
            value = self.maximum
        elif kind == "def":
            value = self.default
        else:
            return None
        if value is not None and self.integer and math.isfinite(value):
            return round_half_away(value)
        return value

    def decode(self, token: Token, options: ParseOptions) -> Any:
        if token.kind is TokenKind.NUMBER:
            return self.check(parse_number(token.text))
        if token.kind is TokenKind.WORD:
            return self._decode_word(token.text.upper(), options)
        if token.kind is TokenKind.STRING:
            raise ScpiError(-158)
        raise ScpiError(-104)

    def check(self, value: float) -> float | int:
        """Round (integer settings) and check limits (-222) and the discrete set (-224)."""
        if self.integer:
            value = round_half_away(value)
        if self.minimum is not None and value < self.minimum:
            raise ScpiError(-222)
        if self.maximum is not None and value > self.maximum:
            raise ScpiError(-222)
        if self.choices is not None and value not in self.choices:
            raise ScpiError(-224)
        return value

    def _decode_word(self, word: str, options: ParseOptions) -> Any:
        if word in _LIMIT_WORDS:
            value = self.limit(word)
            if value is None:
                raise ScpiError(self.word_error)
            return value
        if word in ("UP", "DOWN"):
            if self.up_down and options.accept_up_down:
                return Step(word)
            raise ScpiError(-141)
        if self.keywords:
            found = self._keyword_matcher.match(word, unknown_code=self.word_error)
            if not isinstance(found, int):
                return self._keyword_values[found[0].long]
        raise ScpiError(self.word_error)


class Boolean(Parameter):
    """``<b>``: ON/OFF or a number (rounded, 0 = OFF); ``once`` also accepts ``ONCE``."""

    def __init__(self, *, once: bool = False, optional: bool = False) -> None:
        super().__init__(optional=optional)
        self.once = once

    def decode(self, token: Token, options: ParseOptions) -> Any:
        if token.kind is TokenKind.NUMBER:
            return round_half_away(parse_number(token.text)) != 0
        if token.kind is TokenKind.WORD:
            word = token.text.upper()
            if word == "ON":
                return True
            if word == "OFF":
                return False
            if word == ONCE and self.once:
                return ONCE
            raise ScpiError(-141)
        if token.kind is TokenKind.STRING:
            raise ScpiError(-158)
        raise ScpiError(-104)


class Choice(Parameter):
    """``<name>``: one of the documented words; decodes to the canonical short form."""

    def __init__(self, *names: str, optional: bool = False) -> None:
        super().__init__(optional=optional)
        if not names:
            raise ValueError("Choice needs at least one documented name")
        self.names = names
        self._matcher = _word_matcher(names)

    def decode(self, token: Token, options: ParseOptions) -> Any:
        if token.kind is TokenKind.WORD:
            found = self._matcher.match(token.text.upper(), unknown_code=-141)
            if isinstance(found, int):
                raise ScpiError(-141)
            mnemonic, suffix = found
            return mnemonic.short if suffix is None else f"{mnemonic.short}{suffix}"
        if token.kind is TokenKind.NUMBER:
            raise ScpiError(-128)
        if token.kind is TokenKind.STRING:
            raise ScpiError(-158)
        raise ScpiError(-104)


class String(Parameter):
    """``<string>`` in single or double quotes; an unquoted word raises ``word_error``."""

    def __init__(self, *, optional: bool = False, word_error: int = -224) -> None:
        super().__init__(optional=optional)
        self.word_error = word_error

    def decode(self, token: Token, options: ParseOptions) -> Any:
        if token.kind is TokenKind.STRING:
            return token.text
        if token.kind is TokenKind.WORD:
            raise ScpiError(self.word_error)
        raise ScpiError(-104)


class NumberList(Parameter):
    """``<list>``: ``(1,2:5)``, channel lists ``(@1:10)``; malformed -> -102."""

    def decode(self, token: Token, options: ParseOptions) -> Any:
        if token.kind is not TokenKind.LIST:
            raise ScpiError(-104)
        return parse_list(token.text)


def parse_list(text: str) -> ListValue:
    """``"(@1:3,5)"`` -> ListValue; raises ScpiError(-102) when malformed."""
    inner = text[1:-1].strip(" \t")
    channel = inner.startswith("@")
    if channel:
        inner = inner[1:].strip(" \t")
    if not inner:
        return ListValue((), channel)
    ranges: list[tuple[float, float]] = []
    for item in inner.split(","):
        bounds = [part.strip(" \t") for part in item.split(":")]
        if len(bounds) > 2 or any(not part for part in bounds):
            raise ScpiError(-102)
        try:
            values = [parse_number(part) for part in bounds]
        except ScpiError as error:
            raise ScpiError(-102) from error
        ranges.append((_tidy(values[0]), _tidy(values[-1])))
    return ListValue(tuple(ranges), channel)


def _tidy(value: float) -> float:
    return int(value) if value.is_integer() else value


class ElementList(Parameter):
    """Comma-separated documented words (``READ, TST``) -> tuple of short forms.

    Consumes every remaining parameter; any invalid item raises -141.
    """

    consumes_rest = True

    def __init__(self, *names: str, optional: bool = False) -> None:
        super().__init__(optional=optional)
        self.names = names
        self._choice = Choice(*names)

    def decode(self, token: Token, options: ParseOptions) -> Any:
        return self.decode_rest([token], options)

    def decode_rest(self, tokens: Sequence[Token], options: ParseOptions) -> Any:
        items = []
        for token in tokens:
            if token.kind is not TokenKind.WORD:
                raise ScpiError(-141)
            items.append(self._choice.decode(token, options))
        return tuple(items)


class Raw(Parameter):
    """Any single parameter, as its raw text (string content for quoted strings)."""

    def decode(self, token: Token, options: ParseOptions) -> Any:
        return token.text
