"""F36 on a real pseudo-terminal: the emulator sends XOFF/XON for its own input (spec §8.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devices.keithley import MockKeithley

if TYPE_CHECKING:
    from conftest import Endpoints, SerialClients
    from harness.serial import PtyEndpoint

XON, XOFF = b"\x11", b"\x13"
BLOCK = b"*RST;:TRIG:SOUR BUS;:INIT;*OPC?\n"
QUERY = b"*IDN?\n"
IDN = b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x \n"
#: Queued characters (terminators excluded) just past 3/4 of the 2048-character input queue.
QUERIES = 1536 // (len(QUERY) - 1) + 1


def release(pty: PtyEndpoint) -> None:
    """The BUS trigger the blocked ``*OPC?`` waits for, as a control operation."""
    device = pty.device
    assert isinstance(device, MockKeithley)
    assert device.inject_trigger("BUS")
    pty.wakeup()


async def test_pty_client_sees_xoff_while_the_device_is_busy_and_xon_after(
        endpoints: Endpoints, serial_clients: SerialClients) -> None:
    pty = await endpoints.pty(serial={"xonxoff": True})
    assert pty.path is not None
    # The client's own XON/XOFF handling is off so that the flow bytes reach it.
    port = serial_clients.open(pty.path, xonxoff=False)
    await port.write(BLOCK + QUERY * QUERIES)
    assert await port.read(1) == XOFF
    release(pty)
    expected = b"1\n" + IDN * QUERIES + XON
    assert await port.read(len(expected)) == expected


@pytest.mark.parametrize("config", [
    {}, {"serial": {"xonxoff": True}, "fidelity": {"F36": "silent"}},
], ids=["xonxoff_off", "silent"])
async def test_pty_without_xonxoff_or_silent_sends_no_flow_bytes(
        endpoints: Endpoints, serial_clients: SerialClients, config: dict[str, object]) -> None:
    pty = await endpoints.pty(**config)
    assert pty.path is not None
    port = serial_clients.open(pty.path, xonxoff=False)
    await port.write(BLOCK + QUERY * QUERIES)
    await endpoints.eventually(lambda: pty.session.pending_input >= 1536)
    release(pty)
    await port.write(QUERY)
    expected = b"1\n" + IDN * (QUERIES + 1)
    assert await port.read(len(expected)) == expected
