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

import statistics
from collections import deque
from dataclasses import dataclass

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
from devices.keithley.timing import TimingModel, averaging_active, conversion_window


@dataclass(frozen=True)
class InputConditions:
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


@dataclass(frozen=True)
class ReadingOutcome:
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

    def to_reading(self, *, digits: int, timestamp: float, number: int,
                   temperature: float = NO_TEMPERATURE, humidity: float = NO_HUMIDITY,
                   vsource: float = 0.0) -> Reading:
        """The ``Reading`` the buffer stores and the formats print."""
        return Reading(
            value=self.value, status=self.status, function=self.function,
            range_nominal=self.range_nominal, digits=digits, time=self.time,
            timestamp=timestamp, number=number, temperature=temperature, humidity=humidity,
            vsource=vsource, filtered=self.filtered, math=self.math, relative=self.relative,
            zero_check=self.zero_check, zero_correct=self.zero_correct,
        )


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
        self.nominal = nominal
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
            self.window.append(value)
            value = statistics.median(self.window)
        if not self.averaging:
            return value
        if self.advanced and self.stack:
            if abs(value - statistics.fmean(self.stack)) > self.tolerance:
                self.stack.clear()
        self.stack.append(value)
        return statistics.fmean(self.stack)


class ReadingPipeline:
    """Performs readings on the simulated input (§7.4) with §6.2-§6.3 timing.

    Keeps the state that outlives one reading: filter stacks per function and
    the range of the last conversion (a different range or function costs its
    settling delay before the next conversion; an autorange step also costs
    ``autorange_extra_conversions`` conversion times).
    """

    def __init__(self, model: str, signals: SignalSimulator, timing: TimingModel) -> None:
        self.model = model
        self.signals = signals
        self.timing = timing
        self._filters: dict[str, _FilterStack] = {}
        self._last_range: tuple[str, float] | None = None

    def forget_range(self) -> None:
        """Power-on: the next conversion settles whatever its range."""
        self._last_range = None

    def reset_filters(self) -> None:
        """Empty every filter stack (e.g. at ``*RST``)."""
        self._filters.clear()

    def take_reading(self, function: str, sense: FunctionSettings, conditions: InputConditions,
                     start: float) -> ReadingOutcome:
        """Perform one reading beginning at device time ``start``.

        Consumes one conversion index per conversion, so call it once per
        reading actually begun.  ``start`` excludes the trigger delay.
        """
        table = range_table(self.model, function)
        rng = table.by_nominal(sense.range_nominal)
        t_conv = self.timing.conversion_time(sense.nplc, conditions.line_frequency,
                                             conditions.autozero)
        conversions = self.timing.conversions_per_reading(sense.filters)
        invalid = conditions.zero_check and conditions.zero_check_reading != "live"
        autorange = (sense.range_auto or sense.range_once) and not invalid
        t, overflow, changed = start, False, False
        output: float | None = None
        stack = self._stack(function, sense.filters, rng.nominal)
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
            filtered=sense.filters.median or averaging_active(sense.filters),
            relative=sense.reference_state, zero_check=conditions.zero_check,
            zero_correct=conditions.zero_correct, math=conditions.math, range_changed=changed,
        )

    def _stack(self, function: str, filters: FilterSettings, nominal: float) -> _FilterStack:
        stack = self._filters.get(function)
        if stack is None or stack.key != _filter_key(filters, nominal):
            stack = self._filters[function] = _FilterStack(filters, nominal)
        return stack

    def _convert(self, function: str, sense: FunctionSettings, conditions: InputConditions,
                 table: RangeTable, rng: Range, autorange: bool, t: float, t_conv: float,
                 n: int) -> tuple[float, float, Range]:
        """One conversion from ``t``: (end time, value incl. offset, range used)."""
        end = self._window_end(t, t_conv, conditions)
        value = self._sample(function, sense, conditions, end, n)
        target = table.autorange(value, sense.auto_lower, sense.auto_upper) if autorange else rng
        if self._last_range != (function, target.nominal):
            delay = self.timing.settling_delay(function, target.nominal)
            if target is not rng:
                delay += self.timing.autorange_extra_conversions * t_conv
            end = self._window_end(t + delay, t_conv, conditions)
            value = self._sample(function, sense, conditions, end, n)
            self._last_range = (function, target.nominal)
        return end, value, target

    @staticmethod
    def _window_end(t: float, t_conv: float, conditions: InputConditions) -> float:
        return conversion_window(t, t_conv, conditions.line_sync, conditions.line_frequency)[1]

    def _sample(self, function: str, sense: FunctionSettings, conditions: InputConditions,
                t: float, n: int) -> float:
        if conditions.zero_check:
            return self.signals.shunted_sample(function, n)
        value = self.signals.sample(function, t, n)
        level = abs(sense.adischarge_level)
        if function == "CHAR" and sense.adischarge and level > 0 and abs(value) >= level:
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
