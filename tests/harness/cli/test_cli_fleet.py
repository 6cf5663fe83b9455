"""``hil serve --fleet FILE.toml``: the devices of a fleet file, and errors naming the line."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Completed, HilFactory, LineClient


def test_example_fleet_serves_its_devices_as_described(
        hil: HilFactory, connect: Callable[..., LineClient], example_fleet: Path) -> None:
    process = hil("serve", "--fleet", str(example_fleet), "--json")
    devices = {device["name"]: device for device in process.ready()["devices"]}
    assert set(devices) == {"electrometer", "picoammeter"}
    electrometer, picoammeter = devices["electrometer"], devices["picoammeter"]
    assert (electrometer["model"], electrometer["restart"]) == ("6517B", "restart")
    assert (picoammeter["model"], picoammeter["restart"]) == ("6514", "fail")
    # The electrometer replies with CR and, being lenient, ignores unknown headers.
    client = connect("127.0.0.1", electrometer["port"], b"\r")
    assert b"MODEL 6517B" in client.query(b"*IDN?\n")
    assert client.query(b":NOT:A:HEADER\n:SYST:ERR?\n") == b'0,"No error"\r'
    client = connect("127.0.0.1", picoammeter["port"])
    assert b"MODEL 6514" in client.query(b"*IDN?\n")
    assert client.query(b":NOT:A:HEADER\n:SYST:ERR?\n").startswith(b"-113,")
    for device in (electrometer, picoammeter):
        control = connect("127.0.0.1", device["control_port"])
        assert control.request("ping")["pid"] == device["pid"]
    assert process.interrupt() == 0
    assert process.close() == set()
    assert "Traceback" not in process.stderr()


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[defaults]\nspeed = 0\n\n[devices.em1]\ndevice = "keithley6517b"\nspeeed = 1\n', 6,
         ["unknown key 'speeed'", "did you mean 'speed'"]),
        ('[devices.em1]\ndevice = "keithley6517b"\n\n[devices.em2]\ndevice = "keithley2000"\n',
         5, ["'keithley2000'", "keithley6514, keithley6517b"]),
        ('[devices.em1]\ndevice = "keithley6517b"\nterminator = "cr"\nmode = "lax"\n', 4,
         ["mode", "'lenient'"]),
        ('[devices.em1]\ndevice = "keithley6517b"\nspeed = = 3\n', 3, ["invalid TOML"]),
    ],
    ids=["misspelt-key", "unknown-device", "bad-mode", "toml-syntax"],
)
def test_bad_fleet_file_exits_2_naming_the_line(hil_run: Callable[..., Completed],
                                                tmp_path: Path, text: str, line: int,
                                                words: list[str]) -> None:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(text)
    result = hil_run("serve", "--fleet", str(fleet))
    assert result.code == 2
    assert f"hil serve: {fleet}:{line}:" in result.stderr
    for word in words:
        assert word in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_fleet_file_exits_2(hil_run: Callable[..., Completed], tmp_path: Path) -> None:
    result = hil_run("serve", "--fleet", str(tmp_path / "absent.toml"))
    assert result.code == 2
    assert "cannot read fleet file" in result.stderr
    assert "Traceback" not in result.stderr


def test_fleet_port_in_use_names_the_device(hil_run: Callable[..., Completed],
                                            tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        fleet = tmp_path / "fleet.toml"
        fleet.write_text(f'[devices.bench]\ndevice = "keithley6514"\n'
                         f'port = {taken.getsockname()[1]}\n')
        result = hil_run("serve", "--fleet", str(fleet))
    assert result.code == 2
    assert "device 'bench'" in result.stderr
    assert "already in use" in result.stderr


def test_fleet_with_device_options_exits_2(hil_run: Callable[..., Completed],
                                           example_fleet: Path) -> None:
    result = hil_run("serve", "--fleet", str(example_fleet), "--speed", "0", "--pty")
    assert result.code == 2
    assert "drop --speed, --pty" in result.stderr
