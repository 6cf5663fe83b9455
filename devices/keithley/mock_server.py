"""``MockServer``: an emulated Keithley electrometer on a TCP port.

The one place where the sans-IO models meet ``harness.tcpip``: a
``OneClientServer`` whose command loop reads raw bytes and feeds them to a
``DeviceSession``, which frames them, hands messages, device clears and
overruns to a ``MockKeithley`` and writes each reply, followed by the output
terminator, when the model says it is ready (spec keithley.md §0.5, §1.1-§1.3,
§1.9, §8).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from devices.keithley.config import KeithleyConfig
from devices.keithley.mock_keithley import MockKeithley
from harness.device_session import DeviceSession
from harness.pushed_input import PushedInput, can_push, push_input
from harness.tcpip import BaseClientOrServer, OneClientServer
from harness.tcpip.base import cancel_and_await, make_done_future

__all__ = [
    "OUTPUT_TERMINATORS", "MockServer", "build_config", "input_terminator", "terminator_name",
]

logger = logging.getLogger(__name__)

#: Output terminator bytes by configuration name (§1.9).
OUTPUT_TERMINATORS: dict[str, bytes] = {
    "CR": b"\r",
    "LF": b"\n",
    "CRLF": b"\r\n",
    "LFCR": b"\n\r",
}
#: Bytes asked of the socket per read; the framer bounds what is kept of them.
READ_CHUNK = 65536


def terminator_name(terminator: bytes) -> str:
    """The §1.9 name of an output terminator (``b"\\r"`` → ``"CR"``).

    Raises ``ValueError`` for anything but CR, LF, CRLF or LFCR.
    """
    for name, value in OUTPUT_TERMINATORS.items():
        if value == terminator:
            return name
    raise ValueError(
        f"terminator={terminator!r} is not an RS-232 output terminator of the instrument; "
        "use b'\\n', b'\\r', b'\\r\\n' or b'\\n\\r'"
    )


def build_config(
    model: str, terminator: bytes, speed: float, strict: bool, seed: int, overrides: dict[str, Any]
) -> KeithleyConfig:
    """The model configuration for the server's arguments; raises ``ValueError``."""
    output_terminator = terminator_name(terminator)
    given = overrides.get("output_terminator", output_terminator)
    if given != output_terminator:
        raise ValueError(
            f"output_terminator={given!r} contradicts terminator={terminator!r}; "
            "give only terminator"
        )
    data = {
        **overrides,
        "model": model,
        "output_terminator": output_terminator,
        "speed": speed,
        "mode": "strict" if strict else "lenient",
        "seed": seed,
    }
    return KeithleyConfig.from_mapping(data)


def input_terminator(config: KeithleyConfig) -> bytes | None:
    """What ends an input message: the output terminator with F1 ``configured``, else any."""
    if config.fidelity_choice("F1") == "configured":
        return config.terminator.encode("latin-1")
    return None


class MockServer(OneClientServer):
    """A ``OneClientServer`` fronting one emulated Keithley 6517B or 6514.

    ``model``, ``speed``, ``strict`` (``False``: lenient mode, §9.1), ``seed``
    and ``**config`` (any key of ``KeithleyConfig``, nested tables or dotted
    keys) configure the model; ``terminator`` is the instrument's output
    terminator and must be CR, LF, CRLF or LFCR. The device outlives client
    connections; input and output in flight are dropped when a client leaves.
    Raises ``ValueError`` for an invalid configuration.
    """

    def __init__(
        self,
        *,
        host: str | None = "127.0.0.1",
        port: int | None = 0,
        log: logging.Logger | None = None,
        model: str = "6517B",
        terminator: bytes = b"\n",
        speed: float = 1.0,
        strict: bool = True,
        seed: int = 0,
        name: str = "",
        **config: Any,
    ) -> None:
        self.config = build_config(model, terminator, speed, strict, seed, config)
        device = MockKeithley(self.config, now=asyncio.get_running_loop().time())
        self.session = DeviceSession(
            device,
            terminator=terminator,
            dcl_terminator=b"\r\n" if self.config.dcl_terminator == "CRLF" else terminator,
            max_message_length=self.config.max_message_length,
            xonxoff=self.config.serial.xonxoff,
            input_terminator=input_terminator(self.config),
            send_flow_control=self.config.fidelity_choice("F36") == "emit",
            queued_input=self._queued_input,
        )
        self._device = device
        self.read_loop_task: asyncio.Future[Any] = make_done_future()
        super().__init__(
            host=host,
            port=port,
            log=log if log is not None else logger,
            connect_callback=self.connect_callback,
            # The command loop detects a client leaving; a monitor task would race it.
            monitor_connection_interval=0,
            name=name or model,
            terminator=terminator,
        )
        self.session.log = self.log

    @property
    def device(self) -> MockKeithley:
        """The emulated instrument; it survives client connections."""
        return self._device

    @device.setter
    def device(self, device: MockKeithley) -> None:
        self._device = device
        self.session.device = device

    def _queued_input(self) -> int:
        return self._device.engine.queued_characters

    def wakeup(self) -> None:
        """Poll the device soon: an unpredictable event (a control operation) happened."""
        self.session.wakeup()

    # -- connection lifetime ---------------------------------------------------------

    async def connect_callback(self, server: BaseClientOrServer) -> None:
        """Start the command loop when a client connects; stop it when it leaves."""
        await cancel_and_await(self.read_loop_task, self.log)
        if self.connected:
            self.read_loop_task = asyncio.create_task(self.cmd_loop())

    async def cmd_loop(self) -> None:
        """Serve the connected client until it leaves; drops the client on a transport error."""
        reader = self._reader
        writer = self._writer
        if reader is None or writer is None:
            return
        try:
            async with self.session.attached(writer) as session:
                await self._read_commands(reader, writer, session)
                await session.deliver_remaining()
        except ConnectionError as e:
            self.log.info("Client connection lost: %r", e)
        except Exception:
            self.log.exception("The command loop failed; disconnecting the client")
        # Check and close under the (re-entrant) connection lock, so that a client accepted
        # meanwhile is never the one closed here.
        async with self._connection_lock:
            if self._writer is writer:
                await self.close_client()

    async def _read_commands(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: DeviceSession
    ) -> None:
        if can_push(reader, writer):
            await self._push_commands(reader, writer, session)
            return
        # Stand-in streams (recording, fault injection) are read by this task.
        loop = asyncio.get_running_loop()
        transport = writer.transport
        while True:
            if not session.has_room:  # skips a coroutine per message in the usual case
                await session.wait_for_room()
            data = await reader.read(READ_CHUNK)
            if not data:
                return
            session.feed(data, loop.time())
            # With nothing buffered drain() would return at once; it still sees a closing
            # transport (and the error of a lost connection) whenever that matters.
            if transport.get_write_buffer_size() or transport.is_closing():
                await writer.drain()

    async def _push_commands(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: DeviceSession
    ) -> None:
        """Feed the session from the transport's callback: no task wakes up per message."""
        time = asyncio.get_running_loop().time

        def consume(data: bytes) -> None:
            session.feed(data, time())

        def on_push(pushed: PushedInput) -> None:
            session.on_room = lambda room: pushed.release("room") if room else pushed.hold("room")

        try:
            await push_input(reader, writer, consume, on_push, READ_CHUNK)
        finally:
            session.on_room = None

    async def _cancel_background_tasks(self) -> None:
        try:
            await cancel_and_await(self.read_loop_task, self.log)
        finally:
            await super()._cancel_background_tasks()
