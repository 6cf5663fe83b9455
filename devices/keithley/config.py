"""Configuration of one emulated Keithley (spec Appendix A, §10 and keys named in §1-§9).

``KeithleyConfig.for_model("6514", speed=0)`` gives a validated, frozen
configuration with the model's defaults; ``KeithleyConfig.from_mapping(data)``
loads TOML/JSON-like data (nested tables or dotted keys such as
``"serial.baud"`` and ``"fidelity.F10"``).  Invalid values raise
``ValueError`` naming the key and the allowed values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from devices.keithley.config_checks import check_choice, check_flag, check_number, check_text
from devices.keithley.fidelity import (
    FIDELITY_ROWS,
    FidelityRow,
    fidelity_key_message,
    normalise_fidelity,
)
from devices.keithley.ranges import FUNCTIONS, MODELS, Model, range_table
from devices.keithley.reading_format import SpecialValueStyle, VsourceFormat
from devices.keithley.signal import DEFAULT_SIGNALS, Environment, SignalError, SignalSpec
from devices.scpi import NumericUpDown

__all__ = ["FIDELITY_ROWS", "FidelityRow", "KeithleyConfig", "SerialSettings"]

#: Identification defaults per model (§2.1).
IDN_DEFAULTS: Mapping[str, tuple[str, str, bool]] = {
    "6517B": ("4114292", "A13/700x", True),
    "6514": ("4691930", "A13   Aug 30 2011 15:09:19/B01  /H", False),
}
#: ``zero_check_reading`` default per model (§7.3, F13).
ZERO_CHECK_READING_DEFAULTS: Mapping[str, str] = {"6517B": "invalid_value", "6514": "no_reply"}
TERMINATORS: Mapping[str, str] = {"CR": "\r", "LF": "\n", "CRLF": "\r\n", "LFCR": "\n\r"}
BAUD_RATES = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600)
#: Items ``mismatch_elements`` may name: the auxiliary data a 6517B buffer stores (§4.7).
TRACE_ELEMENTS = ("TST", "CHAN", "ETEM", "HUM", "VSO")


@dataclass(frozen=True)
class SerialSettings:
    """RS-232 line settings (§8.1); on a pty they only pace ``simulate_line_rate``."""

    baud: int = 9600
    data_bits: int = 8
    parity: str = "none"
    stop_bits: int = 1
    xonxoff: bool = False

    def __post_init__(self) -> None:
        check_choice("serial.baud", self.baud, BAUD_RATES)
        check_choice("serial.data_bits", self.data_bits, (7, 8))
        check_choice("serial.parity", self.parity, ("none", "odd", "even"))
        check_choice("serial.stop_bits", self.stop_bits, (1,))
        check_flag("serial.xonxoff", self.xonxoff)

    @property
    def bits_per_character(self) -> int:
        """Start bit + data bits + parity bit + stop bits (8N1: 10)."""
        return 1 + self.data_bits + (0 if self.parity == "none" else 1) + self.stop_bits


def _frozen_mapping(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


@dataclass(frozen=True)
class KeithleyConfig:
    """Every configuration key of the emulator, validated at construction.

    Prefer ``for_model``: the identification fields and ``zero_check_reading``
    default to the model's values when left empty (``""`` / ``None``).
    ``fidelity`` holds the generic §10 switches; after construction it lists
    every switchable row with its effective value.
    """

    model: Model = "6517B"
    # §2.1 identification ("" = the model's default).
    serial_number: str = ""
    firmware: str = ""
    idn_trailing_space: bool | None = None
    # Appendix A.
    mode: str = "strict"
    speed: float = 1.0
    seed: int = 0
    line_frequency: int = 60
    power_on_state: str = "preset"
    rtc_epoch: datetime = datetime(2024, 1, 1)
    simulate_line_rate: bool = False
    serial: SerialSettings = field(default_factory=SerialSettings)
    signals: Mapping[str, SignalSpec] = field(default_factory=lambda: dict(DEFAULT_SIGNALS))
    environment: Environment = field(default_factory=Environment)
    # §1 framing and output.
    output_terminator: str = "LF"
    dcl_terminator: str = "configured"
    max_message_length: int = 2048
    overrun_error_code: int = -363
    # §3 error queue.
    error_queue_depth: int = 10
    positive_error_plus: bool = False
    buffer_mismatch_code: int = 313
    # §4 commands and replies.
    numeric_up_down: NumericUpDown = "reject"
    zero_check_default: bool = True
    zero_check_reading: str = ""
    range_readback: str = "full_scale"
    nr3_plus_sign: bool = False
    vsource_reply_format: VsourceFormat = "integer_when_integral"
    vsource_alias: bool = True
    configure_resets_function: bool = True
    nplc_limits: tuple[float, float] = (0.01, 10.0)
    nplc_default: float = 1.0
    aperture_on_6514: bool = False
    mismatch_elements: frozenset[str] = frozenset({"ETEM", "HUM", "VSO"})
    empty_buffer_dump: str = "error"
    # §5 reading formats.
    emit_channel: bool = False
    special_value_style: SpecialValueStyle = "short"
    buffer_rnum_suffix: str = "RDNG#"
    # §6 timing.
    conv_factor: float = 3.07
    conv_overhead_s: float = 0.00254
    median_block: bool = False
    settling_table: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    autorange_extra_conversions: int = 1
    query_latency_s: float = 0.001
    reset_duration_s: float = 0.1
    # §10 generic switches, keyed "F1".."F41".
    fidelity: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("model", self.model, MODELS)
        self._resolve_model_defaults()
        self._check_identity()
        self._check_behaviour()
        self._check_timing()
        self._set("signals", _frozen_mapping(_check_signals(self.signals)))
        if not isinstance(self.environment, Environment):
            raise ValueError(f"config environment: expected an Environment, "
                             f"got {self.environment!r}")
        if not isinstance(self.serial, SerialSettings):
            raise ValueError(f"config serial: expected SerialSettings, got {self.serial!r}")
        self._set("fidelity", _frozen_mapping(normalise_fidelity(self.fidelity)))

    # -- construction ---------------------------------------------------------------

    @classmethod
    def for_model(cls, model: str = "6517B", **overrides: Any) -> KeithleyConfig:
        """The configuration of ``model`` ("6517B" or "6514") with ``overrides`` applied."""
        return cls(**{"model": model, **overrides})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> KeithleyConfig:
        """Load from TOML/JSON-like data: nested tables or dotted keys.

        ``serial``, ``environment`` and ``fidelity`` may be tables or dotted keys;
        ``signals`` is a table of ``{kind = ..., <params>}`` per function;
        ``rtc_epoch`` may be an ISO text.  Unknown keys raise ``ValueError``
        listing the known ones.
        """
        nested = _nest(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(nested) - known)
        if unknown:
            raise ValueError(f"unknown config keys {', '.join(unknown)}; "
                             f"known keys: {', '.join(sorted(known))}")
        values = {key: _convert(key, value) for key, value in nested.items()}
        return cls(**values)

    def replace(self, **changes: Any) -> KeithleyConfig:
        """A copy with ``changes`` applied and validated."""
        return dataclasses.replace(self, **changes)

    def to_mapping(self) -> dict[str, Any]:
        """Plain data ``from_mapping`` accepts back (for logs and snapshots)."""
        result: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, SerialSettings | Environment):
                value = dataclasses.asdict(value)
            elif item.name == "signals":
                value = {name: spec.params() for name, spec in value.items()}
            elif item.name == "settling_table":
                value = {name: list(delays) for name, delays in value.items()}
            elif isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            result[item.name] = value
        return result

    # -- derived values ---------------------------------------------------------------

    def idn(self) -> str:
        """The ``*IDN?`` reply (§2.1), including the 6517B's trailing space."""
        text = f"KEITHLEY INSTRUMENTS INC.,MODEL {self.model},{self.serial_number},{self.firmware}"
        return text + (" " if self.idn_trailing_space else "")

    @property
    def terminator(self) -> str:
        """Output terminator characters appended by the transport (§1.9)."""
        return TERMINATORS[self.output_terminator]

    @property
    def dcl_reply_terminator(self) -> str:
        """Terminator characters after the device-clear reply (§8.3, F35)."""
        return "\r\n" if self.dcl_terminator == "CRLF" else self.terminator

    @property
    def dcl_line(self) -> str:
        """The device-clear reply with its terminator (§8.3)."""
        return "DCL" + self.dcl_reply_terminator

    def fidelity_choice(self, row: str) -> str:
        """The effective value of a switchable §10 row (``"F10"`` → ``"error"``)."""
        if row not in self.fidelity:
            raise KeyError(fidelity_key_message(row))
        return self.fidelity[row]

    def fidelity_has(self, row: str, option: str) -> bool:
        """Whether ``option`` is in effect for ``row`` (plain or combinable row)."""
        spec = FIDELITY_ROWS.get(row)
        if spec is None or option not in spec.options:
            allowed = ", ".join(spec.options) if spec else "none"
            raise KeyError(f"{row} has no option {option!r}; options: {allowed}")
        return option in self.fidelity_choice(row).split(",")

    # -- validation ---------------------------------------------------------------------

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _resolve_model_defaults(self) -> None:
        serial_number, firmware, trailing = IDN_DEFAULTS[self.model]
        if self.serial_number == "":
            self._set("serial_number", serial_number)
        if self.firmware == "":
            self._set("firmware", firmware)
        if self.idn_trailing_space is None:
            self._set("idn_trailing_space", trailing)
        if self.zero_check_reading == "":
            self._set("zero_check_reading", ZERO_CHECK_READING_DEFAULTS[self.model])

    def _check_identity(self) -> None:
        check_text("serial_number", self.serial_number, allow_empty=False)
        check_text("firmware", self.firmware, allow_empty=False)
        for key in ("serial_number", "firmware"):
            if any(char in getattr(self, key) for char in ',;"'):
                raise ValueError(f"config {key}: must not contain ',', ';' or '\"'")
        check_flag("idn_trailing_space", self.idn_trailing_space)

    def _check_behaviour(self) -> None:
        check_choice("mode", self.mode, ("strict", "lenient"))
        check_choice("power_on_state", self.power_on_state, ("preset", "rst"))
        check_choice("output_terminator", self.output_terminator, tuple(TERMINATORS))
        check_choice("dcl_terminator", self.dcl_terminator, ("configured", "CRLF"))
        check_number("max_message_length", self.max_message_length, 1, integer=True)
        check_choice("overrun_error_code", self.overrun_error_code, (-363, -223))
        check_number("error_queue_depth", self.error_queue_depth, 1, integer=True)
        check_choice("buffer_mismatch_code", self.buffer_mismatch_code, (313, 320))
        check_choice("numeric_up_down", self.numeric_up_down, ("reject", "accept"))
        check_choice("zero_check_reading", self.zero_check_reading,
                ("invalid_value", "no_reply", "live"))
        check_choice("range_readback", self.range_readback, ("full_scale", "as_set"))
        check_choice("vsource_reply_format", self.vsource_reply_format,
                ("integer_when_integral", "nr3"))
        check_choice("empty_buffer_dump", self.empty_buffer_dump, ("error", "empty"))
        check_choice("special_value_style", self.special_value_style, ("short", "padded"))
        for key in ("simulate_line_rate", "positive_error_plus", "zero_check_default",
                    "nr3_plus_sign", "vsource_alias", "configure_resets_function",
                    "aperture_on_6514", "emit_channel", "median_block"):
            check_flag(key, getattr(self, key))
        check_text("buffer_rnum_suffix", self.buffer_rnum_suffix)
        if any(char in self.buffer_rnum_suffix for char in ",;\"'0123456789+-.eE"):
            raise ValueError("config buffer_rnum_suffix: must not contain digits, signs, "
                             "'.', 'e', quotes, ',' or ';'")
        elements = frozenset(self.mismatch_elements)
        if not elements <= set(TRACE_ELEMENTS):
            raise ValueError(f"config mismatch_elements: {sorted(elements)} is not a subset of "
                             f"{', '.join(TRACE_ELEMENTS)}")
        self._set("mismatch_elements", elements)
        check_number("seed", self.seed, integer=True)
        if not isinstance(self.rtc_epoch, datetime):
            raise ValueError(f"config rtc_epoch: expected a date-time such as "
                             f"2024-01-01T00:00:00, got {self.rtc_epoch!r}")

    def _check_timing(self) -> None:
        check_number("speed", self.speed, 0)
        check_choice("line_frequency", self.line_frequency, (50, 60))
        check_number("conv_factor", self.conv_factor, 0, above=True)
        check_number("conv_overhead_s", self.conv_overhead_s, 0)
        check_number("autorange_extra_conversions", self.autorange_extra_conversions, 0,
                integer=True)
        check_number("query_latency_s", self.query_latency_s, 0)
        check_number("reset_duration_s", self.reset_duration_s, 0)
        limits = tuple(self.nplc_limits)
        if len(limits) != 2:
            raise ValueError(f"config nplc_limits: expected [minimum, maximum], got {limits!r}")
        check_number("nplc_limits", limits[0], 0, above=True)
        check_number("nplc_limits", limits[1], 0, above=True)
        if limits[0] >= limits[1]:
            raise ValueError(f"config nplc_limits: minimum must be below maximum, got {limits!r}")
        self._set("nplc_limits", (float(limits[0]), float(limits[1])))
        check_number("nplc_default", self.nplc_default, 0, above=True)
        if not limits[0] <= self.nplc_default <= limits[1]:
            raise ValueError(f"config nplc_default: {self.nplc_default!r} is outside "
                             f"nplc_limits {limits!r}")
        self._set("settling_table", _frozen_mapping(self._checked_settling()))

    def _checked_settling(self) -> dict[str, tuple[float, ...]]:
        result: dict[str, tuple[float, ...]] = {}
        for function, delays in dict(self.settling_table).items():
            if function not in FUNCTIONS:
                raise ValueError(f"config settling_table: unknown function {function!r}; "
                                 f"expected one of {', '.join(FUNCTIONS)}")
            table = range_table(self.model, function)
            values = tuple(delays)
            if len(values) != len(table.ranges):
                raise ValueError(
                    f"config settling_table.{function}: {self.model} has "
                    f"{len(table.ranges)} {function} ranges, got {len(values)} delays")
            for value in values:
                check_number(f"settling_table.{function}", value, 0)
            result[function] = tuple(float(value) for value in values)
        return result


def _check_signals(signals: Mapping[str, SignalSpec]) -> dict[str, SignalSpec]:
    result = dict(DEFAULT_SIGNALS)
    for function, spec in dict(signals).items():
        if function not in FUNCTIONS:
            raise ValueError(f"config signals: unknown function {function!r}; "
                             f"expected one of {', '.join(FUNCTIONS)}")
        if not isinstance(spec, SignalSpec):
            raise ValueError(f"config signals.{function}: expected a SignalSpec, got {spec!r}")
        result[function] = spec
    return result


_NESTED_TABLES = ("serial", "environment", "fidelity", "signals", "settling_table")


def _nest(data: Mapping[str, Any]) -> dict[str, Any]:
    """Fold dotted keys (``serial.baud``) into nested tables."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise ValueError(f"config keys must be texts, got {key!r}")
        head, dot, rest = key.partition(".")
        if not dot:
            if head in _NESTED_TABLES and isinstance(value, Mapping):
                result.setdefault(head, {}).update(value)
            else:
                result[head] = value
            continue
        if head not in _NESTED_TABLES:
            raise ValueError(f"unknown config key {key!r}; dotted keys are allowed under "
                             f"{', '.join(_NESTED_TABLES)}")
        result.setdefault(head, {})[rest] = value
    return result


def _convert(key: str, value: Any) -> Any:
    """Turn plain data for ``key`` into the type the dataclass field wants."""
    try:
        if key == "serial":
            return SerialSettings(**dict(value))
        if key == "environment":
            return Environment(**dict(value))
        if key == "signals":
            return {name: _signal_from_data(name, spec) for name, spec in dict(value).items()}
        if key == "rtc_epoch" and isinstance(value, str):
            return datetime.fromisoformat(value)
        if key in ("nplc_limits",):
            return tuple(value)
        if key == "mismatch_elements":
            return frozenset(str(item).upper() for item in value)
        if key == "settling_table":
            return {name: tuple(delays) for name, delays in dict(value).items()}
    except TypeError as error:
        raise ValueError(f"config {key}: {error}") from None
    except ValueError as error:
        raise ValueError(f"config {key}: {error}") from None
    return value


def _signal_from_data(function: str, data: Any) -> SignalSpec:
    if isinstance(data, SignalSpec):
        return data
    params = dict(data)
    kind = params.pop("kind", None)
    if kind is None:
        raise ValueError(f"signals.{function} needs a 'kind' (constant, noise, ramp, list)")
    try:
        return SignalSpec.from_params(kind, **params)
    except SignalError as error:
        raise ValueError(f"signals.{function}: {error}") from None
