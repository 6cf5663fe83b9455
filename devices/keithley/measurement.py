"""The conversion pipeline of spec §7.4: signal → zero check → range → filters → reading.

``Measurement`` performs one device action (one reading) for the trigger model:
it draws conversions from the ``SignalSimulator``, applies autorange, overflow,
median/average filters, zero correct and REL, and returns a ``Reading`` with its
completion time computed by the ``TimingModel`` (§6.2, §6.3).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.keithley.ranges import Model, range_table
from devices.keithley.reading import OVERFLOW_VALUE, ZERO_CHECK_VALUE, Reading
from devices.keithley.reading_format import wrap_reading_number, wrap_timestamp
from devices.keithley.signal import SignalSimulator
from devices.keithley.state import FilterSettings, FunctionSettings, Setup
from devices.keithley.timing import TimingModel, averaging_active, line_sync_start


@dataclass(slots=True)
class _FilterStack:
    """Median window and average stack of one function (§4.4)."""

    signature: tuple[object, ...] = ()
    median: deque[float] = field(default_factory=deque)
    average: deque[float] = field(default_factory=deque)

    def reset(self, signature: tuple[object, ...]) -> None:
        self.signature = signature
        self.median.clear()
        self.average.clear()


@dataclass(slots=True)
class Environment:
    """Auxiliary values sampled with each reading (§4.12, §4.11)."""

    temperature: float = 9999.99
    humidity: float = 999.99
    vsource: float = 0.0


@dataclass
class Measurement:
    """Performs readings; the trigger model's device action (§7.4)."""

    model: Model
    setup: Callable[[], Setup]
    signals: SignalSimulator
    timing: TimingModel
    line_frequency: Callable[[], float]
    environment: Callable[[], Environment]
    zero_check_mode: str = "invalid_value"
    timestamp_origin: float = 0.0
    reading_counter: int = 0
    zero_offsets: dict[str, float] = field(default_factory=dict)
    last_range: dict[str, float] = field(default_factory=dict)
    last_function: str | None = None
    _stacks: dict[str, _FilterStack] = field(default_factory=dict)

    def take(self, start: float) -> Reading:
        """One reading starting at device time ``start`` (the trigger delay already elapsed)."""
        setup = self.setup()
        function = setup.function
        settings = setup.functions[function]
        system = setup.system
        t = start
        new_range = self.last_range.get(function) != settings.range_nominal
        if self.last_function != function or new_range:
            t += self.timing.settling_delay(function, settings.range_nominal)
        self.last_function = function
        t_conv = self.timing.conversion_time(settings.nplc, self.line_frequency(), system.autozero)
        count = self.timing.conversions_per_reading(settings.filters)
        values: list[float] = []
        overflow = False
        for _ in range(count):
            if system.line_sync:
                t = line_sync_start(t, self.line_frequency())
            sample = self._sample(function, settings, t)
            t, overflow = self._range_and_overflow(function, settings, sample, t, t_conv)
            t += t_conv
            values.append(sample)
        self.last_range[function] = settings.range_nominal
        return self._reading(setup, settings, values, overflow, t)

    def _sample(self, function: str, settings: FunctionSettings, t: float) -> float:
        n = self.signals.next_index(function)
        zero_check = self.setup().system.zero_check
        if zero_check:
            return self.signals.shunted_sample(function, n)
        value = self.signals.sample(function, t, n)
        if function == "CHAR" and settings.adischarge and abs(value) >= abs(
                settings.adischarge_level):
            self.signals.discharge(function, t)
            value = self.signals.sample(function, t, n)
        return value

    def _range_and_overflow(self, function: str, settings: FunctionSettings, value: float,
                            t: float, t_conv: float) -> tuple[float, bool]:
        table = range_table(self.model, function)
        if settings.range_auto or settings.range_once:
            chosen = table.autorange(value, settings.auto_lower, settings.auto_upper)
            if chosen.nominal != settings.range_nominal:
                settings.range_nominal = chosen.nominal
                settings.range_as_set = None
                t += self.timing.settling_delay(function, chosen.nominal)
                t += self.timing.autorange_extra_conversions * t_conv
            if settings.range_once:
                settings.range_once = False
                settings.range_auto = False
        full_scale = table.by_nominal(settings.range_nominal).full_scale
        return t, abs(value) > full_scale

    def _reading(self, setup: Setup, settings: FunctionSettings, values: list[float],
                 overflow: bool, end: float) -> Reading:
        function = setup.function
        system = setup.system
        status = "N"
        if system.zero_check and self.zero_check_mode != "live":
            value = ZERO_CHECK_VALUE
            status = "Z"
        elif overflow:
            value = OVERFLOW_VALUE
            status = "O"
        else:
            value = self._filtered(function, settings, values)
            if system.zero_correct:
                value -= self.zero_offsets.get(function, 0.0)
            if settings.reference_state:
                value -= settings.reference
                status = "R"
        env = self.environment()
        filters = settings.filters
        return Reading(
            value=value,
            status=status,
            function=function,
            range_nominal=settings.range_nominal,
            digits=settings.digits,
            time=end,
            timestamp=wrap_timestamp(max(end - self.timestamp_origin, 0.0), self.model),
            number=wrap_reading_number(self.reading_counter),
            temperature=env.temperature,
            humidity=env.humidity,
            vsource=env.vsource,
            filtered=filters.median or averaging_active(filters),
            math=setup.calc.math_state if self.model == "6514" else False,
            relative=settings.reference_state,
            zero_check=system.zero_check,
            zero_correct=system.zero_correct,
        )

    def _filtered(self, function: str, settings: FunctionSettings, values: list[float]) -> float:
        filters = settings.filters
        stack = self._stacks.setdefault(function, _FilterStack())
        signature = _signature(filters, settings.range_nominal)
        if stack.signature != signature:
            stack.reset(signature)
        result = values[-1]
        outputs: list[float] = []
        for value in values:
            out = value
            if filters.median:
                stack.median.append(value)
                while len(stack.median) > 2 * filters.median_rank + 1:
                    stack.median.popleft()
                ordered = sorted(stack.median)
                out = ordered[len(ordered) // 2]
            outputs.append(out)
        if not averaging_active(filters):
            return outputs[-1]
        if filters.average_tcontrol == "REP":
            return sum(outputs) / len(outputs)
        full_scale = range_table(self.model, function).by_nominal(settings.range_nominal).full_scale
        for out in outputs:
            if filters.average_type == "ADV" and stack.average:
                mean = sum(stack.average) / len(stack.average)
                if abs(out - mean) > filters.average_ntolerance / 100.0 * full_scale:
                    stack.average.clear()
            stack.average.append(out)
            while len(stack.average) > filters.average_count:
                stack.average.popleft()
            result = sum(stack.average) / len(stack.average)
        return result

    def acquire_zero(self, function: str) -> None:
        """``ZCOR:ACQ``: store the present zero offset of ``function`` (§7.2)."""
        self.zero_offsets[function] = self.signals.zero_offset(function)

    def committed(self) -> None:
        """The reading taken last completed: advance the reading number (§5.4)."""
        self.reading_counter += 1


def _signature(filters: FilterSettings, range_nominal: float) -> tuple[object, ...]:
    return (filters.median, filters.median_rank, filters.average, filters.average_tcontrol,
            filters.average_count, filters.average_type, range_nominal)
