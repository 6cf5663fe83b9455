"""Fixtures for the ``hil`` command tests: real ``hil`` processes, real clients.

``hil`` starts ``python -m harness.cli ARGS`` in its own session with
``XDG_RUNTIME_DIR`` under the test's ``tmp_path`` (so ``hil status`` sees only
this test's fleets); at teardown every ``hil`` still running is stopped and the
test fails if any process it started (fork server, devices) outlives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.process_probes import descendants_of, still_running

#: Start-up includes imports and a fork server; the machine is shared.
START_WAIT = 60.0
#: Stopping, replies and other things that should be prompt.
WAIT = 20.0
HIL = (sys.executable, "-m", "harness.cli")
REPOSITORY = Path(__file__).resolve().parents[3]


class HilProcess:
    """One running ``hil`` command: stdout read line by line, stderr kept in a file."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str], stderr_path: Path) -> None:
        self.args = args
        self.stderr_path = stderr_path
        with open(stderr_path, "wb") as stderr:
            self.popen = subprocess.Popen([*HIL, *args], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=stderr, env=env,
                                          start_new_session=True)
        self.pid = self.popen.pid
        self._buffer = b""
        self.started: set[int] = set()

    def read_line(self, timeout: float = START_WAIT) -> str:
        """The next stdout line; fails if none comes in time or the process ends first."""
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([fd], [], [], max(0.0, remaining))
            if not readable:
                raise AssertionError(f"hil {' '.join(self.args)} printed no line within "
                                     f"{timeout} s; stderr: {self.stderr()!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"hil {' '.join(self.args)} ended without a line; "
                                     f"exit {self.popen.wait(WAIT)}, stderr: {self.stderr()!r}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def ready(self) -> dict[str, Any]:
        """The ``--json`` readiness object; remembers the processes started so far."""
        report: dict[str, Any] = json.loads(self.read_line())
        self.started |= descendants_of(self.pid)
        return report

    def interrupt(self) -> int:
        """Ctrl-C as a terminal sends it (SIGINT to the process group); the exit code."""
        return self.stop(signal.SIGINT, group=True)

    def stop(self, signum: int, *, group: bool = False) -> int:
        self.started |= descendants_of(self.pid)
        if group:
            os.killpg(self.pid, signum)
        else:
            self.popen.send_signal(signum)
        return self.popen.wait(WAIT)

    def finish(self, timeout: float = START_WAIT) -> int:
        """Wait for the command to end by itself; its exit code."""
        return self.popen.wait(timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout_rest(self) -> str:
        """What is left on stdout once the process has ended."""
        assert self.popen.stdout is not None and self.popen.returncode is not None
        return (self._buffer + self.popen.stdout.read()).decode()

    def close(self) -> set[int]:
        """Stop it if it still runs; the processes it started that are still alive."""
        if self.popen.returncode is None:
            self.started |= descendants_of(self.pid)
            self.popen.terminate()
            try:
                self.popen.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(WAIT)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        return still_running(self.started, WAIT)


HilFactory = Callable[..., HilProcess]


@pytest.fixture
def runtime_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "xdg"
    directory.mkdir(mode=0o700)
    return directory


@pytest.fixture
def hil(tmp_path: Path, runtime_dir: Path) -> Iterator[HilFactory]:
    """Start ``hil ARGS``; ``env`` overrides environment variables."""
    started: list[HilProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> HilProcess:
        environment = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir), **(env or {})}
        process = HilProcess(args, environment, tmp_path / f"stderr-{len(started)}.txt")
        started.append(process)
        return process

    yield start
    leftovers: set[int] = set()
    for process in started:
        leftovers |= process.close()
    for pid in leftovers:  # only processes this test's hil started
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not leftovers, f"processes outlived their hil command: {sorted(leftovers)}"


@dataclass(frozen=True)
class Completed:
    """A command that ended by itself."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture
def hil_run(hil: HilFactory) -> Callable[..., Completed]:
    """Run ``hil ARGS`` to its end (``env`` as for ``hil``)."""

    def run(*args: str, env: dict[str, str] | None = None) -> Completed:
        process = hil(*args, env=env)
        code = process.finish()
        return Completed(code, process.stdout_rest(), process.stderr())

    return run


@pytest.fixture
def example_fleet() -> Path:
    return REPOSITORY / "fixtures" / "fleets" / "example.toml"


class LineClient:
    """A blocking TCP client reading lines that end with ``terminator``."""

    def __init__(self, host: str, port: int, terminator: bytes = b"\n") -> None:
        self.sock = socket.create_connection((host, port), timeout=WAIT)
        self.terminator = terminator
        self._buffer = b""

    def query(self, message: bytes) -> bytes:
        """Send ``message`` and return the next line, terminator included."""
        self.sock.sendall(message)
        return self.read_line()

    def request(self, op: str, **params: Any) -> dict[str, Any]:
        """One request on a control channel (JSON lines); the decoded reply."""
        reply: dict[str, Any] = json.loads(self.query(json.dumps({"op": op, **params}).encode()
                                                      + b"\n"))
        return reply

    def read_line(self) -> bytes:
        while self.terminator not in self._buffer:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(f"connection closed; unread: {self._buffer!r}")
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(self.terminator)
        return line + self.terminator

    def read_to_end(self) -> bytes:
        data = self._buffer
        while chunk := self.sock.recv(65536):
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connect() -> Iterator[Callable[..., LineClient]]:
    """Open ``LineClient`` connections, all closed at teardown."""
    clients: list[LineClient] = []

    def open_client(host: str, port: int, terminator: bytes = b"\n") -> LineClient:
        clients.append(LineClient(host, port, terminator))
        return clients[-1]

    yield open_client
    for client in clients:
        client.close()

