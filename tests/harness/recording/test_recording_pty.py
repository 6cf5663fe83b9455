"""The recording tap on a ``PtyEndpoint``: a raw-termios client on the real pseudo-terminal.

The pty is recorded as one long connection; its cassette must read back,
replay strictly over TCP and verify against the emulator like a TCP one.
"""

from __future__ import annotations

import asyncio
import os
import termios
import tty
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.recording import (
    RecordingTap,
    build_session,
    emulator_header,
    read_cassette,
    verify,
)
from harness.serial import PtyEndpoint
from harness.serial.pty_output import PACE_SLICE

if TYPE_CHECKING:
    from conftest import LineClient
    from harness.recording import RecordingMockServer, ReplayServer

    Emulator = Callable[..., Awaitable[RecordingMockServer]]
    Replay = Callable[..., Awaitable[ReplayServer]]
    Connect = Callable[..., Awaitable[LineClient]]

PROMPT = 10.0
SERIAL = b"4114292"  # the emulated 6517B's (spec keithley.md, *IDN?)
#: A conversation: (message, expects a reply). The command without reply sits mid-way.
CONVERSATION = [("*IDN?", True), (":SENS:FUNC?", True), (":SENS:CURR:NPLC 5", False),
                (":SENS:CURR:NPLC?", True), ("BOGUS", False), (":SYST:ERR?", True),
                ("*ESR?", True)]


class PtyClient:
    """A client on the pty's slave side, raw mode, non-blocking, reads with timeouts."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd, termios.TCSANOW)
        self._buffer = b""
        self.received = b""

    async def send(self, message: str) -> None:
        data = message.encode("latin-1") + b"\n"
        assert os.write(self.fd, data) == len(data)

    async def read_line(self, terminator: bytes = b"\n") -> bytes:
        async with asyncio.timeout(PROMPT):
            while terminator not in self._buffer:
                await self._readable()
                try:
                    self._buffer += os.read(self.fd, 4096)
                except BlockingIOError:
                    continue
        line, _, self._buffer = self._buffer.partition(terminator)
        self.received += line + terminator
        return line + terminator

    async def query(self, message: str) -> bytes:
        await self.send(message)
        return await self.read_line()

    async def converse(self) -> list[bytes]:
        """``CONVERSATION``; the replies received."""
        replies = []
        for message, answered in CONVERSATION:
            if answered:
                replies.append(await self.query(message))
            else:
                await self.send(message)
        return replies

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_reader(self.fd, ready.set_result, None)
        try:
            await ready
        finally:
            loop.remove_reader(self.fd)

    def close(self) -> None:
        os.close(self.fd)


PtyFactory = Callable[..., Awaitable[PtyEndpoint]]


@pytest.fixture
async def recorded_pty(emulator: Emulator) -> AsyncIterator[PtyFactory]:
    """``await recorded_pty(redact_serial=False, **endpoint)``: an emulator's device on a
    started pty with its own tap (header ``transport: pty``); closed at teardown."""
    endpoints: list[PtyEndpoint] = []

    async def start(*, redact_serial: bool = False, **options: Any) -> PtyEndpoint:
        server = await emulator()
        tap = RecordingTap(b"\n", redact_serial=redact_serial,
                           header=lambda: emulator_header(server, transport="pty",
                                                          input_terminator="\n"))
        endpoint = PtyEndpoint.for_keithley(server.config, device=server.device,
                                            recording_tap=tap, **options)
        endpoints.append(endpoint)
        await endpoint.start()
        return endpoint

    yield start
    for endpoint in reversed(endpoints):
        await endpoint.close()


@pytest.fixture
async def pty_client() -> AsyncIterator[Callable[[str], PtyClient]]:
    """Open clients on pty paths; all closed at teardown."""
    clients: list[PtyClient] = []

    def open_client(path: str) -> PtyClient:
        clients.append(PtyClient(path))
        return clients[-1]

    yield open_client
    for client in clients:
        client.close()


async def record_conversation(recorded_pty: PtyFactory, pty_client: Callable[[str], PtyClient],
                              path: Path, **options: Any) -> tuple[list[bytes], PtyEndpoint]:
    """``CONVERSATION`` on a recorded pty, cassette at ``path``; the replies and the (closed)
    endpoint."""
    endpoint = await recorded_pty(**options)
    assert endpoint.recording_tap is not None and endpoint.path is not None
    endpoint.recording_tap.start_file(path)
    client = pty_client(endpoint.path)
    replies = await client.converse()
    await endpoint.close()
    return replies, endpoint


async def test_pty_session_is_one_connection_with_the_exchanges_in_order(
        recorded_pty: PtyFactory, pty_client: Callable[[str], PtyClient], tmp_path: Path) -> None:
    path = tmp_path / "pty.jsonl"
    replies, endpoint = await record_conversation(recorded_pty, pty_client, path)
    assert replies[0].startswith(b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,")
    cassette = read_cassette(path)
    assert cassette.finished
    assert cassette.header.transport == "pty"
    assert (cassette.header.input_terminator, cassette.header.output_terminator) == ("\n", "\n")
    events = cassette.events
    assert (events[0].kind, events[0].text) == ("open", endpoint.path)
    assert [e.kind for e in events[-2:]] == ["close", "end"]
    assert [e.kind for e in events].count("open") == 1
    exchanges = build_session(cassette).exchanges
    assert [e.request for e in exchanges] == [message for message, _ in CONVERSATION]
    assert [e.data for e in events if e.kind == "tx"] == replies


async def test_pty_cassette_replays_strictly_and_verifies_against_the_emulator(
        recorded_pty: PtyFactory, pty_client: Callable[[str], PtyClient],
        replay_server: Replay, connect: Connect, tmp_path: Path) -> None:
    path = tmp_path / "pty.jsonl"
    replies, _ = await record_conversation(recorded_pty, pty_client, path)
    server = await replay_server(path)
    client = await connect(server.port)
    replayed = []
    for message, answered in CONVERSATION:
        await client.send(message)
        if answered:
            replayed.append((await client.read_line()).encode("latin-1") + b"\n")
    assert replayed == replies
    await client.close()
    server.player.check()
    result = verify(path, "keithley6517b")
    assert result.agree, result.format()
    assert result.exchanges == len(CONVERSATION)


async def test_a_message_without_reply_is_on_file_while_the_pty_serves(
        recorded_pty: PtyFactory, pty_client: Callable[[str], PtyClient], tmp_path: Path) -> None:
    endpoint = await recorded_pty()
    assert endpoint.recording_tap is not None and endpoint.path is not None
    cassette = endpoint.recording_tap.start_file(tmp_path / "live.jsonl")
    client = pty_client(endpoint.path)
    await client.send(":SENS:CURR:NPLC 2")
    assert await client.query(":SENS:CURR:NPLC?") == b"2.000000E+00\n"
    # Nothing is finished: a killed process would leave exactly this on disk.
    live = read_cassette(cassette.temporary_path)
    assert not live.finished
    assert [(e.kind, e.data) for e in live.events] == [
        ("open", endpoint.path.encode()), ("rx", b":SENS:CURR:NPLC 2\n"),
        ("rx", b":SENS:CURR:NPLC?\n"), ("tx", b"2.000000E+00\n")]


async def test_paced_replies_are_recorded_as_whole_lines(
        recorded_pty: PtyFactory, pty_client: Callable[[str], PtyClient], tmp_path: Path) -> None:
    path = tmp_path / "paced.jsonl"
    replies, endpoint = await record_conversation(recorded_pty, pty_client, path, pace=True,
                                                  **{"serial.baud": 19200})
    # Paced output leaves in chunks of PACE_SLICE's worth of characters (19 at 19200 baud).
    chunk = int(PACE_SLICE / endpoint.settings.seconds_per_character)
    assert len(replies[0]) > 2 * chunk
    tx = [e.data for e in read_cassette(path).events if e.kind == "tx"]
    assert tx == replies


async def test_redact_serial_zeroes_the_serial_in_the_pty_cassette(
        recorded_pty: PtyFactory, pty_client: Callable[[str], PtyClient], tmp_path: Path) -> None:
    path = tmp_path / "redacted.jsonl"
    replies, _ = await record_conversation(recorded_pty, pty_client, path, redact_serial=True)
    assert SERIAL in replies[0]
    cassette = read_cassette(path)
    assert cassette.header.redacted
    assert SERIAL not in path.read_bytes()
    tx = [e.data for e in cassette.events if e.kind == "tx"]
    assert tx == [reply.replace(SERIAL, b"0" * len(SERIAL)) for reply in replies]


async def test_record_sessions_writes_one_cassette_only_once_a_client_spoke(
        recorded_pty: PtyFactory, pty_client: Callable[[str], PtyClient], tmp_path: Path) -> None:
    silent = await recorded_pty()
    used = await recorded_pty()
    for endpoint, directory in ((silent, tmp_path / "silent"), (used, tmp_path / "used")):
        assert endpoint.recording_tap is not None
        endpoint.recording_tap.record_sessions(directory, prefix="bench-pty")
    assert used.path is not None
    assert (await pty_client(used.path).query("*IDN?")).startswith(b"KEITHLEY")
    await silent.close()
    await used.close()
    assert list((tmp_path / "silent").iterdir()) == []
    (path,) = (tmp_path / "used").iterdir()
    assert path.name.startswith("bench-pty-")
    assert [e.kind for e in read_cassette(path).events] == ["open", "rx", "tx", "close", "end"]
