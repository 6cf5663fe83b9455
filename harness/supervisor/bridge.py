"""A serial bridge as a supervised device (device kind ``"bridge"``).

``bridge_spec(url, baud=...)`` checks the serial settings in the caller's
process and returns the ``DeviceSpec`` the supervisor launches;
``SupervisedBridge`` is the ``BridgeServer`` the device process runs, with the
traffic counters, transport faults and recording tap of the emulators;
``BridgeOperations`` is its control channel (ping, stats, drop, delay, silence,
garbage, record_start, record_stop: the operations on a model answer
``ok: false``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

from harness.recording.servers import hardware_header
from harness.recording.tap import RecordingTap
from harness.serial.bridge import BridgeServer
from harness.serial.settings import LineSettings, check_url, terminator_bytes, terminator_label
from harness.supervisor.control_ops import ControlOperations, Operation, Reply
from harness.supervisor.faults import Faults, TransportStats, drop_client, fault_streams
from harness.supervisor.spec import BRIDGE_DEVICE, DeviceSpec

#: Control operations that act on the transport or record it, hence work on a bridge.
BRIDGE_OPERATIONS = ("ping", "stats", "drop", "delay", "silence", "garbage",
                     "record_start", "record_stop")


@dataclass(frozen=True)
class BridgeIdentity:
    """What the supervisor reports as the bridge's model."""

    model: str = BRIDGE_DEVICE


def bridge_spec(url: str, *, baud: int = 9600, data_bits: int = 8, parity: str = "none",
                stop_bits: float = 1, xonxoff: bool = False,
                instrument_terminator: str | bytes = "lf", terminator: str | bytes = "lf",
                name: str = "", restart: str = "restart", host: str = "127.0.0.1",
                port: int = 0, record_dir: str = "", redact_serial: bool = False) -> DeviceSpec:
    """The spec of a bridge to ``url``; raises ``SerialSettingsError`` (or a subclass) now.

    A device path must exist (``SerialPortNotFound``); whether it opens is known
    when the device process starts (``DeviceStartError`` naming the cause).
    """
    settings = LineSettings(baud=baud, data_bits=data_bits, parity=parity,
                            stop_bits=stop_bits, xonxoff=xonxoff)
    config = {"url": check_url(url), "baud": settings.baud, "data_bits": settings.data_bits,
              "parity": settings.parity, "stop_bits": settings.stop_bits,
              "xonxoff": settings.xonxoff,
              "instrument_terminator": terminator_label(
                  terminator_bytes(instrument_terminator, "instrument terminator"))}
    return DeviceSpec(BRIDGE_DEVICE, name=name,
                      terminator=terminator_label(terminator_bytes(terminator)),
                      restart=restart, host=host, port=port, config=config,
                      record_dir=record_dir, redact_serial=redact_serial)


class SupervisedBridge(BridgeServer):
    """A ``BridgeServer`` with ``stats``, ``faults`` and ``drop()`` for the control channel."""

    config = BridgeIdentity()

    def __init__(self, url: str, *, redact_serial: bool = False, **kwargs: Any) -> None:
        self.stats = TransportStats()
        self.faults = Faults(0)
        terminator = terminator_bytes(kwargs.get("terminator", b"\n"))
        # Idle until ``hil bridge --record`` or the control channel's record_start;
        # records what the TCP client sees (source "hardware").
        self.recording_tap = RecordingTap(terminator, header=hardware_header(terminator),
                                          redact_serial=redact_serial)
        super().__init__(url, **kwargs)

    async def _set_reader_writer(self, reader: asyncio.StreamReader,
                                 writer: asyncio.StreamWriter) -> None:
        reader, writer = self.recording_tap.wrap(reader, writer)
        await super()._set_reader_writer(
            *fault_streams(reader, writer, self.faults, self.stats, self.terminator))

    async def _client_changed(self, server: Any) -> None:
        if self.connected:
            self.stats.connections += 1
        await super()._client_changed(server)

    def drop(self) -> bool:
        """Abort the client connection, if any; the bridge keeps listening."""
        return drop_client(self, self.stats)

    def reset_faults(self) -> None:
        self.faults.clear()

    def wakeup(self) -> None:
        """Nothing to poll: the instrument answers by itself."""

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self.recording_tap.stop()


class BridgeOperations(ControlOperations):
    """The control operations of a bridge: transport and recording only."""

    def __init__(self, server: Any, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        for op in list(self.operations):
            if op not in BRIDGE_OPERATIONS:
                self.operations[op] = Operation(self._not_on_a_bridge(op), open_ended=True)
        self.operations["stats"] = Operation(self.bridge_stats)

    @property
    def bridge(self) -> SupervisedBridge:
        return cast(SupervisedBridge, self.server)

    def _not_on_a_bridge(self, op: str) -> Any:
        def refuse(params: dict[str, Any]) -> Reply:
            raise ValueError(f"this device is a bridge to the real instrument at "
                             f"{self.bridge.url}; {op!r} works on emulated devices only")
        return refuse

    def bridge_stats(self, params: dict[str, Any]) -> Reply:
        server = self.bridge
        return {"stats": server.stats.as_dict(), "faults": server.faults.describe(self._clock()),
                "connected": server.connected, "serial": server.describe()}


def build_bridge(request: dict[str, Any], terminator: bytes, log: Any, *,
                 redact_serial: bool = False) -> SupervisedBridge:
    """The bridge for a launch request (in the device process)."""
    config = dict(request["config"])
    url = config.pop("url")
    return SupervisedBridge(url, host=request["host"], port=request["port"], log=log,
                            name=request["name"], terminator=terminator,
                            redact_serial=redact_serial, **config)
