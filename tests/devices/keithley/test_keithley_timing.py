"""Timing model: clocks, time per reading, settling, schedules, RTC (spec §6)."""

from __future__ import annotations

from datetime import datetime

import pytest

from devices.keithley.config import KeithleyConfig, SerialSettings
from devices.keithley.state import FilterSettings as Filters
from devices.keithley.timing import (
    DeviceClock,
    RealTimeClock,
    TimingModel,
    aperture,
    conversion_time,
    conversion_window,
    conversions_per_reading,
    line_sync_start,
    next_reading_start,
    nplc_for_aperture,
    reading_end,
    transmission_time,
    uniform_completed_count,
    uniform_completion_time,
)

# -- §6.1 clocks ---------------------------------------------------------------------------


def test_device_time_follows_host_time_at_speed_one() -> None:
    """§6.1: device = (now - anchor_host) x speed + anchor_device."""
    clock = DeviceClock(speed=1.0, now=100.0)
    assert clock.device_time(100.0) == 0.0
    assert clock.device_time(102.5) == 2.5
    assert clock.host_time(2.5, now=100.0) == 102.5


def test_faster_speed_shortens_host_delays() -> None:
    """§6.1: realistic durations become host delays divided by ``speed``."""
    clock = DeviceClock(speed=4.0, now=10.0)
    assert clock.device_time(11.0) == 4.0
    assert clock.host_time(8.0, now=10.0) == 12.0
    assert clock.duration_on_host(2.0) == 0.5


def test_host_time_is_never_before_now() -> None:
    """§0.5: ``ready_at`` is a host time ≥ the ``now`` of the message."""
    clock = DeviceClock(speed=1.0)
    assert clock.host_time(1.0, now=5.0) == 5.0


def test_changing_speed_reanchors_without_a_jump() -> None:
    """§6.1: changing speed at run time re-anchors the mapping."""
    clock = DeviceClock(speed=1.0)
    clock.set_speed(10.0, now=3.0)
    assert clock.device_time(3.0) == 3.0
    assert clock.device_time(4.0) == 13.0
    clock.set_speed(1.0, now=4.0)
    assert clock.device_time(5.0) == 14.0


def test_speed_zero_is_instantaneous_and_device_time_moves_only_with_work() -> None:
    """§6.1: at speed 0 replies are ready at once and device time advances by durations."""
    clock = DeviceClock(speed=0.0, now=50.0)
    assert clock.device_time(1000.0) == 0.0
    assert clock.host_time(5.37, now=50.0) == 50.0
    clock.advance_to(5.37)
    clock.advance_to(1.0)  # never backwards
    assert clock.device_time(51.0) == 5.37
    assert clock.duration_on_host(5.37) == 0.0
    clock.advance_by(0.25)
    clock.advance_by(-1.0)  # never backwards
    assert clock.device_time(52.0) == 5.37 + 0.25


def test_advance_by_does_nothing_when_device_time_follows_the_host() -> None:
    clock = DeviceClock(speed=1.0, now=0.0)
    clock.advance_by(5.0)
    assert clock.device_time(2.0) == 2.0


def test_switching_from_speed_zero_continues_from_the_device_cursor() -> None:
    """§6.1: re-anchoring keeps device time continuous across speed 0."""
    clock = DeviceClock(speed=0.0)
    clock.advance_to(7.0)
    clock.set_speed(2.0, now=100.0)
    assert clock.device_time(101.0) == 9.0
    clock.set_speed(0.0, now=102.0)
    assert clock.device_time(500.0) == 11.0


@pytest.mark.parametrize("speed", [-1.0, float("nan"), float("inf")])
def test_invalid_speed_is_rejected(speed: float) -> None:
    """§6.1: speed is ≥ 0 (0 = instantaneous)."""
    with pytest.raises(ValueError, match="speed"):
        DeviceClock(speed=speed)


# -- §6.2 time per reading -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("nplc", "line", "expected_ms"),
    [(1, 60, 53.7), (1, 50, 63.9), (0.01, 60, 3.05)],
)
def test_conversion_time_figures(nplc: float, line: int, expected_ms: float) -> None:
    """§6.2: t_conv = 3.07 x A + 2.54 ms: ≈ 53.7, 63.9 and 3.05 ms."""
    assert conversion_time(nplc, line) * 1e3 == pytest.approx(expected_ms, abs=0.05)
    assert conversion_time(nplc, line) == pytest.approx(3.07 * nplc / line + 0.00254)


def test_aperture_and_nplc_are_coupled_through_line_frequency() -> None:
    """§4.4, §9.4: A = NPLC / f_line; 0.1 PLC at 60 Hz is 1.666667 ms."""
    assert aperture(0.1, 60) == pytest.approx(1.666667e-3, rel=1e-6)
    assert aperture(1, 50) == 0.02
    assert nplc_for_aperture(0.02, 50) == pytest.approx(1.0)
    assert aperture(1, 400) == 0.02  # 400 Hz mains integrate as 50 Hz


@pytest.mark.parametrize(
    ("filters", "median_block", "count"),
    [
        (Filters(), False, 1),
        (Filters(average=True), False, 10),
        (Filters(average=True, average_tcontrol="MOV"), False, 1),
        (Filters(average=True, average_type="NONE"), False, 1),
        (Filters(median=True, median_rank=2), False, 1),
        (Filters(median=True, median_rank=2), True, 5),
        (Filters(median=True, average=True, average_count=4), True, 12),
    ],
)
def test_conversions_per_reading(filters: Filters, median_block: bool, count: int) -> None:
    """§6.2: repeat average x COUNt; moving and median x 1; median_block x (2R+1)."""
    assert conversions_per_reading(filters, median_block) == count


def test_line_sync_waits_for_the_next_line_cycle() -> None:
    """§6.2: with line sync each conversion starts at the next multiple of 1/f_line."""
    assert line_sync_start(0.01, 60) == pytest.approx(1 / 60)
    assert line_sync_start(1 / 60, 60) == pytest.approx(1 / 60)
    assert line_sync_start(0.0, 50) == 0.0
    assert line_sync_start(0.021, 50) == pytest.approx(0.04)
    begin, end = conversion_window(0.01, 0.005, line_sync=True, line_frequency=60)
    assert (begin, end) == pytest.approx((1 / 60, 1 / 60 + 0.005))


def test_reading_end_adds_settling_and_conversions() -> None:
    """§6.2: reading time = settling + conversions x t_conv (+ line-sync waits)."""
    assert reading_end(1.0, 3, 0.05, settling_s=0.01) == pytest.approx(1.16)
    synced = reading_end(0.0, 2, 0.01, line_sync=True, line_frequency=50)
    assert synced == pytest.approx(0.03)  # 0 → 0.01, wait to 0.02 → 0.03


def test_timing_model_settling_and_overrides() -> None:
    """§6.3: default table, ``settling_table`` override per range."""
    timing = TimingModel()
    assert timing.settling_delay("CURR", 20e-12) == 2.5
    assert timing.settling_delay("VOLT", 20.0) == 3e-3
    custom = TimingModel(settling_table={"VOLT": (0.1, 0.2, 0.3)})
    assert custom.settling_delay("VOLT", 20.0) == 0.2
    assert custom.settling_delay("CURR", 20e-3) == 0.5e-3


def test_6514_with_autozero_off_uses_factor_one() -> None:
    """§6.2: with 6514 autozero OFF the factor is 1.0."""
    b, c = TimingModel(model="6517B"), TimingModel(model="6514")
    assert c.conversion_time(1, 50, autozero=False) == pytest.approx(0.02 + 0.00254)
    assert c.conversion_time(1, 50) == pytest.approx(0.06394)
    assert b.conversion_time(1, 50, autozero=False) == pytest.approx(0.06394)


def test_timing_model_from_config() -> None:
    """§6.2-§6.4: the configured coefficients reach the timing model."""
    config = KeithleyConfig.for_model("6514", conv_factor=2.0, conv_overhead_s=0.001,
                                      query_latency_s=0.01, serial=SerialSettings(baud=57600))
    timing = TimingModel.from_config(config)
    assert timing.model == "6514"
    assert timing.conversion_time(1, 50) == pytest.approx(0.041)
    assert (timing.query_latency_s, timing.reset_duration_s, timing.baud) == (0.01, 0.1, 57600)


# -- §6.4 schedules ------------------------------------------------------------------------


def test_documented_buffer_fill_example() -> None:
    """§6.4: 100 readings, IMM, 1 PLC, 60 Hz → full at t0 + 100 x 53.7 ms ≈ 5.37 s."""
    t_conv = conversion_time(1, 60)
    full = uniform_completion_time(2.0, 99, t_conv)
    assert full - 2.0 == pytest.approx(5.37, abs=0.005)
    assert uniform_completed_count(full, 2.0, t_conv) == 100
    assert uniform_completed_count(full - 1e-6, 2.0, t_conv) == 99
    assert uniform_completed_count(2.0, 2.0, t_conv) == 0


def test_timer_period_longer_than_reading_paces_readings() -> None:
    """§4.6, §6.4: t_k increases by the timer period when it is longer than a reading."""
    assert uniform_completion_time(0.0, 0, 0.05, timer_period=1.0) == 0.05
    assert uniform_completion_time(0.0, 3, 0.05, timer_period=1.0) == 3.05
    assert uniform_completed_count(3.0, 0.0, 0.05, timer_period=1.0) == 3
    # A timer shorter than the reading: the effective period is the reading time.
    assert uniform_completion_time(0.0, 3, 0.05, timer_period=0.01) == pytest.approx(0.2)


def test_next_reading_start_with_and_without_timer() -> None:
    """§4.6: TIMer passes at origin + k x period, or when the previous reading ends."""
    assert next_reading_start(0.7, origin=0.0, index=2) == 0.7
    assert next_reading_start(0.7, origin=0.0, index=2, timer_period=0.5) == 1.0
    assert next_reading_start(1.3, origin=0.0, index=2, timer_period=0.5) == 1.3


def test_line_rate_transmission_time() -> None:
    """§6.4: ``simulate_line_rate`` adds 10 bits per character (8N1) at the baud rate."""
    assert transmission_time(96, 9600) == pytest.approx(0.1)
    assert TimingModel().reply_transmission("x" * 100) == 0.0
    timing = TimingModel(simulate_line_rate=True, baud=9600)
    assert timing.reply_transmission("x" * 95, "\n") == pytest.approx(0.1)


# -- §6.5 real-time clock ------------------------------------------------------------------


def test_rtc_is_epoch_plus_device_time() -> None:
    """§6.5: the clock reads ``rtc_epoch`` plus device time."""
    clock = RealTimeClock(datetime(2024, 1, 1))
    assert clock.at(3661.5) == datetime(2024, 1, 1, 1, 1, 1, 500000)
    assert clock.date_text(3661.5) == "2024,01,01"
    assert clock.time_text(3661.5) == "01,01,01.50"


def test_rtc_can_be_set_by_date_and_time() -> None:
    """§4.9, §6.5: ``:SYST:DATE`` / ``:SYST:TIME`` adjust the clock, which keeps running."""
    clock = RealTimeClock()
    clock.set_date(2015, 3, 26, device_time=10.0)
    clock.set_time(9, 0, 20.0, device_time=10.0)
    assert clock.date_text(10.0) == "2015,03,26"
    assert clock.time_text(12.25) == "09,00,22.25"


@pytest.mark.parametrize(("args", "setter"), [((2024, 2, 30), "date"), ((24, 0, 0), "time"),
                                              ((1, 60, 0), "time")])
def test_rtc_rejects_invalid_values(args: tuple[int, int, int], setter: str) -> None:
    """§6.5: invalid dates and times raise ``ValueError`` (the model answers -222)."""
    clock = RealTimeClock()
    with pytest.raises(ValueError, match="invalid"):
        getattr(clock, f"set_{setter}")(*args, device_time=0.0)
