"""``DeviceSession``: one byte stream driving one sans-IO device (spec keithley.md §0.5).

Transport-neutral: the transport reads bytes and calls ``feed``; the session
frames them (``devices.scpi.Framer``), hands messages, device clears and
overruns to the device, and writes each reply with its terminator to the
transport's writer when the device says it is ready. A scheduler task, owned by
the session while it is attached to a writer, writes delayed replies at their
time and polls the device when it asks. Replies are never reordered; XOFF from
the host holds them (§8.2). With ``send_flow_control`` the session also sends
XOFF when the device's unprocessed input passes ¾ of ``max_message_length`` and
XON when it falls below ½ (§8.2, F36), always between replies. The TCP
``MockServer`` and the ``PtyEndpoint`` both run on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import NamedTuple, Protocol

from devices.scpi import DeviceClear, FlowControl, Framer, Message, Overrun, Reply
from harness.tcpip.base import cancel_and_await

__all__ = ["MAX_PENDING_REPLIES", "DeviceSession", "ReplyWriter", "SansIoDevice"]

logger = logging.getLogger(__name__)

#: Replies waiting for their ready time before the transport should stop reading
#: input, so a client that pipelines queries behind a long acquisition meets backpressure.
MAX_PENDING_REPLIES = 1024
#: Seconds between two polls the device asked for, so a model that keeps asking
#: for an immediate poll cannot monopolise the event loop.
MIN_POLL_INTERVAL = 0.001
#: Replies are ASCII (§1.7); latin-1 mirrors the framer's decoding of input.
REPLY_ENCODING = "latin-1"
#: The flow-control bytes the device sends (§8.2).
XON, XOFF = b"\x11", b"\x13"


class SansIoDevice(Protocol):
    """The device interface of spec §0.5 that a session drives."""

    def receive(self, message: str, now: float) -> list[Reply]: ...

    def device_clear(self, now: float) -> list[Reply]: ...

    def input_overrun(self, now: float) -> None: ...

    def poll(self, now: float) -> list[Reply]: ...

    def next_wakeup(self) -> float | None: ...


class ReplyWriter(Protocol):
    """Where replies go: an ``asyncio.StreamWriter`` or anything with the same two methods."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


class _Outgoing(NamedTuple):
    data: bytes
    ready_at: float


class DeviceSession:
    """Framing, device calls and reply timing for one stream.

    ``terminator`` follows every reply, ``dcl_terminator`` the device-clear
    reply. ``on_flow_control(paused)`` is called for XON/XOFF from the host
    (only with ``xonxoff``); ``on_device_clear()`` before the device-clear reply
    is written, so a transport can drop output it still buffers (§8.3).
    ``input_terminator`` limits what ends an input message (F1; None: CR and
    LF). ``send_flow_control`` (with ``xonxoff``) makes the session send XOFF
    and XON for the device's input (F36); ``queued_input()`` tells how many
    received characters the device holds unexecuted (the framer's partial
    message is added).
    """

    def __init__(
        self,
        device: SansIoDevice,
        *,
        terminator: bytes,
        dcl_terminator: bytes | None = None,
        max_message_length: int = 2048,
        xonxoff: bool = False,
        log: logging.Logger | None = None,
        on_flow_control: Callable[[bool], None] | None = None,
        on_device_clear: Callable[[], None] | None = None,
        input_terminator: bytes | None = None,
        send_flow_control: bool = False,
        queued_input: Callable[[], int] | None = None,
    ) -> None:
        self.device = device
        self.terminator = terminator
        self.dcl_terminator = terminator if dcl_terminator is None else dcl_terminator
        self.framer = Framer(max_message_length, xonxoff, input_terminator)
        self.send_flow_control = send_flow_control and xonxoff
        self._queued_input = queued_input
        self._stop_input_above = max_message_length * 3 // 4
        self._resume_input_below = max_message_length // 2
        self._input_stopped = False
        self.log = log if log is not None else logger
        self._on_flow_control = on_flow_control
        self._on_device_clear = on_device_clear
        self._writer: ReplyWriter | None = None
        self._scheduler: asyncio.Future[None] | None = None
        self._outbox: deque[_Outgoing] = deque()
        self._output_paused = False
        self._poll_requested = False
        # Set whenever the scheduler must look at the outbox or the device again.
        self._wake = asyncio.Event()
        # Mirrors ``has_room``; ``on_room(has_room)`` hears of every change.
        self._outbox_has_room = asyncio.Event()
        self._outbox_has_room.set()
        self.on_room: Callable[[bool], None] | None = None

    @property
    def output_paused(self) -> bool:
        """True while XOFF from the host holds the output."""
        return self._output_paused

    @property
    def input_stopped(self) -> bool:
        """True after the session sent XOFF and before it sent XON again."""
        return self._input_stopped

    @property
    def pending_input(self) -> int:
        """Characters received but not yet executed: the partial message and the device's."""
        queued = self._queued_input() if self._queued_input is not None else 0
        return self.framer.pending + queued

    @property
    def pending_replies(self) -> int:
        """Replies waiting for their ready time (or for XON)."""
        return len(self._outbox)

    # -- lifetime ----------------------------------------------------------------------

    def attach(self, writer: ReplyWriter) -> None:
        """Start serving a new stream: fresh framer, empty outbox, output not paused."""
        if self._writer is not None:
            raise RuntimeError("the session is already attached; detach it first")
        self.framer.reset()
        self._clear_outbox()
        self._output_paused = False
        self._input_stopped = False
        self._writer = writer
        self._scheduler = asyncio.ensure_future(self._schedule_replies(writer))

    async def detach(self) -> None:
        """Stop the scheduler; input and output in flight are dropped."""
        scheduler, self._scheduler = self._scheduler, None
        try:
            if scheduler is not None:
                await cancel_and_await(scheduler, self.log)
        finally:
            self._writer = None
            self._clear_outbox()
            self.framer.reset()

    @contextlib.asynccontextmanager
    async def attached(self, writer: ReplyWriter) -> AsyncIterator[DeviceSession]:
        """``attach`` for the duration of a ``with`` block."""
        self.attach(writer)
        try:
            yield self
        finally:
            await self.detach()

    # -- input -------------------------------------------------------------------------

    def feed(self, data: bytes, now: float) -> None:
        """Hand ``data`` (received at host time ``now``) to the framer and the device."""
        writer = self._writer
        if writer is None:
            raise RuntimeError("the session is not attached to a writer")
        device = self.device
        for event in self.framer.feed(data):
            try:
                if isinstance(event, Message):
                    if len(self._outbox) >= MAX_PENDING_REPLIES:
                        # Only while XOFF holds the output: the input queue overflows.
                        self.log.warning("Output held by XOFF and full; message dropped")
                        device.input_overrun(now)
                        continue
                    self._emit(device.receive(event.text, now), self.terminator, writer, now)
                elif isinstance(event, DeviceClear):
                    self._device_clear(writer, now)
                elif isinstance(event, Overrun):
                    device.input_overrun(now)
                elif isinstance(event, FlowControl):
                    self._set_output_paused(event.state == "xoff", writer, now)
            except Exception:
                # A model bug must not cost the client its connection (§0.5).
                self.log.exception("The device failed on %r; the event is ignored", event)
        if self.send_flow_control:
            self._update_input_flow(writer)
        if self._outbox or self._poll_requested or device.next_wakeup() is not None:
            self._wake.set()

    def serial_break(self, now: float) -> None:
        """A break on the line: a device clear that also drops the partial message (§8.3)."""
        writer = self._writer
        if writer is None:
            raise RuntimeError("the session is not attached to a writer")
        self.framer.reset()
        self._device_clear(writer, now)
        if self.send_flow_control:
            self._update_input_flow(writer)

    def _device_clear(self, writer: ReplyWriter, now: float) -> None:
        """Drop undelivered replies, then send the device's ``DCL`` reply (§8.3)."""
        self._clear_outbox()
        if self._on_device_clear is not None:
            self._on_device_clear()
        self._emit(self.device.device_clear(now), self.dcl_terminator, writer, now)

    @property
    def has_room(self) -> bool:
        """Whether the transport may read more input now (``wait_for_room`` would not wait)."""
        return len(self._outbox) < MAX_PENDING_REPLIES or self._output_paused

    async def wait_for_room(self) -> None:
        """Return when the transport may read more input (the outbox is not full)."""
        if not self.has_room:
            await self._outbox_has_room.wait()

    async def deliver_remaining(self) -> None:
        """After the input ended, send the replies still owed (``nc -N`` half-closes)."""
        writer = self._writer
        if writer is None:
            return
        loop = asyncio.get_running_loop()
        outbox = self._outbox
        while outbox and not self._output_paused:
            # A deadline wait, not synchronisation: the reply's time is known.
            await asyncio.sleep(max(0.0, outbox[0].ready_at - loop.time()))
            self._flush(writer, loop.time())
            await writer.drain()

    def wakeup(self) -> None:
        """Poll the device soon: an unpredictable event (a control operation) happened."""
        self._poll_requested = True
        self._wake.set()

    # -- flow control ------------------------------------------------------------------

    def _update_input_flow(self, writer: ReplyWriter) -> None:
        """Send XOFF or XON when the unprocessed input crosses a threshold (§8.2).

        Called between whole replies only, so the byte never splits one.
        """
        pending = self.pending_input
        if not self._input_stopped and pending > self._stop_input_above:
            self._input_stopped = True
            self.log.debug("Input queue at %d characters; sending XOFF", pending)
            writer.write(XOFF)
        elif self._input_stopped and pending < self._resume_input_below:
            self._input_stopped = False
            self.log.debug("Input queue at %d characters; sending XON", pending)
            writer.write(XON)

    # -- replies -----------------------------------------------------------------------

    def _set_output_paused(self, paused: bool, writer: ReplyWriter, now: float) -> None:
        self._output_paused = paused
        if self._on_flow_control is not None:
            self._on_flow_control(paused)
        self._flush(writer, now)
        self._room_changed()

    def _room_changed(self) -> None:
        """Bring ``_outbox_has_room`` (and ``on_room``) up to date with ``has_room``."""
        room = self.has_room
        if room == self._outbox_has_room.is_set():
            return
        if room:
            self._outbox_has_room.set()
        else:
            self._outbox_has_room.clear()
        if self.on_room is not None:
            self.on_room(room)

    def _emit(
        self, replies: Iterable[Reply], terminator: bytes, writer: ReplyWriter, now: float
    ) -> None:
        """Write the replies that are ready and owe nothing to earlier ones; queue the rest."""
        outbox = self._outbox
        for text, ready_at in replies:
            data = text.encode(REPLY_ENCODING, "replace") + terminator
            if ready_at <= now and not outbox and not self._output_paused:
                writer.write(data)
            else:
                outbox.append(_Outgoing(data, ready_at))
        if len(outbox) >= MAX_PENDING_REPLIES:
            self._room_changed()

    def _clear_outbox(self) -> None:
        self._outbox.clear()
        self._room_changed()

    def _flush(self, writer: ReplyWriter, now: float) -> None:
        """Write, in order, every reply at the head of the outbox that is ready."""
        outbox = self._outbox
        if not outbox or self._output_paused or outbox[0].ready_at > now:
            return
        chunks = [outbox.popleft().data]
        while outbox and outbox[0].ready_at <= now:
            chunks.append(outbox.popleft().data)
        writer.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        self._room_changed()

    def _next_deadline(self) -> float | None:
        deadlines = []
        if self._outbox and not self._output_paused:
            deadlines.append(self._outbox[0].ready_at)
        wakeup = self.device.next_wakeup()
        if wakeup is not None:
            deadlines.append(wakeup)
        return min(deadlines) if deadlines else None

    async def _schedule_replies(self, writer: ReplyWriter) -> None:
        """Write delayed replies at their ready time and poll the device when it asks."""
        try:
            await self._run_schedule(writer)
        except ConnectionError as e:
            # The transport's reader sees the end of the connection.
            self.log.info("Connection lost while replying: %r", e)
            self._clear_outbox()

    async def _run_schedule(self, writer: ReplyWriter) -> None:
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
            self._flush(writer, now)
            polled = self._poll_device(writer, now)
            if polled and self.send_flow_control:
                self._update_input_flow(writer)
            await writer.drain()
            wakeup = self.device.next_wakeup()
            if polled and wakeup is not None and wakeup <= now:
                # The device still asks for a poll at once: do not spin.
                await asyncio.sleep(MIN_POLL_INTERVAL)

    def _poll_device(self, writer: ReplyWriter, now: float) -> bool:
        """Poll the device if it asked for it or a wakeup was requested; True if polled."""
        wakeup = self.device.next_wakeup()
        if not self._poll_requested and (wakeup is None or wakeup > now):
            return False
        self._poll_requested = False
        try:
            self._emit(self.device.poll(now), self.terminator, writer, now)
        except Exception:
            self.log.exception("The device failed while polled; continuing")
        return True
