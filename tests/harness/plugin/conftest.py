"""Fixtures for the plugin tests: inner pytest runs (``pytester``) and their SCPI helpers.

Inner suites talk SCPI through ``scpi_query``-style helpers they define
themselves (they run in their own directory, without this conftest). The
outer tests use the plugin's own fixtures where a live instrument helps (a
``tcp:`` target is an emulated device of the outer test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from plugin_limits import SUBPROCESS_TIMEOUT

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
