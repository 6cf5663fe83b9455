"""The recording tap: records what a client and an endpoint say to each other.

``RecordingTap.wrap(reader, writer)`` returns stand-ins for a connection's
streams that pass every byte through unchanged and, while a cassette is
being recorded, record each client message (rx) and device reply line (tx).
The hot path only notes the bytes and their time; the events are formatted
and written (one write) just after the reply has left, or, for a message
without a reply, before the endpoint reads again. So recording never delays
a reply, and a process killed at any moment leaves a readable cassette that
lacks at most the exchange in progress. ``RecordingMixin`` puts the tap on
any ``OneClientServer`` subclass (``MockServer``, the serial bridge) without
touching its code::

    class RecordingMockServer(RecordingMixin, MockServer): ...
    server = RecordingMockServer(recording_tap=RecordingTap(b"\\n", header), port=0)
    server.recording_tap.record_sessions("cassettes/")   # one cassette per connection
    # or: server.recording_tap.start(CassetteWriter(path, header)) ... .stop()

A connection counts as open from its first read, so a second client that the
one-client rule rejects at once never appears in a cassette.

An endpoint that is not an asyncio stream (the pseudo-terminal endpoint) gets
its ``TapConnection`` from ``RecordingTap.connection(peer)`` and feeds it
itself: ``received`` after each read, ``flush`` before waiting for the next,
``sent`` right after bytes left, ``close`` at its end.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from harness.recording.cassette import CassetteHeader
from harness.recording.modes import CASSETTE_SUFFIX
from harness.recording.splitting import InputSplitter, OutputSplitter
from harness.recording.writer import CassetteWriter
from harness.tcpip import OneClientServer

logger = logging.getLogger(__name__)

HeaderSource = CassetteHeader | Callable[[], CassetteHeader]


class RecordingTap:
    """Owns the cassette being recorded and the splitters of the current connection.

    ``header`` (a header or a function returning one, called when a cassette
    starts) describes the device for ``record_sessions``.
    """

    def __init__(self, output_terminator: bytes, header: HeaderSource | None = None, *,
                 redact_serial: bool = False) -> None:
        self.output_terminator = output_terminator
        self._header = header
        self._redact_serial = redact_serial
        self.cassette: CassetteWriter | None = None
        self.finished: list[Path] = []
        self._sessions: Path | None = None
        self._session_prefix = "session"
        self._session_numbers = itertools.count(1)
        self._connection: TapConnection | None = None
        #: The error that stopped a recording (a full disk), or ``None``.
        self.error: OSError | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # -- explicit recording ------------------------------------------------------------

    @property
    def recording(self) -> bool:
        return self.cassette is not None

    def start(self, cassette: CassetteWriter) -> None:
        """Record into ``cassette`` from now on; a recording in progress is finished first."""
        self.stop()
        self.cassette = cassette
        connection = self._connection
        if connection is not None:
            connection.restart_splitting()
            cassette.record("open", connection.peer.encode())
            cassette.note("recording started during a connection")

    def start_file(self, path: Path | str, *, overwrite: bool = False) -> CassetteWriter:
        """Start recording into a new cassette at ``path`` with this tap's header."""
        cassette = CassetteWriter(path, self.header(), overwrite=overwrite,
                                  redact_serial=self._redact_serial)
        self.start(cassette)
        return cassette

    def abandon(self) -> Path | None:
        """Drop the cassette being recorded: nothing is renamed into place; returns its path."""
        cassette, self.cassette = self.cassette, None
        if cassette is None:
            return None
        cassette.abandon()
        return cassette.path

    def stop(self) -> Path | None:
        """Finish the cassette being recorded, if any; returns its final path."""
        cassette, self.cassette = self.cassette, None
        if cassette is None:
            return None
        connection = self._connection
        if connection is not None:
            connection.flush_into(cassette)
        path = cassette.finish()
        self.finished.append(path)
        return path

    def note(self, text: str) -> None:
        """Add a note (a restart, a fault injected) to the cassette being recorded."""
        if self.cassette is not None:
            if self._connection is not None:
                self._connection.flush()
            self.cassette.note(text)

    # -- one cassette per connection -----------------------------------------------------

    def record_sessions(self, directory: Path | str, prefix: str = "session") -> None:
        """From now on, record each client connection into its own cassette in ``directory``.

        Names are ``<prefix>-<UTC time>-<pid>-<n>.jsonl``: unique per process
        and never reused, so parallel recorders never share a file.
        """
        self._sessions = Path(directory)
        self._sessions.mkdir(parents=True, exist_ok=True)
        self._session_prefix = prefix

    def header(self) -> CassetteHeader:
        header = self._header
        if header is None:
            raise ValueError("this RecordingTap has no header; pass header= to it, or start "
                             "it with a CassetteWriter")
        return header() if callable(header) else header

    def _session_path(self) -> Path:
        assert self._sessions is not None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = f"{self._session_prefix}-{stamp}-{os.getpid()}-{next(self._session_numbers)}"
        return self._sessions / (name + CASSETTE_SUFFIX)

    # -- connections ---------------------------------------------------------------------

    def wrap(self, reader: asyncio.StreamReader,
             writer: asyncio.StreamWriter) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Stand-ins for a new connection's streams (typed as the streams they replace)."""
        connection = TapConnection(self, peer_name(writer))
        return (cast(asyncio.StreamReader, TapReader(reader, connection)),
                cast(asyncio.StreamWriter, TapWriter(writer, connection)))

    def connection(self, peer: str) -> TapConnection:
        """The recording state of a stream that is not an asyncio connection (a pty).

        ``peer`` is what the cassette's ``open`` event says (the pty's path).
        """
        return TapConnection(self, peer)

    def failed(self, error: OSError) -> None:
        # The device keeps serving: a recording problem must not break the session.
        cassette, self.cassette = self.cassette, None
        self.error = error
        where = cassette.temporary_path if cassette is not None else "?"
        logger.error("Recording stopped: cannot write the cassette %s: %s; what was written "
                     "so far stays readable there", where, error)

    async def wait_idle(self) -> None:
        """Wait until no client connection is open (the last one's close is recorded)."""
        await self._idle.wait()

    def connection_opened(self, connection: TapConnection) -> None:
        self._idle.clear()
        try:
            if self._sessions is not None:
                # Before the connection is known, or start() would take this for a
                # recording started mid-connection (a second open and a note).
                self.start_file(self._session_path())
        except OSError as e:
            self.failed(e)
        self._connection = connection
        try:
            if self.cassette is not None:
                self.cassette.record("open", connection.peer.encode())
        except OSError as e:
            self.failed(e)

    def connection_closed(self, connection: TapConnection) -> None:
        if self._connection is not connection:
            return
        self._connection = None
        self._idle.set()
        cassette = self.cassette
        try:
            if cassette is not None:
                connection.flush_into(cassette)
                cassette.record("close", b"")
            if self._sessions is not None:
                self.stop()
        except OSError as e:
            self.failed(e)


def peer_name(writer: asyncio.StreamWriter) -> str:
    """``host:port`` of a connection's client (or whatever its transport names it)."""
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else (
        str(peer or ""))


class TapConnection:
    """The recording state of one client connection (opened by its first ``received``)."""

    def __init__(self, tap: RecordingTap, peer: str) -> None:
        self.tap = tap
        self.peer = peer
        self.opened = False
        self.closed = False
        #: ``(clock time, from the client?, bytes)`` seen since the last flush.
        self.held: list[tuple[float, bool, bytes]] = []
        self.input = InputSplitter()
        self.output = OutputSplitter(tap.output_terminator)

    def open(self) -> None:
        self.opened = True
        self.tap.connection_opened(self)

    def close(self) -> None:
        if self.opened and not self.closed:
            self.closed = True
            self.tap.connection_closed(self)

    # The hot path holds what crossed the wire with its time and nothing more; the
    # events are formatted and written by ``flush``, after the reply has left.

    def received(self, data: bytes) -> bytes:
        """Hold ``data`` that the client sent (b"" at its end); returns ``data``."""
        if not self.opened:
            self.open()
        cassette = self.tap.cassette
        if cassette is not None and data:
            self.held.append((cassette.clock(), True, data))
        return data

    def sent(self, data: bytes) -> None:
        """Record ``data`` that the device sent, with what it answers: call it once they left."""
        cassette = self.tap.cassette
        if cassette is not None and data and self.opened:
            self.write_exchange(cassette, cassette.clock(), data)

    def flush(self) -> None:
        """Write the held traffic as events, one write for all of it."""
        self.write_held(self.tap.cassette)

    def write_held(self, cassette: CassetteWriter | None) -> None:
        held, self.held = self.held, []
        if cassette is None or not held:
            return
        try:
            for at, incoming, data in held:
                if incoming:
                    cassette.buffer("rx", self.input.feed(data), at)
                else:
                    cassette.buffer("tx", self.output.feed(data), at)
            cassette.flush()
        except OSError as e:
            self.tap.failed(e)

    def write_exchange(self, cassette: CassetteWriter, at: float, reply: bytes) -> None:
        """Record the held traffic and ``reply`` (sent at ``at``), one write for all of it."""
        held = self.held
        if len(held) != 1 or not held[0][1]:
            held.append((at, False, reply))
            self.write_held(cassette)
            return
        # The usual exchange: one message held, one reply line; no per-event objects.
        self.held = []
        message_at, _, message = held[0]
        messages = self.input.feed(message)
        lines = self.output.feed(reply)
        try:
            if len(messages) == 1 and len(lines) == 1 and cassette.write_exchange(
                    message_at, messages[0], at, lines[0]):
                return
            cassette.buffer("rx", messages, message_at)
            cassette.buffer("tx", lines, at)
            cassette.flush()
        except OSError as e:
            self.tap.failed(e)

    def restart_splitting(self) -> None:
        self.input = InputSplitter()
        self.output = OutputSplitter(self.tap.output_terminator)

    def flush_into(self, cassette: CassetteWriter) -> None:
        """Record the held traffic and what is left of unterminated messages."""
        self.write_held(cassette)
        rest = self.input.flush()
        if rest:
            cassette.record("rx", rest)
        rest = self.output.flush()
        if rest:
            cassette.record("tx", rest)


class TapReader:
    """A ``StreamReader`` stand-in that records what the client sends."""

    def __init__(self, reader: asyncio.StreamReader, connection: TapConnection) -> None:
        self._reader = reader
        self._connection = connection

    # Each read first writes what was held: the endpoint has handled it, so a message
    # without a reply reaches the file before the endpoint waits for the next one.

    async def read(self, n: int = -1) -> bytes:
        connection = self._connection
        if connection.held:
            connection.flush()
        return connection.received(await self._reader.read(n))

    async def readline(self) -> bytes:
        self._connection.flush()
        return self._connection.received(await self._reader.readline())

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        self._connection.flush()
        return self._connection.received(await self._reader.readuntil(separator))

    async def readexactly(self, n: int) -> bytes:
        self._connection.flush()
        return self._connection.received(await self._reader.readexactly(n))

    def at_eof(self) -> bool:
        return self._reader.at_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


class TapWriter:
    """A ``StreamWriter`` stand-in that records what the device sends."""

    def __init__(self, writer: asyncio.StreamWriter, connection: TapConnection) -> None:
        self._writer = writer
        self._connection = connection

    def write(self, data: bytes) -> None:
        self._writer.write(data)
        connection = self._connection
        cassette = connection.tap.cassette
        if cassette is not None and data and connection.opened:
            # Recorded right after the reply left, so recording never delays it; inline
            # rather than ``connection.sent`` to keep a call off the hot path.
            connection.write_exchange(cassette, cassette.clock(),
                                      data if type(data) is bytes else bytes(data))

    def writelines(self, data: Any) -> None:
        for chunk in data:
            self.write(chunk)

    async def drain(self) -> None:
        await self._writer.drain()

    def is_closing(self) -> bool:
        return self._writer.is_closing()

    def close(self) -> None:
        self._connection.close()
        self._writer.close()

    async def wait_closed(self) -> None:
        await self._writer.wait_closed()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._writer.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


class RecordingMixin(OneClientServer):
    """Records the traffic of a ``OneClientServer`` subclass through ``recording_tap``.

    Put it first among the bases: ``class X(RecordingMixin, MockServer)``.
    The keyword argument ``recording_tap`` is taken out before the endpoint's
    own ``__init__`` runs.
    """

    recording_tap: RecordingTap

    def __init__(self, *args: Any, recording_tap: RecordingTap, **kwargs: Any) -> None:
        self.recording_tap = recording_tap
        super().__init__(*args, **kwargs)

    async def _set_reader_writer(self, reader: asyncio.StreamReader,
                                 writer: asyncio.StreamWriter) -> None:
        await super()._set_reader_writer(*self.recording_tap.wrap(reader, writer))

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self.recording_tap.stop()
