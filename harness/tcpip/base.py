"""`BaseClientOrServer`: the stream I/O and connection state shared by clients and servers."""

from __future__ import annotations

import abc
import asyncio
import ctypes
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Self

from . import utils
from .constants import (
    DEFAULT_ENCODING,
    DEFAULT_MONITOR_CONNECTION_INTERVAL,
    DEFAULT_TERMINATOR,
)

__all__ = ["BaseClientOrServer", "ConnectCallbackType"]


def make_done_future(result: Any = None) -> asyncio.Future[Any]:
    """Return a future that is already finished with ``result``."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_result(result)
    return future


async def cancel_and_await(future: asyncio.Future[Any], log: logging.Logger) -> None:
    """Cancel ``future`` and wait for it to finish, swallowing its cancellation.

    The current task is left alone: a task cannot await itself, and
    cancelling it would abort the caller. A cancellation of the caller
    itself during the wait still propagates.
    """
    if future.done():
        return
    current = asyncio.current_task()
    if future is current:
        return
    cancelling_before = current.cancelling() if current is not None else 0
    future.cancel()
    try:
        await future
    except asyncio.CancelledError:
        if current is not None and current.cancelling() > cancelling_before:
            raise
    except Exception:
        log.exception("A background task failed while it was being cancelled")


class ConnectionLock:
    """An asyncio lock that the task holding it may take again.

    It serialises the connection handler and the close paths. Re-entry is
    needed because the handler calls ``close_client()``, and a connect
    callback may close the client, in the task that already holds it.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            self._depth += 1
            return
        await self._lock.acquire()
        self._owner = task
        self._depth = 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()


def _check_terminator(terminator: object) -> None:
    if not isinstance(terminator, bytes) or not terminator:
        raise ValueError(f"terminator={terminator!r} must be a non-empty bytes object, e.g. b'\\n'")


def _check_encoding(encoding: object) -> None:
    try:
        " ".encode(encoding)  # type: ignore[arg-type]
    except Exception as e:
        raise ValueError(
            f"encoding={encoding!r} cannot encode text ({e}); use a text codec such as 'utf-8'"
        ) from e


class BaseClientOrServer(abc.ABC):
    """Connection state, the connect callback and the read/write methods.

    Subclasses implement `start`, `close` and `_monitor_connection`.
    """

    def __init__(
        self,
        *,
        log: logging.Logger,
        connect_callback: ConnectCallbackType | None = None,
        monitor_connection_interval: float = DEFAULT_MONITOR_CONNECTION_INTERVAL,
        name: str = "",
        do_start: bool = True,
        encoding: str = DEFAULT_ENCODING,
        terminator: bytes = DEFAULT_TERMINATOR,
        **kwargs: Any,
    ) -> None:
        if connect_callback is not None and not inspect.iscoroutinefunction(connect_callback):
            raise TypeError(
                f"connect_callback={connect_callback!r} must be a coroutine function "
                "(an async def function or method), or None"
            )
        _check_terminator(terminator)
        _check_encoding(encoding)

        self.log = log.getChild(f"{type(self).__name__}({name})")
        self.name = name
        self.__connect_callback = connect_callback
        self.monitor_connection_interval = monitor_connection_interval
        self.encoding = encoding
        self.terminator = terminator
        self.should_be_connected = False
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._was_connected = False
        # Held by whatever changes the connection: setting up a client, closing one.
        self._connection_lock = ConnectionLock()
        self._start_in_progress = False
        self._monitor_connection_task: asyncio.Future[Any] = make_done_future()
        self.done_task: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.start_task: asyncio.Future[Any]
        if do_start:
            self.start_task = asyncio.create_task(self.start(**kwargs))
        else:
            self.start_task = asyncio.get_running_loop().create_future()

    @property
    def connected(self) -> bool:
        """True if the streams are set, not at EOF and not closing."""
        reader = self._reader
        writer = self._writer
        return not (
            reader is None or writer is None or reader.at_eof() or writer.is_closing()
        )

    async def call_connect_callback(self) -> None:
        """Call the connect callback if ``connected`` changed since the last call."""
        connected = self.connected
        if connected == self._was_connected:
            return
        self._was_connected = connected
        callback = self.__connect_callback
        if callback is None:
            return
        try:
            await callback(self)
        except Exception:
            self.log.exception("The connect callback failed; ignoring the error")

    # Reads -----------------------------------------------------------------

    def _connected_reader(self) -> asyncio.StreamReader:
        reader = self._reader
        writer = self._writer
        if reader is None or writer is None or reader.at_eof() or writer.is_closing():
            raise ConnectionError("Not connected")
        return reader

    def _connected_writer(self) -> asyncio.StreamWriter:
        reader = self._reader
        writer = self._writer
        if reader is None or writer is None or reader.at_eof() or writer.is_closing():
            raise ConnectionError("Not connected")
        return writer

    async def read(self, n: int) -> bytes:
        """Read at most ``n`` bytes (``-1``: until EOF); ``b""`` at EOF."""
        reader = self._connected_reader()
        try:
            return await reader.read(n)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self._close_after_failed_read(reader)
            raise

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes."""
        reader = self._connected_reader()
        try:
            return await reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self._close_after_failed_read(reader)
            raise

    async def readline(self) -> bytes:
        """Read up to and including ``b"\\n"``; partial data or ``b""`` at EOF."""
        reader = self._connected_reader()
        try:
            return await reader.readline()
        except ConnectionError:
            await self._close_after_failed_read(reader)
            raise

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Read up to and including ``separator``.

        `asyncio.LimitOverrunError` leaves the data buffered and the link open.
        """
        reader = self._connected_reader()
        try:
            return await reader.readuntil(separator)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self._close_after_failed_read(reader)
            raise

    async def read_into(self, struct: ctypes.Structure) -> None:
        """Fill ``struct`` with exactly ``ctypes.sizeof(struct)`` bytes."""
        reader = self._connected_reader()
        try:
            await utils.read_into(reader, struct)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self._close_after_failed_read(reader)
            raise

    async def read_str(self) -> str:
        """Read one line ending with ``terminator`` and return it decoded, without it."""
        # Hot path: one coroutine level and no helper calls (spec §18).
        reader = self._reader
        writer = self._writer
        if reader is None or writer is None or reader.at_eof() or writer.is_closing():
            raise ConnectionError("Not connected")
        terminator = self.terminator
        try:
            data = await reader.readuntil(terminator)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self._close_after_failed_read(reader)
            raise
        return data[: -len(terminator)].decode(self.encoding)

    async def read_json(self) -> Any:
        """Read one line and parse it as JSON."""
        text = await self.read_str()
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise json.JSONDecodeError(f"data={text!r} is not valid json", e.doc, e.pos) from e

    # Writes ----------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Write ``data`` and drain."""
        writer = self._connected_writer()
        writer.write(data)
        await writer.drain()

    async def writelines(self, lines: Iterable[bytes]) -> None:
        """Write every item of ``lines`` and drain once."""
        writer = self._connected_writer()
        writer.writelines(lines)
        await writer.drain()

    async def write_from(self, *structs: ctypes.Structure) -> None:
        """Write the structs contiguously and drain once."""
        writer = self._connected_writer()
        await utils.write_from(writer, *structs)

    async def write_str(self, line: str) -> None:
        """Write ``line`` encoded, always followed by ``terminator``."""
        # Hot path: one coroutine level and no helper calls (spec §18).
        reader = self._reader
        writer = self._writer
        if reader is None or writer is None or reader.at_eof() or writer.is_closing():
            raise ConnectionError("Not connected")
        writer.write(line.encode(self.encoding) + self.terminator)
        await writer.drain()

    async def write_json(self, obj: Any) -> None:
        """Write ``obj`` as one line of JSON (ASCII, non-ASCII escaped)."""
        await self.write_str(json.dumps(obj))

    # Connection management -------------------------------------------------

    async def _set_reader_writer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Store the streams of a new connection and set keepalive options."""
        self.should_be_connected = True
        self._reader = reader
        self._writer = writer
        await utils.set_socket_options(writer)

    async def _close_client(self) -> None:
        """Drop the writer, close its stream and report the state change.

        Runs under the connection lock, so a new connection is judged only
        once the close, callback included, has finished.
        """
        async with self._connection_lock:
            writer = self._writer
            if writer is None:
                return
            try:
                # Cleared first so that `connected` is False at once.
                self._writer = None
                try:
                    await utils.close_stream_writer(writer)
                except Exception:
                    self.log.exception("Failed to close the stream writer; it is dropped anyway")
            finally:
                await self.call_connect_callback()

    async def _close_after_failed_read(self, reader: asyncio.StreamReader) -> None:
        """`_close_client` for a read on ``reader`` that failed.

        Nothing is closed if a newer connection has replaced ``reader`` while
        this waited for the lock: its client is not the one that failed.
        """
        async with self._connection_lock:
            if self._reader is reader:
                await self._close_client()

    def _start_monitoring_connection(self) -> None:
        """(Re)start the connection poll task if the interval is positive."""
        self._monitor_connection_task.cancel()
        if self.monitor_connection_interval > 0:
            self._monitor_connection_task = asyncio.create_task(self._monitor_connection())

    @abc.abstractmethod
    async def start(self, **kwargs: Any) -> None:
        """Start listening or connecting."""
        raise NotImplementedError()

    @abc.abstractmethod
    async def close(self) -> None:
        """Close for good."""
        raise NotImplementedError()

    @abc.abstractmethod
    async def _monitor_connection(self) -> None:
        """Poll the connection and report drops."""
        raise NotImplementedError()

    async def __aenter__(self) -> Self:
        await self.start_task
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


ConnectCallbackType = Callable[[BaseClientOrServer], Awaitable[None]]
