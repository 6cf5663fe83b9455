"""No orphans: however the supervisor ends, its device processes end too.

A helper process runs a supervisor with two devices and reports the pids; the
tests end it in every way (SIGKILL, SIGTERM, SIGINT, plain interpreter exit)
and check that the fork server and the devices are gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.supervisor import DeviceStartError, Supervisor
from tests.process_probes import still_running

STD_WAIT = 10.0
#: The issue's bound: no device alive 2 s after the supervisor was killed.
ORPHAN_BOUND = 2.0

HELPER = textwrap.dedent("""
    import json, sys
    from harness.supervisor import DeviceSpec, Supervisor

    mode, run_dir = sys.argv[1], sys.argv[2]
    supervisor = Supervisor(run_dir=run_dir)

    def run():
        endpoints = supervisor.spawn_many([
            DeviceSpec("keithley6517b", name="a", speed=0, restart="restart"),
            DeviceSpec("keithley6514", name="b", speed=0),
        ])
        print(json.dumps({"fork_server": supervisor.fork_server_pid,
                          "devices": [e.pid for e in endpoints]}), flush=True)
        sys.stdin.read()  # until the test closes stdin or ends this process

    if mode == "with":
        with supervisor:
            run()
    else:
        run()  # never closed: interpreter exit (atexit) must stop the devices
""")


@dataclass
class Helper:
    process: subprocess.Popen[bytes]
    run_dir: Path
    fork_server: int = 0
    devices: list[int] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [self.fork_server, *self.devices]


def read_report(process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    assert readable, "the helper supervisor did not report its devices in time"
    line = process.stdout.readline()
    assert line, f"the helper exited early with code {process.wait()}"
    report: dict[str, Any] = json.loads(line)
    return report


@pytest.fixture
def start_helper(tmp_path: Path) -> Iterator[Callable[[str], Helper]]:
    script = tmp_path / "helper.py"
    script.write_text(HELPER)
    helpers: list[Helper] = []

    def start(mode: str) -> Helper:
        run_dir = tmp_path / f"run-{len(helpers)}"
        with open(tmp_path / f"helper-{len(helpers)}.err", "wb") as errors:
            process = subprocess.Popen([sys.executable, str(script), mode, str(run_dir)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=errors)
        helper = Helper(process, run_dir)
        helpers.append(helper)
        report = read_report(process, 6 * STD_WAIT)
        helper.fork_server, helper.devices = report["fork_server"], report["devices"]
        return helper

    yield start
    # Whatever a test did or failed to do, leave nothing behind.
    for helper in helpers:
        with contextlib.suppress(ProcessLookupError):
            helper.process.kill()
        helper.process.wait()
        for stream in (helper.process.stdin, helper.process.stdout):
            if stream is not None:
                stream.close()
        for pid in helper.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                os.kill(pid, signal.SIGCONT)
        assert not still_running(helper.pids, STD_WAIT)


def test_sigkill_of_the_supervisor_leaves_no_device_alive(
        start_helper: Callable[[str], Helper]) -> None:
    helper = start_helper("with")
    assert len(helper.devices) == 2

    helper.process.kill()
    helper.process.wait()

    assert not still_running(helper.pids, ORPHAN_BOUND)


def test_lifeline_alone_stops_devices_when_the_supervisor_is_killed(
        start_helper: Callable[[str], Helper]) -> None:
    helper = start_helper("with")
    # A frozen fork server can neither stop its children nor die, so only the
    # devices' own watch on the supervisor's pipe can end them.
    os.kill(helper.fork_server, signal.SIGSTOP)
    try:
        helper.process.kill()
        helper.process.wait()

        assert not still_running(helper.devices, ORPHAN_BOUND)
    finally:
        os.kill(helper.fork_server, signal.SIGKILL)
        os.kill(helper.fork_server, signal.SIGCONT)


def test_sigterm_of_the_supervisor_stops_devices_in_order(
        start_helper: Callable[[str], Helper]) -> None:
    helper = start_helper("with")

    helper.process.send_signal(signal.SIGTERM)

    assert helper.process.wait(STD_WAIT) == 128 + signal.SIGTERM
    assert not still_running(helper.pids, ORPHAN_BOUND)
    assert_state_file_says_stopped(helper)


def test_ctrl_c_of_the_supervisor_stops_devices(
        start_helper: Callable[[str], Helper]) -> None:
    helper = start_helper("with")

    helper.process.send_signal(signal.SIGINT)

    helper.process.wait(STD_WAIT)
    assert not still_running(helper.pids, ORPHAN_BOUND)
    assert_state_file_says_stopped(helper)


def test_interpreter_exit_without_close_stops_devices(
        start_helper: Callable[[str], Helper]) -> None:
    helper = start_helper("atexit")
    assert helper.process.stdin is not None

    helper.process.stdin.close()

    assert helper.process.wait(STD_WAIT) == 0
    assert not still_running(helper.pids, ORPHAN_BOUND)
    assert_state_file_says_stopped(helper)


def assert_state_file_says_stopped(helper: Helper) -> None:
    """close() ran (not just the fallbacks): it records every device as stopped."""
    state = json.loads((helper.run_dir / "state.json").read_text())
    assert state["closed"] is True
    assert {device["status"] for device in state["devices"]} == {"stopped"}


def test_parent_death_signal_alone_stops_devices_when_the_fork_server_dies(
        start_helper: Callable[[str], Helper]) -> None:
    helper = start_helper("with")
    # A frozen supervisor keeps the lifelines open and cannot kill anything, so
    # only the parent-death signal set by each device can end them.
    helper.process.send_signal(signal.SIGSTOP)
    try:
        os.kill(helper.fork_server, signal.SIGKILL)

        assert not still_running(helper.devices, ORPHAN_BOUND)
    finally:
        helper.process.send_signal(signal.SIGCONT)


def test_supervisor_reports_devices_failed_when_the_fork_server_dies(
        supervisor: Supervisor) -> None:
    endpoints = [supervisor.spawn("keithley6517b", speed=0),
                 supervisor.spawn("keithley6514", speed=0, restart="restart")]
    pids = [endpoint.pid for endpoint in endpoints if endpoint.pid]
    fork_server = supervisor.fork_server_pid
    assert fork_server is not None and len(pids) == 2

    os.kill(fork_server, signal.SIGKILL)

    assert not still_running(pids, ORPHAN_BOUND)
    for endpoint in endpoints:
        assert endpoint.wait_until(lambda e: e.status == "failed", STD_WAIT)
        assert "fork server" in endpoint.failure
    with pytest.raises(DeviceStartError, match="fork server"):
        supervisor.spawn("keithley6517b", speed=0)
