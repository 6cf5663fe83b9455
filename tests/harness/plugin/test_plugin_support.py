"""The plain modules behind the plugin: target parsing, run naming, requests, history."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.plugin_support import (
    ControlUnavailable,
    InstrumentEndpoint,
    RunContext,
    SettingsError,
    TargetError,
    device_spec,
    parse_settings,
    parse_target,
)
from harness.plugin_support.bridge import parse_serial_settings
from harness.plugin_support.remote import SerialTarget, TcpTarget
from harness.plugin_support.replay import ReplayTarget
from harness.plugin_support.run import safe_file_name
from harness.plugin_support.targets import TargetOptions
from harness.supervisor import SpecError
from harness.supervisor.history import HISTORY_LENGTH, MAX_ENTRY_CHARS, MessageHistory
from harness.supervisor.logs import log_tail


@pytest.fixture
def run(tmp_path: Path) -> RunContext:
    return RunContext(uid="0123456789abcdef", worker="gw2", root=tmp_path / "run")


@pytest.mark.parametrize(("text", "host", "port"), [
    ("tcp:127.0.0.1:5025", "127.0.0.1", 5025),
    ("tcp:benchhost.lab:1", "benchhost.lab", 1),
    ("tcp:[::1]:65535", "::1", 65535),
])
def test_tcp_targets_parse_host_and_port(run: RunContext, text: str, host: str,
                                         port: int) -> None:
    target = parse_target(text, run)

    assert isinstance(target, TcpTarget)
    assert (target.host, target.port, target.text, target.shared) == (host, port, text, True)


@pytest.mark.parametrize("text", ["tcp:", "tcp:host", "tcp::5025", "tcp:host:0",
                                  "tcp:host:65536", "tcp:host:port", "tcp:host:-1"])
def test_bad_tcp_addresses_are_refused(run: RunContext, text: str) -> None:
    with pytest.raises(TargetError, match="tcp: needs HOST:PORT"):
        parse_target(text, run)


def test_other_targets_parse(run: RunContext) -> None:
    serial = parse_target("serial:rfc2217://bench:2217", run,
                          TargetOptions(serial={"baud": 19200}))
    replay = parse_target("replay:fixtures/cassettes", run)
    emulator = parse_target("emulator", run)

    assert isinstance(serial, SerialTarget) and serial.url == "rfc2217://bench:2217"
    assert serial.options.serial == {"baud": 19200}
    assert isinstance(replay, ReplayTarget) and replay.directory == Path("fixtures/cassettes")
    assert (emulator.kind, emulator.shared) == ("emulator", False)


def test_serial_settings_parse_to_bridge_keywords() -> None:
    settings = parse_serial_settings("baud=19200, parity=even,stop-bits=1, xonxoff=on,"
                                     "instrument_terminator=cr")

    assert settings == {"baud": 19200, "parity": "even", "stop_bits": 1.0, "xonxoff": True,
                        "instrument_terminator": "cr"}
    assert parse_serial_settings("") == {}


def test_settings_parse_from_option_texts() -> None:
    settings = parse_settings(target=" replay:cassettes ", lease_timeout="2.5",
                              instrument="keithley6514", serial="baud=19200",
                              record_mode="ONCE", keep_logs=True)
    defaults = parse_settings()

    assert settings.target == "replay:cassettes" and settings.keep_logs
    assert settings.options == TargetOptions(lease_timeout=2.5, instrument="keithley6514",
                                             serial={"baud": 19200}, record_mode="once")
    assert defaults.target == "emulator" and defaults.options == TargetOptions()


@pytest.mark.parametrize(("options", "message"), [
    ({"lease_timeout": "nan"}, "--hil-lease-timeout 'nan': give a number of seconds > 0"),
    ({"record_mode": "all"}, "--hil-record-mode all needs --hil-target replay:DIR"),
    ({"serial": "parity"}, "--hil-serial: 'parity' is not KEY=VALUE"),
])
def test_bad_settings_name_their_option(options: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        parse_settings(**options)


def test_run_names_carry_worker_and_uid(run: RunContext) -> None:
    assert run.device_name("keithley6514", 3) == "keithley6514-gw2-01234567-3"
    assert run.file_name("tests/test_a.py::test_b[x-1]", ".jsonl") == \
        "tests_test_a.py_test_b_x-1.gw2-01234567.jsonl"
    assert not run.root.exists()
    assert run.worker_dir == run.root / "gw2-01234567" and run.worker_dir.is_dir()
    run.remove()
    assert not run.root.exists()


def test_safe_file_names_keep_no_separator_and_are_bounded() -> None:
    assert safe_file_name("../../etc/passwd") == "etc_passwd"
    assert safe_file_name("///") == "_"
    assert len(safe_file_name("x" * 500)) == 120


def test_device_requests_split_spec_fields_from_model_keys() -> None:
    spec = device_spec("keithley6514", terminator="cr", speed=0, strict=False, seed=4,
                       serial_number="H1L", line_frequency=50)

    assert (spec.device, spec.terminator, spec.speed, spec.strict, spec.seed) == \
        ("keithley6514", "CR", 0.0, False, 4)
    assert dict(spec.config) == {"serial_number": "H1L", "line_frequency": 50}
    assert device_spec().device == "keithley6517b"
    with pytest.raises(SpecError, match="speed must be a finite number >= 0"):
        device_spec(speed=-1)


def test_control_of_a_non_emulated_instrument_raises_a_clear_limitation() -> None:
    endpoint = InstrumentEndpoint(name="tcp-gw0", device="keithley6517b", model="6517B",
                                  host="bench", port=5025, target="tcp:bench:5025")

    with pytest.raises(ControlUnavailable, match="the target is tcp:bench:5025"):
        endpoint.control.ping()
    with pytest.raises(ControlUnavailable, match="hil_emulator_only"):
        _ = endpoint.emulator
    assert endpoint.pid is None and endpoint.log_tail() == ""
    assert endpoint.resource == "TCPIP::bench::5025::SOCKET"


def test_log_tail_since_shows_only_what_follows_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "device.log"
    log.write_text("old 1\nold 2\n")
    offset = log.stat().st_size
    with log.open("a") as file:
        file.write("new 1\nnew 2\nnew 3\n")

    assert log_tail(log, 10, since=offset) == "new 1\nnew 2\nnew 3"
    assert log_tail(log, 2, since=offset) == "new 2\nnew 3"
    assert log_tail(log, 10, since=log.stat().st_size) == ""
    assert log_tail(tmp_path / "missing.log", 10, since=0) == ""


def test_message_history_splits_lines_and_keeps_the_last_ones() -> None:
    history = MessageHistory()
    history.received(b"*IDN?\n:READ")
    history.received(b"?\r\n")
    history.sent(b"KEITHLEY\r\n\x00\xff\n")
    for n in range(HISTORY_LENGTH):
        history.received(f"M{n}\n".encode())

    entries = history.entries(HISTORY_LENGTH + 10)

    assert len(entries) == HISTORY_LENGTH
    assert entries[-1]["text"] == f"M{HISTORY_LENGTH - 1}" and entries[-1]["dir"] == "rx"
    history.clear()
    history.received(b"*IDN?\n:READ?\n")
    history.sent(b"KEITHLEY\r\n\x00\xff\n")
    assert [(e["dir"], e["text"]) for e in history.entries()] == [
        ("rx", "*IDN?"), ("rx", ":READ?"), ("tx", "KEITHLEY"), ("tx", "\\x00\\xff")]
    assert [e["text"] for e in history.entries(1)] == ["\\x00\\xff"]


def test_message_history_cuts_an_endless_line() -> None:
    history = MessageHistory()
    history.received(b"A" * (MAX_ENTRY_CHARS * 3))

    (entry,) = history.entries()
    assert entry["text"] == "A" * MAX_ENTRY_CHARS + "..."
