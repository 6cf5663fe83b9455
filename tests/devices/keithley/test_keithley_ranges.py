"""Range tables and limits of the 6517B and 6514 (spec §4.3, §4.4, §4.6, §4.7, §6.3)."""

from __future__ import annotations

import pytest

from devices.keithley.ranges import (
    RangeError,
    model_limits,
    range_table,
)


def nominals(model: str, function: str) -> list[float]:
    return [rng.nominal for rng in range_table(model, function).ranges]


def test_6517b_current_ranges_are_decades_from_20_pa_to_20_ma() -> None:
    """§4.3: 6517B CURR has 20 pA, 200 pA, 2 nA … 20 mA."""
    assert nominals("6517B", "CURR") == [
        20e-12, 200e-12, 2e-9, 20e-9, 200e-9, 2e-6, 20e-6, 200e-6, 2e-3, 20e-3]


def test_6517b_resistance_ranges_run_from_2_megohm_to_200_teraohm() -> None:
    """§4.3: 6517B RES 2 MΩ, 20 MΩ … 200 TΩ."""
    assert nominals("6517B", "RES") == [2e6, 20e6, 200e6, 2e9, 20e9, 200e9, 2e12, 20e12,
                                        200e12]


def test_6514_ranges_follow_its_own_table() -> None:
    """§4.3: 6514 RES 2 kΩ … 200 GΩ, CHAR 20 nC … 20 µC, VOLT 2/20/200 V."""
    assert nominals("6514", "RES") == [2e3, 20e3, 200e3, 2e6, 20e6, 200e6, 2e9, 20e9, 200e9]
    assert nominals("6514", "CHAR") == [20e-9, 200e-9, 2e-6, 20e-6]
    assert nominals("6514", "VOLT") == [2.0, 20.0, 200.0]
    assert nominals("6517B", "CHAR") == [2e-9, 20e-9, 200e-9, 2e-6]


@pytest.mark.parametrize(
    ("model", "function", "nominal", "full_scale"),
    [
        ("6517B", "VOLT", 2.0, 2.1),
        ("6517B", "CURR", 20e-3, 21e-3),
        ("6514", "RES", 2e6, 2100000.0),
        ("6517B", "CURR", 20e-12, 2.1e-11),
        ("6517B", "RES", 200e12, 210e12),
    ],
)
def test_full_scale_is_105_percent_of_nominal(model: str, function: str, nominal: float,
                                              full_scale: float) -> None:
    """§4.3: full scale is 1.05 x nominal (2.1 V on 2 V, RES:RANG? → 2100000.0 on 2 MΩ)."""
    assert range_table(model, function).by_nominal(nominal).full_scale == full_scale


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        ("CURR", 0.01, 20e-3),
        ("CURR", 2e-9, 2e-9),
        ("CURR", 2.1e-9, 2e-9),
        ("CURR", 2.11e-9, 20e-9),
        ("CURR", 0.0, 20e-12),
        ("VOLT", 1.0, 2.0),
        ("VOLT", 210.0, 200.0),
        ("RES", 1e18, 200e12),
    ],
)
def test_range_parameter_selects_most_sensitive_range_that_holds_it(
        function: str, value: float, expected: float) -> None:
    """§4.3: the parameter is the expected reading; above the largest full scale → largest."""
    assert range_table("6517B", function).select(value).nominal == expected


@pytest.mark.parametrize(("function", "value"), [("CURR", 0.1), ("CHAR", 0.1), ("VOLT", -1.0),
                                                 ("VOLT", 210.5), ("RES", 1e21)])
def test_range_parameter_outside_6517b_limits_is_rejected(function: str, value: float) -> None:
    """§4.3, §9.4: values outside the limits are -222 (0.1 A on a 6517B)."""
    with pytest.raises(RangeError, match=function):
        range_table("6517B", function).select(value)


def test_6514_uses_the_absolute_value_of_a_negative_range() -> None:
    """§4.3: 6514 VOLT limits -210 … 210, absolute value used."""
    table = range_table("6514", "VOLT")
    assert table.select(-5.0).nominal == 20.0
    assert table.parameter_min == -210.0
    with pytest.raises(RangeError):
        table.select(-211.0)


@pytest.mark.parametrize(
    ("model", "function", "rst"),
    [("6517B", "VOLT", 200.0), ("6517B", "CURR", 20e-3), ("6517B", "CHAR", 2e-6),
     ("6517B", "RES", 2e6), ("6514", "VOLT", 20.0), ("6514", "CURR", 20e-3),
     ("6514", "RES", 200e9), ("6514", "CHAR", 20e-6)],
)
def test_rst_ranges(model: str, function: str, rst: float) -> None:
    """§4.3: *RST range per model and function."""
    assert range_table(model, function).rst_range.nominal == rst


@pytest.mark.parametrize(
    ("function", "nominal", "digits", "exponent"),
    [("VOLT", 2.0, 1, 0), ("VOLT", 200.0, 3, 0), ("CURR", 20e-12, 2, -12),
     ("CURR", 200e-12, 3, -12), ("CURR", 2e-9, 1, -9), ("CURR", 200e-6, 3, -6),
     ("CURR", 20e-3, 2, -3), ("CHAR", 200e-9, 3, -9), ("CHAR", 2e-6, 1, -6),
     ("RES", 200e6, 3, 6), ("RES", 2e9, 1, 9), ("RES", 20e12, 2, 12)],
)
def test_range_exponent_groups_match_the_reading_format_table(
        function: str, nominal: float, digits: int, exponent: int) -> None:
    """§5.1: k integer digits for m = 2, 20, 200 and the engineering exponent per range."""
    rng = range_table("6517B", function).by_nominal(nominal)
    assert (rng.integer_digits, rng.exponent) == (digits, exponent)


def test_autorange_picks_lowest_range_within_limits() -> None:
    """§7.5: lowest range within [LLIM, ULIM] whose full scale holds the value."""
    table = range_table("6517B", "CURR")
    assert table.autorange(1e-12).nominal == 20e-12
    assert table.autorange(1e-12, lower=2e-9).nominal == 2e-9
    assert table.autorange(-5e-6).nominal == 20e-6


def test_autorange_above_upper_limit_stays_on_upper_range() -> None:
    """§7.5: a value above the ULIM range's full scale reads as overflow on that range."""
    table = range_table("6517B", "VOLT")
    chosen = table.autorange(50.0, upper=20.0)
    assert chosen.nominal == 20.0
    assert not chosen.holds(50.0)


def test_default_autorange_limits() -> None:
    """§4.3: 6517B CURR LLIM 20 pA range, ULIM 20 mA; 6514 VOLT LLIM 2 V, ULIM 200 V."""
    current = range_table("6517B", "CURR")
    assert (current.auto_lower_nominal, current.auto_upper_nominal) == (20e-12, 20e-3)
    volts = range_table("6514", "VOLT")
    assert (volts.auto_lower_nominal, volts.auto_upper_nominal) == (2.0, 200.0)


def test_step_moves_one_range_and_clamps_at_the_ends() -> None:
    """§1.6: UP/DOWN (when accepted) step a range, never past the table."""
    table = range_table("6517B", "VOLT")
    assert table.step(2.0, 1).nominal == 20.0
    assert table.step(200.0, 1).nominal == 200.0
    assert table.step(2.0, -1).nominal == 2.0


@pytest.mark.parametrize(
    ("function", "nominal", "delay"),
    [("VOLT", 2.0, 5e-3), ("VOLT", 20.0, 3e-3), ("VOLT", 200.0, 2e-3),
     ("CURR", 20e-12, 2.5), ("CURR", 200e-12, 2.5), ("CURR", 2e-9, 10e-3),
     ("CURR", 2e-6, 10e-3), ("CURR", 20e-6, 5e-3), ("CURR", 200e-6, 5e-3),
     ("CURR", 2e-3, 1e-3), ("CURR", 20e-3, 0.5e-3), ("CHAR", 2e-9, 3e-3),
     ("RES", 2e6, 10e-3), ("RES", 200e6, 10e-3), ("RES", 2e9, 50e-3), ("RES", 200e12, 50e-3)],
)
def test_settling_delays_follow_the_6514_table(function: str, nominal: float,
                                                delay: float) -> None:
    """§6.3: settling delays per range (6514 Table 9-1, used for both models)."""
    assert range_table("6517B", function).by_nominal(nominal).settling_s == delay


def test_6514_resistance_settling_delays() -> None:
    """§6.3: RES 2 kΩ 5 ms; 20, 200 kΩ 1 ms."""
    table = range_table("6514", "RES")
    assert [table.by_nominal(n).settling_s for n in (2e3, 20e3, 200e3)] == [5e-3, 1e-3, 1e-3]


def test_model_limits_differ_where_the_spec_says() -> None:
    """§2.2, §4.6, §4.7: buffer size, *SAV slots and trigger counts per model."""
    b, c = model_limits("6517B"), model_limits("6514")
    assert (b.trace_points.maximum, c.trace_points.maximum) == (50000, 2500)
    assert (b.save_slots.maximum, c.save_slots.maximum) == (9, 2)
    assert (b.trigger_count_max, c.trigger_count_max) == (99999, 2500)
    assert b.nplc.minimum == 0.01 and b.nplc.maximum == 10.0 and b.nplc.default == 1.0
    assert c.aperture is None and c.vsource_level is None
    assert b.vsource_range_for(1) == 100.0 and b.vsource_range_for(100.5) == 1000.0


def test_unknown_model_or_function_names_the_allowed_values() -> None:
    """Clear errors: the message lists what is allowed."""
    with pytest.raises(ValueError, match="6517B, 6514"):
        range_table("2000", "VOLT")
    with pytest.raises(ValueError, match="VOLT, CURR, RES, CHAR"):
        range_table("6517B", "TEMP")
    with pytest.raises(KeyError, match=r"no 3\.0 range"):
        range_table("6517B", "VOLT").by_nominal(3.0)
