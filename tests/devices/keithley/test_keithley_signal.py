"""Simulated signal sources and their control operations (spec §7.1, §7.6)."""

from __future__ import annotations

import statistics

import pytest

from devices.keithley.signal import (
    DEFAULT_SIGNALS,
    NO_HUMIDITY,
    NO_TEMPERATURE,
    Environment,
    SignalError,
    SignalSimulator,
    SignalSpec,
    standard_normal,
)

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


# -- sampler: sample_next for many conversions -------------------------------------------------

SAMPLER_SOURCES = (
    ("VOLT", "noise", {"mean": 0.1, "sigma": 0.2, "offset": 0.25}),
    ("CURR", "ramp", {"start": 1e-12, "slope": 1e-10, "noise_sigma": 1e-13}),
    ("VOLT", "constant", {"value": 1.5, "noise_sigma": 0.01}),
    ("VOLT", "constant", {"value": -2.0}),
    ("VOLT", "list", {"values": [0.001, 500.0, -0.002], "repeat": True}),
)


@pytest.mark.parametrize(("function", "kind", "params"), SAMPLER_SOURCES)
def test_sampler_gives_the_values_and_counts_of_sample_next(
        function: str, kind: str, params: dict[str, object]) -> None:
    """Across blocks of deviates, interleaved with sample_next, after each kind of change."""
    sampled, reference = SignalSimulator(seed=3), SignalSimulator(seed=3)
    for simulator in (sampled, reference):
        simulator.set_signal(function, kind, 0.5, **params)
    values, expected = [], []
    for step in range(700):  # more than two blocks
        t = 0.5 + step * 0.01
        if step % 97 == 0:  # the shared counter is advanced by the general path too
            values.append(sampled.sample_next(function, t))
        else:
            values.append(sampled.sampler(function)(t))
        expected.append(reference.sample_next(function, t))
        if step == 300:
            for simulator in (sampled, reference):
                simulator.set_seed(5)
        elif step == 400:
            for simulator in (sampled, reference):
                simulator.discharge(function, t)
        elif step == 500:
            for simulator in (sampled, reference):
                simulator.set_signal(function, kind, t, **params)
        elif step == 600:
            for simulator in (sampled, reference):
                simulator.power_on(t)
    assert values == expected
    assert sampled.conversions(function) == reference.conversions(function)


def test_a_sampler_is_replaced_when_the_source_changes() -> None:
    simulator = SignalSimulator()
    first = simulator.sampler("VOLT")
    assert simulator.sampler("VOLT") is first
    simulator.set_signal("VOLT", "constant", 0.0, value=2.0)
    second = simulator.sampler("VOLT")
    assert second is not first
    assert second(0.0) == 2.0
