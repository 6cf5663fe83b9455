"""The compiled command tree: patterns with optional nodes expanded into a trie (spec §1.4, §1.5).

Resolution results are cached per (path, header), so a header is matched once.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from devices.scpi.commands import Command
from devices.scpi.message import Unit
from devices.scpi.mnemonics import (
    KEYWORD,
    MAX_MNEMONIC_LENGTH,
    SUFFIX,
    Mnemonic,
    PatternError,
    parse_spelling,
    split_token,
)

_SPELLING_AT = re.compile(KEYWORD + SUFFIX + "?")
_CACHE_LIMIT = 4096

# Received suffix per node from the root, None where the header gave none.
SuffixValues = tuple[int | None, ...]
# For each wanted node: its position in the root-to-leaf sequence (-1: omitted) and default.
SuffixPlan = tuple[tuple[int, int | None], ...]
# For each node of the path after a unit: its position in the root-to-leaf sequence.
PathPlan = tuple[int, ...]


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
    """The set or query form of a command as reached through one trie node.

    ``keywords`` are the pattern's keywords along the way (one per trie level), so that
    a node shared by ``OUTPut`` and ``OUTPut[1]`` still checks each command's suffixes.
    """

    command: Command[Any]
    builtin: bool
    keywords: tuple[Mnemonic, ...]
    suffix_plan: SuffixPlan
    path_node: TreeNode
    path_plan: PathPlan

    def check_suffixes(self, values: Sequence[int | None], first: int) -> int:
        """0 when the suffixes from level ``first`` on suit this command, else -113/-114."""
        for level in range(first, len(values)):
            keyword = self.keywords[level]
            suffix = values[level]
            if not keyword.accepts_suffix(suffix):
                return -114 if keyword.takes_suffix and suffix is not None else -113
        return 0


class KeywordGroup:
    """Keywords of one long spelling under one parent that share a trie node.

    Keywords whose accepted suffixes overlap (``OUTPut`` and ``OUTPut[1]``, or
    ``VSOurce`` and ``VSOUrce``) share a node, so every command below either is found;
    ``CALCulate[1]`` and ``CALCulate2`` accept disjoint suffixes and keep their own.
    """

    __slots__ = ("long", "mnemonics", "node")

    def __init__(self, mnemonic: Mnemonic) -> None:
        self.long = mnemonic.long
        self.mnemonics = [mnemonic]
        self.node = TreeNode()

    def overlaps(self, mnemonic: Mnemonic) -> bool:
        return mnemonic.long == self.long and any(m.overlaps(mnemonic) for m in self.mnemonics)

    def accepts(self, suffix: int | None) -> bool:
        return any(m.accepts_suffix(suffix) for m in self.mnemonics)

    @property
    def takes_suffix(self) -> bool:
        return any(m.takes_suffix for m in self.mnemonics)


class TreeNode:
    """A node of the trie; ``set_form`` / ``query_form`` when a header may end here."""

    __slots__ = ("by_spelling", "groups", "query_form", "set_form")

    def __init__(self) -> None:
        self.groups: list[KeywordGroup] = []
        self.by_spelling: dict[str, list[KeywordGroup]] = {}
        self.set_form: Form | None = None
        self.query_form: Form | None = None

    def child(self, mnemonic: Mnemonic) -> TreeNode:
        """The child node of ``mnemonic``, created or merged as needed (while building)."""
        overlapping = [group for group in self.groups if group.overlaps(mnemonic)]
        if not overlapping:
            group = KeywordGroup(mnemonic)
            self.groups.append(group)
        else:
            group = overlapping[0]
            for other in overlapping[1:]:
                self.groups.remove(other)
                group.mnemonics += [m for m in other.mnemonics if m not in group.mnemonics]
                group.node.absorb(other.node)
            if mnemonic not in group.mnemonics:
                group.mnemonics.append(mnemonic)
        self._index()
        return group.node

    def find(self, mnemonic: Mnemonic) -> TreeNode:
        """The existing child node of ``mnemonic``."""
        for group in self.groups:
            if mnemonic in group.mnemonics:
                return group.node
        raise KeyError(mnemonic)

    def absorb(self, other: TreeNode) -> None:
        """Merge the subtree of ``other`` into this node (before any form is set)."""
        for group in other.groups:
            for mnemonic in group.mnemonics:
                self.child(mnemonic)
            self.find(group.mnemonics[0]).absorb(group.node)

    def _index(self) -> None:
        self.by_spelling = {}
        for group in self.groups:
            for spelling in {s for m in group.mnemonics for s in (m.short, m.long)}:
                self.by_spelling.setdefault(spelling, []).append(group)

    def match(self, token: str) -> tuple[TreeNode, int | None] | int:
        """A child and the received suffix for an upper-case mnemonic, or -112/-113/-114."""
        parts = split_token(token)
        if parts is None:
            return -113
        keyword, suffix = parts
        if len(keyword) > MAX_MNEMONIC_LENGTH:
            return -112
        groups = self.by_spelling.get(keyword)
        if groups is None:
            return -113
        for group in groups:
            if group.accepts(suffix):
                return group.node, suffix
        if suffix is not None and any(group.takes_suffix for group in groups):
            return -114
        return -113


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
        """Insert every added pattern; call once after the last ``add``.

        The trie is shaped first (nodes of overlapping keywords merge), then the forms are
        attached, so merging never has to move a form.
        """
        inserts = [
            (command, nodes, present, builtin)
            for command, nodes, builtin in self._pending
            for present in _variants(nodes)
        ]
        for _, nodes, present, _ in inserts:
            self._walk(nodes, present, create=True)
            self._walk(nodes, range(present[-1]), create=True)
        for command, nodes, present, builtin in inserts:
            self._attach(command, nodes, present, builtin)
        self._pending.clear()

    def _walk(self, nodes: tuple[PatternNode, ...], indices: Iterable[int], *,
              create: bool = False) -> TreeNode:
        node = self.root
        for index in indices:
            mnemonic = nodes[index].mnemonic
            node = node.child(mnemonic) if create else node.find(mnemonic)
        return node

    def _attach(
        self,
        command: Command[Any],
        nodes: tuple[PatternNode, ...],
        present: tuple[int, ...],
        builtin: bool,
    ) -> None:
        node = self._walk(nodes, present)
        last = present[-1]
        path_node = self._walk(nodes, range(last))
        suffix_plan = tuple(
            (present.index(i) if i in present else -1, n.mnemonic.default_suffix)
            for i, n in enumerate(nodes)
            if n.mnemonic.takes_suffix
        )
        path_plan = tuple(present.index(i) if i in present else -1 for i in range(last))
        keywords = tuple(nodes[i].mnemonic for i in present)
        form = Form(command, builtin, keywords, suffix_plan, path_node, path_plan)
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
        error = form.check_suffixes(values, len(start.values))
        if error:
            return error
        suffixes = tuple(_pick(values, plan) for plan in form.suffix_plan)
        # An omitted optional node counts as present for the path, without a suffix (§1.4).
        path_values = tuple(values[p] if p >= 0 else None for p in form.path_plan)
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
    value = values[position] if position >= 0 else None
    if value is None:
        value = default
    return value if value is not None else 0


def _replace(old: Form | None, new: Form, kind: str) -> Form:
    if old is None or old.builtin or old.command is new.command:
        return new
    if _same_behaviour(old.command, new.command):
        return old
    raise PatternError(
        f"{new.command.pattern!r} defines the {kind} form of a header that "
        f"{old.command.pattern!r} already defines; remove one of them"
    )


def _same_behaviour(first: Command[Any], second: Command[Any]) -> bool:
    """One command under two short forms of the same keywords (``VSOurce``/``VSOUrce``)."""
    if not (first.on_set is second.on_set and first.on_query is second.on_query
            and tuple(first.params) == tuple(second.params)
            and tuple(first.query_params) == tuple(second.query_params)):
        return False
    return [_shape(node) for node in parse_pattern(first.pattern)] == \
        [_shape(node) for node in parse_pattern(second.pattern)]


def _shape(node: PatternNode) -> tuple[object, ...]:
    mnemonic = node.mnemonic
    return (node.optional, mnemonic.long, mnemonic.first_suffix, mnemonic.last_suffix,
            mnemonic.default_suffix)
