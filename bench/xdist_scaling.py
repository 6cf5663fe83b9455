"""xdist scaling of a suite where every test talks to its own fresh emulated electrometer.

Generates a 200-test suite in a temporary directory (each test: ``*IDN?`` and one
reading from a fresh ``electrometer``), runs it with ``-n 0`` and ``-n 2`` in this
one invocation and prints both wall times, the speed-up and the per-test fixture
overhead (the ``electrometer`` setup: a factory-fresh device). It does so at
speed=0 (instantaneous device: pure CPU, where xdist's own per-test cost of a few
ms weighs as much as the test) and at speed=1 (the instrument's real timing,
where tests mostly wait and workers overlap their waits).
For the record of how a fresh device is made, it also measures, side by side,
the two ways to get one: starting a new device process versus renewing a
running one over its control channel.

    .venv/bin/python bench/xdist_scaling.py [--tests 200] [--workers 2] [--speeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SUITE = textwrap.dedent('''
    import socket

    import pytest

    # Power-on is continuous initiation, which refuses READ?: *RST first.
    READING = "*RST;:SYST:ZCH OFF;:FORM:ELEM READ;:READ?"


    def query(sock, file, text):
        sock.sendall(text.encode() + b"\\n")
        return file.readline().decode().strip()


    @pytest.mark.hil(speed={speed})
    @pytest.mark.parametrize("n", range({tests}))
    def test_fresh_electrometer(electrometer, n):
        with socket.create_connection((electrometer.host, electrometer.port), timeout=30) as sock:
            file = sock.makefile("rb")
            assert "KEITHLEY" in query(sock, file, "*IDN?")
            float(query(sock, file, READING))
            file.close()
''')

# The same number of tests without any instrument: what xdist itself costs.
EMPTY_SUITE = textwrap.dedent('''
    import pytest


    @pytest.mark.parametrize("n", range({tests}))
    def test_nothing(n):
        pass
''')

# Every process writes the setup duration of each test (the fixture overhead).
CONFTEST = textwrap.dedent('''
    import json
    import os


    def pytest_runtest_logreport(report):
        if report.when == "setup" and report.passed:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            path = os.path.join(os.environ["HIL_BENCH_DURATIONS"], worker + ".jsonl")
            with open(path, "a") as file:
                file.write(json.dumps(report.duration) + "\\n")
''')


def run_suite(suite: Path, workers: int, durations: Path) -> tuple[float, list[float]]:
    """Wall time of one pytest run and the setup durations of its tests."""
    durations.mkdir()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
               "-p", "no:cacheprovider", "-n", str(workers), str(suite)]
    environment = {**os.environ, "HIL_BENCH_DURATIONS": str(durations)}
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=suite, env=environment, capture_output=True,
                               text=True, check=False)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(f"pytest -n {workers} failed:\n{completed.stdout[-4000:]}{completed.stderr}")
    setups = [json.loads(line) for path in durations.glob("*.jsonl")
              for line in path.read_text().splitlines()]
    return wall, setups


def fresh_device_costs(rounds: int) -> tuple[float, float]:
    """Median seconds to get a fresh device: a new process, and renewing a running one."""
    from harness.supervisor import Supervisor

    with Supervisor() as supervisor:
        device = supervisor.spawn("keithley6517b", speed=0)
        spawns = []
        for _ in range(rounds):
            start = time.perf_counter()
            supervisor.spawn("keithley6517b", speed=0)
            spawns.append(time.perf_counter() - start)
        renewals = []
        for _ in range(rounds):
            start = time.perf_counter()
            device.control.renew()
            renewals.append(time.perf_counter() - start)
    return statistics.median(spawns), statistics.median(renewals)


def measure(directory: Path, tests: int, workers: int, speed: float) -> None:
    """Run the suite at ``speed`` with ``-n 0`` and ``-n workers``; print the figures."""
    suite = directory / f"suite-speed{speed:g}"
    suite.mkdir()
    (suite / "test_fresh.py").write_text(SUITE.format(tests=tests, speed=speed))
    (suite / "conftest.py").write_text(CONFTEST)
    serial_wall, serial_setups = run_suite(suite, 0, suite / "durations-serial")
    parallel_wall, parallel_setups = run_suite(suite, workers, suite / "durations-parallel")
    print(f"{tests} tests, each with a fresh electrometer (*IDN? + one reading, "
          f"speed={speed:g})")
    print(f"  -n 0: {serial_wall:6.2f} s wall")
    print(f"  -n {workers}: {parallel_wall:6.2f} s wall")
    print(f"  speed-up: {serial_wall / parallel_wall:.2f}")
    print(f"  fixture overhead per test (electrometer setup), median: "
          f"-n 0 {statistics.median(serial_setups) * 1000:.2f} ms, "
          f"-n {workers} {statistics.median(parallel_setups) * 1000:.2f} ms")


def measure_baseline(directory: Path, tests: int, workers: int) -> None:
    """xdist alone: the same number of empty tests."""
    suite = directory / "suite-empty"
    suite.mkdir()
    (suite / "test_nothing.py").write_text(EMPTY_SUITE.format(tests=tests))
    serial_wall, _ = run_suite(suite, 0, suite / "durations-serial")
    parallel_wall, _ = run_suite(suite, workers, suite / "durations-parallel")
    print(f"baseline, {tests} empty tests (no instrument): -n 0 {serial_wall:.2f} s, "
          f"-n {workers} {parallel_wall:.2f} s, speed-up {serial_wall / parallel_wall:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--speeds", type=float, nargs="+", default=[0.0, 1.0],
                        help="device speeds to run the suite at (0: instantaneous)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hil-xdist-bench-") as directory:
        measure_baseline(Path(directory), args.tests, args.workers)
        for speed in args.speeds:
            measure(Path(directory), args.tests, args.workers, speed)
    spawn, renew = fresh_device_costs(rounds=30)
    print(f"a fresh device, median of 30: new process {spawn * 1000:.2f} ms, "
          f"renewal of a pooled one {renew * 1000:.2f} ms (the fixture renews)")


if __name__ == "__main__":
    main()
