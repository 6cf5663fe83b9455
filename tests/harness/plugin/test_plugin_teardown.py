"""Clean teardown on pass, failure, ``-x`` and Ctrl-C; ``--hil-keep-logs`` keeps the logs."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from plugin_limits import SUBPROCESS_TIMEOUT

from tests.process_probes import still_running

if TYPE_CHECKING:
    from conftest import InnerSuite

RECORDING_TESTS = """
@pytest.mark.parametrize("n", range({count}))
def test_uses_devices(hil_device, hil_supervisor, n):
    devices = [hil_device(speed=0), hil_device("keithley6514", speed=0)]
    record(f"test{{n}}", pids=[d.pid for d in devices], fork_server=hil_supervisor.fork_server_pid,
           logs=[str(d.log_path) for d in devices])
    {ending}
"""

INTERRUPT = """
    import signal, time
    done = len(list(Path(os.environ["HIL_TEST_RECORDS"]).glob("*.json")))
    if done < {count}:
        # Wait (bounded) for the other worker's test, so Ctrl-C hits both mid-test.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(
                list(Path(os.environ["HIL_TEST_RECORDS"]).glob("*.json"))) < {count}:
            time.sleep(0.05)
    os.killpg(0, signal.SIGINT)
    time.sleep(30)  # the interrupt ends this; reaching the end is a failure
    assert False, "no KeyboardInterrupt"
"""


def recorded_processes(inner: InnerSuite) -> tuple[set[int], set[Path]]:
    """Every device and fork server pid the inner tests saw, and their run directories."""
    pids: set[int] = set()
    run_dirs: set[Path] = set()
    for seen in inner.records().values():
        pids.update(seen["pids"])
        pids.add(seen["fork_server"])
        run_dirs.update(Path(log).parent.parent for log in seen["logs"])
    return pids, run_dirs


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])
def test_stop_at_first_failure_leaves_no_process(inner: InnerSuite, workers: list[str]) -> None:
    inner.write("test_stop", RECORDING_TESTS.format(count=4, ending="assert False"))

    result = inner.run_subprocess("-x", *workers)

    # xdist reports a -x stop as an interruption.
    assert result.ret in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED)
    assert result.parseoutcomes()["failed"] >= 1
    pids, run_dirs = recorded_processes(inner)
    assert 1 <= len(inner.records()) < 4
    assert pids and not still_running(pids)
    assert not any(run_dir.exists() for run_dir in run_dirs)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])
def test_ctrl_c_leaves_no_process(inner: InnerSuite, workers: list[str]) -> None:
    count = 1 if not workers else 2
    inner.write("test_interrupted", RECORDING_TESTS.format(
        count=count, ending=INTERRUPT.format(count=count).strip()))

    # Its own session, so the interrupt reaches the inner pytest (and workers) like a
    # terminal's Ctrl-C, and never this process.
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", *workers],
        cwd=inner.pytester.path, start_new_session=True, capture_output=True, text=True,
        timeout=SUBPROCESS_TIMEOUT, check=False)

    assert completed.returncode == pytest.ExitCode.INTERRUPTED, completed.stdout[-3000:]
    assert "KeyboardInterrupt" in completed.stdout + completed.stderr
    pids, run_dirs = recorded_processes(inner)
    assert len(inner.records()) == count
    assert not still_running(pids)
    assert not any(run_dir.exists() for run_dir in run_dirs)


def test_a_terminated_session_leaves_no_process(inner: InnerSuite) -> None:
    inner.write("test_terminated", RECORDING_TESTS.format(
        count=2, ending="import signal; os.kill(os.getpid(), signal.SIGTERM)"))

    result = inner.run_subprocess("-p", "no:randomly")

    assert result.ret == -signal.SIGTERM, "SIGTERM must end the session, not one test"
    assert len(inner.records()) == 1
    pids, run_dirs = recorded_processes(inner)
    assert not still_running(pids)
    for run_dir in run_dirs:
        shutil.rmtree(run_dir, ignore_errors=True)


def test_keep_logs_keeps_the_run_directory_and_says_where(inner: InnerSuite) -> None:
    inner.write("test_logs", RECORDING_TESTS.format(count=1, ending=""))

    result = inner.pytester.runpytest("--hil-keep-logs")

    result.assert_outcomes(passed=1)
    pids, run_dirs = recorded_processes(inner)
    (run_dir,) = run_dirs
    try:
        result.stdout.fnmatch_lines([f"hil: device logs kept in {run_dir}"])
        assert not still_running(pids)
        logs = [Path(log) for log in inner.records()["test0"]["logs"]]
        for log in logs:
            assert log.exists()
            assert "==== hil: test_logs.py::test_uses_devices[0] (worker main" in log.read_text()
        assert (logs[0].parent / "fork-server.log").exists()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def test_without_keep_logs_the_run_directory_goes(inner: InnerSuite) -> None:
    inner.write("test_logs", RECORDING_TESTS.format(count=1, ending=""))

    result = inner.pytester.runpytest()

    result.assert_outcomes(passed=1)
    _, run_dirs = recorded_processes(inner)
    assert run_dirs and not any(run_dir.exists() for run_dir in run_dirs)
    assert "device logs kept" not in result.stdout.str()
