"""The control channel: each verb, its effect seen by a TCP client, and bad requests."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from harness.supervisor import ControlError, Supervisor

if TYPE_CHECKING:
    from conftest import ScpiClient
    from harness.supervisor import Endpoint

STD_WAIT = 10.0
IDN = "KEITHLEY INSTRUMENTS INC.,MODEL 6517B"
READING_SETUP = "*RST;:SYST:ZCH OFF;:FORM:ELEM READ;:VOLT:MED OFF;:VOLT:AVER OFF"


@pytest.fixture
def em1(supervisor: Supervisor) -> Endpoint:
    return supervisor.spawn("keithley6517b", name="em1", speed=0)


class RawControl:
    """One control connection kept open across requests (to show it stays usable)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.sock = socket.create_connection(("127.0.0.1", endpoint.control_port),
                                             timeout=STD_WAIT)
        self.file = self.sock.makefile("rb")

    def send_line(self, data: bytes) -> dict[str, object]:
        self.sock.sendall(data + b"\n")
        reply: dict[str, object] = json.loads(self.file.readline())
        return reply

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def raw_control(em1: Endpoint) -> Iterator[RawControl]:
    control = RawControl(em1)
    yield control
    control.close()


def test_ping_identifies_the_device_process(em1: Endpoint) -> None:
    reply = em1.control.ping()

    assert reply["pid"] == em1.pid
    assert reply["name"] == "em1" and reply["model"] == "6517B" and reply["port"] == em1.port


def test_set_changes_what_the_instrument_reports(
        em1: Endpoint, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    assert em1.control.set({"nplc": 2.5}) == {"nplc": 2.5}

    assert float(scpi(em1).query(":VOLT:NPLC?")) == 2.5
    assert em1.control.get("nplc") == {"nplc": 2.5}


def test_get_sees_what_a_client_set(em1: Endpoint,
                                    scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    client.send(":VOLT:NPLC 4")
    assert float(client.query(":VOLT:NPLC?")) == 4

    assert em1.control.get("nplc", "function") == {"nplc": 4.0, "function": "VOLT"}
    assert em1.control.get()["model"] == "6517B"  # no keys: the whole snapshot


def test_reset_returns_to_power_on_state(em1: Endpoint,
                                         scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    client.send(":VOLT:NPLC 4")
    assert float(client.query(":VOLT:NPLC?")) == 4
    em1.control.delay(60_000)

    em1.control.reset()

    assert float(client.query(":VOLT:NPLC?")) == 1
    assert em1.control.stats()["faults"]["delay_ms"] == 0


def test_signal_sets_the_value_the_instrument_reads(
        em1: Endpoint, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    client.send(READING_SETUP)

    em1.control.signal("VOLT", "constant", value=1.5)

    assert float(client.query(":READ?")) == pytest.approx(1.5)


def test_delay_holds_every_reply_and_zero_ends_it(
        em1: Endpoint, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    em1.control.delay(300)

    started = time.monotonic()
    assert client.query("*IDN?").startswith(IDN)
    assert time.monotonic() - started >= 0.3

    em1.control.delay(0)
    assert client.query("*IDN?").startswith(IDN)


def test_replies_keep_their_order_when_the_delay_shrinks(
        em1: Endpoint, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    em1.control.delay(400)
    client.send("*IDN?")
    # The first reply is now held; the next one is made without delay.
    assert em1.control.stats()["stats"]["messages_received"] == 1
    em1.control.delay(0)
    client.send(":VOLT:NPLC?")

    assert client.read_line().decode().startswith(IDN)
    assert float(client.read_line()) == 1


def test_drop_aborts_the_client_and_the_device_accepts_the_next(
        em1: Endpoint, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    assert client.query("*IDN?").startswith(IDN)

    assert em1.control.drop() is True

    with pytest.raises((EOFError, ConnectionError)):
        client.query("*IDN?")
    assert scpi(em1).query("*IDN?").startswith(IDN)
    assert em1.control.stats()["stats"]["drops"] == 1


def test_drop_without_a_client_reports_nothing_dropped(em1: Endpoint) -> None:
    assert em1.control.drop() is False


def test_garbage_corrupts_only_the_next_reply(
        em1: Endpoint, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    em1.control.garbage(16)

    client.send("*IDN?")
    corrupted = client.read_line()
    clean = client.query("*IDN?")

    assert len(corrupted) == 16 + len(clean)
    assert corrupted.endswith(clean.encode()) and not corrupted.startswith(IDN.encode())
    assert b"\r" not in corrupted[:16]
    assert em1.control.stats()["stats"]["garbage_bytes_sent"] == 16


def test_silence_swallows_replies_until_it_ends(
        em1: Endpoint, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    em1.control.silence(60_000)

    client.send("*IDN?")
    with pytest.raises(TimeoutError):
        client.read_line(timeout=0.3)

    em1.control.silence(0)
    assert client.query("*IDN?").startswith(IDN)
    assert em1.control.stats()["stats"]["silenced_bytes"] > 0


def test_stats_count_messages_replies_and_bytes(
        em1: Endpoint, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    client.send(":VOLT:NPLC 2")
    replies = [client.query("*IDN?"), client.query(":VOLT:NPLC?")]
    client.send(":NO:SUCH:HEADER")
    assert client.query(":SYST:ERR?").startswith("-113")

    reply = em1.control.stats()

    stats = reply["stats"]
    assert stats["connections"] == 1
    assert stats["messages_received"] == 5
    assert stats["replies_sent"] == 3
    sent = ":VOLT:NPLC 2\n*IDN?\n:VOLT:NPLC?\n:NO:SUCH:HEADER\n:SYST:ERR?\n"
    assert stats["bytes_received"] == len(sent)
    assert stats["bytes_sent"] >= sum(len(r) + 1 for r in replies)
    assert reply["connected"] is True
    assert reply["error_queue"] == []


def test_stats_show_the_scpi_error_queue(em1: Endpoint,
                                         scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    client.send(":NO:SUCH:HEADER")
    assert client.query("*IDN?").startswith(IDN)  # the header before it was processed

    assert [code for code, _ in em1.control.stats()["error_queue"]] == [-113]


def test_stats_count_errors_after_the_queue_is_drained(
        em1: Endpoint, scpi: Callable[[Endpoint], ScpiClient]) -> None:
    client = scpi(em1)
    client.send(":NO:SUCH:HEADER")
    client.send(":NO:SUCH:HEADER")
    assert client.query(":SYST:ERR?").startswith("-113")
    assert client.query(":SYST:ERR?").startswith("-113")
    assert client.query(":SYST:ERR?").startswith("0,")
    stats = em1.control.stats()
    assert stats["error_queue"] == []
    assert stats["error_counts"] == {"-113": 2}


def test_bad_requests_get_ok_false_and_the_channel_stays_open(raw_control: RawControl) -> None:
    bad_lines = [
        b"{not json",
        b"[1, 2]",
        b'{"op": "fly"}',
        b'{"no_op": 1}',
        b'{"op": "delay"}',
        b'{"op": "delay", "ms": -5}',
        b'{"op": "delay", "ms": "soon"}',
        b'{"op": "garbage", "bytes": 0}',
        b'{"op": "ping", "extra": 1}',
        b'{"op": "get", "keys": "nplc"}',
        b'{"op": "get", "keys": ["no_such_key"]}',
        b'{"op": "set", "values": {}}',
        b'{"op": "signal", "function": "VOLT", "kind": "sawtooth"}',
        b"\xff\xfe",
    ]
    for line in bad_lines:
        reply = raw_control.send_line(line)
        assert reply["ok"] is False, line
        assert isinstance(reply["error"], str) and reply["error"], line

    assert raw_control.send_line(b'{"op": "ping"}')["ok"] is True


def test_error_messages_say_what_to_send(raw_control: RawControl) -> None:
    unknown = raw_control.send_line(b'{"op": "fly"}')["error"]
    missing = raw_control.send_line(b'{"op": "silence"}')["error"]
    extra = raw_control.send_line(b'{"op": "drop", "now": true}')["error"]

    assert "unknown op 'fly'" in str(unknown) and "ping" in str(unknown)
    assert "missing parameter 'ms'" in str(missing)
    assert "'now'" in str(extra) and "takes no parameters" in str(extra)


def test_overlong_request_line_is_refused_and_the_channel_stays_open(
        raw_control: RawControl) -> None:
    reply = raw_control.send_line(b'{"op": "ping", "pad": "' + b"x" * 100_000 + b'"}')

    assert reply["ok"] is False and "longer than" in str(reply["error"])
    assert raw_control.send_line(b'{"op": "ping"}')["ok"] is True


def test_control_client_raises_control_error_with_the_reason(em1: Endpoint) -> None:
    with pytest.raises(ControlError, match="unknown state key 'bogus'") as caught:
        em1.control.get("bogus")

    assert caught.value.op == "get"


def test_control_channel_listens_on_loopback_only(em1: Endpoint) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: picks the outgoing address
            address = probe.getsockname()[0]
        except OSError:
            pytest.skip("no non-loopback IPv4 address on this machine")
    if address.startswith("127.") or address == "0.0.0.0":
        pytest.skip("no non-loopback IPv4 address on this machine")

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, em1.control_port), timeout=STD_WAIT).close()


async def test_async_control_methods(em1: Endpoint) -> None:
    assert (await em1.control.aset({"nplc": 3}))["nplc"] == 3
    assert await em1.control.aget("nplc") == {"nplc": 3}
    await em1.control.agarbage(4)
    assert (await em1.control.astats())["faults"]["pending_garbage_bytes"] == 4
    await em1.control.areset()
    assert (await em1.control.astats())["faults"]["pending_garbage_bytes"] == 0
    with pytest.raises(ControlError):
        await em1.control.asilence(-1)
