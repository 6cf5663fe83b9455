"""Fixtures for the plugin tests: inner pytest runs (``pytester``) and process probes.

Inner suites talk SCPI through ``scpi_query``-style helpers they define
themselves (they run in their own directory, without this conftest). The
outer tests use the plugin's own fixtures where a live instrument helps (a
``tcp:`` target is an emulated device of the outer test).
"""

from __future__ import annotations

import json
import os
import select
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Enable the ``pytester`` plugin for these tests.

    pytest refuses ``pytest_plugins`` outside the top-level conftest, which this one is not
    when the whole suite runs; so the plugin is registered here, after the defaults of the
    options it reads (the command line was parsed before it existed).
    """
    manager = config.pluginmanager
    if manager.has_plugin("pytester"):
        return
    for name, default in (("runpytest", "inprocess"), ("lsof", False)):
        if not hasattr(config.option, name):
            setattr(config.option, name, default)
    manager.import_plugin("pytester")


#: Seconds an inner pytest run in a subprocess may take on a busy 2-core machine.
SUBPROCESS_TIMEOUT = 240.0
STD_WAIT = 10.0

#: Put at the top of inner test files: a line-based SCPI client over TCP.
SCPI_HELPERS = '''
import json
import os
import socket
from pathlib import Path

import pytest


class Scpi:
    def __init__(self, endpoint, terminator=b"\\n"):
        self.sock = socket.create_connection((endpoint.host, endpoint.port), timeout=10)
        self.terminator = terminator
        self.buffer = b""

    def send(self, text):
        self.sock.sendall(text.encode() + b"\\n")

    def query(self, text):
        self.send(text)
        while self.terminator not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the instrument closed the connection")
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(self.terminator)
        return line.decode().strip()

    def close(self):
        self.sock.close()


def record(record_name, **values):
    """Write what an inner test saw where the outer test reads it."""
    directory = Path(os.environ["HIL_TEST_RECORDS"])
    (directory / f"{record_name}.json").write_text(json.dumps(values))
'''


def still_running(pids: Iterable[int], timeout: float = STD_WAIT) -> set[int]:
    """Wait until every process in ``pids`` has ended; return those still running."""
    pidfds: dict[int, int] = {}
    for pid in set(pids):
        try:
            pidfds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue
    try:
        deadline = time.monotonic() + timeout
        while pidfds:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            readable, _, _ = select.select(list(pidfds), [], [], remaining)
            for fd in readable:
                os.close(fd)
                del pidfds[fd]
        return set(pidfds.values())
    finally:
        for fd in pidfds:
            os.close(fd)


class InnerSuite:
    """Writes inner test files with the SCPI helpers and reads what their tests recorded."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.records_dir = pytester.path / "records"
        self.records_dir.mkdir()
        monkeypatch.setenv("HIL_TEST_RECORDS", str(self.records_dir))

    def write(self, name: str, body: str) -> Path:
        return self.pytester.makepyfile(**{name: SCPI_HELPERS + body})

    def records(self) -> dict[str, dict[str, Any]]:
        return {path.stem: json.loads(path.read_text())
                for path in sorted(self.records_dir.glob("*.json"))}

    def run_subprocess(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(*args, timeout=SUBPROCESS_TIMEOUT)


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> InnerSuite:
    return InnerSuite(pytester, monkeypatch)


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """``pytester`` whose inner runs set pytest-asyncio's loop scope (silences its warning)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")
    return pytester
