"""Leases: one test at a time on a shared instrument, across processes, with a named holder."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.plugin_support import InstrumentEndpoint, Lease, LeaseTimeout

if TYPE_CHECKING:
    from conftest import InnerSuite

HOLDER = {"worker": "gw3", "test": "tests/test_bench.py::test_long"}


@pytest.fixture
def lock_file(tmp_path: Path) -> Path:
    return tmp_path / "bench.lock"


def test_a_second_taker_times_out_naming_the_holder(lock_file: Path) -> None:
    with Lease("tcp:bench:5025", HOLDER, path=lock_file):
        waiter = Lease("tcp:bench:5025", {"worker": "gw0", "test": "t"}, timeout=0.2,
                       path=lock_file)
        with pytest.raises(LeaseTimeout) as caught:
            waiter.acquire()

    message = str(caught.value)
    assert message.startswith("tcp:bench:5025 is still in use after 0.2 s, held by ")
    assert (f"pid {os.getpid()} " in message and "worker gw3" in message
            and "test tests/test_bench.py::test_long" in message)
    assert "--hil-lease-timeout" in message and str(lock_file) in message
    assert not waiter.held


def test_a_released_lease_can_be_taken(lock_file: Path) -> None:
    first = Lease("r", HOLDER, path=lock_file, timeout=1)
    first.acquire()
    first.release()

    with Lease("r", HOLDER, path=lock_file, timeout=1) as second:
        assert second.held


def test_a_dead_holder_frees_the_lease(lock_file: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\n"
         "from harness.plugin_support import Lease\n"
         f"lease = Lease('r', {{'worker': 'x', 'test': 'y'}}, path={str(lock_file)!r})\n"
         "lease.acquire()\nprint('held', flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LeaseTimeout, match=f"held by pid {holder.pid} "):
            Lease("r", HOLDER, path=lock_file, timeout=0.1).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)

        with Lease("r", HOLDER, path=lock_file, timeout=10) as lease:
            assert lease.held
    finally:
        holder.kill()
        holder.wait(10)
        for stream in (holder.stdin, holder.stdout):
            if stream is not None:
                stream.close()


@pytest.mark.hil(speed=0)
def test_a_test_waiting_too_long_fails_naming_the_holder(
        inner: InnerSuite, electrometer: InstrumentEndpoint,
        request: pytest.FixtureRequest) -> None:
    target = f"tcp:127.0.0.1:{electrometer.port}"
    inner.write("test_waits", """
def test_waits(electrometer):
    pass
""")
    with Lease(target, {"worker": "outer", "test": request.node.nodeid}):
        result = inner.pytester.runpytest("--hil-target", target, "--hil-lease-timeout", "0.3")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"hil: LeaseTimeout: {target} is still in use after 0.3 s, held "
                                 f"by pid {os.getpid()} on * (worker outer, test "
                                 f"{request.node.nodeid})*--hil-lease-timeout*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.hil(speed=0)
def test_workers_take_turns_on_a_shared_instrument(
        inner: InnerSuite, electrometer: InstrumentEndpoint) -> None:
    inner.write("test_turns", """
import time

@pytest.mark.parametrize("n", range(8))
def test_uses_the_bench(electrometer, n, worker_id):
    start = time.time()
    scpi = Scpi(electrometer)
    replies = [scpi.query("*IDN?") for _ in range(20)]
    scpi.close()
    record(f"turn{n}", start=start, end=time.time(), worker=worker_id, replies=len(replies))
""")
    result = inner.run_subprocess("-n", "2", "--hil-target", f"tcp:127.0.0.1:{electrometer.port}")

    result.assert_outcomes(passed=8)
    turns = sorted(inner.records().values(), key=lambda turn: turn["start"])
    assert {turn["worker"] for turn in turns} == {"gw0", "gw1"}
    for earlier, later in itertools.pairwise(turns):
        assert earlier["end"] <= later["start"], f"{earlier} overlaps {later}"
