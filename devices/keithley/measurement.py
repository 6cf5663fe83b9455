"""The trigger model's device action: one reading of the active function (§7.4, §5.4).

``Measurement`` feeds the instrument's setup to the ``ReadingPipeline`` and
turns its outcome into the ``Reading`` the buffer stores: it keeps what the
instrument, not the pipeline, owns (the zero offsets acquired by ``ZCOR:ACQ``,
the timestamp origin and the reading counter) and stores an autorange decision
back into the setup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from devices.keithley.pipeline import InputConditions, ReadingPipeline, SteadyConversions
from devices.keithley.ranges import Model
from devices.keithley.reading import NO_HUMIDITY, NO_TEMPERATURE, Reading
from devices.keithley.reading_format import wrap_timestamp
from devices.keithley.signal import SignalSimulator
from devices.keithley.state import Setup
from devices.keithley.timing import TimingModel


class AuxiliaryValues(NamedTuple):
    """6517B values sampled with each reading: ETEM, HUM and VSO (§4.11, §4.12)."""

    temperature: float = NO_TEMPERATURE
    humidity: float = NO_HUMIDITY
    vsource: float = 0.0


_new_tuple = tuple.__new__


class SteadyReading(NamedTuple):
    """What a reading with unchanged settings shares with the previous one."""

    conversions: SteadyConversions
    function: str
    nominal: float
    digits: int
    #: Reading fields after ``number``: ETEM, HUM, VSO and the flags.
    tail: tuple[float, float, float, bool, bool, bool, bool, bool]


@dataclass
class Measurement:
    """Performs readings of ``setup().function`` through a ``ReadingPipeline``.

    At speed 0 a continuous acquisition takes a reading per message (§6.1), so a
    reading whose settings cannot have changed since the previous one reuses what
    that one derived from them.  The instrument calls ``settings_may_change``
    before anything that may change a setting and ``settings_settled`` once that
    is over; ``reuse_settings = False`` turns the reuse off (to compare both).
    """

    model: Model
    setup: Callable[[], Setup]
    signals: SignalSimulator
    timing: TimingModel
    line_frequency: Callable[[], float]
    auxiliary: Callable[[], AuxiliaryValues]
    zero_check_mode: str = "invalid_value"
    timestamp_origin: float = 0.0
    reading_counter: int = 0
    #: F30 alternative: stamp a reading at the start of its first conversion.
    timestamp_at_start: bool = False
    zero_offsets: dict[str, float] = field(default_factory=dict)
    reuse_settings: bool = True
    pipeline: ReadingPipeline = field(init=False)
    #: What the next reading may reuse of the last one's settings (None: nothing);
    #: read-only outside this class.
    steady: SteadyReading | None = field(default=None, init=False)
    # Until the owner says settings are settled, they may change at any time.
    _changing: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        self.pipeline = ReadingPipeline(self.model, self.signals, self.timing)

    def settings_may_change(self) -> None:
        """Settings may change from now until ``settings_settled``: derive them anew."""
        self.steady = None
        self._changing = True

    def settings_settled(self) -> None:
        """No setting changes any more: readings may reuse what their settings imply."""
        self._changing = False

    def take(self, start: float) -> Reading:
        """One reading starting at device time ``start`` (the trigger delay already elapsed)."""
        steady = self.steady
        if steady is not None and steady.conversions.usable():
            value, status, end = steady.conversions.convert(start)
            stamped = start if self.timestamp_at_start else end
            timestamp = wrap_timestamp(max(stamped - self.timestamp_origin, 0.0), self.model)
            # tuple.__new__ skips the generated ``Reading.__new__``: half the cost per reading.
            return _new_tuple(Reading, (value, status, steady.function, steady.nominal,
                                        steady.digits, end, timestamp, self.reading_counter,
                                        *steady.tail))
        reading = self._take(start)
        if self.reuse_settings and not self._changing:
            self.steady = self._steady_reading(reading)
        return reading

    def _steady_reading(self, reading: Reading) -> SteadyReading | None:
        setup = self.setup()
        function = setup.function
        conversions = self.pipeline.steady(function, setup.functions[function],
                                           self._conditions(setup))
        if conversions is None:
            return None
        return SteadyReading(conversions, function, reading.range_nominal, reading.digits,
                              (reading.temperature, reading.humidity, reading.vsource,
                               reading.filtered, reading.math, reading.relative,
                               reading.zero_check, reading.zero_correct))

    def _conditions(self, setup: Setup) -> InputConditions:
        system = setup.system
        return InputConditions(
            system.zero_check,
            self.zero_check_mode,
            system.zero_correct,
            self.zero_offsets.get(setup.function, 0.0),
            system.line_sync,
            self.line_frequency(),
            system.autozero,
            setup.calc.math_state if self.model == "6514" else False,
        )

    def _take(self, start: float) -> Reading:
        setup = self.setup()
        function = setup.function
        settings = setup.functions[function]
        conditions = self._conditions(setup)
        outcome = self.pipeline.take_reading(function, settings, conditions, start)
        if outcome.range_nominal != settings.range_nominal:
            settings.range_nominal = outcome.range_nominal
            settings.range_as_set = None
        if settings.range_once:
            settings.range_once = False
            settings.range_auto = False
        temperature, humidity, vsource = self.auxiliary()
        stamped = outcome.start if self.timestamp_at_start else outcome.time
        timestamp = wrap_timestamp(max(stamped - self.timestamp_origin, 0.0), self.model)
        # The formatter wraps the number (F30: unless no_rnum_wrap).
        return outcome.to_reading(settings.digits, timestamp, self.reading_counter, temperature,
                                  humidity, vsource)

    def acquire_zero(self, function: str) -> None:
        """``ZCOR:ACQ``: store the present zero offset of ``function`` (§7.2)."""
        self.steady = None
        self.zero_offsets[function] = self.signals.zero_offset(function)

    def committed(self) -> None:
        """The reading taken last completed: advance the reading number (§5.4)."""
        self.reading_counter += 1

    def power_on(self, t: float) -> None:
        """Power-on: timestamps and reading numbers restart; filters and ranges settle anew."""
        self.timestamp_origin = t
        self.reading_counter = 0
        self.pipeline.forget_range()
        self.pipeline.reset_filters()
        self.settings_may_change()
