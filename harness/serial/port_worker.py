"""``PortWorker``: the one thread that opens, reads, writes and reopens a pyserial port.

Blocking pyserial calls never run on the event loop. The loop hands bytes to
send through ``send`` (a bounded queue; a port that supports ``cancel_read``
is woken at once, others within ``POLL_TIMEOUT``); the thread hands received
bytes and port events back with ``call_soon_threadsafe``. At most
``MAX_CHUNKS_IN_FLIGHT`` received chunks wait for the loop: the thread stops
reading until the loop calls ``release``. When the port fails the loop hears
``port_lost`` and the thread reopens the same port with backoff until it works
or ``stop`` is called.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

import serial

from harness.serial.errors import SerialOpenError, SerialPortNotFound

__all__ = ["PortEvents", "PortWorker", "open_error"]

logger = logging.getLogger(__name__)

#: Bytes asked of the port per read.
READ_CHUNK = 4096
#: Received chunks handed to the loop and not yet forwarded.
MAX_CHUNKS_IN_FLIGHT = 16
#: Bytes queued for the port before ``wait_for_room`` makes the sender wait.
MAX_QUEUED_BYTES = 65536
#: Read timeout for ports whose read cannot be interrupted (``socket://``):
#: the longest a write waits for the thread.
POLL_TIMEOUT = 0.005
#: Read timeout for ports with ``cancel_read``: how often the thread looks up anyway.
CANCELLABLE_TIMEOUT = 0.5
#: Reopen backoff: first delay and ceiling, in seconds.
BACKOFF_INITIAL = 0.1
BACKOFF_MAX = 5.0
#: Seconds ``stop`` waits for the thread.
JOIN_TIMEOUT = 10.0

PortOpener = Callable[[], serial.Serial]


class PortEvents(Protocol):
    """What the worker tells the loop; each is called in the loop's thread."""

    def port_opened(self) -> None: ...

    def port_lost(self, error: BaseException) -> None: ...

    def instrument_data(self, data: bytes) -> None: ...


def open_error(url: str, error: BaseException) -> SerialOpenError | SerialPortNotFound:
    """A specific exception, with advice, for a failure to open ``url``."""
    number = getattr(error, "errno", None)
    if number == errno.ENOENT:
        return SerialPortNotFound(f"serial device {url} does not exist ({error}); check the "
                                  "cable and the name (ls /dev/serial/by-id/)")
    if number == errno.EACCES:
        return SerialOpenError(f"permission denied opening {url} ({error}); add your user to "
                               "the group owning the device (often 'dialout') and log in again")
    if number in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK):
        return SerialOpenError(f"{url} is in use by another program ({error}); close it "
                               "(another bridge, a terminal program) and retry")
    return SerialOpenError(f"cannot open {url}: {error}")


class PortWorker:
    """Runs ``open_port()`` and the port's I/O in one daemon thread.

    ``start()`` opens the port in the thread; ``opened`` (a future) fails with
    ``SerialOpenError``/``SerialPortNotFound`` if the first open fails, and the
    thread then ends. ``stop()`` ends the thread and closes the port.
    """

    def __init__(self, url: str, open_port: PortOpener, events: PortEvents, *,
                 log: logging.Logger | None = None) -> None:
        self.url = url
        self._open_port = open_port
        self._events = events
        self.log = log if log is not None else logger
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=f"serial {url}", daemon=True)
        self._stopping = threading.Event()
        self._port: serial.Serial | None = None
        self._port_lock = threading.Lock()
        self._outgoing: deque[bytes] = deque()
        self._outgoing_lock = threading.Lock()
        self._queued_bytes = 0
        self._room_wanted = False
        self._room = asyncio.Event()
        self._room.set()
        self._discard_requested = threading.Event()
        self._slots = threading.Semaphore(MAX_CHUNKS_IN_FLIGHT)
        self.opened: concurrent.futures.Future[None] = concurrent.futures.Future()

    # -- loop side ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    async def stop(self) -> None:
        """End the thread (it closes the port) and wait for it."""
        self._stopping.set()
        self._interrupt(write=True)
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, JOIN_TIMEOUT)
            if self._thread.is_alive():
                self.log.error("The serial thread for %s did not stop within %g s", self.url,
                               JOIN_TIMEOUT)

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the port (dropped while the port is closed)."""
        if not data:
            return
        with self._outgoing_lock:
            self._outgoing.append(data)
            self._queued_bytes += len(data)
            if self._queued_bytes >= MAX_QUEUED_BYTES:
                self._room.clear()
                self._room_wanted = True
        self._interrupt()

    async def wait_for_room(self) -> None:
        """Return when fewer than ``MAX_QUEUED_BYTES`` wait for the port."""
        await self._room.wait()

    def discard_input(self) -> None:
        """Drop what the port received and nobody read yet (a new client connected)."""
        self._discard_requested.set()
        self._interrupt()

    def release(self) -> None:
        """The loop forwarded one chunk of received data; the thread may read another."""
        self._slots.release()

    def _interrupt(self, write: bool = False) -> None:
        """Wake the thread from a blocking read (and write), if the port allows it."""
        with self._port_lock:
            port = self._port
            if port is None:
                return
            try:
                if hasattr(port, "cancel_read"):
                    port.cancel_read()
                if write and hasattr(port, "cancel_write"):
                    port.cancel_write()
            except (OSError, serial.SerialException) as e:
                self.log.debug("Cannot interrupt the serial thread: %r", e)

    # -- thread side -------------------------------------------------------------------

    def _run(self) -> None:
        port = self._first_open()
        while port is not None:
            try:
                self._serve(port)
            except (serial.SerialException, OSError) as e:
                self._notify(self._events.port_lost, e)
            except Exception as e:
                self.log.exception("The serial thread failed; reopening %s", self.url)
                self._notify(self._events.port_lost, e)
            finally:
                self._close(port)
            self._drop_outgoing()
            port = self._reopen()

    def _first_open(self) -> serial.Serial | None:
        try:
            port = self._open()
        except (serial.SerialException, OSError, ValueError) as e:
            self.opened.set_exception(open_error(self.url, e))
            return None
        self.opened.set_result(None)
        return port

    def _open(self) -> serial.Serial:
        port = self._open_port()
        port.timeout = self._read_timeout_for(port)
        with self._port_lock:
            self._port = port
        return port

    @staticmethod
    def _read_timeout_for(port: serial.Serial | None) -> float:
        return CANCELLABLE_TIMEOUT if hasattr(port, "cancel_read") else POLL_TIMEOUT

    def _reopen(self) -> serial.Serial | None:
        """Open the port again with growing delays; None once stopping."""
        delay = BACKOFF_INITIAL
        attempts = 0
        while not self._stopping.wait(delay):
            attempts += 1
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as e:
                level = logging.WARNING if attempts == 1 else logging.DEBUG
                self.log.log(level, "Reopening %s failed (attempt %d): %s; retrying", self.url,
                             attempts, e)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            self._discard_requested.clear()
            self._notify(self._events.port_opened)
            return port
        return None

    def _serve(self, port: serial.Serial) -> None:
        stopping = self._stopping
        timeout = self._read_timeout_for(port)
        while not stopping.is_set():
            if self._discard_requested.is_set():
                self._discard_requested.clear()
                port.reset_input_buffer()
            self._write_outgoing(port)
            if not self._slots.acquire(timeout=timeout):
                continue
            try:
                data = self._read(port)
            except BaseException:
                self._slots.release()
                raise
            if data:
                self._notify(self._events.instrument_data, data)
            else:
                self._slots.release()

    @staticmethod
    def _read(port: serial.Serial) -> bytes:
        data: bytes = port.read(1)
        if data:
            waiting = port.in_waiting
            if waiting:
                data += port.read(min(waiting, READ_CHUNK))
        return data

    def _write_outgoing(self, port: serial.Serial) -> None:
        while True:
            with self._outgoing_lock:
                if not self._outgoing:
                    return
                data = self._outgoing.popleft()
            port.write(data)
            self._sent(len(data))

    def _sent(self, count: int) -> None:
        with self._outgoing_lock:
            self._queued_bytes -= count
            wake = self._room_wanted and self._queued_bytes < MAX_QUEUED_BYTES
            if wake:
                self._room_wanted = False
        if wake:
            self._notify(self._room.set)

    def _drop_outgoing(self) -> None:
        with self._outgoing_lock:
            dropped = self._queued_bytes
            self._outgoing.clear()
            self._queued_bytes = 0
            self._room_wanted = False
        self._notify(self._room.set)
        if dropped:
            self.log.info("Dropped %d bytes queued for %s", dropped, self.url)

    def _close(self, port: serial.Serial) -> None:
        with self._port_lock:
            self._port = None
        try:
            port.close()
        except (serial.SerialException, OSError) as e:
            self.log.debug("Closing %s failed: %r", self.url, e)

    def _notify(self, callback: Callable[..., None], *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            # The loop is closed: nobody is left to serve.
            self._stopping.set()
