"""Fixtures for the serial endpoint tests: real ptys, real sockets, checked clean-up.

``endpoints`` builds started ``PtyEndpoint``/``MockServer``/``BridgeServer``
objects and harness ``Client``s and closes them all at teardown, newest first.
``serial_clients`` opens pyserial clients (blocking calls in worker threads)
and closes them. Every test is checked
for leaked pseudo-terminal descriptors and serial threads. Blocking clients
(pyserial, pyvisa) run in worker threads, so the endpoints keep running on the
test's event loop.

For annotations, import the classes under ``if TYPE_CHECKING:`` (conftest
modules outside packages share one module name).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import serial

from devices.keithley.mock_server import MockServer
from harness.serial import BridgeServer, PtyEndpoint
from harness.tcpip import Client

#: Upper bound for things that should happen promptly on a busy 2-core machine.
WAIT = 10.0
log = logging.getLogger("tests.serial")


def open_pty_descriptors() -> set[tuple[int, str]]:
    """This process's descriptors open on a pseudo-terminal (master or slave)."""
    found = set()
    for entry in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{entry}")
        except OSError:
            continue
        if target == "/dev/ptmx" or target.startswith("/dev/pts/"):
            found.add((int(entry), target))
    return found


def serial_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("serial ")]


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    before = open_pty_descriptors()
    yield
    deadline = time.monotonic() + WAIT
    while serial_threads() and time.monotonic() < deadline:
        serial_threads()[0].join(max(0.0, deadline - time.monotonic()))
    assert not serial_threads(), f"serial threads left running: {serial_threads()}"
    leaked = open_pty_descriptors() - before
    assert not leaked, f"pseudo-terminal descriptors left open: {sorted(leaked)}"


class Endpoints:
    """Started endpoints and clients; ``close_all`` closes them newest first."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._closers: list[Callable[[], Any]] = []

    def link(self, name: str = "instrument") -> Path:
        """A symlink path in the test's own directory."""
        return self.tmp_path / f"{name}.tty"

    async def pty(self, **overrides: Any) -> PtyEndpoint:
        """An emulated Keithley on a pty (``speed=0`` unless given); ``pace``, ``link`` too."""
        options = {key: overrides.pop(key) for key in ("pace", "link") if key in overrides}
        overrides.setdefault("speed", 0)
        endpoint = PtyEndpoint.for_keithley(log=log, **options, **overrides)
        return await self.started_pty(endpoint)

    async def started_pty(self, endpoint: PtyEndpoint) -> PtyEndpoint:
        """Start ``endpoint`` and close it at teardown."""
        self._closers.append(endpoint.close)
        await endpoint.start()
        return endpoint

    async def mock(self, **kwargs: Any) -> MockServer:
        """The same emulator on TCP (``speed=0`` unless given)."""
        kwargs.setdefault("speed", 0)
        server = MockServer(log=log, **kwargs)
        self._closers.append(server.close)
        await server.start_task
        return server

    async def bridge(self, url: str | os.PathLike[str], **kwargs: Any) -> BridgeServer:
        server = BridgeServer(str(url), log=log, **kwargs)
        self._closers.append(server.close)
        await server.start_task
        return server

    async def client(self, port: int | None, terminator: bytes = b"\n") -> Client:
        client = Client(host="127.0.0.1", port=port, log=log, terminator=terminator,
                        encoding="latin-1")
        self._closers.append(client.close)
        await asyncio.wait_for(client.start_task, WAIT)
        return client

    async def close_all(self) -> None:
        while self._closers:
            await self._closers.pop()()

    @staticmethod
    async def query(client: Client, message: str) -> str:
        """One query through a harness ``Client``; its reply line without the terminator."""
        await client.write_str(message)
        return await asyncio.wait_for(client.read_str(), WAIT)

    @staticmethod
    async def eventually(predicate: Callable[[], bool], within: float = WAIT) -> None:
        """Return once ``predicate()`` holds (checked every 10 ms); TimeoutError after ``within``.

        For states no event reports (bytes buffered in a framer, a log line).
        """
        async with asyncio.timeout(within):
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.01)


@pytest.fixture
async def endpoints(tmp_path: Path) -> AsyncIterator[Endpoints]:
    made = Endpoints(tmp_path)
    try:
        yield made
    finally:
        await made.close_all()


class SerialClient:
    """A pyserial port whose blocking calls run in a worker thread (the loop stays free)."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self.port.write, data)

    async def readline(self, terminator: bytes = b"\n") -> bytes:
        """The next line with its terminator; ``b""``-ended partial data after the timeout."""
        return bytes(await asyncio.to_thread(self.port.read_until, terminator))

    async def query(self, message: bytes, terminator: bytes = b"\n") -> bytes:
        await self.write(message)
        return await self.readline(terminator)

    async def read(self, size: int) -> bytes:
        return bytes(await asyncio.to_thread(self.port.read, size))

    def close(self) -> None:
        self.port.close()


class SerialClients:
    """Opens pyserial clients (``serial_for_url``) and closes them at teardown."""

    def __init__(self) -> None:
        self.clients: list[SerialClient] = []

    def open(self, url: str | os.PathLike[str], **kwargs: Any) -> SerialClient:
        kwargs.setdefault("timeout", WAIT)
        client = SerialClient(serial.serial_for_url(str(url), **kwargs))
        self.clients.append(client)
        return client

    def close_all(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture
def serial_clients() -> Iterator[SerialClients]:
    clients = SerialClients()
    try:
        yield clients
    finally:
        clients.close_all()
