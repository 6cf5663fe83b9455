"""Base class for SCPI instrument models: the §0.5 surface plus overridable hooks."""

from __future__ import annotations

from typing import Any

from devices.scpi.commands import Call
from devices.scpi.engine import Engine, EngineOptions, Reply
from devices.scpi.errors import ScpiError
from devices.scpi.table import CommandTable


class InstrumentHooks:
    """What the built-in commands ask of an instrument; override what your model needs."""

    def identity(self) -> str:
        """``*IDN?`` reply text."""
        return "HIL,SCPI INSTRUMENT,0,0"

    def reset(self, call: Call) -> None:
        """``*RST``: load the reset defaults."""

    def trigger(self, call: Call) -> None:
        """``*TRG``: by default nothing waits for a bus trigger, so -211 (§2.2)."""
        raise ScpiError(-211)

    def self_test(self, call: Call) -> int:
        """``*TST?`` result; 0 means passed."""
        return 0

    def save_setup(self, call: Call, slot: int) -> None:
        """``*SAV <slot>`` (only with ``CommandTable(save_slots=...)``)."""

    def recall_setup(self, call: Call, slot: int) -> None:
        """``*RCL <slot>``."""

    def installed_options(self) -> str:
        """``*OPT?`` reply (only with ``CommandTable(options_query=True)``)."""
        return "0"

    def operations_done_at(self, now: float) -> float | None:
        """Host time at which overlapped operations are done (``<= now``: none pending).

        None: pending until an event nobody can predict; ``*OPC?``/``*WAI`` then block and
        are retried on ``poll``.
        """
        return now

    def unit_duration(self, call: Call) -> float:
        """Device time a unit takes unless its ``Command.duration`` says otherwise."""
        return 0.0

    def before_unit(self, call: Call) -> None:
        """Runs before every handler, also when a blocked unit is retried (e.g. to bring
        a simulation up to ``call.time``)."""


class ScpiInstrument(InstrumentHooks):
    """An instrument model built on an ``Engine``; exposes the §0.5 device interface."""

    def __init__(self, commands: CommandTable[Any], *, options: EngineOptions | None = None):
        self.engine: Engine[Any] = Engine(self, commands, options)

    def receive(self, message: str, now: float) -> list[Reply]:
        """Execute one program message; replies come back with their ready times."""
        return self.engine.receive(message, now)

    def device_clear(self, now: float) -> list[Reply]:
        """Device clear (§8.3): returns the ``DCL`` reply."""
        self.on_device_clear(now)
        return self.engine.device_clear(now)

    def input_overrun(self, now: float) -> None:
        """An overlong message was discarded by the framer (§1.3)."""
        self.engine.input_overrun(now)

    def poll(self, now: float) -> list[Reply]:
        """Replies released by events that were not predictable when they were received."""
        return self.engine.poll(now)

    def next_wakeup(self) -> float | None:
        """Earliest host time at which ``poll`` can release something."""
        return self.engine.next_wakeup()

    def on_device_clear(self, now: float) -> None:
        """Hook: cancel the model's waiting operations (the trigger model keeps running)."""
