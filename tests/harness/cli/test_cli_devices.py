"""``hil devices``: built-in devices and those other packages add through entry points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Completed, HilFactory, LineClient

PLUGIN_MODULE = '''\
from devices.keithley.keithley6514 import Keithley6514


class BenchPicoammeter(Keithley6514):
    """A device another package registers."""
'''


def test_devices_lists_the_builtin_keithleys(hil_run: Callable[..., Completed]) -> None:
    result = hil_run("devices")
    assert result.code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows == [["NAME", "FACTORY"],
                    ["keithley6514", "devices.keithley.keithley6514:Keithley6514"],
                    ["keithley6517b", "devices.keithley.keithley6517b:Keithley6517B"]]


def test_devices_json(hil_run: Callable[..., Completed]) -> None:
    result = hil_run("devices", "--json")
    assert result.code == 0
    names = [device["name"] for device in json.loads(result.stdout)["devices"]]
    assert names == ["keithley6514", "keithley6517b"]


def test_an_entry_point_device_is_listed_and_served(
        hil: HilFactory, hil_run: Callable[..., Completed],
        connect: Callable[..., LineClient], tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "hil_bench_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "hil_bench_plugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hil-bench-plugin\nVersion: 0.1\n")
    (site / "hil_bench_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[hil.devices]\nbenchpico = hil_bench_plugin:BenchPicoammeter\n")
    (site / "hil_bench_plugin.py").write_text(PLUGIN_MODULE)
    env = {"PYTHONPATH": str(site)}
    listed = json.loads(hil_run("devices", "--json", env=env).stdout)["devices"]
    assert {"name": "benchpico", "factory": "hil_bench_plugin:BenchPicoammeter"} in listed
    process = hil("serve", "--device", "benchpico", "--json", "--speed", "0", env=env)
    (device,) = process.ready()["devices"]
    assert (device["name"], device["model"]) == ("benchpico-1", "6514")
    assert b"MODEL 6514" in connect(device["host"], device["port"]).query(b"*IDN?\n")
    assert process.interrupt() == 0
