"""Command specs, the per-unit ``Call`` handed to handlers, and the ``setting`` helper."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from devices.scpi.formatting import format_bool, format_list, format_nr1, format_nr3, format_string
from devices.scpi.parameters import (
    Boolean,
    ElementList,
    NumberList,
    Numeric,
    Parameter,
    String,
    Token,
    TokenKind,
)

if TYPE_CHECKING:
    from devices.scpi.engine import Engine

T = TypeVar("T")

SetHandler = Callable[[T, "Call"], None]
QueryHandler = Callable[[T, "Call"], str]
Duration = float | Callable[[T, "Call"], float]


class Blocked(Exception):
    """Raised by a handler that must wait for an event it cannot predict.

    The engine keeps the unit, the rest of its message and later messages, and calls the
    handler again on ``poll``. ``retry_at`` (host time) is reported by ``next_wakeup``.
    """

    def __init__(self, retry_at: float | None = None) -> None:
        super().__init__("unit blocked")
        self.retry_at = retry_at


class NoReply(Exception):
    """Raised by a handler whose unit ends its message with no reply and no error.

    Results of earlier units of the message are still sent; the rest of the message is
    discarded (the 6514's zero-check ``no_reply`` reading queries, spec §7.3).
    """

    def __init__(self) -> None:
        super().__init__("unit ends its message without a reply")


@dataclass(frozen=True, eq=False)
class Command(Generic[T]):
    """One entry of a command table.

    ``pattern``: documented header, e.g. ``":SENSe[1]:CURRent[:DC]:NPLCycles"`` or ``"*ESE"``;
    a trailing ``?`` only documents that the command is query-only.
    ``params`` / ``query_params``: parameters of the set / query form.
    ``duration``: device time of the unit (seconds or ``fn(target, call)``); None uses the
    instrument's ``unit_duration`` hook.
    ``formatter``: formats a value like the query reply; used for ``? MIN|MAX|DEF``.
    """

    pattern: str
    on_set: SetHandler[T] | None = None
    on_query: QueryHandler[T] | None = None
    params: Sequence[Parameter] = ()
    query_params: Sequence[Parameter] = ()
    duration: Duration[T] | None = None
    formatter: Callable[[Any], str] | None = None

    def __post_init__(self) -> None:
        if self.on_set is None and self.on_query is None:
            raise ValueError(f"command {self.pattern!r} needs on_set, on_query or both")
        if self.pattern.endswith("?") and self.on_set is not None:
            raise ValueError(f"query-only pattern {self.pattern!r} cannot have on_set")
        for parameters in (self.params, self.query_params):
            rest = [p for p in parameters[:-1] if p.consumes_rest]
            if rest:
                raise ValueError(f"{self.pattern!r}: an element list must be the last parameter")

    @property
    def header(self) -> str:
        """The pattern without the query mark."""
        return self.pattern[:-1] if self.pattern.endswith("?") else self.pattern


class Call:
    """What a handler gets for one unit: parsed arguments, suffixes, time, engine.

    ``tokens`` are the parameters as received (``Token(kind, text)``), e.g. to tell a
    ``RANGe MAX`` from a ``RANGe 21e-3`` that decoded to the same value.
    """

    __slots__ = ("_finish", "args", "command", "engine", "is_query", "suffixes", "text", "time",
                 "tokens")

    def __init__(
        self,
        engine: Engine[Any],
        command: Command[Any],
        text: str,
        args: tuple[Any, ...],
        suffixes: tuple[int, ...],
        time: float,
        is_query: bool,
        tokens: tuple[Token, ...] = (),
    ) -> None:
        self.engine = engine
        self.command = command
        self.text = text
        self.args = args
        self.suffixes = suffixes
        self.time = time
        self.is_query = is_query
        self.tokens = tokens
        self._finish = time

    @property
    def arg(self) -> Any:
        """The first argument (None if there is none)."""
        return self.args[0] if self.args else None

    def is_word(self, index: int = 0) -> bool:
        """Whether parameter ``index`` was character data (``MAX``, ``ON``), not a number."""
        return index < len(self.tokens) and self.tokens[index].kind is TokenKind.WORD

    def suffix(self, index: int = 0) -> int:
        """The numeric suffix of the ``index``-th suffixed node of the pattern."""
        return self.suffixes[index]

    def finish_at(self, time: float) -> None:
        """Declare that the unit completes no earlier than ``time`` (host time)."""
        if time > self._finish:
            self._finish = time

    @property
    def finished_at(self) -> float:
        return self._finish

    def __repr__(self) -> str:
        return f"Call({self.text!r}, args={self.args!r}, time={self.time!r})"


def default_formatter(parameter: Parameter) -> Callable[[Any], str]:
    """How a stored value of this parameter type reads back."""
    if isinstance(parameter, Numeric):
        return format_nr1 if parameter.integer else format_nr3
    if isinstance(parameter, Boolean):
        return format_bool
    if isinstance(parameter, String):
        return format_string
    if isinstance(parameter, NumberList):
        return format_list
    if isinstance(parameter, ElementList):
        return lambda items: ",".join(items) if items else "NONE"
    return str


def setting(
    pattern: str,
    parameter: Parameter,
    attribute: str,
    *,
    formatter: Callable[[Any], str] | None = None,
    after_set: Callable[[Any, Call], None] | None = None,
    query: bool = True,
    duration: Duration[Any] | None = None,
) -> Command[Any]:
    """A stored setting: set form writes ``target.<attribute>``, query form reads it back.

    ``after_set(target, call)`` runs after the value is stored (side effects such as
    turning autorange off). ``query=False`` makes the command set-only.
    """
    render = formatter or default_formatter(parameter)

    def on_set(target: Any, call: Call) -> None:
        setattr(target, attribute, call.args[0])
        if after_set is not None:
            after_set(target, call)

    def on_query(target: Any, call: Call) -> str:
        return render(getattr(target, attribute))

    return Command(
        pattern,
        on_set=on_set,
        on_query=on_query if query else None,
        params=(parameter,),
        duration=duration,
        formatter=render,
    )
