"""``--record DIR --redact-serial`` of ``hil serve`` and ``hil bridge``, read back from the file.

Each redacted cassette is compared with one recorded without the option from
an identical conversation: the two differ in the serial number only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.recording import read_cassette

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import HilFactory, HilProcess, LineClient

    Connect = Callable[..., LineClient]

SERIAL = b"4114292"  # the emulated 6517B's (spec keithley.md, *IDN?)
ZEROS = b"0" * len(SERIAL)
#: Header fields that differ between any two recordings, redacted or not.
PER_RECORDING = ("created_at", "redacted")


def converse(client: LineClient) -> list[bytes]:
    """Ask *IDN? twice around another query; the replies the client received."""
    return [client.query(b"*IDN?\n"), client.query(b":SYST:ERR?\n"), client.query(b"*IDN?\n")]


def record_conversation(recorder: HilProcess, connect: Connect) -> list[bytes]:
    """One client connection to the ``--json`` recorder ``recorder``; its replies."""
    (device,) = recorder.ready()["devices"]
    client = connect(device["host"], device["port"])
    replies = converse(client)
    client.close()
    return replies


def the_cassette(directory: Path) -> Path:
    (path,) = directory.iterdir()
    return path


def traffic(path: Path) -> list[tuple[str, bytes]]:
    """The client messages and device replies of a cassette, in order."""
    return [(event.kind, event.data) for event in read_cassette(path).events
            if event.kind in ("rx", "tx")]


def header_without(path: Path, fields: tuple[str, ...]) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(path.read_text().splitlines()[0])
    return {key: value for key, value in header.items() if key not in fields}


def assert_only_the_serial_differs(plain: Path, redacted: Path) -> None:
    assert SERIAL not in redacted.read_bytes()
    assert read_cassette(redacted).header.redacted and not read_cassette(plain).header.redacted
    assert traffic(redacted) == [(kind, data.replace(SERIAL, ZEROS))
                                 for kind, data in traffic(plain)]
    assert traffic(redacted) != traffic(plain)
    plain_header = json.dumps(header_without(plain, PER_RECORDING))
    assert json.dumps(header_without(redacted, PER_RECORDING)) == plain_header.replace(
        SERIAL.decode(), ZEROS.decode())


def test_serve_record_keeps_the_serial_without_redact_serial(
        hil: HilFactory, connect: Connect, tmp_path: Path) -> None:
    serve = hil("serve", "--speed", "0", "--json", "--record", str(tmp_path / "plain"))
    replies = record_conversation(serve, connect)
    assert serve.interrupt() == 0, serve.stderr()
    assert SERIAL in replies[0]
    path = the_cassette(tmp_path / "plain")
    header = read_cassette(path).header
    assert not header.redacted
    assert header.device.idn is not None and SERIAL.decode() in header.device.idn
    assert header.device.config["serial_number"] == SERIAL.decode()
    assert [data for kind, data in traffic(path) if kind == "tx"] == replies


def test_serve_redact_serial_zeroes_the_serial_and_nothing_else(
        hil: HilFactory, connect: Connect, tmp_path: Path) -> None:
    plain = hil("serve", "--speed", "0", "--json", "--record", str(tmp_path / "plain"))
    redacted = hil("serve", "--speed", "0", "--json", "--record", str(tmp_path / "redacted"),
                   "--redact-serial")
    plain_replies = record_conversation(plain, connect)
    redacted_replies = record_conversation(redacted, connect)
    assert plain.interrupt() == 0 and redacted.interrupt() == 0, redacted.stderr()
    # Redaction is in the cassette only: the client still gets the real serial.
    assert redacted_replies == plain_replies and SERIAL in redacted_replies[0]
    path = the_cassette(tmp_path / "redacted")
    header = read_cassette(path).header
    assert header.device.idn == "KEITHLEY INSTRUMENTS INC.,MODEL 6517B,0000000,A13/700x "
    assert header.device.config["serial_number"] == ZEROS.decode()
    assert_only_the_serial_differs(the_cassette(tmp_path / "plain"), path)


def test_bridge_redact_serial_zeroes_the_serial_and_nothing_else(
        hil: HilFactory, connect: Connect, tmp_path: Path) -> None:
    # Two instruments, so that both bridges record at once.
    instruments = hil("serve", "--pty", "--count", "2", "--speed", "0", "--json")
    first, second = (device["pty"] for device in instruments.ready()["devices"])
    plain = hil("bridge", "--serial", first, "--json", "--record", str(tmp_path / "plain"))
    redacted = hil("bridge", "--serial", second, "--json", "--record",
                   str(tmp_path / "redacted"), "--redact-serial")
    plain_replies = record_conversation(plain, connect)
    redacted_replies = record_conversation(redacted, connect)
    assert plain.interrupt() == 0 and redacted.interrupt() == 0, redacted.stderr()
    assert instruments.interrupt() == 0, instruments.stderr()
    assert redacted_replies == plain_replies and SERIAL in redacted_replies[0]
    plain_path, path = the_cassette(tmp_path / "plain"), the_cassette(tmp_path / "redacted")
    # The bridge cannot know the instrument's *IDN? beforehand: it learns it from the reply.
    assert read_cassette(path).header.device.idn is None
    assert read_cassette(plain_path).header.source == "hardware"
    assert [data for kind, data in traffic(plain_path) if kind == "tx"] == plain_replies
    assert_only_the_serial_differs(plain_path, path)
    assert "Traceback" not in plain.stderr() + redacted.stderr()
