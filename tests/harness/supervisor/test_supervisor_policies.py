"""Restart policies: a device that dies under ``fail`` and under ``restart``.

The test-only devices below are registered in a private ``DeviceRegistry``; the
device process imports them by module and name, as it would a plugin's device.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from devices.keithley import DeviceRegistry, Keithley6517B, KeithleyConfig
from harness.supervisor import (
    ControlError,
    DeviceStartError,
    DeviceUnavailable,
    Supervisor,
)

if TYPE_CHECKING:
    from conftest import ScpiClient
    from harness.supervisor import Endpoint

STD_WAIT = 10.0
CRASH_EXIT_CODE = 7


def crash_on_demand(*, config: KeithleyConfig, now: float) -> Keithley6517B:
    """A 6517B that exits with code 7 when it receives the message ``CRASH``."""
    device = Keithley6517B(config=config, now=now)
    answer = device.receive

    def receive(message: str, now: float) -> Any:
        if message.strip().upper() == "CRASH":
            print("crash_on_demand: exiting on request", file=sys.stderr, flush=True)
            os._exit(CRASH_EXIT_CODE)
        return answer(message, now)

    device.receive = receive  # type: ignore[method-assign]
    return device


def broken_on_start(*, config: KeithleyConfig, now: float) -> Keithley6517B:
    raise RuntimeError("broken_on_start refuses to build a device")


@pytest.fixture
def device_registry() -> DeviceRegistry:
    """The built-ins and the test-only devices, for the ``supervisor`` fixture."""
    registry = DeviceRegistry()
    registry.register("crash-on-demand", crash_on_demand)
    registry.register("broken-on-start", broken_on_start)
    return registry


def crash(endpoint: Endpoint, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(endpoint)
    client.send("CRASH")
    with pytest.raises((EOFError, ConnectionError)):
        client.read_line()


def running_after(restarts: int) -> Callable[[Endpoint], bool]:
    return lambda endpoint: endpoint.status == "running" and endpoint.restarts == restarts


def test_fail_policy_reports_exit_code_and_log_tail(
        supervisor: Supervisor, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    endpoint = supervisor.spawn("crash-on-demand", name="em1", speed=0)

    crash(endpoint, scpi)

    assert endpoint.wait_until(lambda e: e.status == "failed", STD_WAIT)
    assert endpoint.returncode == CRASH_EXIT_CODE
    assert endpoint.pid is None
    assert supervisor.failed() == [endpoint]
    assert "crash_on_demand: exiting on request" in endpoint.log_tail()


def test_next_control_call_on_a_failed_device_raises_a_clear_error(
        supervisor: Supervisor, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    endpoint = supervisor.spawn("crash-on-demand", name="em1", speed=0)
    crash(endpoint, scpi)
    assert endpoint.wait_until(lambda e: e.status == "failed", STD_WAIT)

    with pytest.raises(DeviceUnavailable) as caught:
        endpoint.control.ping()

    message = str(caught.value)
    assert "'em1'" in message and "failed" in message
    assert f"exit code {CRASH_EXIT_CODE}" in message
    assert "crash_on_demand: exiting on request" in message
    assert "restart='restart'" in message


def test_restart_policy_restarts_on_the_same_ports(
        supervisor: Supervisor, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    endpoint = supervisor.spawn("crash-on-demand", name="em1", speed=0, restart="restart")
    first_pid, port, control_port = endpoint.pid, endpoint.port, endpoint.control_port

    crash(endpoint, scpi)

    assert endpoint.wait_until(running_after(1), STD_WAIT)
    assert endpoint.pid not in (None, first_pid)
    assert endpoint.returncode == CRASH_EXIT_CODE
    assert (endpoint.port, endpoint.control_port) == (port, control_port)
    assert "MODEL 6517B" in scpi(endpoint).query("*IDN?")
    assert endpoint.control.ping()["pid"] == endpoint.pid


def test_restart_backoff_doubles_between_crashes(
        supervisor: Supervisor, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    endpoint = supervisor.spawn("crash-on-demand", name="em1", speed=0, restart="restart")
    downtimes = []
    for restarts in (1, 2, 3):
        started = time.monotonic()
        crash(endpoint, scpi)
        assert endpoint.wait_until(running_after(restarts), STD_WAIT)
        downtimes.append(time.monotonic() - started)

    # Lower bounds only: the backoff is 0.1 s, 0.2 s, 0.4 s; a busy machine adds to it.
    assert downtimes[0] >= 0.1
    assert downtimes[1] >= 0.2
    assert downtimes[2] >= 0.4


def test_kill_9_of_a_device_is_detected_at_once(supervisor: Supervisor) -> None:
    endpoint = supervisor.spawn("keithley6517b", name="em1", speed=0)
    assert endpoint.pid is not None

    started = time.monotonic()
    os.kill(endpoint.pid, signal.SIGKILL)
    assert endpoint.wait_until(lambda e: e.status == "failed", STD_WAIT)
    detected = time.monotonic() - started

    assert endpoint.returncode == -signal.SIGKILL
    # Detection is event driven (the fork server reaps and reports); the design target
    # is 200 ms, the bound here leaves room for a loaded CI machine.
    assert detected < 1.0, f"death noticed after {detected:.3f} s"


def test_kill_9_under_restart_policy_brings_the_device_back(
        supervisor: Supervisor, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    endpoint = supervisor.spawn("keithley6514", name="pico", speed=0, restart="restart")
    assert endpoint.pid is not None

    os.kill(endpoint.pid, signal.SIGKILL)

    assert endpoint.wait_until(running_after(1), STD_WAIT)
    assert endpoint.returncode == -signal.SIGKILL
    assert "MODEL 6514" in scpi(endpoint).query("*IDN?")


def test_control_call_while_restarting_says_so(
        supervisor: Supervisor, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    endpoint = supervisor.spawn("crash-on-demand", name="em1", speed=0, restart="restart")
    # Two quick crashes: the second restart waits 0.2 s, long enough to look.
    crash(endpoint, scpi)
    assert endpoint.wait_until(running_after(1), STD_WAIT)
    crash(endpoint, scpi)
    assert endpoint.wait_until(lambda e: e.status == "restarting", STD_WAIT)

    with pytest.raises(DeviceUnavailable, match="restarting"):
        endpoint.control.ping()


def test_a_factory_that_raises_gives_start_error_with_its_traceback(
        supervisor: Supervisor) -> None:
    with pytest.raises(DeviceStartError) as caught:
        supervisor.spawn("broken-on-start", name="broken")

    error = caught.value
    assert "broken_on_start refuses to build a device" in error.reason
    assert "Traceback" in error.log_tail
    assert error.returncode == 3


def test_control_errors_are_not_deaths(supervisor: Supervisor) -> None:
    endpoint = supervisor.spawn("keithley6517b", name="em1", speed=0)

    with pytest.raises(ControlError):
        endpoint.control.get("no_such_key")

    assert endpoint.status == "running"
    assert endpoint.control.ping()["pid"] == endpoint.pid
