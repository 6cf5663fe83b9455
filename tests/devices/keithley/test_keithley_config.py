"""Configuration keys, defaults and validation (spec Appendix A, §10 and keys in §1-§9)."""

from __future__ import annotations

from datetime import datetime

import pytest

from devices.keithley.config import KeithleyConfig, SerialSettings
from devices.keithley.fidelity import FIDELITY_ROWS
from devices.keithley.signal import DEFAULT_SIGNALS, Environment, SignalSpec


def test_appendix_a_defaults() -> None:
    """Appendix A: model, mode, speed, seed, line frequency, power-on, RTC epoch, serial."""
    config = KeithleyConfig()
    assert (config.model, config.mode, config.speed, config.seed) == ("6517B", "strict", 1.0, 0)
    assert (config.line_frequency, config.power_on_state) == (60, "preset")
    assert config.rtc_epoch == datetime(2024, 1, 1, 0, 0, 0)
    assert config.simulate_line_rate is False
    assert config.serial == SerialSettings(9600, 8, "none", 1, False)
    assert config.environment == Environment(23.0, 45.0, True, True)
    assert dict(config.signals) == dict(DEFAULT_SIGNALS)


def test_keys_named_elsewhere_have_the_spec_defaults() -> None:
    """§1.3, §1.9, §3, §4, §5, §6 defaults of the dedicated keys."""
    config = KeithleyConfig()
    assert (config.max_message_length, config.overrun_error_code) == (2048, -363)
    assert (config.output_terminator, config.dcl_terminator) == ("LF", "configured")
    assert (config.error_queue_depth, config.positive_error_plus) == (10, False)
    assert config.buffer_mismatch_code == 313
    assert (config.numeric_up_down, config.zero_check_default) == ("reject", True)
    assert (config.range_readback, config.nr3_plus_sign) == ("full_scale", False)
    assert (config.vsource_reply_format, config.vsource_alias) == ("integer_when_integral", True)
    assert config.configure_resets_function is True
    assert (config.nplc_limits, config.nplc_default, config.aperture_on_6514) == (
        (0.01, 10.0), 1.0, False)
    assert config.mismatch_elements == frozenset({"ETEM", "HUM", "VSO"})
    assert (config.empty_buffer_dump, config.emit_channel) == ("error", False)
    assert (config.special_value_style, config.buffer_rnum_suffix) == ("short", "RDNG#")
    assert (config.conv_factor, config.conv_overhead_s, config.median_block) == (
        3.07, 0.00254, False)
    assert (config.autorange_extra_conversions, dict(config.settling_table)) == (1, {})
    assert (config.query_latency_s, config.reset_duration_s) == (0.001, 0.1)


def test_6517b_identification_has_a_trailing_space() -> None:
    """§2.1: default 6517B ``*IDN?`` reply, with the trailing space."""
    config = KeithleyConfig.for_model("6517B")
    assert config.idn() == "KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x "
    assert config.zero_check_reading == "invalid_value"


def test_6514_defaults_differ_where_the_spec_says() -> None:
    """§2.1, §7.3: 6514 identification (runs of spaces kept) and ``no_reply`` zero check."""
    config = KeithleyConfig.for_model("6514")
    assert config.idn() == (
        "KEITHLEY INSTRUMENTS INC.,MODEL 6514,4691930,A13   Aug 30 2011 15:09:19/B01  /H")
    assert config.idn_trailing_space is False
    assert config.zero_check_reading == "no_reply"


def test_overrides_win_over_model_defaults() -> None:
    """Appendix A: every key can be set; model defaults apply only to unset keys."""
    config = KeithleyConfig.for_model("6514", zero_check_reading="live", serial_number="1",
                                      idn_trailing_space=True, speed=0)
    assert config.idn() == ("KEITHLEY INSTRUMENTS INC.,MODEL 6514,1,"
                            "A13   Aug 30 2011 15:09:19/B01  /H ")
    assert (config.zero_check_reading, config.speed) == ("live", 0)


def test_terminators() -> None:
    """§1.9, §8.3: output terminator characters and the DCL line."""
    assert KeithleyConfig(output_terminator="CR").terminator == "\r"
    assert KeithleyConfig(output_terminator="LFCR").terminator == "\n\r"
    assert KeithleyConfig(output_terminator="CR").dcl_line == "DCL\r"
    assert KeithleyConfig(output_terminator="CR", dcl_terminator="CRLF").dcl_line == "DCL\r\n"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("model", "2000", "model: '2000' is not allowed; expected one of '6517B', '6514'"),
        ("output_terminator", "CRCR", "'CR', 'LF', 'CRLF', 'LFCR'"),
        ("mode", "loose", "'strict', 'lenient'"),
        ("line_frequency", 55, "line_frequency: 55 is not allowed; expected one of 50, 60"),
        ("overrun_error_code", -350, "-363, -223"),
        ("buffer_mismatch_code", 314, "313, 320"),
        ("zero_check_reading", "none", "'invalid_value', 'no_reply', 'live'"),
        ("range_readback", "exact", "'full_scale', 'as_set'"),
        ("speed", -1, "speed: expected a value >= 0"),
        ("speed", True, "speed: expected a number"),
        ("max_message_length", 0, "max_message_length: expected a value >= 1"),
        ("error_queue_depth", 2.5, "error_queue_depth: expected an integer"),
        ("conv_factor", 0, "conv_factor: expected a value > 0"),
        ("zero_check_default", "yes", "zero_check_default: expected true or false"),
        ("nplc_limits", (1.0, 0.5), "nplc_limits: minimum must be below maximum"),
        ("nplc_default", 20.0, "nplc_default: 20.0 is outside nplc_limits"),
        ("mismatch_elements", frozenset({"CURR"}), "TST, CHAN, ETEM, HUM, VSO"),
        ("buffer_rnum_suffix", "RDNG,", "buffer_rnum_suffix: must not contain"),
        ("serial_number", "12,3", "serial_number: must not contain"),
        ("rtc_epoch", "2024", "rtc_epoch: expected a date-time"),
    ],
)
def test_invalid_values_name_the_key_and_the_allowed_values(key: str, value: object,
                                                           message: str) -> None:
    """Validation: ``ValueError`` naming the key and what is allowed."""
    with pytest.raises(ValueError) as raised:
        KeithleyConfig(**{key: value})  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_serial_settings_are_validated() -> None:
    """§8.1: baud from the documented set, 7/8 data bits, parity none/odd/even, 1 stop bit."""
    with pytest.raises(ValueError, match=r"serial\.baud: 115200 is not allowed"):
        SerialSettings(baud=115200)
    with pytest.raises(ValueError, match=r"serial\.parity"):
        SerialSettings(parity="mark")
    assert SerialSettings(data_bits=7, parity="even").bits_per_character == 10
    assert SerialSettings().bits_per_character == 10


def test_settling_table_needs_one_delay_per_range() -> None:
    """§6.3, F33: ``settling_table`` lists one delay per range of the model."""
    config = KeithleyConfig(settling_table={"VOLT": (0.1, 0.2, 0.3)})
    assert config.settling_table["VOLT"] == (0.1, 0.2, 0.3)
    with pytest.raises(ValueError, match="6517B has 10 CURR ranges, got 2 delays"):
        KeithleyConfig(settling_table={"CURR": (1.0, 2.0)})
    with pytest.raises(ValueError, match="unknown function 'TEMP'"):
        KeithleyConfig(settling_table={"TEMP": (1.0,)})


# -- §10 fidelity map -----------------------------------------------------------------------


def test_fidelity_rows_cover_f1_to_f41() -> None:
    """§10: one row per F1 … F41."""
    assert list(FIDELITY_ROWS) == [f"F{number}" for number in range(1, 42)]


def test_fidelity_defaults_are_filled_in() -> None:
    """§10: every switchable row has its emulator default."""
    fidelity = KeithleyConfig().fidelity
    assert fidelity["F10"] == "error"
    assert fidelity["F7"] == "discard"
    assert fidelity["F15"] == "short"
    assert fidelity["F24"] == "default"
    assert "F12" not in fidelity  # answered by zero_check_default


def test_fidelity_switch_from_the_spec_example() -> None:
    """§10: ``fidelity.F10 = "silent"``."""
    config = KeithleyConfig.from_mapping({"fidelity.F10": "silent"})
    assert config.fidelity_choice("F10") == "silent"
    assert config.fidelity_has("F10", "silent")
    assert not config.fidelity_has("F10", "error")


def test_combinable_fidelity_rows_take_several_options() -> None:
    """§10: rows bundling several questions take a comma-separated set of options."""
    config = KeithleyConfig(fidelity={"F24": "points_keeps_buffer, next_keeps_feed"})
    assert config.fidelity["F24"] == "next_keeps_feed,points_keeps_buffer"
    assert config.fidelity_has("F24", "next_keeps_feed")
    assert not config.fidelity_has("F24", "clear_while_storing_error")
    assert KeithleyConfig().fidelity_has("F24", "default")


@pytest.mark.parametrize(
    ("fidelity", "message"),
    [
        ({"F12": "off"}, "fidelity.F12 is not switchable here; use the config key(s) "
                         "zero_check_default"),
        ({"F42": "x"}, "unknown fidelity row 'F42'; switchable rows: F1, F4"),
        ({"F10": "quiet"}, "fidelity.F10: 'quiet' is not allowed; expected one of 'error', "
                           "'silent'"),
        ({"F24": "default,next_keeps_feed"}, "'default' cannot be combined"),
        ({"F7": "discard,continue"}, "fidelity.F7: 'discard,continue' is not allowed"),
    ],
)
def test_bad_fidelity_entries_are_explained(fidelity: dict[str, str], message: str) -> None:
    """§10: unknown rows, rows with dedicated keys and unknown options are rejected."""
    with pytest.raises(ValueError) as raised:
        KeithleyConfig(fidelity=fidelity)
    assert message in str(raised.value)


def test_fidelity_lookups_of_unknown_options_fail_loudly() -> None:
    """A typo in the model's option name must not silently read as False."""
    with pytest.raises(KeyError, match="options: error, silent"):
        KeithleyConfig().fidelity_has("F10", "silence")
    with pytest.raises(KeyError, match="zero_check_default"):
        KeithleyConfig().fidelity_choice("F12")


# -- loading --------------------------------------------------------------------------------


def test_from_mapping_accepts_nested_tables_and_dotted_keys() -> None:
    """Appendix A: TOML-like data, ``serial.*`` dotted or nested, ISO ``rtc_epoch``."""
    config = KeithleyConfig.from_mapping({
        "model": "6514",
        "speed": 0,
        "serial": {"baud": 57600},
        "serial.xonxoff": True,
        "environment": {"temperature_c": 21.5},
        "rtc_epoch": "2025-06-01T12:00:00",
        "mismatch_elements": ["vso"],
        "nplc_limits": [0.01, 60],
        "signals": {"CURR": {"kind": "constant", "value": 1.5e-9}},
        "fidelity": {"F4": "separate"},
        "settling_table": {"VOLT": [0.0, 0.0, 0.0]},
    })
    assert config.model == "6514" and config.zero_check_reading == "no_reply"
    assert config.serial == SerialSettings(baud=57600, xonxoff=True)
    assert config.environment.temperature_c == 21.5
    assert config.rtc_epoch == datetime(2025, 6, 1, 12)
    assert config.mismatch_elements == frozenset({"VSO"})
    assert config.nplc_limits == (0.01, 60.0)
    assert config.signals["CURR"] == SignalSpec("constant", value=1.5e-9)
    assert config.signals["VOLT"] == DEFAULT_SIGNALS["VOLT"]
    assert config.fidelity["F4"] == "separate"


def test_from_mapping_rejects_unknown_keys_listing_the_known_ones() -> None:
    """Unknown keys are rejected with the list of known keys."""
    with pytest.raises(ValueError) as raised:
        KeithleyConfig.from_mapping({"baudrate": 9600})
    text = str(raised.value)
    assert "unknown config keys baudrate" in text
    assert "output_terminator" in text and "serial" in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"serial.speed": 1}, "config serial"),
        ({"signals": {"CURR": {"value": 1.0}}}, "signals.CURR needs a 'kind'"),
        ({"signals": {"CURR": {"kind": "constant", "slope": 1.0}}},
         "signals.CURR: signal kind 'constant' does not take slope"),
        ({"signals": {"TEMP": {"kind": "constant"}}}, "unknown function 'TEMP'"),
        ({"rtc_epoch": "yesterday"}, "config rtc_epoch"),
        ({"tcp.port": 1}, "dotted keys are allowed under serial"),
    ],
)
def test_from_mapping_explains_bad_nested_data(data: dict[str, object], message: str) -> None:
    """Nested tables are validated with messages naming the key."""
    with pytest.raises(ValueError) as raised:
        KeithleyConfig.from_mapping(data)
    assert message in str(raised.value)


def test_to_mapping_round_trips() -> None:
    """``from_mapping(to_mapping())`` gives an equal configuration."""
    config = KeithleyConfig.for_model(
        "6514", speed=2.5, fidelity={"F21": "latest_error"},
        signals={"VOLT": SignalSpec("list", values=(1.0, 2.0), repeat=True)},
        settling_table={"CHAR": (0.0, 0.0, 0.0, 0.0)})
    assert KeithleyConfig.from_mapping(config.to_mapping()) == config


def test_config_is_frozen_and_replace_validates() -> None:
    """A frozen dataclass; ``replace`` returns a validated copy."""
    config = KeithleyConfig()
    with pytest.raises(AttributeError):
        config.speed = 2.0  # type: ignore[misc]
    assert config.replace(speed=0).speed == 0
    with pytest.raises(ValueError, match="speed"):
        config.replace(speed=-2)
