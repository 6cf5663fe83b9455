"""Record through a real socket, replay through a real socket, compare the bytes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from harness.recording import (
    CassetteHeader,
    CassettePlayer,
    RecordingTap,
    ReplayLeftovers,
    ReplayMismatch,
    ReplayOptions,
    build_session,
    read_cassette,
)

if TYPE_CHECKING:
    from conftest import LineClient
    from harness.recording import RecordingMockServer, ReplayServer

    Emulator = Callable[..., Awaitable[RecordingMockServer]]
    Replay = Callable[..., Awaitable[ReplayServer]]
    Connect = Callable[..., Awaitable[LineClient]]

SESSIONS = Path(__file__).resolve().parents[3] / "fixtures" / "sessions"
PROMPT = 10.0


async def record_session(emulator: Emulator, path: Path,
                         session: Callable[[int], Awaitable[bytes]], **server: object) -> bytes:
    recorder = await emulator(**server)
    recorder.recording_tap.start_file(path)
    assert recorder.port is not None
    received = await session(recorder.port)
    await asyncio.wait_for(recorder.recording_tap.wait_idle(), PROMPT)
    recorder.recording_tap.stop()
    return received


async def test_observatory_session_replays_byte_for_byte(
        emulator: Emulator, replay_server: Replay, sessions_module: ModuleType,
        tmp_path: Path) -> None:
    path = tmp_path / "observatory.jsonl"
    recorded = await record_session(emulator, path, sessions_module.observatory_session,
                                    terminator=b"\r")
    assert b"KEITHLEY" in recorded and b"RDNG#" in recorded
    server = await replay_server(path)
    replayed = await sessions_module.observatory_session(server.port)
    assert replayed == recorded
    server.player.check()


async def test_a_recorded_cassette_holds_every_byte_of_both_directions(
        emulator: Emulator, connect: Connect, tmp_path: Path) -> None:
    path = tmp_path / "bytes.jsonl"
    server = await emulator()
    server.recording_tap.start_file(path)
    client = await connect(server.port)
    sent = [b"*IDN?\r\n", b":SENS:FUNC 'CURR';:SENS:CURR:NPLC 0.1\n", b"SYST:ERR?\n"]
    for data in sent:
        await client.send(data)
        if b"?" in data:
            await client.read_line()
    await client.close()
    await asyncio.wait_for(server.recording_tap.wait_idle(), PROMPT)
    server.recording_tap.stop()
    events = read_cassette(path).events
    assert b"".join(e.data for e in events if e.kind == "rx") == b"".join(sent)
    assert b"".join(e.data for e in events if e.kind == "tx") == client.received
    assert [e.kind for e in events if e.kind not in ("rx", "tx")] == ["open", "close", "end"]


async def test_a_message_split_over_reads_is_one_event(
        tmp_path: Path, make_header: Callable[..., CassetteHeader]) -> None:
    path = tmp_path / "split.jsonl"
    tap = RecordingTap(b"\n", header=make_header())
    tap.start_file(path)
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(tap.wrap(reader, writer))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        client_reader, client_writer = await asyncio.open_connection(
            "127.0.0.1", server.sockets[0].getsockname()[1])
        reader, writer = await asyncio.wait_for(accepted.get(), PROMPT)
        for chunk in (b"*ID", b"N?\r", b"\n*STB?\n"):
            client_writer.write(chunk)
            assert await asyncio.wait_for(reader.read(100), PROMPT) == chunk
        writer.write(b"KEITH")
        writer.write(b"LEY\n0\n")
        assert await asyncio.wait_for(client_reader.readexactly(11), PROMPT) == b"KEITHLEY\n0\n"
        client_writer.close()
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    tap.stop()
    cassette = read_cassette(path)
    events = cassette.events
    # The LF of a CRLF split over two reads is its own (empty) message, as the framer sees it.
    assert [e.data for e in events if e.kind == "rx"] == [b"*IDN?\r", b"\n", b"*STB?\n"]
    assert [e.data for e in events if e.kind == "tx"] == [b"KEITHLEY\n", b"0\n"]
    assert [e.request for e in build_session(cassette).exchanges] == ["*IDN?", "*STB?"]


async def test_a_rejected_second_client_never_appears_in_the_cassette(
        emulator: Emulator, connect: Connect, tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    server = await emulator()
    server.recording_tap.start_file(path)
    first = await connect(server.port)
    assert (await first.query("*IDN?")).startswith("KEITHLEY")
    second = await connect(server.port)
    assert await asyncio.wait_for(second.reader.read(), PROMPT) == b""  # closed at once
    assert (await first.query("*STB?")) == "0"
    server.recording_tap.stop()
    kinds = [event.kind for event in read_cassette(path).events]
    assert kinds.count("open") == 1 and kinds.count("close") == 0


async def test_each_connection_gets_its_own_cassette(
        emulator: Emulator, connect: Connect, tmp_path: Path) -> None:
    server = await emulator()
    server.recording_tap.record_sessions(tmp_path, prefix="test")
    for message in ("*IDN?", "*STB?"):
        client = await connect(server.port)
        await client.query(message)
        await client.close()
        await asyncio.wait_for(server.recording_tap.wait_idle(), PROMPT)
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2 and all(name.startswith("test-") for name in names), names
    cassettes = [tmp_path / name for name in names]
    requests = [[e.data for e in read_cassette(c).events if e.kind == "rx"] for c in cassettes]
    assert sorted(requests) == [[b"*IDN?\n"], [b"*STB?\n"]]
    for cassette in cassettes:
        # One open, one close, no note: the session starts with its connection.
        assert [e.kind for e in read_cassette(cassette).events] == [
            "open", "rx", "tx", "close", "end"]


async def test_recording_started_during_a_connection_opens_with_a_note(
        emulator: Emulator, connect: Connect, tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    server = await emulator()
    client = await connect(server.port)
    await client.query("*IDN?")
    server.recording_tap.start_file(path)
    await client.query("*STB?")
    server.recording_tap.stop()
    events = read_cassette(path).events
    assert [e.kind for e in events][:2] == ["open", "note"]
    assert [e.data for e in events if e.kind == "rx"] == [b"*STB?\n"]


async def test_pymeasure_driver_runs_against_the_replayed_fixture(
        emulator: Emulator, replay_server: Replay, sessions_module: ModuleType,
        session_served: Callable[[ReplayServer], Awaitable[None]]) -> None:
    live = await emulator(seed=0)
    expected = await asyncio.to_thread(sessions_module.pymeasure_session, live.port)
    server = await replay_server(SESSIONS / "pymeasure_6517b.jsonl")
    replayed = await asyncio.to_thread(sessions_module.pymeasure_session, server.port)
    assert replayed == expected
    # The driver's last messages have no reply: wait until the server has read them.
    await session_served(server)
    server.player.check()


async def test_observatory_fixture_replays_completely(
        replay_server: Replay, sessions_module: ModuleType) -> None:
    server = await replay_server(SESSIONS / "observatory_6517b.jsonl")
    received = await sessions_module.observatory_session(server.port)
    assert received.count(b"\r") == sum(
        len(e.replies) for e in server.player.exchanges)
    server.player.check()


async def test_strict_replay_sends_no_reply_for_a_wrong_message(
        replay_server: Replay, connect: Connect, write_cassette: Callable[..., Path]) -> None:
    path = write_cassette([("*IDN?", ["ID"]), (":SENS:CURR:RANG?", ["2.1E-09"]),
                           ("*STB?", ["0"])])
    server = await replay_server(path)
    client = await connect(server.port)
    assert await client.query("*IDN?") == "ID"
    await client.send(":SENS:VOLT:RANG?")  # not what the cassette holds next
    # The next line is the reply to the right message: nothing was sent for the wrong one.
    assert await client.query(":SENS:CURR:RANG?") == "2.1E-09"
    assert await client.query("*STB?") == "0"
    with pytest.raises(ReplayMismatch, match=r"exchange 1 \(line 5\): expected "
                       r"':SENS:CURR:RANG\?', got ':SENS:VOLT:RANG\?'"):
        server.player.check()


async def test_a_client_that_stops_early_leaves_leftovers(
        replay_server: Replay, connect: Connect, write_cassette: Callable[..., Path]) -> None:
    server = await replay_server(write_cassette([("*IDN?", ["ID"]), ("*STB?", ["0"])]))
    client = await connect(server.port)
    assert await client.query("*IDN?") == "ID"
    with pytest.raises(ReplayLeftovers, match="1 of 2 recorded exchanges"):
        server.player.check()


async def test_lenient_replay_serves_a_reordered_session(
        replay_server: Replay, connect: Connect, write_cassette: Callable[..., Path]) -> None:
    path = write_cassette([("*IDN?", ["ID"]), (":TRAC:POIN?", ["3"]), ("*STB?", ["65"])])
    server = await replay_server(CassettePlayer(path, ReplayOptions(strict=False)))
    client = await connect(server.port)
    assert [await client.query(m) for m in ("*STB?", "*idn?", ":TRACe:POINts?")] == [
        "65", "ID", "3"]
    server.player.check()
