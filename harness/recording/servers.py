"""TCP endpoints for recording and replay, built on ``MockServer``.

* ``RecordingMockServer``: the emulator with a recording tap.
* ``ReplayServer``: ``MockServer``'s command loop (framing, device clear,
  reply scheduling) driving a ``CassettePlayer`` instead of an emulator.
* ``RecordingReplayServer``: a replay that is recorded again (record mode
  ``new_episodes``: the cassette's exchanges plus those a fallback answered).
* ``hardware_header``: the header for a tap on a bridge to a real instrument.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from devices.keithley.mock_server import MockServer
from harness.recording.cassette import CassetteHeader, DeviceInfo
from harness.recording.replay import CassettePlayer
from harness.recording.tap import RecordingMixin, RecordingTap

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
