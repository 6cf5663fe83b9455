"""`Client`: one outgoing TCP connection, made on construction."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .base import BaseClientOrServer, ConnectCallbackType, cancel_and_await, make_done_future
from .constants import (
    DEFAULT_ENCODING,
    DEFAULT_MONITOR_CONNECTION_INTERVAL,
    DEFAULT_TERMINATOR,
    HEARTBEAT,
)

__all__ = ["Client"]


class Client(BaseClientOrServer):
    """A TCP client that connects on construction and never reconnects.

    Await ``start_task`` (or use ``async with``) before doing I/O.
    ``host=""`` makes an already-closed placeholder. ``**kwargs`` go to
    `asyncio.open_connection`.
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
        run_heartbeat_send_task: bool = False,
        heartbeat_send_sleep: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self.host = host
        self.port = port
        self.heartbeat_send_task: asyncio.Future[Any] = make_done_future()
        self.run_heartbeat_send_task = run_heartbeat_send_task
        self.heartbeat_send_sleep = heartbeat_send_sleep
        super().__init__(
            log=log,
            connect_callback=connect_callback,
            monitor_connection_interval=monitor_connection_interval,
            name=name,
            do_start=host != "",
            encoding=encoding,
            terminator=terminator,
            **kwargs,
        )
        if host == "":
            self.start_task.set_result(False)
            self.done_task.set_result(False)

    async def start(self, **kwargs: Any) -> None:
        """Connect. Raises `RuntimeError` if already connected or connecting."""
        self.log.info("Connecting to host=%s, port=%s", self.host, self.port)
        if self._reader is not None or self._start_in_progress:
            raise RuntimeError("Start already called.")
        self._start_in_progress = True
        try:
            reader, writer = await asyncio.open_connection(
                host=self.host, port=self.port, **kwargs
            )
            await self._set_reader_writer(reader, writer)
            self._start_monitoring_connection()
            if self.run_heartbeat_send_task:
                await cancel_and_await(self.heartbeat_send_task, self.log)
                self.heartbeat_send_task = asyncio.create_task(self._send_heartbeat())
            await self.call_connect_callback()
            self.log.info("Connected to host=%s, port=%s", self.host, self.port)
        except Exception as e:
            self.log.error(
                "Could not connect to host=%s, port=%s: %r", self.host, self.port, e
            )
            raise
        finally:
            self._start_in_progress = False

    async def _monitor_connection(self) -> None:
        """Report a drop within one interval, then stop."""
        if self.monitor_connection_interval <= 0:
            raise RuntimeError(
                f"monitor_connection_interval={self.monitor_connection_interval} must be > 0"
            )
        # Polling is the specified behaviour: no event signals a silent TCP drop.
        while self.connected:  # noqa: ASYNC110
            await asyncio.sleep(self.monitor_connection_interval)
        await self._close_client()

    async def _send_heartbeat(self) -> None:
        # Raw bytes without drain: each write is atomic, so it can only land
        # between whole writes.
        while True:
            writer = self._writer
            if writer is None or not self.connected:
                return
            writer.write(HEARTBEAT + self.terminator)
            await asyncio.sleep(self.heartbeat_send_sleep)

    async def basic_close(self) -> None:
        """Close the connection without clearing ``should_be_connected``."""
        self.log.info("Closing")
        try:
            await self._close_client()
        finally:
            if not self.done_task.done():
                self.done_task.set_result(None)

    async def close(self) -> None:
        """Close the connection on purpose and stop the background tasks."""
        self.should_be_connected = False
        await cancel_and_await(self.start_task, self.log)
        if self.start_task.done() and not self.start_task.cancelled():
            # A failed start was already logged; mark it retrieved so that asyncio
            # does not report it a second time when the task is collected.
            self.start_task.exception()
        await cancel_and_await(self.heartbeat_send_task, self.log)
        await cancel_and_await(self._monitor_connection_task, self.log)
        await self.basic_close()
