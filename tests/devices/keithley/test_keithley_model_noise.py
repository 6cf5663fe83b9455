"""Noise of buffered readings at speed 0 (spec §6.1, §7.1, §4.4).

A speed-0 scan once showed two buffered readings 0.1 s apart with the same value.
The noise index n counts conversions (not device time), so every reading draws its
own sample; equal neighbours come from the 6517B's *RST median filter (rank 1: the
middle of the last three conversions), which these tests also pin down.
"""

from __future__ import annotations

import itertools
import statistics

import pytest

from devices.keithley import MockKeithley
from devices.keithley.signal import DEFAULT_SIGNALS, standard_normal

READINGS = 40
#: Half a unit of the last digit printed at DIG 7 on the 20 pA range (+00.99594E-12).
PRINT_RESOLUTION = 0.5e-17 * 1.01


def timed_scan(seed: int, *, median: bool) -> list[float]:
    """Buffered CURR readings of a TIMer scan (0.1 s) at DIG 7 on 20 pA, oldest first."""
    device = MockKeithley("6517B", speed=0, seed=seed)
    lines = [
        "*RST", ":SYST:ZCH OFF", ":SENS:FUNC 'CURR'", ":SENS:CURR:RANG 2e-11",
        f":SENS:CURR:MED {'ON' if median else 'OFF'}", ":SENS:CURR:DIG 7", ":FORM:ELEM READ",
        f":TRAC:POIN {READINGS}", ":TRAC:FEED:CONT NEXT", ":TRIG:SOUR TIM", ":TRIG:TIM 0.1",
        f":TRIG:COUN {READINGS}", ":INIT",
    ]
    for line in lines:
        assert device.receive(line, 0.0) == []
    (dump,) = device.receive(":TRAC:DATA?", 0.0)
    assert device.receive(":SYST:ERR?", 0.0)[0].text == '0,"No error"'
    return [float(field) for field in dump.text.split(",")]


def raw_samples(seed: int, count: int) -> list[float]:
    """§7.1 CURR default: mean + sigma x g(n), n counting CURR conversions since power-on."""
    spec = DEFAULT_SIGNALS["CURR"]
    return [spec.mean + spec.sigma * standard_normal(seed, "CURR", n) for n in range(count)]


def test_speed_0_timed_scan_draws_a_new_noise_sample_for_every_reading() -> None:
    """Reading k prints g(k): a repeated sample would print its neighbour's value instead."""
    values = timed_scan(3, median=False)
    assert len(values) == READINGS
    assert values == pytest.approx(raw_samples(3, READINGS), rel=0, abs=PRINT_RESOLUTION)


def test_median_filter_repeats_the_middle_of_the_last_three_samples() -> None:
    """§4.4 rank 1: a repeated value is the median of fresh, distinct samples."""
    values = timed_scan(3, median=True)
    samples = raw_samples(3, READINGS)
    medians = [statistics.median(samples[max(0, k - 2):k + 1]) for k in range(READINGS)]
    assert values == pytest.approx(medians, rel=0, abs=PRINT_RESOLUTION)
    assert any(a == b for a, b in itertools.pairwise(values))


def test_scan_noise_is_deterministic_per_seed() -> None:
    assert timed_scan(11, median=False) == timed_scan(11, median=False)
    assert timed_scan(11, median=False) != timed_scan(12, median=False)
