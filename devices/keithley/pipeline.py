"""The conversion pipeline of spec §7.4, with the conversion timing of §6.2-§6.3.

For each conversion: true value (``SignalSimulator``) + offset → zero check (§7.3)
→ range decision (§7.5) → overflow test (an overflowing conversion bypasses the
filters) → median, then average filter (§4.4) → zero correct and REL (§7.2).
``ReadingPipeline.take_reading`` performs one reading and returns a
``ReadingOutcome``; the instrument turns it into a stored ``Reading``.
Ranges are nominal values; ``range_once`` autoranges one reading only (the
caller clears it) and the caller stores the range a reading ends on.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from devices.keithley.ranges import Range, RangeTable, range_table
from devices.keithley.reading import (
    NO_HUMIDITY,
    NO_TEMPERATURE,
    OVERFLOW_VALUE,
    ZERO_CHECK_VALUE,
    Reading,
)
from devices.keithley.signal import SignalSimulator
from devices.keithley.state import FilterSettings, FunctionSettings
from devices.keithley.timing import TimingModel, averaging_active, line_sync_start

# The per-reading records below are named tuples, not dataclasses: at speed 0 the model
# takes a reading per message (§6.1) and tuples are several times cheaper to build.


class InputConditions(NamedTuple):
    """Instrument-wide conditions of a reading.

    ``zero_offset`` is the offset stored by ``ZCOR:ACQ`` (subtracted when
    ``zero_correct``); ``zero_check_reading`` is the §7.3 mode; ``math`` only
    marks the reading (CALC1 is the identity).
    """

    zero_check: bool = False
    zero_check_reading: str = "invalid_value"
    zero_correct: bool = False
    zero_offset: float = 0.0
    line_sync: bool = False
    line_frequency: float = 60
    autozero: bool = True
    math: bool = False


class ReadingOutcome(NamedTuple):
    """Result of one reading: value after the whole pipeline, status letter, range, times.

    ``status`` is Z (zero check, ``invalid_value``/``no_reply``), O (overflow),
    R (REL) or N.  ``start`` is when the reading began (after the trigger
    delay), ``time`` its completion; ``range_nominal`` is the range in use at
    the end (autorange may have moved it: the caller stores it).
    """

    value: float
    status: str
    function: str
    range_nominal: float
    start: float
    time: float
    conversions: int
    filtered: bool
    relative: bool
    zero_check: bool
    zero_correct: bool
    math: bool
    range_changed: bool

    def to_reading(self, digits: int, timestamp: float, number: int,
                   temperature: float = NO_TEMPERATURE, humidity: float = NO_HUMIDITY,
                   vsource: float = 0.0) -> Reading:
        """The ``Reading`` the buffer stores and the formats print."""
        return Reading(self.value, self.status, self.function, self.range_nominal, digits,
                       self.time, timestamp, number, temperature, humidity, vsource,
                       self.filtered, self.math, self.relative, self.zero_check,
                       self.zero_correct)


def _conversion_end(t: float, t_conv: float, conditions: InputConditions) -> float:
    """End of a conversion requested at ``t`` (§6.2: line sync waits for a zero crossing)."""
    if conditions.line_sync:
        return line_sync_start(t, conditions.line_frequency) + t_conv
    return t + t_conv


def _filter_key(filters: FilterSettings, nominal: float) -> tuple[object, ...]:
    return (filters.median, filters.median_rank, averaging_active(filters),
            filters.average_tcontrol.upper()[:3], filters.average_count,
            filters.average_type.upper()[:3], filters.average_ntolerance, nominal)


class _FilterStack:
    """Median window then average stack of one function (§4.4).

    A new stack starts whenever the filter settings or the range change.
    """

    def __init__(self, filters: FilterSettings, nominal: float) -> None:
        self.key = _filter_key(filters, nominal)
        self.median = filters.median
        self.averaging = averaging_active(filters)
        self.repeat = filters.average_tcontrol.upper().startswith("REP")
        self.advanced = filters.average_type.upper().startswith("ADV")
        self.tolerance = filters.average_ntolerance / 100.0 * nominal
        self.window: deque[float] = deque(maxlen=2 * filters.median_rank + 1)
        self.stack: deque[float] = deque(maxlen=None if self.repeat else filters.average_count)

    def begin_reading(self) -> None:
        """Repeat average flushes its stack for every reading."""
        if self.repeat:
            self.stack.clear()

    def push(self, value: float) -> float:
        """Feed one conversion; return the filter output so far."""
        if self.median:
            window = self.window
            window.append(value)
            # statistics.median without its generic overhead (once per conversion).
            ordered = sorted(window)
            middle = len(ordered) // 2
            value = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1]
                                                              + ordered[middle]) / 2
        if not self.averaging:
            return value
        stack = self.stack
        if self.advanced and stack:
            if abs(value - math.fsum(stack) / len(stack)) > self.tolerance:
                stack.clear()
        stack.append(value)
        return math.fsum(stack) / len(stack)


class _ReadingPlan(NamedTuple):
    """Range, conversion time, conversion count and filter stack a reading's settings imply.

    ``key`` holds every setting they depend on (the function aside, which keys the cache).
    """

    key: tuple[object, ...]
    table: RangeTable
    range: Range
    t_conv: float
    conversions: int
    filtered: bool
    #: 6514 status bit 1; F29 alternative: the median filter alone does not set it.
    filter_bit: bool
    stack: _FilterStack


class SteadyConversions:
    """The conversions of a reading whose settings match the previous reading's (§7.4).

    Built by ``ReadingPipeline.steady`` only when nothing but the signal can vary
    between readings: fixed range already settled, no line sync, no zero check,
    no autodischarge.  ``convert`` then does what ``take_reading`` would, without
    re-deriving the plan for every reading.  ``usable`` is False once the
    pipeline's own state moved on (a filter reset, another range settled).
    """

    __slots__ = ("_last_range", "conversions", "filtered", "full_scale", "function", "offset",
                 "pipeline", "reference", "relative", "signals", "stack", "t_conv", "zero_correct")

    def __init__(self, pipeline: ReadingPipeline, function: str, plan: _ReadingPlan,
                 sense: FunctionSettings, conditions: InputConditions) -> None:
        self.pipeline = pipeline
        self.signals = pipeline.signals
        self.function = function
        self.full_scale = plan.range.full_scale
        self.t_conv = plan.t_conv
        self.conversions = plan.conversions
        self.filtered = plan.filtered
        self.stack = plan.stack
        self.zero_correct = conditions.zero_correct
        self.offset = conditions.zero_offset
        self.relative = sense.reference_state
        self.reference = sense.reference
        self._last_range = (function, plan.range.nominal)

    def usable(self) -> bool:
        """Whether the pipeline is still where this was built (same stack, range settled)."""
        pipeline = self.pipeline
        return (pipeline._last_range == self._last_range
                and pipeline._filters.get(self.function) is self.stack)

    def convert(self, start: float,
                sample: Callable[[float], float] | None = None) -> tuple[float, str, float]:
        """(value, status letter, completion time) of a reading begun at ``start``.

        ``sample`` is the signal's current ``SignalSimulator.sampler`` (looked up if None).
        """
        if sample is None:
            sample = self.signals.sampler(self.function)
        full_scale = self.full_scale
        if self.conversions == 1:  # the usual reading, without the loops below
            t = start + self.t_conv
            value = sample(t)
            if not abs(value) <= full_scale:  # as Range.holds
                return OVERFLOW_VALUE, "O", t
            if self.filtered:
                stack = self.stack
                if stack.repeat:  # _FilterStack.begin_reading
                    stack.stack.clear()
                value = stack.push(value)
            if self.zero_correct or self.relative:
                return self._corrected(value, t)
            return value, "N", t
        t = start
        output: float | None = None
        overflow = False
        filters = self.stack if self.filtered else None
        if filters is not None:
            filters.begin_reading()
        for _ in range(self.conversions):
            t += self.t_conv
            value = sample(t)
            if not abs(value) <= full_scale:  # as Range.holds
                overflow = True
            else:
                output = filters.push(value) if filters is not None else value
        if overflow or output is None:
            return OVERFLOW_VALUE, "O", t
        return self._corrected(output, t)

    def _corrected(self, output: float, t: float) -> tuple[float, str, float]:
        """Zero correct and REL applied (§7.2): (value, status letter, ``t``)."""
        if self.zero_correct:
            output -= self.offset
        if self.relative:
            return output - self.reference, "R", t
        return output, "N", t


class ReadingPipeline:
    """Performs readings on the simulated input (§7.4) with §6.2-§6.3 timing.

    Keeps the state that outlives one reading: filter stacks per function and
    the range of the last conversion (a different range or function costs its
    settling delay before the next conversion; an autorange step also costs
    ``autorange_extra_conversions`` conversion times).
    """

    def __init__(self, model: str, signals: SignalSimulator, timing: TimingModel) -> None:
        self.model = model
        #: F29 alternative (6514): only the average filter sets status bit 1.
        self.median_sets_filter_bit = True
        self.signals = signals
        self.timing = timing
        self._filters: dict[str, _FilterStack] = {}
        self._plans: dict[str, _ReadingPlan] = {}
        self._last_range: tuple[str, float] | None = None

    def forget_range(self) -> None:
        """Power-on: the next conversion settles whatever its range."""
        self._last_range = None

    def reset_filters(self) -> None:
        """Empty every filter stack (e.g. at ``*RST``)."""
        self._filters.clear()
        self._plans.clear()

    def take_reading(self, function: str, sense: FunctionSettings, conditions: InputConditions,
                     start: float) -> ReadingOutcome:
        """Perform one reading beginning at device time ``start``.

        Consumes one conversion index per conversion, so call it once per
        reading actually begun.  ``start`` excludes the trigger delay.
        """
        plan = self._plan(function, sense, conditions)
        table, rng, t_conv, conversions, stack = (plan.table, plan.range, plan.t_conv,
                                                  plan.conversions, plan.stack)
        invalid = conditions.zero_check and conditions.zero_check_reading != "live"
        autorange = (sense.range_auto or sense.range_once) and not invalid
        t, overflow, changed = start, False, False
        output: float | None = None
        stack.begin_reading()
        for _ in range(conversions):
            n = self.signals.next_index(function)
            t, value, new_range = self._convert(function, sense, conditions, table, rng,
                                                autorange, t, t_conv, n)
            if new_range is not rng:
                rng, changed = new_range, True
                stack = self._stack(function, sense.filters, rng.nominal)
            if invalid:
                continue
            if not rng.holds(value):
                overflow = True  # filters are bypassed for an overflow
                continue
            output = stack.push(value)
        value, status = self._finish(output, invalid, overflow, sense, conditions)
        return ReadingOutcome(
            value=value, status=status, function=function, range_nominal=rng.nominal,
            start=start, time=t, conversions=conversions,
            filtered=plan.filter_bit,
            relative=sense.reference_state, zero_check=conditions.zero_check,
            zero_correct=conditions.zero_correct, math=conditions.math, range_changed=changed,
        )

    def steady(self, function: str, sense: FunctionSettings,
               conditions: InputConditions) -> SteadyConversions | None:
        """Conversions for readings with these settings, if they qualify (else None).

        Call right after a reading with the same settings: its range is then settled.
        """
        if (sense.range_auto or sense.range_once or conditions.zero_check
                or conditions.line_sync or (function == "CHAR" and sense.adischarge)):
            return None
        plan = self._plan(function, sense, conditions)
        if self._last_range != (function, plan.range.nominal):
            return None
        return SteadyConversions(self, function, plan, sense, conditions)

    def _plan(self, function: str, sense: FunctionSettings,
              conditions: InputConditions) -> _ReadingPlan:
        """What the settings imply for a reading, recomputed only when one of them changed."""
        filters = sense.filters
        key = (sense.range_nominal, sense.nplc, conditions.line_frequency, conditions.autozero,
               filters.median, filters.median_rank, filters.average, filters.average_tcontrol,
               filters.average_count, filters.average_type, filters.average_ntolerance)
        plan = self._plans.get(function)
        # The stack check catches a stack replaced by an autorange step or reset_filters.
        if plan is not None and plan.key == key and self._filters.get(function) is plan.stack:
            return plan
        table = range_table(self.model, function)
        rng = table.by_nominal(sense.range_nominal)
        plan = self._plans[function] = _ReadingPlan(
            key=key, table=table, range=rng,
            t_conv=self.timing.conversion_time(sense.nplc, conditions.line_frequency,
                                               conditions.autozero),
            conversions=self.timing.conversions_per_reading(filters),
            filtered=filters.median or averaging_active(filters),
            filter_bit=(filters.median and self.median_sets_filter_bit)
            or averaging_active(filters),
            stack=self._stack(function, filters, rng.nominal),
        )
        return plan

    def _stack(self, function: str, filters: FilterSettings, nominal: float) -> _FilterStack:
        stack = self._filters.get(function)
        if stack is None or stack.key != _filter_key(filters, nominal):
            stack = self._filters[function] = _FilterStack(filters, nominal)
        return stack

    def _convert(self, function: str, sense: FunctionSettings, conditions: InputConditions,
                 table: RangeTable, rng: Range, autorange: bool, t: float, t_conv: float,
                 n: int) -> tuple[float, float, Range]:
        """One conversion from ``t``: (end time, value incl. offset, range used)."""
        end = _conversion_end(t, t_conv, conditions)
        value = self._sample(function, sense, conditions, end, n)
        target = table.autorange(value, sense.auto_lower, sense.auto_upper) if autorange else rng
        last = self._last_range
        if last is None or last[0] != function or last[1] != target.nominal:
            delay = self.timing.settling_delay(function, target.nominal)
            if target is not rng:
                delay += self.timing.autorange_extra_conversions * t_conv
            end = _conversion_end(t + delay, t_conv, conditions)
            value = self._sample(function, sense, conditions, end, n)
            self._last_range = (function, target.nominal)
        return end, value, target

    def _sample(self, function: str, sense: FunctionSettings, conditions: InputConditions,
                t: float, n: int) -> float:
        if conditions.zero_check:
            return self.signals.shunted_sample(function, n)
        value = self.signals.sample(function, t, n)
        if function != "CHAR" or not sense.adischarge:
            return value
        level = abs(sense.adischarge_level)
        if level > 0 and abs(value) >= level:
            self.signals.discharge(function, t)
            value = self.signals.sample(function, t, n)
        return value

    @staticmethod
    def _finish(output: float | None, invalid: bool, overflow: bool, sense: FunctionSettings,
                conditions: InputConditions) -> tuple[float, str]:
        if invalid:
            return ZERO_CHECK_VALUE, "Z"
        if overflow or output is None:
            return OVERFLOW_VALUE, "O"
        value = output
        if conditions.zero_correct:
            value -= conditions.zero_offset
        if sense.reference_state:
            return value - sense.reference, "R"
        return value, "N"
