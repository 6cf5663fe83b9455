"""record_start / record_stop on a bridge's control channel, alike to an emulator's.

The "instrument" is an emulated 6517B on a pseudo-terminal; the bridge is a
supervised device process in front of it, as ``hil bridge`` runs it.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from harness.recording import build_session, read_cassette, verify
from harness.supervisor import ControlError, Endpoint, Supervisor

WAIT = 10.0
EMULATOR_ONLY_OPERATIONS = {"reset": {}, "get": {}, "set": {"values": {"nplc": 1}},
                            "signal": {"function": "CURR", "kind": "constant", "value": 1e-9},
                            "trigger": {}, "renew": {}, "history": {}}


def query(endpoint: Endpoint, *messages: bytes) -> list[bytes]:
    """Send each message on one TCP connection and read its reply line."""
    replies = []
    with socket.create_connection((endpoint.host, endpoint.port), timeout=WAIT) as sock:
        stream = sock.makefile("rb")
        for message in messages:
            sock.sendall(message)
            replies.append(stream.readline())
        stream.close()
    return replies


def failure(endpoint: Endpoint, op: str, **params: Any) -> str:
    """The error text of a control request that must fail."""
    with pytest.raises(ControlError) as raised:
        endpoint.control.request(op, **params)
    return raised.value.error


@pytest.fixture
def emulator(supervisor: Supervisor) -> Endpoint:
    return supervisor.spawn("keithley6517b", speed=0, pty=True)


@pytest.fixture
def bridge(supervisor: Supervisor, emulator: Endpoint) -> Endpoint:
    assert emulator.pty_link is not None
    return supervisor.spawn_bridge(str(emulator.pty_link), name="bench")


def test_bridge_records_on_request_into_a_hardware_cassette(
        bridge: Endpoint, tmp_path: Path) -> None:
    path = tmp_path / "bench.jsonl"
    started = bridge.control.request("record_start", path=str(path))
    assert started["path"] == str(path) and started["writing"].endswith(".partial")
    replies = query(bridge, b"*IDN?\n", b":SENS:FUNC 'VOLT';:SENS:FUNC?\n")
    assert replies[0].startswith(b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,")
    assert bridge.control.request("record_stop") == {"path": str(path)}

    cassette = read_cassette(path)
    assert cassette.finished
    assert (cassette.header.source, cassette.header.transport) == ("hardware", "serial-bridge")
    exchanges = build_session(cassette).exchanges
    assert [e.request for e in exchanges] == ["*IDN?", ":SENS:FUNC 'VOLT';:SENS:FUNC?"]
    assert [[r.text.encode("latin-1") + b"\n" for r in e.replies]
            for e in exchanges] == [[reply] for reply in replies]
    # Recorded through a bridge in front of the emulator, it must agree with the emulator.
    assert verify(cassette, "keithley6517b").agree


def test_record_errors_are_the_emulators_on_a_bridge(
        emulator: Endpoint, bridge: Endpoint, tmp_path: Path) -> None:
    taken = tmp_path / "taken.jsonl"
    taken.write_text("precious\n")
    requests: list[dict[str, Any]] = [
        {"path": "relative.jsonl"}, {"path": str(taken)},
        {"path": str(taken), "overwrite": "yes"}, {"path": str(taken), "colour": "red"}]
    for params in requests:
        assert failure(bridge, "record_start", **params) == failure(
            emulator, "record_start", **params)
    assert "absolute file path" in failure(bridge, "record_start", path="relative.jsonl")
    assert "already exists" in failure(bridge, "record_start", path=str(taken))
    assert taken.read_text() == "precious\n"
    assert bridge.control.request("record_stop") == {"path": None}
    assert emulator.control.request("record_stop") == {"path": None}


@pytest.mark.parametrize("kind", ["emulator", "bridge"])
def test_record_start_while_recording_is_refused_and_the_first_cassette_kept(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    endpoint: Endpoint = request.getfixturevalue(kind)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    endpoint.control.request("record_start", path=str(first))
    error = failure(endpoint, "record_start", path=str(second))
    assert error == f"record_start: already recording into {first}; send record_stop first"
    query(endpoint, b"*IDN?\n")
    assert endpoint.control.request("record_stop") == {"path": str(first)}
    assert [e.request for e in build_session(read_cassette(first)).exchanges] == ["*IDN?"]
    assert not second.exists()


def test_bridge_overwrites_a_cassette_only_when_asked(bridge: Endpoint, tmp_path: Path) -> None:
    path = tmp_path / "again.jsonl"
    path.write_text("old\n")
    started = bridge.control.request("record_start", path=str(path), overwrite=True)
    assert started["path"] == str(path)
    assert path.read_text() == "old\n"  # replaced only when the cassette is finished
    query(bridge, b"*IDN?\n")
    assert bridge.control.request("record_stop") == {"path": str(path)}
    assert read_cassette(path).header.source == "hardware"


@pytest.mark.parametrize("op", sorted(EMULATOR_ONLY_OPERATIONS))
def test_bridge_still_refuses_the_emulator_only_operations(bridge: Endpoint, op: str) -> None:
    error = failure(bridge, op, **EMULATOR_ONLY_OPERATIONS[op])
    assert error.endswith(f"{op!r} works on emulated devices only")
    assert "bridge to the real instrument" in error
