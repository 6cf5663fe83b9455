"""Turning a program message into an execution plan (spec §1.4-§1.8).

At the start of a message the path is the root, so the plan of a message text depends only
on the text, the tree and the options: the engine caches plans by message text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from devices.scpi.commands import Command, default_formatter
from devices.scpi.errors import ScpiError
from devices.scpi.message import Unit, parse_units
from devices.scpi.parameters import Numeric, Parameter, ParseOptions, Token, TokenKind
from devices.scpi.tree import CommandTree, PathState, Resolved

UNDEFINED_HEADER = -113


@dataclass(frozen=True, slots=True)
class Step:
    """One executable unit. ``command`` is None for an unknown header in lenient mode;
    ``reply`` is a precomputed answer (``? MIN|MAX|DEF``)."""

    text: str
    command: Command[Any] | None
    handler: Callable[[Any, Any], Any] | None
    is_query: bool
    args: tuple[Any, ...]
    suffixes: tuple[int, ...]
    reply: str | None = None
    tokens: tuple[Token, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    """Steps to run in order, then ``failure`` (a unit that cannot be parsed), if any."""

    steps: tuple[Step, ...]
    failure: ScpiError | None


def prepare(tree: CommandTree, message: str, lenient: bool, options: ParseOptions) -> Plan:
    """Parse and resolve every unit of ``message`` up to the first one that fails."""
    steps: list[Step] = []
    path = tree.root_path
    for unit in parse_units(message):
        if unit.error and not (lenient and unit.error == UNDEFINED_HEADER):
            return Plan(tuple(steps), ScpiError(unit.error))
        try:
            step, path = _prepare_unit(tree, unit, path, lenient, options)
        except ScpiError as error:
            return Plan(tuple(steps), error)
        steps.append(step)
    return Plan(tuple(steps), None)


def _prepare_unit(
    tree: CommandTree, unit: Unit, path: PathState, lenient: bool, options: ParseOptions
) -> tuple[Step, PathState]:
    if unit.error:  # lenient and undefined header
        return Step(unit.text, None, None, unit.query, (), ()), tree.dead_path
    if unit.common:
        command = _common_command(tree, unit)
        if command is None:
            if lenient:
                return Step(unit.text, None, None, unit.query, (), ()), path
            raise ScpiError(UNDEFINED_HEADER)
        return _step(unit, command, (), options), path
    resolved = tree.resolve(path, unit)
    if isinstance(resolved, int):
        if lenient and resolved == UNDEFINED_HEADER:
            step = Step(unit.text, None, None, unit.query, (), ())
            return step, tree.lenient_path(path, unit)
        raise ScpiError(resolved)
    assert isinstance(resolved, Resolved)
    return _step(unit, resolved.form.command, resolved.suffixes, options), resolved.path


def _common_command(tree: CommandTree, unit: Unit) -> Command[Any] | None:
    entry = tree.common.get(unit.header[1:])
    if entry is None:
        return None
    return entry[1] if unit.query else entry[0]


def _step(
    unit: Unit, command: Command[Any], suffixes: tuple[int, ...], options: ParseOptions
) -> Step:
    if unit.parameter_error:
        raise ScpiError(unit.parameter_error)
    if unit.query:
        reply = _limit_reply(command, unit.tokens)
        if reply is not None:
            return Step(unit.text, command, None, True, (), suffixes, reply, unit.tokens)
        args = decode_arguments(command.query_params, unit.tokens, options)
        return Step(unit.text, command, command.on_query, True, args, suffixes, None,
                    unit.tokens)
    args = decode_arguments(command.params, unit.tokens, options)
    return Step(unit.text, command, command.on_set, False, args, suffixes, None, unit.tokens)


def _limit_reply(command: Command[Any], tokens: tuple[Token, ...]) -> str | None:
    """``NPLC? MIN`` style queries of a numeric setting (§1.6)."""
    if command.query_params or len(tokens) != 1 or tokens[0].kind is not TokenKind.WORD:
        return None
    if not command.params or not isinstance(command.params[0], Numeric):
        return None
    numeric = command.params[0]
    word = tokens[0].text.upper()
    if word not in ("MIN", "MINIMUM", "MAX", "MAXIMUM", "DEF", "DEFAULT"):
        return None
    value = numeric.limit(word)
    if value is None:
        raise ScpiError(numeric.word_error)
    formatter = command.formatter or default_formatter(numeric)
    return formatter(value)


def decode_arguments(
    parameters: Sequence[Parameter], tokens: Sequence[Token], options: ParseOptions
) -> tuple[Any, ...]:
    """Check the parameter count (-108, -109), then decode each token in order."""
    consumes_rest = bool(parameters) and parameters[-1].consumes_rest
    required = sum(1 for parameter in parameters if not parameter.optional)
    if len(tokens) < required:
        raise ScpiError(-109)
    if len(tokens) > len(parameters) and not consumes_rest:
        raise ScpiError(-108)
    values: list[Any] = []
    for index, parameter in enumerate(parameters):
        if parameter.consumes_rest:
            rest = tokens[index:]
            values.append(parameter.decode_rest(rest, options) if rest else None)
        elif index < len(tokens):
            values.append(parameter.decode(tokens[index], options))
        else:
            values.append(None)
    return tuple(values)
