"""The arm/trigger layer state machine of spec §4.6, in device time.

The machine is pure: it never reads a clock. ``advance(t)`` runs it up to
device time ``t``; each device action (one reading) is delegated to a
callback that returns the reading's completion time and is committed when the
machine is advanced past that time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

INFINITE = math.inf

#: Sources that wait for an event from outside the instrument (§7.6).
EXTERNAL_SOURCES = frozenset({"MAN", "TLIN", "EXT", "RTCL", "STES", "PST", "NST"})


class LayerSettings(Protocol):
    """What the machine reads from one layer's settings (read at every pass)."""

    source: str
    count: float
    delay: float
    timer: float


@dataclass(slots=True)
class _LayerRun:
    passes: int = 0
    last_pass: float | None = None
    bypass: bool = False


class Action(Protocol):
    """The device action: one reading performed from ``start``."""

    def begin(self, start: float) -> float:
        """Start a reading at device time ``start``; return its completion time."""
        ...

    def commit(self) -> None:
        """The reading begun last completed: make it visible."""
        ...

    def discard(self) -> None:
        """The reading begun last was aborted."""
        ...


@dataclass(slots=True)
class TriggerModel:
    """Idle → arm layer(s) → trigger layer → device action, per §4.6.

    ``layers`` returns the live layer settings, outermost first; the last one is
    the trigger layer.  ``trigger_delay`` gives the delay before each reading
    (the 6514 auto delay replaces ``TRIG:DEL`` there).
    """

    layers: Callable[[], Sequence[LayerSettings]]
    action: Action
    continuous: Callable[[], bool]
    trigger_delay: Callable[[], float] | None = None
    #: The live trigger layer alone (``layers()[-1]`` without building the list).
    trigger_layer: Callable[[], LayerSettings] | None = None
    running: bool = False
    cursor: float = 0.0
    level: int = 0
    measuring_until: float | None = None
    cycle_readings: int = 0
    #: Off: ``step_steady`` always declines (to compare against the general machine).
    fast_steps: bool = True
    #: The pass counts of each layer (a new list at every ``start``).
    runs: list[_LayerRun] = field(default_factory=list)

    # -- control --------------------------------------------------------------

    def start(self, t: float) -> None:
        """Leave idle at device time ``t`` (``:INIT``)."""
        self.running = True
        self.cursor = t
        self.level = 0
        self.cycle_readings = 0
        self.runs = [_LayerRun() for _ in self.layers()]

    def abort(self, t: float) -> None:
        """Stop at once; a reading in progress is discarded (``:ABORt``)."""
        if self.measuring_until is not None:
            self.action.discard()
            self.measuring_until = None
        self.running = False
        if self.continuous():
            self.start(t)

    def release(self, layer_index: int) -> None:
        """Let the next event of one layer pass once (``:TRIG:IMM``, ``:ARM:SIGN``)."""
        if self.running and layer_index < len(self.runs):
            self.runs[layer_index].bypass = True

    def deliver(self, kind: str, t: float) -> bool:
        """Hand an event (``BUS`` or an external kind) to the waiting layer.

        Returns whether a layer was waiting for it and passed.
        """
        self.advance(t)
        if not self.running or self.measuring_until is not None:
            return False
        if self.layers()[self.level].source != kind:
            return False
        self.runs[self.level].bypass = True
        self.cursor = max(self.cursor, t)
        self.advance(t)
        return True

    # -- queries ----------------------------------------------------------------

    def waiting_source(self) -> str | None:
        """The source the machine is blocked on, if it waits for an event."""
        if not self.running or self.measuring_until is not None:
            return None
        layer = self.layers()[self.level]
        if layer.source in ("IMM", "TIM") or self.runs[self.level].bypass:
            return None
        return layer.source

    def total_count(self) -> float:
        """Readings per cycle: the product of all layer counts (may be infinite)."""
        return math.prod(layer.count for layer in self.layers())

    def sources(self) -> list[str]:
        """The source of every layer, outermost first."""
        return [layer.source for layer in self.layers()]

    # -- simulation -------------------------------------------------------------

    def advance(self, t: float) -> None:
        """Run the machine up to device time ``t`` (inclusive)."""
        if not self.running or (self.measuring_until is not None and self.measuring_until > t):
            return  # nothing happens by t: the common case for every unit of a message
        # Running the machine changes no layer settings: read them once.
        layers = self.layers()
        while self.running:
            if self.measuring_until is not None:
                if self.measuring_until > t:
                    return
                self.cursor = self.measuring_until
                self.measuring_until = None
                self.action.commit()
                self.cycle_readings += 1
                self._after_reading(layers)
                continue
            pass_time = self._pass_time(self.level, layers)
            if pass_time is None or pass_time > t:
                return
            self._pass(pass_time, layers)

    def step_steady(self) -> bool:
        """Commit the reading in progress and begin the next, if nothing else can happen.

        The fused form of ``advance(measuring_until)`` for a reading in progress whose
        trigger layer (source ``IMM``, no bypass pending) passes again at once without
        completing its count: the common speed-0 step of a continuous acquisition.
        Returns ``False``, having changed nothing, in every other case.
        """
        end = self.measuring_until
        if end is None or not self.fast_steps:
            return False
        runs = self.runs
        level = self.level
        if level != len(runs) - 1:  # ``start`` made one run per layer
            return False
        layer = self.trigger_layer() if self.trigger_layer else self.layers()[level]
        run = runs[level]
        if layer.source != "IMM" or run.bypass or run.passes + 1 >= layer.count:
            return False
        self.cursor = end
        self.measuring_until = None
        self.action.commit()
        self.cycle_readings += 1
        run.passes += 1
        run.last_pass = end
        delay = self.trigger_delay() if self.trigger_delay else layer.delay
        self.measuring_until = self.action.begin(end + delay)
        if self.measuring_until <= end:  # a reading of no duration: the general loop goes on
            self.advance(end)
        return True

    def run_until_idle(self, limit: float = INFINITE) -> float | None:
        """Advance until the cycle ends; return that time, or ``None`` if it never does.

        Stops (returning ``None``) when the machine waits for an outside event,
        restarts continuously, or would run past ``limit``.
        """
        if not self.running:
            return self.cursor
        if self.continuous() or self.total_count() == INFINITE:
            return None
        while self.running:
            step = self.next_event_time()
            if step is None or step > limit:
                return None
            self.advance(step)
        return self.cursor

    def next_event_time(self) -> float | None:
        """Device time of the next reading completion or layer pass, if predictable."""
        if not self.running:
            return None
        if self.measuring_until is not None:
            return self.measuring_until
        return self._pass_time(self.level, self.layers())

    def _pass_time(self, level: int, layers: Sequence[LayerSettings]) -> float | None:
        run = self.runs[level]
        if run.bypass:
            return self.cursor
        layer = layers[level]
        if layer.source == "IMM":
            return self.cursor
        if layer.source == "TIM":
            if run.last_pass is None:
                return self.cursor
            return max(self.cursor, run.last_pass + layer.timer)
        return None

    def _pass(self, when: float, layers: Sequence[LayerSettings]) -> None:
        run = self.runs[self.level]
        run.bypass = False
        run.last_pass = when
        self.cursor = when
        if self.level < len(layers) - 1:
            self.cursor += layers[self.level].delay
            self.level += 1
            child = self.runs[self.level]
            child.passes = 0
            child.last_pass = None
            return
        delay = self.trigger_delay() if self.trigger_delay else layers[self.level].delay
        self.measuring_until = self.action.begin(self.cursor + delay)

    def _after_reading(self, layers: Sequence[LayerSettings]) -> None:
        level = len(layers) - 1
        self.runs[level].passes += 1
        while self.runs[level].passes >= layers[level].count:
            if level == 0:
                self._end_cycle()
                return
            level -= 1
            self.runs[level].passes += 1
        self.level = level

    def _end_cycle(self) -> None:
        self.running = False
        if self.continuous():
            self.start(self.cursor)
