"""`OneClientReadLoopServer`: a one-client server that runs a read loop per client."""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from typing import Any

from .base import ConnectCallbackType, cancel_and_await, make_done_future
from .constants import DEFAULT_ENCODING, DEFAULT_LOCALHOST, DEFAULT_TERMINATOR
from .constants import DEFAULT_MAX_HEARTBEAT_INTERVAL as DEFAULT_MAX_HEARTBEAT_INTERVAL
from .one_client_server import OneClientServer

__all__ = ["OneClientReadLoopServer"]

# Seconds between checks of the heartbeat monitor.
HEARTBEAT_MONITOR_INTERVAL = 1.0


class OneClientReadLoopServer(OneClientServer, abc.ABC):
    """A `OneClientServer` that calls `read_and_dispatch` in a loop while a client is connected.

    Disconnects are detected by the read loop, so there is no poll task.
    With ``run_heartbeat_monitor_task`` a client that sends no heartbeat for
    ``max_heartbeat_interval`` seconds is dropped.
    """

    def __init__(
        self,
        *,
        port: int | None,
        host: str | None = DEFAULT_LOCALHOST,
        log: logging.Logger,
        connect_callback: ConnectCallbackType | None = None,
        name: str = "",
        encoding: str = DEFAULT_ENCODING,
        terminator: bytes = DEFAULT_TERMINATOR,
        run_heartbeat_monitor_task: bool = False,
        max_heartbeat_interval: float = DEFAULT_MAX_HEARTBEAT_INTERVAL,
        **kwargs: Any,
    ) -> None:
        if "monitor_connection_interval" in kwargs:
            raise TypeError(
                f"{type(self).__name__} does not accept monitor_connection_interval: "
                "its read loop detects disconnects"
            )
        self.read_loop_task: asyncio.Future[Any] = make_done_future()
        super().__init__(
            host,
            port,
            log,
            connect_callback=connect_callback,
            monitor_connection_interval=0,
            name=name,
            encoding=encoding,
            terminator=terminator,
            **kwargs,
        )
        self.run_heartbeat_monitor_task = run_heartbeat_monitor_task
        self.max_heartbeat_interval = max_heartbeat_interval
        # A time.monotonic() value (the name is kept for compatibility), or None.
        self.heartbeat_received_tai: float | None = None
        self.monitor_heartbeats_task: asyncio.Future[Any] = make_done_future()
        # Unused; kept for compatibility.
        self.monitor_heartbeats_task_start: float | None = None

    @abc.abstractmethod
    async def read_and_dispatch(self) -> None:
        """Read and handle one message from the client."""
        raise NotImplementedError()

    async def call_connect_callback(self) -> None:
        """Call the user callback on a change; then (re)start the read loop if connected.

        The user's callback(True) has finished before the read loop starts.
        """
        await super().call_connect_callback()
        if not self.connected:
            self.log.info("Client disconnected")
            return
        self.log.info("Client connected; starting the read loop")
        await cancel_and_await(self.read_loop_task, self.log)
        await cancel_and_await(self.monitor_heartbeats_task, self.log)
        self.heartbeat_received_tai = None
        self.read_loop_task = asyncio.create_task(self.read_loop())
        if self.run_heartbeat_monitor_task:
            self.monitor_heartbeats_task = asyncio.create_task(self.monitor_received_heartbeats())

    async def read_loop(self) -> None:
        """Call `read_and_dispatch` while connected; drop the client if it raises."""
        try:
            # `connected`, inlined: this runs once per message (spec §18).
            while True:
                reader = self._reader
                writer = self._writer
                if reader is None or writer is None or reader.at_eof() or writer.is_closing():
                    return
                await self.read_and_dispatch()
        except Exception as e:
            if isinstance(e, asyncio.IncompleteReadError | ConnectionError) and not self.connected:
                self.log.info("Client disconnected (%s); closing its socket", type(e).__name__)
            else:
                self.log.exception("The read loop failed; disconnecting the client")
            await self.close_client(cancel_read_loop_task=False)

    async def close_client(self, cancel_read_loop_task: bool = True) -> None:
        """Close the client socket; by default cancel the read loop first.

        Safe to call from inside `read_and_dispatch` with either flag value.
        """
        if cancel_read_loop_task:
            await cancel_and_await(self.read_loop_task, self.log)
        await super().close_client()

    async def handle_received_heartbeat(self) -> None:
        """Record a heartbeat. Raises `RuntimeError` if heartbeat monitoring is off."""
        if not self.run_heartbeat_monitor_task:
            raise RuntimeError(
                "Received an unexpected heartbeat: this server was built with "
                "run_heartbeat_monitor_task=False"
            )
        self.heartbeat_received_tai = time.monotonic()

    async def monitor_received_heartbeats(self) -> None:
        """Drop the client once no heartbeat arrived for ``max_heartbeat_interval`` s."""
        started = time.monotonic()
        while self.heartbeat_received_tai is None:
            if time.monotonic() - started >= self.max_heartbeat_interval:
                break
            await asyncio.sleep(HEARTBEAT_MONITOR_INTERVAL)
        while True:
            last_heartbeat = self.heartbeat_received_tai
            if last_heartbeat is None:
                break
            if time.monotonic() - last_heartbeat >= self.max_heartbeat_interval:
                break
            await asyncio.sleep(HEARTBEAT_MONITOR_INTERVAL)
        self.heartbeat_received_tai = None
        if not self.connected:
            # The client already left; there is nothing to drop.
            return
        self.log.warning(
            "No heartbeat from the client for %s seconds; disconnecting it",
            self.max_heartbeat_interval,
        )
        await self.close_client()

    async def _cancel_background_tasks(self) -> None:
        try:
            await super()._cancel_background_tasks()
        finally:
            await cancel_and_await(self.monitor_heartbeats_task, self.log)
