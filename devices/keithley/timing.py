"""The timing model of spec §6: clocks, time per reading, settling, schedules, RTC.

All functions are pure; the only state is in ``DeviceClock`` (the host ↔
device time mapping) and ``RealTimeClock`` (the 6517B clock adjustment), both
driven by times the caller passes in.  Host times are the harness clock
(``now``); device times are the instrument's own timeline (§6.1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from devices.keithley.ranges import Model, range_table
from devices.keithley.state import FilterSettings
from devices.scpi import Reply

if TYPE_CHECKING:
    from devices.keithley.config import KeithleyConfig

#: Tolerance, in line cycles, for a time already on a zero crossing.
_CYCLE_TOLERANCE = 1e-9


# -- §6.1 clocks ------------------------------------------------------------------------


class DeviceClock:
    """Maps host time to device time with a speed factor (§6.1).

    ``speed > 0``: device = (now - anchor_host) x speed + anchor_device.
    ``speed == 0`` (instantaneous): device time ignores host time and only
    moves when the model calls ``advance_to`` with the end of an operation.
    """

    def __init__(self, speed: float = 1.0, now: float = 0.0, device_time: float = 0.0) -> None:
        _check_speed(speed)
        self._speed = float(speed)
        self._anchor_host = now
        self._anchor_device = device_time
        self._cursor = device_time

    @property
    def speed(self) -> float:
        """The current speed factor."""
        return self._speed

    def device_time(self, now: float) -> float:
        """Device time at host time ``now`` (at speed 0: the device cursor)."""
        if self._speed == 0:
            return self._cursor
        return (now - self._anchor_host) * self._speed + self._anchor_device

    def host_time(self, device_time: float, now: float) -> float:
        """Host time at which ``device_time`` is reached, never before ``now``.

        At speed 0 every device time is reached at once: the result is ``now``.
        """
        if self._speed == 0:
            return now
        return max(now, self._anchor_host + (device_time - self._anchor_device) / self._speed)

    def duration_on_host(self, device_seconds: float) -> float:
        """Host seconds a device duration takes (0 at speed 0)."""
        return 0.0 if self._speed == 0 else device_seconds / self._speed

    def advance_by(self, device_seconds: float) -> None:
        """At speed 0, ``advance_to(device_time(now) + device_seconds)`` in one call."""
        if self._speed == 0 and device_seconds > 0:
            self._cursor += device_seconds

    def advance_to(self, device_time: float) -> None:
        """At speed 0, move device time forward to ``device_time`` (never backwards).

        At speed > 0 device time follows the host clock and this does nothing.
        """
        if self._speed == 0 and device_time > self._cursor:
            self._cursor = device_time

    def set_speed(self, speed: float, now: float) -> None:
        """Change the speed at host time ``now``, re-anchoring so device time is continuous."""
        _check_speed(speed)
        current = self.device_time(now)
        self._anchor_host = now
        self._anchor_device = current
        self._cursor = current
        self._speed = float(speed)


def _check_speed(speed: float) -> None:
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not (
            math.isfinite(speed) and speed >= 0):
        raise ValueError(f"speed must be a finite number >= 0 (0 = instantaneous), got {speed!r}")


# -- §6.2 time per reading -----------------------------------------------------------------


def effective_line_frequency(line_frequency: float) -> float:
    """Mains frequency used for integration: 50 or 60; 400 Hz mains integrate as 50 (§6.2)."""
    return 60.0 if line_frequency == 60 else 50.0


def aperture(nplc: float, line_frequency: float) -> float:
    """Integration aperture A = NPLC / f_line in seconds (§6.2)."""
    return nplc / effective_line_frequency(line_frequency)


def nplc_for_aperture(aperture_s: float, line_frequency: float) -> float:
    """NPLC for an aperture at the line frequency (``:APER`` ↔ ``:NPLC`` coupling, §4.4)."""
    return aperture_s * effective_line_frequency(line_frequency)


def conversion_time(nplc: float, line_frequency: float, conv_factor: float = 3.07,
                    conv_overhead_s: float = 0.00254) -> float:
    """Time per A/D conversion: t_conv = conv_factor x A + conv_overhead_s (§6.2).

    1 PLC at 60 Hz → 53.7 ms; 1 PLC at 50 Hz → 63.9 ms; 0.01 PLC at 60 Hz → 3.05 ms.
    """
    return conv_factor * aperture(nplc, line_frequency) + conv_overhead_s


def averaging_active(filters: FilterSettings) -> bool:
    """Whether the average filter is on and does something (6517B TYPE NONE does not)."""
    return filters.average and filters.average_type.upper() not in ("NONE",)


def conversions_per_reading(filters: FilterSettings, median_block: bool = False) -> int:
    """A/D conversions per reading (§6.2).

    Repeat average: ``COUNt``; moving average and median: 1 (their windows prime
    progressively); with ``median_block`` an active median multiplies by 2R+1.
    """
    count = 1
    if averaging_active(filters) and filters.average_tcontrol.upper().startswith("REP"):
        count = filters.average_count
    if median_block and filters.median:
        count *= 2 * filters.median_rank + 1
    return count


def line_sync_start(t: float, line_frequency: float) -> float:
    """Next positive zero crossing at or after device time ``t``: a multiple of 1/f_line."""
    frequency = effective_line_frequency(line_frequency)
    # The tolerance keeps a time already on a boundary (up to float rounding) on it.
    cycles = math.ceil(t * frequency - _CYCLE_TOLERANCE)
    return max(cycles / frequency, t)


def conversion_window(start: float, t_conv: float, line_sync: bool = False,
                      line_frequency: float = 60) -> tuple[float, float]:
    """(begin, end) device times of one conversion requested at ``start`` (§6.2 line sync)."""
    begin = line_sync_start(start, line_frequency) if line_sync else start
    return begin, begin + t_conv


def reading_end(start: float, conversions: int, t_conv: float, *, settling_s: float = 0.0,
                line_sync: bool = False, line_frequency: float = 60) -> float:
    """Completion time of a reading whose conversions begin after ``settling_s`` (§6.2).

    The trigger delay is not included: the trigger model adds it to ``start``.
    """
    t = start + settling_s
    for _ in range(conversions):
        t = conversion_window(t, t_conv, line_sync, line_frequency)[1]
    return t


# -- §6.3 settling --------------------------------------------------------------------------


def default_settling_delay(model: Model | str, function: str, range_nominal: float) -> float:
    """Settling delay of a range per the §6.3 table (6514 Table 9-1, used for both models)."""
    return range_table(model, function).by_nominal(range_nominal).settling_s


# -- §6.4 schedules and replies ----------------------------------------------------------------


def next_reading_start(previous_end: float, origin: float, index: int,
                       timer_period: float | None = None) -> float:
    """When trigger-layer pass ``index`` (0-based) of an acquisition started at ``origin`` begins.

    IMMediate: as soon as the previous reading ends.  TIMer: at ``origin`` +
    ``index`` x period, or at the end of the previous reading when that is later
    (the effective period is max(timer, reading time), §4.6).
    """
    if timer_period is None:
        return previous_end
    return max(previous_end, origin + index * timer_period)


def uniform_completion_time(t0: float, index: int, reading_time: float,
                            timer_period: float | None = None) -> float:
    """t_k of reading ``index`` (0-based) when every reading takes ``reading_time`` (§6.4)."""
    period = reading_time if timer_period is None else max(reading_time, timer_period)
    return t0 + index * period + reading_time


def uniform_completed_count(t: float, t0: float, reading_time: float,
                            timer_period: float | None = None) -> int:
    """How many uniform readings have t_k ≤ ``t`` (``TRAC:POIN:ACT?`` at ``t``, §6.4)."""
    if t < t0 + reading_time:
        return 0
    period = reading_time if timer_period is None else max(reading_time, timer_period)
    if period <= 0:
        raise ValueError("reading_time and timer period cannot both be 0")
    count = int((t - t0 - reading_time) / period) + 1
    # Guard the float division at exact boundaries.
    while uniform_completion_time(t0, count, reading_time, timer_period) <= t:
        count += 1
    while count and uniform_completion_time(t0, count - 1, reading_time, timer_period) > t:
        count -= 1
    return count


def transmission_time(characters: int, baud: int, bits_per_character: int = 10) -> float:
    """Seconds to send ``characters`` at ``baud`` (8N1: 10 bits per character, §6.4)."""
    return characters * bits_per_character / baud


@dataclass(frozen=True)
class TimingModel:
    """The configured timing constants of §6 (from ``KeithleyConfig.timing()``).

    ``settling_table`` maps a function to one delay per range of the model's
    table (most sensitive first); missing functions use the §6.3 table.
    """

    model: Model = "6517B"
    conv_factor: float = 3.07
    conv_overhead_s: float = 0.00254
    median_block: bool = False
    autorange_extra_conversions: int = 1
    settling_table: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    query_latency_s: float = 0.001
    reset_duration_s: float = 0.1
    simulate_line_rate: bool = False
    baud: int = 9600
    bits_per_character: int = 10

    @classmethod
    def from_config(cls, config: KeithleyConfig) -> TimingModel:
        """The timing constants of a configuration."""
        return cls(
            model=config.model,
            conv_factor=config.conv_factor,
            conv_overhead_s=config.conv_overhead_s,
            median_block=config.median_block,
            autorange_extra_conversions=config.autorange_extra_conversions,
            settling_table=config.settling_table,
            query_latency_s=config.query_latency_s,
            reset_duration_s=config.reset_duration_s,
            simulate_line_rate=config.simulate_line_rate,
            baud=config.serial.baud,
            bits_per_character=config.serial.bits_per_character,
        )

    def conversion_time(self, nplc: float, line_frequency: float, autozero: bool = True) -> float:
        """t_conv for ``nplc``; 6514 with autozero OFF uses factor 1.0 (§6.2)."""
        factor = self.conv_factor if autozero or self.model != "6514" else 1.0
        return conversion_time(nplc, line_frequency, factor, self.conv_overhead_s)

    def conversions_per_reading(self, filters: FilterSettings) -> int:
        """Conversions per reading with this model's ``median_block`` setting."""
        return conversions_per_reading(filters, self.median_block)

    def settling_delay(self, function: str, range_nominal: float) -> float:
        """Settling delay before the first conversion on a new range (§6.3)."""
        custom = self.settling_table.get(function)
        if custom is None:
            return default_settling_delay(self.model, function, range_nominal)
        return custom[range_table(self.model, function).index(range_nominal)]

    def reply_transmission(self, text: str, terminator: str = "\n") -> float:
        """Extra reply delay for ``simulate_line_rate`` (0 when it is off)."""
        if not self.simulate_line_rate:
            return 0.0
        return transmission_time(len(text) + len(terminator), self.baud,
                                 self.bits_per_character)


class SerialLine:
    """``simulate_line_rate`` (§6.4): replies cross the serial line one after another.

    A reply is ready once its last character (terminator included) has been sent;
    it starts when it is ready and the previous reply has left the line.  The
    durations are realistic device-time durations, so they shrink with ``speed``
    and vanish at speed 0 (§6.1).
    """

    def __init__(self, timing: TimingModel, clock: DeviceClock) -> None:
        self.timing = timing
        self.clock = clock
        self.free_at = -math.inf

    def send(self, replies: Sequence[Reply], terminator: str) -> list[Reply]:
        """The replies with their ready times moved to the end of their transmission."""
        if not self.timing.simulate_line_rate or self.clock.speed == 0:
            return list(replies)
        sent = []
        for text, ready_at in replies:
            seconds = self.timing.reply_transmission(text, terminator)
            self.free_at = max(ready_at, self.free_at) + self.clock.duration_on_host(seconds)
            sent.append(Reply(text, self.free_at))
        return sent

    def clear(self) -> None:
        """Device clear: replies not yet delivered are dropped, the line is free (§8.3)."""
        self.free_at = -math.inf


# -- §6.5 real-time clock ----------------------------------------------------------------------


@dataclass
class RealTimeClock:
    """The 6517B clock: ``epoch`` + device time + the ``:SYST:DATE``/``:SYST:TIME`` adjustment."""

    epoch: datetime = datetime(2024, 1, 1)
    adjustment: timedelta = timedelta(0)

    def at(self, device_time: float) -> datetime:
        """Clock reading at ``device_time``."""
        return self.epoch + self.adjustment + timedelta(seconds=device_time)

    def set_date(self, year: int, month: int, day: int, device_time: float) -> None:
        """``:SYST:DATE``: keep the time of day, change the date.  ``ValueError`` if invalid."""
        current = self.at(device_time)
        try:
            wanted = current.replace(year=int(year), month=int(month), day=int(day))
        except ValueError as error:
            raise ValueError(f"invalid date {year},{month},{day}: {error}") from None
        self.adjustment += wanted - current

    def set_time(self, hour: int, minute: int, second: float, device_time: float) -> None:
        """``:SYST:TIME``: keep the date, change the time of day.  ``ValueError`` if invalid."""
        if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second < 60):
            raise ValueError(f"invalid time {hour},{minute},{second}: "
                             "expected 0-23, 0-59, 0-59.99")
        current = self.at(device_time)
        midnight = current.replace(hour=0, minute=0, second=0, microsecond=0)
        wanted = midnight + timedelta(hours=int(hour), minutes=int(minute), seconds=second)
        self.adjustment += wanted - current

    def date_text(self, device_time: float) -> str:
        """``:SYST:DATE?`` reply: ``2024,01,01`` (F37)."""
        moment = self.at(device_time)
        return f"{moment.year:04d},{moment.month:02d},{moment.day:02d}"

    def time_text(self, device_time: float) -> str:
        """``:SYST:TIME?`` reply: ``09,00,20.00`` (F37)."""
        moment = self.at(device_time)
        return (f"{moment.hour:02d},{moment.minute:02d},"
                f"{moment.second:02d}.{moment.microsecond // 10000:02d}")
