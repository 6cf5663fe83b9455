"""Fleet files: the example parses, and every kind of mistake names its line and the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.supervisor import DeviceSpec, FleetError, load_fleet, parse_fleet

EXAMPLE = Path(__file__).parents[3] / "fixtures" / "fleets" / "example.toml"


def fleet_error(text: str) -> str:
    with pytest.raises(FleetError) as caught:
        parse_fleet(textwrap.dedent(text), source="fleet.toml")
    return str(caught.value)


def test_example_fleet_gives_its_devices() -> None:
    specs = load_fleet(EXAMPLE)

    assert [(spec.name, spec.device) for spec in specs] == [
        ("electrometer", "keithley6517b"), ("picoammeter", "keithley6514")]
    electrometer, picoammeter = specs
    assert electrometer.terminator == "CR" and electrometer.strict is False
    assert electrometer.restart == "restart" and electrometer.seed == 7
    assert electrometer.config == {"max_message_length": 2048}
    assert picoammeter.restart == "fail" and picoammeter.terminator == "LF"
    assert {spec.speed for spec in specs} == {10.0}  # from [defaults]


def test_device_settings_override_defaults() -> None:
    (spec,) = parse_fleet(textwrap.dedent("""
        [defaults]
        speed = 0
        seed = 3
        [devices.em1]
        device = "keithley6517b"
        seed = 9
    """))

    assert spec == DeviceSpec("keithley6517b", name="em1", speed=0, seed=9)


def test_bad_value_names_file_line_key_and_allowed_values() -> None:
    message = fleet_error("""\
        [devices.em1]
        device = "keithley6517b"

        [devices.em2]
        device = "keithley6514"
        speed = "fast"
    """)

    assert message.startswith("fleet.toml:6: devices.em2.speed: ")
    assert "finite number >= 0" in message


def test_bad_value_from_defaults_points_at_the_defaults_line() -> None:
    message = fleet_error("""\
        [defaults]
        restart = "sometimes"
        [devices.em1]
        device = "keithley6517b"
    """)

    assert message.startswith("fleet.toml:2: defaults.restart: ")
    assert "'fail', 'restart'" in message


def test_unknown_key_suggests_the_intended_one() -> None:
    message = fleet_error("""\
        [devices.em1]
        device = "keithley6517b"
        terminater = "cr"
    """)

    assert message.startswith("fleet.toml:3: devices.em1.terminater: unknown key")
    assert "did you mean 'terminator'?" in message


def test_unknown_top_level_table_is_named() -> None:
    message = fleet_error("""\
        [device.em1]
        device = "keithley6517b"
    """)

    assert message.startswith("fleet.toml:1: device: unknown key 'device'")
    assert "did you mean 'devices'?" in message


def test_unknown_device_lists_the_registered_ones() -> None:
    message = fleet_error("""\
        [devices.em1]
        device = "keithley6517"
    """)

    assert message.startswith("fleet.toml:2: devices.em1.device: ")
    assert "keithley6517b" in message and "keithley6514" in message


def test_missing_device_key_points_at_the_table() -> None:
    message = fleet_error("""\
        [devices.em1]
        device = "keithley6517b"

        [devices.em2]
        speed = 1
    """)

    assert message.startswith("fleet.toml:4: devices.em2: missing 'device'")
    assert 'device = "keithley6517b"' in message


def test_bad_model_config_points_at_the_config_table() -> None:
    message = fleet_error("""\
        [devices.em1]
        device = "keithley6517b"

        [devices.em1.config]
        no_such_setting = 1
    """)

    assert message.startswith("fleet.toml:4: devices.em1.config: ")
    assert "no_such_setting" in message


def test_invalid_toml_reports_the_parser_line() -> None:
    message = fleet_error("""\
        [devices.em1]
        device = "keithley6517b"
        speed = = 3
    """)

    assert message.startswith("fleet.toml:3: invalid TOML")


def test_bad_mode_and_bad_terminator_are_explained() -> None:
    mode = fleet_error('[devices.em1]\ndevice = "keithley6517b"\nmode = "loose"\n')
    terminator = fleet_error('[devices.em1]\ndevice = "keithley6517b"\nterminator = "nl"\n')

    assert mode.startswith("fleet.toml:3: devices.em1.mode: ") and "'lenient'" in mode
    assert terminator.startswith("fleet.toml:3: devices.em1.terminator: ")
    assert "lf, cr, crlf, lfcr" in terminator


def test_device_name_must_be_usable_in_file_names() -> None:
    message = fleet_error('[devices."em 1/x"]\ndevice = "keithley6517b"\n')

    assert message.startswith("fleet.toml:1: devices.em 1/x: ")
    assert "rename the table" in message


def test_empty_fleet_shows_an_example() -> None:
    message = fleet_error("[defaults]\nspeed = 1\n")

    assert message.startswith("fleet.toml: a fleet needs at least one device table")
    assert "[devices.em1]" in message


def test_missing_file_is_a_fleet_error(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match=r"cannot read fleet file .*nowhere\.toml"):
        load_fleet(tmp_path / "nowhere.toml")
