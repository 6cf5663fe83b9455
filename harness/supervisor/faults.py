"""Fault injection and traffic counters in the device process's transport.

``FaultInjectingServer`` is a ``MockServer`` whose client streams are wrapped:
the reader counts what arrives, the writer counts what leaves and applies the
faults the control channel asked for (delay every reply, prefix the next reply
with garbage, swallow replies while silent). ``drop()`` aborts the client
connection. The model never knows.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

from devices.keithley.mock_server import MockServer
from harness.recording.servers import emulator_header
from harness.recording.tap import RecordingTap
from harness.supervisor.history import HistoryReader, HistoryWriter, MessageHistory
from harness.tcpip import BaseClientOrServer

#: Upper bounds of what a control request may ask for.
MAX_DELAY_MS = 600_000
MAX_SILENCE_MS = 3_600_000
MAX_GARBAGE_BYTES = 65_536
#: Delayed output held before ``drain()`` makes the command loop wait.
MAX_DELAYED_BYTES = 1 << 20
#: Garbage never contains a line terminator, so it corrupts the next reply line
#: instead of inventing extra lines.
GARBAGE_ALPHABET = bytes(b for b in range(256) if b not in b"\r\n")
_LINE_END = re.compile(rb"[\r\n]")
_BLANK = b" \t"


@dataclass
class TransportStats:
    """Counters since the device process started (all connections)."""

    connections: int = 0
    messages_received: int = 0
    replies_sent: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    garbage_bytes_sent: int = 0
    silenced_bytes: int = 0
    drops: int = 0
    transport_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def clear(self) -> None:
        for name in self.as_dict():
            setattr(self, name, 0)


class Faults:
    """The faults in force; times are event-loop times."""

    def __init__(self, seed: int) -> None:
        self.delay = 0.0
        self.silent_until = 0.0
        self.pending_garbage = b""
        self._random = random.Random(seed)

    def add_garbage(self, count: int) -> None:
        room = MAX_GARBAGE_BYTES - len(self.pending_garbage)
        noise = bytes(self._random.choice(GARBAGE_ALPHABET) for _ in range(min(count, room)))
        self.pending_garbage += noise

    def take_garbage(self) -> bytes:
        garbage, self.pending_garbage = self.pending_garbage, b""
        return garbage

    def clear(self) -> None:
        self.delay = 0.0
        self.silent_until = 0.0
        self.pending_garbage = b""

    def describe(self, now: float) -> dict[str, Any]:
        return {"delay_ms": round(self.delay * 1000, 3),
                "silent_ms_left": round(max(0.0, self.silent_until - now) * 1000, 3),
                "pending_garbage_bytes": len(self.pending_garbage)}


class _ErrorCounter(logging.Handler):
    """Counts ERROR records of the server's logger: transport and model failures."""

    def __init__(self, stats: TransportStats) -> None:
        super().__init__(level=logging.ERROR)
        self._stats = stats

    def emit(self, record: logging.LogRecord) -> None:
        self._stats.transport_errors += 1


class CountingReader:
    """A ``StreamReader`` stand-in that counts bytes and non-blank messages."""

    def __init__(self, reader: asyncio.StreamReader, stats: TransportStats) -> None:
        self._reader = reader
        self._stats = stats
        self._line_has_text = False

    async def read(self, n: int = -1) -> bytes:
        data = await self._reader.read(n)
        self._count(data)
        return data

    def _count(self, data: bytes) -> None:
        self._stats.bytes_received += len(data)
        *complete, partial = _LINE_END.split(data)
        for piece in complete:
            if self._line_has_text or piece.strip(_BLANK):
                self._stats.messages_received += 1
            self._line_has_text = False
        self._line_has_text = self._line_has_text or bool(partial.strip(_BLANK))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


class FaultyWriter:
    """A ``StreamWriter`` stand-in applying silence, garbage and delay, in that order."""

    def __init__(self, writer: asyncio.StreamWriter, faults: Faults, stats: TransportStats,
                 terminator: bytes) -> None:
        self._writer = writer
        self._faults = faults
        self._stats = stats
        self._terminator = terminator
        self._loop = asyncio.get_running_loop()
        self._delayed: deque[tuple[float, bytes]] = deque()
        self._delayed_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._room = asyncio.Event()
        self._room.set()

    def write(self, data: bytes) -> None:
        now = self._loop.time()
        faults = self._faults
        if now < faults.silent_until:
            self._stats.silenced_bytes += len(data)
            return
        garbage = faults.take_garbage()
        if garbage:
            self._stats.garbage_bytes_sent += len(garbage)
            data = garbage + data
        if faults.delay <= 0 and not self._delayed:
            self._send(data)
            return
        # Never before an earlier delayed write: replies keep their order when the delay shrinks.
        due = max(now + faults.delay, self._delayed[-1][0] if self._delayed else now)
        self._delayed.append((due, data))
        self._delayed_bytes += len(data)
        if self._delayed_bytes >= MAX_DELAYED_BYTES:
            self._room.clear()
        self._arm_timer()

    def _send(self, data: bytes) -> None:
        if self._writer.is_closing():
            return
        self._stats.bytes_sent += len(data)
        self._stats.replies_sent += data.count(self._terminator)
        self._writer.write(data)

    def _arm_timer(self) -> None:
        if self._timer is None and self._delayed:
            self._timer = self._loop.call_at(self._delayed[0][0], self._release_due)

    def _release_due(self) -> None:
        self._timer = None
        now = self._loop.time()
        while self._delayed and self._delayed[0][0] <= now:
            _, data = self._delayed.popleft()
            self._delayed_bytes -= len(data)
            self._send(data)
        if self._delayed_bytes < MAX_DELAYED_BYTES:
            self._room.set()
        self._arm_timer()

    async def drain(self) -> None:
        await self._writer.drain()
        await self._room.wait()

    def close(self) -> None:
        self._discard_delayed()
        self._writer.close()

    def abort(self) -> None:
        """Drop the connection at once (an RST), as a failing link would."""
        self._discard_delayed()
        self._writer.transport.abort()

    def _discard_delayed(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._delayed.clear()
        self._delayed_bytes = 0
        self._room.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


def fault_streams(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  faults: Faults, stats: TransportStats,
                  terminator: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The client streams wrapped so that traffic is counted and faults are injected."""
    return (cast(asyncio.StreamReader, CountingReader(reader, stats)),
            cast(asyncio.StreamWriter, FaultyWriter(writer, faults, stats, terminator)))


def drop_client(server: BaseClientOrServer, stats: TransportStats) -> bool:
    """Abort ``server``'s client connection (its writer is a ``FaultyWriter``), if any."""
    writer = server._writer
    if writer is None or not server.connected:
        return False
    cast(FaultyWriter, writer).abort()
    stats.drops += 1
    server.log.info("Control: dropped the client connection")
    return True


class FaultInjectingServer(MockServer):
    """A ``MockServer`` with ``faults``, ``stats`` and ``drop()`` for the control channel."""

    def __init__(self, **kwargs: Any) -> None:
        self.stats = TransportStats()
        self.faults = Faults(int(kwargs.get("seed", 0)))
        self.history = MessageHistory()
        self._wakeup_listeners: list[Callable[[], None]] = []
        # Idle until the control channel's record_start; records what is on the wire.
        self.recording_tap = RecordingTap(kwargs.get("terminator", b"\n"),
                                          header=lambda: emulator_header(self))
        super().__init__(**kwargs)
        self.log.addHandler(_ErrorCounter(self.stats))

    def add_wakeup_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` on every ``wakeup`` too (another transport serving the device)."""
        self._wakeup_listeners.append(listener)

    def wakeup(self) -> None:
        super().wakeup()
        for listener in self._wakeup_listeners:
            listener()

    async def _set_reader_writer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # Every byte of every accepted client passes through these wrappers.
        reader, writer = self.recording_tap.wrap(reader, writer)
        await super()._set_reader_writer(*fault_streams(
            cast(asyncio.StreamReader, HistoryReader(reader, self.history)),
            cast(asyncio.StreamWriter, HistoryWriter(writer, self.history)),
            self.faults, self.stats, self.terminator))

    async def connect_callback(self, server: BaseClientOrServer) -> None:
        if self.connected:
            self.stats.connections += 1
        await super().connect_callback(server)

    def drop(self) -> bool:
        """Abort the client connection, if any; the server keeps listening."""
        return drop_client(self, self.stats)

    def reset_faults(self) -> None:
        self.faults.clear()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self.recording_tap.stop()
