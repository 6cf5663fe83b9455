"""Splitting a program message into units, headers and parameter tokens (spec §1.4)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from devices.scpi.parameters import Token, TokenKind

WHITESPACE = " \t"

# §1.2: bytes below 0x20 other than HT, and bytes from 0x7F, are invalid characters.
_INVALID_CHARACTER = re.compile(r"[^\t\x20-\x7e]")
_HEADER_CHARACTERS = re.compile(r"[A-Za-z0-9_:*?]*")
_NUMBER_START = frozenset("+-.0123456789#")


@dataclass(frozen=True, slots=True)
class Unit:
    """One command or query as received, not yet resolved against a command tree.

    ``header`` is upper case without the leading colon and trailing ``?``. ``error`` is a
    header-level parse error (the unit fails before resolution); ``parameter_error`` is
    raised only after the header resolved, so header errors take precedence.
    """

    text: str
    header: str
    absolute: bool
    common: bool
    query: bool
    tokens: tuple[Token, ...]
    error: int = 0
    parameter_error: int = 0


def split_units(message: str) -> list[str]:
    """Split on ``;`` outside quoted strings and parentheses."""
    return split_outside(message, ";")


def split_outside(text: str, separator: str) -> list[str]:
    """Split ``text`` on ``separator`` where it is outside quotes and parentheses."""
    if "'" not in text and '"' not in text and "(" not in text:
        return text.split(separator)
    pieces: list[str] = []
    start = 0
    quote = ""
    depth = 0
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == separator and depth == 0:
            pieces.append(text[start:index])
            start = index + 1
    pieces.append(text[start:])
    return pieces


def parse_units(message: str) -> list[Unit]:
    """All non-empty units of ``message`` in order."""
    units = []
    for piece in split_units(message):
        text = piece.strip(WHITESPACE)
        if text:
            units.append(parse_unit(text))
    return units


def parse_unit(text: str) -> Unit:
    """Parse one stripped, non-empty unit."""
    if _INVALID_CHARACTER.search(text):
        return _failed(text, -101)
    cut = _first_whitespace(text)
    header_text = text if cut < 0 else text[:cut]
    rest = "" if cut < 0 else text[cut:].lstrip(WHITESPACE)
    absolute = header_text.startswith(":")
    body = header_text[1:] if absolute else header_text
    query = body.endswith("?")
    if query:
        body = body[:-1]
    error = _header_error(body)
    if error:
        return _failed(text, error)
    common = body.startswith("*")
    tokens, parameter_error = tokenize_parameters(rest) if rest else ((), 0)
    return Unit(text, body.upper(), absolute, common, query, tokens, 0, parameter_error)


def _failed(text: str, code: int) -> Unit:
    return Unit(text, "", False, False, False, (), code)


def _first_whitespace(text: str) -> int:
    space = text.find(" ")
    tab = text.find("\t")
    if space < 0:
        return tab
    if tab < 0:
        return space
    return min(space, tab)


def _header_error(body: str) -> int:
    if not _HEADER_CHARACTERS.fullmatch(body):
        return -101
    if "?" in body:
        return -102
    if body.startswith("*"):
        name = body[1:]
        return 0 if name.isalpha() else -113
    if "*" in body:
        return -113
    if not body or "" in body.split(":"):
        return -102
    return 0


def tokenize_parameters(text: str) -> tuple[tuple[Token, ...], int]:
    """Classify the comma-separated parameters; returns (tokens, error code or 0)."""
    tokens: list[Token] = []
    for piece in split_outside(text, ","):
        item = piece.strip(WHITESPACE)
        token = _classify(item)
        if isinstance(token, int):
            return (), token
        tokens.append(token)
    return tuple(tokens), 0


def _classify(item: str) -> Token | int:
    if not item:
        return -102
    first = item[0]
    if first in "'\"":
        return _string_token(item)
    if first == "(":
        return Token(TokenKind.LIST, item) if item.endswith(")") else -102
    if first in ":?":
        # Whitespace inside a header leaves a header fragment here (§1.4).
        return -113
    if _first_whitespace(item) >= 0:
        return -103
    if first in _NUMBER_START:
        return Token(TokenKind.NUMBER, item)
    if first.isalpha():
        return Token(TokenKind.WORD, item)
    return -101


def _string_token(item: str) -> Token | int:
    quote = item[0]
    content: list[str] = []
    index = 1
    while index < len(item):
        char = item[index]
        if char == quote:
            if index + 1 < len(item) and item[index + 1] == quote:
                content.append(quote)
                index += 2
                continue
            if index + 1 != len(item):
                return -103
            return Token(TokenKind.STRING, "".join(content))
        content.append(char)
        index += 1
    return -151
