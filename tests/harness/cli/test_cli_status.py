"""``hil status``: what the running fleets of this user look like from outside."""

from __future__ import annotations

import json
import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Completed, HilFactory


def test_status_without_a_fleet_says_so(hil_run: Callable[..., Completed]) -> None:
    result = hil_run("status")
    assert result.code == 0
    assert "no fleet is running" in result.stdout
    assert json.loads(hil_run("status", "--json").stdout) == {"fleets": []}


def test_status_reads_a_running_fleet_until_it_stops(
        hil: HilFactory, hil_run: Callable[..., Completed]) -> None:
    serve = hil("serve", "--count", "2", "--json", "--speed", "0")
    served = serve.ready()["devices"]
    result = hil_run("status", "--json")
    assert result.code == 0
    (fleet,) = json.loads(result.stdout)["fleets"]
    assert fleet["supervisor_pid"] == serve.pid
    assert [(d["name"], d["port"], d["pid"], d["control_port"]) for d in fleet["devices"]] == [
        (d["name"], d["port"], d["pid"], d["control_port"]) for d in served]
    assert all(d["status"] == "running" and d["answers"] for d in fleet["devices"])
    table = hil_run("status").stdout
    assert f"fleet of supervisor {serve.pid}" in table
    for device in served:
        assert f"{device['name']}" in table and f"127.0.0.1:{device['port']}" in table
    assert serve.interrupt() == 0
    assert "no fleet is running" in hil_run("status").stdout


def test_status_exits_1_when_a_device_does_not_answer(
        hil: HilFactory, hil_run: Callable[..., Completed]) -> None:
    serve = hil("serve", "--count", "2", "--json", "--speed", "0")
    first, second = serve.ready()["devices"]
    os.kill(first["pid"], signal.SIGKILL)  # a device process this test's hil started
    result = hil_run("status", "--json")
    assert result.code == 1
    answers = {d["name"]: d["answers"] for d in json.loads(result.stdout)["fleets"][0]["devices"]}
    assert answers == {first["name"]: False, second["name"]: True}
    assert serve.interrupt() == 0
