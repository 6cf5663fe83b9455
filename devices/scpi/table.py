"""``CommandTable``: an instrument's declarative command list, compiled once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from devices.scpi.commands import Command
from devices.scpi.common import common_commands, status_commands, system_commands
from devices.scpi.status import StatusLayout
from devices.scpi.tree import CommandTree

T = TypeVar("T")


class CommandTable(Generic[T]):
    """The commands of one instrument type; build it once and share it between instances.

    ``status``: the STATus registers. ``save_slots``: number of ``*SAV``/``*RCL`` slots
    (0: those commands are undefined). ``options_query``: define ``*OPT?``. ``standard``:
    add the built-in common, ``:SYSTem:ERRor``/``:CLEar`` and ``:STATus`` commands; a
    command in ``commands`` with the same header replaces the built-in form.
    Raises ``PatternError`` for malformed patterns or two commands claiming one header.
    """

    def __init__(
        self,
        commands: Iterable[Command[T]],
        *,
        status: StatusLayout | None = None,
        save_slots: int = 0,
        options_query: bool = False,
        standard: bool = True,
    ) -> None:
        self.status = status if status is not None else StatusLayout()
        self.commands: tuple[Command[T], ...] = tuple(commands)
        self.tree = CommandTree()
        if standard:
            builtins: list[Command[Any]] = [
                *common_commands(save_slots, options_query),
                *system_commands(),
                *status_commands(self.status),
            ]
            for command in builtins:
                self.tree.add(command, builtin=True)
        for command in self.commands:
            self.tree.add(command)
        self.tree.build()

    def __len__(self) -> int:
        return len(self.commands)
