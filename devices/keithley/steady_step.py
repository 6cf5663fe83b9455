"""The per-message reading of a steady continuous acquisition at speed 0, in one call.

At speed 0 an infinite acquisition advances one reading per message (§6.1). When
nothing but the signal can differ from the previous reading (the trigger layer
passes at once and the settings are steady, ``Measurement``), that step is
always the same sequence: commit the reading in progress (``TriggerModel.step_steady``,
``KeithleyInstrument.record``), then begin the next (``Measurement.take``).
``SteadyStep.step`` performs it with what those calls would look up once per
settings, not once per message; it declines (returning ``False``, having changed
nothing) in every other case, and the general path runs instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from devices.keithley.reading import Reading
from devices.keithley.reading_format import TIMESTAMP_WRAP

if TYPE_CHECKING:
    from devices.keithley.instrument import KeithleyInstrument
    from devices.keithley.measurement import SteadyReading

__all__ = ["SteadyStep"]

_new_tuple = tuple.__new__


class _Plan(NamedTuple):
    """What one steady setup implies for every step; rebuilt when a key part changes."""

    steady: SteadyReading
    runs: list[Any]
    sample: Callable[[float], float]
    generation: int
    delay: float


class SteadyStep:
    """``step()``: the fused speed-0 step of one instrument (see the module)."""

    def __init__(self, instrument: KeithleyInstrument) -> None:
        self.instrument = instrument
        # The parts every step touches; an instrument keeps these for its lifetime.
        self._model = instrument.trigger_model
        self._measurement = instrument.measurement
        self._signals = instrument.signals
        self._action = instrument.acquisition_action
        self._acquisition = instrument.acquisition
        self._trace = instrument.trace
        self._plan: _Plan | None = None
        self._wrap = TIMESTAMP_WRAP[instrument.model]

    def step(self) -> bool:
        """Commit the reading in progress and begin the next; ``False`` if not steady."""
        model = self._model
        end = model.measuring_until
        measurement = self._measurement
        steady = measurement.steady
        if end is None or steady is None or not model.fast_steps:
            return False
        plan = self._plan
        signals = self._signals
        if (plan is None or plan.steady is not steady or plan.runs is not model.runs
                or plan.generation != signals.generation):
            plan = self._plan = _Plan(steady, model.runs,
                                      signals.sampler(steady.function), signals.generation,
                                      self.instrument.trigger_delay())
        runs = plan.runs
        run = runs[-1]
        instrument = self.instrument
        layer = instrument.setup.trigger
        conversions = steady.conversions
        if (model.level != len(runs) - 1 or layer.source != "IMM" or run.bypass
                or run.passes + 1 >= layer.count or not conversions.usable()):
            return False
        # TriggerModel.step_steady: the reading in progress completes at ``end``...
        model.cursor = end
        model.measuring_until = None
        action = self._action
        reading = action.pending
        action.pending = None
        if reading is not None:
            # KeithleyInstrument.record
            measurement.reading_counter += 1
            instrument.latest = reading
            instrument.fresh = True
            self._acquisition.append(reading)
            trace = self._trace
            if trace.settings.control != "NEV":
                trace.store(reading)
                instrument.update_measurement_status(True)
            else:  # the buffer is as it was: only ROF and RAV can change
                instrument.reading_available(reading.status == "O")
        model.cycle_readings += 1
        run.passes += 1
        run.last_pass = end
        # ... and the next begins after the trigger delay (Measurement.take, steady).
        start = end + plan.delay
        value, status, t = conversions.convert(start, plan.sample)
        stamped = start if measurement.timestamp_at_start else t
        timestamp = math.fmod(max(stamped - measurement.timestamp_origin, 0.0), self._wrap)
        action.pending = _new_tuple(Reading, (value, status, steady.function, steady.nominal,
                                              steady.digits, t, timestamp,
                                              measurement.reading_counter, *steady.tail))
        model.measuring_until = t
        if t <= end:  # a reading of no duration: the general machine goes on
            model.advance(end)
        return True
