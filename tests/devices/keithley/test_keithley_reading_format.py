"""Reply and reading formats (spec §4.0, §4.8, §4.11, §5)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from devices.keithley.ranges import range_table
from devices.keithley.reading import OVERFLOW_VALUE, ZERO_CHECK_VALUE, Reading
from devices.keithley.reading_format import (
    DEFAULT_ELEMENTS_6517B,
    ELEMENT_ORDER_6517B,
    TRACE_ELEMENT_ORDER,
    ReadingFormat6514,
    ReadingFormat6517B,
    format_count,
    format_element_list,
    format_mantissa,
    format_nr3,
    format_register,
    format_rtc,
    format_vsource,
    status_word_6514,
    wrap_reading_number,
    wrap_timestamp,
)
from devices.scpi import format_bool, format_nr1, format_string


def reading(value: float = 1.0012e-12, *, status: str = "N", function: str = "CURR",
            nominal: float = 20e-12, digits: int = 6, timestamp: float = 12.345678,
            number: int = 42, **extra: object) -> Reading:
    return Reading(value=value, status=status, function=function, range_nominal=nominal,
                   digits=digits, time=timestamp, timestamp=timestamp, number=number,
                   **extra)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Entry:
    reading: Reading
    number: int
    timestamp: float


def elements(*names: str) -> frozenset[str]:
    return frozenset(names)


# -- §5.1 mantissa ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "nominal", "digits", "value", "text"),
    [
        ("CURR", 200e-12, 7, 198.4891e-12, "+198.4891E-12"),
        ("CURR", 20e-12, 7, -0.00374e-12, "-00.00374E-12"),
        ("CURR", 20e-3, 6, 2.3615e-3, "+002.3615E-03"),
        ("VOLT", 2.0, 4, 0.101, "+0000.101E+00"),
        ("VOLT", 2.0, 6, 1.01103, "+01.01103E+00"),
    ],
)
def test_mantissa_matches_captured_readings(function: str, nominal: float, digits: int,
                                            value: float, text: str) -> None:
    """§5.1 checks against captures: k digits, DIG - k decimals, padded to seven digits."""
    rng = range_table("6517B", function).by_nominal(nominal)
    assert format_mantissa(value, rng, digits) == text


@pytest.mark.parametrize(
    ("function", "nominal", "suffix"),
    [("CURR", 2e-9, "E-09"), ("CURR", 200e-6, "E-06"), ("CHAR", 20e-9, "E-09"),
     ("CHAR", 2e-6, "E-06"), ("RES", 2e6, "E+06"), ("RES", 200e9, "E+09"),
     ("RES", 2e12, "E+12"), ("VOLT", 200.0, "E+00")],
)
def test_mantissa_exponent_per_range_group(function: str, nominal: float, suffix: str) -> None:
    """§5.1 exponent table per range group."""
    rng = range_table("6517B", function).by_nominal(nominal)
    assert format_mantissa(nominal / 2, rng, 6).endswith(suffix)


def test_mantissa_never_has_negative_decimals() -> None:
    """§5.1: d = DIG - k, never below 0 (200 V range at DIG 3 would give 0 decimals)."""
    rng = range_table("6517B", "VOLT").by_nominal(200.0)
    assert format_mantissa(123.4, rng, 3) == "+0000123E+00"


# -- §5.1 elements ---------------------------------------------------------------------------


def test_default_6517b_elements_give_the_documented_reading() -> None:
    """§5.1: default elements, 20 pA range, DIG 6 → the documented example line."""
    text = ReadingFormat6517B().format(reading())
    assert text == "+001.0012E-12NADC,+0000012.345678secs,+00042RDNG#"


def test_read_field_with_and_without_status_and_units() -> None:
    """§5.1: STAT adds the status letter, UNIT the unit suffix."""
    sample = reading(198.4891e-12, nominal=200e-12, digits=7)
    both = ReadingFormat6517B(elements("READ", "STAT", "UNIT")).format(sample)
    stat = ReadingFormat6517B(elements("READ", "STAT")).format(sample)
    bare = ReadingFormat6517B(elements("READ")).format(sample)
    assert (both, stat, bare) == ("+198.4891E-12NADC", "+198.4891E-12N", "+198.4891E-12")


def test_all_elements_with_units_in_fixed_order() -> None:
    """§5.1: READ, TST, RNUM, CHAN, ETEM, HUM, VSO, each with its suffix."""
    sample = reading(1.5, function="VOLT", nominal=2.0, timestamp=7633.858813, number=58454,
                     temperature=23.0, humidity=45.0, vsource=10.0)
    fmt = ReadingFormat6517B(frozenset(ELEMENT_ORDER_6517B), emit_channel=True)
    assert fmt.format(sample) == (
        "+01.50000E+00NVDC,+0007633.858813secs,+58454RDNG#,000intchan,+0023.0Cexttemp,"
        "+045.0hum,+0010.000Vsrc")


def test_elements_without_units_drop_every_suffix() -> None:
    """§5.1: without UNITs all suffixes disappear and every numeric field has a sign."""
    sample = reading(1.5, function="VOLT", nominal=2.0, timestamp=7633.858813, number=58454,
                     temperature=23.0, humidity=45.0, vsource=1.0)
    fmt = ReadingFormat6517B(elements("READ", "TST", "RNUM", "ETEM", "HUM", "VSO"))
    text = fmt.format(sample)
    assert text == "+01.50000E+00,+0007633.858813,+58454,+0023.0,+045.0,+0001.000"
    assert all(field[0] in "+-" for field in text.split(","))


def test_channel_is_omitted_without_a_scanner_card() -> None:
    """§5.1, F26: CHAN is omitted unless ``emit_channel``."""
    fmt = ReadingFormat6517B(elements("READ", "CHAN", "UNIT"))
    assert fmt.format(reading()) == "+001.0012E-12ADC"


@pytest.mark.parametrize(
    ("status", "value", "style", "text"),
    [
        ("O", OVERFLOW_VALUE, "short", "+9.9E37OADC"),
        ("Z", ZERO_CHECK_VALUE, "short", "+9.91E37ZADC"),
        ("O", OVERFLOW_VALUE, "padded", "+9.900000E+37OADC"),
        ("Z", ZERO_CHECK_VALUE, "padded", "+9.910000E+37ZADC"),
    ],
)
def test_special_values_are_printed_literally(status: str, value: float, style: str,
                                              text: str) -> None:
    """§5.1, F27: +9.9E37 (overflow), +9.91E37 (zero check), short or padded."""
    fmt = ReadingFormat6517B(elements("READ", "STAT", "UNIT"),
                             special_value_style=style)  # type: ignore[arg-type]
    assert fmt.format(reading(value, status=status)) == text


def test_rel_reading_carries_status_r() -> None:
    """§5.1: status letter R while REL is active."""
    fmt = ReadingFormat6517B(elements("READ", "STAT", "UNIT"))
    assert fmt.format(reading(status="R", relative=True)) == "+001.0012E-12RADC"


def test_temperature_unit_and_disconnected_probes() -> None:
    """§4.12: ETEM unit per :UNIT:TEMP; disabled probes read 9999.99 / 999.99."""
    fmt_f = ReadingFormat6517B(elements("ETEM", "UNIT"), temperature_unit="F")
    assert fmt_f.format(reading(temperature=25.0)) == "+0077.0Fexttemp"
    fmt_k = ReadingFormat6517B(elements("ETEM"), temperature_unit="K")
    assert fmt_k.format(reading(temperature=0.0)) == "+0273.1"
    missing = ReadingFormat6517B(elements("ETEM", "HUM"), temperature_unit="F")
    assert missing.format(reading()) == "+9999.9,+999.9"


def test_rtc_timestamp_has_two_comma_fields() -> None:
    """§5.1: TST real-time clock ``hh:mm:ss.ss,dd-Mon-yyyy``."""
    assert format_rtc(datetime(2015, 3, 26, 9, 0, 20, 4000)) == "09:00:20.00,26-Mar-2015"
    fmt = ReadingFormat6517B(elements("TST", "UNIT"), timestamp_type="RTC",
                             rtc=lambda t: datetime(2015, 3, 26, 9) + timedelta(seconds=t))
    assert fmt.format(reading(timestamp=20.0)) == "09:00:20.00,26-Mar-2015"


def test_rtc_timestamp_without_clock_is_an_error() -> None:
    """§6.5: the RTC element needs the model's clock."""
    with pytest.raises(ValueError, match="rtc"):
        ReadingFormat6517B(elements("TST"), timestamp_type="RTC").format(reading())


# -- §5.3 several readings, dumps -------------------------------------------------------------


def test_buffer_dump_is_one_line_with_buffer_positions() -> None:
    """§5.3: the documented two-reading dump, RNUM = buffer position, TST from the entry."""
    first = reading(2.3615e-3, nominal=20e-3, number=700)
    second = reading(2.3061e-3, nominal=20e-3, number=701)
    text = ReadingFormat6517B().format_dump([Entry(first, 0, 0.0), Entry(second, 1, 0.0)])
    assert text == ("+002.3615E-03NADC,+0000000.000000secs,+00000RDNG#,"
                    "+002.3061E-03NADC,+0000000.000000secs,+00001RDNG#")
    assert "\r" not in text and "\n" not in text


def test_buffer_dump_uses_the_configured_rnum_suffix_and_negative_pretrigger() -> None:
    """§5.3, F28: ``buffer_rnum_suffix``; pretrigger readings are numbered negative."""
    fmt = ReadingFormat6517B(elements("READ", "RNUM", "UNIT"), buffer_rnum_suffix="rdng#")
    text = fmt.format_dump([Entry(reading(), -1, 0.0)])
    assert text == "+001.0012E-12ADC,-00001rdng#"


def test_live_readings_keep_upper_case_rdng() -> None:
    """§5.1: live readings print ``RDNG#`` whatever the buffer suffix."""
    fmt = ReadingFormat6517B(elements("RNUM", "UNIT"), buffer_rnum_suffix="rdng#")
    assert fmt.format(reading(number=5)) == "+00005RDNG#"


def test_several_readings_join_with_commas() -> None:
    """§5.3: N readings on one line joined with ``,``."""
    fmt = ReadingFormat6517B(elements("READ"))
    text = fmt.format_many([reading(1e-12), reading(2e-12)])
    assert text == "+001.0000E-12,+002.0000E-12"


# -- §5.2 6514 ----------------------------------------------------------------------------------


def test_6514_reading_is_three_signed_seven_digit_numbers() -> None:
    """§5.2: captured ``-7.334216E-06,+1.252302E+04,+0.000000E+00`` (volts, no flags)."""
    sample = reading(-7.334216e-06, function="VOLT", nominal=2.0, timestamp=12523.02)
    assert ReadingFormat6514().format(sample) == "-7.334216E-06,+1.252302E+04,+0.000000E+00"


def test_6514_manual_example_status_138() -> None:
    """§5.2: manual example 1.04056 µA, 223.6299 s, status 138 (amps, REL, filter)."""
    sample = reading(1.04056e-6, nominal=2e-6, timestamp=223.6299, filtered=True,
                     relative=True, status="R")
    assert status_word_6514(sample) == 138
    assert ReadingFormat6514().format(sample) == "+1.040560E-06,+2.236299E+02,+1.380000E+02"


def test_6514_status_word_bits() -> None:
    """§5.2: bit 0 overflow, 1 filter, 2 math, 7-8 function, 9 zero check, 10 zero correct."""
    over = reading(OVERFLOW_VALUE, status="O", function="CHAR")
    assert status_word_6514(over) == 1 + 3 * 128
    checked = reading(ZERO_CHECK_VALUE, status="Z", function="RES", zero_check=True,
                      zero_correct=True, math=True)
    assert status_word_6514(checked) == 4 + 2 * 128 + 512 + 1024
    filtered = reading(filtered=True)
    assert status_word_6514(filtered) == 2 + 128


def test_6514_overflow_reads_padded_value() -> None:
    """§5.2: overflow reads ``+9.900000E+37``."""
    fmt = ReadingFormat6514(elements("READ"))
    assert fmt.format(reading(OVERFLOW_VALUE, status="O")) == "+9.900000E+37"


def test_6514_dump_uses_entry_timestamps() -> None:
    """§5.3: 6514 dumps are triples; TIME follows TRAC:TST:FORM."""
    fmt = ReadingFormat6514(elements("READ", "TIME"))
    text = fmt.format_dump([Entry(reading(1e-9), 0, 0.0), Entry(reading(2e-9), 1, 0.5)])
    assert text == "+1.000000E-09,+0.000000E+00,+2.000000E-09,+5.000000E-01"


# -- §5.4 wrap-around -------------------------------------------------------------------------


def test_timestamps_and_reading_numbers_wrap() -> None:
    """§5.4: timestamps wrap to 0 after 99,999.999999 s; RNUM after +99999."""
    assert wrap_timestamp(100000.5, "6517B") == pytest.approx(0.5)
    assert wrap_timestamp(99999.25, "6514") == 99999.25
    assert wrap_reading_number(99999) == 99999
    assert wrap_reading_number(100000) == 0
    fmt = ReadingFormat6517B(elements("RNUM"))
    assert fmt.format(reading(number=100003)) == "+00003"
    assert ReadingFormat6517B(elements("RNUM"), wrap_numbers=False).format(
        reading(number=100003)) == "+100003"


# -- §4.0 setting replies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "plus", "text"),
    [(1.0, False, "1.000000E+00"), (1.0, True, "+1.000000E+00"), (-2.5e-3, True, "-2.500000E-03"),
     (0.0, False, "0.000000E+00"), (-0.0, False, "0.000000E+00"), (2.1e-11, False, "2.100000E-11"),
     (2100000.0, False, "2.100000E+06"), (999999.999, False, "999999.999")],
)
def test_nr3_has_seven_significant_digits(value: float, plus: bool, text: str) -> None:
    """§4.0: NR3 ``d.ddddddE±XX``, no ``+`` unless ``nr3_plus_sign``; exact fallback."""
    assert format_nr3(value, plus_sign=plus) == text


def test_nr3_falls_back_to_the_shortest_exact_form() -> None:
    """§4.0: text that would not parse back becomes the shortest exact decimal form."""
    text = format_nr3(1.23456789e-9)
    assert text == "1.23456789E-09"
    assert float(text) == 1.23456789e-9


def test_nr3_for_derived_aperture_keeps_seven_digits() -> None:
    """§9.4: aperture 0.1 PLC at 60 Hz reads ``1.666667E-03``."""
    assert format_nr3(0.1 / 60, exact=False) == "1.666667E-03"


def test_nr3_refuses_infinity() -> None:
    """§4.0: an infinite count is not an NR3 value; ``format_count`` handles it."""
    with pytest.raises(ValueError, match="format_count"):
        format_nr3(math.inf)


def test_counts_and_booleans() -> None:
    """§4.0: integers NR1, infinite count ``9.9E37``, booleans ``1``/``0``."""
    assert format_count(100) == "100"
    assert format_count(math.inf) == "9.9E37"
    assert format_count(math.inf, infinite_style="nr3") == "9.900000E+37"
    assert format_nr1(True) == "1"
    assert (format_bool(True), format_bool(False)) == ("1", "0")


@pytest.mark.parametrize(("value", "text"), [(2.0, "2"), (100.0, "100"), (2.5, "2.5"),
                                             (-1000.0, "-1000"), (0.0, "0"), (1e-5, "0.00001")])
def test_vsource_replies_are_plain_integers_when_integral(value: float, text: str) -> None:
    """§4.11, §9.4: integer when integral, otherwise the shortest decimal."""
    assert format_vsource(value) == text
    assert int(float(text)) == int(value)


def test_vsource_nr3_style() -> None:
    """§4.11: alternative ``nr3``."""
    assert format_vsource(2.0, "nr3") == "2.000000E+00"


def test_strings_and_registers() -> None:
    """§4.0 strings in double quotes; §4.8 FORM:SREG HEX/OCT/BIN."""
    assert format_string("VOLT:DC") == '"VOLT:DC"'
    assert format_string('a"b') == '"a""b"'
    assert [format_register(31, s) for s in ("ASC", "HEX", "OCT", "BIN")] == [
        "31", "#H1F", "#Q37", "#B11111"]


def test_element_lists_use_fixed_order_or_none() -> None:
    """§4.0, §4.7: element lists in fixed order without spaces, ``NONE`` when empty."""
    assert format_element_list(DEFAULT_ELEMENTS_6517B, ELEMENT_ORDER_6517B) == (
        "READ,STAT,UNIT,TST,RNUM,CHAN")
    assert format_element_list(["VSO", "TST"], TRACE_ELEMENT_ORDER) == "TST,VSO"
    assert format_element_list([], TRACE_ELEMENT_ORDER) == "NONE"
    with pytest.raises(ValueError, match="CURR"):
        format_element_list(["CURR"], TRACE_ELEMENT_ORDER)
