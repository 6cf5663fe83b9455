"""``BridgeServer``: a ``OneClientServer`` in front of a real instrument on a serial port.

The port is opened with ``serial.serial_for_url`` (a device path, ``socket://``,
``rfc2217://``, ``loop://``), so a client cannot tell the bridge from an
emulator. Bytes pass through unchanged except line terminators: the client's
terminator becomes the instrument's on the way in, and back on the way out.
All pyserial I/O runs in one ``PortWorker`` thread. A serial error drops the
TCP client; the worker reopens the same port with backoff and the bridge keeps
listening. While the port is closed, new clients are disconnected at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import serial

from harness.serial.port_worker import PortWorker
from harness.serial.settings import (
    LineSettings,
    check_url,
    terminator_bytes,
    terminator_label,
    url_scheme,
)
from harness.serial.terminators import TerminatorTranslator
from harness.tcpip import BaseClientOrServer, OneClientServer
from harness.tcpip.base import cancel_and_await, make_done_future

__all__ = ["BridgeServer"]

logger = logging.getLogger(__name__)

#: Bytes asked of the TCP client per read.
READ_CHUNK = 4096
#: Bytes waiting in the client socket's buffer before the serial thread pauses reading.
MAX_CLIENT_BACKLOG = 65536
#: Seconds a write to the port may block (XOFF from the instrument) before it counts as failed.
WRITE_TIMEOUT = 10.0


class BridgeServer(OneClientServer):
    """A TCP endpoint whose far side is the instrument at serial ``url``.

    Line settings: ``baud``, ``data_bits``, ``parity``, ``stop_bits``,
    ``xonxoff``. ``instrument_terminator`` is what the instrument sends and
    expects (``"cr"``, ``"lf"``, ``"crlf"``, ``"lfcr"`` or bytes);
    ``terminator`` is the client side's. Raises ``SerialSettingsError``,
    ``SerialUrlError`` or ``SerialPortNotFound`` at once for bad arguments;
    ``start_task`` fails with ``SerialOpenError`` (or ``SerialPortNotFound``)
    if the port cannot be opened, before anything listens.
    """

    def __init__(
        self,
        url: str,
        *,
        baud: int = 9600,
        data_bits: int = 8,
        parity: str = "none",
        stop_bits: float = 1,
        xonxoff: bool = False,
        instrument_terminator: bytes | str = b"\n",
        terminator: bytes | str = b"\n",
        host: str | None = "127.0.0.1",
        port: int | None = 0,
        log: logging.Logger | None = None,
        name: str = "",
        monitor_connection_interval: float = 0,
        **kwargs: Any,
    ) -> None:
        self.url = check_url(url)
        self.settings = LineSettings(baud=baud, data_bits=data_bits, parity=parity,
                                     stop_bits=stop_bits, xonxoff=xonxoff)
        self.instrument_terminator = terminator_bytes(instrument_terminator,
                                                      "instrument terminator")
        client_terminator = terminator_bytes(terminator)
        #: True while the instrument's port is open.
        self.port_open = False
        self.forward_task: asyncio.Future[Any] = make_done_future()
        self._worker: PortWorker | None = None
        self._to_instrument = TerminatorTranslator(client_terminator, self.instrument_terminator)
        self._to_client = TerminatorTranslator(self.instrument_terminator, client_terminator)
        self._helpers: set[asyncio.Future[Any]] = set()
        self._port_changed = asyncio.Event()
        # The forwarding task detects a client leaving; a monitor task would race it.
        super().__init__(
            host=host,
            port=port,
            log=log if log is not None else logger,
            connect_callback=self._client_changed,
            monitor_connection_interval=monitor_connection_interval,
            name=name or url,
            terminator=client_terminator,
            **kwargs,
        )

    def describe(self) -> dict[str, Any]:
        """The serial side, JSON-ready."""
        settings = self.settings
        return {"url": self.url, "baud": settings.baud, "data_bits": settings.data_bits,
                "parity": settings.parity, "stop_bits": settings.stop_bits,
                "xonxoff": settings.xonxoff, "port_open": self.port_open,
                "instrument_terminator": terminator_label(self.instrument_terminator),
                "terminator": terminator_label(self.terminator)}

    async def wait_for_port(self, is_open: bool = True) -> None:
        """Return once the instrument's port is open (or, with ``is_open=False``, closed)."""
        while self.port_open != is_open:
            await self._port_changed.wait()

    def _set_port_open(self, is_open: bool) -> None:
        self.port_open = is_open
        changed, self._port_changed = self._port_changed, asyncio.Event()
        changed.set()

    # -- lifetime ----------------------------------------------------------------------

    async def start(self, **kwargs: Any) -> None:
        """Open the serial port, then listen. Raises ``SerialOpenError`` if it cannot open."""
        if self._worker is not None:
            raise RuntimeError("Start already called.")
        worker = PortWorker(self.url, self._open_port, _WorkerEvents(self), log=self.log)
        self._worker = worker
        worker.start()
        await asyncio.wrap_future(worker.opened)
        self._set_port_open(True)
        self.log.info("Opened %s (%d baud, %d%s%g%s)", self.url, self.settings.baud,
                      self.settings.data_bits, self.settings.parity[0].upper(),
                      self.settings.stop_bits, ", XON/XOFF" if self.settings.xonxoff else "")
        await super().start(**kwargs)

    def _open_port(self) -> serial.Serial:
        """Called in the worker thread."""
        options = self.settings.pyserial_options()
        if url_scheme(self.url) is None:
            # Two programs on one serial device corrupt each other's traffic.
            options["exclusive"] = True
        return serial.serial_for_url(self.url, write_timeout=WRITE_TIMEOUT, **options)

    async def _cancel_background_tasks(self) -> None:
        try:
            await cancel_and_await(self.forward_task, self.log)
            for helper in list(self._helpers):
                await cancel_and_await(helper, self.log)
            if self._worker is not None:
                await self._worker.stop()
            self._set_port_open(False)
        finally:
            await super()._cancel_background_tasks()

    # -- client side -------------------------------------------------------------------

    async def _client_changed(self, server: BaseClientOrServer) -> None:
        await cancel_and_await(self.forward_task, self.log)
        if not self.connected:
            return
        worker = self._worker
        if worker is None or not self.port_open:
            self.log.warning("Disconnecting the new client: the instrument at %s is not "
                             "available; the bridge keeps trying to reopen it", self.url)
            await self.close_client()
            return
        self._to_instrument.reset()
        self._to_client.reset()
        # Replies owed to an earlier client must not reach this one.
        worker.discard_input()
        self.forward_task = asyncio.ensure_future(self._forward_client(worker))

    async def _forward_client(self, worker: PortWorker) -> None:
        """Send what the client writes to the instrument until the client leaves."""
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            return
        try:
            while True:
                await worker.wait_for_room()
                data = await reader.read(READ_CHUNK)
                if not data:
                    worker.send(self._to_instrument.flush())
                    break
                worker.send(self._to_instrument.feed(data))
        except ConnectionError as e:
            self.log.info("Client connection lost: %r", e)
        await self._close_client_if_current(writer)

    async def _close_client_if_current(self, writer: asyncio.StreamWriter) -> None:
        # Under the connection lock: a client being accepted now must not be closed instead.
        async with self._connection_lock:
            if self._writer is writer:
                await self.close_client()

    # -- instrument side (called in the loop by the worker) ----------------------------

    def _instrument_data(self, data: bytes) -> None:
        worker = self._worker
        assert worker is not None
        writer = self._writer
        if writer is None or not self.connected:
            self.log.debug("No client: dropped %d bytes from the instrument", len(data))
            worker.release()
            return
        try:
            writer.write(self._to_client.feed(data))
            if writer.transport.get_write_buffer_size() > MAX_CLIENT_BACKLOG:
                self._start_helper(self._release_after_drain(writer, worker))
                return
        except (ConnectionError, RuntimeError) as e:
            self.log.info("Cannot forward to the client: %r", e)
        worker.release()

    async def _release_after_drain(self, writer: asyncio.StreamWriter, worker: PortWorker) -> None:
        try:
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            worker.release()

    def _port_opened(self) -> None:
        self._set_port_open(True)
        self.log.warning("Reopened %s; clients may connect again", self.url)

    def _port_lost(self, error: BaseException) -> None:
        self._set_port_open(False)
        self.log.error("Lost the instrument at %s: %s; disconnecting the client and reopening "
                       "the port with backoff", self.url, error)
        writer = self._writer
        if writer is not None and self.connected:
            self._start_helper(self._close_client_if_current(writer))

    def _start_helper(self, coroutine: Any) -> None:
        """Run a short task owned by the server (cancelled and awaited by ``close``)."""
        task = asyncio.ensure_future(coroutine)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)


class _WorkerEvents:
    """The worker's ``PortEvents``, routed to the bridge's private handlers."""

    def __init__(self, bridge: BridgeServer) -> None:
        self._bridge = bridge

    def port_opened(self) -> None:
        self._bridge._port_opened()

    def port_lost(self, error: BaseException) -> None:
        self._bridge._port_lost(error)

    def instrument_data(self, data: bytes) -> None:
        self._bridge._instrument_data(data)
