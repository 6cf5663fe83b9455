"""TCP endpoints for recording and replay, built on ``MockServer``.

* ``RecordingMockServer``: the emulator with a recording tap.
* ``ReplayServer``: ``MockServer``'s command loop (framing, device clear,
  reply scheduling) driving a ``CassettePlayer`` instead of an emulator.
* ``RecordingReplayServer``: a replay that is recorded again (record mode
  ``new_episodes``: the cassette's exchanges plus those a fallback answered).
* ``NewEpisodesServer``: the same, replacing the cassette only if the session is kept.
* ``TcpForwarder``, ``RecordingForwarder``: a byte-exact TCP relay to another
  endpoint (a bench's ``hil bridge``), recorded.
* ``hardware_header``: the header for a tap on a bridge to a real instrument.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from devices.keithley.mock_server import MockServer
from harness.recording.cassette import CassetteHeader, DeviceInfo
from harness.recording.replay import CassettePlayer
from harness.recording.tap import RecordingMixin, RecordingTap
from harness.tcpip import OneClientServer
from harness.tcpip.base import cancel_and_await, make_done_future

logger = logging.getLogger(__name__)

#: Models ``MockServer`` can configure its framing for.
_FRAMING_MODELS = ("6517B", "6514")


def emulator_header(server: MockServer, *, transport: str = "tcp",
                    input_terminator: str | None = None) -> CassetteHeader:
    """The cassette header describing the emulator behind ``server``."""
    config = server.config
    return CassetteHeader(
        device=DeviceInfo(name=f"keithley{config.model.lower()}", model=config.model,
                          idn=config.idn(), config=config.to_mapping()),
        source="emulator",
        transport=transport,
        output_terminator=server.terminator.decode("latin-1"),
        input_terminator=input_terminator,
    )


def hardware_header(output_terminator: bytes, *, name: str = "", model: str = "",
                    idn: str | None = None, transport: str = "serial-bridge",
                    input_terminator: str | None = None) -> CassetteHeader:
    """The header of a cassette recorded from a real instrument (``source: hardware``).

    ``idn`` may stay ``None``: readers take the first recorded ``*IDN?`` reply.
    """
    return CassetteHeader(
        device=DeviceInfo(name=name, model=model, idn=idn),
        source="hardware",
        transport=transport,
        output_terminator=output_terminator.decode("latin-1"),
        input_terminator=input_terminator,
    )


class RecordingMockServer(RecordingMixin, MockServer):
    """A ``MockServer`` whose client traffic goes through ``recording_tap``.

    Without a ``recording_tap`` it makes one whose header describes this
    emulator; recording starts with ``recording_tap.start_file(path)`` or
    ``recording_tap.record_sessions(directory)``. Other keywords are
    ``MockServer``'s.
    """

    def __init__(self, *, recording_tap: RecordingTap | None = None,
                 redact_serial: bool = False, **kwargs: Any) -> None:
        if recording_tap is None:
            recording_tap = RecordingTap(kwargs.get("terminator", b"\n"),
                                         header=lambda: emulator_header(self),
                                         redact_serial=redact_serial)
        super().__init__(recording_tap=recording_tap, **kwargs)


class ReplayServer(MockServer):
    """A TCP endpoint serving ``player``: a client cannot tell it from the emulator.

    The output terminator comes from the cassette; ``host``, ``port``,
    ``log`` and ``name`` are ``MockServer``'s. ``player.check()`` after the
    session raises what went wrong.
    """

    def __init__(self, player: CassettePlayer, *, host: str | None = "127.0.0.1",
                 port: int | None = 0, log: logging.Logger | None = None,
                 name: str = "", **kwargs: Any) -> None:
        header = player.cassette.header
        model = header.device.model if header.device.model in _FRAMING_MODELS else "6517B"
        limit = header.device.config.get("max_message_length")
        if isinstance(limit, int) and not isinstance(limit, bool):
            kwargs.setdefault("max_message_length", limit)
        super().__init__(host=host, port=port, log=log or logger, model=model,
                         terminator=header.output_terminator.encode("latin-1"), speed=0,
                         name=name or f"replay:{player.path.name}", **kwargs)
        self.player = player
        # MockServer drives any object with the §0.5 device surface; its attribute is
        # annotated with the emulator class, hence the ignore.
        self.device = player  # type: ignore[assignment]


class RecordingReplayServer(RecordingMixin, ReplayServer):
    """A ``ReplayServer`` whose traffic is recorded again through its ``recording_tap``.

    Without a ``recording_tap`` it makes one whose header is the replayed
    cassette's. For record mode ``new_episodes``: lenient replay with an
    emulator fallback, recorded with ``recording_tap.start_file(path,
    overwrite=True)``.
    """

    def __init__(self, player: CassettePlayer, *, recording_tap: RecordingTap | None = None,
                 **kwargs: Any) -> None:
        header = player.cassette.header
        if recording_tap is None:
            recording_tap = RecordingTap(header.output_terminator.encode("latin-1"),
                                         header=dataclasses.replace(header, created_at=""))
        super().__init__(player, recording_tap=recording_tap, **kwargs)


class NewEpisodesServer(RecordingReplayServer):
    """A ``RecordingReplayServer`` whose new recording replaces the cassette only if kept.

    Set ``keep_recording = True`` before ``close()`` (the session ended well):
    the recording is then finished and moved over the cassette atomically.
    Otherwise ``close()`` abandons it and the replayed cassette stays as it was.
    """

    keep_recording = False

    async def close(self) -> None:
        if not self.keep_recording and (path := self.recording_tap.abandon()) is not None:
            logger.info("Abandoned the new recording of %s; the cassette is unchanged", path)
        await super().close()


#: Bytes asked of either side per read.
FORWARD_CHUNK = 65536
#: Seconds the forwarder waits for the remote endpoint to accept a connection.
REMOTE_CONNECT_TIMEOUT = 10.0


class TcpForwarder(OneClientServer):
    """A TCP endpoint that passes each client's bytes to ``remote_host:remote_port`` and back.

    Bytes pass unchanged in both directions (no terminator translation, no
    polling thread). Each client gets its own connection to the remote,
    opened when the client connects and closed when it leaves; the client is
    disconnected when the remote closes or cannot be reached. ``terminator``
    only describes the traffic (for a recording tap).
    """

    def __init__(self, remote_host: str, remote_port: int, *, host: str | None = "127.0.0.1",
                 port: int | None = 0, log: logging.Logger | None = None, name: str = "",
                 terminator: bytes = b"\n", **kwargs: Any) -> None:
        self.remote = (remote_host, remote_port)
        self.forward_task: asyncio.Future[Any] = make_done_future()
        # The forwarding task detects a client leaving; a monitor task would race it.
        super().__init__(host=host, port=port, log=log or logger,
                         connect_callback=self._client_changed, monitor_connection_interval=0,
                         name=name or f"forward:{remote_host}:{remote_port}",
                         terminator=terminator, **kwargs)

    async def _client_changed(self, server: Any) -> None:
        await cancel_and_await(self.forward_task, self.log)
        reader, writer = self._reader, self._writer
        if not self.connected or reader is None or writer is None:
            return
        try:
            async with asyncio.timeout(REMOTE_CONNECT_TIMEOUT):
                remote = await asyncio.open_connection(*self.remote)
        except (OSError, TimeoutError) as e:
            self.log.error("Cannot reach %s:%s (%s); disconnecting the client", *self.remote, e)
            await self.close_client()
            return
        self.forward_task = asyncio.ensure_future(self._forward(reader, writer, *remote))

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       remote_reader: asyncio.StreamReader,
                       remote_writer: asyncio.StreamWriter) -> None:
        """Pump both ways until either side closes, then close both."""
        pumps = [asyncio.ensure_future(_pump(reader, remote_writer)),
                 asyncio.ensure_future(_pump(remote_reader, writer))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                await cancel_and_await(pump, self.log)
            remote_writer.close()
        async with self._connection_lock:
            if self._writer is writer:
                await self.close_client()

    async def _cancel_background_tasks(self) -> None:
        try:
            await cancel_and_await(self.forward_task, self.log)
        finally:
            await super()._cancel_background_tasks()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(FORWARD_CHUNK):
            sink.write(data)
            await sink.drain()
    except ConnectionError as e:
        logger.info("Forwarded connection lost: %r", e)


class RecordingForwarder(RecordingMixin, TcpForwarder):
    """A ``TcpForwarder`` whose client traffic goes through ``recording_tap``: how a
    session with an instrument behind a TCP endpoint (``hil bridge``, a LAN
    instrument) is recorded."""
