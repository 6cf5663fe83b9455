"""``DeviceSession`` sending XOFF/XON for the device's input queue (spec §8.2, F36)."""

from __future__ import annotations

import asyncio

import pytest

from devices.scpi import Reply
from harness.device_session import MAX_PENDING_REPLIES, XOFF, XON, DeviceSession


class QueueingDevice:
    """A sans-IO device that keeps every message unexecuted; ``queued`` is settable."""

    def __init__(self) -> None:
        self.queued = 0

    def receive(self, message: str, now: float) -> list[Reply]:
        self.queued += len(message)
        return []

    def device_clear(self, now: float) -> list[Reply]:
        self.queued = 0
        return [Reply("DCL", now)]

    def input_overrun(self, now: float) -> None:
        pass

    def poll(self, now: float) -> list[Reply]:
        return []

    def next_wakeup(self) -> float | None:
        return None


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        pass


def session_for(device: QueueingDevice, **options: bool) -> DeviceSession:
    return DeviceSession(device, terminator=b"\n", max_message_length=2048,
                         queued_input=lambda: device.queued, **options)


async def test_xoff_above_three_quarters_and_xon_below_half() -> None:
    device, sink = QueueingDevice(), Sink()
    session = session_for(device, xonxoff=True, send_flow_control=True)
    async with session.attached(sink):
        session.feed(b"x" * 1536 + b"\n", 0.0)
        assert sink.data == b""
        session.feed(b"y\n", 0.0)
        assert sink.data == XOFF
        device.queued = 1024
        session.feed(b"", 0.0)
        assert sink.data == XOFF
        device.queued = 1023
        session.feed(b"", 0.0)
        assert sink.data == XOFF + XON
        session.feed(b"", 0.0)
        assert sink.data == XOFF + XON


@pytest.mark.parametrize("options", [
    {"xonxoff": False, "send_flow_control": True},
    {"xonxoff": True, "send_flow_control": False},
])
async def test_nothing_is_sent_unless_xonxoff_and_send_flow_control(
        options: dict[str, bool]) -> None:
    device, sink = QueueingDevice(), Sink()
    session = session_for(device, **options)
    async with session.attached(sink):
        session.feed(b"x" * 2000 + b"\n", 0.0)
        device.queued = 0
        session.feed(b"", 0.0)
    assert sink.data == b""
    assert not session.input_stopped


async def test_a_new_stream_starts_with_the_input_not_stopped() -> None:
    device, sink = QueueingDevice(), Sink()
    session = session_for(device, xonxoff=True, send_flow_control=True)
    async with session.attached(sink):
        session.feed(b"x" * 1600 + b"\n", 0.0)
        assert session.input_stopped
    device.queued = 0
    async with session.attached(sink):
        assert not session.input_stopped


class DelayingDevice(QueueingDevice):
    """Answers every message ``delay`` seconds after it arrives."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def receive(self, message: str, now: float) -> list[Reply]:
        return [Reply(message, now + self.delay)]


async def test_on_room_hears_when_the_outbox_fills_and_when_it_has_room_again() -> None:
    loop = asyncio.get_running_loop()
    device, sink = DelayingDevice(0.05), Sink()
    session = session_for(device)
    heard: list[bool] = []
    room_again = asyncio.Event()

    def on_room(room: bool) -> None:
        heard.append(room)
        if room:
            room_again.set()

    session.on_room = on_room
    async with session.attached(sink):
        session.feed(b"q\n" * (MAX_PENDING_REPLIES - 1), loop.time())
        assert heard == [] and session.has_room
        session.feed(b"q\n", loop.time())
        assert heard == [False] and not session.has_room
        async with asyncio.timeout(10):
            await room_again.wait()
        assert heard == [False, True] and session.has_room
        async with asyncio.timeout(10):
            await session.deliver_remaining()
    assert sink.data.count(b"q\n") == MAX_PENDING_REPLIES
