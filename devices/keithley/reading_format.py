"""ASCII reply formats: setting values (§4.0) and readings (§5).

Everything here is a pure function of its arguments and returns the exact
reply text, without terminator.  Readings are ``devices.keithley.reading.Reading``
objects; element names are the upper-case short forms (``READ``, ``TST`` ...).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from devices.keithley.ranges import Range
from devices.keithley.reading import (
    NO_HUMIDITY,
    NO_TEMPERATURE,
    OVERFLOW_VALUE,
    ZERO_CHECK_VALUE,
    Reading,
)
from devices.scpi.formatting import format_nr1

SpecialValueStyle = Literal["short", "padded"]
TimestampType = Literal["REL", "RTC"]
InfiniteStyle = Literal["short", "nr3"]
VsourceFormat = Literal["integer_when_integral", "nr3"]

#: Text of an infinite count in a setting reply (§4.0, F15 default).
INFINITE_COUNT_TEXT = "9.9E37"
#: Literal special values of §5.1 (``special_value_style = short``).
SHORT_SPECIAL_TEXT = {OVERFLOW_VALUE: "+9.9E37", ZERO_CHECK_VALUE: "+9.91E37", 0.0: "0.00E00"}
#: Relative timestamps wrap to 0 at these values (§5.4).
TIMESTAMP_WRAP = {"6517B": 100000.0, "6514": 100000.0}
#: The 6517B reading number wraps to 0 after +99999 (§5.4, F30).
READING_NUMBER_WRAP = 100000
#: Unit suffix of the READ element per function (§5.1).
UNITS = {"VOLT": "VDC", "CURR": "ADC", "RES": "OHM", "CHAR": "COUL"}
#: 6514 status-word function code, bits 7-8 (§5.2).
FUNCTION_CODE_6514 = {"VOLT": 0, "CURR": 1, "RES": 2, "CHAR": 3}

#: Order of ``FORM:ELEM?`` replies; transmitted fields follow §5.1 (STAT/UNIT decorate READ).
ELEMENT_ORDER_6517B = ("READ", "STAT", "UNIT", "TST", "RNUM", "CHAN", "ETEM", "HUM", "VSO")
ELEMENT_ORDER_6514 = ("READ", "TIME", "STAT")
#: Items ``:TRACe:ELEMents`` accepts, in their fixed query order (§4.7).
TRACE_ELEMENT_ORDER = ("TST", "CHAN", "ETEM", "HUM", "VSO")
#: *RST ``FORM:ELEM`` (§4.8): all 6517B elements except ETEM, HUM, VSO; all three on the 6514.
DEFAULT_ELEMENTS_6517B = frozenset({"READ", "CHAN", "RNUM", "UNIT", "TST", "STAT"})
DEFAULT_ELEMENTS_6514 = frozenset(ELEMENT_ORDER_6514)

#: Status letters whose reading is printed as a special value (§5.1).
_SPECIAL_BY_STATUS = {"Z": ZERO_CHECK_VALUE, "O": OVERFLOW_VALUE, "L": OVERFLOW_VALUE, "U": 0.0}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# -- setting replies (§4.0) -----------------------------------------------------------


def format_nr3(value: float, *, plus_sign: bool = False, exact: bool = True) -> str:
    """A real setting reply: seven significant digits, ``d.ddddddE±XX``.

    ``plus_sign`` (config ``nr3_plus_sign``) prefixes non-negative values with
    ``+``.  With ``exact`` (default), a value the seven-digit text would not
    reproduce is sent in its shortest exact form instead (``1.23456789E-09``);
    pass ``exact=False`` for derived values such as the aperture, which §9.4
    wants as ``1.666667E-03``.  Raises ``ValueError`` for NaN or infinity.
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot format {value!r} as NR3; use format_count for INF")
    value = float(value) + 0.0  # turn -0.0 into 0.0
    text = f"{value:.6E}"
    if exact and float(text) != value:
        text = repr(value).upper()
    if plus_sign and not text.startswith("-"):
        text = "+" + text
    return text


def format_count(count: float, *, infinite_style: InfiniteStyle = "short",
                 plus_sign: bool = False) -> str:
    """A count reply: NR1, or for ``INF`` ``9.9E37`` (F15 ``short``) or NR3 (``nr3``)."""
    if math.isinf(count):
        if infinite_style == "short":
            return INFINITE_COUNT_TEXT
        return format_nr3(9.9e37, plus_sign=plus_sign)
    return format_nr1(round(count))


def format_decimal(value: float) -> str:
    """Shortest plain decimal, no exponent: ``2.5``, ``0.00001``, ``100.0`` stays ``100``."""
    value = float(value) + 0.0
    if value.is_integer():
        return str(int(value))
    text = format(Decimal(repr(value)), "f")
    return text


def format_vsource(value: float,
                   style: VsourceFormat = "integer_when_integral",
                   *, plus_sign: bool = False) -> str:
    """A 6517B V-source reply (§4.11): ``2``, ``100``, ``2.5``; or NR3 with ``style='nr3'``."""
    if style == "nr3":
        return format_nr3(value, plus_sign=plus_sign)
    return format_decimal(value)


def format_register(value: int, style: str = "ASC") -> str:
    """A status register value per 6514 ``FORM:SREG``: ``31``, ``#H1F``, ``#Q37``, ``#B11111``."""
    if style.startswith("HEX"):
        return f"#H{value:X}"
    if style.startswith("OCT"):
        return f"#Q{value:o}"
    if style.startswith("BIN"):
        return f"#B{value:b}"
    return str(value)


def format_element_list(elements: Iterable[str], order: Sequence[str]) -> str:
    """An element-list reply in fixed ``order`` without spaces, or ``NONE`` when empty."""
    chosen = set(elements)
    unknown = chosen - set(order)
    if unknown:
        raise ValueError(f"unknown elements {sorted(unknown)}; allowed: {', '.join(order)}")
    present = [name for name in order if name in chosen]
    return ",".join(present) if present else "NONE"


# -- §5.4 wrap-around -------------------------------------------------------------------


def wrap_timestamp(seconds: float, model: str) -> float:
    """A relative timestamp after wrap-around to 0 (§5.4): 100000.0 → 0.0."""
    return math.fmod(seconds, TIMESTAMP_WRAP[model])


def wrap_reading_number(number: int) -> int:
    """A 6517B reading number after wrap-around: +99999 is followed by 0 (§5.4)."""
    return number % READING_NUMBER_WRAP


# -- 6517B readings (§5.1) -----------------------------------------------------------------


def format_mantissa(value: float, rng: Range, digits: int) -> str:
    """The 6517B number of a reading on range ``rng`` at ``DIG digits`` (§5.1).

    k integer digits (1, 2, 3 for 2, 20, 200 x 10^E), ``digits - k`` decimals,
    left-padded with zeros to seven digit characters, explicit sign,
    engineering exponent: 200 pA, DIG 7, 198.4891e-12 → ``+198.4891E-12``.
    """
    spec, divisor, suffix = _mantissa_layout(rng.integer_digits, rng.exponent, digits)
    body = format(abs(value) / divisor, spec)
    body = body.zfill(8 if "." in body else 7)  # seven digit characters
    return ("-" if value < 0 else "+") + body + suffix


@functools.lru_cache(maxsize=256)
def _mantissa_layout(integer_digits: int, exponent: int, digits: int) -> tuple[str, float, str]:
    """(format spec of the digits, 10^E, exponent suffix) of a range at ``DIG digits``."""
    decimals = max(digits - integer_digits, 0)
    return f".{decimals}f", 10.0 ** exponent, f"E{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


@functools.lru_cache(maxsize=256)
def _reading_layout(function: str, nominal: float, digits: int) -> tuple[str, float, str]:
    """``_mantissa_layout`` of a reading's range, in one cached look-up, as a %-format."""
    rng = _mantissa_range(function, nominal)
    spec, divisor, suffix = _mantissa_layout(rng.integer_digits, rng.exponent, digits)
    return "%" + spec, divisor, suffix


#: Elements ``ReadingFormat6517B.format`` prints with a template.
_TEMPLATE_ELEMENTS = frozenset({"READ", "TST", "RNUM", "CHAN", "UNIT", "STAT"})


#: A %-format pattern (READ text, status letter, unit, then the timestamp and the reading
#: number where shown) and whether STAT, UNIT, TST and RNUM are shown.
_Template = tuple[str, bool, bool, bool, bool]


def _template_6517b(fmt: ReadingFormat6517B) -> _Template | None:
    """The template of ``fmt.format``, or None when an element needs more than it holds."""
    elements = fmt.elements
    if "READ" not in elements or not elements <= _TEMPLATE_ELEMENTS \
            or (fmt.timestamp_type == "RTC" and "TST" in elements):
        return None
    units = "UNIT" in elements
    fields = ["%s%s%s"]  # READ text, status letter (or ""), unit (or "")
    if "TST" in elements:
        fields.append("%+015.6f" + ("secs" if units else ""))
    if "RNUM" in elements:
        fields.append("%+06d" + ("RDNG#" if units else ""))
    if "CHAN" in elements and fmt.emit_channel:
        fields.append("000" + ("intchan" if units else ""))
    return (",".join(fields), "STAT" in elements, units, "TST" in elements,
            "RNUM" in elements)


#: Compiled patterns a formatter keeps (one per function, range and digits seen).
_COMPILED_LIMIT = 256


def _compile(template: _Template, function: str, nominal: float,
             digits: int) -> tuple[str, float]:
    """(pattern, divisor): ``template`` with the number layout of a reading filled in.

    The pattern takes the sign, the magnitude over the divisor, the status letter (or
    ``""``), then the timestamp and the reading number where the template shows them.
    ``"%08.4f"`` pads as ``body.zfill(8)`` of ``format_mantissa`` does.
    """
    pattern, _, show_unit, _, _ = template
    spec, divisor, suffix = _reading_layout(function, nominal, digits)
    width = 8 if (spec % 0.0).count(".") else 7  # seven digit characters
    number = "%0" + str(width) + spec[1:]
    unit = UNITS[function] if show_unit else ""
    head = "%s" + number + suffix.replace("%", "%%") + "%s" + unit.replace("%", "%%")
    return head + pattern[len("%s%s%s"):], divisor


@functools.lru_cache(maxsize=256)
def _mantissa_range(function: str, nominal: float) -> Range:
    """A ``Range`` for its exponent and integer digits; built once, not per reading."""
    return Range(function, nominal, 0.0)


def format_special(value: float, style: SpecialValueStyle = "short") -> str:
    """A special reading value (§5.1): ``+9.9E37``, ``+9.91E37``, ``0.00E00``; or padded."""
    if style == "short":
        return SHORT_SPECIAL_TEXT[value]
    return f"{value:+.6E}"


def _sentinel_or(value: float, sentinel: float, width: int, decimals: int) -> str:
    if value == sentinel:
        # Truncate so the sentinel keeps the element's width (9999.99 → +9999.9).
        scale = 10 ** decimals
        value = math.floor(value * scale) / scale
    return f"{value:+0{width}.{decimals}f}"


def _celsius_to(unit: str, celsius: float) -> float:
    if unit.startswith("F"):
        return celsius * 9.0 / 5.0 + 32.0
    if unit.startswith("K"):
        return celsius + 273.15
    return celsius


def format_rtc(moment: datetime) -> str:
    """A real-time-clock TST element: ``09:00:20.00,26-Mar-2015`` (two comma fields)."""
    centis = moment.microsecond // 10000
    return (f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{centis:02d},"
            f"{moment.day:02d}-{_MONTHS[moment.month - 1]}-{moment.year:04d}")


class DumpEntry(Protocol):
    """A stored reading as a buffer dump reports it (position and ABS/DELT timestamp)."""

    @property
    def reading(self) -> Reading: ...

    @property
    def number(self) -> int: ...

    @property
    def timestamp(self) -> float: ...


@dataclass(frozen=True)
class ReadingFormat6517B:
    """How the 6517B prints readings, given ``FORM:ELEM`` and the configuration.

    ``elements``: chosen ``FORM:ELEM`` short names.  ``special_value_style``,
    ``emit_channel``, ``buffer_rnum_suffix`` and ``wrap_numbers`` come from the
    configuration (F27, F26, F28, F30); ``temperature_unit`` (``:UNIT:TEMP``)
    and ``timestamp_type`` (``:SYST:TST:TYPE``) from the instrument state.
    ``rtc`` maps a device time to the real-time clock (needed for ``RTC``).
    """

    elements: frozenset[str] = DEFAULT_ELEMENTS_6517B
    special_value_style: SpecialValueStyle = "short"
    emit_channel: bool = False
    temperature_unit: str = "C"
    timestamp_type: TimestampType = "REL"
    buffer_rnum_suffix: str = "RDNG#"
    wrap_numbers: bool = True
    rtc: Callable[[float], datetime] | None = None
    #: ``format``'s one-call template for the common elements (None: field by field).
    template: _Template | None = field(init=False, repr=False, compare=False, default=None)
    #: The template with the number layout of one (function, range, digits) filled in.
    _compiled: dict[tuple[str, float, int], tuple[str, float]] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "template", _template_6517b(self))

    @property
    def reading_only(self) -> bool:
        """Whether ``format`` depends on the reading alone (not on the real-time clock)."""
        return self.timestamp_type != "RTC" or "TST" not in self.elements

    def format(self, reading: Reading) -> str:
        """One reading as ``READ?``/``FETCh?``/``DATA?`` send it: ``+001.0012E-12NADC,…``."""
        template = self.template
        if template is None:
            return ",".join(self._fields(reading, reading.timestamp, reading.number, "RDNG#",
                                         False))
        # Every reading at speed 0 is printed: one %-format per reading.
        status = reading.status
        special = _SPECIAL_BY_STATUS.get(status)
        if special is not None:
            return self._format_special(reading, template, special)
        key = (reading.function, reading.range_nominal, reading.digits)
        compiled = self._compiled.get(key)
        if compiled is None:
            if len(self._compiled) >= _COMPILED_LIMIT:
                self._compiled.clear()
            compiled = self._compiled[key] = _compile(template, *key)
        pattern, divisor = compiled
        _, show_status, _, show_time, show_number = template
        value = reading.value
        sign = "-" if value < 0 else "+"
        if not show_status:
            status = ""
        if not show_number:
            if show_time:
                return pattern % (sign, abs(value) / divisor, status, reading.timestamp)
            return pattern % (sign, abs(value) / divisor, status)
        number = reading.number
        if self.wrap_numbers and number >= 0:
            number %= READING_NUMBER_WRAP
        if show_time:
            return pattern % (sign, abs(value) / divisor, status, reading.timestamp, number)
        return pattern % (sign, abs(value) / divisor, status, number)

    def _format_special(self, reading: Reading, template: _Template, special: float) -> str:
        """``format`` of a reading whose value prints as a special value (§5.1)."""
        pattern, show_status, show_unit, show_time, show_number = template
        text = format_special(special, self.special_value_style)
        status = reading.status if show_status else ""
        unit = UNITS[reading.function] if show_unit else ""
        if not show_number:
            if show_time:
                return pattern % (text, status, unit, reading.timestamp)
            return pattern % (text, status, unit)
        number = reading.number
        if self.wrap_numbers and number >= 0:
            number %= READING_NUMBER_WRAP
        if show_time:
            return pattern % (text, status, unit, reading.timestamp, number)
        return pattern % (text, status, unit, number)

    def format_many(self, readings: Iterable[Reading]) -> str:
        """Several readings on one line, joined with ``,`` (§5.3)."""
        return ",".join(self.format(reading) for reading in readings)

    def format_dump(self, entries: Iterable[DumpEntry]) -> str:
        """A ``TRAC:DATA?`` reply: TST from the entry (ABS/DELT), RNUM = buffer position."""
        groups = (
            ",".join(self._fields(e.reading, e.timestamp, e.number, self.buffer_rnum_suffix, True))
            for e in entries
        )
        return ",".join(groups)

    def reading_text(self, reading: Reading) -> str:
        """The READ field alone, with status letter and unit per the elements."""
        special = _SPECIAL_BY_STATUS.get(reading.status)
        if special is not None:
            text = format_special(special, self.special_value_style)
        else:
            rng = _mantissa_range(reading.function, reading.range_nominal)
            text = format_mantissa(reading.value, rng, reading.digits)
        if "STAT" in self.elements:
            text += reading.status
        if "UNIT" in self.elements:
            text += UNITS[reading.function]
        return text

    def _fields(self, reading: Reading, timestamp: float, number: int, rnum_suffix: str,
                in_buffer: bool) -> list[str]:
        units = "UNIT" in self.elements
        fields: list[str] = []
        if "READ" in self.elements:
            fields.append(self.reading_text(reading))
        if "TST" in self.elements:
            fields.append(self._timestamp(reading, timestamp, units, in_buffer))
        if "RNUM" in self.elements:
            shown = wrap_reading_number(number) if self.wrap_numbers and number >= 0 else number
            fields.append(f"{shown:+06d}" + (rnum_suffix if units else ""))
        if "CHAN" in self.elements and self.emit_channel:
            fields.append("000" + ("intchan" if units else ""))
        if "ETEM" in self.elements:
            fields.append(self._temperature(reading.temperature, units))
        if "HUM" in self.elements:
            fields.append(_sentinel_or(reading.humidity, NO_HUMIDITY, 6, 1)
                          + ("hum" if units else ""))
        if "VSO" in self.elements:
            fields.append(f"{reading.vsource:+09.3f}" + ("Vsrc" if units else ""))
        return fields

    def _timestamp(self, reading: Reading, timestamp: float, units: bool,
                   in_buffer: bool) -> str:
        if self.timestamp_type == "RTC" and not in_buffer:
            if self.rtc is None:
                raise ValueError("timestamp_type RTC needs an rtc function")
            return format_rtc(self.rtc(reading.time))
        return f"{timestamp:+015.6f}" + ("secs" if units else "")

    def _temperature(self, celsius: float, units: bool) -> str:
        unit = self.temperature_unit[0].upper()
        value = celsius if celsius == NO_TEMPERATURE else _celsius_to(unit, celsius)
        text = _sentinel_or(value, NO_TEMPERATURE, 7, 1)
        return text + (unit + "exttemp" if units else "")


# -- 6514 readings (§5.2) ------------------------------------------------------------------


def status_word_6514(reading: Reading) -> int:
    """The 6514 STAT element value (§5.2).

    Bit 0 overflow, 1 filter, 2 math, 3 REL, 7-8 function code, 9 zero check,
    10 zero correct.  ``reading.filtered`` is the filter bit as the pipeline set
    it (F29 decides whether the median filter alone sets it).
    """
    word = 1 if reading.status == "O" else 0
    if reading.filtered:
        word |= 1 << 1
    if reading.math:
        word |= 1 << 2
    if reading.relative:
        word |= 1 << 3
    word |= FUNCTION_CODE_6514[reading.function] << 7
    if reading.zero_check:
        word |= 1 << 9
    if reading.zero_correct:
        word |= 1 << 10
    return word


def format_sci7(value: float) -> str:
    """A 6514 field: signed, seven significant digits, ``+1.252302E+04``."""
    return f"{float(value) + 0.0:+.6E}"


@dataclass(frozen=True)
class ReadingFormat6514:
    """How the 6514 prints readings: READ, TIME, STAT as signed 7-digit numbers, no units."""

    elements: frozenset[str] = DEFAULT_ELEMENTS_6514
    #: F29 alternative: an overflow READ prints the short literal ``+9.9E37``.
    short_overflow: bool = False

    @property
    def reading_only(self) -> bool:
        """Whether ``format`` depends on the reading alone: always."""
        return True

    def format(self, reading: Reading) -> str:
        """One reading: ``-7.334216E-06,+1.252302E+04,+0.000000E+00`` (§5.2)."""
        return ",".join(self._fields(reading, reading.timestamp))

    def format_many(self, readings: Iterable[Reading]) -> str:
        """Several readings joined with ``,`` on one line (§5.3)."""
        return ",".join(self.format(reading) for reading in readings)

    def format_dump(self, entries: Iterable[DumpEntry]) -> str:
        """A ``TRAC:DATA?`` reply: the triples with TIME from the entry (ABS/DELT)."""
        return ",".join(",".join(self._fields(e.reading, e.timestamp)) for e in entries)

    def _fields(self, reading: Reading, timestamp: float) -> list[str]:
        fields: list[str] = []
        if "READ" in self.elements:
            # Overflow and zero-check values are the literal 9.9E37 / 9.91E37.
            overflow = self.short_overflow and reading.status == "O"
            fields.append(SHORT_SPECIAL_TEXT[OVERFLOW_VALUE] if overflow
                          else format_sci7(reading.value))
        if "TIME" in self.elements:
            fields.append(format_sci7(timestamp))
        if "STAT" in self.elements:
            fields.append(format_sci7(status_word_6514(reading)))
        return fields
