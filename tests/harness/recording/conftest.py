"""Shared fixtures of the recording tests: servers, clients, cassettes.

Everything a fixture starts is closed at teardown, newest first. For type
annotations import the helper classes under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness.recording import (
    CassetteHeader,
    CassettePlayer,
    CassetteWriter,
    DeviceInfo,
    RecordingMockServer,
    ReplayOptions,
    ReplayServer,
)

REPO = Path(__file__).resolve().parents[3]
SESSIONS = REPO / "fixtures" / "sessions"
#: Seconds to wait for anything that should happen promptly on a busy 2-core machine.
PROMPT = 10.0


class LineClient:
    """A raw TCP client that writes messages and reads reply lines."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 terminator: bytes) -> None:
        self.reader = reader
        self.writer = writer
        self.terminator = terminator
        self.received = b""

    async def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("latin-1") + self.terminator
        self.writer.write(data)
        await self.writer.drain()

    async def read_line(self) -> str:
        line = await asyncio.wait_for(self.reader.readuntil(self.terminator), PROMPT)
        self.received += line
        return line[: -len(self.terminator)].decode("latin-1")

    async def query(self, message: str) -> str:
        await self.send(message)
        return await self.read_line()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


@pytest.fixture
async def emulator() -> AsyncIterator[Callable[..., Awaitable[RecordingMockServer]]]:
    """Start recording emulators (``speed=0`` unless given); all closed at teardown."""
    servers: list[RecordingMockServer] = []

    async def start(**kwargs: Any) -> RecordingMockServer:
        server = RecordingMockServer(**{"speed": 0, **kwargs})
        servers.append(server)
        await server.start_task
        return server

    yield start
    for server in reversed(servers):
        await server.close()


@pytest.fixture
async def replay_server() -> AsyncIterator[Callable[..., Awaitable[ReplayServer]]]:
    """Serve cassettes: ``await replay_server(path_or_player, **options)``."""
    servers: list[ReplayServer] = []

    async def start(cassette: Path | CassettePlayer, **options: Any) -> ReplayServer:
        player = cassette if isinstance(cassette, CassettePlayer) else CassettePlayer(
            cassette, ReplayOptions(**options))
        server = ReplayServer(player)
        servers.append(server)
        await server.start_task
        return server

    yield start
    for server in reversed(servers):
        await server.close()


async def client_session_served(server: ReplayServer) -> None:
    """Wait until the server has handled everything its last client sent, up to its EOF."""
    # The command loop of a client's connection ends once it has read that client's EOF.
    done, _ = await asyncio.wait({server.read_loop_task}, timeout=PROMPT)
    assert done, "the server did not finish the client's session"


@pytest.fixture
def session_served() -> Callable[[ReplayServer], Awaitable[None]]:
    """``await session_served(server)``: the last client's messages are all handled."""
    return client_session_served


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[LineClient]]]:
    """Open clients: ``await connect(port, terminator=b"\\n")``; all closed at teardown."""
    clients: list[LineClient] = []

    async def open_client(port: int, terminator: bytes = b"\n") -> LineClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), PROMPT)
        client = LineClient(reader, writer, terminator)
        clients.append(client)
        return client

    yield open_client
    for client in reversed(clients):
        await client.close()


def synthetic_header(terminator: str = "\n", source: str = "emulator",
                     idn: str | None = None) -> CassetteHeader:
    return CassetteHeader(device=DeviceInfo(name="keithley6517b", model="6517B", idn=idn),
                          source=source, output_terminator=terminator, input_terminator="\n")


@pytest.fixture
def make_header() -> Callable[..., CassetteHeader]:
    """``make_header(terminator="\\n", source="emulator", idn=None)``: a 6517B cassette header."""
    return synthetic_header


@pytest.fixture
def write_cassette(tmp_path: Path) -> Callable[..., Path]:
    """Write a cassette of ``(message, [replies])`` exchanges; returns its path.

    Times are 1 ms apart per event unless ``gap`` says otherwise.
    """
    names = itertools.count(1)

    def write(exchanges: Iterable[tuple[str, list[str]]], *, terminator: str = "\n",
              gap: float = 0.001, name: str = "", **header: Any) -> Path:
        path = tmp_path / (name or f"synthetic-{next(names)}.jsonl")
        ticks = itertools.count()
        cassette = CassetteWriter(path, synthetic_header(terminator, **header),
                                  clock=lambda: next(ticks) * gap)
        cassette.record("open", b"127.0.0.1:1")
        for message, replies in exchanges:
            cassette.rx(message.encode("latin-1") + b"\n")
            for reply in replies:
                cassette.tx((reply + terminator).encode("latin-1"))
        cassette.record("close", b"")
        return cassette.finish()

    return write


@pytest.fixture(scope="session")
def sessions_module() -> ModuleType:
    """``fixtures/sessions/make_sessions.py``: the client sessions the fixture cassettes hold."""
    spec = importlib.util.spec_from_file_location("make_sessions",
                                                  SESSIONS / "make_sessions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
