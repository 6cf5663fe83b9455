"""``PtyEndpoint``: a sans-IO device served on a pseudo-terminal (spec keithley.md §8).

Serial clients (pyserial, pyvisa ``ASRL/dev/pts/N::INSTR``) open ``path`` (or
the stable symlink ``link``) as if it were the instrument's RS-232 port. The
endpoint keeps its own slave descriptor open, so clients may come and go; it
ends only with ``close``. Input is framed by a ``DeviceSession`` (CR and LF end
messages; Ctrl-C and Ctrl-X clear the device; with XON/XOFF the flow bytes are
removed and XOFF holds the output); output is optionally paced at the line rate.

With a ``RecordingTap`` the pty's traffic is recorded as one long connection
(a pty has no connect event): opened by the first byte a client writes, closed
when the endpoint closes; bytes read from the master are ``rx``, bytes written
to it ``tx``.

A serial break cannot be seen through a Linux pseudo-terminal (the kernel
drops ``tcsendbreak`` on a pty), so ``serial_break()`` is the way to inject one.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import termios
import tty
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from harness.device_session import DeviceSession, SansIoDevice
from harness.serial.errors import PtyError
from harness.serial.pty_output import PtyOutput
from harness.serial.settings import LineSettings
from harness.tcpip.base import cancel_and_await, make_done_future

if TYPE_CHECKING:
    from devices.keithley.config import KeithleyConfig
    from devices.scpi.engine import Engine
    from harness.recording.tap import RecordingTap, TapConnection

__all__ = ["PtyEndpoint"]

logger = logging.getLogger(__name__)

#: Bytes asked of the pty per read; the framer bounds what is kept of them.
READ_CHUNK = 4096


class PtyEndpoint:
    """One device on one pseudo-terminal; use ``async with`` or ``start``/``close``.

    ``terminator`` follows every reply (``dcl_terminator`` the ``DCL`` reply);
    ``settings`` are the line settings (XON/XOFF, and the baud rate that
    ``pace=True`` honours: 1 + data bits + parity + stop bits per byte).
    ``link``, if given, is a symlink to the pty published on start and removed
    on close. ``recording_tap`` records the traffic (its header should say
    ``transport="pty"``); the endpoint stops it on close. ``input_terminator``,
    ``send_flow_control`` and ``queued_input`` go to the ``DeviceSession``. Raises ``PtyError``
    from ``start`` if no pty can be made.
    """

    def __init__(
        self,
        device: SansIoDevice,
        *,
        terminator: bytes = b"\n",
        dcl_terminator: bytes | None = None,
        settings: LineSettings | None = None,
        pace: bool = False,
        link: str | os.PathLike[str] | None = None,
        max_message_length: int = 2048,
        name: str = "",
        log: logging.Logger | None = None,
        recording_tap: RecordingTap | None = None,
        input_terminator: bytes | None = None,
        send_flow_control: bool = False,
        queued_input: Callable[[], int] | None = None,
    ) -> None:
        self.settings = settings if settings is not None else LineSettings()
        self.pace = pace
        self.link = Path(link) if link is not None else None
        self.name = name
        self.log = (log if log is not None else logger).getChild(f"PtyEndpoint({name})")
        self.path: str | None = None
        self._output: PtyOutput | None = None
        self.session = DeviceSession(
            device, terminator=terminator, dcl_terminator=dcl_terminator,
            max_message_length=max_message_length, xonxoff=self.settings.xonxoff, log=self.log,
            on_flow_control=self._flow_control, on_device_clear=self._discard_output,
            input_terminator=input_terminator, send_flow_control=send_flow_control,
            queued_input=queued_input)
        self._master: int | None = None
        self._slave: int | None = None
        self._reader: asyncio.Future[None] = make_done_future()
        self.recording_tap = recording_tap
        self._recording: TapConnection | None = None

    @classmethod
    def for_keithley(cls, config: KeithleyConfig | None = None, *,
                     device: SansIoDevice | None = None, pace: bool = False,
                     link: str | os.PathLike[str] | None = None, name: str = "",
                     log: logging.Logger | None = None,
                     recording_tap: RecordingTap | None = None,
                     **overrides: Any) -> PtyEndpoint:
        """An emulated Keithley on a pty, with its configured terminators and line settings.

        ``config`` is a ``KeithleyConfig`` (default: from ``overrides``, any
        ``KeithleyConfig`` keys, nested tables or dotted keys; a 6517B by default);
        ``device`` an existing model to share (default: a new ``MockKeithley``).
        Must be called with an event loop running.
        """
        from devices.keithley.config import KeithleyConfig
        from devices.keithley.mock_keithley import MockKeithley
        from devices.keithley.mock_server import input_terminator

        if config is None:
            config = KeithleyConfig.from_mapping(overrides)
        elif overrides:
            config = KeithleyConfig.from_mapping({**config.to_mapping(), **overrides})
        if device is None:
            device = MockKeithley(config, now=asyncio.get_running_loop().time())
        queued_input = engine_queue(device.engine) if isinstance(device, MockKeithley) else None
        endpoint = cls(
            device, terminator=config.terminator.encode("latin-1"),
            dcl_terminator=config.dcl_reply_terminator.encode("latin-1"),
            settings=LineSettings.from_keithley(config.serial), pace=pace, link=link,
            max_message_length=config.max_message_length, name=name or config.model, log=log,
            recording_tap=recording_tap, input_terminator=input_terminator(config),
            send_flow_control=config.fidelity_choice("F36") == "emit", queued_input=queued_input)
        if pace and config.simulate_line_rate:
            endpoint.log.warning("pace=True and simulate_line_rate both add the line time; "
                                 "replies take twice as long as on the instrument")
        return endpoint

    @property
    def device(self) -> SansIoDevice:
        return self.session.device

    @device.setter
    def device(self, device: SansIoDevice) -> None:
        self.session.device = device

    @property
    def started(self) -> bool:
        return self._master is not None

    # -- lifetime ----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the pty, publish the link and start serving."""
        if self._master is not None:
            raise RuntimeError("the pty endpoint is already started")
        master, slave, path = self._open_pty()
        self._master, self._slave, self.path = master, slave, path
        try:
            if self.link is not None:
                publish_link(self.link, path)
        except BaseException:
            self._close_descriptors()
            raise
        pace = self.settings.seconds_per_character if self.pace else None
        recording = None
        if self.recording_tap is not None:
            recording = self._recording = self.recording_tap.connection(path)
        self._output = PtyOutput(master, seconds_per_character=pace, log=self.log,
                                 on_sent=recording.sent if recording is not None else None)
        self.session.attach(self._output)
        self._reader = asyncio.ensure_future(self._read_input(master))
        self.log.info("Serving on %s%s (%d baud, %s)", path,
                      f" (link {self.link})" if self.link is not None else "",
                      self.settings.baud, "paced" if self.pace else "not paced")

    async def close(self) -> None:
        """Stop serving, remove the link and close the pty; clients see EIO."""
        if self._master is None:
            return
        try:
            if self.link is not None and self.path is not None:
                remove_link(self.link, self.path, self.log)
            await cancel_and_await(self._reader, self.log)
            await self.session.detach()
            if self._output is not None:
                await self._output.close()
        finally:
            self._output = None
            self._close_descriptors()
            self._stop_recording()
            self.log.info("Closed %s", self.path)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    def _stop_recording(self) -> None:
        """Record the end of the pty's connection and finish the cassette."""
        recording, self._recording = self._recording, None
        if recording is not None:
            recording.close()
        if self.recording_tap is not None:
            self.recording_tap.stop()

    # -- device events -----------------------------------------------------------------

    def wakeup(self) -> None:
        """Poll the device soon (after a control operation)."""
        self.session.wakeup()

    def serial_break(self) -> None:
        """Act on a serial break from the host: a device clear (§8.3)."""
        self.session.serial_break(asyncio.get_running_loop().time())

    def _flow_control(self, paused: bool) -> None:
        if self._output is not None:
            self._output.set_paused(paused)

    def _discard_output(self) -> None:
        if self._output is not None:
            self._output.discard()

    # -- I/O ---------------------------------------------------------------------------

    def _open_pty(self) -> tuple[int, int, str]:
        try:
            master, slave = os.openpty()
        except OSError as e:
            raise PtyError(f"cannot create a pseudo-terminal: {e}; check /dev/ptmx and the "
                           "limit in /proc/sys/kernel/pty/max") from e
        try:
            tty.setraw(slave, termios.TCSANOW)
            set_line_speed(slave, self.settings.baud)
            os.set_blocking(master, False)
            return master, slave, os.ttyname(slave)
        except OSError as e:
            os.close(master)
            os.close(slave)
            raise PtyError(f"cannot configure the pseudo-terminal: {e}") from e

    def _close_descriptors(self) -> None:
        master, slave = self._master, self._slave
        self._master = self._slave = None
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)

    async def _read_input(self, master: int) -> None:
        """Read what clients write and feed it to the session; stops only on close."""
        loop = asyncio.get_running_loop()
        session = self.session
        output = self._output
        assert output is not None
        recording = self._recording
        try:
            while True:
                await session.wait_for_room()
                if recording is not None and recording.held:
                    # Handled already: a message without a reply is on file before the wait.
                    recording.flush()
                data = await read_master(loop, master)
                if recording is not None:
                    recording.received(data)
                session.feed(data, loop.time())
                await output.drain()
        except OSError as e:
            self.log.error("The pty %s failed: %r; it no longer serves", self.path, e)


async def read_master(loop: asyncio.AbstractEventLoop, master: int) -> bytes:
    """The next bytes a client wrote; raises ``OSError`` if the pty broke."""
    while True:
        try:
            data = os.read(master, READ_CHUNK)
        except BlockingIOError:
            await _readable(loop, master)
            continue
        if not data:
            raise OSError(errno.EIO, "end of file on the pty master")
        return data


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    waiter: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not waiter.done():
            waiter.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await waiter
    finally:
        loop.remove_reader(fd)


def engine_queue(engine: Engine[Any]) -> Callable[[], int]:
    """How many received characters ``engine`` holds unexecuted, as a callable."""

    def queued_input() -> int:
        return engine.queued_characters

    return queued_input


def set_line_speed(fd: int, baud: int) -> None:
    """Record the baud rate in the terminal settings (no effect on a pty but what clients see)."""
    speed = getattr(termios, f"B{baud}", None)
    if speed is None:
        return
    attributes = termios.tcgetattr(fd)
    attributes[4] = attributes[5] = speed
    termios.tcsetattr(fd, termios.TCSANOW, attributes)


def publish_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` atomically (a stale link from a dead run is replaced)."""
    if link.exists() and not link.is_symlink():
        raise PtyError(f"{link} exists and is not a symlink; choose another link path")
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    try:
        temporary.unlink(missing_ok=True)
        os.symlink(target, temporary)
        os.replace(temporary, link)
    except OSError as e:
        temporary.unlink(missing_ok=True)
        raise PtyError(f"cannot create the symlink {link} -> {target}: {e}") from e


def remove_link(link: Path, target: str, log: logging.Logger) -> None:
    """Remove ``link`` if it still points at ``target`` (a new endpoint may own it now)."""
    try:
        if os.readlink(link) == target:
            link.unlink()
    except OSError as e:
        log.debug("Symlink %s not removed: %r", link, e)
