"""``MockServer``: an emulated Keithley electrometer on a TCP port.

The one place where the sans-IO models meet ``harness.tcpip``: a
``OneClientServer`` whose command loop reads raw bytes, frames them
(``devices.scpi.Framer``), hands messages, device clears and overruns to a
``MockKeithley`` and writes each reply, followed by the output terminator, when
the model says it is ready (spec keithley.md §0.5, §1.1-§1.3, §1.9, §8).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from typing import Any, NamedTuple, Protocol

from devices.keithley.config import KeithleyConfig
from devices.keithley.mock_keithley import MockKeithley
from devices.scpi import DeviceClear, FlowControl, Framer, Message, Overrun, Reply
from harness.tcpip import BaseClientOrServer, OneClientServer
from harness.tcpip.base import cancel_and_await, make_done_future

__all__ = ["OUTPUT_TERMINATORS", "MockServer", "SansIoDevice"]

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
#: Replies waiting for their ready time before the loop stops reading input, so a
#: client that pipelines queries behind a long acquisition meets TCP backpressure.
MAX_PENDING_REPLIES = 1024
#: Seconds between two polls the device asked for, so a model that keeps asking
#: for an immediate poll cannot monopolise the event loop.
MIN_POLL_INTERVAL = 0.001
#: Replies are ASCII (§1.7); latin-1 mirrors the framer's decoding of input.
REPLY_ENCODING = "latin-1"


class SansIoDevice(Protocol):
    """The device interface of spec §0.5 that the command loop drives."""

    def receive(self, message: str, now: float) -> list[Reply]: ...

    def device_clear(self, now: float) -> list[Reply]: ...

    def input_overrun(self, now: float) -> None: ...

    def poll(self, now: float) -> list[Reply]: ...

    def next_wakeup(self) -> float | None: ...


class _Outgoing(NamedTuple):
    data: bytes
    ready_at: float


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
        monitor_connection_interval: float = 0,
        **config: Any,
    ) -> None:
        self.config = build_config(model, terminator, speed, strict, seed, config)
        loop = asyncio.get_running_loop()
        self.device: MockKeithley = MockKeithley(self.config, now=loop.time())
        self.read_loop_task: asyncio.Future[Any] = make_done_future()
        self._framer = Framer(self.config.max_message_length, self.config.serial.xonxoff)
        self._dcl_terminator = b"\r\n" if self.config.dcl_terminator == "CRLF" else terminator
        self._outbox: deque[_Outgoing] = deque()
        self._output_paused = False
        self._poll_requested = False
        # Set whenever the reply scheduler must look at the outbox or the device again.
        self._wake = asyncio.Event()
        self._outbox_has_room = asyncio.Event()
        self._outbox_has_room.set()
        # The command loop detects a client leaving; a monitor task would race it.
        super().__init__(
            host=host,
            port=port,
            log=log if log is not None else logger,
            connect_callback=self.connect_callback,
            monitor_connection_interval=monitor_connection_interval,
            name=name or model,
            terminator=terminator,
        )

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
        self._framer.reset()
        self._clear_outbox()
        self._output_paused = False
        scheduler = asyncio.create_task(self._schedule_replies(writer))
        try:
            await self._read_commands(reader, writer)
            await self._deliver_remaining_replies(writer)
        except ConnectionError as e:
            self.log.info("Client connection lost: %r", e)
        except Exception:
            self.log.exception("The command loop failed; disconnecting the client")
        finally:
            await cancel_and_await(scheduler, self.log)
            self._clear_outbox()
            self._framer.reset()
        await self.close_client()

    async def _read_commands(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        device = self.device
        outbox = self._outbox
        while True:
            if len(outbox) >= MAX_PENDING_REPLIES and not self._output_paused:
                await self._outbox_has_room.wait()
            data = await reader.read(READ_CHUNK)
            if not data:
                return
            now = loop.time()
            self._handle_input(data, now)
            self._flush(writer, now)
            if outbox or self._poll_requested or device.next_wakeup() is not None:
                self._wake.set()
            await writer.drain()

    def _handle_input(self, data: bytes, now: float) -> None:
        """Feed ``data`` to the framer and its events to the device."""
        device = self.device
        for event in self._framer.feed(data):
            try:
                if isinstance(event, Message):
                    if len(self._outbox) >= MAX_PENDING_REPLIES:
                        # Only while XOFF holds the output: the input queue overflows.
                        self.log.warning("Output held by XOFF and full; message dropped")
                        device.input_overrun(now)
                        continue
                    self._queue(device.receive(event.text, now), self.terminator)
                elif isinstance(event, DeviceClear):
                    # Replies not yet delivered are discarded (§8.3).
                    self._clear_outbox()
                    self._queue(device.device_clear(now), self._dcl_terminator)
                elif isinstance(event, Overrun):
                    device.input_overrun(now)
                elif isinstance(event, FlowControl):
                    self._output_paused = event.state == "xoff"
            except Exception:
                # A model bug must not cost the client its connection (§0.5).
                self.log.exception("The device failed on %r; the event is ignored", event)

    async def _deliver_remaining_replies(self, writer: asyncio.StreamWriter) -> None:
        """After the client's EOF, send the replies still owed (``nc -N`` half-closes)."""
        loop = asyncio.get_running_loop()
        outbox = self._outbox
        while outbox and not self._output_paused:
            # A deadline wait, not synchronisation: the reply's time is known.
            await asyncio.sleep(max(0.0, outbox[0].ready_at - loop.time()))
            self._flush(writer, loop.time())
            await writer.drain()

    # -- replies -------------------------------------------------------------------

    def wakeup(self) -> None:
        """Poll the device soon: an unpredictable event (a control operation) happened."""
        self._poll_requested = True
        self._wake.set()

    def _queue(self, replies: Iterable[Reply], terminator: bytes) -> None:
        for text, ready_at in replies:
            self._outbox.append(
                _Outgoing(text.encode(REPLY_ENCODING, "replace") + terminator, ready_at)
            )
        if len(self._outbox) >= MAX_PENDING_REPLIES:
            self._outbox_has_room.clear()

    def _clear_outbox(self) -> None:
        self._outbox.clear()
        self._outbox_has_room.set()

    def _flush(self, writer: asyncio.StreamWriter, now: float) -> None:
        """Write, in order, every reply at the head of the outbox that is ready."""
        outbox = self._outbox
        if not outbox or self._output_paused or outbox[0].ready_at > now:
            return
        chunks = []
        while outbox and outbox[0].ready_at <= now:
            chunks.append(outbox.popleft().data)
        writer.write(b"".join(chunks))
        if len(outbox) < MAX_PENDING_REPLIES:
            self._outbox_has_room.set()

    def _next_deadline(self) -> float | None:
        deadlines = []
        if self._outbox and not self._output_paused:
            deadlines.append(self._outbox[0].ready_at)
        wakeup = self.device.next_wakeup()
        if wakeup is not None:
            deadlines.append(wakeup)
        return min(deadlines) if deadlines else None

    async def _schedule_replies(self, writer: asyncio.StreamWriter) -> None:
        """Write delayed replies at their ready time and poll the device when it asks."""
        loop = asyncio.get_running_loop()
        wake = self._wake
        while True:
            wake.clear()
            deadline = self._next_deadline()
            if not self._poll_requested:
                if deadline is None:
                    await wake.wait()
                    continue
                if deadline > loop.time():
                    try:
                        async with asyncio.timeout_at(deadline):
                            await wake.wait()
                        continue
                    except TimeoutError:
                        pass
            now = loop.time()
            polled = self._poll_device(now)
            self._flush(writer, now)
            await writer.drain()
            wakeup = self.device.next_wakeup()
            if polled and wakeup is not None and wakeup <= now:
                # The device still asks for a poll at once: do not spin.
                await asyncio.sleep(MIN_POLL_INTERVAL)

    def _poll_device(self, now: float) -> bool:
        """Poll the device if it asked for it or a wakeup was requested; True if polled."""
        wakeup = self.device.next_wakeup()
        if not self._poll_requested and (wakeup is None or wakeup > now):
            return False
        self._poll_requested = False
        try:
            self._queue(self.device.poll(now), self.terminator)
        except Exception:
            self.log.exception("The device failed while polled; continuing")
        return True

    async def _cancel_background_tasks(self) -> None:
        try:
            await cancel_and_await(self.read_loop_task, self.log)
        finally:
            await super()._cancel_background_tasks()
