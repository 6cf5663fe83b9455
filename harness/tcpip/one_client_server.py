"""`OneClientServer`: a TCP server that serves one client at a time."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .base import BaseClientOrServer, ConnectCallbackType, cancel_and_await
from .constants import DEFAULT_ENCODING, DEFAULT_MONITOR_CONNECTION_INTERVAL, DEFAULT_TERMINATOR
from .utils import close_stream_writer

__all__ = ["OneClientServer"]

# Seconds: the limit on each wait in `OneClientServer.close`.
CLOSE_WAIT_TIME = 5


class OneClientServer(BaseClientOrServer):
    """An asyncio TCP server that accepts one client at a time.

    An extra connection while a client is connected is accepted by TCP and
    closed at once, without a callback. ``**kwargs`` go to
    `asyncio.start_server`.
    """

    def __init__(
        self,
        host: str | None,
        port: int | None,
        log: logging.Logger,
        connect_callback: ConnectCallbackType | None = None,
        monitor_connection_interval: float = DEFAULT_MONITOR_CONNECTION_INTERVAL,
        name: str = "",
        encoding: str = DEFAULT_ENCODING,
        terminator: bytes = DEFAULT_TERMINATOR,
        **kwargs: Any,
    ) -> None:
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self.connected_task: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Set as `close` begins: a connection judged from then on is rejected.
        self._closing = False
        super().__init__(
            log=log,
            connect_callback=connect_callback,
            monitor_connection_interval=monitor_connection_interval,
            name=name,
            do_start=True,
            encoding=encoding,
            terminator=terminator,
            **kwargs,
        )

    async def start(self, **kwargs: Any) -> None:
        """Start listening. Raises `RuntimeError` if already started or starting."""
        if self._server is not None or self._start_in_progress:
            raise RuntimeError("Start already called.")
        self._start_in_progress = True
        try:
            server = await asyncio.start_server(
                self._set_reader_writer, host=self.host, port=self.port, **kwargs
            )
        finally:
            self._start_in_progress = False
        self._server = server
        sockets = server.sockets
        # With several sockets each has its own port, so there is no single port to report.
        if self.port == 0 and len(sockets) == 1:
            self.port = sockets[0].getsockname()[1]
        self._start_monitoring_connection()
        self.log.info(
            "Listening: host=%s; port=%s; %d socket(s)", self.host, self.port, len(sockets)
        )

    async def _set_reader_writer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Connection handler: accept the new client, or reject it if one is connected.

        It holds the connection lock, as every close does, so a connection
        that arrives while a client is being closed is judged after the close.
        """
        async with self._connection_lock:
            peer = writer.get_extra_info("peername")
            if self.connected:
                self.log.error(
                    "Rejecting the connection from %s: a client is already connected", peer
                )
                await close_stream_writer(writer)
                return
            if self._closing:
                self.log.info("Rejecting the connection from %s: the server is closed", peer)
                await close_stream_writer(writer)
                return
            if writer.is_closing():
                self.log.info("The connection from %s closed before it was set up", peer)
                return
            if self._was_connected:
                # The previous client dropped and no monitor noticed yet.
                await self.close_client()
            await super()._set_reader_writer(reader, writer)
            self.log.info("Client connected from %s", peer)
            if not self.connected_task.done():
                self.connected_task.set_result(None)
            await self.call_connect_callback()

    async def _monitor_connection(self) -> None:
        """Report a client drop within one interval; runs until `close`."""
        while True:
            if self._was_connected and not self.connected:
                await self._close_dropped_client()
            await asyncio.sleep(self.monitor_connection_interval)

    async def _close_dropped_client(self) -> None:
        async with self._connection_lock:
            # Judged again under the lock: while this waited, the drop may have been
            # handled and a new client accepted, which must not be closed.
            if self._was_connected and not self.connected:
                self.log.info("Client disconnected")
                await self._close_client()

    async def basic_close_client(self) -> None:
        """Close the client socket, if any, and reset ``connected_task``."""
        async with self._connection_lock:
            self.log.info("Closing the client socket")
            try:
                await self._close_client()
            finally:
                self.connected_task = asyncio.get_running_loop().create_future()

    async def close_client(self) -> None:
        """Close the client socket on purpose; the server keeps listening.

        It closes whichever client is current once the lock is free, so a
        caller that means one particular client must check ``_writer`` under
        ``_connection_lock`` first.
        """
        async with self._connection_lock:
            self.should_be_connected = False
            await self.basic_close_client()

    async def close(self) -> None:
        """Close the client socket and the listening server, for good.

        The listening socket is closed even if closing the client fails or
        this call is cancelled; cancellation propagates.
        """
        self._closing = True
        try:
            await cancel_and_await(self.start_task, self.log)
            await self._close_writer_before_server()
            await self._close_server()
            try:
                async with asyncio.timeout(CLOSE_WAIT_TIME):
                    await self.close_client()
            except Exception:
                self.log.exception("Failed to close the client")
        finally:
            try:
                # Reached without `_close_server` when the wait for the writer is cancelled.
                self._stop_listening()
                await self._cancel_background_tasks()
            finally:
                if not self.done_task.done():
                    self.done_task.set_result(None)

    async def _close_writer_before_server(self) -> None:
        # From Python 3.12.1 on Server.wait_closed waits for open connections,
        # so the client writer must be closed first. Without the connection lock:
        # a stuck connect callback must not keep the listening socket open.
        writer = self._writer
        if writer is None:
            return
        try:
            writer.close()
            async with asyncio.timeout(CLOSE_WAIT_TIME):
                await writer.wait_closed()
        except Exception as e:
            self.log.warning("Failed to close the client writer: %r; closing the server anyway", e)

    def _stop_listening(self) -> asyncio.Server | None:
        """Close the listening sockets at once; return the server, if there was one."""
        server = self._server
        if server is not None:
            self.log.info("Closing the server")
            self._server = None
            server.close()
        return server

    async def _close_server(self) -> None:
        server = self._stop_listening()
        if server is None:
            return
        try:
            async with asyncio.timeout(CLOSE_WAIT_TIME):
                await server.wait_closed()
        except Exception:
            self.log.exception("Failed to close server")

    async def _cancel_background_tasks(self) -> None:
        await cancel_and_await(self._monitor_connection_task, self.log)
