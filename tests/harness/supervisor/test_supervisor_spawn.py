"""Spawning devices: readiness, endpoints, process groups, start failures, close."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.supervisor import (
    DeviceSpec,
    DeviceStartError,
    SpecError,
    Supervisor,
    SupervisorError,
    UnknownDevice,
)
from tests.process_probes import children_of, still_running

if TYPE_CHECKING:
    from conftest import ScpiClient
    from harness.supervisor import Endpoint

STD_WAIT = 10.0


def test_spawned_device_answers_idn_on_its_port(
        supervisor: Supervisor, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    endpoint = supervisor.spawn("keithley6517b", name="em1", speed=0)

    assert scpi(endpoint).query("*IDN?").startswith("KEITHLEY INSTRUMENTS INC.,MODEL 6517B")
    assert (endpoint.name, endpoint.device, endpoint.model) == ("em1", "keithley6517b", "6517B")
    assert endpoint.host == "127.0.0.1" and endpoint.port > 0
    assert endpoint.status == "running" and endpoint.restarts == 0
    assert endpoint.resource == f"TCPIP::127.0.0.1::{endpoint.port}::SOCKET"
    assert endpoint.control.ping()["pid"] == endpoint.pid


def test_each_device_is_its_own_process_and_process_group(
        supervisor: Supervisor) -> None:
    first, second = supervisor.spawn_many([DeviceSpec("keithley6517b", speed=0),
                                           DeviceSpec("keithley6514", speed=0)])

    pids = {first.pid, second.pid}
    assert None not in pids and len(pids) == 2 and os.getpid() not in pids
    for endpoint in (first, second):
        assert endpoint.pid is not None
        assert os.getpgid(endpoint.pid) == endpoint.pid
    assert first.port != second.port


def test_spawn_many_starts_every_device_and_each_answers(
        supervisor: Supervisor, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    specs = [DeviceSpec("keithley6514", name=f"pico{number}", speed=0) for number in range(4)]

    endpoints = supervisor.spawn_many(specs)

    assert [endpoint.name for endpoint in endpoints] == ["pico0", "pico1", "pico2", "pico3"]
    assert len({endpoint.port for endpoint in endpoints}) == 4
    for endpoint in endpoints:
        assert "MODEL 6514" in scpi(endpoint).query("*IDN?")
    assert supervisor["pico2"] is endpoints[2]


async def test_async_spawn_and_control(tmp_path: Path) -> None:
    async with Supervisor(run_dir=tmp_path / "run") as sup:
        endpoint = await sup.aspawn("keithley6514", name="pico", speed=0)
        reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
        writer.write(b"*IDN?\n")
        reply = await asyncio.wait_for(reader.readline(), STD_WAIT)
        writer.close()
        await writer.wait_closed()
        assert (await endpoint.control.aping())["pid"] == endpoint.pid
        pid = endpoint.pid
    assert b"MODEL 6514" in reply
    assert pid is not None and not still_running([pid], STD_WAIT)


def test_default_names_count_up_per_device(supervisor: Supervisor) -> None:
    endpoints = supervisor.spawn_many([DeviceSpec("keithley6517b", speed=0),
                                       DeviceSpec("keithley6517b", speed=0)])

    assert [endpoint.name for endpoint in endpoints] == ["keithley6517b-1", "keithley6517b-2"]


def test_a_name_already_in_use_is_rejected(supervisor: Supervisor) -> None:
    supervisor.spawn("keithley6517b", name="em1", speed=0)

    with pytest.raises(SpecError, match="'em1' already exists"):
        supervisor.spawn("keithley6514", name="em1", speed=0)


def test_unknown_device_error_lists_the_registered_ones(supervisor: Supervisor) -> None:
    with pytest.raises(UnknownDevice) as caught:
        supervisor.spawn("keithley2000")

    message = str(caught.value)
    assert "keithley2000" in message
    assert "keithley6517b" in message and "keithley6514" in message
    assert supervisor.fork_server_pid is None  # nothing was started


def test_bad_model_configuration_raises_start_error_with_log_tail(
        supervisor: Supervisor) -> None:
    with pytest.raises(DeviceStartError) as caught:
        supervisor.spawn("keithley6517b", name="bad", speed=0, no_such_setting=1)

    error = caught.value
    assert error.returncode == 3
    assert "no_such_setting" in error.reason
    assert "no_such_setting" in error.log_tail
    assert "bad.log" in str(error)


def test_busy_port_raises_start_error_naming_the_cause(supervisor: Supervisor) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(DeviceStartError, match=r"(?i)address already in use"):
            supervisor.spawn("keithley6517b", port=port, speed=0)


def test_spawn_many_is_all_or_nothing(supervisor: Supervisor) -> None:
    specs = [DeviceSpec("keithley6517b", name="good", speed=0),
             DeviceSpec("keithley6517b", name="bad", speed=0, config={"no_such_setting": 1})]

    with pytest.raises(DeviceStartError, match="'bad'"):
        supervisor.spawn_many(specs)

    fork_server = supervisor.fork_server_pid
    assert fork_server is not None
    assert supervisor.endpoints == []
    assert children_of(fork_server) == []
    # The names are free again.
    assert supervisor.spawn("keithley6517b", name="good", speed=0).status == "running"


def test_close_stops_every_device_and_the_fork_server(
        tmp_path: Path) -> None:
    sup = Supervisor(run_dir=tmp_path / "run")
    endpoints = sup.spawn_many([DeviceSpec("keithley6517b", speed=0) for _ in range(3)])
    pids = [endpoint.pid for endpoint in endpoints if endpoint.pid is not None]
    fork_server = sup.fork_server_pid
    assert fork_server is not None and len(pids) == 3

    sup.close()

    assert not still_running([fork_server, *pids], STD_WAIT)
    assert {endpoint.status for endpoint in endpoints} == {"stopped"}
    with pytest.raises(SupervisorError, match="closed"):
        sup.spawn("keithley6517b")


def test_state_file_lists_the_running_devices(supervisor: Supervisor) -> None:
    endpoint = supervisor.spawn("keithley6517b", name="em1", speed=0)

    state = json.loads((supervisor.run_dir / "state.json").read_text())

    assert state["supervisor_pid"] == os.getpid()
    (device,) = state["devices"]
    assert device["name"] == "em1" and device["status"] == "running"
    assert (device["pid"], device["port"], device["control_port"]) == (
        endpoint.pid, endpoint.port, endpoint.control_port)


def test_temporary_run_directory_is_removed_by_close() -> None:
    sup = Supervisor()
    sup.spawn("keithley6517b", speed=0)
    run_dir = sup.run_dir
    assert (run_dir / "keithley6517b-1.log").is_file()

    sup.close()

    assert not run_dir.exists()
