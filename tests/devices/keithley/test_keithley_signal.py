"""Simulated signal, conversion pipeline and control operations (spec §7)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import pytest

from devices.keithley.reading import OVERFLOW_VALUE, ZERO_CHECK_VALUE
from devices.keithley.signal import (
    DEFAULT_SIGNALS,
    NO_HUMIDITY,
    NO_TEMPERATURE,
    Environment,
    InputConditions,
    ReadingOutcome,
    ReadingPipeline,
    SignalError,
    SignalSimulator,
    SignalSpec,
    standard_normal,
)
from devices.keithley.timing import TimingModel, conversion_time

T_CONV_1PLC_60HZ = conversion_time(1, 60)


@dataclass
class Filters:
    median: bool = False
    median_rank: int = 1
    average: bool = False
    average_tcontrol: str = "REP"
    average_count: int = 10
    average_type: str = "SCAL"
    average_ntolerance: float = 1.0


@dataclass
class Sense:
    range_nominal: float = 20e-12
    range_auto: bool = False
    range_once: bool = False
    auto_lower: float = 20e-12
    auto_upper: float = 20e-3
    nplc: float = 1.0
    reference: float = 0.0
    reference_state: bool = False
    adischarge: bool = False
    adischarge_level: float = 2e-6
    filters: Filters = field(default_factory=Filters)


def pipeline(seed: int = 0, **signals: SignalSpec) -> ReadingPipeline:
    return ReadingPipeline("6517B", SignalSimulator(signals=signals, seed=seed), TimingModel())


def run(pipe: ReadingPipeline, function: str, sense: Sense, count: int, start: float = 0.0,
        conditions: InputConditions | None = None) -> list[ReadingOutcome]:
    outcomes = []
    t = start
    for _ in range(count):
        outcome = pipe.take_reading(function, sense, conditions or InputConditions(), t)
        sense.range_nominal = outcome.range_nominal
        t = outcome.time
        outcomes.append(outcome)
    return outcomes


# -- §7.1 sources ----------------------------------------------------------------------------


def test_noise_generator_is_counter_based_and_seeded() -> None:
    """§7.1: g(n) depends only on (seed, function, n)."""
    assert standard_normal(3, "CURR", 17) == standard_normal(3, "CURR", 17)
    assert standard_normal(3, "CURR", 17) != standard_normal(4, "CURR", 17)
    assert standard_normal(3, "CURR", 17) != standard_normal(3, "VOLT", 17)
    assert standard_normal(3, "CURR", 17) != standard_normal(3, "CURR", 18)


def test_noise_generator_is_standard_normal() -> None:
    """§7.1: g(n) is a standard normal deviate (deterministic sample of 4000)."""
    values = [standard_normal(0, "CURR", n) for n in range(4000)]
    assert statistics.fmean(values) == pytest.approx(0.0, abs=0.05)
    assert statistics.stdev(values) == pytest.approx(1.0, abs=0.05)


def test_source_kinds_compute_their_values() -> None:
    """§7.1: constant, noise, ramp and list, each with offset and noise_sigma."""
    assert SignalSpec("constant", value=1.5, offset=0.5).value_at(9.0, 3, 2.0) == 2.0
    assert SignalSpec("noise", mean=1.0, sigma=0.1).value_at(0.0, 0, 2.0) == pytest.approx(1.2)
    assert SignalSpec("ramp", start=1.0, slope=0.5, noise_sigma=0.1).value_at(
        4.0, 0, 1.0) == pytest.approx(3.1)
    held = SignalSpec("list", values=(1.0, 2.0))
    cycled = SignalSpec("list", values=(1.0, 2.0), repeat=True)
    assert [held.value_at(0, i, 0) for i in range(4)] == [1.0, 2.0, 2.0, 2.0]
    assert [cycled.value_at(0, i, 0) for i in range(4)] == [1.0, 2.0, 1.0, 2.0]


def test_default_signals() -> None:
    """§7.1 defaults: CURR 1 pA noise, VOLT 1 mV, RES 1 TΩ, CHAR ramp 1 pC/s, offsets 0."""
    assert DEFAULT_SIGNALS["CURR"] == SignalSpec("noise", mean=1.0e-12, sigma=5e-15)
    assert DEFAULT_SIGNALS["VOLT"] == SignalSpec("noise", mean=1.0e-3, sigma=1e-6)
    assert DEFAULT_SIGNALS["RES"] == SignalSpec("noise", mean=1.0e12, sigma=1e9)
    assert DEFAULT_SIGNALS["CHAR"] == SignalSpec("ramp", start=0.0, slope=1.0e-12,
                                                 noise_sigma=1e-15)
    assert all(spec.offset == 0 for spec in DEFAULT_SIGNALS.values())


def test_signal_parameters_are_checked_per_kind() -> None:
    """§7.6: a parameter the kind does not take is refused, naming the allowed ones."""
    with pytest.raises(SignalError, match="allowed parameters: value, noise_sigma, offset"):
        SignalSpec.from_params("constant", slope=1.0)
    with pytest.raises(SignalError, match="constant, noise, ramp, list"):
        SignalSpec.from_params("sine")
    with pytest.raises(SignalError, match="sigma"):
        SignalSpec("noise", sigma=-1.0)
    with pytest.raises(SignalError, match="at least one"):
        SignalSpec.from_params("list", values=[])


def test_set_signal_ramp_starts_at_t_set() -> None:
    """§7.1, §7.6: ramp = start + slope x (t - t_set), t_set = time of ``set_signal``."""
    sim = SignalSimulator()
    sim.set_signal("volt", "ramp", 10.0, start=1.0, slope=2.0)
    assert sim.sample("VOLT", 12.5, sim.next_index("VOLT")) == 6.0


def test_list_source_gives_one_value_per_conversion_from_set_signal() -> None:
    """§7.1: list values in conversion order, counted from ``set_signal``."""
    sim = SignalSimulator()
    for _ in range(5):
        sim.next_index("CURR")
    sim.set_signal("CURR", "list", 0.0, values=[1e-9, 2e-9, 3e-9])
    values = [sim.sample("CURR", 0.0, sim.next_index("CURR")) for _ in range(4)]
    assert values == [1e-9, 2e-9, 3e-9, 3e-9]


def test_set_seed_changes_noise_and_restarts_counters() -> None:
    """§7.6: ``set_seed(n)``: new noise seed, conversion counters restart."""
    sim = SignalSimulator(seed=1)
    first = [sim.sample("CURR", 0.0, sim.next_index("CURR")) for _ in range(3)]
    sim.set_seed(2)
    assert sim.conversions("CURR") == 0
    other = [sim.sample("CURR", 0.0, sim.next_index("CURR")) for _ in range(3)]
    sim.set_seed(1)
    again = [sim.sample("CURR", 0.0, sim.next_index("CURR")) for _ in range(3)]
    assert first == again != other


def test_reset_signals_restores_the_configured_sources() -> None:
    """§7.6: ``reset_signals()`` goes back to the defaults (or configured signals)."""
    configured = SignalSpec("constant", value=5.0)
    sim = SignalSimulator(signals={"VOLT": configured})
    sim.set_signal("VOLT", "constant", 0.0, value=1.0)
    sim.set_signal("CURR", "constant", 0.0, value=1.0)
    sim.reset_signals(0.0)
    assert sim.source("VOLT") == configured
    assert sim.source("CURR") == DEFAULT_SIGNALS["CURR"]


def test_environment_and_fixture_flags() -> None:
    """§4.12, §7.6: environment values, probe presence, compliance and interlock."""
    sim = SignalSimulator()
    assert sim.environment == Environment(23.0, 45.0, True, True)
    sim.set_environment(temperature_c=30.0, humidity_probe=False)
    assert sim.environment.temperature_reading(enabled=True) == 30.0
    assert sim.environment.temperature_reading(enabled=False) == NO_TEMPERATURE
    assert sim.environment.humidity_reading(enabled=True) == NO_HUMIDITY
    assert sim.environment.humidity_pct == 45.0
    sim.set_vsource_compliance(True)
    sim.set_interlock(False)
    snapshot = sim.snapshot()
    assert snapshot["vsource_compliance"] is True and snapshot["interlock_closed"] is False
    assert snapshot["environment"]["temperature_c"] == 30.0
    assert snapshot["signals"]["CHAR"] == {"kind": "ramp", "start": 0.0, "slope": 1e-12,
                                           "noise_sigma": 1e-15, "offset": 0.0}


def test_unknown_function_is_refused() -> None:
    """§7.6: functions are VOLT, CURR, RES, CHAR."""
    with pytest.raises(SignalError, match="VOLT, CURR, RES, CHAR"):
        SignalSimulator().set_signal("TEMP", "constant", 0.0, value=1.0)


# -- §7.4 pipeline -----------------------------------------------------------------------------


def test_same_seed_gives_identical_readings_and_times() -> None:
    """§0.5, §7.1: same configuration, seed and times → identical results."""
    first = run(pipeline(seed=7), "CURR", Sense(range_auto=True), 5)
    second = run(pipeline(seed=7), "CURR", Sense(range_auto=True), 5)
    other = run(pipeline(seed=8), "CURR", Sense(range_auto=True), 5)
    assert first == second
    assert [o.value for o in first] != [o.value for o in other]


def test_reading_takes_one_conversion_after_range_settling() -> None:
    """§6.2, §6.3: first conversion on a range waits its settling delay, later ones don't."""
    pipe = pipeline(VOLT=SignalSpec("constant", value=1.0))
    first, second = run(pipe, "VOLT", Sense(range_nominal=2.0), 2, start=1.0)
    assert first.time == pytest.approx(1.0 + 5e-3 + T_CONV_1PLC_60HZ)
    assert second.time - first.time == pytest.approx(T_CONV_1PLC_60HZ)
    assert (first.value, first.status, first.conversions) == (1.0, "N", 1)


def test_function_change_counts_as_range_change() -> None:
    """§4.2, §6.3: a function change costs the new range's settling delay."""
    pipe = pipeline()
    run(pipe, "VOLT", Sense(range_nominal=2.0), 1)
    outcome = pipe.take_reading("CHAR", Sense(range_nominal=2e-9), InputConditions(), 10.0)
    assert outcome.time == pytest.approx(10.0 + 3e-3 + T_CONV_1PLC_60HZ)


def test_fixed_range_overflow_reads_9_9e37() -> None:
    """§7.4, §7.5: above full scale on a fixed range → +9.9E37, status O."""
    pipe = pipeline(VOLT=SignalSpec("constant", value=2.2))
    (outcome,) = run(pipe, "VOLT", Sense(range_nominal=2.0), 1)
    assert (outcome.value, outcome.status) == (OVERFLOW_VALUE, "O")
    (fits,) = run(pipeline(VOLT=SignalSpec("constant", value=2.1)), "VOLT",
                  Sense(range_nominal=2.0), 1)
    assert fits.status == "N"


def test_autorange_selects_lowest_range_and_pays_settling_plus_a_conversion() -> None:
    """§6.3, §7.5: autorange step → settling + one extra conversion."""
    pipe = pipeline(CURR=SignalSpec("constant", value=1.5e-9))
    sense = Sense(range_nominal=20e-3, range_auto=True)
    first, second = run(pipe, "CURR", sense, 2)
    assert first.range_nominal == 2e-9 and first.range_changed
    assert first.time == pytest.approx(10e-3 + 2 * T_CONV_1PLC_60HZ)
    assert not second.range_changed
    assert second.time - first.time == pytest.approx(T_CONV_1PLC_60HZ)


def test_autorange_respects_limits_and_overflows_above_upper() -> None:
    """§4.3, §7.5: autorange never leaves [LLIM, ULIM]; above ULIM full scale → overflow."""
    pipe = pipeline(CURR=SignalSpec("constant", value=1e-12))
    (low,) = run(pipe, "CURR", Sense(range_nominal=20e-3, range_auto=True, auto_lower=2e-9), 1)
    assert low.range_nominal == 2e-9
    pipe = pipeline(CURR=SignalSpec("constant", value=1e-3))
    (high,) = run(pipe, "CURR", Sense(range_auto=True, auto_upper=200e-6), 1)
    assert (high.range_nominal, high.status) == (200e-6, "O")


def test_range_changes_only_when_a_conversion_happens() -> None:
    """§7.5: an idle instrument keeps its range; the new range comes with a reading."""
    sim = SignalSimulator(signals={"VOLT": SignalSpec("constant", value=150.0)})
    pipe = ReadingPipeline("6517B", sim, TimingModel())
    sense = Sense(range_nominal=2.0, range_auto=True, auto_lower=2.0, auto_upper=200.0)
    sim.set_signal("VOLT", "constant", 0.0, value=0.5)
    assert sense.range_nominal == 2.0
    (outcome,) = run(pipe, "VOLT", sense, 1)
    assert outcome.range_nominal == 2.0 and not outcome.range_changed


def test_zero_check_invalid_value_reads_9_91e37_z() -> None:
    """§7.3: ``invalid_value``: readings are +9.91E37 with status Z."""
    pipe = pipeline()
    (outcome,) = run(pipe, "CURR", Sense(), 1, conditions=InputConditions(zero_check=True))
    assert (outcome.value, outcome.status, outcome.zero_check) == (ZERO_CHECK_VALUE, "Z", True)
    assert outcome.time > 0


def test_zero_check_live_reads_offset_plus_noise() -> None:
    """§7.3: ``live``: readings of the shunted input (offset plus noise), status N."""
    pipe = pipeline(seed=3, CURR=SignalSpec("constant", value=1e-9, offset=2e-13,
                                            noise_sigma=1e-15))
    conditions = InputConditions(zero_check=True, zero_check_reading="live")
    (outcome,) = run(pipe, "CURR", Sense(), 1, conditions=conditions)
    expected = 2e-13 + 1e-15 * standard_normal(3, "CURR", 0)
    assert outcome.value == pytest.approx(expected)
    assert outcome.status == "N"


def test_zero_correct_and_rel_are_subtracted_after_filtering() -> None:
    """§7.2, §7.4: zero correct removes the acquired offset; REL the reference, status R."""
    pipe = pipeline(VOLT=SignalSpec("constant", value=1.0, offset=0.01))
    conditions = InputConditions(zero_correct=True, zero_offset=0.01)
    (corrected,) = run(pipe, "VOLT", Sense(range_nominal=2.0), 1, conditions=conditions)
    assert corrected.value == pytest.approx(1.0) and corrected.zero_correct
    sense = Sense(range_nominal=2.0, reference=0.25, reference_state=True)
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
    sense = Sense(range_nominal=2e2, filters=Filters(average=True, average_count=3))
    first, second = run(pipe, "VOLT", sense, 2)
    assert (first.value, second.value) == (2.0, 5.0)
    assert first.conversions == 3 and first.filtered
    assert second.time - first.time == pytest.approx(3 * T_CONV_1PLC_60HZ)


def test_moving_average_primes_progressively() -> None:
    """§4.4: moving average emits a reading on every conversion from the first one."""
    pipe = pipeline(VOLT=SignalSpec("list", values=(1.0, 2.0, 3.0, 4.0)))
    sense = Sense(range_nominal=20.0, filters=Filters(average=True, average_count=2,
                                                      average_tcontrol="MOV"))
    assert [o.value for o in run(pipe, "VOLT", sense, 4)] == [1.0, 1.5, 2.5, 3.5]


def test_median_runs_before_the_average() -> None:
    """§4.4: median of the last 2R+1 conversions, then the average."""
    pipe = pipeline(VOLT=SignalSpec("list", values=(1.0, 9.0, 2.0, 3.0)))
    sense = Sense(range_nominal=20.0, filters=Filters(median=True, median_rank=1))
    assert [o.value for o in run(pipe, "VOLT", sense, 4)] == [1.0, 5.0, 2.0, 3.0]


def test_advanced_filter_resets_on_a_jump_beyond_tolerance() -> None:
    """§4.4: ADVanced resets the stack when a conversion differs by more than NTOL % of range."""
    pipe = pipeline(VOLT=SignalSpec("list", values=(1.0, 1.01, 1.5, 1.52)))
    filters = Filters(average=True, average_count=10, average_tcontrol="MOV",
                      average_type="ADV", average_ntolerance=5.0)
    values = [o.value for o in run(pipe, "VOLT", Sense(range_nominal=2.0, filters=filters), 4)]
    assert values == pytest.approx([1.0, 1.005, 1.5, 1.51])


def test_overflowing_conversion_bypasses_filters() -> None:
    """§7.4: an overflow is not fed into the filter stack."""
    pipe = pipeline(VOLT=SignalSpec("list", values=(1.0, 5.0, 1.5)))
    sense = Sense(range_nominal=2.0, filters=Filters(average=True, average_count=5,
                                                     average_tcontrol="MOV"))
    assert [o.status for o in run(pipe, "VOLT", sense, 3)] == ["N", "O", "N"]
    assert pipe.take_reading("VOLT", sense, InputConditions(), 10.0).value == pytest.approx(
        (1.0 + 1.5 + 1.5) / 3)


def test_line_sync_aligns_conversions_to_line_cycles() -> None:
    """§6.2: with line sync each conversion starts on a line-cycle boundary."""
    pipe = pipeline(VOLT=SignalSpec("constant", value=1.0))
    conditions = InputConditions(line_sync=True, line_frequency=50)
    first, second = run(pipe, "VOLT", Sense(range_nominal=2.0), 2, conditions=conditions)
    t_conv = conversion_time(1, 50)
    assert first.time == pytest.approx(0.02 + t_conv)
    assert second.time == pytest.approx(0.10 + t_conv)  # 0.08394 waits for 0.10


def test_charge_ramp_auto_discharges_at_the_level() -> None:
    """§7.2: with auto-discharge ON the charge ramp restarts when |Q| reaches the level."""
    pipe = pipeline(CHAR=SignalSpec("ramp", start=0.0, slope=1e-7))
    sense = Sense(range_nominal=2e-6, adischarge=True, adischarge_level=1e-6)
    outcome = pipe.take_reading("CHAR", sense, InputConditions(), 20.0)
    assert 0 <= outcome.value < 1e-9  # 2e-6 without the discharge
    later = pipe.take_reading("CHAR", sense, InputConditions(), outcome.time + 1.0)
    assert later.value - outcome.value == pytest.approx(1e-7 * (later.time - outcome.time))


def test_discharge_restarts_the_charge_ramp() -> None:
    """§7.2, F41: turning zero check OFF restarts the CHAR ramp from its start."""
    sim = SignalSimulator()
    sim.discharge("CHAR", 100.0)
    assert sim.sample("CHAR", 101.0, 0) == pytest.approx(
        1e-12 + 1e-15 * standard_normal(0, "CHAR", 0))


def test_power_on_restarts_counters() -> None:
    """§7.1: n counts conversions since power-on."""
    sim = SignalSimulator()
    sim.next_index("VOLT")
    sim.power_on(5.0)
    assert sim.conversions("VOLT") == 0


def test_outcome_converts_to_a_reading() -> None:
    """§5: the outcome becomes the ``Reading`` the buffer stores."""
    (outcome,) = run(pipeline(VOLT=SignalSpec("constant", value=1.0)), "VOLT",
                     Sense(range_nominal=2.0), 1)
    stored = outcome.to_reading(digits=6, timestamp=outcome.time, number=3, vsource=10.0)
    assert (stored.value, stored.status, stored.time, stored.number, stored.vsource) == (
        1.0, "N", outcome.time, 3, 10.0)
