"""The conversion pipeline of spec §7.4 with the timing of §6.2-§6.3."""

from __future__ import annotations

from typing import Any

import pytest

from devices.keithley.measurement import AuxiliaryValues, Measurement
from devices.keithley.pipeline import InputConditions, ReadingOutcome, ReadingPipeline
from devices.keithley.reading import OVERFLOW_VALUE, ZERO_CHECK_VALUE
from devices.keithley.signal import SignalSimulator, SignalSpec, standard_normal
from devices.keithley.state import FilterSettings as Filters
from devices.keithley.state import FunctionSettings, Setup, rst_setup
from devices.keithley.timing import TimingModel, conversion_time

T_CONV_1PLC_60HZ = conversion_time(1, 60)


def settings(**changes: Any) -> FunctionSettings:
    """Fixed 20 pA range, autorange limits 20 pA…20 mA, 1 PLC, filters off."""
    defaults: dict[str, Any] = {"range_nominal": 20e-12, "auto_lower": 20e-12,
                                "auto_upper": 20e-3, "filters": Filters(), "range_auto": False}
    return FunctionSettings(**{**defaults, **changes})


def pipeline(seed: int = 0, **signals: SignalSpec) -> ReadingPipeline:
    return ReadingPipeline("6517B", SignalSimulator(signals=signals, seed=seed), TimingModel())


def run(pipe: ReadingPipeline, function: str, sense: FunctionSettings, count: int,
        start: float = 0.0, conditions: InputConditions | None = None) -> list[ReadingOutcome]:
    outcomes = []
    t = start
    for _ in range(count):
        outcome = pipe.take_reading(function, sense, conditions or InputConditions(), t)
        sense.range_nominal = outcome.range_nominal
        t = outcome.time
        outcomes.append(outcome)
    return outcomes


def test_same_seed_gives_identical_readings_and_times() -> None:
    """§0.5, §7.1: same configuration, seed and times → identical results."""
    first = run(pipeline(seed=7), "CURR", settings(range_auto=True), 5)
    second = run(pipeline(seed=7), "CURR", settings(range_auto=True), 5)
    other = run(pipeline(seed=8), "CURR", settings(range_auto=True), 5)
    assert first == second
    assert [o.value for o in first] != [o.value for o in other]


def test_reading_takes_one_conversion_after_range_settling() -> None:
    """§6.2, §6.3: first conversion on a range waits its settling delay, later ones don't."""
    pipe = pipeline(VOLT=SignalSpec("constant", value=1.0))
    first, second = run(pipe, "VOLT", settings(range_nominal=2.0), 2, start=1.0)
    assert first.time == pytest.approx(1.0 + 5e-3 + T_CONV_1PLC_60HZ)
    assert second.time - first.time == pytest.approx(T_CONV_1PLC_60HZ)
    assert (first.value, first.status, first.conversions) == (1.0, "N", 1)


def test_function_change_counts_as_range_change() -> None:
    """§4.2, §6.3: a function change costs the new range's settling delay."""
    pipe = pipeline()
    run(pipe, "VOLT", settings(range_nominal=2.0), 1)
    outcome = pipe.take_reading("CHAR", settings(range_nominal=2e-9), InputConditions(), 10.0)
    assert outcome.time == pytest.approx(10.0 + 3e-3 + T_CONV_1PLC_60HZ)


def test_fixed_range_overflow_reads_9_9e37() -> None:
    """§7.4, §7.5: above full scale on a fixed range → +9.9E37, status O."""
    pipe = pipeline(VOLT=SignalSpec("constant", value=2.2))
    (outcome,) = run(pipe, "VOLT", settings(range_nominal=2.0), 1)
    assert (outcome.value, outcome.status) == (OVERFLOW_VALUE, "O")
    (fits,) = run(pipeline(VOLT=SignalSpec("constant", value=2.1)), "VOLT",
                  settings(range_nominal=2.0), 1)
    assert fits.status == "N"


def test_autorange_selects_lowest_range_and_pays_settling_plus_a_conversion() -> None:
    """§6.3, §7.5: autorange step → settling + one extra conversion."""
    pipe = pipeline(CURR=SignalSpec("constant", value=1.5e-9))
    sense = settings(range_nominal=20e-3, range_auto=True)
    first, second = run(pipe, "CURR", sense, 2)
    assert first.range_nominal == 2e-9 and first.range_changed
    assert first.time == pytest.approx(10e-3 + 2 * T_CONV_1PLC_60HZ)
    assert not second.range_changed
    assert second.time - first.time == pytest.approx(T_CONV_1PLC_60HZ)


def test_autorange_respects_limits_and_overflows_above_upper() -> None:
    """§4.3, §7.5: autorange never leaves [LLIM, ULIM]; above ULIM full scale → overflow."""
    pipe = pipeline(CURR=SignalSpec("constant", value=1e-12))
    (low,) = run(pipe, "CURR", settings(range_nominal=20e-3, range_auto=True, auto_lower=2e-9), 1)
    assert low.range_nominal == 2e-9
    pipe = pipeline(CURR=SignalSpec("constant", value=1e-3))
    (high,) = run(pipe, "CURR", settings(range_auto=True, auto_upper=200e-6), 1)
    assert (high.range_nominal, high.status) == (200e-6, "O")


def test_range_changes_only_when_a_conversion_happens() -> None:
    """§7.5: an idle instrument keeps its range; the new range comes with a reading."""
    sim = SignalSimulator(signals={"VOLT": SignalSpec("constant", value=150.0)})
    pipe = ReadingPipeline("6517B", sim, TimingModel())
    sense = settings(range_nominal=2.0, range_auto=True, auto_lower=2.0, auto_upper=200.0)
    sim.set_signal("VOLT", "constant", 0.0, value=0.5)
    assert sense.range_nominal == 2.0
    (outcome,) = run(pipe, "VOLT", sense, 1)
    assert outcome.range_nominal == 2.0 and not outcome.range_changed


def test_zero_check_invalid_value_reads_9_91e37_z() -> None:
    """§7.3: ``invalid_value``: readings are +9.91E37 with status Z."""
    pipe = pipeline()
    (outcome,) = run(pipe, "CURR", settings(), 1, conditions=InputConditions(zero_check=True))
    assert (outcome.value, outcome.status, outcome.zero_check) == (ZERO_CHECK_VALUE, "Z", True)
    assert outcome.time > 0


def test_zero_check_live_reads_offset_plus_noise() -> None:
    """§7.3: ``live``: readings of the shunted input (offset plus noise), status N."""
    pipe = pipeline(seed=3, CURR=SignalSpec("constant", value=1e-9, offset=2e-13,
                                            noise_sigma=1e-15))
    conditions = InputConditions(zero_check=True, zero_check_reading="live")
    (outcome,) = run(pipe, "CURR", settings(), 1, conditions=conditions)
    expected = 2e-13 + 1e-15 * standard_normal(3, "CURR", 0)
    assert outcome.value == pytest.approx(expected)
    assert outcome.status == "N"


def test_zero_correct_and_rel_are_subtracted_after_filtering() -> None:
    """§7.2, §7.4: zero correct removes the acquired offset; REL the reference, status R."""
    pipe = pipeline(VOLT=SignalSpec("constant", value=1.0, offset=0.01))
    conditions = InputConditions(zero_correct=True, zero_offset=0.01)
    (corrected,) = run(pipe, "VOLT", settings(range_nominal=2.0), 1, conditions=conditions)
    assert corrected.value == pytest.approx(1.0) and corrected.zero_correct
    sense = settings(range_nominal=2.0, reference=0.25, reference_state=True)
    (relative,) = run(pipe, "VOLT", sense, 1)
    assert relative.value == pytest.approx(0.76)
    assert (relative.status, relative.relative) == ("R", True)


def test_zero_offset_is_what_zcor_acquire_stores() -> None:
    """§4.5, §7.2: ``ZCOR:ACQ`` stores the present zero offset of the function."""
    sim = SignalSimulator(signals={"CURR": SignalSpec("constant", value=0.0, offset=3e-14)})
    assert sim.zero_offset("CURR") == 3e-14


def test_repeat_average_takes_count_conversions_per_reading() -> None:
    """§4.4, §6.2: repeat average: COUNt conversions, one reading, then flush."""
    pipe = pipeline(VOLT=SignalSpec("list", values=(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)))
    sense = settings(range_nominal=2e2, filters=Filters(average=True, average_count=3))
    first, second = run(pipe, "VOLT", sense, 2)
    assert (first.value, second.value) == (2.0, 5.0)
    assert first.conversions == 3 and first.filtered
    assert second.time - first.time == pytest.approx(3 * T_CONV_1PLC_60HZ)


def test_moving_average_primes_progressively() -> None:
    """§4.4: moving average emits a reading on every conversion from the first one."""
    pipe = pipeline(VOLT=SignalSpec("list", values=(1.0, 2.0, 3.0, 4.0)))
    sense = settings(range_nominal=20.0, filters=Filters(average=True, average_count=2,
                                                      average_tcontrol="MOV"))
    assert [o.value for o in run(pipe, "VOLT", sense, 4)] == [1.0, 1.5, 2.5, 3.5]


def test_median_runs_before_the_average() -> None:
    """§4.4: median of the last 2R+1 conversions, then the average."""
    pipe = pipeline(VOLT=SignalSpec("list", values=(1.0, 9.0, 2.0, 3.0)))
    sense = settings(range_nominal=20.0, filters=Filters(median=True, median_rank=1))
    assert [o.value for o in run(pipe, "VOLT", sense, 4)] == [1.0, 5.0, 2.0, 3.0]


def test_advanced_filter_resets_on_a_jump_beyond_tolerance() -> None:
    """§4.4: ADVanced resets the stack when a conversion differs by more than NTOL % of range."""
    pipe = pipeline(VOLT=SignalSpec("list", values=(1.0, 1.01, 1.5, 1.52)))
    filters = Filters(average=True, average_count=10, average_tcontrol="MOV",
                      average_type="ADV", average_ntolerance=5.0)
    values = [o.value for o in run(pipe, "VOLT", settings(range_nominal=2.0, filters=filters), 4)]
    assert values == pytest.approx([1.0, 1.005, 1.5, 1.51])


def test_overflowing_conversion_bypasses_filters() -> None:
    """§7.4: an overflow is not fed into the filter stack."""
    pipe = pipeline(VOLT=SignalSpec("list", values=(1.0, 5.0, 1.5)))
    sense = settings(range_nominal=2.0, filters=Filters(average=True, average_count=5,
                                                     average_tcontrol="MOV"))
    assert [o.status for o in run(pipe, "VOLT", sense, 3)] == ["N", "O", "N"]
    assert pipe.take_reading("VOLT", sense, InputConditions(), 10.0).value == pytest.approx(
        (1.0 + 1.5 + 1.5) / 3)


def test_line_sync_aligns_conversions_to_line_cycles() -> None:
    """§6.2: with line sync each conversion starts on a line-cycle boundary."""
    pipe = pipeline(VOLT=SignalSpec("constant", value=1.0))
    conditions = InputConditions(line_sync=True, line_frequency=50)
    first, second = run(pipe, "VOLT", settings(range_nominal=2.0), 2, conditions=conditions)
    t_conv = conversion_time(1, 50)
    assert first.time == pytest.approx(0.02 + t_conv)
    assert second.time == pytest.approx(0.10 + t_conv)  # 0.08394 waits for 0.10


def test_charge_ramp_auto_discharges_at_the_level() -> None:
    """§7.2: with auto-discharge ON the charge ramp restarts when |Q| reaches the level."""
    pipe = pipeline(CHAR=SignalSpec("ramp", start=0.0, slope=1e-7))
    sense = settings(range_nominal=2e-6, adischarge=True, adischarge_level=1e-6)
    outcome = pipe.take_reading("CHAR", sense, InputConditions(), 20.0)
    assert 0 <= outcome.value < 1e-9  # 2e-6 without the discharge
    later = pipe.take_reading("CHAR", sense, InputConditions(), outcome.time + 1.0)
    assert later.value - outcome.value == pytest.approx(1e-7 * (later.time - outcome.time))


def test_outcome_converts_to_a_reading() -> None:
    """§5: the outcome becomes the ``Reading`` the buffer stores."""
    (outcome,) = run(pipeline(VOLT=SignalSpec("constant", value=1.0)), "VOLT",
                     settings(range_nominal=2.0), 1)
    stored = outcome.to_reading(digits=6, timestamp=outcome.time, number=3, vsource=10.0)
    assert (stored.value, stored.status, stored.time, stored.number, stored.vsource) == (
        1.0, "N", outcome.time, 3, 10.0)


# -- the instrument's device action ------------------------------------------------------------


def measurement(setup: Setup, **signals: SignalSpec) -> Measurement:
    return Measurement("6517B", lambda: setup, SignalSimulator(signals=signals), TimingModel(),
                       lambda: 60, lambda: AuxiliaryValues(23.0, 45.0, 10.0))


def test_measurement_stores_the_autorange_decision_in_the_setup() -> None:
    """§7.5, F14: the range autorange picked is the new range; a value set is forgotten."""
    setup = rst_setup("6517B", zero_check=False)
    setup.function = "CURR"
    sense = setup.functions["CURR"]
    sense.range_auto, sense.range_as_set = True, 20e-3
    reading = measurement(setup, CURR=SignalSpec("constant", value=1.5e-9)).take(0.0)
    assert (reading.range_nominal, sense.range_nominal, sense.range_as_set) == (2e-9, 2e-9, None)
    assert sense.range_auto


def test_measurement_with_range_once_turns_autorange_off() -> None:
    """§4.3: ``RANG:AUTO ONCE`` picks a range with the next reading, then autorange is off."""
    setup = rst_setup("6517B", zero_check=False)
    sense = setup.functions["VOLT"]
    sense.range_auto, sense.range_once = False, True
    measurement(setup, VOLT=SignalSpec("constant", value=1.5)).take(0.0)
    assert (sense.range_nominal, sense.range_once, sense.range_auto) == (2.0, False, False)


def test_measurement_numbers_and_timestamps_readings_since_power_on() -> None:
    """§5.4: timestamps count from the origin; numbers count committed readings."""
    setup = rst_setup("6517B", zero_check=False)
    device = measurement(setup)
    device.power_on(10.0)
    first = device.take(10.0)
    device.committed()
    second = device.take(first.time)
    assert (first.number, second.number) == (0, 1)
    assert first.timestamp == pytest.approx(first.time - 10.0)
    assert (second.temperature, second.humidity, second.vsource) == (23.0, 45.0, 10.0)


def test_measurement_subtracts_the_acquired_zero_offset() -> None:
    """§4.5, §7.2: ``ZCOR:ACQ`` stores the offset that zero correct removes."""
    setup = rst_setup("6517B", zero_check=False)
    setup.system.zero_correct = True
    setup.functions["VOLT"].range_auto = False
    setup.functions["VOLT"].filters.median = False
    device = measurement(setup, VOLT=SignalSpec("constant", value=1.0, offset=0.25))
    assert device.take(0.0).value == pytest.approx(1.25)
    device.acquire_zero("VOLT")
    assert device.take(1.0).value == pytest.approx(1.0)
