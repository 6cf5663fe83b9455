"""The control operations behind fresh devices and reports (``renew``, ``history``), and the
pool that reuses device processes, on real device processes."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_limits import STD_WAIT

from harness.plugin_support import device_spec
from harness.plugin_support.pool import DevicePool
from harness.supervisor import ControlError, Endpoint, Supervisor
from tests.process_probes import still_running

# Power-on is continuous initiation (READ? refused, *OPC? waits forever): *RST first.
READING_SETUP = "*RST;:SYST:ZCH OFF;:FORM:ELEM READ;:VOLT:MED OFF;:VOLT:AVER OFF"


class Client:
    def __init__(self, endpoint: Endpoint) -> None:
        self.sock = socket.create_connection((endpoint.host, endpoint.port), timeout=STD_WAIT)
        self.file = self.sock.makefile("rb")

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\n")

    def query(self, text: str) -> str:
        self.send(text)
        return self.file.readline().decode().strip()

    def at_eof(self) -> bool:
        return self.file.readline() == b""

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(run_dir=tmp_path / "run")
    try:
        yield sup
    finally:
        fork_server = sup.fork_server_pid
        sup.close()
        assert fork_server is None or not still_running([fork_server])


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for client in opened:
        client.close()


def connect(endpoint: Endpoint, clients: list[Client]) -> Client:
    client = Client(endpoint)
    clients.append(client)
    return client


def test_renew_gives_a_factory_fresh_device(supervisor: Supervisor,
                                            clients: list[Client]) -> None:
    device = supervisor.spawn("keithley6517b", speed=0)
    first = connect(device, clients)
    first.send(READING_SETUP)
    fresh_reading = first.query(":READ?")
    first.send(":SENS:FUNC 'CHAR';*SAV 1;:BOGUS")
    device.control.delay(3000)

    assert device.control.renew() is True
    assert first.at_eof(), "renew must drop the client"
    second = connect(device, clients)
    second.send(READING_SETUP)

    assert second.query("*RCL 1;:SENS:FUNC?") == '"VOLT:DC"'
    assert second.query(":SYST:ERR?").startswith("0,")
    assert second.query(READING_SETUP + ";:READ?") == fresh_reading
    stats = device.control.stats()
    assert stats["faults"]["delay_ms"] == 0 and stats["stats"]["connections"] == 1


def test_reset_alone_keeps_saved_setups_unlike_renew(supervisor: Supervisor,
                                                     clients: list[Client]) -> None:
    device = supervisor.spawn("keithley6514", speed=0)
    client = connect(device, clients)
    client.send("*RST;:SENS:FUNC 'CHAR';*SAV 1")
    client.query("*OPC?")

    device.control.reset()

    assert client.query("*RCL 1;:SENS:FUNC?") == '"CHAR"'


def test_history_returns_the_last_messages_both_ways(supervisor: Supervisor,
                                                     clients: list[Client]) -> None:
    device = supervisor.spawn("keithley6517b", speed=0)
    client = connect(device, clients)
    idn = client.query("*IDN?")
    client.query(":SYST:ERR?")

    history = device.control.history()

    assert [(entry["dir"], entry["text"].strip()) for entry in history] == [
        ("rx", "*IDN?"), ("tx", idn), ("rx", ":SYST:ERR?"), ("tx", '0,"No error"')]
    assert [entry["text"] for entry in device.control.history(1)] == ['0,"No error"']
    with pytest.raises(ControlError, match="'count' must be a positive integer, got 0"):
        device.control.history(0)
    device.control.renew()
    assert device.control.history() == []


def test_the_pool_renews_released_devices_and_replaces_dead_ones(
        supervisor: Supervisor, clients: list[Client]) -> None:
    pool = DevicePool(supervisor, lambda device, number: f"{device}-pooled-{number}")
    spec = device_spec(speed=0)
    first = pool.acquire(spec)
    other = pool.acquire(device_spec("keithley6514", speed=0))
    connect(first, clients).send(":SENS:FUNC 'CHAR'")
    pool.release(first)

    again = pool.acquire(spec)

    assert again is first and pool.started == 2
    assert connect(again, clients).query(":SENS:FUNC?") == '"VOLT:DC"'
    pool.release(again)
    dead_pid = first.pid
    assert dead_pid is not None
    os.kill(dead_pid, signal.SIGKILL)
    assert first.wait_until(lambda endpoint: endpoint.status == "failed", timeout=STD_WAIT)

    replacement = pool.acquire(spec)

    assert replacement.name == "keithley6517b-pooled-3" and replacement.pid != dead_pid
    assert other.status == "running"
