"""Recording a supervised device through its control channel (record_start / record_stop)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from socket_query import query

from harness.recording import CassettePlayer, read_cassette, verify
from harness.supervisor import ControlError, Endpoint, Supervisor

PROMPT = 30.0


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Endpoint]:
    supervisor = Supervisor(run_dir=tmp_path / "run")
    try:
        yield supervisor.spawn("keithley6517b", speed=0)
    finally:
        supervisor.close()


def test_control_channel_records_a_session_that_replays_and_verifies(
        device: Endpoint, tmp_path: Path) -> None:
    path = tmp_path / "supervised.jsonl"
    started = device.control.request("record_start", path=str(path))
    assert started["path"] == str(path) and started["writing"].endswith(".partial")
    with socket.create_connection((device.host, device.port), timeout=PROMPT) as sock:
        idn = query(sock, b"*IDN?\n")
        query(sock, b":SENS:FUNC 'VOLT';:SENS:VOLT:RANG?\n")
    assert device.control.request("record_stop") == {"path": str(path)}
    cassette = read_cassette(path)
    assert cassette.finished and cassette.header.source == "emulator"
    assert next(e.data for e in cassette.events if e.kind == "tx") == idn
    assert len(CassettePlayer(cassette).exchanges) == 2
    assert verify(cassette).agree


def test_record_start_refuses_to_replace_a_cassette(device: Endpoint, tmp_path: Path) -> None:
    path = tmp_path / "there.jsonl"
    path.write_text("precious\n")
    with pytest.raises(ControlError, match="already exists"):
        device.control.request("record_start", path=str(path))
    assert path.read_text() == "precious\n"


def test_record_start_needs_an_absolute_path(device: Endpoint) -> None:
    with pytest.raises(ControlError, match="absolute file path"):
        device.control.request("record_start", path="relative.jsonl")


def test_record_stop_without_a_recording_is_harmless(device: Endpoint) -> None:
    assert device.control.request("record_stop") == {"path": None}
