"""The compiled command tree: patterns with optional nodes expanded into a trie (spec §1.4, §1.5).

Resolution results are cached per (path, header), so a header is matched once.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from devices.scpi.commands import Command
from devices.scpi.message import Unit
from devices.scpi.mnemonics import (
    Mnemonic,
    PatternError,
    index_by_spelling,
    match_token,
    parse_spelling,
)

_SPELLING_AT = re.compile(r"[A-Za-z][A-Za-z_]*(?:\[\d+(?:-\d+)?\]|\d+)?")
_CACHE_LIMIT = 4096

SuffixValues = tuple[int | None, ...]
# For each wanted node: its position in the root-to-leaf sequence, or -1 and a default.
SuffixPlan = tuple[tuple[int, int | None], ...]


@dataclass(frozen=True)
class PatternNode:
    mnemonic: Mnemonic
    optional: bool


def parse_pattern(pattern: str) -> tuple[PatternNode, ...]:
    """``"[:SENSe[1]]:CURRent[:DC]:NPLCycles?"`` -> its nodes; raises PatternError."""
    text = pattern[:-1] if pattern.endswith("?") else pattern
    nodes: list[PatternNode] = []
    index = 0
    while index < len(text):
        optional = text.startswith("[:", index)
        if optional:
            index += 2
        elif text[index] == ":":
            index += 1
        elif index != 0:
            raise PatternError(f"pattern {pattern!r}: expected ':' at position {index}")
        match = _SPELLING_AT.match(text, index)
        if match is None:
            raise PatternError(f"pattern {pattern!r}: expected a keyword at position {index}")
        index = match.end()
        if optional:
            if not text.startswith("]", index):
                raise PatternError(f"pattern {pattern!r}: unclosed '[' before position {index}")
            index += 1
        nodes.append(PatternNode(parse_spelling(match.group()), optional))
    if not nodes:
        raise PatternError(f"pattern {pattern!r} has no keyword")
    return tuple(nodes)


@dataclass(frozen=True, eq=False)
class Form:
    """The set or query form of a command as reached through one trie node."""

    command: Command[Any]
    builtin: bool
    suffix_plan: SuffixPlan
    path_node: TreeNode
    path_plan: SuffixPlan


class TreeNode:
    """A node of the trie; ``set_form`` / ``query_form`` when a header may end here."""

    __slots__ = ("by_mnemonic", "by_spelling", "query_form", "set_form")

    def __init__(self) -> None:
        self.by_mnemonic: dict[Mnemonic, TreeNode] = {}
        self.by_spelling: dict[str, list[tuple[Mnemonic, TreeNode]]] = {}
        self.set_form: Form | None = None
        self.query_form: Form | None = None

    def child(self, mnemonic: Mnemonic) -> TreeNode:
        node = self.by_mnemonic.get(mnemonic)
        if node is None:
            node = TreeNode()
            self.by_mnemonic[mnemonic] = node
            index_by_spelling(self.by_spelling, mnemonic, node)
        return node

    def match(self, token: str) -> tuple[TreeNode, int | None] | int:
        """A child for an upper-case received mnemonic, or an error code (-112/-113/-114)."""
        return match_token(token, self.by_spelling)


@dataclass(frozen=True, eq=False)
class Resolved:
    """A header resolved to a form, with its suffixes and the path after the unit."""

    form: Form
    suffixes: tuple[int, ...]
    path: PathState


@dataclass(frozen=True)
class PathState:
    """The path pointer: a trie node and the suffix values along the way to it."""

    node: TreeNode
    values: SuffixValues


class CommandTree:
    """Compiled headers of a command table."""

    def __init__(self) -> None:
        self.root = TreeNode()
        self.root_path = PathState(self.root, ())
        self.dead_path = PathState(TreeNode(), ())
        self.common: dict[str, tuple[Command[Any] | None, Command[Any] | None]] = {}
        self._pending: list[tuple[Command[Any], tuple[PatternNode, ...], bool]] = []
        self._cache: dict[tuple[int, SuffixValues, str, bool], Resolved | int] = {}

    def add(self, command: Command[Any], builtin: bool = False) -> None:
        """Add a command; a user command may replace a built-in form, not another user's."""
        if command.pattern.lstrip(":").startswith("*"):
            self._add_common(command, builtin)
            return
        nodes = parse_pattern(command.pattern)
        self._pending.append((command, nodes, builtin))

    def _add_common(self, command: Command[Any], builtin: bool) -> None:
        name = command.header.lstrip(":")[1:].upper()
        if not name.isalpha():
            raise PatternError(f"common command {command.pattern!r} must be '*' and letters")
        set_command, query_command = self.common.get(name, (None, None))
        if command.on_set is not None:
            set_command = command
        if command.on_query is not None:
            query_command = command
        self.common[name] = (set_command, query_command)

    def build(self) -> None:
        """Insert every added pattern; call once after the last ``add``."""
        for command, nodes, builtin in self._pending:
            for present in _variants(nodes):
                self._insert(command, nodes, present, builtin)
        self._pending.clear()

    def _insert(
        self,
        command: Command[Any],
        nodes: tuple[PatternNode, ...],
        present: tuple[int, ...],
        builtin: bool,
    ) -> None:
        node = self.root
        for index in present:
            node = node.child(nodes[index].mnemonic)
        last = present[-1]
        path_node = self.root
        for pattern_node in nodes[:last]:
            path_node = path_node.child(pattern_node.mnemonic)
        suffix_plan = tuple(
            (present.index(i) if i in present else -1, n.mnemonic.default_suffix)
            for i, n in enumerate(nodes)
            if n.mnemonic.first_suffix is not None
        )
        path_plan = tuple(
            (present.index(i) if i in present else -1, n.mnemonic.default_suffix)
            for i, n in enumerate(nodes[:last])
        )
        form = Form(command, builtin, suffix_plan, path_node, path_plan)
        if command.on_set is not None:
            node.set_form = _replace(node.set_form, form, "set")
        if command.on_query is not None:
            node.query_form = _replace(node.query_form, form, "query")

    def resolve(self, path: PathState, unit: Unit) -> Resolved | int:
        """Resolve a compound header from ``path`` (root when absolute), or an error code."""
        start = self.root_path if unit.absolute else path
        key = (id(start.node), start.values, unit.header, unit.query)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._resolve(start, unit)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def _resolve(self, start: PathState, unit: Unit) -> Resolved | int:
        node = start.node
        values = list(start.values)
        for token in unit.header.split(":"):
            found = node.match(token)
            if isinstance(found, int):
                return found
            node, suffix = found
            values.append(suffix)
        form = node.query_form if unit.query else node.set_form
        if form is None:
            return -113
        suffixes = tuple(_pick(values, plan) for plan in form.suffix_plan)
        path_values = tuple(values[p] if p >= 0 else d for p, d in form.path_plan)
        return Resolved(form, suffixes, PathState(form.path_node, path_values))

    def lenient_path(self, path: PathState, unit: Unit) -> PathState:
        """Where an unknown header leaves the path in lenient mode (§9.1)."""
        start = self.root_path if unit.absolute else path
        node = start.node
        values = list(start.values)
        for token in unit.header.split(":")[:-1]:
            found = node.match(token)
            if isinstance(found, int):
                return self.dead_path
            node, suffix = found
            values.append(suffix)
        return PathState(node, tuple(values))


def _variants(nodes: tuple[PatternNode, ...]) -> Iterable[tuple[int, ...]]:
    optional = [i for i, node in enumerate(nodes) if node.optional]
    for included in itertools.product((True, False), repeat=len(optional)):
        chosen = {i for i, keep in zip(optional, included, strict=True) if keep}
        present = tuple(i for i, node in enumerate(nodes) if not node.optional or i in chosen)
        if present:
            yield present


def _pick(values: list[int | None], plan: tuple[int, int | None]) -> int:
    position, default = plan
    value = values[position] if position >= 0 else default
    return value if value is not None else 0


def _replace(old: Form | None, new: Form, kind: str) -> Form:
    if old is None or old.builtin or old.command is new.command:
        return new
    raise PatternError(
        f"{new.command.pattern!r} defines the {kind} form of a header that "
        f"{old.command.pattern!r} already defines; remove one of them"
    )
