"""Fixtures for the supervisor tests: real processes, real sockets, checked clean-up.

``supervisor`` yields a ``Supervisor`` whose run directory is under the test's
``tmp_path`` and whose devices come from ``device_registry`` (a test module
overrides that fixture to add its own); at teardown it closes it and fails the
test if the fork server or any device process is still alive. ``scpi`` opens
TCP clients to device ports and closes them at teardown.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devices.keithley import DeviceRegistry
from harness.supervisor import Endpoint, Supervisor
from tests.process_probes import children_of, still_running

#: Upper bound for things that should happen promptly on a busy 2-core machine.
STD_WAIT = 10.0


@pytest.fixture
def device_registry() -> DeviceRegistry | None:
    """The registry ``supervisor`` uses: None, the process-wide one; a test module may override."""
    return None


@pytest.fixture
def supervisor(tmp_path: Path, device_registry: DeviceRegistry | None) -> Iterator[Supervisor]:
    sup = Supervisor(run_dir=tmp_path / "run", registry=device_registry)
    try:
        yield sup
    finally:
        fork_server = sup.fork_server_pid
        processes = [fork_server, *children_of(fork_server)] if fork_server else []
        sup.close()
        leftover = still_running(processes, STD_WAIT)
        assert not leftover, f"processes left running after close(): {sorted(leftover)}"


class ScpiClient:
    """A blocking TCP client for one device port, line based."""

    def __init__(self, endpoint: Endpoint, timeout: float = STD_WAIT) -> None:
        self.sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        self._buffer = b""

    def send(self, message: str) -> None:
        self.sock.sendall(message.encode() + b"\n")

    def read_line(self, timeout: float = STD_WAIT) -> bytes:
        """The next reply line without its LF; raises ``TimeoutError`` or ``EOFError``."""
        self.sock.settimeout(timeout)
        while b"\n" not in self._buffer:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the device closed the connection")
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def query(self, message: str) -> str:
        self.send(message)
        return self.read_line().decode()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scpi() -> Iterator[Callable[[Endpoint], ScpiClient]]:
    clients: list[ScpiClient] = []

    def connect(endpoint: Endpoint) -> ScpiClient:
        client = ScpiClient(endpoint)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
