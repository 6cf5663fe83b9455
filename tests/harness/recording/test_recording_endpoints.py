"""The tap on endpoints other than the emulator, and replays that are recorded again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devices.keithley import Keithley6517B
from harness.recording import (
    CassettePlayer,
    RecordingMixin,
    RecordingReplayServer,
    RecordingTap,
    ReplayOptions,
    hardware_header,
    read_cassette,
)
from harness.tcpip import OneClientReadLoopServer

if TYPE_CHECKING:
    from conftest import LineClient

    Connect = Callable[..., Awaitable[LineClient]]

PROMPT = 10.0
log = logging.getLogger(__name__)


class ShoutingInstrument(OneClientReadLoopServer):
    """A stand-in for a bridged instrument: answers each line in capitals."""

    async def read_and_dispatch(self) -> None:
        line = await self.read_str()
        if line.endswith("?"):
            await self.write_str(line.upper())


class RecordingShoutingInstrument(RecordingMixin, ShoutingInstrument):
    """The same endpoint with a recording tap, its own code untouched."""


@pytest.fixture
async def shouting() -> AsyncIterator[RecordingShoutingInstrument]:
    tap = RecordingTap(b"\n", header=hardware_header(b"\n", name="shouter", model="X1"))
    server = RecordingShoutingInstrument(host="127.0.0.1", port=0, log=log, terminator=b"\n",
                                         recording_tap=tap)
    await server.start_task
    yield server
    await server.close()


async def test_the_tap_records_any_one_client_server(
        shouting: RecordingShoutingInstrument, connect: Connect, tmp_path: Path) -> None:
    path = tmp_path / "shout.jsonl"
    shouting.recording_tap.start_file(path)
    client = await connect(shouting.port)
    assert await client.query("*idn?") == "*IDN?"
    await client.send("set 1")
    assert await client.query("value?") == "VALUE?"
    await client.close()
    await asyncio.wait_for(shouting.recording_tap.wait_idle(), PROMPT)
    shouting.recording_tap.stop()
    cassette = read_cassette(path)
    assert cassette.header.source == "hardware" and cassette.header.device.model == "X1"
    assert cassette.header.device.idn is None
    assert cassette.idn == "*IDN?"  # no IDN in the header: the first reply to *IDN?
    assert [(e.kind, e.data) for e in cassette.events if e.kind in ("rx", "tx")] == [
        ("rx", b"*idn?\n"), ("tx", b"*IDN?\n"), ("rx", b"set 1\n"), ("rx", b"value?\n"),
        ("tx", b"VALUE?\n")]


async def test_closing_the_endpoint_finishes_its_cassette(
        shouting: RecordingShoutingInstrument, connect: Connect, tmp_path: Path) -> None:
    path = tmp_path / "closed.jsonl"
    shouting.recording_tap.start_file(path)
    client = await connect(shouting.port)
    assert await client.query("a?") == "A?"
    await shouting.close()
    assert read_cassette(path).finished


async def test_new_episodes_replay_falls_back_and_records_the_whole_session(
        write_cassette: Callable[..., Path], connect: Connect, tmp_path: Path) -> None:
    old = write_cassette([("*IDN?", ["OLD-ID"]), (":SENS:CURR:RANG?", ["2.1E-09"])])
    player = CassettePlayer(old, ReplayOptions(strict=False,
                                                fallback=Keithley6517B(speed=0)))
    server = RecordingReplayServer(player)
    try:
        await server.start_task
        server.recording_tap.start_file(old, overwrite=True)
        client = await connect(server.port)
        assert await client.query("*IDN?") == "OLD-ID"  # from the cassette
        assert await client.query(":SENS:CURR:NPLC?") == "1.000000E+00"  # a new episode
        assert await client.query(":SENS:CURR:RANG?") == "2.1E-09"
        await client.close()
        await asyncio.wait_for(server.recording_tap.wait_idle(), PROMPT)
    finally:
        await server.close()
    player.check()
    replayed = CassettePlayer(old)
    assert [e.request for e in replayed.exchanges] == [
        "*IDN?", ":SENS:CURR:NPLC?", ":SENS:CURR:RANG?"]
    assert [r.text for e in replayed.exchanges for r in e.replies] == [
        "OLD-ID", "1.000000E+00", "2.1E-09"]
